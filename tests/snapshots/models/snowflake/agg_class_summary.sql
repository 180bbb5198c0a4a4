CREATE OR REPLACE TABLE class_data.agg_class_summary AS
WITH classes AS (
  SELECT
    *
  FROM class_data.dim_classes
), sessions AS (
  SELECT
    *
  FROM class_data.dim_sessions
), enrollments AS (
  SELECT
    *
  FROM class_data.stg_class__enrollments
  WHERE
    is_current
), scheduled AS (
  SELECT
    *
  FROM class_data.fct_scheduled_sessions
), engagement AS (
  SELECT
    *
  FROM class_data.fct_student_engagement
  WHERE
    session_status = 'held'
), session_stats AS (
  SELECT
    class_id,
    SUM(CASE WHEN session_status = 'held' THEN 1 ELSE 0 END) AS sessions_held,
    SUM(CASE WHEN session_status = 'live' THEN 1 ELSE 0 END) AS sessions_live,
    AVG(attendance_rate) AS avg_attendance_rate,
    MIN(session_start_time) AS first_session_start,
    MAX(session_end_time) AS last_session_end
  FROM sessions
  GROUP BY
    class_id
), roster_stats AS (
  SELECT
    class_id,
    SUM(CASE WHEN COALESCE(role, 'student') = 'student' THEN 1 ELSE 0 END) AS students_enrolled
  FROM enrollments
  GROUP BY
    class_id
), schedule_stats AS (
  SELECT
    class_id,
    COUNT(*) AS sessions_scheduled,
    SUM(CASE WHEN session_status = 'missed' THEN 1 ELSE 0 END) AS sessions_missed,
    SUM(CASE WHEN session_status = 'upcoming' THEN 1 ELSE 0 END) AS sessions_upcoming
  FROM scheduled
  GROUP BY
    class_id
), attendee_stats AS (
  SELECT
    class_id,
    SUM(
      CASE
        WHEN person_type = 'student' AND attended AND on_attendance_roster
        THEN 1
        ELSE 0
      END
    ) AS attendee_sessions,
    SUM(
      CASE
        WHEN person_type = 'student' AND attended AND on_attendance_roster
        THEN talk_seconds
        ELSE 0
      END
    ) AS talk_seconds,
    SUM(CASE WHEN person_type = 'staff' THEN talk_seconds ELSE 0 END) AS staff_talk_seconds
  FROM engagement
  GROUP BY
    class_id
)
SELECT
  classes.class_id,
  classes.class_name,
  classes.class_status,
  COALESCE(schedule_stats.sessions_scheduled, 0) AS sessions_scheduled,
  COALESCE(schedule_stats.sessions_missed, 0) AS sessions_missed,
  COALESCE(schedule_stats.sessions_upcoming, 0) AS sessions_upcoming,
  COALESCE(session_stats.sessions_held, 0) AS sessions_held,
  COALESCE(session_stats.sessions_live, 0) AS sessions_live,
  session_stats.first_session_start,
  session_stats.last_session_end,
  COALESCE(roster_stats.students_enrolled, 0) AS students_enrolled,
  session_stats.avg_attendance_rate,
  COALESCE(attendee_stats.attendee_sessions, 0) AS attendee_sessions,
  COALESCE(attendee_stats.talk_seconds, 0) / 60.0 AS total_talk_minutes,
  attendee_stats.talk_seconds / 60.0 / NULLIF(attendee_stats.attendee_sessions, 0) AS avg_talk_minutes_per_attendee,
  COALESCE(attendee_stats.staff_talk_seconds, 0) / 60.0 AS staff_talk_minutes
FROM classes
LEFT JOIN session_stats
  ON session_stats.class_id = classes.class_id
LEFT JOIN roster_stats
  ON roster_stats.class_id = classes.class_id
LEFT JOIN schedule_stats
  ON schedule_stats.class_id = classes.class_id
LEFT JOIN attendee_stats
  ON attendee_stats.class_id = classes.class_id;

COMMENT ON TABLE class_data.agg_class_summary IS 'One row per class summing up how it ran (held sessions and students only in rates).';

COMMENT ON COLUMN class_data.agg_class_summary.class_id IS 'The class.';

COMMENT ON COLUMN class_data.agg_class_summary.class_name IS 'The class\'s name.';

COMMENT ON COLUMN class_data.agg_class_summary.class_status IS 'regular, deferred or unlisted.';

COMMENT ON COLUMN class_data.agg_class_summary.sessions_scheduled IS 'Schedule entries.';

COMMENT ON COLUMN class_data.agg_class_summary.sessions_missed IS 'Schedule entries whose start passed without a session.';

COMMENT ON COLUMN class_data.agg_class_summary.sessions_upcoming IS 'Schedule entries still ahead.';

COMMENT ON COLUMN class_data.agg_class_summary.sessions_held IS 'Started sessions that have ended.';

COMMENT ON COLUMN class_data.agg_class_summary.sessions_live IS 'Sessions still running at the data\'s as-of time.';

COMMENT ON COLUMN class_data.agg_class_summary.first_session_start IS 'First session start (UTC).';

COMMENT ON COLUMN class_data.agg_class_summary.last_session_end IS 'Last session end (UTC).';

COMMENT ON COLUMN class_data.agg_class_summary.students_enrolled IS 'Current roster entries with role student.';

COMMENT ON COLUMN class_data.agg_class_summary.avg_attendance_rate IS 'Mean over held sessions of present / students on the report.';

COMMENT ON COLUMN class_data.agg_class_summary.attendee_sessions IS 'Student-sessions marked present in held sessions.';

COMMENT ON COLUMN class_data.agg_class_summary.total_talk_minutes IS 'Those students\' talk minutes.';

COMMENT ON COLUMN class_data.agg_class_summary.avg_talk_minutes_per_attendee IS 'total_talk_minutes / attendee_sessions.';

COMMENT ON COLUMN class_data.agg_class_summary.staff_talk_minutes IS 'Teachers\' and assistants\' talk minutes in held sessions.';
