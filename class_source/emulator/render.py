"""Metrics pages rendered to JSON column by column with Arrow compute.

A metrics page is the emulator's hot path: 1,000 events, two timestamps each, served by one
thread. Timed in-process, a whole page (lookup included) took ~1.4 ms rendered event by event and
takes ~0.8-1.0 ms column by column. The bytes are the same as `json.dumps` of
`School.metrics_page` (tests/emulator/test_emulator_render.py checks that).
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Callable, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from .activity import TYPE_VALUES, ClassActivity

# ',"event_type":"T","event_value":"V"}' per type/value code
_EVENT_TAILS = pa.array(
    [f',"event_type":{json.dumps(t, ensure_ascii=False)},"event_value":{json.dumps(v, ensure_ascii=False)}}}' for t, v in TYPE_VALUES]
)


def events_json(activity: ClassActivity, indices: Sequence[int], person_prefix: Callable[[int], str], ascending: bool = True) -> bytes:
    """The events at `indices` (ascending, unless `ascending` is False: then in any order) as the
    API's JSON array, in the order of `indices`.

    `person_prefix(person)` is `{"student_id":...,"email":...,"ext_person_id":...,"event_start":"`
    for one person, asked once per distinct person of the page.
    """
    if not indices:
        return b"[]"
    low, high = (indices[0], indices[-1] + 1) if ascending else (min(indices), max(indices) + 1)
    if ascending and high - low == len(indices):  # the usual page: every event in the range has ended
        starts, ends, persons, codes = (_column(values[low:high]) for values in _columns(activity))
    else:
        positions = pa.array([i - low for i in indices], type=pa.int64())
        starts, ends, persons, codes = (_column(values[low:high]).take(positions) for values in _columns(activity))

    distinct = pc.unique(persons)
    prefixes = pa.array([person_prefix(p) for p in distinct.to_pylist()], type=pa.string())
    durations = _durations(activity, indices, starts, ends)
    rows = pc.binary_join_element_wise(
        prefixes.take(pc.index_in(persons, value_set=distinct)),
        _iso_ms(starts),
        'Z","event_end":"',
        _iso_ms(ends),
        'Z","event_duration":',
        durations.cast(pa.string()),
        _EVENT_TAILS.take(codes),
        "",  # the separator between the parts of one event
    )
    joined = pc.binary_join(pa.ListArray.from_arrays(pa.array([0, len(rows)], pa.int32()), rows), ",")
    return b"".join((b"[", joined[0].as_buffer(), b"]"))  # one copy of the page, not two


def _columns(activity: ClassActivity) -> tuple[array, array, array, array]:
    return activity.starts, activity.ends, activity.persons, activity.codes


def _iso_ms(unix_ms: pa.Array) -> pa.Array:
    """`2022-06-15T17:43:40.196` (UTC, the caller appends the Z): Arrow's cast of a zoneless
    timestamp writes `2022-06-15 17:43:40.196`, 40x faster than strftime or a zoned cast. The
    space is the 11th byte (four-digit years); replacing that slice takes half the time of a search."""
    text = unix_ms.view(pa.timestamp("ms")).cast(pa.string())
    return pc.binary_replace_slice(text, start=10, stop=11, replacement="T")


def _durations(activity: ClassActivity, indices: Sequence[int], starts: pa.Array, ends: pa.Array) -> pa.Array:
    """Reported durations: whole seconds x 60 (the API's unit quirk), or an injected event's own."""
    durations = pc.multiply(pc.divide(pc.subtract(ends, starts), 1000), 60)
    overrides = activity.duration_overrides
    if not overrides or not any(i in overrides for i in indices):
        return durations
    values = durations.to_pylist()
    for position, i in enumerate(indices):
        if i in overrides:
            values[position] = overrides[i]
    return pa.array(values, type=pa.int64())


_ARROW_TYPES = {("q", 8): pa.int64(), ("l", 8): pa.int64(), ("l", 4): pa.int32(), ("i", 4): pa.int32(), ("B", 1): pa.uint8()}


def _column(values: array) -> pa.Array:
    """An Arrow view of a (copied, so never resized while viewed) `array.array` slice."""
    kind = _ARROW_TYPES[(values.typecode, values.itemsize)]
    return pa.Array.from_buffers(kind, len(values), [None, pa.py_buffer(values)])
