CREATE OR REPLACE VIEW class_data.stg_class__attendance AS
WITH source AS (
  SELECT
    *
  FROM class_data.attendance
), typed AS (
  SELECT
    CAST(class_id AS VARCHAR) AS class_id,
    CAST(session_id AS VARCHAR) AS session_id,
    CAST(session_start_time AS TIMESTAMPTZ) AS session_start_time,
    CAST(session_end_time AS TIMESTAMPTZ) AS session_end_time,
    CAST(student_id AS VARCHAR) AS student_id,
    CAST(email AS VARCHAR) AS email,
    CAST(ext_person_id AS VARCHAR) AS ext_person_id,
    CAST(present AS BOOLEAN) AS present,
    CAST(tardy AS BOOLEAN) AS tardy,
    CAST(join_time AS TIMESTAMPTZ) AS join_time,
    CAST(leave_time AS TIMESTAMPTZ) AS leave_time
  FROM source
), ranked AS (
  SELECT
    *,
    ROW_NUMBER() OVER (PARTITION BY class_id, session_id, student_id ORDER BY join_time, leave_time) AS duplicate_rank
  FROM typed
)
SELECT
  class_id,
  session_id,
  session_start_time,
  session_end_time,
  student_id,
  email,
  ext_person_id,
  present,
  tardy,
  join_time,
  leave_time
FROM ranked
WHERE
  duplicate_rank = 1;

COMMENT ON VIEW class_data.stg_class__attendance IS 'Attendance of every started session from GET /reporting/attendance, one row per class, session and rostered student: typed and deduplicated. A student still in a live session has a null leave_time.';
