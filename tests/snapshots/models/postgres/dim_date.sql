DROP TABLE IF EXISTS class_data.dim_date CASCADE;

CREATE TABLE class_data.dim_date AS
WITH schedules AS (
  SELECT
    *
  FROM class_data.stg_class__schedules
), sessions AS (
  SELECT
    *
  FROM class_data.int_class__sessions
), events AS (
  SELECT
    *
  FROM class_data.int_class__events
), scheduled_dates AS (
  SELECT
    CAST(scheduled_start_time AT TIME ZONE 'UTC' AS DATE) AS date_day
  FROM schedules
), known_dates AS (
  SELECT
    date_day
  FROM scheduled_dates
  UNION ALL
  SELECT
    session_date
  FROM sessions
  UNION ALL
  SELECT
    MIN(activity_date)
  FROM events
  UNION ALL
  SELECT
    MAX(activity_date)
  FROM events
), date_range AS (
  SELECT
    MIN(date_day) AS first_date,
    MAX(date_day) AS last_date
  FROM known_dates
), bounds AS (
  SELECT
    first_date - CAST(EXTRACT(ISODOW FROM first_date) AS INT) + 1 AS first_week_start,
    last_date
  FROM date_range
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
), day_offsets AS (
  SELECT
    ones.n + 10 * tens.n + 100 * hundreds.n + 1000 * thousands.n + 10000 * ten_thousands.n AS n
  FROM digits AS ones
  CROSS JOIN digits AS tens
  CROSS JOIN digits AS hundreds
  CROSS JOIN digits AS thousands
  CROSS JOIN digits AS ten_thousands
), dates AS (
  SELECT
    bounds.first_week_start + day_offsets.n AS date_day,
    bounds.first_week_start
  FROM bounds
  CROSS JOIN day_offsets
  WHERE
    day_offsets.n <= (
      CAST(bounds.last_date AS DATE) - CAST(bounds.first_week_start AS DATE)
    )
), scheduled_counts AS (
  SELECT
    date_day,
    COUNT(*) AS scheduled_sessions
  FROM scheduled_dates
  GROUP BY
    date_day
), calendar AS (
  SELECT
    date_day,
    date_day - CAST(EXTRACT(ISODOW FROM date_day) AS INT) + 1 AS week_start,
    first_week_start,
    CAST(EXTRACT(ISODOW FROM date_day) AS INT) AS day_of_week,
    CAST(EXTRACT(ISOYEAR FROM date_day) AS INT) AS iso_year,
    CAST(EXTRACT(WEEK FROM date_day) AS INT) AS iso_week,
    CAST(EXTRACT(YEAR FROM date_day) AS INT) AS calendar_year,
    CAST(EXTRACT(MONTH FROM date_day) AS INT) AS month_number,
    date_day - CAST(EXTRACT(DAY FROM date_day) AS INT) + 1 AS month_start
  FROM dates
)
SELECT
  calendar.date_day,
  calendar.week_start,
  calendar.iso_year,
  calendar.iso_week,
  calendar.calendar_year,
  calendar.month_number,
  calendar.month_start,
  calendar.day_of_week,
  calendar.day_of_week >= 6 AS is_weekend,
  CAST(CAST((
    CAST(calendar.week_start AS DATE) - CAST(calendar.first_week_start AS DATE)
  ) AS DOUBLE PRECISION) / 7 AS INT) + 1 AS school_week,
  COALESCE(scheduled_counts.scheduled_sessions, 0) AS scheduled_sessions
FROM calendar
LEFT JOIN scheduled_counts
  ON scheduled_counts.date_day = calendar.date_day;

COMMENT ON TABLE class_data.dim_date IS 'The calendar in the school''s time zone, one row per local date over the data''s range.';

COMMENT ON COLUMN class_data.dim_date.date_day IS 'The local date.';

COMMENT ON COLUMN class_data.dim_date.week_start IS 'Monday of its ISO week.';

COMMENT ON COLUMN class_data.dim_date.iso_year IS 'ISO year.';

COMMENT ON COLUMN class_data.dim_date.iso_week IS 'ISO week number.';

COMMENT ON COLUMN class_data.dim_date.calendar_year IS 'Calendar year.';

COMMENT ON COLUMN class_data.dim_date.month_number IS 'Month (1-12).';

COMMENT ON COLUMN class_data.dim_date.month_start IS 'First day of the month.';

COMMENT ON COLUMN class_data.dim_date.day_of_week IS 'ISO weekday (1 = Monday ... 7 = Sunday).';

COMMENT ON COLUMN class_data.dim_date.is_weekend IS 'Saturday or Sunday.';

COMMENT ON COLUMN class_data.dim_date.school_week IS 'Week number counted from the week of the first date (1, 2, ...).';

COMMENT ON COLUMN class_data.dim_date.scheduled_sessions IS 'Schedule entries starting that date.';
