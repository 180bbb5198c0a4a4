-- grain: user_id
-- purpose: Organization users (instructors, admins) from GET /users: typed and deduplicated.
--   `roles` stays the destination's JSON type: its element access is not portable across dialects.

with source as (
    select * from users
),

typed as (
    select
        cast(id as bigint) as user_id,
        cast(ext_user_id as text) as ext_user_id,
        cast(email as text) as email,
        cast(user_name as text) as user_name,
        roles,
        cast(is_zoom_configured as boolean) as is_zoom_configured
    from source
),

ranked as (
    select
        *,
        row_number() over (
            partition by user_id
            order by email, user_name
        ) as duplicate_rank
    from typed
)

select
    user_id,
    ext_user_id,
    email,
    user_name,
    roles,
    is_zoom_configured
from ranked
where duplicate_rank = 1
