CREATE OR REPLACE TABLE class_data.agg_instructor_weekly AS
WITH participants AS (
  SELECT
    *
  FROM class_data.int_class__session_participants
  WHERE
    session_status = 'held'
), engagement AS (
  SELECT
    *
  FROM class_data.fct_student_engagement
  WHERE
    session_status = 'held' AND person_type = 'student' AND on_attendance_roster
), scheduled AS (
  SELECT
    *
  FROM class_data.fct_scheduled_sessions
  WHERE
    NOT session_id IS NULL
), calendar AS (
  SELECT
    *
  FROM class_data.dim_date
), taught AS (
  SELECT
    participants.student_id AS instructor_id,
    participants.class_id,
    participants.session_id,
    participants.enrollment_role,
    calendar.week_start,
    CASE
      WHEN participants.join_time <= COALESCE(scheduled.scheduled_start_time, participants.session_start_time)
      THEN 1
      ELSE 0
    END AS joined_on_time
  FROM participants
  INNER JOIN calendar
    ON calendar.date_day = participants.session_date
  LEFT JOIN scheduled
    ON scheduled.class_id = participants.class_id
    AND scheduled.session_id = participants.session_id
  WHERE
    participants.person_type = 'staff' AND participants.attended
), student_stats AS (
  SELECT
    class_id,
    session_id,
    COUNT(*) AS students_expected,
    SUM(CASE WHEN attended THEN 1 ELSE 0 END) AS students_present,
    SUM(CASE WHEN attended THEN talk_seconds ELSE 0 END) AS student_talk_seconds,
    SUM(CASE WHEN attended THEN hand_raises ELSE 0 END) AS student_hand_raises
  FROM engagement
  GROUP BY
    class_id,
    session_id
), weekly AS (
  SELECT
    taught.instructor_id,
    taught.week_start,
    COUNT(DISTINCT taught.class_id) AS classes_taught,
    COUNT(*) AS sessions_taught,
    SUM(CASE WHEN taught.enrollment_role = 'teacher' THEN 1 ELSE 0 END) AS sessions_as_teacher,
    SUM(taught.joined_on_time) AS on_time_sessions,
    SUM(COALESCE(student_stats.students_expected, 0)) AS students_expected,
    SUM(COALESCE(student_stats.students_present, 0)) AS students_present,
    SUM(COALESCE(student_stats.student_talk_seconds, 0)) AS student_talk_seconds,
    SUM(COALESCE(student_stats.student_hand_raises, 0)) AS student_hand_raises
  FROM taught
  LEFT JOIN student_stats
    ON student_stats.class_id = taught.class_id
    AND student_stats.session_id = taught.session_id
  GROUP BY
    taught.instructor_id,
    taught.week_start
)
SELECT
  weekly.instructor_id,
  weekly.week_start,
  calendar.iso_year,
  calendar.iso_week,
  calendar.school_week,
  weekly.classes_taught,
  weekly.sessions_taught,
  weekly.sessions_as_teacher,
  weekly.on_time_sessions,
  CAST(weekly.on_time_sessions AS FLOAT64) / weekly.sessions_taught AS on_time_share,
  weekly.students_expected,
  weekly.students_present,
  CAST(weekly.students_present AS FLOAT64) / NULLIF(weekly.students_expected, 0) AS student_attendance_rate,
  weekly.student_talk_seconds / 60.0 / NULLIF(weekly.students_present, 0) AS student_talk_minutes_per_attendee,
  CAST(weekly.student_hand_raises AS FLOAT64) / NULLIF(weekly.students_present, 0) AS hand_raises_per_attendee
FROM weekly
INNER JOIN calendar
  ON calendar.date_day = weekly.week_start;

ALTER TABLE class_data.agg_instructor_weekly SET OPTIONS (description='One row per instructor and local week with what they taught and how their students took part.');

ALTER TABLE class_data.agg_instructor_weekly ALTER COLUMN instructor_id SET OPTIONS (description='The teacher or assistant.');

ALTER TABLE class_data.agg_instructor_weekly ALTER COLUMN week_start SET OPTIONS (description='Monday of the local week.');

ALTER TABLE class_data.agg_instructor_weekly ALTER COLUMN iso_year SET OPTIONS (description='ISO year of the week.');

ALTER TABLE class_data.agg_instructor_weekly ALTER COLUMN iso_week SET OPTIONS (description='ISO week number.');

ALTER TABLE class_data.agg_instructor_weekly ALTER COLUMN school_week SET OPTIONS (description='Week number from the first week of data.');

ALTER TABLE class_data.agg_instructor_weekly ALTER COLUMN classes_taught SET OPTIONS (description='Distinct classes among the sessions taught.');

ALTER TABLE class_data.agg_instructor_weekly ALTER COLUMN sessions_taught SET OPTIONS (description='Held sessions attended as staff.');

ALTER TABLE class_data.agg_instructor_weekly ALTER COLUMN sessions_as_teacher SET OPTIONS (description='Of them, with role teacher.');

ALTER TABLE class_data.agg_instructor_weekly ALTER COLUMN on_time_sessions SET OPTIONS (description='Sessions joined by the (scheduled) start.');

ALTER TABLE class_data.agg_instructor_weekly ALTER COLUMN on_time_share SET OPTIONS (description='on_time_sessions / sessions_taught.');

ALTER TABLE class_data.agg_instructor_weekly ALTER COLUMN students_expected SET OPTIONS (description='Students on those sessions\' reports.');

ALTER TABLE class_data.agg_instructor_weekly ALTER COLUMN students_present SET OPTIONS (description='Of them, present.');

ALTER TABLE class_data.agg_instructor_weekly ALTER COLUMN student_attendance_rate SET OPTIONS (description='students_present / students_expected.');

ALTER TABLE class_data.agg_instructor_weekly ALTER COLUMN student_talk_minutes_per_attendee SET OPTIONS (description='Students\' talk minutes per present student-session.');

ALTER TABLE class_data.agg_instructor_weekly ALTER COLUMN hand_raises_per_attendee SET OPTIONS (description='Students\' hand raises per present student-session.');
