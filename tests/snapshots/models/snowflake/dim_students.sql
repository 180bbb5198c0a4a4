CREATE OR REPLACE TABLE class_data.dim_students AS
WITH enrollments AS (
  SELECT
    *
  FROM class_data.stg_class__enrollments
  WHERE
    is_current
), attendance AS (
  SELECT
    *
  FROM class_data.stg_class__attendance
), events AS (
  SELECT
    *
  FROM class_data.int_class__events
), ranked_enrollments AS (
  SELECT
    *,
    ROW_NUMBER() OVER (
      PARTITION BY student_id
      ORDER BY CASE WHEN email IS NULL THEN 1 ELSE 0 END, class_id
    ) AS profile_rank
  FROM enrollments
), enrollment_profiles AS (
  SELECT
    *
  FROM ranked_enrollments
  WHERE
    profile_rank = 1
), enrollment_counts AS (
  SELECT
    student_id,
    COUNT(*) AS enrolled_classes,
    SUM(CASE WHEN COALESCE(role, 'student') = 'student' THEN 1 ELSE 0 END) AS classes_as_student,
    SUM(CASE WHEN role IN ('teacher', 'assistant') THEN 1 ELSE 0 END) AS classes_as_staff
  FROM enrollments
  GROUP BY
    student_id
), attendance_profiles AS (
  SELECT
    student_id,
    MAX(email) AS email,
    MAX(ext_person_id) AS ext_person_id,
    COUNT(*) AS roster_sessions,
    SUM(CASE WHEN present THEN 1 ELSE 0 END) AS sessions_present
  FROM attendance
  GROUP BY
    student_id
), event_profiles AS (
  SELECT
    student_id,
    MAX(email) AS email,
    MAX(ext_person_id) AS ext_person_id
  FROM events
  GROUP BY
    student_id
), known_students AS (
  SELECT
    student_id
  FROM enrollments
  UNION
  SELECT
    student_id
  FROM attendance
  UNION
  SELECT
    student_id
  FROM events
)
SELECT
  known_students.student_id,
  enrollment_profiles.user_name AS student_name,
  enrollment_profiles.first_name,
  enrollment_profiles.last_name,
  COALESCE(enrollment_profiles.email, attendance_profiles.email, event_profiles.email) AS email,
  COALESCE(
    enrollment_profiles.ext_person_id,
    attendance_profiles.ext_person_id,
    event_profiles.ext_person_id
  ) AS ext_person_id,
  COALESCE(enrollment_counts.enrolled_classes, 0) AS enrolled_classes,
  COALESCE(enrollment_counts.classes_as_student, 0) AS classes_as_student,
  COALESCE(enrollment_counts.classes_as_staff, 0) AS classes_as_staff,
  COALESCE(attendance_profiles.roster_sessions, 0) AS roster_sessions,
  COALESCE(attendance_profiles.sessions_present, 0) AS sessions_present
FROM known_students
LEFT JOIN enrollment_profiles
  ON enrollment_profiles.student_id = known_students.student_id
LEFT JOIN enrollment_counts
  ON enrollment_counts.student_id = known_students.student_id
LEFT JOIN attendance_profiles
  ON attendance_profiles.student_id = known_students.student_id
LEFT JOIN event_profiles
  ON event_profiles.student_id = known_students.student_id;
