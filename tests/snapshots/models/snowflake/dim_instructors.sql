CREATE OR REPLACE TABLE class_data.dim_instructors AS
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
), users AS (
  SELECT
    *
  FROM class_data.stg_class__users
), ranked_enrollments AS (
  SELECT
    *,
    ROW_NUMBER() OVER (
      PARTITION BY student_id
      ORDER BY CASE WHEN email IS NULL THEN 1 ELSE 0 END, class_id
    ) AS profile_rank
  FROM enrollments
  WHERE
    role IN ('teacher', 'assistant')
), roster_counts AS (
  SELECT
    student_id,
    SUM(CASE WHEN role = 'teacher' THEN 1 ELSE 0 END) AS classes_as_teacher,
    SUM(CASE WHEN role = 'assistant' THEN 1 ELSE 0 END) AS classes_as_assistant
  FROM enrollments
  WHERE
    role IN ('teacher', 'assistant')
  GROUP BY
    student_id
), session_counts AS (
  SELECT
    student_id,
    MAX(email) AS email,
    MAX(ext_person_id) AS ext_person_id,
    SUM(CASE WHEN session_status = 'held' AND attended THEN 1 ELSE 0 END) AS sessions_taught
  FROM participants
  WHERE
    person_type = 'staff'
  GROUP BY
    student_id
), instructors AS (
  SELECT
    student_id
  FROM roster_counts
  UNION
  SELECT
    student_id
  FROM session_counts
), profiles AS (
  SELECT
    instructors.student_id,
    profile.user_name,
    profile.first_name,
    profile.last_name,
    COALESCE(profile.email, session_counts.email) AS email,
    COALESCE(profile.ext_person_id, session_counts.ext_person_id) AS ext_person_id
  FROM instructors
  LEFT JOIN ranked_enrollments AS profile
    ON profile.student_id = instructors.student_id AND profile.profile_rank = 1
  LEFT JOIN session_counts
    ON session_counts.student_id = instructors.student_id
), user_matches AS (
  SELECT
    profiles.student_id,
    users.user_id,
    users.user_name,
    users.is_zoom_configured,
    ROW_NUMBER() OVER (PARTITION BY profiles.student_id ORDER BY users.user_id) AS user_rank
  FROM profiles
  INNER JOIN users
    ON LOWER(users.email) = LOWER(profiles.email)
)
SELECT
  profiles.student_id AS instructor_id,
  profiles.user_name AS instructor_name,
  profiles.first_name,
  profiles.last_name,
  profiles.email,
  profiles.ext_person_id,
  COALESCE(roster_counts.classes_as_teacher, 0) AS classes_as_teacher,
  COALESCE(roster_counts.classes_as_assistant, 0) AS classes_as_assistant,
  COALESCE(session_counts.sessions_taught, 0) AS sessions_taught,
  user_matches.user_id,
  user_matches.user_name AS organization_user_name,
  user_matches.is_zoom_configured
FROM profiles
LEFT JOIN roster_counts
  ON roster_counts.student_id = profiles.student_id
LEFT JOIN session_counts
  ON session_counts.student_id = profiles.student_id
LEFT JOIN user_matches
  ON user_matches.student_id = profiles.student_id AND user_matches.user_rank = 1;

COMMENT ON TABLE class_data.dim_instructors IS 'Every teacher and assistant, matched to the organization\'s users by e-mail.';

COMMENT ON COLUMN class_data.dim_instructors.instructor_id IS 'The person (Class student_id of the teacher or assistant).';

COMMENT ON COLUMN class_data.dim_instructors.instructor_name IS 'Name from the roster.';

COMMENT ON COLUMN class_data.dim_instructors.first_name IS 'First name from the roster.';

COMMENT ON COLUMN class_data.dim_instructors.last_name IS 'Last name from the roster.';

COMMENT ON COLUMN class_data.dim_instructors.email IS 'E-mail (roster, else attendance report or events).';

COMMENT ON COLUMN class_data.dim_instructors.ext_person_id IS 'External person id.';

COMMENT ON COLUMN class_data.dim_instructors.classes_as_teacher IS 'Current roster entries as teacher.';

COMMENT ON COLUMN class_data.dim_instructors.classes_as_assistant IS 'Current roster entries as assistant.';

COMMENT ON COLUMN class_data.dim_instructors.sessions_taught IS 'Held sessions attended as staff.';

COMMENT ON COLUMN class_data.dim_instructors.user_id IS 'Matching organization user (GET /users), by e-mail.';

COMMENT ON COLUMN class_data.dim_instructors.organization_user_name IS 'That user\'s name.';

COMMENT ON COLUMN class_data.dim_instructors.is_zoom_configured IS 'That user\'s Zoom configuration flag.';
