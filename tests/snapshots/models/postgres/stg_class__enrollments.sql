DROP VIEW IF EXISTS class_data.stg_class__enrollments CASCADE;

CREATE VIEW class_data.stg_class__enrollments AS
WITH source AS (
  SELECT
    *
  FROM class_data.enrollments
), typed AS (
  SELECT
    CAST(class_id AS TEXT) AS class_id,
    CAST(student_id AS TEXT) AS student_id,
    CAST(meeting_id AS TEXT) AS meeting_id,
    CAST(user_name AS TEXT) AS user_name,
    CAST(first_name AS TEXT) AS first_name,
    CAST(last_name AS TEXT) AS last_name,
    CAST(email AS TEXT) AS email,
    CAST(ext_person_id AS TEXT) AS ext_person_id,
    CAST(role AS TEXT) AS role,
    CAST(_dlt_valid_from AS TIMESTAMPTZ) AS valid_from,
    CAST(_dlt_valid_to AS TIMESTAMPTZ) AS valid_to
  FROM source
), ranked AS (
  SELECT
    *,
    ROW_NUMBER() OVER (PARTITION BY class_id, student_id, valid_from ORDER BY role, email, user_name) AS duplicate_rank
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

COMMENT ON VIEW class_data.stg_class__enrollments IS 'Class rosters (students, assistants, teachers), every version seen (dlt SCD2 history).';
