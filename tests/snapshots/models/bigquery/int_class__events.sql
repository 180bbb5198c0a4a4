CREATE OR REPLACE TABLE class_data.int_class__events AS
WITH events AS (
  SELECT
    *
  FROM class_data.stg_class__metrics
), sessions AS (
  SELECT
    *
  FROM class_data.int_class__sessions
), attendance AS (
  SELECT
    *
  FROM class_data.int_class__session_attendance
), ranked_starts AS (
  SELECT
    class_id,
    session_id,
    session_start_time,
    session_end_time,
    attribution_start,
    session_date,
    ROW_NUMBER() OVER (
      PARTITION BY class_id, session_start_time
      ORDER BY session_end_time DESC, session_id NULLS LAST
    ) AS start_rank
  FROM sessions
), session_starts AS (
  SELECT
    *
  FROM ranked_starts
  WHERE
    start_rank = 1
), timeline AS (
  SELECT
    class_id,
    event_start AS at_time,
    1 AS is_event,
    CAST(NULL AS TIMESTAMP) AS session_start_time,
    student_id,
    email,
    ext_person_id,
    event_type,
    event_value,
    event_start,
    event_end,
    event_duration_raw
  FROM events
  UNION ALL
  SELECT
    class_id,
    session_start_time AS at_time,
    0 AS is_event,
    session_start_time,
    CAST(NULL AS STRING) AS student_id,
    CAST(NULL AS STRING) AS email,
    CAST(NULL AS STRING) AS ext_person_id,
    CAST(NULL AS STRING) AS event_type,
    CAST(NULL AS STRING) AS event_value,
    CAST(NULL AS TIMESTAMP) AS event_start,
    CAST(NULL AS TIMESTAMP) AS event_end,
    CAST(NULL AS INT64) AS event_duration_raw
  FROM session_starts
), neighbours AS (
  SELECT
    *,
    MAX(session_start_time) OVER (
      PARTITION BY class_id
      ORDER BY at_time, is_event
      rows BETWEEN UNBOUNDED preceding AND CURRENT ROW
    ) AS previous_start,
    MIN(session_start_time) OVER (
      PARTITION BY class_id
      ORDER BY at_time, is_event
      rows BETWEEN CURRENT ROW AND UNBOUNDED following
    ) AS next_start
  FROM timeline
), located AS (
  SELECT
    neighbours.class_id,
    neighbours.student_id,
    neighbours.email,
    neighbours.ext_person_id,
    neighbours.event_type,
    neighbours.event_value,
    neighbours.event_start,
    neighbours.event_end,
    neighbours.event_duration_raw,
    CASE
      WHEN neighbours.event_start < previous_session.session_end_time
      THEN previous_session.session_id
      WHEN neighbours.event_start >= next_session.attribution_start
      THEN next_session.session_id
    END AS session_id
  FROM neighbours
  LEFT JOIN session_starts AS previous_session
    ON previous_session.class_id = neighbours.class_id
    AND previous_session.session_start_time = neighbours.previous_start
  LEFT JOIN session_starts AS next_session
    ON next_session.class_id = neighbours.class_id
    AND next_session.session_start_time = neighbours.next_start
  WHERE
    neighbours.is_event = 1
), counted AS (
  SELECT
    located.*,
    COALESCE(
      sessions.session_date,
      CAST(TIMESTAMP(DATETIME(located.event_start, 'UTC')) AS DATE)
    ) AS activity_date,
    CASE
      WHEN located.session_id IS NULL
      THEN located.event_start
      ELSE GREATEST(
        located.event_start,
        COALESCE(attendance.attended_from, sessions.session_start_time)
      )
    END AS counted_from,
    CASE
      WHEN located.session_id IS NULL
      THEN located.event_end
      ELSE LEAST(located.event_end, COALESCE(attendance.attended_to, sessions.session_end_time))
    END AS clipped_end
  FROM located
  LEFT JOIN sessions
    ON sessions.class_id = located.class_id AND sessions.session_id = located.session_id
  LEFT JOIN attendance
    ON attendance.class_id = located.class_id
    AND attendance.session_id = located.session_id
    AND attendance.student_id = located.student_id
), bounded AS (
  SELECT
    *,
    GREATEST(clipped_end, counted_from) AS counted_to
  FROM counted
), with_reach AS (
  SELECT
    *,
    MAX(counted_to) OVER (
      PARTITION BY class_id, session_id, activity_date, student_id, event_type, event_value
      ORDER BY counted_from, counted_to
      rows BETWEEN UNBOUNDED preceding AND 1 preceding
    ) AS reach
  FROM bounded
)
SELECT
  class_id,
  session_id,
  activity_date,
  student_id,
  email,
  ext_person_id,
  event_type,
  event_value,
  event_start,
  event_end,
  GREATEST(TIMESTAMP_DIFF(event_end, event_start, MILLISECOND), 0) AS event_milliseconds,
  counted_from,
  counted_to,
  CASE WHEN reach IS NULL OR counted_from > reach THEN 1 ELSE 0 END AS starts_island,
  CASE
    WHEN reach IS NULL OR counted_from >= reach
    THEN TIMESTAMP_DIFF(counted_to, counted_from, MILLISECOND)
    ELSE GREATEST(TIMESTAMP_DIFF(counted_to, reach, MILLISECOND), 0)
  END AS merged_milliseconds,
  event_duration_raw
FROM with_reach;

ALTER TABLE class_data.int_class__events SET OPTIONS (description='Every activity event with its session (or none), local activity date, counted part and merged time.');
