CREATE OR REPLACE VIEW class_data.stg_class__classes AS
WITH source AS (
  SELECT
    *
  FROM class_data.classes
), typed AS (
  SELECT
    CAST(class_id AS STRING) AS class_id,
    CAST(ext_class_id AS STRING) AS ext_class_id,
    CAST(class_name AS STRING) AS class_name,
    CAST(class_description AS STRING) AS class_description,
    CAST(meeting_id AS STRING) AS meeting_id,
    CAST(host AS STRING) AS host_name,
    CAST(invite_link AS STRING) AS invite_link
  FROM source
), ranked AS (
  SELECT
    *,
    ROW_NUMBER() OVER (
      PARTITION BY class_id
      ORDER BY class_name NULLS LAST, meeting_id NULLS LAST, invite_link NULLS LAST
    ) AS duplicate_rank
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

ALTER VIEW class_data.stg_class__classes SET OPTIONS (description='Regular (scheduled) classes as listed by GET /classes: typed and deduplicated. The meeting password is left out on purpose: analysts never need it and models get shared widely.');
