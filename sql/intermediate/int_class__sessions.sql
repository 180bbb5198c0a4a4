-- grain: class_id, session_id
-- purpose: One row per started class session with its time window, taken from the attendance report
--   (the only source of session ids). Every roster row repeats the window; min/max keeps one window
--   even if rows disagree.

with attendance as (
    select * from stg_class__attendance
),

windows as (
    select
        class_id,
        session_id,
        min(session_start_time) as session_start_time,
        max(session_end_time) as session_end_time
    from attendance
    group by class_id, session_id
)

select
    class_id,
    session_id,
    session_start_time,
    session_end_time,
    date_diff('millisecond', session_start_time, session_end_time) / 1000.0 as session_seconds
from windows
