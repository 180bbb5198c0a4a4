"""Latency, fault injection (seeded), the request log, in-process and over real HTTP."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from class_source.emulator import Emulator, EndpointFaults, FaultConfig
from class_source.emulator import fault_middleware
from class_source.emulator.faults import decide
from emulator_helpers import Api

CLASSES = "GET /api/v1/classes"
METRICS = "GET /api/v1/reporting/metrics"


def _statuses(emu: Emulator, n: int, path: str = "/classes") -> list[object]:
    """Status of n sequential requests; transport errors by exception name."""
    api = Api(emu)
    out: list[object] = []
    try:
        for _ in range(n):
            try:
                out.append(api.get(path).status_code)
            except httpx.TransportError as error:
                out.append(type(error).__name__)
    finally:
        api.close()
    return out


def test_status_faults_occur_at_the_configured_rate_and_are_seeded() -> None:
    config = dict(rate=0.5, kinds={"500": 1, "503": 1, "429": 1})
    first = _statuses(Emulator(seed=1, classes=2, faults=FaultConfig(**config)), 300)
    again = _statuses(Emulator(seed=1, classes=2, faults=FaultConfig(**config)), 300)
    other = _statuses(Emulator(seed=2, classes=2, faults=FaultConfig(**config)), 300)
    assert first == again and first != other
    counts = Counter(first)
    assert set(counts) == {200, 500, 503, 429}
    assert 0.4 < (300 - counts[200]) / 300 < 0.6
    assert all(counts[k] > 30 for k in (500, 503, 429))


def test_every_kind_occurs_with_default_weights() -> None:
    emu = Emulator(seed=3, classes=2, faults=FaultConfig(rate=0.6, kinds={"500": 1, "503": 1, "429": 1, "drop": 1, "truncate": 1,
                                                                         "truncate_silent": 1, "slow": 0}))
    outcomes = Counter(_statuses(emu, 200))
    assert {500, 503, 429, 200, "RemoteProtocolError"} <= set(outcomes)
    faults = emu.request_log.faults()
    assert set(faults) == {"500", "503", "429", "drop", "truncate", "truncate_silent"}
    assert outcomes["RemoteProtocolError"] == faults["drop"] + faults["truncate"]


def test_decisions_depend_on_the_endpoint_ordinal_not_on_interleaving() -> None:
    config = FaultConfig(rate=0.3)
    alone = [decide(config, 7, METRICS, n).fault for n in range(100)]
    assert [decide(config, 7, METRICS, n).fault for n in range(100)] == alone
    emu = Emulator(seed=7, classes=3, faults=FaultConfig(rate=0.3, kinds={"503": 1}))
    api = Api(emu)
    class_id = emu.school.class_ids()[0]
    try:
        seen = []
        for n in range(60):
            api.get("/templates")  # interleaved traffic to another endpoint
            seen.append(api.get("/reporting/metrics", class_id=class_id).status_code == 503)
    finally:
        api.close()
    assert seen == [decide(FaultConfig(rate=0.3, kinds={"503": 1}), 7, METRICS, n).fault == "503" for n in range(60)]


@pytest.mark.parametrize("retry_after", [0, 1, 7])
def test_429_and_503_carry_retry_after(retry_after: int) -> None:
    emu = Emulator(seed=1, classes=1, faults=FaultConfig(retry_after_s=retry_after))
    emu.faults.script(CLASSES, ["429", "503", "500"])
    api = Api(emu)
    try:
        first, second, third = api.get("/classes"), api.get("/classes"), api.get("/classes")
    finally:
        api.close()
    assert (first.status_code, first.headers["retry-after"], first.json()) == (429, str(retry_after), {"error": "Too Many Requests"})
    assert (second.status_code, second.headers["retry-after"]) == (503, str(retry_after))
    assert third.status_code == 500 and "retry-after" not in third.headers


def test_per_endpoint_overrides() -> None:
    emu = Emulator(seed=1, classes=2, faults=FaultConfig(rate=0.0, endpoints={METRICS: EndpointFaults(rate=1.0, kinds={"503": 1})}))
    api = Api(emu)
    try:
        class_id = emu.school.class_ids()[0]
        assert {api.get("/reporting/metrics", class_id=class_id).status_code for _ in range(20)} == {503}
        assert {api.get("/classes").status_code for _ in range(20)} == {200}
    finally:
        api.close()


def test_scripted_faults_come_first_and_in_order() -> None:
    emu = Emulator(seed=1, classes=1)
    emu.faults.script(CLASSES, ["503", "none", "429"])
    assert _statuses(emu, 5) == [503, 200, 429, 200, 200]
    with pytest.raises(ValueError, match="unknown fault kind"):
        emu.faults.script("*", ["teapot"])


def test_in_process_drop_truncate_and_silent_truncation() -> None:
    emu = Emulator(seed=1, classes=3)
    api = Api(emu)
    try:
        emu.faults.script(CLASSES, ["drop"])
        with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
            api.get("/classes")
        emu.faults.script(CLASSES, ["truncate"])
        with pytest.raises(httpx.RemoteProtocolError, match="complete message body"):
            api.get("/classes")
        emu.faults.script(CLASSES, ["truncate_silent"])
        cut = api.get("/classes")
        full = api.get("/classes")
        assert cut.status_code == 200 and 0 < len(cut.content) < len(full.content) and full.content.startswith(cut.content)
        with pytest.raises(ValueError):
            cut.json()
        assert not [h for h in full.headers if h.startswith("x-emulator")]
    finally:
        api.close()


def test_slow_responses_outlast_the_client_timeout_in_process() -> None:
    emu = Emulator(seed=1, classes=1, faults=FaultConfig(slow_s=2.0))
    emu.faults.script(CLASSES, ["slow"])
    api = Api(emu)
    try:
        with pytest.raises(httpx.ReadTimeout):  # the 2 s answer is cut off at the 0.2 s timeout
            api.request("GET", "/classes", timeout=0.2)
        assert api.get("/classes").status_code == 200
    finally:
        api.close()


def test_request_log_counts_per_endpoint() -> None:
    emu = Emulator(seed=1, classes=3, faults=FaultConfig(rate=0.2, kinds={"500": 1}))
    api = Api(emu)
    try:
        class_id = emu.school.class_ids()[0]
        for _ in range(7):
            api.get("/reporting/metrics", class_id=class_id)
        for _ in range(3):
            api.get("/classes")
        api.put("/users", {"identified_by": "email", "email": "x@y.org", "user_name": "X"})
        api.get("/_emulator/clock")  # admin routes are not logged
        assert emu.request_log.counts() == {METRICS: 7, CLASSES: 3, "PUT /api/v1/users": 1}
        assert emu.request_log.total == 11
        statuses = emu.request_log.status_counts()
        assert sum(statuses.values()) == 11 and statuses.get(500, 0) == emu.request_log.faults().get("500", 0)
        emu.request_log.reset()
        assert emu.request_log.counts() == {} and emu.request_log.total == 0
    finally:
        api.close()


def test_admin_routes_are_never_faulted_and_need_no_key() -> None:
    emu = Emulator(seed=1, classes=1, faults=FaultConfig(rate=1.0, kinds={"500": 1}))
    with httpx.Client(transport=emu.sync_transport(), base_url="http://emulator") as client:
        assert all(client.get("/_emulator/clock").status_code == 200 for _ in range(20))
        assert client.get("/api/v1/classes").status_code == 500  # faults come before auth


class _AsyncioWithSleep:
    """asyncio as class_source/emulator/fault_middleware.py sees it, with `sleep` replaced."""

    def __init__(self, sleep: Callable[[float], Awaitable[None]]) -> None:
        self.sleep = sleep

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)


def test_latency_is_concurrent_not_serial(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ten requests at once wait out their latency together. The emulator's sleep is replaced by a
    barrier that opens once all ten are waiting: waits taken one after another would never open it
    (the test fails at the barrier's timeout instead). No wall clock: this holds on a loaded machine."""
    emu = Emulator(seed=1, classes=2, latency_ms=100)
    secret = emu.mint_key()
    waits: list[float] = []

    async def run() -> set[int]:
        everyone_waiting = asyncio.Event()

        async def barrier(delay_s: float) -> None:
            waits.append(delay_s)
            if len(waits) == 10:
                everyone_waiting.set()
            await asyncio.wait_for(everyone_waiting.wait(), timeout=60)

        monkeypatch.setattr(fault_middleware, "asyncio", _AsyncioWithSleep(barrier))
        async with httpx.AsyncClient(transport=emu.transport(), base_url="http://emulator",
                                     headers={"Authorization": f"Bearer {secret}"}) as client:
            responses = await asyncio.gather(*[client.get("/api/v1/templates") for _ in range(10)])
        return {r.status_code for r in responses}

    assert asyncio.run(run()) == {200}
    # every request waited once, for what remained of its 100 ms after the emulator's own work
    assert len(waits) == 10 and all(0 <= delay_s <= 0.1 for delay_s in waits)


def test_jitter_is_seeded_and_bounded() -> None:
    config = FaultConfig(latency_ms=50, jitter_ms=100)
    delays = [decide(config, 3, CLASSES, n).delay_s for n in range(200)]
    assert delays == [decide(config, 3, CLASSES, n).delay_s for n in range(200)]
    assert all(0.05 <= d < 0.15 for d in delays) and max(delays) - min(delays) > 0.08


def test_fault_config_validation() -> None:
    with pytest.raises(ValueError):
        Emulator(classes=1, faults=FaultConfig(rate=1.5))
    with pytest.raises(ValueError, match="unknown fault kinds"):
        Emulator(classes=1, faults=FaultConfig(rate=0.5, kinds={"418": 1}))


def test_in_process_requests_search_no_module_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """httpx's ASGITransport tries `import sniffio` on every request; without sniffio installed each
    attempt searched sys.path again (a tenth of the event loop's time in benchmarks/cpu.py)."""
    import importlib.machinery

    api = Api(Emulator(seed=3, classes=2))
    api.get("/classes")  # the first request may import what httpx and the app need
    searched: list[str] = []
    find_spec = importlib.machinery.PathFinder.find_spec

    def recording(name: str, *args: Any, **kwargs: Any) -> Any:
        searched.append(name)
        return find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.machinery.PathFinder, "find_spec", recording)
    for _ in range(3):
        assert api.get("/classes").status_code == 200
    assert searched == []
