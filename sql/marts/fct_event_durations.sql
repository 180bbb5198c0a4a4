-- grain: class_id, session_id?, activity_date, student_id, event_type, event_value?
-- purpose: Activity per student, session (or local date, outside every session) and kind of event
--   (type and value): how many events and how long they lasted. total_seconds adds each event's
--   own length (event_end - event_start, whole events); merged_seconds is the wall-clock time
--   covered within the stretch the person attended the session (clipped, overlapping events
--   counted once, as in fct_student_engagement); islands counts the separate stretches left after
--   clipping and merging. Events outside every session are kept with a null session_id, one row
--   per class, local date, student and kind (their merged_seconds are not clipped). A missing
--   event value is null. person_type: the person's role at the session (or, outside sessions, on
--   the roster version current at their first event that day; 'student' if on no roster).

with events as (
    select * from int_class__events
),

participants as (
    select * from int_class__session_participants
),

enrollments as (
    select * from int_class__roster_versions
),

grouped as (
    select
        class_id,
        session_id,
        activity_date,
        student_id,
        event_type,
        event_value,
        count(*) as event_count,
        sum(event_milliseconds) / 1000.0 as total_seconds,
        sum(merged_milliseconds) / 1000.0 as merged_seconds,
        sum(starts_island) as islands,
        min(event_start) as first_event_start,
        max(event_start) as last_event_start,
        max(event_end) as last_event_end
    from events
    group by class_id, session_id, activity_date, student_id, event_type, event_value
),

-- outside every session: the roster version that stands for the person's first event that day
-- (at most one; see int_class__roster_versions)
outside_people as (
    select class_id, activity_date, student_id, min(first_event_start) as first_event_start
    from grouped
    where session_id is null
    group by class_id, activity_date, student_id
),

outside_roles as (
    select
        outside_people.class_id,
        outside_people.activity_date,
        outside_people.student_id,
        enrollments.role
    from outside_people
    inner join enrollments
        on enrollments.class_id = outside_people.class_id
        and enrollments.student_id = outside_people.student_id
        and (enrollments.stands_from is null or enrollments.stands_from <= outside_people.first_event_start)
        and (enrollments.valid_to is null or enrollments.valid_to > outside_people.first_event_start)
)

select
    grouped.class_id,
    grouped.session_id,
    grouped.activity_date,
    grouped.student_id,
    coalesce(participants.enrollment_role, outside_roles.role, 'student') as enrollment_role,
    case
        when coalesce(participants.enrollment_role, outside_roles.role) in ('teacher', 'assistant') then 'staff'
        else 'student'
    end as person_type,
    grouped.event_type,
    grouped.event_value,
    grouped.event_count,
    grouped.total_seconds,
    grouped.merged_seconds,
    grouped.islands,
    grouped.first_event_start,
    grouped.last_event_start,
    grouped.last_event_end
from grouped
left join participants
    on participants.class_id = grouped.class_id
    and participants.session_id = grouped.session_id
    and participants.student_id = grouped.student_id
left join outside_roles
    on grouped.session_id is null
    and outside_roles.class_id = grouped.class_id
    and outside_roles.activity_date = grouped.activity_date
    and outside_roles.student_id = grouped.student_id
