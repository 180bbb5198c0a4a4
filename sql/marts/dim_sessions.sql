-- grain: class_id, session_id
-- purpose: Every started class session: its window and length, and how its roster turned up.
--   attendance_rate = present students / students on the session's attendance roster.

with sessions as (
    select * from int_class__sessions
),

attendance as (
    select * from stg_class__attendance
),

classes as (
    select * from dim_classes
),

roster_counts as (
    select
        class_id,
        session_id,
        count(*) as roster_students,
        sum(case when present then 1 else 0 end) as present_students,
        sum(case when tardy then 1 else 0 end) as tardy_students
    from attendance
    group by class_id, session_id
)

select
    sessions.class_id,
    classes.class_name,
    sessions.session_id,
    sessions.session_start_time,
    sessions.session_end_time,
    sessions.session_seconds,
    roster_counts.roster_students,
    roster_counts.present_students,
    roster_counts.tardy_students,
    cast(roster_counts.present_students as double) / nullif(roster_counts.roster_students, 0) as attendance_rate
from sessions
inner join roster_counts
    on roster_counts.class_id = sessions.class_id
    and roster_counts.session_id = sessions.session_id
left join classes
    on classes.class_id = sessions.class_id
