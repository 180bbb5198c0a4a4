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
    THEN CAST(roster_counts.present_students AS DOUBLE) / NULLIF(roster_counts.roster_students, 0)
  END AS attendance_rate
FROM sessions
INNER JOIN roster_counts
  ON roster_counts.class_id = sessions.class_id
  AND roster_counts.session_id = sessions.session_id
LEFT JOIN classes
  ON classes.class_id = sessions.class_id;

COMMENT ON TABLE class_data.dim_sessions IS 'Every started session with its window, local date, status and student turnout.';

COMMENT ON COLUMN class_data.dim_sessions.class_id IS 'The class.';

COMMENT ON COLUMN class_data.dim_sessions.class_name IS 'The class\'s name.';

COMMENT ON COLUMN class_data.dim_sessions.session_id IS 'The session.';

COMMENT ON COLUMN class_data.dim_sessions.session_date IS 'Local date of the session start.';

COMMENT ON COLUMN class_data.dim_sessions.session_status IS 'held or live.';

COMMENT ON COLUMN class_data.dim_sessions.session_start_time IS 'Session start (UTC).';

COMMENT ON COLUMN class_data.dim_sessions.session_end_time IS 'Session end (UTC).';

COMMENT ON COLUMN class_data.dim_sessions.session_seconds IS 'Session length in seconds.';

COMMENT ON COLUMN class_data.dim_sessions.roster_students IS 'Students on the session\'s attendance report.';

COMMENT ON COLUMN class_data.dim_sessions.present_students IS 'Of them, present.';

COMMENT ON COLUMN class_data.dim_sessions.tardy_students IS 'Of them, tardy.';

COMMENT ON COLUMN class_data.dim_sessions.staff_present IS 'Teachers and assistants on the report who came.';

COMMENT ON COLUMN class_data.dim_sessions.attendance_rate IS 'present_students / roster_students, held sessions only.';
