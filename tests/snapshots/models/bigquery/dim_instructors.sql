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
      ORDER BY CASE WHEN email IS NULL THEN 1 ELSE 0 END NULLS LAST, class_id NULLS LAST
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
  UNION DISTINCT
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
    ROW_NUMBER() OVER (PARTITION BY profiles.student_id ORDER BY users.user_id NULLS LAST) AS user_rank
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

ALTER TABLE class_data.dim_instructors SET OPTIONS (description='Every teacher and assistant, matched to the organization\'s users by e-mail.');

ALTER TABLE class_data.dim_instructors ALTER COLUMN instructor_id SET OPTIONS (description='The person (Class student_id of the teacher or assistant).');

ALTER TABLE class_data.dim_instructors ALTER COLUMN instructor_name SET OPTIONS (description='Name from the roster.');

ALTER TABLE class_data.dim_instructors ALTER COLUMN first_name SET OPTIONS (description='First name from the roster.');

ALTER TABLE class_data.dim_instructors ALTER COLUMN last_name SET OPTIONS (description='Last name from the roster.');

ALTER TABLE class_data.dim_instructors ALTER COLUMN email SET OPTIONS (description='E-mail (roster, else attendance report or events).');

ALTER TABLE class_data.dim_instructors ALTER COLUMN ext_person_id SET OPTIONS (description='External person id.');

ALTER TABLE class_data.dim_instructors ALTER COLUMN classes_as_teacher SET OPTIONS (description='Current roster entries as teacher.');

ALTER TABLE class_data.dim_instructors ALTER COLUMN classes_as_assistant SET OPTIONS (description='Current roster entries as assistant.');

ALTER TABLE class_data.dim_instructors ALTER COLUMN sessions_taught SET OPTIONS (description='Held sessions attended as staff.');

ALTER TABLE class_data.dim_instructors ALTER COLUMN user_id SET OPTIONS (description='Matching organization user (GET /users), by e-mail.');

ALTER TABLE class_data.dim_instructors ALTER COLUMN organization_user_name SET OPTIONS (description='That user\'s name.');

ALTER TABLE class_data.dim_instructors ALTER COLUMN is_zoom_configured SET OPTIONS (description='That user\'s Zoom configuration flag.');
