CREATE OR REPLACE TABLE class_data.dim_classes AS
WITH classes AS (
  SELECT
    *
  FROM class_data.stg_class__classes
), deferred_classes AS (
  SELECT
    *
  FROM class_data.stg_class__deferred_classes
), enrollments AS (
  SELECT
    *
  FROM class_data.stg_class__enrollments
), schedules AS (
  SELECT
    *
  FROM class_data.stg_class__schedules
), attendance AS (
  SELECT
    *
  FROM class_data.stg_class__attendance
), latest_deferred AS (
  SELECT
    *,
    ROW_NUMBER() OVER (PARTITION BY class_id ORDER BY updated_at DESC, class_deferred_id DESC) AS recency_rank
  FROM deferred_classes
), deferred AS (
  SELECT
    *
  FROM latest_deferred
  WHERE
    recency_rank = 1
), known_class_ids AS (
  SELECT
    class_id
  FROM classes
  UNION DISTINCT
  SELECT
    class_id
  FROM deferred
  UNION DISTINCT
  SELECT
    class_id
  FROM enrollments
  UNION DISTINCT
  SELECT
    class_id
  FROM schedules
  UNION DISTINCT
  SELECT
    class_id
  FROM attendance
)
SELECT
  known_class_ids.class_id,
  COALESCE(classes.ext_class_id, deferred.ext_class_id) AS ext_class_id,
  COALESCE(classes.class_name, deferred.class_name) AS class_name,
  COALESCE(classes.class_description, deferred.class_description) AS class_description,
  CASE
    WHEN NOT classes.class_id IS NULL
    THEN 'regular'
    WHEN NOT deferred.class_id IS NULL
    THEN 'deferred'
    ELSE 'unlisted'
  END AS class_status,
  classes.meeting_id,
  classes.host_name,
  deferred.instructor_email,
  classes.invite_link,
  deferred.class_deferred_id,
  deferred.created_at AS deferred_created_at,
  deferred.updated_at AS deferred_updated_at
FROM known_class_ids
LEFT JOIN classes
  ON classes.class_id = known_class_ids.class_id
LEFT JOIN deferred
  ON deferred.class_id = known_class_ids.class_id;

ALTER TABLE class_data.dim_classes SET OPTIONS (description='Every class the warehouse knows of (regular, deferred, or unlisted), with its attributes.');

ALTER TABLE class_data.dim_classes ALTER COLUMN class_id SET OPTIONS (description='The class.');

ALTER TABLE class_data.dim_classes ALTER COLUMN ext_class_id SET OPTIONS (description='External class id.');

ALTER TABLE class_data.dim_classes ALTER COLUMN class_name SET OPTIONS (description='Class name.');

ALTER TABLE class_data.dim_classes ALTER COLUMN class_description SET OPTIONS (description='Class description.');

ALTER TABLE class_data.dim_classes ALTER COLUMN class_status SET OPTIONS (description='regular, deferred (no session times) or unlisted (seen only in rosters, schedules or reports).');

ALTER TABLE class_data.dim_classes ALTER COLUMN meeting_id SET OPTIONS (description='Meeting id (regular classes).');

ALTER TABLE class_data.dim_classes ALTER COLUMN host_name SET OPTIONS (description='Host as listed (regular classes).');

ALTER TABLE class_data.dim_classes ALTER COLUMN instructor_email SET OPTIONS (description='Instructor e-mail given at creation (deferred classes).');

ALTER TABLE class_data.dim_classes ALTER COLUMN invite_link SET OPTIONS (description='Invite link (regular classes).');

ALTER TABLE class_data.dim_classes ALTER COLUMN class_deferred_id SET OPTIONS (description='Deferred class id.');

ALTER TABLE class_data.dim_classes ALTER COLUMN deferred_created_at SET OPTIONS (description='When the deferred class was created (UTC).');

ALTER TABLE class_data.dim_classes ALTER COLUMN deferred_updated_at SET OPTIONS (description='When the deferred class was last updated (UTC).');
