-- grain: date_day
-- purpose: The calendar: one row per local date (the school's time zone, model setting `timezone`,
--   UTC by default; Class reports UTC only) from the Monday of the first date with a schedule entry,
--   a session or an event to the last such date (so the first week is whole). week_start is the Monday of the ISO week; school_week numbers the weeks
--   from the week of the first date (1, 2, ...); day_of_week is ISO (1 = Monday ... 7 = Sunday).
--   scheduled_sessions counts schedule entries starting that local date.

with schedules as (
    select * from stg_class__schedules
),

sessions as (
    select * from int_class__sessions
),

events as (
    select * from int_class__events
),

scheduled_dates as (
    select
        cast(scheduled_start_time at time zone model_setting('timezone') as date) as date_day
    from schedules
),

known_dates as (
    select date_day from scheduled_dates
    union all
    select session_date from sessions
    union all
    select min(activity_date) from events
    union all
    select max(activity_date) from events
),

date_range as (
    select min(date_day) as first_date, max(date_day) as last_date from known_dates
),

bounds as (
    select
        first_date - cast(extract(isodow from first_date) as integer) + 1 as first_week_start,
        last_date
    from date_range
),

digits as (
    select 0 as n union all select 1 union all select 2 union all select 3 union all select 4
    union all select 5 union all select 6 union all select 7 union all select 8 union all select 9
),

-- 0 .. 99,999 days: well over any school's history
day_offsets as (
    select ones.n + 10 * tens.n + 100 * hundreds.n + 1000 * thousands.n + 10000 * ten_thousands.n as n
    from digits as ones
    cross join digits as tens
    cross join digits as hundreds
    cross join digits as thousands
    cross join digits as ten_thousands
),

dates as (
    select
        bounds.first_week_start + day_offsets.n as date_day,
        bounds.first_week_start
    from bounds
    cross join day_offsets
    where day_offsets.n <= date_diff('day', bounds.first_week_start, bounds.last_date)
),

scheduled_counts as (
    select date_day, count(*) as scheduled_sessions
    from scheduled_dates
    group by date_day
),

calendar as (
    select
        date_day,
        date_day - cast(extract(isodow from date_day) as integer) + 1 as week_start,
        first_week_start,
        cast(extract(isodow from date_day) as integer) as day_of_week,
        cast(extract(isoyear from date_day) as integer) as iso_year,
        cast(extract(week from date_day) as integer) as iso_week,
        cast(extract(year from date_day) as integer) as calendar_year,
        cast(extract(month from date_day) as integer) as month_number,
        date_day - cast(extract(day from date_day) as integer) + 1 as month_start
    from dates
)

select
    calendar.date_day,
    calendar.week_start,
    calendar.iso_year,
    calendar.iso_week,
    calendar.calendar_year,
    calendar.month_number,
    calendar.month_start,
    calendar.day_of_week,
    calendar.day_of_week >= 6 as is_weekend,
    cast(date_diff('day', calendar.first_week_start, calendar.week_start) / 7 as integer) + 1 as school_week,
    coalesce(scheduled_counts.scheduled_sessions, 0) as scheduled_sessions
from calendar
left join scheduled_counts
    on scheduled_counts.date_day = calendar.date_day
