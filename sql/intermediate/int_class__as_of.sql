-- grain: as_of
-- purpose: One row: the moment the loaded data describes, i.e. the latest instant the API reported
--   anything happening (a session start, a join, a leave, an event end). Session status (live,
--   missed, upcoming) is judged against it rather than against the build's clock, so rebuilding the
--   models later, without a new load, does not turn a session that was live at load time into a
--   finished one. Empty warehouse: the build time.

with attendance as (
    select * from stg_class__attendance
),

people_with_events as (
    select * from stg_class__metrics_people
),

reported as (
    select max(session_start_time) as reported_at from attendance
    union all
    select max(join_time) from attendance
    union all
    select max(leave_time) from attendance
    union all
    select max(last_event_end) from people_with_events
)

select
    coalesce(max(reported_at), current_timestamp) as as_of
from reported
