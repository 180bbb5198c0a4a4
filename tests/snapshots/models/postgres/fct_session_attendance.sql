DROP TABLE IF EXISTS class_data.fct_session_attendance CASCADE;

CREATE TABLE class_data.fct_session_attendance AS
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
  CAST(participants.attended_milliseconds AS DOUBLE PRECISION) / 1000.0 AS attended_seconds,
  CAST(CAST(participants.attended_milliseconds AS DOUBLE PRECISION) / 1000.0 AS DOUBLE PRECISION) / NULLIF(participants.session_seconds, 0) AS attended_ratio
FROM participants
LEFT JOIN classes
  ON classes.class_id = participants.class_id;

COMMENT ON TABLE class_data.fct_session_attendance IS 'One row per person on a started session''s attendance report, students and staff, with attended time.';

COMMENT ON COLUMN class_data.fct_session_attendance.class_id IS 'The class (Class class_id).';

COMMENT ON COLUMN class_data.fct_session_attendance.class_name IS 'The class''s name (null for classes no longer listed).';

COMMENT ON COLUMN class_data.fct_session_attendance.session_id IS 'The started session (from the attendance report).';

COMMENT ON COLUMN class_data.fct_session_attendance.session_date IS 'Local date of the session start (school time zone).';

COMMENT ON COLUMN class_data.fct_session_attendance.session_status IS 'held (ended by the data''s as-of time) or live (still running).';

COMMENT ON COLUMN class_data.fct_session_attendance.session_start_time IS 'Session start (UTC).';

COMMENT ON COLUMN class_data.fct_session_attendance.session_end_time IS 'Session end (UTC).';

COMMENT ON COLUMN class_data.fct_session_attendance.session_seconds IS 'Session length in seconds.';

COMMENT ON COLUMN class_data.fct_session_attendance.student_id IS 'The person (the API calls everyone student_id, staff included).';

COMMENT ON COLUMN class_data.fct_session_attendance.student_name IS 'The person''s name from the roster (null if on no roster).';

COMMENT ON COLUMN class_data.fct_session_attendance.email IS 'E-mail from the roster, else the attendance report.';

COMMENT ON COLUMN class_data.fct_session_attendance.ext_person_id IS 'External person id from the roster, else the attendance report.';

COMMENT ON COLUMN class_data.fct_session_attendance.enrollment_role IS 'Roster role at the session (student, assistant, teacher; student if on no roster).';

COMMENT ON COLUMN class_data.fct_session_attendance.person_type IS 'student or staff (teachers and assistants).';

COMMENT ON COLUMN class_data.fct_session_attendance.is_enrolled IS 'Whether the person was on the class roster at the session.';

COMMENT ON COLUMN class_data.fct_session_attendance.present IS 'The report''s present flag (joined).';

COMMENT ON COLUMN class_data.fct_session_attendance.tardy IS 'The report''s tardy flag.';

COMMENT ON COLUMN class_data.fct_session_attendance.join_time IS 'When the person joined (UTC; null if never).';

COMMENT ON COLUMN class_data.fct_session_attendance.leave_time IS 'When the person left (UTC; null if never joined or still in).';

COMMENT ON COLUMN class_data.fct_session_attendance.attended_seconds IS 'Join to leave clipped to the session window; 0 if never joined; null while the leave is not reported.';

COMMENT ON COLUMN class_data.fct_session_attendance.attended_ratio IS 'attended_seconds / session_seconds.';
