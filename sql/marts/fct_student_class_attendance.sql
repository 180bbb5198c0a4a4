-- grain: class_id, student_id
-- purpose: One row per class and student (students only, staff never) over the term so far: the
--   attendance KPIs a school reports. Expected sessions: held sessions (not live ones) with the
--   student on the attendance report as a student, i.e. while enrolled. sessions_absent = expected
--   - present; attendance_rate = present / expected; attended_minutes: clipped join -> leave time
--   summed. Absence streaks run over expected sessions in start order: current = absences since the
--   last attended session, longest = the most in a row. trailing_4_week_rate: present / expected
--   over sessions started in the 28 days before the data's as-of time (null if none).
--   is_chronically_absent: absent from at least chronic_absence_threshold (model setting, 10 % by
--   default) of expected sessions. avg_talk_minutes and avg_hand_raises: per attended session.
--   Students on the current roster with no expected session yet have a row with zero sessions.

with participants as (
    select * from int_class__session_participants
),

engagement as (
    select * from fct_student_engagement
),

enrollments as (
    select * from stg_class__enrollments where is_current
),

clock as (
    select * from int_class__as_of
),

expected as (
    select
        participants.class_id,
        participants.student_id,
        participants.session_id,
        participants.session_start_time,
        participants.session_date,
        coalesce(participants.present, false) as present,
        coalesce(participants.tardy, false) as tardy,
        participants.attended_milliseconds,
        engagement.talk_seconds,
        engagement.hand_raises,
        participants.session_start_time > clock.as_of - interval 28 day as in_trailing_weeks
    from participants
    cross join clock
    left join engagement
        on engagement.class_id = participants.class_id
        and engagement.session_id = participants.session_id
        and engagement.student_id = participants.student_id
    where participants.on_attendance_roster
        and participants.person_type = 'student'
        and participants.session_status = 'held'
),

-- every attended session closes an absence streak: absences sharing a presence count form one streak
streaks as (
    select
        *,
        sum(case when present then 1 else 0 end) over (
            partition by class_id, student_id
            order by session_start_time, session_id
            rows between unbounded preceding and current row
        ) as presences_so_far
    from expected
),

streak_lengths as (
    select
        class_id,
        student_id,
        presences_so_far,
        sum(case when present then 0 else 1 end) as absences
    from streaks
    group by class_id, student_id, presences_so_far
),

streak_summary as (
    select
        class_id,
        student_id,
        max(absences) as longest_absence_streak,
        -- the streak after the last presence is the one with the highest presence count
        max(presences_so_far) as presences
    from streak_lengths
    group by class_id, student_id
),

totals as (
    select
        class_id,
        student_id,
        count(*) as sessions_expected,
        sum(case when present then 1 else 0 end) as sessions_present,
        sum(case when tardy then 1 else 0 end) as sessions_tardy,
        sum(coalesce(attended_milliseconds, 0)) / 1000.0 / 60.0 as attended_minutes,
        max(case when present then session_start_time end) as last_attended_session_start,
        max(case when present then session_date end) as last_attended_date,
        sum(case when in_trailing_weeks then 1 else 0 end) as trailing_expected,
        sum(case when in_trailing_weeks and present then 1 else 0 end) as trailing_present,
        sum(case when present then talk_seconds else 0 end) as talk_seconds,
        sum(case when present then hand_raises else 0 end) as hand_raises
    from expected
    group by class_id, student_id
),

students as (
    select class_id, student_id from totals
    union
    select class_id, student_id from enrollments
    where coalesce(role, 'student') not in ('teacher', 'assistant')
)

select
    students.class_id,
    students.student_id,
    coalesce(totals.sessions_expected, 0) as sessions_expected,
    coalesce(totals.sessions_present, 0) as sessions_present,
    coalesce(totals.sessions_expected, 0) - coalesce(totals.sessions_present, 0) as sessions_absent,
    coalesce(totals.sessions_tardy, 0) as sessions_tardy,
    cast(totals.sessions_present as double) / nullif(totals.sessions_expected, 0) as attendance_rate,
    coalesce(totals.attended_minutes, 0) as attended_minutes,
    coalesce(current_streak.absences, 0) as current_absence_streak,
    coalesce(streak_summary.longest_absence_streak, 0) as longest_absence_streak,
    totals.last_attended_session_start,
    totals.last_attended_date,
    cast(totals.trailing_present as double) / nullif(totals.trailing_expected, 0) as trailing_4_week_rate,
    coalesce(
        totals.sessions_expected > 0
        and totals.sessions_expected - totals.sessions_present
            >= model_setting('chronic_absence_threshold') * totals.sessions_expected,
        false
    ) as is_chronically_absent,
    totals.talk_seconds / 60.0 / nullif(totals.sessions_present, 0) as avg_talk_minutes,
    cast(totals.hand_raises as double) / nullif(totals.sessions_present, 0) as avg_hand_raises
from students
left join totals
    on totals.class_id = students.class_id
    and totals.student_id = students.student_id
left join streak_summary
    on streak_summary.class_id = students.class_id
    and streak_summary.student_id = students.student_id
left join streak_lengths as current_streak
    on current_streak.class_id = students.class_id
    and current_streak.student_id = students.student_id
    and current_streak.presences_so_far = streak_summary.presences
