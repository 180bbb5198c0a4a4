-- grain: schedule_id
-- purpose: Scheduled class dates from GET /schedules: typed and deduplicated.

with source as (
    select * from schedules
),

typed as (
    select
        cast(schedule_id as text) as schedule_id,
        cast(class_id as text) as class_id,
        cast(start_time as timestamptz) as scheduled_start_time,
        cast(end_time as timestamptz) as scheduled_end_time
    from source
),

ranked as (
    select
        *,
        row_number() over (
            partition by schedule_id
            order by scheduled_start_time, scheduled_end_time
        ) as duplicate_rank
    from typed
)

select
    schedule_id,
    class_id,
    scheduled_start_time,
    scheduled_end_time
from ranked
where duplicate_rank = 1
