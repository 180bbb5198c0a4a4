-- grain: class_id
-- purpose: Every class the warehouse knows of, regular or deferred, with its descriptive attributes.
--   Classes that only appear in rosters (current or past versions), schedules or reports (e.g.
--   deleted since) are kept with class_status 'unlisted' so every fact row finds its class here.

with classes as (
    select * from stg_class__classes
),

deferred_classes as (
    select * from stg_class__deferred_classes
),

-- every roster version, current or not: a deleted class stays known through its roster history
enrollments as (
    select * from stg_class__enrollments
),

schedules as (
    select * from stg_class__schedules
),

attendance as (
    select * from stg_class__attendance
),

-- a class_id should have one deferred record; if it has several, the most recently updated wins
latest_deferred as (
    select
        *,
        row_number() over (
            partition by class_id
            order by updated_at desc, class_deferred_id desc
        ) as recency_rank
    from deferred_classes
),

deferred as (
    select * from latest_deferred where recency_rank = 1
),

known_class_ids as (
    select class_id from classes
    union
    select class_id from deferred
    union
    select class_id from enrollments
    union
    select class_id from schedules
    union
    select class_id from attendance
)

select
    known_class_ids.class_id,
    coalesce(classes.ext_class_id, deferred.ext_class_id) as ext_class_id,
    coalesce(classes.class_name, deferred.class_name) as class_name,
    coalesce(classes.class_description, deferred.class_description) as class_description,
    case
        when classes.class_id is not null then 'regular'
        when deferred.class_id is not null then 'deferred'
        else 'unlisted'
    end as class_status,
    classes.meeting_id,
    classes.host_name,
    deferred.instructor_email,
    classes.invite_link,
    deferred.class_deferred_id,
    deferred.created_at as deferred_created_at,
    deferred.updated_at as deferred_updated_at
from known_class_ids
left join classes
    on classes.class_id = known_class_ids.class_id
left join deferred
    on deferred.class_id = known_class_ids.class_id
