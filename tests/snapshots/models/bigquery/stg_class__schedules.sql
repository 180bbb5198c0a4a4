CREATE OR REPLACE VIEW class_data.stg_class__schedules AS
WITH source AS (
  SELECT
    *
  FROM class_data.schedules
), typed AS (
  SELECT
    CAST(schedule_id AS STRING) AS schedule_id,
    CAST(class_id AS STRING) AS class_id,
    CAST(start_time AS TIMESTAMP) AS scheduled_start_time,
    CAST(end_time AS TIMESTAMP) AS scheduled_end_time
  FROM source
), ranked AS (
  SELECT
    *,
    ROW_NUMBER() OVER (
      PARTITION BY schedule_id
      ORDER BY scheduled_start_time NULLS LAST, scheduled_end_time NULLS LAST
    ) AS duplicate_rank
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

ALTER VIEW class_data.stg_class__schedules SET OPTIONS (description='Scheduled class dates from GET /schedules: typed and deduplicated.');
