CREATE OR REPLACE VIEW class_data.stg_class__templates AS
WITH source AS (
  SELECT
    *
  FROM class_data.templates
), typed AS (
  SELECT
    CAST(template_id AS STRING) AS template_id,
    CAST(name AS STRING) AS template_name,
    CAST(description AS STRING) AS template_description,
    CAST(status AS STRING) AS template_status
  FROM source
), ranked AS (
  SELECT
    *,
    ROW_NUMBER() OVER (
      PARTITION BY template_id
      ORDER BY template_name NULLS LAST, template_status NULLS LAST
    ) AS duplicate_rank
  FROM typed
)
SELECT
  template_id,
  template_name,
  template_description,
  template_status
FROM ranked
WHERE
  duplicate_rank = 1;

ALTER VIEW class_data.stg_class__templates SET OPTIONS (description='Class templates from GET /templates: typed and deduplicated.');
