DROP TABLE IF EXISTS class_data.int_class__sessions CASCADE;

CREATE TABLE class_data.int_class__sessions AS
WITH attendance AS (
  SELECT
    *
  FROM class_data.stg_class__attendance
), windows AS (
  SELECT
    class_id,
    session_id,
    MIN(session_start_time) AS session_start_time,
    MAX(session_end_time) AS session_end_time
  FROM attendance
  GROUP BY
    class_id,
    session_id
)
SELECT
  class_id,
  session_id,
  session_start_time,
  session_end_time,
  CAST(CAST(ROUND(EXTRACT(EPOCH FROM (
    session_end_time - session_start_time
  )) * 1000) AS BIGINT) AS DOUBLE PRECISION) / 1000.0 AS session_seconds
FROM windows;
