CREATE OR REPLACE TABLE class_data.dim_sessions AS
WITH sessions AS (
  SELECT
    *
  FROM class_data.int_class__sessions
), participants AS (
  SELECT
    *
  FROM class_data.int_class__session_participants
  WHERE
    on_attendance_roster
), classes AS (
  SELECT
    *
  FROM class_data.dim_classes
), roster_counts AS (
  SELECT
    class_id,
    session_id,
    SUM(CASE WHEN person_type = 'student' THEN 1 ELSE 0 END) AS roster_students,
    SUM(CASE WHEN person_type = 'student' AND present THEN 1 ELSE 0 END) AS present_students,
    SUM(CASE WHEN person_type = 'student' AND tardy THEN 1 ELSE 0 END) AS tardy_students,
    SUM(CASE WHEN person_type = 'staff' AND present THEN 1 ELSE 0 END) AS staff_present
  FROM participants
  GROUP BY
    class_id,
    session_id
)
SELECT
  sessions.class_id,
  classes.class_name,
  sessions.session_id,
  sessions.session_date,
  sessions.session_status,
  sessions.session_start_time,
  sessions.session_end_time,
  sessions.session_seconds,
  roster_counts.roster_students,
  roster_counts.present_students,
  roster_counts.tardy_students,
  roster_counts.staff_present,
  CASE
    WHEN sessions.session_status = 'held'
    THEN CAST(roster_counts.present_students AS FLOAT64) / NULLIF(roster_counts.roster_students, 0)
  END AS attendance_rate
FROM sessions
INNER JOIN roster_counts
  ON roster_counts.class_id = sessions.class_id
  AND roster_counts.session_id = sessions.session_id
LEFT JOIN classes
  ON classes.class_id = sessions.class_id;

ALTER TABLE class_data.dim_sessions SET OPTIONS (description='Every started session with its window, local date, status and student turnout.');

ALTER TABLE class_data.dim_sessions ALTER COLUMN class_id SET OPTIONS (description='The class.');

ALTER TABLE class_data.dim_sessions ALTER COLUMN class_name SET OPTIONS (description='The class\'s name.');

ALTER TABLE class_data.dim_sessions ALTER COLUMN session_id SET OPTIONS (description='The session.');

ALTER TABLE class_data.dim_sessions ALTER COLUMN session_date SET OPTIONS (description='Local date of the session start.');

ALTER TABLE class_data.dim_sessions ALTER COLUMN session_status SET OPTIONS (description='held or live.');

ALTER TABLE class_data.dim_sessions ALTER COLUMN session_start_time SET OPTIONS (description='Session start (UTC).');

ALTER TABLE class_data.dim_sessions ALTER COLUMN session_end_time SET OPTIONS (description='Session end (UTC).');

ALTER TABLE class_data.dim_sessions ALTER COLUMN session_seconds SET OPTIONS (description='Session length in seconds.');

ALTER TABLE class_data.dim_sessions ALTER COLUMN roster_students SET OPTIONS (description='Students on the session\'s attendance report.');

ALTER TABLE class_data.dim_sessions ALTER COLUMN present_students SET OPTIONS (description='Of them, present.');

ALTER TABLE class_data.dim_sessions ALTER COLUMN tardy_students SET OPTIONS (description='Of them, tardy.');

ALTER TABLE class_data.dim_sessions ALTER COLUMN staff_present SET OPTIONS (description='Teachers and assistants on the report who came.');

ALTER TABLE class_data.dim_sessions ALTER COLUMN attendance_rate SET OPTIONS (description='present_students / roster_students, held sessions only.');
