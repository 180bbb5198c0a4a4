CREATE OR REPLACE TABLE class_data.int_class__sessions AS
WITH attendance AS (
  SELECT
    *
  FROM class_data.stg_class__attendance
), clock AS (
  SELECT
    *
  FROM class_data.int_class__as_of
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
  windows.class_id,
  windows.session_id,
  windows.session_start_time,
  windows.session_end_time,
  windows.session_start_time - INTERVAL '10 MINUTE' AS attribution_start,
  DATEDIFF(MILLISECOND, windows.session_start_time, windows.session_end_time) / 1000.0 AS session_seconds,
  CAST(CONVERT_TIMEZONE('UTC', windows.session_start_time) AS DATE) AS session_date,
  CASE WHEN windows.session_end_time > clock.as_of THEN 'live' ELSE 'held' END AS session_status
FROM windows
CROSS JOIN clock;
