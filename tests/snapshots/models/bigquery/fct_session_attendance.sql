CREATE OR REPLACE TABLE class_data.fct_session_attendance AS
WITH attendance AS (
  SELECT
    *
  FROM class_data.stg_class__attendance
), sessions AS (
  SELECT
    *
  FROM class_data.int_class__sessions
), enrollments AS (
  SELECT
    *
  FROM class_data.stg_class__enrollments
  WHERE
    is_current
), classes AS (
  SELECT
    *
  FROM class_data.dim_classes
), measured AS (
  SELECT
    attendance.*,
    sessions.session_start_time AS window_start,
    sessions.session_end_time AS window_end,
    sessions.session_seconds,
    CASE
      WHEN attendance.join_time IS NULL
      THEN 0
      WHEN attendance.leave_time IS NULL
      THEN NULL
      ELSE GREATEST(
        TIMESTAMP_DIFF(
          LEAST(attendance.leave_time, sessions.session_end_time),
          GREATEST(attendance.join_time, sessions.session_start_time),
          MILLISECOND
        ),
        0
      )
    END AS attended_milliseconds
  FROM attendance
  INNER JOIN sessions
    ON sessions.class_id = attendance.class_id
    AND sessions.session_id = attendance.session_id
)
SELECT
  measured.class_id,
  classes.class_name,
  measured.session_id,
  measured.window_start AS session_start_time,
  measured.window_end AS session_end_time,
  measured.session_seconds,
  measured.student_id,
  enrollments.user_name AS student_name,
  COALESCE(enrollments.email, measured.email) AS email,
  COALESCE(enrollments.ext_person_id, measured.ext_person_id) AS ext_person_id,
  enrollments.role AS enrollment_role,
  NOT enrollments.student_id IS NULL AS is_enrolled,
  measured.present,
  measured.tardy,
  measured.join_time,
  measured.leave_time,
  measured.attended_milliseconds / 1000.0 AS attended_seconds,
  measured.attended_milliseconds / 1000.0 / NULLIF(measured.session_seconds, 0) AS attended_ratio
FROM measured
LEFT JOIN enrollments
  ON enrollments.class_id = measured.class_id
  AND enrollments.student_id = measured.student_id
LEFT JOIN classes
  ON classes.class_id = measured.class_id;
