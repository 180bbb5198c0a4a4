CREATE OR REPLACE TABLE class_data.dim_date AS
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
    CAST(TIMESTAMP(DATETIME(scheduled_start_time, 'UTC')) AS DATE) AS date_day
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
    first_date - CAST(EXTRACT(ISODOW FROM first_date) AS INT64) + 1 AS first_week_start,
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
    day_offsets.n <= DATE_DIFF(bounds.last_date, bounds.first_week_start, DAY)
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
    date_day - CAST(EXTRACT(ISODOW FROM date_day) AS INT64) + 1 AS week_start,
    first_week_start,
    CAST(EXTRACT(ISODOW FROM date_day) AS INT64) AS day_of_week,
    CAST(EXTRACT(ISOYEAR FROM date_day) AS INT64) AS iso_year,
    CAST(EXTRACT(WEEK FROM date_day) AS INT64) AS iso_week,
    CAST(EXTRACT(YEAR FROM date_day) AS INT64) AS calendar_year,
    CAST(EXTRACT(MONTH FROM date_day) AS INT64) AS month_number,
    date_day - CAST(EXTRACT(DAY FROM date_day) AS INT64) + 1 AS month_start
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
  CAST(DATE_DIFF(calendar.week_start, calendar.first_week_start, DAY) / 7 AS INT64) + 1 AS school_week,
  COALESCE(scheduled_counts.scheduled_sessions, 0) AS scheduled_sessions
FROM calendar
LEFT JOIN scheduled_counts
  ON scheduled_counts.date_day = calendar.date_day;

ALTER TABLE class_data.dim_date SET OPTIONS (description='The calendar in the school\'s time zone, one row per local date over the data\'s range.');

ALTER TABLE class_data.dim_date ALTER COLUMN date_day SET OPTIONS (description='The local date.');

ALTER TABLE class_data.dim_date ALTER COLUMN week_start SET OPTIONS (description='Monday of its ISO week.');

ALTER TABLE class_data.dim_date ALTER COLUMN iso_year SET OPTIONS (description='ISO year.');

ALTER TABLE class_data.dim_date ALTER COLUMN iso_week SET OPTIONS (description='ISO week number.');

ALTER TABLE class_data.dim_date ALTER COLUMN calendar_year SET OPTIONS (description='Calendar year.');

ALTER TABLE class_data.dim_date ALTER COLUMN month_number SET OPTIONS (description='Month (1-12).');

ALTER TABLE class_data.dim_date ALTER COLUMN month_start SET OPTIONS (description='First day of the month.');

ALTER TABLE class_data.dim_date ALTER COLUMN day_of_week SET OPTIONS (description='ISO weekday (1 = Monday ... 7 = Sunday).');

ALTER TABLE class_data.dim_date ALTER COLUMN is_weekend SET OPTIONS (description='Saturday or Sunday.');

ALTER TABLE class_data.dim_date ALTER COLUMN school_week SET OPTIONS (description='Week number counted from the week of the first date (1, 2, ...).');

ALTER TABLE class_data.dim_date ALTER COLUMN scheduled_sessions SET OPTIONS (description='Schedule entries starting that date.');
