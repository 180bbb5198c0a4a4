-- grain: class_id, session_id, student_id
-- purpose: One row per person and started session: everyone on the session's attendance report plus
--   anyone with events in the session but missing from it, with their role at the time.
--   enrollment_role: the roster version current at the session start (rosters are kept as dlt SCD2
--   history; a session older than the first version seen takes the earliest version: see
--   int_class__roster_versions); a person on no roster at the time (never enrolled, or removed and
--   not yet re-enrolled) falls back to 'student', as the attendance report lists them with the
--   class's students and 'student' is the API's default role. person_type: 'staff' for teachers and
--   assistants, 'student' otherwise (student metrics count person_type = 'student' only).

with attendance as (
    select * from int_class__session_attendance
),

activity as (
    select * from int_class__session_activity
),

sessions as (
    select * from int_class__sessions
),

enrollments as (
    select * from int_class__roster_versions
),

people_with_events as (
    select * from stg_class__metrics_people
),

-- contact details of people with events, for those on no roster and missing from the report
event_contacts as (
    select class_id, student_id, email, ext_person_id from people_with_events
),

participants as (
    select class_id, session_id, student_id from attendance
    union
    select class_id, session_id, student_id from activity
),

-- the roster version that stands for the session start (at most one; see int_class__roster_versions)
roster as (
    select
        participants.class_id,
        participants.session_id,
        participants.student_id,
        enrollments.role,
        enrollments.user_name,
        enrollments.email,
        enrollments.ext_person_id
    from participants
    inner join sessions
        on sessions.class_id = participants.class_id
        and sessions.session_id = participants.session_id
    inner join enrollments
        on enrollments.class_id = participants.class_id
        and enrollments.student_id = participants.student_id
        and (enrollments.stands_from is null or enrollments.stands_from <= sessions.session_start_time)
        and (enrollments.valid_to is null or enrollments.valid_to > sessions.session_start_time)
)

select
    participants.class_id,
    participants.session_id,
    participants.student_id,
    sessions.session_start_time,
    sessions.session_end_time,
    sessions.session_seconds,
    sessions.session_date,
    sessions.session_status,
    roster.user_name as student_name,
    coalesce(roster.email, attendance.email, event_contacts.email) as email,
    coalesce(roster.ext_person_id, attendance.ext_person_id, event_contacts.ext_person_id) as ext_person_id,
    roster.student_id is not null as is_enrolled,
    coalesce(roster.role, 'student') as enrollment_role,
    case
        when roster.role in ('teacher', 'assistant') then 'staff'
        else 'student'
    end as person_type,
    attendance.student_id is not null as on_attendance_roster,
    -- people missing from the report: their events show they were there
    case
        when attendance.student_id is null then true
        else coalesce(attendance.present, false)
    end as attended,
    attendance.present,
    attendance.tardy,
    attendance.join_time,
    attendance.leave_time,
    case
        when attendance.student_id is null then null
        else attendance.attended_milliseconds
    end as attended_milliseconds
from participants
inner join sessions
    on sessions.class_id = participants.class_id
    and sessions.session_id = participants.session_id
left join attendance
    on attendance.class_id = participants.class_id
    and attendance.session_id = participants.session_id
    and attendance.student_id = participants.student_id
left join event_contacts
    on event_contacts.class_id = participants.class_id
    and event_contacts.student_id = participants.student_id
left join roster
    on roster.class_id = participants.class_id
    and roster.session_id = participants.session_id
    and roster.student_id = participants.student_id
