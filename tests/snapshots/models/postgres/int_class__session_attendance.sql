DROP TABLE IF EXISTS class_data.int_class__session_attendance CASCADE;

CREATE TABLE class_data.int_class__session_attendance AS
WITH attendance AS (
  SELECT
    *
  FROM class_data.stg_class__attendance
), sessions AS (
  SELECT
    *
  FROM class_data.int_class__sessions
), bounded AS (
  SELECT
    attendance.class_id,
    attendance.session_id,
    attendance.student_id,
    attendance.email,
    attendance.ext_person_id,
    attendance.present,
    attendance.tardy,
    attendance.join_time,
    attendance.leave_time,
    CASE
      WHEN attendance.join_time IS NULL
      THEN sessions.session_start_time
      ELSE LEAST(
        GREATEST(attendance.join_time, sessions.session_start_time),
        sessions.session_end_time
      )
    END AS attended_from,
    CASE
      WHEN attendance.join_time IS NULL
      THEN sessions.session_start_time
      WHEN attendance.leave_time IS NULL
      THEN sessions.session_end_time
      ELSE LEAST(attendance.leave_time, sessions.session_end_time)
    END AS clipped_leave
  FROM attendance
  INNER JOIN sessions
    ON sessions.class_id = attendance.class_id
    AND sessions.session_id = attendance.session_id
)
SELECT
  class_id,
  session_id,
  student_id,
  email,
  ext_person_id,
  present,
  tardy,
  join_time,
  leave_time,
  attended_from,
  GREATEST(clipped_leave, attended_from) AS attended_to,
  CASE
    WHEN join_time IS NULL
    THEN 0
    WHEN leave_time IS NULL
    THEN NULL
    ELSE CAST(ROUND(
      EXTRACT(EPOCH FROM (
        GREATEST(clipped_leave, attended_from) - attended_from
      )) * 1000
    ) AS BIGINT)
  END AS attended_milliseconds
FROM bounded;
