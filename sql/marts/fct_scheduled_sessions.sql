-- grain: schedule_id
-- purpose: One row per schedule entry (GET /schedules): when it was planned (UTC and the school's
--   local time), the session that took place for it, and its status at the data's as-of time:
--   'held' / 'live' (a session matched it, see dim_sessions), 'missed' (its start has passed and no
--   session matched) or 'upcoming'. Matching: a session of the same class starting within
--   [scheduled start - join-before-host allowance, scheduled end), the nearest start first; a
--   session matches one schedule at most. students_expected: students on the matched session's
--   attendance report; for missed and upcoming entries, students on the roster version current at
--   the scheduled start. present / absent / tardy: students, held sessions (absent is null while
--   live, all three null when no session took place). teacher_join_offset_seconds: the first
--   teacher's join minus the scheduled start (negative: early).

with schedules as (
    select * from stg_class__schedules
),

sessions as (
    select * from int_class__sessions
),

participants as (
    select * from int_class__session_participants
),

enrollments as (
    select * from int_class__roster_versions
),

clock as (
    select * from int_class__as_of
),

candidates as (
    select
        schedules.schedule_id,
        sessions.session_id,
        sessions.class_id,
        abs(date_diff('millisecond', schedules.scheduled_start_time, sessions.session_start_time)) as distance_ms
    from schedules
    inner join sessions
        on sessions.class_id = schedules.class_id
        and sessions.session_start_time >= schedules.scheduled_start_time - model_setting('join_before_host_allowance')
        and sessions.session_start_time < schedules.scheduled_end_time
),

nearest_session as (
    select
        *,
        row_number() over (partition by schedule_id order by distance_ms, session_id) as session_rank
    from candidates
),

nearest_schedule as (
    select
        *,
        row_number() over (partition by class_id, session_id order by distance_ms, schedule_id) as schedule_rank
    from nearest_session
    where session_rank = 1
),

matches as (
    select schedule_id, session_id from nearest_schedule where schedule_rank = 1
),

session_counts as (
    select
        class_id,
        session_id,
        sum(case when person_type = 'student' and on_attendance_roster then 1 else 0 end) as students_expected,
        sum(case when person_type = 'student' and on_attendance_roster and present then 1 else 0 end)
            as students_present,
        sum(case when person_type = 'student' and on_attendance_roster and tardy then 1 else 0 end)
            as students_tardy,
        min(case when enrollment_role = 'teacher' then join_time end) as teacher_join_time
    from participants
    group by class_id, session_id
),

-- the roster at the scheduled start (one version per person at most), for entries no session matched
roster_versions as (
    select
        schedules.schedule_id,
        enrollments.student_id,
        enrollments.role
    from schedules
    inner join enrollments
        on enrollments.class_id = schedules.class_id
        and (enrollments.stands_from is null or enrollments.stands_from <= schedules.scheduled_start_time)
        and (enrollments.valid_to is null or enrollments.valid_to > schedules.scheduled_start_time)
),

rostered_students as (
    select
        schedule_id,
        count(*) as students_rostered
    from roster_versions
    where coalesce(role, 'student') not in ('teacher', 'assistant')
    group by schedule_id
),

statused as (
    select
        schedules.*,
        matches.session_id,
        case
            when matches.session_id is not null then sessions.session_status
            when schedules.scheduled_start_time <= clock.as_of then 'missed'
            else 'upcoming'
        end as session_status
    from schedules
    cross join clock
    left join matches
        on matches.schedule_id = schedules.schedule_id
    left join sessions
        on sessions.class_id = schedules.class_id
        and sessions.session_id = matches.session_id
)

select
    statused.schedule_id,
    statused.class_id,
    statused.scheduled_start_time,
    statused.scheduled_end_time,
    cast(statused.scheduled_start_time at time zone model_setting('timezone') as timestamp) as scheduled_start_local,
    cast(statused.scheduled_end_time at time zone model_setting('timezone') as timestamp) as scheduled_end_local,
    cast(statused.scheduled_start_time at time zone model_setting('timezone') as date) as scheduled_date,
    date_diff('millisecond', statused.scheduled_start_time, statused.scheduled_end_time) / 1000.0 as scheduled_seconds,
    statused.session_id,
    statused.session_status,
    sessions.session_start_time,
    sessions.session_end_time,
    case
        when statused.session_id is not null then coalesce(session_counts.students_expected, 0)
        else coalesce(rostered_students.students_rostered, 0)
    end as students_expected,
    case when statused.session_id is not null then coalesce(session_counts.students_present, 0) end
        as students_present,
    case
        when statused.session_status = 'held'
            then coalesce(session_counts.students_expected, 0) - coalesce(session_counts.students_present, 0)
    end as students_absent,
    case when statused.session_id is not null then coalesce(session_counts.students_tardy, 0) end
        as students_tardy,
    date_diff('millisecond', statused.scheduled_start_time, session_counts.teacher_join_time) / 1000.0
        as teacher_join_offset_seconds
from statused
left join sessions
    on sessions.class_id = statused.class_id
    and sessions.session_id = statused.session_id
left join session_counts
    on session_counts.class_id = statused.class_id
    and session_counts.session_id = statused.session_id
left join rostered_students
    on rostered_students.schedule_id = statused.schedule_id
