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
), people AS (
  SELECT
    *
  FROM class_data.stg_class__metrics_people
), classes AS (
  SELECT DISTINCT
    class_id,
    class_key
  FROM people
), ranked_starts AS (
  SELECT
    class_id,
    session_id,
    session_start_time,
    session_end_time,
    session_date,
    ROW_NUMBER() OVER (
      PARTITION BY class_id, session_start_time
      ORDER BY session_end_time DESC, session_id NULLS LAST
    ) AS start_rank
  FROM sessions
), keyed_sessions AS (
  SELECT
    classes.class_key,
    ROW_NUMBER() OVER (
      ORDER BY ranked_starts.class_id NULLS LAST, ranked_starts.session_start_time NULLS LAST
    ) AS session_key,
    ranked_starts.session_id,
    ranked_starts.session_start_time,
    ranked_starts.session_end_time,
    ranked_starts.session_date
  FROM ranked_starts
  INNER JOIN classes
    ON classes.class_id = ranked_starts.class_id
  WHERE
    ranked_starts.start_rank = 1
), neighbours AS (
  SELECT
    class_key,
    session_key,
    session_start_time,
    session_end_time,
    session_date,
    LAG(session_end_time) OVER (PARTITION BY class_key ORDER BY session_start_time NULLS LAST) AS previous_end,
    LEAD(session_start_time) OVER (PARTITION BY class_key ORDER BY session_start_time NULLS LAST) AS next_start
  FROM keyed_sessions
), claims AS (
  SELECT
    class_key,
    session_key,
    session_start_time,
    session_end_time,
    session_date,
    CASE
      WHEN previous_end IS NULL
      THEN session_start_time - INTERVAL '10' MINUTE
      ELSE LEAST(
        session_start_time,
        GREATEST(session_start_time - INTERVAL '10' MINUTE, previous_end)
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
    *,
    CAST(FLOOR(
      TIMESTAMP_DIFF(claim_start, CAST('1970-01-01 00:00:00+00' AS TIMESTAMP), MILLISECOND) / 3600000.0
    ) AS INT64) AS first_hour,
    CAST(FLOOR(
      (
        TIMESTAMP_DIFF(claim_end, CAST('1970-01-01 00:00:00+00' AS TIMESTAMP), MILLISECOND) - 1
      ) / 3600000.0
    ) AS INT64) AS last_hour
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
    claim_hours.class_key,
    claim_hours.session_key,
    claim_hours.session_start_time,
    claim_hours.session_end_time,
    claim_hours.session_date,
    claim_hours.claim_start,
    claim_hours.claim_end,
    claim_hours.first_hour + hour_offsets.n AS hour_bucket
  FROM claim_hours
  INNER JOIN hour_offsets
    ON hour_offsets.n <= claim_hours.last_hour - claim_hours.first_hour
), keyed_attendance AS (
  SELECT
    people.person_key,
    keyed_sessions.session_key,
    attendance.attended_from,
    attendance.attended_to
  FROM attendance
  INNER JOIN people
    ON people.class_id = attendance.class_id
    AND people.student_id = attendance.student_id
  INNER JOIN keyed_sessions
    ON keyed_sessions.session_id = attendance.session_id
    AND keyed_sessions.class_key = people.class_key
), keyed_events AS (
  SELECT
    people.person_key,
    people.class_key,
    events.event_type,
    events.event_value,
    events.event_start,
    events.event_end
  FROM events
  INNER JOIN people
    ON people.class_id = events.class_id AND people.student_id = events.student_id
), located AS (
  SELECT
    keyed_events.*,
    session_hours.session_key,
    session_hours.session_start_time,
    session_hours.session_end_time,
    session_hours.session_date
  FROM keyed_events
  LEFT JOIN session_hours
    ON session_hours.class_key = keyed_events.class_key
    AND session_hours.hour_bucket = CAST(FLOOR(
      TIMESTAMP_DIFF(keyed_events.event_start, CAST('1970-01-01 00:00:00+00' AS TIMESTAMP), MILLISECOND) / 3600000.0
    ) AS INT64)
    AND keyed_events.event_start >= session_hours.claim_start
    AND keyed_events.event_start < session_hours.claim_end
), counted AS (
  SELECT
    located.person_key,
    located.session_key,
    located.event_type,
    located.event_value,
    located.event_start,
    located.event_end,
    COALESCE(
      located.session_date,
      CAST(TIMESTAMP(DATETIME(located.event_start, 'UTC')) AS DATE)
    ) AS activity_date,
    CASE
      WHEN located.session_key IS NULL
      THEN located.event_start
      ELSE GREATEST(
        located.event_start,
        COALESCE(keyed_attendance.attended_from, located.session_start_time)
      )
    END AS counted_from,
    CASE
      WHEN located.session_key IS NULL
      THEN located.event_end
      ELSE LEAST(
        located.event_end,
        COALESCE(keyed_attendance.attended_to, located.session_end_time)
      )
    END AS clipped_end
  FROM located
  LEFT JOIN keyed_attendance
    ON keyed_attendance.person_key = located.person_key
    AND keyed_attendance.session_key = located.session_key
), bounded AS (
  SELECT
    *,
    GREATEST(clipped_end, counted_from) AS counted_to
  FROM counted
), with_reach AS (
  SELECT
    *,
    MAX(counted_to) OVER (
      PARTITION BY person_key, event_type, event_value, session_key, activity_date
      ORDER BY counted_from, counted_to
      rows BETWEEN UNBOUNDED preceding AND 1 preceding
    ) AS reach
  FROM bounded
)
SELECT
  people.class_id,
  keyed_sessions.session_id,
  with_reach.activity_date,
  people.student_id,
  with_reach.event_type,
  with_reach.event_value,
  with_reach.event_start,
  with_reach.event_end,
  GREATEST(TIMESTAMP_DIFF(with_reach.event_end, with_reach.event_start, MILLISECOND), 0) AS event_milliseconds,
  with_reach.counted_from,
  with_reach.counted_to,
  CASE
    WHEN with_reach.reach IS NULL OR with_reach.counted_from > with_reach.reach
    THEN 1
    ELSE 0
  END AS starts_island,
  CASE
    WHEN with_reach.reach IS NULL OR with_reach.counted_from >= with_reach.reach
    THEN TIMESTAMP_DIFF(with_reach.counted_to, with_reach.counted_from, MILLISECOND)
    ELSE GREATEST(TIMESTAMP_DIFF(with_reach.counted_to, with_reach.reach, MILLISECOND), 0)
  END AS merged_milliseconds
FROM with_reach
INNER JOIN people
  ON people.person_key = with_reach.person_key
LEFT JOIN keyed_sessions
  ON keyed_sessions.session_key = with_reach.session_key;

ALTER TABLE class_data.int_class__events SET OPTIONS (description='Every activity event with its session (or none), local activity date, counted part and merged time.');
