-- grain: class_id
-- purpose: Regular (scheduled) classes as listed by GET /classes: typed and deduplicated.
--   The meeting password is left out on purpose: analysts never need it and models get shared widely.

with source as (
    select * from classes
),

typed as (
    select
        cast(class_id as text) as class_id,
        cast(ext_class_id as text) as ext_class_id,
        cast(class_name as text) as class_name,
        cast(class_description as text) as class_description,
        cast(meeting_id as text) as meeting_id,
        cast(host as text) as host_name,
        cast(invite_link as text) as invite_link
    from source
),

-- dlt replaces this table on every run, so a key can only repeat within one API answer;
-- keep one row per key, chosen by the row's own columns so the pick is deterministic
ranked as (
    select
        *,
        row_number() over (
            partition by class_id
            order by class_name, meeting_id, invite_link
        ) as duplicate_rank
    from typed
)

select
    class_id,
    ext_class_id,
    class_name,
    class_description,
    meeting_id,
    host_name,
    invite_link
from ranked
where duplicate_rank = 1
