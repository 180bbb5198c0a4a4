DROP TABLE IF EXISTS class_data.fct_event_durations CASCADE;

CREATE TABLE class_data.fct_event_durations AS
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
  CAST(SUM(event_milliseconds) AS DOUBLE PRECISION) / 1000.0 AS total_seconds,
  CAST(SUM(merged_milliseconds) AS DOUBLE PRECISION) / 1000.0 AS merged_seconds,
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
