-- grain: class_id, student_id, event_type, event_start, event_value?
-- purpose: Every activity event with its measured length, the session it belongs to, the part of it
--   that counts towards that session, and how much time that part adds once overlapping events of
--   the same kind are merged.
--   Session: an event belongs to a session of its class when its start lies in the session's window
--   [start, end) or, failing that, in the join-before-host allowance before the next session
--   [attribution_start, start): students may join before the host, and their events start early.
--   Found in one sorted pass per class (sessions and events on one timeline: the latest session
--   start at or before the event, the first one after it), not by comparing each event with every
--   session. Overlapping sessions: the latest start wins; of sessions sharing a start, the longest.
--   Outside every session: null session_id, kept and dated by activity_date (the event's local date).
--   Counted part [counted_from, counted_to): the event clipped to the stretch the student attended
--   the session (int_class__session_attendance; the session window for people missing from the
--   attendance report), so engaged time never exceeds attended time. Outside every session: the
--   whole event.
--   Merging (gaps and islands): within one class, session, local date, student, event type and
--   value, counted parts ordered by start; `reach` is the latest end among all earlier ones. A part
--   starting after the reach opens a new island (starts_island = 1); merged_milliseconds is the
--   part past the reach, so summing it over a group gives the length of the union of its counted
--   parts (overlapping time counted once).

with events as (
    select * from stg_class__metrics
),

sessions as (
    select * from int_class__sessions
),

attendance as (
    select * from int_class__session_attendance
),

-- one session per class and start, so a start identifies a session on the timeline
ranked_starts as (
    select
        class_id,
        session_id,
        session_start_time,
        session_end_time,
        attribution_start,
        session_date,
        row_number() over (
            partition by class_id, session_start_time
            order by session_end_time desc, session_id
        ) as start_rank
    from sessions
),

session_starts as (
    select * from ranked_starts where start_rank = 1
),

timeline as (
    select
        class_id,
        event_start as at_time,
        1 as is_event,
        cast(null as timestamptz) as session_start_time,
        student_id,
        email,
        ext_person_id,
        event_type,
        event_value,
        event_start,
        event_end,
        event_duration_raw
    from events
    union all
    select
        class_id,
        session_start_time as at_time,
        0 as is_event,
        session_start_time,
        cast(null as text) as student_id,
        cast(null as text) as email,
        cast(null as text) as ext_person_id,
        cast(null as text) as event_type,
        cast(null as text) as event_value,
        cast(null as timestamptz) as event_start,
        cast(null as timestamptz) as event_end,
        cast(null as bigint) as event_duration_raw
    from session_starts
),

-- a session starting at the event's instant sorts before it (is_event 0): the start is inclusive
neighbours as (
    select
        *,
        max(session_start_time) over (
            partition by class_id
            order by at_time, is_event
            rows between unbounded preceding and current row
        ) as previous_start,
        min(session_start_time) over (
            partition by class_id
            order by at_time, is_event
            rows between current row and unbounded following
        ) as next_start
    from timeline
),

located as (
    select
        neighbours.class_id,
        neighbours.student_id,
        neighbours.email,
        neighbours.ext_person_id,
        neighbours.event_type,
        neighbours.event_value,
        neighbours.event_start,
        neighbours.event_end,
        neighbours.event_duration_raw,
        case
            when neighbours.event_start < previous_session.session_end_time then previous_session.session_id
            when neighbours.event_start >= next_session.attribution_start then next_session.session_id
        end as session_id
    from neighbours
    left join session_starts as previous_session
        on previous_session.class_id = neighbours.class_id
        and previous_session.session_start_time = neighbours.previous_start
    left join session_starts as next_session
        on next_session.class_id = neighbours.class_id
        and next_session.session_start_time = neighbours.next_start
    where neighbours.is_event = 1
),

counted as (
    select
        located.*,
        coalesce(sessions.session_date, cast(located.event_start at time zone model_setting('timezone') as date))
            as activity_date,
        case
            when located.session_id is null then located.event_start
            else greatest(located.event_start, coalesce(attendance.attended_from, sessions.session_start_time))
        end as counted_from,
        case
            when located.session_id is null then located.event_end
            else least(located.event_end, coalesce(attendance.attended_to, sessions.session_end_time))
        end as clipped_end
    from located
    left join sessions
        on sessions.class_id = located.class_id
        and sessions.session_id = located.session_id
    left join attendance
        on attendance.class_id = located.class_id
        and attendance.session_id = located.session_id
        and attendance.student_id = located.student_id
),

-- a part clipped away entirely is empty, at its start
bounded as (
    select
        *,
        greatest(clipped_end, counted_from) as counted_to
    from counted
),

with_reach as (
    select
        *,
        max(counted_to) over (
            partition by class_id, session_id, activity_date, student_id, event_type, event_value
            order by counted_from, counted_to
            rows between unbounded preceding and 1 preceding
        ) as reach
    from bounded
)

select
    class_id,
    session_id,
    activity_date,
    student_id,
    email,
    ext_person_id,
    event_type,
    event_value,
    event_start,
    event_end,
    -- measured from the timestamps (the raw duration field is not trusted); an end before the
    -- start would be a broken record and counts as zero rather than subtracting time
    greatest(date_diff('millisecond', event_start, event_end), 0) as event_milliseconds,
    counted_from,
    counted_to,
    case
        when reach is null or counted_from > reach then 1
        else 0
    end as starts_island,
    case
        when reach is null or counted_from >= reach
            then date_diff('millisecond', counted_from, counted_to)
        else greatest(date_diff('millisecond', reach, counted_to), 0)
    end as merged_milliseconds,
    event_duration_raw
from with_reach
