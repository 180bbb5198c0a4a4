-- grain: class_id, student_id
-- materialized: table
-- purpose: One row per class and person with activity events (GET /reporting/metrics): their
--   e-mail and ext_person_id as the events carry them, and when their first event started and
--   their last one ended. Read from the raw events directly, without stg_class__metrics' dedupe: a
--   repeated event changes none of these (each is a max or min), and grouping 2 M events by two
--   keys once is cheaper than deduplicating them for every model that only needs people
--   (int_class__as_of, int_class__session_participants, dim_students). A table: those three and
--   int_class__events read it.
--   person_key numbers the (class, person) pairs and class_key the classes (1, 2, ... in id order):
--   int_class__events joins, sorts and partitions 2 M events on these integers rather than on
--   the 36-character id strings. They are numbered anew on every build: never store them.

with source as (
    select * from metrics
),

typed as (
    select
        cast(class_id as text) as class_id,
        cast(student_id as text) as student_id,
        cast(email as text) as email,
        cast(ext_person_id as text) as ext_person_id,
        cast(event_start as timestamptz) as event_start,
        cast(event_end as timestamptz) as event_end
    from source
)

select
    class_id,
    student_id,
    row_number() over (order by class_id, student_id) as person_key,
    dense_rank() over (order by class_id) as class_key,
    max(email) as email,
    max(ext_person_id) as ext_person_id,
    min(event_start) as first_event_start,
    max(event_end) as last_event_end
from typed
group by class_id, student_id
