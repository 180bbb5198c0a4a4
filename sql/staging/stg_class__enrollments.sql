-- grain: class_id, student_id, valid_from?
-- purpose: Class rosters (students, assistants, teachers) from GET /class/enrollments, every version
--   the connector has seen (dlt SCD2 history): valid_from/valid_to are the load times between which
--   the version was current; is_current marks today's roster. The API calls every enrolled person's
--   id `student_id`, whatever their role.

with source as (
    select * from enrollments
),

typed as (
    select
        cast(class_id as text) as class_id,
        cast(student_id as text) as student_id,
        cast(meeting_id as text) as meeting_id,
        cast(user_name as text) as user_name,
        cast(first_name as text) as first_name,
        cast(last_name as text) as last_name,
        cast(email as text) as email,
        cast(ext_person_id as text) as ext_person_id,
        cast(role as text) as role,
        cast(_dlt_valid_from as timestamptz) as valid_from,
        cast(_dlt_valid_to as timestamptz) as valid_to
    from source
),

ranked as (
    select
        *,
        row_number() over (
            partition by class_id, student_id, valid_from
            order by role, email, user_name
        ) as duplicate_rank
    from typed
)

select
    class_id,
    student_id,
    meeting_id,
    user_name,
    first_name,
    last_name,
    email,
    ext_person_id,
    role,
    valid_from,
    valid_to,
    valid_to is null as is_current
from ranked
where duplicate_rank = 1
