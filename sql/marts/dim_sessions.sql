-- grain: class_id, session_id
-- purpose: Every started class session: its window, local date, status and how its students turned
--   up. roster_students / present_students / tardy_students count students on the session's
--   attendance report (staff left out: staff_present counts teachers and assistants who came);
--   attendance_rate = present_students / roster_students, for held sessions only (null while the
--   session is live: its figures are not final).

with sessions as (
    select * from int_class__sessions
),

participants as (
    select * from int_class__session_participants
    where on_attendance_roster
),

classes as (
    select * from dim_classes
),

roster_counts as (
    select
        class_id,
        session_id,
        sum(case when person_type = 'student' then 1 else 0 end) as roster_students,
        sum(case when person_type = 'student' and present then 1 else 0 end) as present_students,
        sum(case when person_type = 'student' and tardy then 1 else 0 end) as tardy_students,
        sum(case when person_type = 'staff' and present then 1 else 0 end) as staff_present
    from participants
    group by class_id, session_id
)

select
    sessions.class_id,
    classes.class_name,
    sessions.session_id,
    sessions.session_date,
    sessions.session_status,
    sessions.session_start_time,
    sessions.session_end_time,
    sessions.session_seconds,
    roster_counts.roster_students,
    roster_counts.present_students,
    roster_counts.tardy_students,
    roster_counts.staff_present,
    case
        when sessions.session_status = 'held'
            then cast(roster_counts.present_students as double) / nullif(roster_counts.roster_students, 0)
    end as attendance_rate
from sessions
inner join roster_counts
    on roster_counts.class_id = sessions.class_id
    and roster_counts.session_id = sessions.session_id
left join classes
    on classes.class_id = sessions.class_id
