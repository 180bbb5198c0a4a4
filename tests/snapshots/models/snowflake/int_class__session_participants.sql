CREATE OR REPLACE TABLE class_data.int_class__session_participants AS
WITH attendance AS (
  SELECT
    *
  FROM class_data.int_class__session_attendance
), activity AS (
  SELECT
    *
  FROM class_data.int_class__session_activity
), sessions AS (
  SELECT
    *
  FROM class_data.int_class__sessions
), enrollments AS (
  SELECT
    *
  FROM class_data.int_class__roster_versions
), people_with_events AS (
  SELECT
    *
  FROM class_data.stg_class__metrics_people
), event_contacts AS (
  SELECT
    class_id,
    student_id,
    email,
    ext_person_id
  FROM people_with_events
), participants AS (
  SELECT
    class_id,
    session_id,
    student_id
  FROM attendance
  UNION
  SELECT
    class_id,
    session_id,
    student_id
  FROM activity
), roster AS (
  SELECT
    participants.class_id,
    participants.session_id,
    participants.student_id,
    enrollments.role,
    enrollments.user_name,
    enrollments.email,
    enrollments.ext_person_id
  FROM participants
  INNER JOIN sessions
    ON sessions.class_id = participants.class_id
    AND sessions.session_id = participants.session_id
  INNER JOIN enrollments
    ON enrollments.class_id = participants.class_id
    AND enrollments.student_id = participants.student_id
    AND (
      enrollments.stands_from IS NULL
      OR enrollments.stands_from <= sessions.session_start_time
    )
    AND (
      enrollments.valid_to IS NULL
      OR enrollments.valid_to > sessions.session_start_time
    )
)
SELECT
  participants.class_id,
  participants.session_id,
  participants.student_id,
  sessions.session_start_time,
  sessions.session_end_time,
  sessions.session_seconds,
  sessions.session_date,
  sessions.session_status,
  roster.user_name AS student_name,
  COALESCE(roster.email, attendance.email, event_contacts.email) AS email,
  COALESCE(roster.ext_person_id, attendance.ext_person_id, event_contacts.ext_person_id) AS ext_person_id,
  NOT roster.student_id IS NULL AS is_enrolled,
  COALESCE(roster.role, 'student') AS enrollment_role,
  CASE WHEN roster.role IN ('teacher', 'assistant') THEN 'staff' ELSE 'student' END AS person_type,
  NOT attendance.student_id IS NULL AS on_attendance_roster,
  CASE
    WHEN attendance.student_id IS NULL
    THEN TRUE
    ELSE COALESCE(attendance.present, FALSE)
  END AS attended,
  attendance.present,
  attendance.tardy,
  attendance.join_time,
  attendance.leave_time,
  CASE
    WHEN attendance.student_id IS NULL
    THEN NULL
    ELSE attendance.attended_milliseconds
  END AS attended_milliseconds
FROM participants
INNER JOIN sessions
  ON sessions.class_id = participants.class_id
  AND sessions.session_id = participants.session_id
LEFT JOIN attendance
  ON attendance.class_id = participants.class_id
  AND attendance.session_id = participants.session_id
  AND attendance.student_id = participants.student_id
LEFT JOIN event_contacts
  ON event_contacts.class_id = participants.class_id
  AND event_contacts.student_id = participants.student_id
LEFT JOIN roster
  ON roster.class_id = participants.class_id
  AND roster.session_id = participants.session_id
  AND roster.student_id = participants.student_id;

COMMENT ON TABLE class_data.int_class__session_participants IS 'One row per person and started session: everyone on the session\'s attendance report plus anyone with events in the session but missing from it, with their role at the time. enrollment_role: the roster version current at the session start (rosters are kept as dlt SCD2 history; a session older than the first version seen takes the earliest version: see int_class__roster_versions); a person on no roster at the time (never enrolled, or removed and not yet re-enrolled) falls back to \'student\', as the attendance report lists them with the class\'s students and \'student\' is the API\'s default role. person_type: \'staff\' for teachers and assistants, \'student\' otherwise (student metrics count person_type = \'student\' only).';
