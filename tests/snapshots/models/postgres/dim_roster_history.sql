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

COMMENT ON TABLE class_data.dim_roster_history IS 'Every version of every roster entry as the connector saw it between loads.';

COMMENT ON COLUMN class_data.dim_roster_history.class_id IS 'The class.';

COMMENT ON COLUMN class_data.dim_roster_history.class_name IS 'The class''s name.';

COMMENT ON COLUMN class_data.dim_roster_history.student_id IS 'The person.';

COMMENT ON COLUMN class_data.dim_roster_history.user_name IS 'Name on the roster.';

COMMENT ON COLUMN class_data.dim_roster_history.email IS 'E-mail on the roster.';

COMMENT ON COLUMN class_data.dim_roster_history.ext_person_id IS 'External person id.';

COMMENT ON COLUMN class_data.dim_roster_history.role IS 'Role in the class (student, assistant, teacher).';

COMMENT ON COLUMN class_data.dim_roster_history.valid_from IS 'Load time from which this version was current.';

COMMENT ON COLUMN class_data.dim_roster_history.valid_to IS 'Load time at which it was replaced (null = current).';

COMMENT ON COLUMN class_data.dim_roster_history.is_current IS 'Whether this is today''s version.';
