CREATE OR REPLACE VIEW class_data.stg_class__schedules AS
WITH source AS (
  SELECT
    *
  FROM class_data.schedules
), typed AS (
  SELECT
    CAST(schedule_id AS VARCHAR) AS schedule_id,
    CAST(class_id AS VARCHAR) AS class_id,
    CAST(start_time AS TIMESTAMPTZ) AS scheduled_start_time,
    CAST(end_time AS TIMESTAMPTZ) AS scheduled_end_time
  FROM source
), ranked AS (
  SELECT
    *,
    ROW_NUMBER() OVER (PARTITION BY schedule_id ORDER BY scheduled_start_time, scheduled_end_time) AS duplicate_rank
  FROM typed
)
SELECT
  schedule_id,
  class_id,
  scheduled_start_time,
  scheduled_end_time
FROM ranked
WHERE
  duplicate_rank = 1;

COMMENT ON VIEW class_data.stg_class__schedules IS 'Scheduled class dates from GET /schedules: typed and deduplicated.';
