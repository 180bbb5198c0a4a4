-- grain: class_id, session_id, student_id
-- purpose: One row per person on a started session's attendance report (students and staff:
--   person_type says which): who they are, their role at the time, whether they came, and for how
--   long. attended_seconds is join -> leave clipped to the session window (0 if they never joined;
--   null while they are still in a live session, i.e. leave_time is not reported yet);
--   attended_ratio = attended_seconds / session_seconds. session_status: 'held' or 'live'.

with participants as (
    select * from int_class__session_participants
    where on_attendance_roster
),

classes as (
    select * from dim_classes
)

select
    participants.class_id,
    classes.class_name,
    participants.session_id,
    participants.session_date,
    participants.session_status,
    participants.session_start_time,
    participants.session_end_time,
    participants.session_seconds,
    participants.student_id,
    participants.student_name,
    participants.email,
    participants.ext_person_id,
    participants.enrollment_role,
    participants.person_type,
    participants.is_enrolled,
    participants.present,
    participants.tardy,
    participants.join_time,
    participants.leave_time,
    participants.attended_milliseconds / 1000.0 as attended_seconds,
    participants.attended_milliseconds / 1000.0 / nullif(participants.session_seconds, 0) as attended_ratio
from participants
left join classes
    on classes.class_id = participants.class_id
