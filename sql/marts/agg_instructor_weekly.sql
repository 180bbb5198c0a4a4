-- grain: instructor_id, week_start
-- purpose: One row per instructor (teacher or assistant, see dim_instructors) and local week in which
--   they attended a held session as staff: what they taught and how their students took part.
--   sessions_taught: those held sessions; classes_taught: distinct classes among them;
--   sessions_as_teacher: the ones where their role was teacher. on_time_share: share of
--   sessions_taught they joined by the start (the matched schedule's start, else the session's; a
--   join the attendance report does not give, e.g. staff missing from it, is not on time).
--   Student figures are over the students on those sessions' attendance reports:
--   student_attendance_rate = present / expected student-sessions; talk minutes and hand raises
--   per present student-session.

with participants as (
    select * from int_class__session_participants
    where session_status = 'held'
),

engagement as (
    select * from fct_student_engagement
    where session_status = 'held' and person_type = 'student' and on_attendance_roster
),

scheduled as (
    select * from fct_scheduled_sessions
    where session_id is not null
),

calendar as (
    select * from dim_date
),

taught as (
    select
        participants.student_id as instructor_id,
        participants.class_id,
        participants.session_id,
        participants.enrollment_role,
        calendar.week_start,
        case
            when participants.join_time <= coalesce(scheduled.scheduled_start_time, participants.session_start_time)
                then 1
            else 0
        end as joined_on_time
    from participants
    inner join calendar
        on calendar.date_day = participants.session_date
    left join scheduled
        on scheduled.class_id = participants.class_id
        and scheduled.session_id = participants.session_id
    where participants.person_type = 'staff' and participants.attended
),

student_stats as (
    select
        class_id,
        session_id,
        count(*) as students_expected,
        sum(case when attended then 1 else 0 end) as students_present,
        sum(case when attended then talk_seconds else 0 end) as student_talk_seconds,
        sum(case when attended then hand_raises else 0 end) as student_hand_raises
    from engagement
    group by class_id, session_id
),

weekly as (
    select
        taught.instructor_id,
        taught.week_start,
        count(distinct taught.class_id) as classes_taught,
        count(*) as sessions_taught,
        sum(case when taught.enrollment_role = 'teacher' then 1 else 0 end) as sessions_as_teacher,
        sum(taught.joined_on_time) as on_time_sessions,
        sum(coalesce(student_stats.students_expected, 0)) as students_expected,
        sum(coalesce(student_stats.students_present, 0)) as students_present,
        sum(coalesce(student_stats.student_talk_seconds, 0)) as student_talk_seconds,
        sum(coalesce(student_stats.student_hand_raises, 0)) as student_hand_raises
    from taught
    left join student_stats
        on student_stats.class_id = taught.class_id
        and student_stats.session_id = taught.session_id
    group by taught.instructor_id, taught.week_start
)

select
    weekly.instructor_id,
    weekly.week_start,
    calendar.iso_year,
    calendar.iso_week,
    calendar.school_week,
    weekly.classes_taught,
    weekly.sessions_taught,
    weekly.sessions_as_teacher,
    weekly.on_time_sessions,
    cast(weekly.on_time_sessions as double) / weekly.sessions_taught as on_time_share,
    weekly.students_expected,
    weekly.students_present,
    cast(weekly.students_present as double) / nullif(weekly.students_expected, 0) as student_attendance_rate,
    weekly.student_talk_seconds / 60.0 / nullif(weekly.students_present, 0) as student_talk_minutes_per_attendee,
    cast(weekly.student_hand_raises as double) / nullif(weekly.students_present, 0) as hand_raises_per_attendee
from weekly
inner join calendar
    on calendar.date_day = weekly.week_start
