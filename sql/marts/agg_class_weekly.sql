-- grain: class_id, week_start
-- purpose: One row per class and local week (Monday start, see dim_date) in which the class had a
--   schedule entry that is not still upcoming, or a started session. Rates use held sessions and
--   students only: attendance_rate = present / expected student-sessions (students on the held
--   sessions' reports); tardy_rate = tardy / present; avg_attended_minutes = attended minutes /
--   present student-sessions with a known attended time (leave reported); hand_raises_per_attendee
--   = students' RAISED_HAND = '1' events / present student-sessions; video_on_share = students'
--   video-on seconds / their attended seconds, over the same timed student-sessions (both clipped
--   to the attended stretch, so at most 1); student_talk_share = students' talk seconds / everyone's
--   (students' and staff's) in held sessions, staff_talk_share = 1 - it (null without talk).
--   roster_size: distinct students on that week's held sessions' reports. feedback_<value>:
--   students' FEEDBACK events of each documented value in held sessions.

with calendar as (
    select * from dim_date
),

scheduled as (
    select * from fct_scheduled_sessions
),

sessions as (
    select * from int_class__sessions
),

engagement as (
    select * from fct_student_engagement
    where session_status = 'held'
),

durations as (
    select * from fct_event_durations
    where event_type = 'FEEDBACK' and session_id is not null and person_type = 'student'
),

schedule_weeks as (
    select
        scheduled.class_id,
        calendar.week_start,
        count(*) as sessions_scheduled,
        sum(case when scheduled.session_status = 'missed' then 1 else 0 end) as sessions_missed
    from scheduled
    inner join calendar
        on calendar.date_day = scheduled.scheduled_date
    where scheduled.session_status <> 'upcoming'
    group by scheduled.class_id, calendar.week_start
),

session_weeks as (
    select
        sessions.class_id,
        sessions.session_id,
        sessions.session_status,
        calendar.week_start
    from sessions
    inner join calendar
        on calendar.date_day = sessions.session_date
),

held_stats as (
    select
        session_weeks.class_id,
        session_weeks.week_start,
        count(distinct case when engagement.person_type = 'student' and engagement.on_attendance_roster
            then engagement.student_id end) as roster_size,
        sum(case when engagement.person_type = 'student' and engagement.on_attendance_roster then 1 else 0 end)
            as student_sessions_expected,
        sum(case when engagement.person_type = 'student' and engagement.on_attendance_roster and engagement.attended
            then 1 else 0 end) as student_sessions_present,
        -- attended time is unknown for a student whose leave was never reported: left out of the
        -- time averages (numerator and denominator), not counted as zero
        sum(case when engagement.person_type = 'student' and engagement.on_attendance_roster and engagement.attended
            and engagement.attended_seconds is not null then 1 else 0 end) as student_sessions_timed,
        sum(case when engagement.person_type = 'student' and engagement.on_attendance_roster and engagement.attended
            then engagement.attended_seconds else 0 end) as student_attended_seconds,
        sum(case when engagement.person_type = 'student' then engagement.talk_seconds else 0 end) as student_talk_seconds,
        sum(engagement.talk_seconds) as talk_seconds,
        sum(case when engagement.person_type = 'student' and engagement.on_attendance_roster and engagement.attended
            then engagement.hand_raises else 0 end) as student_hand_raises,
        sum(case when engagement.person_type = 'student' and engagement.on_attendance_roster and engagement.attended
            and engagement.attended_seconds is not null then engagement.video_on_seconds else 0 end)
            as student_video_on_seconds
    from session_weeks
    inner join engagement
        on engagement.class_id = session_weeks.class_id
        and engagement.session_id = session_weeks.session_id
    group by session_weeks.class_id, session_weeks.week_start
),

status_counts as (
    select
        session_weeks.class_id,
        session_weeks.week_start,
        sum(case when session_weeks.session_status = 'held' then 1 else 0 end) as sessions_held,
        sum(case when session_weeks.session_status = 'live' then 1 else 0 end) as sessions_live
    from session_weeks
    group by session_weeks.class_id, session_weeks.week_start
),

tardies as (
    select * from fct_session_attendance
    where session_status = 'held' and person_type = 'student' and tardy
),

tardy_counts as (
    select
        tardies.class_id,
        calendar.week_start,
        count(*) as student_sessions_tardy
    from tardies
    inner join calendar
        on calendar.date_day = tardies.session_date
    group by tardies.class_id, calendar.week_start
),

feedback as (
    select
        durations.class_id,
        calendar.week_start,
        sum(case when durations.event_value = 'clap' then durations.event_count else 0 end) as feedback_clap,
        sum(case when durations.event_value = 'coffee' then durations.event_count else 0 end) as feedback_coffee,
        sum(case when durations.event_value = 'dislike' then durations.event_count else 0 end) as feedback_dislike,
        sum(case when durations.event_value = 'faster' then durations.event_count else 0 end) as feedback_faster,
        sum(case when durations.event_value = 'like' then durations.event_count else 0 end) as feedback_like,
        sum(case when durations.event_value = 'no_mark' then durations.event_count else 0 end) as feedback_no_mark,
        sum(case when durations.event_value = 'question' then durations.event_count else 0 end) as feedback_question,
        sum(case when durations.event_value = 'slower' then durations.event_count else 0 end) as feedback_slower,
        sum(case when durations.event_value = 'time' then durations.event_count else 0 end) as feedback_time,
        sum(case when durations.event_value = 'yes_mark' then durations.event_count else 0 end) as feedback_yes_mark
    from durations
    inner join sessions
        on sessions.class_id = durations.class_id
        and sessions.session_id = durations.session_id
        and sessions.session_status = 'held'
    inner join calendar
        on calendar.date_day = durations.activity_date
    group by durations.class_id, calendar.week_start
),

class_weeks as (
    select class_id, week_start from schedule_weeks
    union
    select class_id, week_start from session_weeks
)

select
    class_weeks.class_id,
    class_weeks.week_start,
    week_calendar.iso_year,
    week_calendar.iso_week,
    week_calendar.school_week,
    coalesce(schedule_weeks.sessions_scheduled, 0) as sessions_scheduled,
    coalesce(schedule_weeks.sessions_missed, 0) as sessions_missed,
    coalesce(status_counts.sessions_held, 0) as sessions_held,
    coalesce(status_counts.sessions_live, 0) as sessions_live,
    coalesce(held_stats.roster_size, 0) as roster_size,
    coalesce(held_stats.student_sessions_expected, 0) as student_sessions_expected,
    coalesce(held_stats.student_sessions_present, 0) as student_sessions_present,
    cast(held_stats.student_sessions_present as double) / nullif(held_stats.student_sessions_expected, 0)
        as attendance_rate,
    cast(coalesce(tardy_counts.student_sessions_tardy, 0) as double) / nullif(held_stats.student_sessions_present, 0)
        as tardy_rate,
    held_stats.student_attended_seconds / 60.0 / nullif(held_stats.student_sessions_timed, 0)
        as avg_attended_minutes,
    held_stats.student_talk_seconds / nullif(held_stats.talk_seconds, 0) as student_talk_share,
    1 - held_stats.student_talk_seconds / nullif(held_stats.talk_seconds, 0) as staff_talk_share,
    cast(held_stats.student_hand_raises as double) / nullif(held_stats.student_sessions_present, 0)
        as hand_raises_per_attendee,
    held_stats.student_video_on_seconds / nullif(held_stats.student_attended_seconds, 0) as video_on_share,
    coalesce(feedback.feedback_clap, 0) as feedback_clap,
    coalesce(feedback.feedback_coffee, 0) as feedback_coffee,
    coalesce(feedback.feedback_dislike, 0) as feedback_dislike,
    coalesce(feedback.feedback_faster, 0) as feedback_faster,
    coalesce(feedback.feedback_like, 0) as feedback_like,
    coalesce(feedback.feedback_no_mark, 0) as feedback_no_mark,
    coalesce(feedback.feedback_question, 0) as feedback_question,
    coalesce(feedback.feedback_slower, 0) as feedback_slower,
    coalesce(feedback.feedback_time, 0) as feedback_time,
    coalesce(feedback.feedback_yes_mark, 0) as feedback_yes_mark
from class_weeks
inner join dim_date as week_calendar
    on week_calendar.date_day = class_weeks.week_start
left join schedule_weeks
    on schedule_weeks.class_id = class_weeks.class_id
    and schedule_weeks.week_start = class_weeks.week_start
left join status_counts
    on status_counts.class_id = class_weeks.class_id
    and status_counts.week_start = class_weeks.week_start
left join held_stats
    on held_stats.class_id = class_weeks.class_id
    and held_stats.week_start = class_weeks.week_start
left join tardy_counts
    on tardy_counts.class_id = class_weeks.class_id
    and tardy_counts.week_start = class_weeks.week_start
left join feedback
    on feedback.class_id = class_weeks.class_id
    and feedback.week_start = class_weeks.week_start
