-- grain: class_id, session_id
-- purpose: One row per started class session with its time window, taken from the attendance report
--   (the only source of session ids), and its status at the data's as-of time (int_class__as_of):
--   'live' while its end is still ahead, else 'held'. Every roster row repeats the window; min/max
--   keeps one window even if rows disagree. attribution_start is the start widened by the
--   join-before-host allowance (model_setting, 10 minutes by default): events from then on may
--   belong to the session (see int_class__events).

with attendance as (
    select * from stg_class__attendance
),

clock as (
    select * from int_class__as_of
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
    windows.class_id,
    windows.session_id,
    windows.session_start_time,
    windows.session_end_time,
    windows.session_start_time - model_setting('join_before_host_allowance') as attribution_start,
    date_diff('millisecond', windows.session_start_time, windows.session_end_time) / 1000.0 as session_seconds,
    cast(windows.session_start_time at time zone model_setting('timezone') as date) as session_date,
    case
        when windows.session_end_time > clock.as_of then 'live'
        else 'held'
    end as session_status
from windows
cross join clock
