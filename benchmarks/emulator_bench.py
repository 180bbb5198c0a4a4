"""Emulator benchmark (not a test): scale, memory and metrics-page latency of the Class API emulator.

    uv run python benchmarks/emulator_bench.py [--classes 5000] [--samples 300] [--skip-count]

Reports: school build time; enrollments, schedules; process RSS (psutil) after the build and at the
end; the median time to serve one 1,000-event metrics page in-process through the ASGI transport
(cache warm, many samples) and the cold first page of a class (activity generated on demand; client-side JSON parsing is not
timed); and
the total number of events visible at the default clock. Targets: RSS < 1 GiB, 150,000
enrollments, ~10M events for 5,000 classes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import sys
import time
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from class_source.emulator import Emulator  # noqa: E402

MIB = 1024 * 1024


def rss_mib() -> float:
    return psutil.Process().memory_info().rss / MIB


async def page_timings(emu: Emulator, class_ids: list[str], samples: int) -> tuple[list[float], list[float], int]:
    """(warm page times, cold first-page times, events per page) for limit=1000 pages."""
    secret = emu.mint_key()
    warm: list[float] = []
    cold: list[float] = []
    sizes: set[int] = set()
    async with httpx.AsyncClient(transport=emu.transport(), base_url="http://emulator",
                                 headers={"Authorization": f"Bearer {secret}"}) as client:
        for class_id in class_ids:
            params = {"class_id": class_id, "limit": 1000}
            t0 = time.perf_counter()
            response = await client.get("/api/v1/reporting/metrics", params=params)
            cold.append(time.perf_counter() - t0)
            response.raise_for_status()
            for _ in range(max(1, samples // len(class_ids))):
                t0 = time.perf_counter()
                response = await client.get("/api/v1/reporting/metrics", params=params)  # body fully received
                warm.append(time.perf_counter() - t0)
                sizes.add(len(response.json()))  # parsing is the client's cost, outside the timing
    return warm, cold, min(sizes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--samples", type=int, default=300, help="warm metrics-page requests in total")
    parser.add_argument("--page-classes", type=int, default=10, help="classes sampled for the page timing")
    parser.add_argument("--skip-count", action="store_true", help="skip counting every event (~20 s)")
    args = parser.parse_args()

    rss_start = rss_mib()
    t0 = time.perf_counter()
    emu = Emulator(seed=args.seed, classes=args.classes)
    build_s = time.perf_counter() - t0
    school = emu.school
    rss_built = rss_mib()
    enrollments = sum(len(c.roster) for c in school.classes.values())
    schedules = sum(len(c.schedules) for c in school.classes.values())

    # Classes with at least one full 1,000-event page at the default clock.
    candidates = []
    for class_id in school.class_ids():
        if school.activity(class_id).count_visible(emu.clock.now) >= 1000:
            candidates.append(class_id)
        if len(candidates) >= args.page_classes:
            break
    school.clear_activity_cache()  # so each class's first page generates its activity (cold)
    warm, cold, page_size = asyncio.run(page_timings(emu, candidates, args.samples))

    total_events = None
    count_s = None
    if not args.skip_count:
        t0 = time.perf_counter()
        total_events = school.count_visible_events()
        count_s = time.perf_counter() - t0

    report = {
        "classes": len(school.class_ids()) + len(school.deferred_class_ids()),
        "regular_classes": len(school.class_ids()),
        "deferred_classes": len(school.deferred_class_ids()),
        "users": len(school.users),
        "people": len(school.people),
        "enrollments": enrollments,
        "schedules": schedules,
        "build_seconds": round(build_s, 2),
        "rss_mib_before_build": round(rss_start, 1),
        "rss_mib_after_build": round(rss_built, 1),
        "metrics_page_events": page_size,
        "metrics_page_samples": len(warm),
        "metrics_page_median_ms": round(statistics.median(warm) * 1000, 2),
        "metrics_page_p90_ms": round(sorted(warm)[int(0.9 * (len(warm) - 1))] * 1000, 2),
        "metrics_first_page_cold_median_ms": round(statistics.median(cold) * 1000, 2),
        "events_visible_at_default_now": total_events,
        "count_seconds": None if count_s is None else round(count_s, 1),
        "rss_mib_end": round(rss_mib(), 1),
        "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "default_now": emu.clock.now,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
