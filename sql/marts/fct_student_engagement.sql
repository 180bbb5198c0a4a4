-- grain: class_id, session_id, student_id
-- purpose: One row per student and started session: attendance plus how they took part.
--   *_seconds are wall-clock time with the event value 'true' (IS_TALKING, IS_VIDEO_ON, FOCUSED,
--   IS_AUDIO_MUTED, PRESENTING), overlapping events of one kind merged so no second counts twice.
--   hand_raises counts RAISED_HAND = '1' events, reactions REACTION events, feedback_count FEEDBACK
--   events; stars is the highest STARS value awarded (null if none). Rows come from the session's
--   attendance roster plus anyone with events in the session but missing from that roster
--   (attended: the roster's present flag; true for such unrostered students, whose events show
--   they were there). Events outside every session have no row here: see fct_event_durations.

with attendance as (
    select * from stg_class__attendance
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
        -- merged_milliseconds: each event's time not already covered by an earlier one of its kind
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
),

participants as (
    select class_id, session_id, student_id from attendance
    union
    select class_id, session_id, student_id from activity
)

select
    participants.class_id,
    participants.session_id,
    participants.student_id,
    attendance.student_id is not null as on_attendance_roster,
    case
        when attendance.student_id is null then true
        else coalesce(attendance.present, false)
    end as attended,
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
left join attendance
    on attendance.class_id = participants.class_id
    and attendance.session_id = participants.session_id
    and attendance.student_id = participants.student_id
left join activity
    on activity.class_id = participants.class_id
    and activity.session_id = participants.session_id
    and activity.student_id = participants.student_id
