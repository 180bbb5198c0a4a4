-- grain: class_id, session_id, student_id
-- purpose: One row per person with events in a started session: how they took part, summed from
--   int_class__events once for the two models that need it (int_class__session_participants, for who
--   was there, and fct_student_engagement, for the figures), so the events are grouped per person
--   and session once, not twice. *_milliseconds: merged (overlaps counted once) counted time of the
--   event type with value 'true' (see int_class__events); hand_raises: RAISED_HAND = '1' events;
--   reactions: REACTION events; feedback_count: FEEDBACK events; stars: the highest STARS value
--   awarded (documented values 0-3; others are ignored); events: every event.

with events as (
    select * from int_class__events
    where session_id is not null
)

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
