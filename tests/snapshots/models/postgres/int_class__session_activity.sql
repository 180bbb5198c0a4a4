DROP TABLE IF EXISTS class_data.int_class__session_activity CASCADE;

CREATE TABLE class_data.int_class__session_activity AS
WITH events AS (
  SELECT
    *
  FROM class_data.int_class__events
  WHERE
    NOT session_id IS NULL
)
SELECT
  class_id,
  session_id,
  student_id,
  COUNT(*) AS events,
  SUM(
    CASE
      WHEN event_type = 'IS_TALKING' AND event_value = 'true'
      THEN merged_milliseconds
      ELSE 0
    END
  ) AS talk_milliseconds,
  SUM(
    CASE
      WHEN event_type = 'IS_VIDEO_ON' AND event_value = 'true'
      THEN merged_milliseconds
      ELSE 0
    END
  ) AS video_on_milliseconds,
  SUM(
    CASE
      WHEN event_type = 'FOCUSED' AND event_value = 'true'
      THEN merged_milliseconds
      ELSE 0
    END
  ) AS focused_milliseconds,
  SUM(
    CASE
      WHEN event_type = 'IS_AUDIO_MUTED' AND event_value = 'true'
      THEN merged_milliseconds
      ELSE 0
    END
  ) AS muted_milliseconds,
  SUM(
    CASE
      WHEN event_type = 'PRESENTING' AND event_value = 'true'
      THEN merged_milliseconds
      ELSE 0
    END
  ) AS presenting_milliseconds,
  SUM(CASE WHEN event_type = 'RAISED_HAND' AND event_value = '1' THEN 1 ELSE 0 END) AS hand_raises,
  SUM(CASE WHEN event_type = 'REACTION' THEN 1 ELSE 0 END) AS reactions,
  SUM(CASE WHEN event_type = 'FEEDBACK' THEN 1 ELSE 0 END) AS feedback_count,
  MAX(
    CASE
      WHEN event_type = 'STARS' AND event_value IN ('0', '1', '2', '3')
      THEN CAST(event_value AS INT)
    END
  ) AS stars
FROM events
GROUP BY
  class_id,
  session_id,
  student_id;

COMMENT ON TABLE class_data.int_class__session_activity IS 'One row per person with events in a started session: how they took part, summed from int_class__events once for the two models that need it (int_class__session_participants, for who was there, and fct_student_engagement, for the figures), so the events are grouped per person and session once, not twice. *_milliseconds: merged (overlaps counted once) counted time of the event type with value ''true'' (see int_class__events); hand_raises: RAISED_HAND = ''1'' events; reactions: REACTION events; feedback_count: FEEDBACK events; stars: the highest STARS value awarded (documented values 0-3; others are ignored); events: every event.';
