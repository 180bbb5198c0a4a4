CREATE OR REPLACE TABLE class_data.fct_student_class_attendance AS
WITH participants AS (
  SELECT
    *
  FROM class_data.int_class__session_participants
), engagement AS (
  SELECT
    *
  FROM class_data.fct_student_engagement
), enrollments AS (
  SELECT
    *
  FROM class_data.stg_class__enrollments
  WHERE
    is_current
), clock AS (
  SELECT
    *
  FROM class_data.int_class__as_of
), expected AS (
  SELECT
    participants.class_id,
    participants.student_id,
    participants.session_id,
    participants.session_start_time,
    participants.session_date,
    COALESCE(participants.present, FALSE) AS present,
    COALESCE(participants.tardy, FALSE) AS tardy,
    participants.attended_milliseconds,
    engagement.talk_seconds,
    engagement.hand_raises,
    participants.session_start_time > clock.as_of - INTERVAL '28 DAY' AS in_trailing_weeks
  FROM participants
  CROSS JOIN clock
  LEFT JOIN engagement
    ON engagement.class_id = participants.class_id
    AND engagement.session_id = participants.session_id
    AND engagement.student_id = participants.student_id
  WHERE
    participants.on_attendance_roster
    AND participants.person_type = 'student'
    AND participants.session_status = 'held'
), streaks AS (
  SELECT
    *,
    SUM(CASE WHEN present THEN 1 ELSE 0 END) OVER (
      PARTITION BY class_id, student_id
      ORDER BY session_start_time, session_id
      rows BETWEEN UNBOUNDED preceding AND CURRENT ROW
    ) AS presences_so_far
  FROM expected
), streak_lengths AS (
  SELECT
    class_id,
    student_id,
    presences_so_far,
    SUM(CASE WHEN present THEN 0 ELSE 1 END) AS absences
  FROM streaks
  GROUP BY
    class_id,
    student_id,
    presences_so_far
), streak_summary AS (
  SELECT
    class_id,
    student_id,
    MAX(absences) AS longest_absence_streak,
    MAX(presences_so_far) AS presences
  FROM streak_lengths
  GROUP BY
    class_id,
    student_id
), totals AS (
  SELECT
    class_id,
    student_id,
    COUNT(*) AS sessions_expected,
    SUM(CASE WHEN present THEN 1 ELSE 0 END) AS sessions_present,
    SUM(CASE WHEN tardy THEN 1 ELSE 0 END) AS sessions_tardy,
    SUM(COALESCE(attended_milliseconds, 0)) / 1000.0 / 60.0 AS attended_minutes,
    MAX(CASE WHEN present THEN session_start_time END) AS last_attended_session_start,
    MAX(CASE WHEN present THEN session_date END) AS last_attended_date,
    SUM(CASE WHEN in_trailing_weeks THEN 1 ELSE 0 END) AS trailing_expected,
    SUM(CASE WHEN in_trailing_weeks AND present THEN 1 ELSE 0 END) AS trailing_present,
    SUM(CASE WHEN present THEN talk_seconds ELSE 0 END) AS talk_seconds,
    SUM(CASE WHEN present THEN hand_raises ELSE 0 END) AS hand_raises
  FROM expected
  GROUP BY
    class_id,
    student_id
), students AS (
  SELECT
    class_id,
    student_id
  FROM totals
  UNION
  SELECT
    class_id,
    student_id
  FROM enrollments
  WHERE
    NOT COALESCE(role, 'student') IN ('teacher', 'assistant')
)
SELECT
  students.class_id,
  students.student_id,
  COALESCE(totals.sessions_expected, 0) AS sessions_expected,
  COALESCE(totals.sessions_present, 0) AS sessions_present,
  COALESCE(totals.sessions_expected, 0) - COALESCE(totals.sessions_present, 0) AS sessions_absent,
  COALESCE(totals.sessions_tardy, 0) AS sessions_tardy,
  CAST(totals.sessions_present AS DOUBLE) / NULLIF(totals.sessions_expected, 0) AS attendance_rate,
  COALESCE(totals.attended_minutes, 0) AS attended_minutes,
  COALESCE(current_streak.absences, 0) AS current_absence_streak,
  COALESCE(streak_summary.longest_absence_streak, 0) AS longest_absence_streak,
  totals.last_attended_session_start,
  totals.last_attended_date,
  CAST(totals.trailing_present AS DOUBLE) / NULLIF(totals.trailing_expected, 0) AS trailing_4_week_rate,
  COALESCE(
    totals.sessions_expected > 0
    AND totals.sessions_expected - totals.sessions_present >= 0.1 * totals.sessions_expected,
    FALSE
  ) AS is_chronically_absent,
  totals.talk_seconds / 60.0 / NULLIF(totals.sessions_present, 0) AS avg_talk_minutes,
  CAST(totals.hand_raises AS DOUBLE) / NULLIF(totals.sessions_present, 0) AS avg_hand_raises
FROM students
LEFT JOIN totals
  ON totals.class_id = students.class_id AND totals.student_id = students.student_id
LEFT JOIN streak_summary
  ON streak_summary.class_id = students.class_id
  AND streak_summary.student_id = students.student_id
LEFT JOIN streak_lengths AS current_streak
  ON current_streak.class_id = students.class_id
  AND current_streak.student_id = students.student_id
  AND current_streak.presences_so_far = streak_summary.presences;

COMMENT ON TABLE class_data.fct_student_class_attendance IS 'One row per class and student (no staff) with the term\'s attendance KPIs and chronic absence.';

COMMENT ON COLUMN class_data.fct_student_class_attendance.class_id IS 'The class.';

COMMENT ON COLUMN class_data.fct_student_class_attendance.student_id IS 'The student.';

COMMENT ON COLUMN class_data.fct_student_class_attendance.sessions_expected IS 'Held sessions with the student on the report as a student.';

COMMENT ON COLUMN class_data.fct_student_class_attendance.sessions_present IS 'Expected sessions attended.';

COMMENT ON COLUMN class_data.fct_student_class_attendance.sessions_absent IS 'sessions_expected - sessions_present.';

COMMENT ON COLUMN class_data.fct_student_class_attendance.sessions_tardy IS 'Expected sessions marked tardy.';

COMMENT ON COLUMN class_data.fct_student_class_attendance.attendance_rate IS 'sessions_present / sessions_expected.';

COMMENT ON COLUMN class_data.fct_student_class_attendance.attended_minutes IS 'Attended time (clipped join to leave) summed, in minutes.';

COMMENT ON COLUMN class_data.fct_student_class_attendance.current_absence_streak IS 'Expected sessions missed since the last attended one.';

COMMENT ON COLUMN class_data.fct_student_class_attendance.longest_absence_streak IS 'Most expected sessions missed in a row.';

COMMENT ON COLUMN class_data.fct_student_class_attendance.last_attended_session_start IS 'Start of the last attended session (UTC).';

COMMENT ON COLUMN class_data.fct_student_class_attendance.last_attended_date IS 'Local date of the last attended session.';

COMMENT ON COLUMN class_data.fct_student_class_attendance.trailing_4_week_rate IS 'Attendance rate over sessions started in the 28 days before the data\'s as-of time.';

COMMENT ON COLUMN class_data.fct_student_class_attendance.is_chronically_absent IS 'Absent from at least the chronic-absence threshold (10 % by default) of expected sessions.';

COMMENT ON COLUMN class_data.fct_student_class_attendance.avg_talk_minutes IS 'Talk minutes per attended session.';

COMMENT ON COLUMN class_data.fct_student_class_attendance.avg_hand_raises IS 'Hand raises per attended session.';
