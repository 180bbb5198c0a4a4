CREATE OR REPLACE VIEW class_data.stg_class__classes AS
WITH source AS (
  SELECT
    *
  FROM class_data.classes
), typed AS (
  SELECT
    CAST(class_id AS VARCHAR) AS class_id,
    CAST(ext_class_id AS VARCHAR) AS ext_class_id,
    CAST(class_name AS VARCHAR) AS class_name,
    CAST(class_description AS VARCHAR) AS class_description,
    CAST(meeting_id AS VARCHAR) AS meeting_id,
    CAST(host AS VARCHAR) AS host_name,
    CAST(invite_link AS VARCHAR) AS invite_link
  FROM source
), ranked AS (
  SELECT
    *,
    ROW_NUMBER() OVER (PARTITION BY class_id ORDER BY class_name, meeting_id, invite_link) AS duplicate_rank
  FROM typed
)
SELECT
  class_id,
  ext_class_id,
  class_name,
  class_description,
  meeting_id,
  host_name,
  invite_link
FROM ranked
WHERE
  duplicate_rank = 1;

COMMENT ON VIEW class_data.stg_class__classes IS 'Regular (scheduled) classes as listed by GET /classes: typed and deduplicated. The meeting password is left out on purpose: analysts never need it and models get shared widely.';
