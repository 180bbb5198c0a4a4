CREATE OR REPLACE TABLE class_data.fct_session_attendance AS
WITH participants AS (
  SELECT
    *
  FROM class_data.int_class__session_participants
  WHERE
    on_attendance_roster
), classes AS (
  SELECT
    *
  FROM class_data.dim_classes
)
SELECT
  participants.class_id,
  classes.class_name,
  participants.session_id,
  participants.session_date,
  participants.session_status,
  participants.session_start_time,
  participants.session_end_time,
  participants.session_seconds,
  participants.student_id,
  participants.student_name,
  participants.email,
  participants.ext_person_id,
  participants.enrollment_role,
  participants.person_type,
  participants.is_enrolled,
  participants.present,
  participants.tardy,
  participants.join_time,
  participants.leave_time,
  participants.attended_milliseconds / 1000.0 AS attended_seconds,
  participants.attended_milliseconds / 1000.0 / NULLIF(participants.session_seconds, 0) AS attended_ratio
FROM participants
LEFT JOIN classes
  ON classes.class_id = participants.class_id;
