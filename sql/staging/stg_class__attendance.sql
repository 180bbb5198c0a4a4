-- grain: class_id, session_id, student_id
-- purpose: Attendance of every started session from GET /reporting/attendance, one row per class,
--   session and rostered student: typed and deduplicated. A student still in a live session has a
--   null leave_time.

with source as (
    select * from attendance
),

typed as (
    select
        cast(class_id as text) as class_id,
        cast(session_id as text) as session_id,
        cast(session_start_time as timestamptz) as session_start_time,
        cast(session_end_time as timestamptz) as session_end_time,
        cast(student_id as text) as student_id,
        cast(email as text) as email,
        cast(ext_person_id as text) as ext_person_id,
        cast(present as boolean) as present,
        cast(tardy as boolean) as tardy,
        cast(join_time as timestamptz) as join_time,
        cast(leave_time as timestamptz) as leave_time
    from source
),

ranked as (
    select
        *,
        row_number() over (
            partition by class_id, session_id, student_id
            order by join_time, leave_time
        ) as duplicate_rank
    from typed
)

select
    class_id,
    session_id,
    session_start_time,
    session_end_time,
    student_id,
    email,
    ext_person_id,
    present,
    tardy,
    join_time,
    leave_time
from ranked
where duplicate_rank = 1
