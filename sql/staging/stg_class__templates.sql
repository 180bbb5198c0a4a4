-- grain: template_id
-- purpose: Class templates from GET /templates: typed and deduplicated.

with source as (
    select * from templates
),

typed as (
    select
        cast(template_id as text) as template_id,
        cast(name as text) as template_name,
        cast(description as text) as template_description,
        cast(status as text) as template_status
    from source
),

ranked as (
    select
        *,
        row_number() over (
            partition by template_id
            order by template_name, template_status
        ) as duplicate_rank
    from typed
)

select
    template_id,
    template_name,
    template_description,
    template_status
from ranked
where duplicate_rank = 1
