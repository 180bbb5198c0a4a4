-- grain: class_id, student_id, event_type, event_start, event_value?
-- purpose: Every activity event with its measured length, the session it belongs to, the part of it
--   that counts towards that session, and how much time that part adds once overlapping events of
--   the same kind are merged.
--   Session: an event belongs to a session of its class when its start lies in the session's window
--   [start, end) or, failing that, in the join-before-host allowance before the next session
--   [attribution_start, start): students may join before the host, and their events start early.
--   Each session's claim (the times whose events it takes) is worked out on the sessions alone:
--   own window up to the next session's start, preceded by the allowance insofar as the previous
--   session has ended, so the claims of a class never overlap; events then find their claim through
--   an equality join on (class, UTC hour), each compared with the one or two sessions of that hour
--   rather than with every session of its class. Overlapping sessions: the latest start wins; of
--   sessions sharing a start, the longest.
--   Outside every session: null session_id, kept and dated by activity_date (the event's local date).
--   Counted part [counted_from, counted_to): the event clipped to the stretch the student attended
--   the session (int_class__session_attendance; the session window for people missing from the
--   attendance report), so engaged time never exceeds attended time. Outside every session: the
--   whole event.
--   Merging (gaps and islands): within one class, session, local date, student, event type and
--   value, counted parts ordered by start; `reach` is the latest end among all earlier ones. A part
--   starting after the reach opens a new island (starts_island = 1); merged_milliseconds is the
--   part past the reach, so summing it over a group gives the length of the union of its counted
--   parts (overlapping time counted once).
--   The person's e-mail and ids and the raw duration stay in stg_class__metrics: carrying them
--   through the sorts of millions of events here costs more than reading them there.
--   Integer keys: the joins and the merge window work on person_key and class_key
--   (stg_class__metrics_people) and a session_key numbered here, not on the 36-character id
--   strings; the ids are joined back, from those small tables, after the window. Same rows and
--   values, ~15 % less CPU at 2 M events (benchmarks/README.md, "SQL models at scale").

with events as (
    select * from stg_class__metrics
),

sessions as (
    select * from int_class__sessions
),

attendance as (
    select * from int_class__session_attendance
),

people as (
    select * from stg_class__metrics_people
),

-- the classes with events, by key; sessions of other classes take no event
classes as (
    select distinct class_id, class_key from people
),

-- one session per class and start, so a start identifies a session
ranked_starts as (
    select
        class_id,
        session_id,
        session_start_time,
        session_end_time,
        session_date,
        row_number() over (
            partition by class_id, session_start_time
            order by session_end_time desc, session_id
        ) as start_rank
    from sessions
),

-- the sessions that can take events, each with an integer key (a start identifies one per class)
keyed_sessions as (
    select
        classes.class_key,
        row_number() over (order by ranked_starts.class_id, ranked_starts.session_start_time) as session_key,
        ranked_starts.session_id,
        ranked_starts.session_start_time,
        ranked_starts.session_end_time,
        ranked_starts.session_date
    from ranked_starts
    inner join classes
        on classes.class_id = ranked_starts.class_id
    where ranked_starts.start_rank = 1
),

neighbours as (
    select
        class_key,
        session_key,
        session_start_time,
        session_end_time,
        session_date,
        lag(session_end_time) over (partition by class_key order by session_start_time) as previous_end,
        lead(session_start_time) over (partition by class_key order by session_start_time) as next_start
    from keyed_sessions
),

-- the stretch of time whose events each session takes, so that the stretches of a class never
-- overlap: its own window up to the next session's start, preceded by the allowance insofar as
-- the previous session has ended by then
claims as (
    select
        class_key,
        session_key,
        session_start_time,
        session_end_time,
        session_date,
        case
            when previous_end is null
                then session_start_time - model_setting('join_before_host_allowance')
            else least(
                session_start_time,
                greatest(session_start_time - model_setting('join_before_host_allowance'), previous_end)
            )
        end as claim_start,
        case
            when next_start is null then session_end_time
            else least(session_end_time, next_start)
        end as claim_end
    from neighbours
),

claim_hours as (
    select
        *,
        cast(floor(date_diff('millisecond', cast('1970-01-01 00:00:00+00' as timestamptz), claim_start) / 3600000.0) as bigint)
            as first_hour,
        cast(floor((date_diff('millisecond', cast('1970-01-01 00:00:00+00' as timestamptz), claim_end) - 1) / 3600000.0) as bigint)
            as last_hour
    from claims
    where claim_start < claim_end
),

digits as (
    select 0 as n union all select 1 union all select 2 union all select 3 union all select 4
    union all select 5 union all select 6 union all select 7 union all select 8 union all select 9
),

-- 0 .. 9,999 hours: longer than any class session
hour_offsets as (
    select ones.n + 10 * tens.n + 100 * hundreds.n + 1000 * thousands.n as n
    from digits as ones
    cross join digits as tens
    cross join digits as hundreds
    cross join digits as thousands
),

-- each session under every UTC hour its claim touches: an event is compared with the one or two
-- sessions of its class under its own hour, not with every session of the class
session_hours as (
    select
        claim_hours.class_key,
        claim_hours.session_key,
        claim_hours.session_start_time,
        claim_hours.session_end_time,
        claim_hours.session_date,
        claim_hours.claim_start,
        claim_hours.claim_end,
        claim_hours.first_hour + hour_offsets.n as hour_bucket
    from claim_hours
    inner join hour_offsets
        on hour_offsets.n <= claim_hours.last_hour - claim_hours.first_hour
),

-- the attended stretches by (person, session) key
keyed_attendance as (
    select
        people.person_key,
        keyed_sessions.session_key,
        attendance.attended_from,
        attendance.attended_to
    from attendance
    inner join people
        on people.class_id = attendance.class_id
        and people.student_id = attendance.student_id
    inner join keyed_sessions
        on keyed_sessions.session_id = attendance.session_id
        and keyed_sessions.class_key = people.class_key
),

-- every event of a person with events is in stg_class__metrics_people (built from the same rows)
keyed_events as (
    select
        people.person_key,
        people.class_key,
        events.event_type,
        events.event_value,
        events.event_start,
        events.event_end
    from events
    inner join people
        on people.class_id = events.class_id
        and people.student_id = events.student_id
),

located as (
    select
        keyed_events.*,
        session_hours.session_key,
        session_hours.session_start_time,
        session_hours.session_end_time,
        session_hours.session_date
    from keyed_events
    left join session_hours
        on session_hours.class_key = keyed_events.class_key
        and session_hours.hour_bucket = cast(
            floor(date_diff('millisecond', cast('1970-01-01 00:00:00+00' as timestamptz), keyed_events.event_start) / 3600000.0)
            as bigint
        )
        and keyed_events.event_start >= session_hours.claim_start
        and keyed_events.event_start < session_hours.claim_end
),

counted as (
    select
        located.person_key,
        located.session_key,
        located.event_type,
        located.event_value,
        located.event_start,
        located.event_end,
        coalesce(located.session_date, cast(located.event_start at time zone model_setting('timezone') as date))
            as activity_date,
        case
            when located.session_key is null then located.event_start
            else greatest(located.event_start, coalesce(keyed_attendance.attended_from, located.session_start_time))
        end as counted_from,
        case
            when located.session_key is null then located.event_end
            else least(located.event_end, coalesce(keyed_attendance.attended_to, located.session_end_time))
        end as clipped_end
    from located
    left join keyed_attendance
        on keyed_attendance.person_key = located.person_key
        and keyed_attendance.session_key = located.session_key
),

-- a part clipped away entirely is empty, at its start
bounded as (
    select
        *,
        greatest(clipped_end, counted_from) as counted_to
    from counted
),

with_reach as (
    select
        *,
        max(counted_to) over (
            -- the groups (class, session, date, student, type, value), by key: person_key stands for
            -- (class, student), session_key for the session
            partition by person_key, event_type, event_value, session_key, activity_date
            order by counted_from, counted_to
            rows between unbounded preceding and 1 preceding
        ) as reach
    from bounded
)

select
    people.class_id,
    keyed_sessions.session_id,
    with_reach.activity_date,
    people.student_id,
    with_reach.event_type,
    with_reach.event_value,
    with_reach.event_start,
    with_reach.event_end,
    -- measured from the timestamps (the raw duration field is not trusted); an end before the
    -- start would be a broken record and counts as zero rather than subtracting time
    greatest(date_diff('millisecond', with_reach.event_start, with_reach.event_end), 0) as event_milliseconds,
    with_reach.counted_from,
    with_reach.counted_to,
    case
        when with_reach.reach is null or with_reach.counted_from > with_reach.reach then 1
        else 0
    end as starts_island,
    case
        when with_reach.reach is null or with_reach.counted_from >= with_reach.reach
            then date_diff('millisecond', with_reach.counted_from, with_reach.counted_to)
        else greatest(date_diff('millisecond', with_reach.reach, with_reach.counted_to), 0)
    end as merged_milliseconds
from with_reach
inner join people
    on people.person_key = with_reach.person_key
left join keyed_sessions
    on keyed_sessions.session_key = with_reach.session_key
