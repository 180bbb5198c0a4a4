-- grain: class_id, student_id, event_type, event_start
-- purpose: Every activity event with its measured length, the session it belongs to, and how much
--   time it adds once overlapping events of the same kind are merged.
--   Session: the one of its class whose window [start, end) contains the event's start; an event
--   outside every session keeps a null session_id instead of being dropped. If sessions of a class
--   overlap, the latest-starting one wins so each event lands exactly once.
--   Merging (gaps and islands): within one class, session, student, event type and value, events
--   ordered by start; `reach` is the latest end among all earlier events. An event starting after
--   the reach opens a new island (starts_island = 1); merged_milliseconds is the part of the event
--   past the reach, so summing it over a group gives the length of the union of its intervals
--   (overlapping time counted once).

with events as (
    select * from stg_class__metrics
),

sessions as (
    select * from int_class__sessions
),

-- every session whose window holds the event's start (none: one row with a null session)
session_matches as (
    select
        events.*,
        sessions.session_id,
        row_number() over (
            partition by events.class_id, events.student_id, events.event_type, events.event_start
            order by sessions.session_start_time desc, sessions.session_id
        ) as match_rank
    from events
    left join sessions
        on sessions.class_id = events.class_id
        and events.event_start >= sessions.session_start_time
        and events.event_start < sessions.session_end_time
),

sessionized as (
    select * from session_matches
    where match_rank = 1
),

with_reach as (
    select
        *,
        max(event_end) over (
            partition by class_id, session_id, student_id, event_type, event_value
            order by event_start, event_end
            rows between unbounded preceding and 1 preceding
        ) as reach
    from sessionized
)

select
    class_id,
    session_id,
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
    case
        when reach is null or event_start > reach then 1
        else 0
    end as starts_island,
    case
        when reach is null or event_start >= reach
            then greatest(date_diff('millisecond', event_start, event_end), 0)
        else greatest(date_diff('millisecond', reach, event_end), 0)
    end as merged_milliseconds,
    event_duration_raw
from with_reach
