CREATE OR REPLACE VIEW class_data.stg_class__enrollments AS
WITH source AS (
  SELECT
    *
  FROM class_data.enrollments
), typed AS (
  SELECT
    CAST(class_id AS STRING) AS class_id,
    CAST(student_id AS STRING) AS student_id,
    CAST(meeting_id AS STRING) AS meeting_id,
    CAST(user_name AS STRING) AS user_name,
    CAST(first_name AS STRING) AS first_name,
    CAST(last_name AS STRING) AS last_name,
    CAST(email AS STRING) AS email,
    CAST(ext_person_id AS STRING) AS ext_person_id,
    CAST(role AS STRING) AS role,
    CAST(_dlt_valid_from AS TIMESTAMP) AS valid_from,
    CAST(_dlt_valid_to AS TIMESTAMP) AS valid_to
  FROM source
), ranked AS (
  SELECT
    *,
    ROW_NUMBER() OVER (
      PARTITION BY class_id, student_id, valid_from
      ORDER BY role NULLS LAST, email NULLS LAST, user_name NULLS LAST
    ) AS duplicate_rank
  FROM typed
)
SELECT
  class_id,
  student_id,
  meeting_id,
  user_name,
  first_name,
  last_name,
  email,
  ext_person_id,
  role,
  valid_from,
  valid_to,
  valid_to IS NULL AS is_current
FROM ranked
WHERE
  duplicate_rank = 1;

ALTER VIEW class_data.stg_class__enrollments SET OPTIONS (description='Class rosters (students, assistants, teachers), every version seen (dlt SCD2 history).');
