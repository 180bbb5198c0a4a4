-- grain: class_id
-- purpose: One row per class (regular, deferred or unlisted, as in dim_classes) summing up how it ran.
--   sessions_held: started sessions (those in the attendance report); students_enrolled: roster
--   entries with role student (the API's default role); avg_attendance_rate: the mean over held
--   sessions of present / rostered students, each session weighted equally;
--   attendee_sessions: (student, session) pairs marked present by the attendance report (people with
--   events but not on the roster, e.g. the teacher, are not attendees); total_talk_minutes: their
--   talk time; avg_talk_minutes_per_attendee: total_talk_minutes / attendee_sessions.

with classes as (
    select * from dim_classes
),

sessions as (
    select * from dim_sessions
),

enrollments as (
    select * from stg_class__enrollments where is_current
),

schedules as (
    select * from stg_class__schedules
),

engagement as (
    select * from fct_student_engagement
),

session_stats as (
    select
        class_id,
        count(*) as sessions_held,
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
        count(*) as sessions_scheduled
    from schedules
    group by class_id
),

attendee_stats as (
    select
        class_id,
        count(*) as attendee_sessions,
        sum(talk_seconds) as talk_seconds
    from engagement
    where attended and on_attendance_roster
    group by class_id
)

select
    classes.class_id,
    classes.class_name,
    classes.class_status,
    coalesce(schedule_stats.sessions_scheduled, 0) as sessions_scheduled,
    coalesce(session_stats.sessions_held, 0) as sessions_held,
    session_stats.first_session_start,
    session_stats.last_session_end,
    coalesce(roster_stats.students_enrolled, 0) as students_enrolled,
    session_stats.avg_attendance_rate,
    coalesce(attendee_stats.attendee_sessions, 0) as attendee_sessions,
    coalesce(attendee_stats.talk_seconds, 0) / 60.0 as total_talk_minutes,
    attendee_stats.talk_seconds / 60.0 / nullif(attendee_stats.attendee_sessions, 0)
        as avg_talk_minutes_per_attendee
from classes
left join session_stats
    on session_stats.class_id = classes.class_id
left join roster_stats
    on roster_stats.class_id = classes.class_id
left join schedule_stats
    on schedule_stats.class_id = classes.class_id
left join attendee_stats
    on attendee_stats.class_id = classes.class_id
