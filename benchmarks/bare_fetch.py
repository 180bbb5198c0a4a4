"""The latency benchmark's own floor: a full load's requests sent by a client that does nothing else.

`run.py` compares the connector's full load with `requests x latency / concurrency`. That floor
assumes a server that answers in exactly the latency and a client that costs nothing. This script
measures what the machine and the emulator allow: the requests of a full load (class listings,
users, templates, every class's roster and schedules, every regular class's attendance and metrics
pages chained by `starting_after` as the connector chains them) from a bare aiohttp client, at most
`--concurrency` in flight, nothing parsed but each metrics page's newest event start, nothing
stored. Against the same emulator process as `run.py` (its own process, `--latency-ms`).

    uv run python benchmarks/bare_fetch.py --classes 1000 --latency-ms 50

prints the wall time, the floor, their ratio and the requests at the server on average. The
connector's extract can approach this, not the floor (benchmarks/README.md, "Session 8").
`--verify` also counts the distinct events fetched against the emulator's ground truth.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import EmulatorProcess  # noqa: E402 - run.py is a script beside this one, not a package

PAGE = 1000


async def fetch_everything(base_url: str, api_key: str, concurrency: int, verify: bool) -> dict[str, Any]:
    slots = asyncio.Semaphore(concurrency)
    sent = 0
    events: set[tuple[str, ...]] = set()
    headers = {"Authorization": f"Bearer {api_key}"}
    async with aiohttp.ClientSession(headers=headers, connector=aiohttp.TCPConnector(limit=concurrency)) as http:

        async def get(path: str, params: dict[str, Any]) -> bytes:
            nonlocal sent
            async with slots:
                sent += 1
                async with http.get(f"{base_url}/api/v1{path}", params=params) as response:
                    response.raise_for_status()
                    return await response.read()

        async def metrics(class_id: str) -> None:
            after: int | None = None
            while True:
                params: dict[str, Any] = {"class_id": class_id, "limit": PAGE}
                if after is not None:
                    params["starting_after"] = after
                page = orjson.loads(await get("/reporting/metrics", params))
                if verify:
                    events.update((class_id, e["student_id"], e["event_type"], e["event_start"], str(e["event_value"])) for e in page)
                if len(page) < PAGE:
                    return
                after = max(_unix_s(e["event_start"]) for e in page) - 1  # the connector re-reads the newest second

        started = time.perf_counter()
        regular, deferred = await asyncio.gather(get("/classes", {}), get("/classes", {"deferred": "true"}))
        await asyncio.gather(get("/users", {"page": 1, "limit": PAGE}), get("/templates", {}))
        regular_ids = [c["class_id"] for c in orjson.loads(regular)]
        all_ids = regular_ids + [c["class_id"] for c in orjson.loads(deferred)]
        await asyncio.gather(
            *(get("/class/enrollments", {"class_id": c}) for c in all_ids),
            *(get("/schedules", {"class_id": c}) for c in all_ids),
            *(get("/reporting/attendance", {"class_id": c}) for c in regular_ids),
            *(metrics(c) for c in regular_ids),
        )
        wall = time.perf_counter() - started
    return {"wall_s": wall, "requests": sent, "events": len(events) if verify else None}


def _unix_s(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bare_fetch.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--verify", action="store_true", help="count the distinct events fetched against the ground truth")
    parser.add_argument("--json", help="also write the result to this JSON file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        emulator = EmulatorProcess(args.classes, args.seed, args.latency_ms, Path(scratch) / "emulator.log")
        try:
            emulator.call("warm")  # the school's activity generated before the clock starts, as run.py does
            cpu_before = emulator.call("reset")["cpu_s"]
            result = asyncio.run(fetch_everything(emulator.base_url, emulator.api_key, args.concurrency, args.verify))
            served = emulator.call("counts")
            if args.verify:
                result["truth_events"] = emulator.call("truth", path=str(Path(scratch) / "truth.duckdb"), tag="t")["rows"]["metrics"]
        finally:
            emulator.close()
    timeline = served["timeline"]
    span = max(answered for _, answered in timeline) - min(arrived for arrived, _ in timeline)
    result |= {
        "classes": args.classes,
        "concurrency": args.concurrency,
        "floor_s": result["requests"] * args.latency_ms / 1000 / args.concurrency,
        "served": served["total"],
        "mean_at_server": sum(answered - arrived for arrived, answered in timeline) / span if span > 0 else 0.0,
        "emulator_cpu_s": served["cpu_s"] - cpu_before,
    }
    ratio = f" = {result['wall_s'] / result['floor_s']:.3f} x the floor" if result["floor_s"] > 0 else ""
    print(
        f"bare fetch, {args.classes:,} classes, {args.latency_ms:g} ms, concurrency {args.concurrency}: "
        f"{result['requests']:,} requests in {result['wall_s']:.1f} s against a {result['floor_s']:.1f} s floor{ratio}; "
        f"{result['mean_at_server']:.1f} of {args.concurrency} at the server on average; emulator {result['emulator_cpu_s']:.1f} CPU s"
    )
    if args.verify:
        print(f"events fetched: {result['events']:,} distinct, ground truth {result['truth_events']:,}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
