CREATE OR REPLACE TABLE class_data.dim_roster_history AS
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

ALTER TABLE class_data.dim_roster_history SET OPTIONS (description='Every version of every roster entry as the connector saw it between loads.');

ALTER TABLE class_data.dim_roster_history ALTER COLUMN class_id SET OPTIONS (description='The class.');

ALTER TABLE class_data.dim_roster_history ALTER COLUMN class_name SET OPTIONS (description='The class\'s name.');

ALTER TABLE class_data.dim_roster_history ALTER COLUMN student_id SET OPTIONS (description='The person.');

ALTER TABLE class_data.dim_roster_history ALTER COLUMN user_name SET OPTIONS (description='Name on the roster.');

ALTER TABLE class_data.dim_roster_history ALTER COLUMN email SET OPTIONS (description='E-mail on the roster.');

ALTER TABLE class_data.dim_roster_history ALTER COLUMN ext_person_id SET OPTIONS (description='External person id.');

ALTER TABLE class_data.dim_roster_history ALTER COLUMN role SET OPTIONS (description='Role in the class (student, assistant, teacher).');

ALTER TABLE class_data.dim_roster_history ALTER COLUMN valid_from SET OPTIONS (description='Load time from which this version was current.');

ALTER TABLE class_data.dim_roster_history ALTER COLUMN valid_to SET OPTIONS (description='Load time at which it was replaced (null = current).');

ALTER TABLE class_data.dim_roster_history ALTER COLUMN is_current SET OPTIONS (description='Whether this is today\'s version.');
