CREATE OR REPLACE TABLE class_data.int_class__events AS
WITH events AS (
  SELECT
    *
  FROM class_data.stg_class__metrics
), sessions AS (
  SELECT
    *
  FROM class_data.int_class__sessions
), session_matches AS (
  SELECT
    events.*,
    sessions.session_id,
    ROW_NUMBER() OVER (
      PARTITION BY events.class_id, events.student_id, events.event_type, events.event_start
      ORDER BY sessions.session_start_time DESC NULLS LAST, sessions.session_id
    ) AS match_rank
  FROM events
  LEFT JOIN sessions
    ON sessions.class_id = events.class_id
    AND events.event_start >= sessions.session_start_time
    AND events.event_start < sessions.session_end_time
), sessionized AS (
  SELECT
    *
  FROM session_matches
  WHERE
    match_rank = 1
), with_reach AS (
  SELECT
    *,
    MAX(event_end) OVER (
      PARTITION BY class_id, session_id, student_id, event_type, event_value
      ORDER BY event_start, event_end
      rows BETWEEN UNBOUNDED preceding AND 1 preceding
    ) AS reach
  FROM sessionized
)
SELECT
  class_id,
  session_id,
  student_id,
  email,
  ext_person_id,
  event_type,
  event_value,
  event_start,
  event_end,
  GREATEST_IGNORE_NULLS(DATEDIFF(MILLISECOND, event_start, event_end), 0) AS event_milliseconds,
  CASE WHEN reach IS NULL OR event_start > reach THEN 1 ELSE 0 END AS starts_island,
  CASE
    WHEN reach IS NULL OR event_start >= reach
    THEN GREATEST_IGNORE_NULLS(DATEDIFF(MILLISECOND, event_start, event_end), 0)
    ELSE GREATEST_IGNORE_NULLS(DATEDIFF(MILLISECOND, reach, event_end), 0)
  END AS merged_milliseconds,
  event_duration_raw
FROM with_reach;
