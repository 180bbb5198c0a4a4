DROP TABLE IF EXISTS class_data.int_class__events CASCADE;

CREATE TABLE class_data.int_class__events AS
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
    session_date,
    ROW_NUMBER() OVER (
      PARTITION BY class_id, session_start_time
      ORDER BY session_end_time DESC NULLS LAST, session_id
    ) AS start_rank
  FROM sessions
), neighbours AS (
  SELECT
    class_id,
    session_id,
    session_start_time,
    session_end_time,
    session_date,
    LAG(session_end_time) OVER (PARTITION BY class_id ORDER BY session_start_time) AS previous_end,
    LEAD(session_start_time) OVER (PARTITION BY class_id ORDER BY session_start_time) AS next_start
  FROM ranked_starts
  WHERE
    start_rank = 1
), claims AS (
  SELECT
    class_id,
    session_id,
    session_start_time,
    session_end_time,
    session_date,
    CASE
      WHEN previous_end IS NULL
      THEN session_start_time - INTERVAL '10 MINUTE'
      ELSE LEAST(
        session_start_time,
        GREATEST(session_start_time - INTERVAL '10 MINUTE', previous_end)
      )
    END AS claim_start,
    CASE
      WHEN next_start IS NULL
      THEN session_end_time
      ELSE LEAST(session_end_time, next_start)
    END AS claim_end
  FROM neighbours
), claim_hours AS (
  SELECT
    class_id,
    session_id,
    session_start_time,
    session_end_time,
    session_date,
    claim_start,
    claim_end,
    CAST(FLOOR(
      CAST(CAST(ROUND(
        EXTRACT(EPOCH FROM (
          claim_start - CAST('1970-01-01 00:00:00+00' AS TIMESTAMPTZ)
        )) * 1000
      ) AS BIGINT) AS DOUBLE PRECISION) / 3600000.0
    ) AS BIGINT) AS first_hour,
    CAST(FLOOR(
      CAST((
        CAST(ROUND(
          EXTRACT(EPOCH FROM (
            claim_end - CAST('1970-01-01 00:00:00+00' AS TIMESTAMPTZ)
          )) * 1000
        ) AS BIGINT) - 1
      ) AS DOUBLE PRECISION) / 3600000.0
    ) AS BIGINT) AS last_hour
  FROM claims
  WHERE
    claim_start < claim_end
), digits AS (
  SELECT
    0 AS n
  UNION ALL
  SELECT
    1
  UNION ALL
  SELECT
    2
  UNION ALL
  SELECT
    3
  UNION ALL
  SELECT
    4
  UNION ALL
  SELECT
    5
  UNION ALL
  SELECT
    6
  UNION ALL
  SELECT
    7
  UNION ALL
  SELECT
    8
  UNION ALL
  SELECT
    9
), hour_offsets AS (
  SELECT
    ones.n + 10 * tens.n + 100 * hundreds.n + 1000 * thousands.n AS n
  FROM digits AS ones
  CROSS JOIN digits AS tens
  CROSS JOIN digits AS hundreds
  CROSS JOIN digits AS thousands
), session_hours AS (
  SELECT
    claim_hours.class_id,
    claim_hours.session_id,
    claim_hours.session_start_time,
    claim_hours.session_end_time,
    claim_hours.session_date,
    claim_hours.claim_start,
    claim_hours.claim_end,
    claim_hours.first_hour + hour_offsets.n AS hour_bucket
  FROM claim_hours
  INNER JOIN hour_offsets
    ON hour_offsets.n <= claim_hours.last_hour - claim_hours.first_hour
), located AS (
  SELECT
    events.*,
    session_hours.session_id,
    session_hours.session_start_time,
    session_hours.session_end_time,
    session_hours.session_date
  FROM events
  LEFT JOIN session_hours
    ON session_hours.class_id = events.class_id
    AND session_hours.hour_bucket = CAST(FLOOR(
      CAST(CAST(ROUND(
        EXTRACT(EPOCH FROM (
          events.event_start - CAST('1970-01-01 00:00:00+00' AS TIMESTAMPTZ)
        )) * 1000
      ) AS BIGINT) AS DOUBLE PRECISION) / 3600000.0
    ) AS BIGINT)
    AND events.event_start >= session_hours.claim_start
    AND events.event_start < session_hours.claim_end
), counted AS (
  SELECT
    located.*,
    COALESCE(located.session_date, CAST(located.event_start AT TIME ZONE 'UTC' AS DATE)) AS activity_date,
    CASE
      WHEN located.session_id IS NULL
      THEN located.event_start
      ELSE GREATEST(
        located.event_start,
        COALESCE(attendance.attended_from, located.session_start_time)
      )
    END AS counted_from,
    CASE
      WHEN located.session_id IS NULL
      THEN located.event_end
      ELSE LEAST(located.event_end, COALESCE(attendance.attended_to, located.session_end_time))
    END AS clipped_end
  FROM located
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
      PARTITION BY class_id, student_id, event_type, event_value, session_id, activity_date
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
  event_type,
  event_value,
  event_start,
  event_end,
  GREATEST(CAST(ROUND(EXTRACT(EPOCH FROM (
    event_end - event_start
  )) * 1000) AS BIGINT), 0) AS event_milliseconds,
  counted_from,
  counted_to,
  CASE WHEN reach IS NULL OR counted_from > reach THEN 1 ELSE 0 END AS starts_island,
  CASE
    WHEN reach IS NULL OR counted_from >= reach
    THEN CAST(ROUND(EXTRACT(EPOCH FROM (
      counted_to - counted_from
    )) * 1000) AS BIGINT)
    ELSE GREATEST(CAST(ROUND(EXTRACT(EPOCH FROM (
      counted_to - reach
    )) * 1000) AS BIGINT), 0)
  END AS merged_milliseconds
FROM with_reach;

COMMENT ON TABLE class_data.int_class__events IS 'Every activity event with its session (or none), local activity date, counted part and merged time.';
