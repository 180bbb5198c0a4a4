DROP VIEW IF EXISTS class_data.stg_class__deferred_classes CASCADE;

CREATE VIEW class_data.stg_class__deferred_classes AS
WITH source AS (
  SELECT
    *
  FROM class_data.deferred_classes
), typed AS (
  SELECT
    CAST(class_deferred_id AS BIGINT) AS class_deferred_id,
    CAST(class_id AS TEXT) AS class_id,
    CAST(ext_class_id AS TEXT) AS ext_class_id,
    CAST(email AS TEXT) AS instructor_email,
    CAST(class_name AS TEXT) AS class_name,
    CAST(class_description AS TEXT) AS class_description,
    CAST(created_at AS TIMESTAMPTZ) AS created_at,
    CAST(updated_at AS TIMESTAMPTZ) AS updated_at
  FROM source
), ranked AS (
  SELECT
    *,
    ROW_NUMBER() OVER (PARTITION BY class_deferred_id ORDER BY updated_at DESC NULLS LAST, class_id) AS duplicate_rank
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

COMMENT ON VIEW class_data.stg_class__deferred_classes IS 'Deferred classes (created without session times) from GET /classes?deferred=true: typed and deduplicated.';
