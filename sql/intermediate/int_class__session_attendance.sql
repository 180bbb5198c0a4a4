-- grain: class_id, session_id, student_id
-- purpose: One row per person on a started session's attendance report with the stretch of the
--   session they attended: [attended_from, attended_to) is join -> leave clipped to the session
--   window (an empty stretch at the session start if they never joined; up to the session end while
--   they are still in, i.e. no leave_time yet). attended_milliseconds is its length, null while
--   they are still in. Engaged time is clipped to the same stretch (int_class__events), so it never
--   exceeds attended time.

with attendance as (
    select * from stg_class__attendance
),

sessions as (
    select * from int_class__sessions
),

bounded as (
    select
        attendance.class_id,
        attendance.session_id,
        attendance.student_id,
        attendance.email,
        attendance.ext_person_id,
        attendance.present,
        attendance.tardy,
        attendance.join_time,
        attendance.leave_time,
        case
            when attendance.join_time is null then sessions.session_start_time
            else least(greatest(attendance.join_time, sessions.session_start_time), sessions.session_end_time)
        end as attended_from,
        case
            when attendance.join_time is null then sessions.session_start_time
            when attendance.leave_time is null then sessions.session_end_time
            else least(attendance.leave_time, sessions.session_end_time)
        end as clipped_leave
    from attendance
    inner join sessions
        on sessions.class_id = attendance.class_id
        and sessions.session_id = attendance.session_id
)

select
    class_id,
    session_id,
    student_id,
    email,
    ext_person_id,
    present,
    tardy,
    join_time,
    leave_time,
    attended_from,
    greatest(clipped_leave, attended_from) as attended_to,
    case
        when join_time is null then 0
        when leave_time is null then null
        else date_diff('millisecond', attended_from, greatest(clipped_leave, attended_from))
    end as attended_milliseconds
from bounded
