DROP TABLE IF EXISTS class_data.dim_sessions CASCADE;

CREATE TABLE class_data.dim_sessions AS
WITH sessions AS (
  SELECT
    *
  FROM class_data.int_class__sessions
), attendance AS (
  SELECT
    *
  FROM class_data.stg_class__attendance
), classes AS (
  SELECT
    *
  FROM class_data.dim_classes
), roster_counts AS (
  SELECT
    class_id,
    session_id,
    COUNT(*) AS roster_students,
    SUM(CASE WHEN present THEN 1 ELSE 0 END) AS present_students,
    SUM(CASE WHEN tardy THEN 1 ELSE 0 END) AS tardy_students
  FROM attendance
  GROUP BY
    class_id,
    session_id
)
SELECT
  sessions.class_id,
  classes.class_name,
  sessions.session_id,
  sessions.session_start_time,
  sessions.session_end_time,
  sessions.session_seconds,
  roster_counts.roster_students,
  roster_counts.present_students,
  roster_counts.tardy_students,
  CAST(roster_counts.present_students AS DOUBLE PRECISION) / NULLIF(roster_counts.roster_students, 0) AS attendance_rate
FROM sessions
INNER JOIN roster_counts
  ON roster_counts.class_id = sessions.class_id
  AND roster_counts.session_id = sessions.session_id
LEFT JOIN classes
  ON classes.class_id = sessions.class_id;
