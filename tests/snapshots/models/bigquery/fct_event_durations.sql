CREATE OR REPLACE TABLE class_data.fct_event_durations AS
WITH events AS (
  SELECT
    *
  FROM class_data.int_class__events
)
SELECT
  class_id,
  session_id,
  student_id,
  event_type,
  event_value,
  COUNT(*) AS event_count,
  SUM(event_milliseconds) / 1000.0 AS total_seconds,
  SUM(merged_milliseconds) / 1000.0 AS merged_seconds,
  SUM(starts_island) AS islands,
  MIN(event_start) AS first_event_start,
  MAX(event_start) AS last_event_start,
  MAX(event_end) AS last_event_end
FROM events
GROUP BY
  class_id,
  session_id,
  student_id,
  event_type,
  event_value;
