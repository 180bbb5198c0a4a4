"""Which requests the emulator delays or fails: the fault configuration and the seeded decision.

For every request under /api/, `decide` says (seeded, from the endpoint and the request's ordinal
for that endpoint) how long to delay it and whether to fail it; scripted faults come first. The
kinds of fault:

- "500", "503", "429": an error response (429 and 503 carry Retry-After);
- "slow": sleep `slow_s` (longer than a client's timeout) before answering normally;
- "drop": the connection closes with no response at all;
- "truncate": headers announce the full Content-Length, part of the body is sent, the connection
  closes (clients see httpx.RemoteProtocolError);
- "truncate_silent": a well-formed response whose body is cut short (invalid JSON).

fault_middleware.py acts the decision out over real HTTP, transports.py in process; the requests
are counted in request_log.py.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

FAULT_KINDS: tuple[str, ...] = ("500", "503", "429", "drop", "truncate", "truncate_silent", "slow")
NO_FAULT = "none"  # usable in scripted sequences: "let this request through"
DEFAULT_KINDS: dict[str, float] = {"500": 1.0, "503": 1.0, "429": 1.0, "drop": 1.0, "truncate": 1.0, "truncate_silent": 0.0, "slow": 0.0}


@dataclass
class EndpointFaults:
    """Per-endpoint overrides ("GET /api/v1/reporting/metrics" -> ...); None = use the global value."""

    rate: float | None = None
    kinds: dict[str, float] | None = None
    latency_ms: float | None = None
    jitter_ms: float | None = None


@dataclass
class FaultConfig:
    """Mutable at runtime (emu.faults.rate = 0.2 takes effect on the next request)."""

    rate: float = 0.0  # probability that a request is faulted
    kinds: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_KINDS))  # relative weights
    retry_after_s: int = 1  # Retry-After seconds on 429 and 503
    slow_s: float = 30.0  # delay of a "slow" response
    truncate_fraction: float = 0.5  # share of the body sent before a truncation
    latency_ms: float = 0.0  # every API request is answered this long after it arrived (at the earliest)
    jitter_ms: float = 0.0  # plus uniform [0, jitter_ms)
    seed: int | None = None  # None: the emulator's seed
    endpoints: dict[str, EndpointFaults] = field(default_factory=dict)
    # Forced faults for the next requests of an endpoint ("*" = any endpoint), consumed in order
    # before any random draw: e.g. {"GET /api/v1/reporting/metrics": ["429", "none", "drop"]}.
    scripted: dict[str, list[str]] = field(default_factory=dict)

    def script(self, endpoint: str, kinds: Iterable[str]) -> None:
        kinds = list(kinds)
        for kind in kinds:
            if kind not in FAULT_KINDS and kind != NO_FAULT:
                raise ValueError(f"unknown fault kind {kind!r}; expected one of {FAULT_KINDS + (NO_FAULT,)}")
        self.scripted.setdefault(endpoint, []).extend(kinds)

    def validate(self) -> None:
        rates = [self.rate] + [e.rate for e in self.endpoints.values() if e.rate is not None]
        if any(not 0.0 <= r <= 1.0 for r in rates):
            raise ValueError("fault rates must be within [0, 1]")
        for kinds in [self.kinds] + [e.kinds for e in self.endpoints.values() if e.kinds is not None]:
            unknown = set(kinds) - set(FAULT_KINDS)
            if unknown:
                raise ValueError(f"unknown fault kinds {sorted(unknown)}; expected some of {FAULT_KINDS}")
            if any(w < 0 for w in kinds.values()):
                raise ValueError("fault kind weights must be >= 0")
        if self.retry_after_s < 0 or self.slow_s < 0 or self.latency_ms < 0 or self.jitter_ms < 0:
            raise ValueError("retry_after_s, slow_s, latency_ms and jitter_ms must be >= 0")
        if not 0.0 <= self.truncate_fraction < 1.0:
            raise ValueError("truncate_fraction must be within [0, 1)")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def update_from_json(self, data: dict[str, Any]) -> None:
        """Apply an admin-route update: known top-level keys only; endpoints replace per key."""
        known = set(self.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault settings {sorted(unknown)}")
        candidate = FaultConfig(**{**asdict(self), **{k: v for k, v in data.items() if k != "endpoints"}})
        candidate.endpoints = dict(self.endpoints)
        for key, value in (data.get("endpoints") or {}).items():
            candidate.endpoints[key] = EndpointFaults(**value)
        if "kinds" in data:
            candidate.kinds = {**{k: 0.0 for k in DEFAULT_KINDS}, **data["kinds"]}
        candidate.validate()
        for name in known:
            setattr(self, name, getattr(candidate, name))


def _unit(*parts: object) -> float:
    """A deterministic uniform [0, 1) from its inputs (stable across processes, unlike hash())."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@dataclass(frozen=True)
class Decision:
    delay_s: float
    fault: str | None


def decide(config: FaultConfig, default_seed: int, endpoint: str, ordinal: int) -> Decision:
    """The latency and fault of the `ordinal`-th request to `endpoint` (pure except for scripts)."""
    seed = default_seed if config.seed is None else config.seed
    override = config.endpoints.get(endpoint) or EndpointFaults()
    latency = config.latency_ms if override.latency_ms is None else override.latency_ms
    jitter = config.jitter_ms if override.jitter_ms is None else override.jitter_ms
    delay_s = (latency + jitter * _unit(seed, endpoint, ordinal, "jitter")) / 1000.0
    for key in (endpoint, "*"):
        queue = config.scripted.get(key)
        if queue:
            try:
                kind = queue.pop(0)
            except IndexError:  # emptied by a concurrent request (server thread vs. in-process)
                continue
            return Decision(delay_s, None if kind == NO_FAULT else kind)
    rate = config.rate if override.rate is None else override.rate
    if rate <= 0 or _unit(seed, endpoint, ordinal, "fault") >= rate:
        return Decision(delay_s, None)
    weights = [(k, w) for k, w in (config.kinds if override.kinds is None else override.kinds).items() if w > 0]
    total = sum(w for _, w in weights)
    if total <= 0:
        return Decision(delay_s, None)
    pick = _unit(seed, endpoint, ordinal, "kind") * total
    for kind, weight in weights:
        pick -= weight
        if pick < 0:
            return Decision(delay_s, kind)
    return Decision(delay_s, weights[-1][0])
