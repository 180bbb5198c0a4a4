CREATE OR REPLACE TABLE class_data.dim_students AS
WITH enrollments AS (
  SELECT
    *
  FROM class_data.stg_class__enrollments
  WHERE
    is_current
), participants AS (
  SELECT
    *
  FROM class_data.int_class__session_participants
), people_with_events AS (
  SELECT
    *
  FROM class_data.stg_class__metrics_people
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
    SUM(
      CASE
        WHEN NOT COALESCE(role, 'student') IN ('teacher', 'assistant')
        THEN 1
        ELSE 0
      END
    ) AS classes_as_student,
    SUM(CASE WHEN role IN ('teacher', 'assistant') THEN 1 ELSE 0 END) AS classes_as_staff
  FROM enrollments
  GROUP BY
    student_id
), participant_profiles AS (
  SELECT
    student_id,
    MAX(email) AS email,
    MAX(ext_person_id) AS ext_person_id,
    SUM(CASE WHEN person_type = 'student' THEN 1 ELSE 0 END) AS sessions_as_student,
    SUM(CASE WHEN person_type = 'staff' THEN 1 ELSE 0 END) AS sessions_as_staff,
    SUM(CASE WHEN person_type = 'student' AND on_attendance_roster THEN 1 ELSE 0 END) AS roster_sessions,
    SUM(CASE WHEN person_type = 'student' AND present THEN 1 ELSE 0 END) AS sessions_present
  FROM participants
  GROUP BY
    student_id
), event_profiles AS (
  SELECT
    student_id,
    MAX(email) AS email,
    MAX(ext_person_id) AS ext_person_id
  FROM people_with_events
  GROUP BY
    student_id
), known_people AS (
  SELECT
    student_id
  FROM enrollments
  UNION
  SELECT
    student_id
  FROM participants
  UNION
  SELECT
    student_id
  FROM event_profiles
), students AS (
  SELECT
    known_people.student_id
  FROM known_people
  LEFT JOIN enrollment_counts
    ON enrollment_counts.student_id = known_people.student_id
  LEFT JOIN participant_profiles
    ON participant_profiles.student_id = known_people.student_id
  WHERE
    COALESCE(enrollment_counts.classes_as_student, 0) > 0
    OR COALESCE(participant_profiles.sessions_as_student, 0) > 0
    OR (
      COALESCE(enrollment_counts.classes_as_staff, 0) = 0
      AND COALESCE(participant_profiles.sessions_as_staff, 0) = 0
    )
)
SELECT
  students.student_id,
  enrollment_profiles.user_name AS student_name,
  enrollment_profiles.first_name,
  enrollment_profiles.last_name,
  COALESCE(enrollment_profiles.email, participant_profiles.email, event_profiles.email) AS email,
  COALESCE(
    enrollment_profiles.ext_person_id,
    participant_profiles.ext_person_id,
    event_profiles.ext_person_id
  ) AS ext_person_id,
  COALESCE(enrollment_counts.enrolled_classes, 0) AS enrolled_classes,
  COALESCE(enrollment_counts.classes_as_student, 0) AS classes_as_student,
  COALESCE(enrollment_counts.classes_as_staff, 0) AS classes_as_staff,
  COALESCE(participant_profiles.roster_sessions, 0) AS roster_sessions,
  COALESCE(participant_profiles.sessions_present, 0) AS sessions_present
FROM students
LEFT JOIN enrollment_profiles
  ON enrollment_profiles.student_id = students.student_id
LEFT JOIN enrollment_counts
  ON enrollment_counts.student_id = students.student_id
LEFT JOIN participant_profiles
  ON participant_profiles.student_id = students.student_id
LEFT JOIN event_profiles
  ON event_profiles.student_id = students.student_id;

COMMENT ON TABLE class_data.dim_students IS 'Every student (no staff-only people), one profile each.';

COMMENT ON COLUMN class_data.dim_students.student_id IS 'The student (Class student_id).';

COMMENT ON COLUMN class_data.dim_students.student_name IS 'Name from the roster.';

COMMENT ON COLUMN class_data.dim_students.first_name IS 'First name from the roster.';

COMMENT ON COLUMN class_data.dim_students.last_name IS 'Last name from the roster.';

COMMENT ON COLUMN class_data.dim_students.email IS 'E-mail (roster, else attendance report, else events).';

COMMENT ON COLUMN class_data.dim_students.ext_person_id IS 'External person id (same fallbacks).';

COMMENT ON COLUMN class_data.dim_students.enrolled_classes IS 'Current roster entries.';

COMMENT ON COLUMN class_data.dim_students.classes_as_student IS 'Current roster entries as a student.';

COMMENT ON COLUMN class_data.dim_students.classes_as_staff IS 'Current roster entries as teacher or assistant.';

COMMENT ON COLUMN class_data.dim_students.roster_sessions IS 'Sessions on an attendance report as a student.';

COMMENT ON COLUMN class_data.dim_students.sessions_present IS 'Of them, present.';
