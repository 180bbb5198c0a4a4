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

COMMENT ON TABLE class_data.int_class__sessions IS 'One row per started class session with its time window, taken from the attendance report (the only source of session ids), and its status at the data\'s as-of time (int_class__as_of): \'live\' while its end is still ahead, else \'held\'. Every roster row repeats the window; min/max keeps one window even if rows disagree. attribution_start is the start widened by the join-before-host allowance (model_setting, 10 minutes by default): events from then on may belong to the session (see int_class__events).';
