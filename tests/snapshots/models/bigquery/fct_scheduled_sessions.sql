CREATE OR REPLACE TABLE class_data.fct_scheduled_sessions AS
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
      TIMESTAMP_DIFF(sessions.session_start_time, schedules.scheduled_start_time, MILLISECOND)
    ) AS distance_ms
  FROM schedules
  INNER JOIN sessions
    ON sessions.class_id = schedules.class_id
    AND sessions.session_start_time >= schedules.scheduled_start_time - INTERVAL '10' MINUTE
    AND sessions.session_start_time < schedules.scheduled_end_time
), nearest_session AS (
  SELECT
    *,
    ROW_NUMBER() OVER (PARTITION BY schedule_id ORDER BY distance_ms NULLS LAST, session_id NULLS LAST) AS session_rank
  FROM candidates
), nearest_schedule AS (
  SELECT
    *,
    ROW_NUMBER() OVER (
      PARTITION BY class_id, session_id
      ORDER BY distance_ms NULLS LAST, schedule_id NULLS LAST
    ) AS schedule_rank
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
  CAST(TIMESTAMP(DATETIME(statused.scheduled_start_time, 'UTC')) AS DATETIME) AS scheduled_start_local,
  CAST(TIMESTAMP(DATETIME(statused.scheduled_end_time, 'UTC')) AS DATETIME) AS scheduled_end_local,
  CAST(TIMESTAMP(DATETIME(statused.scheduled_start_time, 'UTC')) AS DATE) AS scheduled_date,
  TIMESTAMP_DIFF(statused.scheduled_end_time, statused.scheduled_start_time, MILLISECOND) / 1000.0 AS scheduled_seconds,
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
  TIMESTAMP_DIFF(session_counts.teacher_join_time, statused.scheduled_start_time, MILLISECOND) / 1000.0 AS teacher_join_offset_seconds
FROM statused
LEFT JOIN sessions
  ON sessions.class_id = statused.class_id
  AND sessions.session_id = statused.session_id
LEFT JOIN session_counts
  ON session_counts.class_id = statused.class_id
  AND session_counts.session_id = statused.session_id
LEFT JOIN rostered_students
  ON rostered_students.schedule_id = statused.schedule_id;

ALTER TABLE class_data.fct_scheduled_sessions SET OPTIONS (description='One row per schedule entry with its matched session, status and student turnout.');

ALTER TABLE class_data.fct_scheduled_sessions ALTER COLUMN schedule_id SET OPTIONS (description='The schedule entry (GET /schedules).');

ALTER TABLE class_data.fct_scheduled_sessions ALTER COLUMN class_id SET OPTIONS (description='The class.');

ALTER TABLE class_data.fct_scheduled_sessions ALTER COLUMN scheduled_start_time SET OPTIONS (description='Planned start (UTC).');

ALTER TABLE class_data.fct_scheduled_sessions ALTER COLUMN scheduled_end_time SET OPTIONS (description='Planned end (UTC).');

ALTER TABLE class_data.fct_scheduled_sessions ALTER COLUMN scheduled_start_local SET OPTIONS (description='Planned start in the school\'s time zone.');

ALTER TABLE class_data.fct_scheduled_sessions ALTER COLUMN scheduled_end_local SET OPTIONS (description='Planned end in the school\'s time zone.');

ALTER TABLE class_data.fct_scheduled_sessions ALTER COLUMN scheduled_date SET OPTIONS (description='Local date of the planned start.');

ALTER TABLE class_data.fct_scheduled_sessions ALTER COLUMN scheduled_seconds SET OPTIONS (description='Planned length in seconds.');

ALTER TABLE class_data.fct_scheduled_sessions ALTER COLUMN session_id SET OPTIONS (description='The session that took place for it (null if none).');

ALTER TABLE class_data.fct_scheduled_sessions ALTER COLUMN session_status SET OPTIONS (description='held, live, missed (start passed, no session) or upcoming.');

ALTER TABLE class_data.fct_scheduled_sessions ALTER COLUMN session_start_time SET OPTIONS (description='Actual session start (UTC).');

ALTER TABLE class_data.fct_scheduled_sessions ALTER COLUMN session_end_time SET OPTIONS (description='Actual session end (UTC).');

ALTER TABLE class_data.fct_scheduled_sessions ALTER COLUMN students_expected SET OPTIONS (description='Students on the session\'s report; for missed and upcoming, on the roster at the planned start.');

ALTER TABLE class_data.fct_scheduled_sessions ALTER COLUMN students_present SET OPTIONS (description='Students present (null without a session).');

ALTER TABLE class_data.fct_scheduled_sessions ALTER COLUMN students_absent SET OPTIONS (description='students_expected - students_present, held sessions only.');

ALTER TABLE class_data.fct_scheduled_sessions ALTER COLUMN students_tardy SET OPTIONS (description='Students marked tardy (null without a session).');

ALTER TABLE class_data.fct_scheduled_sessions ALTER COLUMN teacher_join_offset_seconds SET OPTIONS (description='First teacher\'s join minus the planned start (negative = early).');
