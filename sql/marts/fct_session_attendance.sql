-- grain: class_id, session_id, student_id
-- purpose: One row per student on a started session's attendance roster: who they are, whether they
--   came, and for how long. attended_seconds is join -> leave clipped to the session window
--   (0 if they never joined; null while they are still in a live session, i.e. leave_time is
--   not reported yet); attended_ratio = attended_seconds / session_seconds.

with attendance as (
    select * from stg_class__attendance
),

sessions as (
    select * from int_class__sessions
),

enrollments as (
    select * from stg_class__enrollments where is_current
),

classes as (
    select * from dim_classes
),

measured as (
    select
        attendance.*,
        sessions.session_start_time as window_start,
        sessions.session_end_time as window_end,
        sessions.session_seconds,
        case
            when attendance.join_time is null then 0
            when attendance.leave_time is null then null
            else greatest(
                date_diff(
                    'millisecond',
                    greatest(attendance.join_time, sessions.session_start_time),
                    least(attendance.leave_time, sessions.session_end_time)
                ),
                0
            )
        end as attended_milliseconds
    from attendance
    inner join sessions
        on sessions.class_id = attendance.class_id
        and sessions.session_id = attendance.session_id
)

select
    measured.class_id,
    classes.class_name,
    measured.session_id,
    measured.window_start as session_start_time,
    measured.window_end as session_end_time,
    measured.session_seconds,
    measured.student_id,
    enrollments.user_name as student_name,
    coalesce(enrollments.email, measured.email) as email,
    coalesce(enrollments.ext_person_id, measured.ext_person_id) as ext_person_id,
    enrollments.role as enrollment_role,
    enrollments.student_id is not null as is_enrolled,
    measured.present,
    measured.tardy,
    measured.join_time,
    measured.leave_time,
    measured.attended_milliseconds / 1000.0 as attended_seconds,
    measured.attended_milliseconds / 1000.0 / nullif(measured.session_seconds, 0) as attended_ratio
from measured
left join enrollments
    on enrollments.class_id = measured.class_id
    and enrollments.student_id = measured.student_id
left join classes
    on classes.class_id = measured.class_id
