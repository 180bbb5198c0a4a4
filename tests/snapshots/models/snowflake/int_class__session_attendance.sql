CREATE OR REPLACE TABLE class_data.int_class__session_attendance AS
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
      ELSE LEAST_IGNORE_NULLS(
        GREATEST_IGNORE_NULLS(attendance.join_time, sessions.session_start_time),
        sessions.session_end_time
      )
    END AS attended_from,
    CASE
      WHEN attendance.join_time IS NULL
      THEN sessions.session_start_time
      WHEN attendance.leave_time IS NULL
      THEN sessions.session_end_time
      ELSE LEAST_IGNORE_NULLS(attendance.leave_time, sessions.session_end_time)
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
  GREATEST_IGNORE_NULLS(clipped_leave, attended_from) AS attended_to,
  CASE
    WHEN join_time IS NULL
    THEN 0
    WHEN leave_time IS NULL
    THEN NULL
    ELSE DATEDIFF(MILLISECOND, attended_from, GREATEST_IGNORE_NULLS(clipped_leave, attended_from))
  END AS attended_milliseconds
FROM bounded;

COMMENT ON TABLE class_data.int_class__session_attendance IS 'One row per person on a started session\'s attendance report with the stretch of the session they attended: [attended_from, attended_to) is join -> leave clipped to the session window (an empty stretch at the session start if they never joined; up to the session end while they are still in, i.e. no leave_time yet). attended_milliseconds is its length, null while they are still in. Engaged time is clipped to the same stretch (int_class__events), so it never exceeds attended time.';
