DROP TABLE IF EXISTS class_data.int_class__roster_versions CASCADE;

CREATE TABLE class_data.int_class__roster_versions AS
WITH enrollments AS (
  SELECT
    *
  FROM class_data.stg_class__enrollments
)
SELECT
  enrollments.*,
  CASE
    WHEN enrollments.valid_from = MIN(enrollments.valid_from) OVER (PARTITION BY enrollments.class_id, enrollments.student_id)
    THEN NULL
    ELSE enrollments.valid_from
  END AS stands_from
FROM enrollments;

COMMENT ON TABLE class_data.int_class__roster_versions IS 'Every roster version (stg_class__enrollments) with the time it stands for when a model asks who was on a class''s roster, in which role, at an instant T: a version stands for [stands_from, valid_to). stands_from is valid_from, except for a person''s earliest version, whose stands_from is null (no lower bound): the roster before the first load is unknown, and the first version seen is the best evidence for older sessions. A removal followed by a re-enrollment leaves a gap in which the person was on no roster. Versions of one person do not overlap, so at most one stands for any instant.';
