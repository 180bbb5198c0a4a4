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
      ORDER BY session_end_time DESC NULLS LAST, session_id
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
    CAST(NULL AS TIMESTAMPTZ) AS session_start_time,
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
    CAST(NULL AS VARCHAR) AS student_id,
    CAST(NULL AS VARCHAR) AS email,
    CAST(NULL AS VARCHAR) AS ext_person_id,
    CAST(NULL AS VARCHAR) AS event_type,
    CAST(NULL AS VARCHAR) AS event_value,
    CAST(NULL AS TIMESTAMPTZ) AS event_start,
    CAST(NULL AS TIMESTAMPTZ) AS event_end,
    CAST(NULL AS BIGINT) AS event_duration_raw
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
    COALESCE(sessions.session_date, CAST(CONVERT_TIMEZONE('UTC', located.event_start) AS DATE)) AS activity_date,
    CASE
      WHEN located.session_id IS NULL
      THEN located.event_start
      ELSE GREATEST_IGNORE_NULLS(
        located.event_start,
        COALESCE(attendance.attended_from, sessions.session_start_time)
      )
    END AS counted_from,
    CASE
      WHEN located.session_id IS NULL
      THEN located.event_end
      ELSE LEAST_IGNORE_NULLS(located.event_end, COALESCE(attendance.attended_to, sessions.session_end_time))
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
    GREATEST_IGNORE_NULLS(clipped_end, counted_from) AS counted_to
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
  GREATEST_IGNORE_NULLS(DATEDIFF(MILLISECOND, event_start, event_end), 0) AS event_milliseconds,
  counted_from,
  counted_to,
  CASE WHEN reach IS NULL OR counted_from > reach THEN 1 ELSE 0 END AS starts_island,
  CASE
    WHEN reach IS NULL OR counted_from >= reach
    THEN DATEDIFF(MILLISECOND, counted_from, counted_to)
    ELSE GREATEST_IGNORE_NULLS(DATEDIFF(MILLISECOND, reach, counted_to), 0)
  END AS merged_milliseconds,
  event_duration_raw
FROM with_reach;

COMMENT ON TABLE class_data.int_class__events IS 'Every activity event with its session (or none), local activity date, counted part and merged time.';
