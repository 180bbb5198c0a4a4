"""Attendance and activity events of one class, generated on demand and held in columns.

Nothing here is stored for the whole school: a class's sessions, attendance and events are a pure
function of (school seed, the class's started schedules, its roster, injected test events), so they
are regenerated whenever asked and kept only in a small LRU cache (see `ActivityCache`). Randomness
is drawn from one stream per (class, person), so adding or removing a student never changes anybody
else's history, and a later clock only ever adds data (details in `generate_activity`).
"""

from __future__ import annotations

import random
import threading
import uuid
from array import array
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Hashable, Sequence

import pyarrow as pa
import pyarrow.compute as pc

_MASK64 = (1 << 64) - 1
# Namespace for session ids: session_id = uuid5(namespace, schedule_id), a stable, distinct id.
SESSION_NAMESPACE = uuid.UUID("6f1f3c2e-0b7a-4d55-9a43-2c1e7d8b9f10")
TARDY_AFTER_MS = 300_000  # joining more than 5 minutes after the session start counts as tardy

# Every documented (event_type, event_value) pair, sorted: the index of a pair is its "code", so
# ordering by code is ordering by (event_type, event_value), which is the API's tie-break order.
EVENT_VALUES: dict[str, tuple[str, ...]] = {
    "ATTENDANCE": ("true",),
    "FEEDBACK": ("clap", "coffee", "dislike", "faster", "like", "no_mark", "question", "slower", "time", "yes_mark"),
    "FOCUSED": ("false", "true"),
    "IS_AUDIO_MUTED": ("false", "true"),
    "IS_TALKING": ("false", "true"),
    "IS_VIDEO_ON": ("false", "true"),
    "PRESENTING": ("false", "true"),
    "RAISED_HAND": ("0", "1"),
    "REACTION": ("clap", "crying", "laughing", "thumbup"),
    "SPOTLIGHT": ("false", "true"),
    "STARS": ("0", "1", "2", "3"),
}
# Events the API reference does not document but an account may still send (SchoolShape.odd_event_rate):
# a value the API gave as null, an empty value, an unknown type. Their codes follow the documented
# ones, so a documented pair's code is the same with or without them; among same-instant events of
# one student and type they sort after the documented values.
ODD_TYPE_VALUES: tuple[tuple[str, str | None], ...] = (("RAISED_HAND", None), ("REACTION", ""), ("WAVING", "true"))
TYPE_VALUES: tuple[tuple[str, str | None], ...] = (
    *sorted((t, v) for t, vs in EVENT_VALUES.items() for v in vs),
    *ODD_TYPE_VALUES,
)
CODE_OF: dict[tuple[str, str | None], int] = {tv: i for i, tv in enumerate(TYPE_VALUES)}
_TYPE_NAMES = sorted(EVENT_VALUES) + sorted({t for t, _ in ODD_TYPE_VALUES} - set(EVENT_VALUES))
TYPE_INDEX_OF_CODE: tuple[int, ...] = tuple(_TYPE_NAMES.index(t) for t, _ in TYPE_VALUES)

_C = CODE_OF
_ATTENDANCE = _C[("ATTENDANCE", "true")]
_RAISED = (_C[("RAISED_HAND", "0")], _C[("RAISED_HAND", "1")])
_REACTIONS = tuple(_C[("REACTION", v)] for v in EVENT_VALUES["REACTION"])
_FEEDBACK = tuple(_C[("FEEDBACK", v)] for v in EVENT_VALUES["FEEDBACK"])
_STARS = tuple(_C[("STARS", v)] for v in EVENT_VALUES["STARS"])

# State toggles: (false code, true code, P(takes part) student, P(takes part) teacher,
# P(starts true), mean true-segment ms, mean false-segment ms) at event_scale 1.
_TOGGLES: tuple[tuple[int, int, float, float, float, int, int], ...] = (
    (_C[("FOCUSED", "false")], _C[("FOCUSED", "true")], 1.0, 1.0, 0.92, 4_200_000, 300_000),
    (_C[("IS_AUDIO_MUTED", "false")], _C[("IS_AUDIO_MUTED", "true")], 1.0, 1.0, 0.85, 4_800_000, 150_000),
    (_C[("IS_VIDEO_ON", "false")], _C[("IS_VIDEO_ON", "true")], 0.9, 1.0, 0.75, 6_000_000, 900_000),
    (_C[("IS_TALKING", "false")], _C[("IS_TALKING", "true")], 0.25, 1.0, 0.0, 45_000, 1_800_000),
    (_C[("PRESENTING", "false")], _C[("PRESENTING", "true")], 0.02, 0.8, 0.3, 1_800_000, 1_200_000),
    (_C[("SPOTLIGHT", "false")], _C[("SPOTLIGHT", "true")], 0.03, 0.2, 0.0, 300_000, 3_000_000),
)


def splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def key64(text: str) -> int:
    """A stable 64-bit key of an id string (UUIDs use their low 64 bits; anything else is hashed)."""
    try:
        return uuid.UUID(text).int & _MASK64
    except ValueError:
        import hashlib

        return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")


def session_id_of(schedule_id: str) -> str:
    return str(uuid.uuid5(SESSION_NAMESPACE, schedule_id))


def reported_duration(start_ms: int, end_ms: int) -> int:
    """`event_duration` as the API reports it: whole seconds x 60 (the reference's example:
    17:43:40.196 -> 17:53:40.197 is reported as 36000). Untrusted; start/end are the truth."""
    return (end_ms - start_ms) // 1000 * 60


@dataclass(frozen=True)
class SessionAttendance:
    schedule_id: str
    session_id: str
    start: int  # unix seconds (the schedule's times)
    end: int
    rows: tuple[tuple[int, int, int], ...]  # (person index, join ms or -1, leave ms or -1), roster order


@dataclass
class ClassActivity:
    """Started sessions with attendance, and every generated event in API order, as columns."""

    sessions: list[SessionAttendance]
    starts: array  # event_start ms, ascending
    ends: array  # event_end ms
    persons: array  # person index
    codes: array  # index into TYPE_VALUES
    duration_overrides: dict[int, int]  # position -> event_duration given by an injected event

    def __len__(self) -> int:
        return len(self.starts)

    def duration(self, i: int) -> int:
        override = self.duration_overrides.get(i)
        return reported_duration(self.starts[i], self.ends[i]) if override is None else override

    def visible_indices(
        self,
        now: int,
        starting_after: int | None = None,
        ending_before: int | None = None,
        limit: int | None = None,
        *,
        after_instant: bool = False,
        newest_first: bool = False,
    ) -> list[int]:
        """Indices of events visible at `now`, in API order, filtered as the metrics endpoint does.

        starting_after=S keeps events whose start second is after S (after_instant: whose start
        millisecond is after S * 1000). newest_first: the last `limit` of them, newest first."""
        starts = self.starts
        now_ms = now * 1000
        if starting_after is None:
            first = 0
        elif after_instant:
            first = bisect_right(starts, starting_after * 1000)
        else:
            first = bisect_left(starts, (starting_after + 1) * 1000)
        # Visible: event_end <= now; ending_before=E: event_end < E (whole seconds, exclusive).
        bound = now_ms if ending_before is None else min(now_ms, ending_before * 1000 - 1)
        # event_start <= event_end, so no event starting after the bound can qualify
        last = bisect_right(starts, bound, lo=first)
        if last <= first:
            return []
        if limit is not None and not newest_first:
            # the first `limit` ended events are among the first events from `first` on: look at just over
            # `limit` of them, twice as many while too few of those have ended (a page, not the class's rest)
            span = limit + 64
            while True:
                stop = min(last, first + span)
                positions = self._ended(first, stop, bound)
                if len(positions) >= limit or stop == last:
                    return pc.add(positions[:limit], first).to_pylist()
                span *= 2
        positions = self._ended(first, last, bound)
        if newest_first:
            if limit is not None:
                positions = positions[max(len(positions) - limit, 0) :]
            return pc.add(positions, first).to_pylist()[::-1]
        return pc.add(positions, first).to_pylist()

    def _ended(self, first: int, stop: int, bound: int) -> pa.Array:
        """Positions (from `first`) of the events in [first, stop) that end at or before `bound` (ms)."""
        ends = self.ends[first:stop]  # a copy: the view below must not pin the class's array
        return pc.indices_nonzero(pc.less_equal(pa.Array.from_buffers(pa.int64(), len(ends), [None, pa.py_buffer(ends)]), bound))

    def count_visible(self, now: int) -> int:
        return sum(map((now * 1000).__ge__, self.ends))


# Packed event key, most significant first: event_start ms | student rank (20 bits) | event type
# (4 bits) | type/value code (6 bits) | event_end - event_start (32 bits). Sorting these ints is the
# API order (event_start, student_id, event_type, event_value); `key >> 38` is the identity
# (event_start, student, type) that must be unique (`key >> 32`, with the value, under same_instant_values).
_RANK_BITS, _TC_BITS, _DUR_BITS = 20, 10, 32
MAX_EVENT_SPAN_MS = (1 << _DUR_BITS) - 1
MAX_STUDENTS_PER_CLASS = 1 << _RANK_BITS
_TC = tuple(TYPE_INDEX_OF_CODE[c] << 6 | c for c in range(len(TYPE_VALUES)))
_ODD_TC = tuple(_TC[CODE_OF[pair]] for pair in ODD_TYPE_VALUES)
_ODD_SALT = 0x0DD_E7E7_0DD5
_DUR_MASK = (1 << _DUR_BITS) - 1
_TC_MASK = (1 << _TC_BITS) - 1
# same_instant_values: a reaction or feedback gets, with this probability, a second event of the same
# type with another value at the same millisecond (two reactions clicked at once).
_PAIR_PROBABILITY = 0.15
_PAIR_SALT = 0x5A3E_1A57_0F_5A1D
_PARTNERS: dict[int, tuple[int, ...]] = {_TC[c]: tuple(_TC[o] for o in group if o != c) for group in (_REACTIONS, _FEEDBACK) for c in group}


def generate_activity(
    *,
    seed: int,
    class_key: int,
    sessions: Sequence[tuple[str, int, int]],
    roster: Sequence[tuple[int, str, int]],
    person_keys: Sequence[int],
    person_student_ids: Sequence[str],
    injected: Sequence[tuple[int, int, int, int, int]],
    event_scale: float,
    same_instant_values: bool = False,
    odd_event_rate: float = 0.0,
) -> ClassActivity:
    """Build one class's activity.

    sessions: started (schedule_id, start, end) in start order; roster: (person, role, enrolled_at);
    injected: (start_ms, end_ms, duration, person, code) events added by tests.
    same_instant_values: also generate same-millisecond pairs of one student and type with
    different values (readings.py), from a stream of their own: every other event stays the same.
    odd_event_rate: per person and attended session, the chance of one undocumented event
    (ODD_TYPE_VALUES) during the stay, also from a stream of its own.

    Randomness: one `random.Random` for the class's session-level draws and two per (class, person)
    (attendance, events), consumed session after session. A person's stream is independent of everybody else, and session
    k only depends on sessions before it, so a later clock (more started sessions) only appends.
    Seeding a Random costs ~8 µs, so streams are per person, not per (session, person).
    """
    scale = event_scale if event_scale > 0 else 0.0
    class_state = splitmix64((seed & _MASK64) ^ class_key)
    session_rng = random.Random(class_state).random
    plan = []
    for _schedule_id, start, end in sessions:
        start_ms, end_ms = start * 1000, end * 1000
        span = max(end_ms - start_ms, 1000)
        hours = span / 3_600_000
        # Reaction waves: moments where many people react within the same second.
        waves: list[tuple[int, int]] = []
        for _ in range(int(1.5 * scale * hours + session_rng()) + (1 if scale > 0 else 0)):
            second = start_ms + int((0.1 + 0.8 * session_rng()) * span) // 1000 * 1000
            waves.append((second, _TC[_REACTIONS[int(session_rng() * 4)]]))
        plan.append((start, start_ms, end_ms, hours, waves))
    toggles = tuple((_TC[f], _TC[t], ps, pt, p0, mt / scale, mf / scale) for f, t, ps, pt, p0, mt, mf in _TOGGLES) if scale else ()
    raise_rate, reaction_rate, feedback_rate, stars_rate = 0.3 * scale, 0.2 * scale, 0.2 * scale, 0.12 * scale
    attendance_tc, raised_tc, lowered_tc = _TC[_ATTENDANCE], _TC[_RAISED[1]], _TC[_RAISED[0]]
    reactions_tc = tuple(_TC[c] for c in _REACTIONS)
    feedback_tc = tuple(_TC[c] for c in _FEEDBACK)
    stars_tc = tuple(_TC[c] for c in _STARS)

    people = sorted({p for p, _, _ in roster} | {i[3] for i in injected}, key=person_student_ids.__getitem__)
    if len(people) > MAX_STUDENTS_PER_CLASS:
        raise ValueError(f"a class can have at most {MAX_STUDENTS_PER_CLASS} people with activity")
    rank = {p: i for i, p in enumerate(people)}
    keys: list[int] = []
    app = keys.append
    rows: list[list[tuple[int, int, int]]] = [[] for _ in plan]
    for person, role, enrolled_at in roster:
        person_state = splitmix64(class_state ^ person_keys[person])
        # Two streams: attendance draws never depend on how many events were drawn, so event_scale
        # changes the events and nothing else.
        a = random.Random(person_state).random
        r = random.Random(person_state ^ 0x5EED_E7E7).random
        who = rank[person] << _TC_BITS
        teacher = role == "teacher"
        p_present = 0.98 if teacher else 0.88
        first_event = len(keys)
        odd = random.Random(person_state ^ _ODD_SALT).random if odd_event_rate > 0 else None
        for k, (start, start_ms, end_ms, hours, waves) in enumerate(plan):
            if enrolled_at > start:
                continue  # enrolled after this session began: not part of it
            if a() >= p_present:
                rows[k].append((person, -1, -1))
                continue
            if teacher:
                join = start_ms - 60_000 - int(a() * 540_000)
            elif a() < 0.14:
                join = start_ms + TARDY_AFTER_MS + 1000 + int(a() * 1_200_000)
            else:
                join = start_ms - 180_000 + int(a() * 479_000)
            if a() < 0.1:
                leave = end_ms - 300_000 - int(a() * 1_500_000)
            else:
                leave = end_ms - 120_000 + int(a() * 300_000)
            if leave < join + 60_000:
                leave = join + 60_000 + int(a() * 60_000)
            rows[k].append((person, join, leave))
            if odd is not None and odd() < odd_event_rate:
                t = join + int(odd() * (leave - join))
                tc = _ODD_TC[int(odd() * len(_ODD_TC))]
                app(((t << 30 | who | tc) << 32) | (min(t + 1_000 + int(odd() * 5_000), leave) - t))
            if not scale:
                continue
            dur = leave - join
            # ATTENDANCE: one event spanning the whole stay (the long events the connector must handle).
            app(((join << 30 | who | attendance_tc) << 32) | dur)
            for false_tc, true_tc, p_student, p_teacher, p_true, mt, mf in toggles:
                if r() >= (p_teacher if teacher else p_student):
                    continue
                on = r() < p_true
                t = join
                while t < leave:
                    e = t + int((mt if on else mf) * (0.25 + 1.5 * r())) + 1000
                    if e > leave:
                        e = leave
                    app(((t << 30 | who | (true_tc if on else false_tc)) << 32) | (e - t))
                    t = e
                    on = not on
            # Hand raises: "1" while raised, then "0" until the next raise or leaving.
            n = int(raise_rate * hours + r())
            if n:
                raises = sorted(join + int(r() * dur) for _ in range(n))
                for i, t in enumerate(raises):
                    nxt = raises[i + 1] if i + 1 < n else leave
                    if nxt <= t:
                        continue
                    up = min(t + 5_000 + int(r() * 85_000), nxt)
                    app(((t << 30 | who | raised_tc) << 32) | (up - t))
                    if up < nxt:
                        app(((up << 30 | who | lowered_tc) << 32) | (nxt - up))
            for second, tc in waves:
                if join <= second < leave and r() < 0.45:
                    t = second + int(r() * 1000)
                    if t < leave:
                        if r() >= 0.8:
                            tc = reactions_tc[int(r() * 4)]
                        app(((t << 30 | who | tc) << 32) | (min(t + 2_000 + int(r() * 4_000), leave) - t))
            for _ in range(int(reaction_rate + r())):
                t = join + int(r() * dur)
                app(((t << 30 | who | reactions_tc[int(r() * 4)]) << 32) | (min(t + 2_000 + int(r() * 3_000), leave) - t))
            for _ in range(int(feedback_rate + r())):
                t = join + int(r() * dur)
                app(((t << 30 | who | feedback_tc[int(r() * 10)]) << 32) | (min(t + 10_000 + int(r() * 290_000), leave) - t))
            if not teacher:
                for _ in range(int(stars_rate + r())):
                    t = join + int(r() * dur)
                    u = r()
                    tc = stars_tc[0 if u < 0.1 else 1 if u < 0.55 else 2 if u < 0.85 else 3]
                    app(((t << 30 | who | tc) << 32) | (min(t + 1_000 + int(r() * 2_000), leave) - t))
        if same_instant_values:
            _add_partners(keys, first_event, random.Random(person_state ^ _PAIR_SALT).random)
    att = [SessionAttendance(sid, session_id_of(sid), start, end, tuple(rows[k])) for k, (sid, start, end) in enumerate(sessions)]
    return _assemble(att, keys, people, rank, injected, same_instant_values)


def _add_partners(keys: list[int], first: int, draw: Callable[[], float]) -> None:
    """Append, for some reactions and feedbacks of keys[first:], an event of the same student, type,
    start and duration with another value."""
    for key in keys[first:]:
        partners = _PARTNERS.get((key >> _DUR_BITS) & _TC_MASK)
        if partners is not None and draw() < _PAIR_PROBABILITY:
            partner = partners[int(draw() * len(partners))]
            keys.append(key & ~(_TC_MASK << _DUR_BITS) | partner << _DUR_BITS)


def _assemble(
    att: list[SessionAttendance],
    keys: list[int],
    people: list[int],
    rank: dict[int, int],
    injected: Sequence[tuple[int, int, int, int, int]],
    same_instant_values: bool,
) -> ClassActivity:
    """Sort into API order and keep one event per (student, type, start) — per (student, type,
    start, value) under same_instant_values; injected events win."""
    injected_durations: dict[int, int] = {}  # packed key -> event_duration given by the test
    for s, e, d, p, c in injected:
        key = ((s << 30 | rank[p] << _TC_BITS | _TC[c]) << 32) | (e - s)
        injected_durations[key] = d
        keys.append(key)
    keys.sort()
    # drop duration and value code: (start, rank, type) remain; (start, rank, type, value) if pairs are real
    identity_shift = _DUR_BITS if same_instant_values else _DUR_BITS + 6
    identities = [k >> identity_shift for k in keys]
    if len(set(identities)) != len(identities):
        kept: list[int] = []
        prev = -1
        for k, identity in zip(keys, identities):
            if identity == prev:
                if k in injected_durations:
                    kept[-1] = k  # an injected event replaces the one it collides with
                continue
            prev = identity
            kept.append(k)
        keys = kept
    duration_overrides = {}
    if injected_durations:
        duration_overrides = {pos: injected_durations[k] for pos, k in enumerate(keys) if k in injected_durations}
    start_shift = _DUR_BITS + _TC_BITS + _RANK_BITS
    rank_shift, rank_mask = _DUR_BITS + _TC_BITS, (1 << _RANK_BITS) - 1
    starts = array("q", [k >> start_shift for k in keys])
    return ClassActivity(
        att,
        starts,
        array("q", [s + (k & _DUR_MASK) for s, k in zip(starts, keys)]),
        array("l", [people[(k >> rank_shift) & rank_mask] for k in keys]),
        array("B", [(k >> _DUR_BITS) & 63 for k in keys]),
        duration_overrides,
    )


class ActivityCache:
    """A small thread-safe LRU of generated activity, keyed by class id and a validity key."""

    def __init__(self, capacity: int) -> None:
        self.capacity = max(1, capacity)
        self._lock = threading.Lock()
        self._items: OrderedDict[str, tuple[Hashable, ClassActivity]] = OrderedDict()
        self.misses = 0

    def get(self, class_id: str, validity: Hashable, build: Callable[[], ClassActivity]) -> ClassActivity:
        with self._lock:
            hit = self._items.get(class_id)
            if hit is not None and hit[0] == validity:
                self._items.move_to_end(class_id)
                return hit[1]
        activity = build()
        with self._lock:
            self.misses += 1
            self._items[class_id] = (validity, activity)
            self._items.move_to_end(class_id)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return activity

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def discard(self, class_id: str) -> None:
        with self._lock:
            self._items.pop(class_id, None)
