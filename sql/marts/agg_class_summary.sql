-- grain: class_id
-- purpose: One row per class (regular, deferred or unlisted, as in dim_classes) summing up how it ran.
--   sessions_scheduled: schedule entries; of them sessions_missed (start passed, no session) and
--   sessions_upcoming. sessions_held / sessions_live: started sessions by status (live ones are left
--   out of every rate and average). students_enrolled: current roster entries with role student
--   (the API's default role). avg_attendance_rate: the mean over held sessions of present students /
--   students on the report, each session weighted equally. attendee_sessions: (student, held
--   session) pairs marked present by the attendance report (staff and people missing from the
--   report are not attendees); total_talk_minutes: their talk time; avg_talk_minutes_per_attendee:
--   total_talk_minutes / attendee_sessions; staff_talk_minutes: teachers' and assistants' talk in
--   held sessions.

with classes as (
    select * from dim_classes
),

sessions as (
    select * from dim_sessions
),

enrollments as (
    select * from stg_class__enrollments where is_current
),

scheduled as (
    select * from fct_scheduled_sessions
),

engagement as (
    select * from fct_student_engagement
    where session_status = 'held'
),

session_stats as (
    select
        class_id,
        sum(case when session_status = 'held' then 1 else 0 end) as sessions_held,
        sum(case when session_status = 'live' then 1 else 0 end) as sessions_live,
        avg(attendance_rate) as avg_attendance_rate,
        min(session_start_time) as first_session_start,
        max(session_end_time) as last_session_end
    from sessions
    group by class_id
),

roster_stats as (
    select
        class_id,
        sum(case when coalesce(role, 'student') = 'student' then 1 else 0 end) as students_enrolled
    from enrollments
    group by class_id
),

schedule_stats as (
    select
        class_id,
        count(*) as sessions_scheduled,
        sum(case when session_status = 'missed' then 1 else 0 end) as sessions_missed,
        sum(case when session_status = 'upcoming' then 1 else 0 end) as sessions_upcoming
    from scheduled
    group by class_id
),

attendee_stats as (
    select
        class_id,
        sum(case when person_type = 'student' and attended and on_attendance_roster then 1 else 0 end)
            as attendee_sessions,
        sum(case when person_type = 'student' and attended and on_attendance_roster then talk_seconds else 0 end)
            as talk_seconds,
        sum(case when person_type = 'staff' then talk_seconds else 0 end) as staff_talk_seconds
    from engagement
    group by class_id
)

select
    classes.class_id,
    classes.class_name,
    classes.class_status,
    coalesce(schedule_stats.sessions_scheduled, 0) as sessions_scheduled,
    coalesce(schedule_stats.sessions_missed, 0) as sessions_missed,
    coalesce(schedule_stats.sessions_upcoming, 0) as sessions_upcoming,
    coalesce(session_stats.sessions_held, 0) as sessions_held,
    coalesce(session_stats.sessions_live, 0) as sessions_live,
    session_stats.first_session_start,
    session_stats.last_session_end,
    coalesce(roster_stats.students_enrolled, 0) as students_enrolled,
    session_stats.avg_attendance_rate,
    coalesce(attendee_stats.attendee_sessions, 0) as attendee_sessions,
    coalesce(attendee_stats.talk_seconds, 0) / 60.0 as total_talk_minutes,
    attendee_stats.talk_seconds / 60.0 / nullif(attendee_stats.attendee_sessions, 0)
        as avg_talk_minutes_per_attendee,
    coalesce(attendee_stats.staff_talk_seconds, 0) / 60.0 as staff_talk_minutes
from classes
left join session_stats
    on session_stats.class_id = classes.class_id
left join roster_stats
    on roster_stats.class_id = classes.class_id
left join schedule_stats
    on schedule_stats.class_id = classes.class_id
left join attendee_stats
    on attendee_stats.class_id = classes.class_id
