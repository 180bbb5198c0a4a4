-- grain: class_id, session_id, student_id
-- purpose: One row per person and started session (everyone on the attendance report, plus anyone
--   with events in the session but missing from it): attendance plus how they took part.
--   *_seconds are wall-clock time with the event value 'true' (IS_TALKING, IS_VIDEO_ON, FOCUSED,
--   IS_AUDIO_MUTED, PRESENTING) within the stretch the person attended (events clipped to it, see
--   int_class__events), overlapping events of one kind merged so no second counts twice: never
--   above attended_seconds. hand_raises counts RAISED_HAND = '1' events, reactions REACTION
--   events, feedback_count FEEDBACK events; stars is the highest STARS value awarded (null if
--   none). attended: the report's present flag (true for people missing from the report, whose
--   events show they were there). person_type separates students from staff; session_status
--   'live' rows are incomplete. Events outside every session: see fct_event_durations.

with participants as (
    select * from int_class__session_participants
),

activity as (
    select * from int_class__session_activity
)

select
    participants.class_id,
    participants.session_id,
    participants.student_id,
    participants.session_date,
    participants.session_status,
    participants.enrollment_role,
    participants.person_type,
    participants.on_attendance_roster,
    participants.attended,
    participants.attended_milliseconds / 1000.0 as attended_seconds,
    coalesce(activity.talk_milliseconds, 0) / 1000.0 as talk_seconds,
    coalesce(activity.video_on_milliseconds, 0) / 1000.0 as video_on_seconds,
    coalesce(activity.focused_milliseconds, 0) / 1000.0 as focused_seconds,
    coalesce(activity.muted_milliseconds, 0) / 1000.0 as muted_seconds,
    coalesce(activity.presenting_milliseconds, 0) / 1000.0 as presenting_seconds,
    coalesce(activity.hand_raises, 0) as hand_raises,
    coalesce(activity.reactions, 0) as reactions,
    coalesce(activity.feedback_count, 0) as feedback_count,
    activity.stars,
    coalesce(activity.events, 0) as events
from participants
left join activity
    on activity.class_id = participants.class_id
    and activity.session_id = participants.session_id
    and activity.student_id = participants.student_id
