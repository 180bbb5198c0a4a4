DROP TABLE IF EXISTS class_data.dim_roster_history CASCADE;

CREATE TABLE class_data.dim_roster_history AS
WITH enrollments AS (
  SELECT
    *
  FROM class_data.stg_class__enrollments
), classes AS (
  SELECT
    *
  FROM class_data.dim_classes
)
SELECT
  enrollments.class_id,
  classes.class_name,
  enrollments.student_id,
  enrollments.user_name,
  enrollments.email,
  enrollments.ext_person_id,
  enrollments.role,
  enrollments.valid_from,
  enrollments.valid_to,
  enrollments.is_current
FROM enrollments
LEFT JOIN classes
  ON classes.class_id = enrollments.class_id;
