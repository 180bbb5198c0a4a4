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

ALTER TABLE class_data.fct_session_attendance SET OPTIONS (description='One row per person on a started session\'s attendance report, students and staff, with attended time.');

ALTER TABLE class_data.fct_session_attendance ALTER COLUMN class_id SET OPTIONS (description='The class (Class class_id).');

ALTER TABLE class_data.fct_session_attendance ALTER COLUMN class_name SET OPTIONS (description='The class\'s name (null for classes no longer listed).');

ALTER TABLE class_data.fct_session_attendance ALTER COLUMN session_id SET OPTIONS (description='The started session (from the attendance report).');

ALTER TABLE class_data.fct_session_attendance ALTER COLUMN session_date SET OPTIONS (description='Local date of the session start (school time zone).');

ALTER TABLE class_data.fct_session_attendance ALTER COLUMN session_status SET OPTIONS (description='held (ended by the data\'s as-of time) or live (still running).');

ALTER TABLE class_data.fct_session_attendance ALTER COLUMN session_start_time SET OPTIONS (description='Session start (UTC).');

ALTER TABLE class_data.fct_session_attendance ALTER COLUMN session_end_time SET OPTIONS (description='Session end (UTC).');

ALTER TABLE class_data.fct_session_attendance ALTER COLUMN session_seconds SET OPTIONS (description='Session length in seconds.');

ALTER TABLE class_data.fct_session_attendance ALTER COLUMN student_id SET OPTIONS (description='The person (the API calls everyone student_id, staff included).');

ALTER TABLE class_data.fct_session_attendance ALTER COLUMN student_name SET OPTIONS (description='The person\'s name from the roster (null if on no roster).');

ALTER TABLE class_data.fct_session_attendance ALTER COLUMN email SET OPTIONS (description='E-mail from the roster, else the attendance report.');

ALTER TABLE class_data.fct_session_attendance ALTER COLUMN ext_person_id SET OPTIONS (description='External person id from the roster, else the attendance report.');

ALTER TABLE class_data.fct_session_attendance ALTER COLUMN enrollment_role SET OPTIONS (description='Roster role at the session (student, assistant, teacher; student if on no roster).');

ALTER TABLE class_data.fct_session_attendance ALTER COLUMN person_type SET OPTIONS (description='student or staff (teachers and assistants).');

ALTER TABLE class_data.fct_session_attendance ALTER COLUMN is_enrolled SET OPTIONS (description='Whether the person was on the class roster at the session.');

ALTER TABLE class_data.fct_session_attendance ALTER COLUMN present SET OPTIONS (description='The report\'s present flag (joined).');

ALTER TABLE class_data.fct_session_attendance ALTER COLUMN tardy SET OPTIONS (description='The report\'s tardy flag.');

ALTER TABLE class_data.fct_session_attendance ALTER COLUMN join_time SET OPTIONS (description='When the person joined (UTC; null if never).');

ALTER TABLE class_data.fct_session_attendance ALTER COLUMN leave_time SET OPTIONS (description='When the person left (UTC; null if never joined or still in).');

ALTER TABLE class_data.fct_session_attendance ALTER COLUMN attended_seconds SET OPTIONS (description='Join to leave clipped to the session window; 0 if never joined; null while the leave is not reported.');

ALTER TABLE class_data.fct_session_attendance ALTER COLUMN attended_ratio SET OPTIONS (description='attended_seconds / session_seconds.');
