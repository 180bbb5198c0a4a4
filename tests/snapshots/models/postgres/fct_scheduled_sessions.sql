DROP TABLE IF EXISTS class_data.fct_scheduled_sessions CASCADE;

CREATE TABLE class_data.fct_scheduled_sessions AS
WITH schedules AS (
  SELECT
    *
  FROM class_data.stg_class__schedules
), sessions AS (
  SELECT
    *
  FROM class_data.int_class__sessions
), participants AS (
  SELECT
    *
  FROM class_data.int_class__session_participants
), enrollments AS (
  SELECT
    *
  FROM class_data.int_class__roster_versions
), clock AS (
  SELECT
    *
  FROM class_data.int_class__as_of
), candidates AS (
  SELECT
    schedules.schedule_id,
    sessions.session_id,
    sessions.class_id,
    ABS(
      CAST(ROUND(
        EXTRACT(EPOCH FROM (
          sessions.session_start_time - schedules.scheduled_start_time
        )) * 1000
      ) AS BIGINT)
    ) AS distance_ms
  FROM schedules
  INNER JOIN sessions
    ON sessions.class_id = schedules.class_id
    AND sessions.session_start_time >= schedules.scheduled_start_time - INTERVAL '10 MINUTE'
    AND sessions.session_start_time < schedules.scheduled_end_time
), nearest_session AS (
  SELECT
    *,
    ROW_NUMBER() OVER (PARTITION BY schedule_id ORDER BY distance_ms, session_id) AS session_rank
  FROM candidates
), nearest_schedule AS (
  SELECT
    *,
    ROW_NUMBER() OVER (PARTITION BY class_id, session_id ORDER BY distance_ms, schedule_id) AS schedule_rank
  FROM nearest_session
  WHERE
    session_rank = 1
), matches AS (
  SELECT
    schedule_id,
    session_id
  FROM nearest_schedule
  WHERE
    schedule_rank = 1
), session_counts AS (
  SELECT
    class_id,
    session_id,
    SUM(CASE WHEN person_type = 'student' AND on_attendance_roster THEN 1 ELSE 0 END) AS students_expected,
    SUM(
      CASE
        WHEN person_type = 'student' AND on_attendance_roster AND present
        THEN 1
        ELSE 0
      END
    ) AS students_present,
    SUM(
      CASE
        WHEN person_type = 'student' AND on_attendance_roster AND tardy
        THEN 1
        ELSE 0
      END
    ) AS students_tardy,
    MIN(CASE WHEN enrollment_role = 'teacher' THEN join_time END) AS teacher_join_time
  FROM participants
  GROUP BY
    class_id,
    session_id
), roster_versions AS (
  SELECT
    schedules.schedule_id,
    enrollments.student_id,
    enrollments.role
  FROM schedules
  INNER JOIN enrollments
    ON enrollments.class_id = schedules.class_id
    AND (
      enrollments.stands_from IS NULL
      OR enrollments.stands_from <= schedules.scheduled_start_time
    )
    AND (
      enrollments.valid_to IS NULL
      OR enrollments.valid_to > schedules.scheduled_start_time
    )
), rostered_students AS (
  SELECT
    schedule_id,
    COUNT(*) AS students_rostered
  FROM roster_versions
  WHERE
    NOT COALESCE(role, 'student') IN ('teacher', 'assistant')
  GROUP BY
    schedule_id
), statused AS (
  SELECT
    schedules.*,
    matches.session_id,
    CASE
      WHEN NOT matches.session_id IS NULL
      THEN sessions.session_status
      WHEN schedules.scheduled_start_time <= clock.as_of
      THEN 'missed'
      ELSE 'upcoming'
    END AS session_status
  FROM schedules
  CROSS JOIN clock
  LEFT JOIN matches
    ON matches.schedule_id = schedules.schedule_id
  LEFT JOIN sessions
    ON sessions.class_id = schedules.class_id
    AND sessions.session_id = matches.session_id
)
SELECT
  statused.schedule_id,
  statused.class_id,
  statused.scheduled_start_time,
  statused.scheduled_end_time,
  CAST(statused.scheduled_start_time AT TIME ZONE 'UTC' AS TIMESTAMP) AS scheduled_start_local,
  CAST(statused.scheduled_end_time AT TIME ZONE 'UTC' AS TIMESTAMP) AS scheduled_end_local,
  CAST(statused.scheduled_start_time AT TIME ZONE 'UTC' AS DATE) AS scheduled_date,
  CAST(CAST(ROUND(
    EXTRACT(EPOCH FROM (
      statused.scheduled_end_time - statused.scheduled_start_time
    )) * 1000
  ) AS BIGINT) AS DOUBLE PRECISION) / 1000.0 AS scheduled_seconds,
  statused.session_id,
  statused.session_status,
  sessions.session_start_time,
  sessions.session_end_time,
  CASE
    WHEN NOT statused.session_id IS NULL
    THEN COALESCE(session_counts.students_expected, 0)
    ELSE COALESCE(rostered_students.students_rostered, 0)
  END AS students_expected,
  CASE
    WHEN NOT statused.session_id IS NULL
    THEN COALESCE(session_counts.students_present, 0)
  END AS students_present,
  CASE
    WHEN statused.session_status = 'held'
    THEN COALESCE(session_counts.students_expected, 0) - COALESCE(session_counts.students_present, 0)
  END AS students_absent,
  CASE
    WHEN NOT statused.session_id IS NULL
    THEN COALESCE(session_counts.students_tardy, 0)
  END AS students_tardy,
  CAST(CAST(ROUND(
    EXTRACT(EPOCH FROM (
      session_counts.teacher_join_time - statused.scheduled_start_time
    )) * 1000
  ) AS BIGINT) AS DOUBLE PRECISION) / 1000.0 AS teacher_join_offset_seconds
FROM statused
LEFT JOIN sessions
  ON sessions.class_id = statused.class_id
  AND sessions.session_id = statused.session_id
LEFT JOIN session_counts
  ON session_counts.class_id = statused.class_id
  AND session_counts.session_id = statused.session_id
LEFT JOIN rostered_students
  ON rostered_students.schedule_id = statused.schedule_id;

COMMENT ON TABLE class_data.fct_scheduled_sessions IS 'One row per schedule entry with its matched session, status and student turnout.';

COMMENT ON COLUMN class_data.fct_scheduled_sessions.schedule_id IS 'The schedule entry (GET /schedules).';

COMMENT ON COLUMN class_data.fct_scheduled_sessions.class_id IS 'The class.';

COMMENT ON COLUMN class_data.fct_scheduled_sessions.scheduled_start_time IS 'Planned start (UTC).';

COMMENT ON COLUMN class_data.fct_scheduled_sessions.scheduled_end_time IS 'Planned end (UTC).';

COMMENT ON COLUMN class_data.fct_scheduled_sessions.scheduled_start_local IS 'Planned start in the school''s time zone.';

COMMENT ON COLUMN class_data.fct_scheduled_sessions.scheduled_end_local IS 'Planned end in the school''s time zone.';

COMMENT ON COLUMN class_data.fct_scheduled_sessions.scheduled_date IS 'Local date of the planned start.';

COMMENT ON COLUMN class_data.fct_scheduled_sessions.scheduled_seconds IS 'Planned length in seconds.';

COMMENT ON COLUMN class_data.fct_scheduled_sessions.session_id IS 'The session that took place for it (null if none).';

COMMENT ON COLUMN class_data.fct_scheduled_sessions.session_status IS 'held, live, missed (start passed, no session) or upcoming.';

COMMENT ON COLUMN class_data.fct_scheduled_sessions.session_start_time IS 'Actual session start (UTC).';

COMMENT ON COLUMN class_data.fct_scheduled_sessions.session_end_time IS 'Actual session end (UTC).';

COMMENT ON COLUMN class_data.fct_scheduled_sessions.students_expected IS 'Students on the session''s report; for missed and upcoming, on the roster at the planned start.';

COMMENT ON COLUMN class_data.fct_scheduled_sessions.students_present IS 'Students present (null without a session).';

COMMENT ON COLUMN class_data.fct_scheduled_sessions.students_absent IS 'students_expected - students_present, held sessions only.';

COMMENT ON COLUMN class_data.fct_scheduled_sessions.students_tardy IS 'Students marked tardy (null without a session).';

COMMENT ON COLUMN class_data.fct_scheduled_sessions.teacher_join_offset_seconds IS 'First teacher''s join minus the planned start (negative = early).';
