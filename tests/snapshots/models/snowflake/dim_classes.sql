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
    ROW_NUMBER() OVER (
      PARTITION BY class_id
      ORDER BY updated_at DESC NULLS LAST, class_deferred_id DESC NULLS LAST
    ) AS recency_rank
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
  UNION
  SELECT
    class_id
  FROM deferred
  UNION
  SELECT
    class_id
  FROM enrollments
  UNION
  SELECT
    class_id
  FROM schedules
  UNION
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

COMMENT ON TABLE class_data.dim_classes IS 'Every class the warehouse knows of (regular, deferred, or unlisted), with its attributes.';

COMMENT ON COLUMN class_data.dim_classes.class_id IS 'The class.';

COMMENT ON COLUMN class_data.dim_classes.ext_class_id IS 'External class id.';

COMMENT ON COLUMN class_data.dim_classes.class_name IS 'Class name.';

COMMENT ON COLUMN class_data.dim_classes.class_description IS 'Class description.';

COMMENT ON COLUMN class_data.dim_classes.class_status IS 'regular, deferred (no session times) or unlisted (seen only in rosters, schedules or reports).';

COMMENT ON COLUMN class_data.dim_classes.meeting_id IS 'Meeting id (regular classes).';

COMMENT ON COLUMN class_data.dim_classes.host_name IS 'Host as listed (regular classes).';

COMMENT ON COLUMN class_data.dim_classes.instructor_email IS 'Instructor e-mail given at creation (deferred classes).';

COMMENT ON COLUMN class_data.dim_classes.invite_link IS 'Invite link (regular classes).';

COMMENT ON COLUMN class_data.dim_classes.class_deferred_id IS 'Deferred class id.';

COMMENT ON COLUMN class_data.dim_classes.deferred_created_at IS 'When the deferred class was created (UTC).';

COMMENT ON COLUMN class_data.dim_classes.deferred_updated_at IS 'When the deferred class was last updated (UTC).';
