CREATE OR REPLACE TABLE class_data.fct_student_engagement AS
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
  participants.attended_milliseconds / 1000.0 AS attended_seconds,
  COALESCE(activity.talk_milliseconds, 0) / 1000.0 AS talk_seconds,
  COALESCE(activity.video_on_milliseconds, 0) / 1000.0 AS video_on_seconds,
  COALESCE(activity.focused_milliseconds, 0) / 1000.0 AS focused_seconds,
  COALESCE(activity.muted_milliseconds, 0) / 1000.0 AS muted_seconds,
  COALESCE(activity.presenting_milliseconds, 0) / 1000.0 AS presenting_seconds,
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

ALTER TABLE class_data.fct_student_engagement SET OPTIONS (description='One row per person and started session with attended time and engagement (clipped to attended time).');

ALTER TABLE class_data.fct_student_engagement ALTER COLUMN class_id SET OPTIONS (description='The class.');

ALTER TABLE class_data.fct_student_engagement ALTER COLUMN session_id SET OPTIONS (description='The started session.');

ALTER TABLE class_data.fct_student_engagement ALTER COLUMN student_id SET OPTIONS (description='The person (students and staff; see person_type).');

ALTER TABLE class_data.fct_student_engagement ALTER COLUMN session_date SET OPTIONS (description='Local date of the session start.');

ALTER TABLE class_data.fct_student_engagement ALTER COLUMN session_status SET OPTIONS (description='held or live (live rows are incomplete).');

ALTER TABLE class_data.fct_student_engagement ALTER COLUMN enrollment_role SET OPTIONS (description='Roster role at the session (student if on no roster).');

ALTER TABLE class_data.fct_student_engagement ALTER COLUMN person_type SET OPTIONS (description='student or staff.');

ALTER TABLE class_data.fct_student_engagement ALTER COLUMN on_attendance_roster SET OPTIONS (description='Whether the person is on the session\'s attendance report.');

ALTER TABLE class_data.fct_student_engagement ALTER COLUMN attended SET OPTIONS (description='Present per the report (true for people missing from it but with events).');

ALTER TABLE class_data.fct_student_engagement ALTER COLUMN attended_seconds SET OPTIONS (description='Attended time in seconds (null if not reported or missing from the report).');

ALTER TABLE class_data.fct_student_engagement ALTER COLUMN talk_seconds SET OPTIONS (description='Time talking (IS_TALKING true) within the attended stretch, overlaps merged.');

ALTER TABLE class_data.fct_student_engagement ALTER COLUMN video_on_seconds SET OPTIONS (description='Time with video on within the attended stretch, overlaps merged.');

ALTER TABLE class_data.fct_student_engagement ALTER COLUMN focused_seconds SET OPTIONS (description='Time focused within the attended stretch, overlaps merged.');

ALTER TABLE class_data.fct_student_engagement ALTER COLUMN muted_seconds SET OPTIONS (description='Time muted within the attended stretch, overlaps merged.');

ALTER TABLE class_data.fct_student_engagement ALTER COLUMN presenting_seconds SET OPTIONS (description='Time presenting within the attended stretch, overlaps merged.');

ALTER TABLE class_data.fct_student_engagement ALTER COLUMN hand_raises SET OPTIONS (description='RAISED_HAND events with value 1.');

ALTER TABLE class_data.fct_student_engagement ALTER COLUMN reactions SET OPTIONS (description='REACTION events (any value).');

ALTER TABLE class_data.fct_student_engagement ALTER COLUMN feedback_count SET OPTIONS (description='FEEDBACK events (any value).');

ALTER TABLE class_data.fct_student_engagement ALTER COLUMN stars SET OPTIONS (description='Highest STARS value awarded (0-3; null if none).');

ALTER TABLE class_data.fct_student_engagement ALTER COLUMN events SET OPTIONS (description='All events attributed to the session for this person.');
