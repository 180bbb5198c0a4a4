-- grain: class_deferred_id
-- purpose: Deferred classes (created without session times) from GET /classes?deferred=true: typed and deduplicated.

with source as (
    select * from deferred_classes
),

typed as (
    select
        cast(class_deferred_id as bigint) as class_deferred_id,
        cast(class_id as text) as class_id,
        cast(ext_class_id as text) as ext_class_id,
        -- the instructor's e-mail given when the class was created
        cast(email as text) as instructor_email,
        cast(class_name as text) as class_name,
        cast(class_description as text) as class_description,
        cast(created_at as timestamptz) as created_at,
        cast(updated_at as timestamptz) as updated_at
    from source
),

ranked as (
    select
        *,
        row_number() over (
            partition by class_deferred_id
            order by updated_at desc, class_id
        ) as duplicate_rank
    from typed
)

select
    class_deferred_id,
    class_id,
    ext_class_id,
    instructor_email,
    class_name,
    class_description,
    created_at,
    updated_at
from ranked
where duplicate_rank = 1
