DROP TABLE IF EXISTS class_data.fct_student_engagement CASCADE;

CREATE TABLE class_data.fct_student_engagement AS
WITH participants AS (
  SELECT
    *
  FROM class_data.int_class__session_participants
), activity AS (
  SELECT
    *
  FROM class_data.int_class__session_activity
)
SELECT
  participants.class_id,
  participants.session_id,
  participants.student_id,
  participants.session_date,
  participants.session_status,
  participants.enrollment_role,
  participants.person_type,
  participants.on_attendance_roster,
  participants.attended,
  CAST(participants.attended_milliseconds AS DOUBLE PRECISION) / 1000.0 AS attended_seconds,
  CAST(COALESCE(activity.talk_milliseconds, 0) AS DOUBLE PRECISION) / 1000.0 AS talk_seconds,
  CAST(COALESCE(activity.video_on_milliseconds, 0) AS DOUBLE PRECISION) / 1000.0 AS video_on_seconds,
  CAST(COALESCE(activity.focused_milliseconds, 0) AS DOUBLE PRECISION) / 1000.0 AS focused_seconds,
  CAST(COALESCE(activity.muted_milliseconds, 0) AS DOUBLE PRECISION) / 1000.0 AS muted_seconds,
  CAST(COALESCE(activity.presenting_milliseconds, 0) AS DOUBLE PRECISION) / 1000.0 AS presenting_seconds,
  COALESCE(activity.hand_raises, 0) AS hand_raises,
  COALESCE(activity.reactions, 0) AS reactions,
  COALESCE(activity.feedback_count, 0) AS feedback_count,
  activity.stars,
  COALESCE(activity.events, 0) AS events
FROM participants
LEFT JOIN activity
  ON activity.class_id = participants.class_id
  AND activity.session_id = participants.session_id
  AND activity.student_id = participants.student_id;

COMMENT ON TABLE class_data.fct_student_engagement IS 'One row per person and started session with attended time and engagement (clipped to attended time).';

COMMENT ON COLUMN class_data.fct_student_engagement.class_id IS 'The class.';

COMMENT ON COLUMN class_data.fct_student_engagement.session_id IS 'The started session.';

COMMENT ON COLUMN class_data.fct_student_engagement.student_id IS 'The person (students and staff; see person_type).';

COMMENT ON COLUMN class_data.fct_student_engagement.session_date IS 'Local date of the session start.';

COMMENT ON COLUMN class_data.fct_student_engagement.session_status IS 'held or live (live rows are incomplete).';

COMMENT ON COLUMN class_data.fct_student_engagement.enrollment_role IS 'Roster role at the session (student if on no roster).';

COMMENT ON COLUMN class_data.fct_student_engagement.person_type IS 'student or staff.';

COMMENT ON COLUMN class_data.fct_student_engagement.on_attendance_roster IS 'Whether the person is on the session''s attendance report.';

COMMENT ON COLUMN class_data.fct_student_engagement.attended IS 'Present per the report (true for people missing from it but with events).';

COMMENT ON COLUMN class_data.fct_student_engagement.attended_seconds IS 'Attended time in seconds (null if not reported or missing from the report).';

COMMENT ON COLUMN class_data.fct_student_engagement.talk_seconds IS 'Time talking (IS_TALKING true) within the attended stretch, overlaps merged.';

COMMENT ON COLUMN class_data.fct_student_engagement.video_on_seconds IS 'Time with video on within the attended stretch, overlaps merged.';

COMMENT ON COLUMN class_data.fct_student_engagement.focused_seconds IS 'Time focused within the attended stretch, overlaps merged.';

COMMENT ON COLUMN class_data.fct_student_engagement.muted_seconds IS 'Time muted within the attended stretch, overlaps merged.';

COMMENT ON COLUMN class_data.fct_student_engagement.presenting_seconds IS 'Time presenting within the attended stretch, overlaps merged.';

COMMENT ON COLUMN class_data.fct_student_engagement.hand_raises IS 'RAISED_HAND events with value 1.';

COMMENT ON COLUMN class_data.fct_student_engagement.reactions IS 'REACTION events (any value).';

COMMENT ON COLUMN class_data.fct_student_engagement.feedback_count IS 'FEEDBACK events (any value).';

COMMENT ON COLUMN class_data.fct_student_engagement.stars IS 'Highest STARS value awarded (0-3; null if none).';

COMMENT ON COLUMN class_data.fct_student_engagement.events IS 'All events attributed to the session for this person.';
