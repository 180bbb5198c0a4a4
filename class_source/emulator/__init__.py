"""Local emulator of the Class virtual-classroom API (https://<org>.class.com/api/v1).

    from class_source.emulator import Emulator, ALL_SCOPES, FaultConfig
    emu = Emulator(seed=7, classes=20)
    secret = emu.mint_key(scopes=ALL_SCOPES)
    async with httpx.AsyncClient(transport=emu.transport(), base_url="http://emulator") as client: ...
    with emu.serve() as base_url: ...            # real HTTP (uvicorn thread)
    Emulator(readings=ApiReadings(starting_after="instant"))  # another plausible server (readings.py)

Everything is deterministic given the seed, the clock and the request sequence. The documented
choices where the API reference is silent are listed in `class_source.emulator.app`.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterable, Iterator

import httpx

from . import server as _server
from .activity import EVENT_VALUES, TYPE_VALUES
from .app import ENDPOINTS, build_app
from .auth import ALL_SCOPES, KeyStore
from .clock import Clock
from .fault_middleware import FaultMiddleware
from .faults import FAULT_KINDS, EndpointFaults, FaultConfig
from .generate import default_now
from .readings import LISTINGS, ApiReadings
from .records import SchoolShape
from .request_log import RequestLog
from .school import School
from .transports import EmulatorTransport, SyncEmulatorTransport

__all__ = [
    "ALL_SCOPES",
    "ENDPOINTS",
    "EVENT_VALUES",
    "FAULT_KINDS",
    "LISTINGS",
    "TYPE_VALUES",
    "ApiReadings",
    "Clock",
    "Emulator",
    "EndpointFaults",
    "FaultConfig",
    "RequestLog",
    "School",
    "SchoolShape",
    "default_now",
]


class Emulator:
    """The Class API emulator: a synthetic school behind the documented endpoints.

    School knobs (keyword arguments): students_per_class (30), classes_per_student (5),
    deferred_fraction (0.05), no_ext_id_fraction (0.15), event_scale (1.0: ~10M events for 5,000
    classes at the default clock), term_start (Mon 2024-09-02 UTC), term_weeks (15), org ("school"),
    cache_classes (64 classes of generated activity kept), missed_fraction and odd_event_rate (0:
    schedules never held, undocumented events; see SchoolShape).

    readings: which plausible reading of the reference's silences the API serves (readings.py;
    default: the emulator's own). Settable later: `emu.readings = ...` or POST /_emulator/readings.
    """

    def __init__(
        self,
        seed: int = 7,
        classes: int = 20,
        now: int | None = None,
        latency_ms: float = 0,
        jitter_ms: float = 0,
        faults: FaultConfig | None = None,
        readings: ApiReadings | None = None,
        **school_knobs: Any,
    ) -> None:
        if classes < 0:
            raise ValueError("classes must be >= 0")
        unknown = set(school_knobs) - set(SchoolShape.__dataclass_fields__) - {"classes"}
        if unknown:
            raise TypeError(f"unknown school knobs {sorted(unknown)}; known: {sorted(SchoolShape.__dataclass_fields__)}")
        self.seed = seed
        self.shape = SchoolShape(classes=classes, **school_knobs)
        self.clock = Clock(default_now(self.shape.term_start) if now is None else now)
        if readings is not None and not isinstance(readings, ApiReadings):
            raise TypeError(f"readings must be an ApiReadings, got {type(readings).__name__}")
        self.school = School(seed, self.shape, self.clock, readings)
        self.keys = KeyStore()
        self.faults = faults if faults is not None else FaultConfig()
        # Constructor latency arguments win when given (non-zero); FaultConfig values stay otherwise.
        if latency_ms:
            self.faults.latency_ms = float(latency_ms)
        if jitter_ms:
            self.faults.jitter_ms = float(jitter_ms)
        self.faults.validate()
        self.request_log = RequestLog()
        self.app = FaultMiddleware(build_app(self), lambda: self.faults, seed, self.request_log)

    @property
    def readings(self) -> ApiReadings:
        return self.school.readings

    @readings.setter
    def readings(self, readings: ApiReadings) -> None:
        """Takes effect on the next request (the school holds them; see School.readings)."""
        if not isinstance(readings, ApiReadings):
            raise TypeError(f"readings must be an ApiReadings, got {type(readings).__name__}")
        with self.school.lock:  # never between two steps of a page being served
            self.school.readings = readings

    def mint_key(self, scopes: Iterable[str] = ALL_SCOPES, expires_at: int | None = None, secret: str | None = None) -> str:
        """Register an API key; returns its bearer secret (pass `secret` to choose it, e.g. for a demo)."""
        return self.keys.mint(scopes, expires_at, secret)

    def transport(self) -> httpx.AsyncBaseTransport:
        """In-process transport for httpx.AsyncClient: latency and every fault kind apply."""
        return EmulatorTransport(self.app)

    def sync_transport(self) -> SyncEmulatorTransport:
        """In-process transport for a synchronous httpx.Client (runs the app on its own loop thread)."""
        return SyncEmulatorTransport(self.app)

    @contextlib.contextmanager
    def serve(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
        """Real HTTP server in a background thread; yields the base URL."""
        with _server.serve(self.app, host, port) as base_url:
            yield base_url

    def serve_forever(self, host: str = "127.0.0.1", port: int = 8765, log_level: str = "info") -> None:
        _server.serve_forever(self.app, host, port, log_level)
