CREATE OR REPLACE VIEW class_data.stg_class__deferred_classes AS
WITH source AS (
  SELECT
    *
  FROM class_data.deferred_classes
), typed AS (
  SELECT
    CAST(class_deferred_id AS INT64) AS class_deferred_id,
    CAST(class_id AS STRING) AS class_id,
    CAST(ext_class_id AS STRING) AS ext_class_id,
    CAST(email AS STRING) AS instructor_email,
    CAST(class_name AS STRING) AS class_name,
    CAST(class_description AS STRING) AS class_description,
    CAST(created_at AS TIMESTAMP) AS created_at,
    CAST(updated_at AS TIMESTAMP) AS updated_at
  FROM source
), ranked AS (
  SELECT
    *,
    ROW_NUMBER() OVER (PARTITION BY class_deferred_id ORDER BY updated_at DESC, class_id NULLS LAST) AS duplicate_rank
  FROM typed
)
SELECT
  class_deferred_id,
  class_id,
  ext_class_id,
  instructor_email,
  class_name,
  class_description,
  created_at,
  updated_at
FROM ranked
WHERE
  duplicate_rank = 1;

ALTER VIEW class_data.stg_class__deferred_classes SET OPTIONS (description='Deferred classes (created without session times) from GET /classes?deferred=true: typed and deduplicated.');
