DROP TABLE IF EXISTS class_data.agg_class_weekly CASCADE;

CREATE TABLE class_data.agg_class_weekly AS
WITH calendar AS (
  SELECT
    *
  FROM class_data.dim_date
), scheduled AS (
  SELECT
    *
  FROM class_data.fct_scheduled_sessions
), sessions AS (
  SELECT
    *
  FROM class_data.int_class__sessions
), engagement AS (
  SELECT
    *
  FROM class_data.fct_student_engagement
  WHERE
    session_status = 'held'
), durations AS (
  SELECT
    *
  FROM class_data.fct_event_durations
  WHERE
    event_type = 'FEEDBACK' AND NOT session_id IS NULL AND person_type = 'student'
), schedule_weeks AS (
  SELECT
    scheduled.class_id,
    calendar.week_start,
    COUNT(*) AS sessions_scheduled,
    SUM(CASE WHEN scheduled.session_status = 'missed' THEN 1 ELSE 0 END) AS sessions_missed
  FROM scheduled
  INNER JOIN calendar
    ON calendar.date_day = scheduled.scheduled_date
  WHERE
    scheduled.session_status <> 'upcoming'
  GROUP BY
    scheduled.class_id,
    calendar.week_start
), session_weeks AS (
  SELECT
    sessions.class_id,
    sessions.session_id,
    sessions.session_status,
    calendar.week_start
  FROM sessions
  INNER JOIN calendar
    ON calendar.date_day = sessions.session_date
), held_stats AS (
  SELECT
    session_weeks.class_id,
    session_weeks.week_start,
    COUNT(
      DISTINCT CASE
        WHEN engagement.person_type = 'student' AND engagement.on_attendance_roster
        THEN engagement.student_id
      END
    ) AS roster_size,
    SUM(
      CASE
        WHEN engagement.person_type = 'student' AND engagement.on_attendance_roster
        THEN 1
        ELSE 0
      END
    ) AS student_sessions_expected,
    SUM(
      CASE
        WHEN engagement.person_type = 'student'
        AND engagement.on_attendance_roster
        AND engagement.attended
        THEN 1
        ELSE 0
      END
    ) AS student_sessions_present,
    SUM(
      CASE
        WHEN engagement.person_type = 'student'
        AND engagement.on_attendance_roster
        AND engagement.attended
        AND NOT engagement.attended_seconds IS NULL
        THEN 1
        ELSE 0
      END
    ) AS student_sessions_timed,
    SUM(
      CASE
        WHEN engagement.person_type = 'student'
        AND engagement.on_attendance_roster
        AND engagement.attended
        THEN engagement.attended_seconds
        ELSE 0
      END
    ) AS student_attended_seconds,
    SUM(
      CASE WHEN engagement.person_type = 'student' THEN engagement.talk_seconds ELSE 0 END
    ) AS student_talk_seconds,
    SUM(engagement.talk_seconds) AS talk_seconds,
    SUM(
      CASE
        WHEN engagement.person_type = 'student'
        AND engagement.on_attendance_roster
        AND engagement.attended
        THEN engagement.hand_raises
        ELSE 0
      END
    ) AS student_hand_raises,
    SUM(
      CASE
        WHEN engagement.person_type = 'student'
        AND engagement.on_attendance_roster
        AND engagement.attended
        AND NOT engagement.attended_seconds IS NULL
        THEN engagement.video_on_seconds
        ELSE 0
      END
    ) AS student_video_on_seconds
  FROM session_weeks
  INNER JOIN engagement
    ON engagement.class_id = session_weeks.class_id
    AND engagement.session_id = session_weeks.session_id
  GROUP BY
    session_weeks.class_id,
    session_weeks.week_start
), status_counts AS (
  SELECT
    session_weeks.class_id,
    session_weeks.week_start,
    SUM(CASE WHEN session_weeks.session_status = 'held' THEN 1 ELSE 0 END) AS sessions_held,
    SUM(CASE WHEN session_weeks.session_status = 'live' THEN 1 ELSE 0 END) AS sessions_live
  FROM session_weeks
  GROUP BY
    session_weeks.class_id,
    session_weeks.week_start
), tardies AS (
  SELECT
    *
  FROM class_data.fct_session_attendance
  WHERE
    session_status = 'held' AND person_type = 'student' AND tardy
), tardy_counts AS (
  SELECT
    tardies.class_id,
    calendar.week_start,
    COUNT(*) AS student_sessions_tardy
  FROM tardies
  INNER JOIN calendar
    ON calendar.date_day = tardies.session_date
  GROUP BY
    tardies.class_id,
    calendar.week_start
), feedback AS (
  SELECT
    durations.class_id,
    calendar.week_start,
    SUM(CASE WHEN durations.event_value = 'clap' THEN durations.event_count ELSE 0 END) AS feedback_clap,
    SUM(CASE WHEN durations.event_value = 'coffee' THEN durations.event_count ELSE 0 END) AS feedback_coffee,
    SUM(
      CASE WHEN durations.event_value = 'dislike' THEN durations.event_count ELSE 0 END
    ) AS feedback_dislike,
    SUM(CASE WHEN durations.event_value = 'faster' THEN durations.event_count ELSE 0 END) AS feedback_faster,
    SUM(CASE WHEN durations.event_value = 'like' THEN durations.event_count ELSE 0 END) AS feedback_like,
    SUM(
      CASE WHEN durations.event_value = 'no_mark' THEN durations.event_count ELSE 0 END
    ) AS feedback_no_mark,
    SUM(
      CASE WHEN durations.event_value = 'question' THEN durations.event_count ELSE 0 END
    ) AS feedback_question,
    SUM(CASE WHEN durations.event_value = 'slower' THEN durations.event_count ELSE 0 END) AS feedback_slower,
    SUM(CASE WHEN durations.event_value = 'time' THEN durations.event_count ELSE 0 END) AS feedback_time,
    SUM(
      CASE WHEN durations.event_value = 'yes_mark' THEN durations.event_count ELSE 0 END
    ) AS feedback_yes_mark
  FROM durations
  INNER JOIN sessions
    ON sessions.class_id = durations.class_id
    AND sessions.session_id = durations.session_id
    AND sessions.session_status = 'held'
  INNER JOIN calendar
    ON calendar.date_day = durations.activity_date
  GROUP BY
    durations.class_id,
    calendar.week_start
), class_weeks AS (
  SELECT
    class_id,
    week_start
  FROM schedule_weeks
  UNION
  SELECT
    class_id,
    week_start
  FROM session_weeks
)
SELECT
  class_weeks.class_id,
  class_weeks.week_start,
  week_calendar.iso_year,
  week_calendar.iso_week,
  week_calendar.school_week,
  COALESCE(schedule_weeks.sessions_scheduled, 0) AS sessions_scheduled,
  COALESCE(schedule_weeks.sessions_missed, 0) AS sessions_missed,
  COALESCE(status_counts.sessions_held, 0) AS sessions_held,
  COALESCE(status_counts.sessions_live, 0) AS sessions_live,
  COALESCE(held_stats.roster_size, 0) AS roster_size,
  COALESCE(held_stats.student_sessions_expected, 0) AS student_sessions_expected,
  COALESCE(held_stats.student_sessions_present, 0) AS student_sessions_present,
  CAST(held_stats.student_sessions_present AS DOUBLE PRECISION) / NULLIF(held_stats.student_sessions_expected, 0) AS attendance_rate,
  CAST(COALESCE(tardy_counts.student_sessions_tardy, 0) AS DOUBLE PRECISION) / NULLIF(held_stats.student_sessions_present, 0) AS tardy_rate,
  CAST(CAST(held_stats.student_attended_seconds AS DOUBLE PRECISION) / 60.0 AS DOUBLE PRECISION) / NULLIF(held_stats.student_sessions_timed, 0) AS avg_attended_minutes,
  CAST(held_stats.student_talk_seconds AS DOUBLE PRECISION) / NULLIF(held_stats.talk_seconds, 0) AS student_talk_share,
  1 - CAST(held_stats.student_talk_seconds AS DOUBLE PRECISION) / NULLIF(held_stats.talk_seconds, 0) AS staff_talk_share,
  CAST(held_stats.student_hand_raises AS DOUBLE PRECISION) / NULLIF(held_stats.student_sessions_present, 0) AS hand_raises_per_attendee,
  CAST(held_stats.student_video_on_seconds AS DOUBLE PRECISION) / NULLIF(held_stats.student_attended_seconds, 0) AS video_on_share,
  COALESCE(feedback.feedback_clap, 0) AS feedback_clap,
  COALESCE(feedback.feedback_coffee, 0) AS feedback_coffee,
  COALESCE(feedback.feedback_dislike, 0) AS feedback_dislike,
  COALESCE(feedback.feedback_faster, 0) AS feedback_faster,
  COALESCE(feedback.feedback_like, 0) AS feedback_like,
  COALESCE(feedback.feedback_no_mark, 0) AS feedback_no_mark,
  COALESCE(feedback.feedback_question, 0) AS feedback_question,
  COALESCE(feedback.feedback_slower, 0) AS feedback_slower,
  COALESCE(feedback.feedback_time, 0) AS feedback_time,
  COALESCE(feedback.feedback_yes_mark, 0) AS feedback_yes_mark
FROM class_weeks
INNER JOIN class_data.dim_date AS week_calendar
  ON week_calendar.date_day = class_weeks.week_start
LEFT JOIN schedule_weeks
  ON schedule_weeks.class_id = class_weeks.class_id
  AND schedule_weeks.week_start = class_weeks.week_start
LEFT JOIN status_counts
  ON status_counts.class_id = class_weeks.class_id
  AND status_counts.week_start = class_weeks.week_start
LEFT JOIN held_stats
  ON held_stats.class_id = class_weeks.class_id
  AND held_stats.week_start = class_weeks.week_start
LEFT JOIN tardy_counts
  ON tardy_counts.class_id = class_weeks.class_id
  AND tardy_counts.week_start = class_weeks.week_start
LEFT JOIN feedback
  ON feedback.class_id = class_weeks.class_id
  AND feedback.week_start = class_weeks.week_start;

COMMENT ON TABLE class_data.agg_class_weekly IS 'One row per class and local week with held-session rates for students.';

COMMENT ON COLUMN class_data.agg_class_weekly.class_id IS 'The class.';

COMMENT ON COLUMN class_data.agg_class_weekly.week_start IS 'Monday of the local week.';

COMMENT ON COLUMN class_data.agg_class_weekly.iso_year IS 'ISO year of the week.';

COMMENT ON COLUMN class_data.agg_class_weekly.iso_week IS 'ISO week number.';

COMMENT ON COLUMN class_data.agg_class_weekly.school_week IS 'Week number from the first week of data.';

COMMENT ON COLUMN class_data.agg_class_weekly.sessions_scheduled IS 'Schedule entries that week, not counting upcoming ones.';

COMMENT ON COLUMN class_data.agg_class_weekly.sessions_missed IS 'Of them, missed.';

COMMENT ON COLUMN class_data.agg_class_weekly.sessions_held IS 'Sessions held that week.';

COMMENT ON COLUMN class_data.agg_class_weekly.sessions_live IS 'Sessions still live.';

COMMENT ON COLUMN class_data.agg_class_weekly.roster_size IS 'Distinct students on that week''s held sessions'' reports.';

COMMENT ON COLUMN class_data.agg_class_weekly.student_sessions_expected IS 'Student-sessions on held sessions'' reports.';

COMMENT ON COLUMN class_data.agg_class_weekly.student_sessions_present IS 'Of them, present.';

COMMENT ON COLUMN class_data.agg_class_weekly.attendance_rate IS 'student_sessions_present / student_sessions_expected.';

COMMENT ON COLUMN class_data.agg_class_weekly.tardy_rate IS 'Tardy / present student-sessions.';

COMMENT ON COLUMN class_data.agg_class_weekly.avg_attended_minutes IS 'Attended minutes per present student-session with a known attended time.';

COMMENT ON COLUMN class_data.agg_class_weekly.student_talk_share IS 'Students'' share of all talk time in held sessions.';

COMMENT ON COLUMN class_data.agg_class_weekly.staff_talk_share IS 'Staff''s share of all talk time in held sessions.';

COMMENT ON COLUMN class_data.agg_class_weekly.hand_raises_per_attendee IS 'Students'' hand raises per present student-session.';

COMMENT ON COLUMN class_data.agg_class_weekly.video_on_share IS 'Students'' video-on time / their attended time.';

COMMENT ON COLUMN class_data.agg_class_weekly.feedback_clap IS 'Students'' FEEDBACK clap events.';

COMMENT ON COLUMN class_data.agg_class_weekly.feedback_coffee IS 'Students'' FEEDBACK coffee (need break) events.';

COMMENT ON COLUMN class_data.agg_class_weekly.feedback_dislike IS 'Students'' FEEDBACK dislike events.';

COMMENT ON COLUMN class_data.agg_class_weekly.feedback_faster IS 'Students'' FEEDBACK faster events.';

COMMENT ON COLUMN class_data.agg_class_weekly.feedback_like IS 'Students'' FEEDBACK like events.';

COMMENT ON COLUMN class_data.agg_class_weekly.feedback_no_mark IS 'Students'' FEEDBACK no_mark (no) events.';

COMMENT ON COLUMN class_data.agg_class_weekly.feedback_question IS 'Students'' FEEDBACK question events.';

COMMENT ON COLUMN class_data.agg_class_weekly.feedback_slower IS 'Students'' FEEDBACK slower events.';

COMMENT ON COLUMN class_data.agg_class_weekly.feedback_time IS 'Students'' FEEDBACK time (away) events.';

COMMENT ON COLUMN class_data.agg_class_weekly.feedback_yes_mark IS 'Students'' FEEDBACK yes_mark (yes) events.';
