CREATE OR REPLACE TABLE class_data.int_class__as_of AS
WITH attendance AS (
  SELECT
    *
  FROM class_data.stg_class__attendance
), events AS (
  SELECT
    *
  FROM class_data.stg_class__metrics
), reported AS (
  SELECT
    MAX(session_start_time) AS reported_at
  FROM attendance
  UNION ALL
  SELECT
    MAX(join_time)
  FROM attendance
  UNION ALL
  SELECT
    MAX(leave_time)
  FROM attendance
  UNION ALL
  SELECT
    MAX(event_end)
  FROM events
)
SELECT
  COALESCE(MAX(reported_at), CURRENT_TIMESTAMP()) AS as_of
FROM reported;
