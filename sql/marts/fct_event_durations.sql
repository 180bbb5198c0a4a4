-- grain: class_id, session_id?, student_id, event_type, event_value
-- purpose: Activity per student, session and kind of event (type and value): how many events and how
--   long they lasted. total_seconds adds each event's own length (event_end - event_start);
--   merged_seconds is the wall-clock time covered, overlapping events counted once (as in
--   fct_student_engagement); islands counts the separate stretches left after merging.
--   Events outside every session are kept with a null session_id: the grain check treats that
--   null as one more session value (one row per class, student and kind).

with events as (
    select * from int_class__events
)

select
    class_id,
    session_id,
    student_id,
    event_type,
    event_value,
    count(*) as event_count,
    sum(event_milliseconds) / 1000.0 as total_seconds,
    sum(merged_milliseconds) / 1000.0 as merged_seconds,
    sum(starts_island) as islands,
    min(event_start) as first_event_start,
    max(event_start) as last_event_start,
    max(event_end) as last_event_end
from events
group by class_id, session_id, student_id, event_type, event_value
