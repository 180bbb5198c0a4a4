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

events as (
    select * from int_class__events
    where session_id is not null
),

activity as (
    select
        class_id,
        session_id,
        student_id,
        count(*) as events,
        -- merged_milliseconds: each event's counted time not already covered by an earlier one of its kind
        sum(case when event_type = 'IS_TALKING' and event_value = 'true' then merged_milliseconds else 0 end)
            as talk_milliseconds,
        sum(case when event_type = 'IS_VIDEO_ON' and event_value = 'true' then merged_milliseconds else 0 end)
            as video_on_milliseconds,
        sum(case when event_type = 'FOCUSED' and event_value = 'true' then merged_milliseconds else 0 end)
            as focused_milliseconds,
        sum(case when event_type = 'IS_AUDIO_MUTED' and event_value = 'true' then merged_milliseconds else 0 end)
            as muted_milliseconds,
        sum(case when event_type = 'PRESENTING' and event_value = 'true' then merged_milliseconds else 0 end)
            as presenting_milliseconds,
        sum(case when event_type = 'RAISED_HAND' and event_value = '1' then 1 else 0 end) as hand_raises,
        sum(case when event_type = 'REACTION' then 1 else 0 end) as reactions,
        sum(case when event_type = 'FEEDBACK' then 1 else 0 end) as feedback_count,
        -- documented values are 0-3; anything else is ignored rather than failing the cast
        max(
            case
                when event_type = 'STARS' and event_value in ('0', '1', '2', '3')
                    then cast(event_value as integer)
            end
        ) as stars
    from events
    group by class_id, session_id, student_id
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
