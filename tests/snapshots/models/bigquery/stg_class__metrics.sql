CREATE OR REPLACE VIEW class_data.stg_class__metrics AS
WITH source AS (
  SELECT
    *
  FROM class_data.metrics
), typed AS (
  SELECT
    CAST(class_id AS STRING) AS class_id,
    CAST(student_id AS STRING) AS student_id,
    CAST(email AS STRING) AS email,
    CAST(ext_person_id AS STRING) AS ext_person_id,
    CAST(event_type AS STRING) AS event_type,
    NULLIF(CAST(event_value AS STRING), '') AS event_value,
    CAST(event_start AS TIMESTAMP) AS event_start,
    CAST(event_end AS TIMESTAMP) AS event_end,
    CAST(event_duration AS INT64) AS event_duration_raw
  FROM source
)
SELECT
  class_id,
  student_id,
  MAX(email) AS email,
  MAX(ext_person_id) AS ext_person_id,
  event_type,
  event_value,
  event_start,
  MAX(event_end) AS event_end,
  MAX(event_duration_raw) AS event_duration_raw
FROM typed
GROUP BY
  class_id,
  student_id,
  event_type,
  event_start,
  event_value;

ALTER VIEW class_data.stg_class__metrics SET OPTIONS (description='In-class activity events from GET /reporting/metrics: typed and deduplicated. Two events of one student and type at the same instant with different values are two events. A missing value (the loader lands the API\'s null as \'\') is null here, \'\' and null alike. `event_duration_raw` is the API\'s own duration field, kept as reported but not trusted: the documented example reports 36000 for a 600-second event. Durations downstream come from event_end - event_start.');
