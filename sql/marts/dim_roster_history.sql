-- grain: class_id, student_id, valid_from?
-- purpose: Who was on which class roster when, one row per version of an enrollment as the connector
--   saw it between runs (valid_to null = still enrolled). Who was enrolled on a date D:
--   `where valid_from <= D and (valid_to is null or valid_to > D)`. Times are load times, so the
--   history is as fine-grained as the load schedule.

with enrollments as (
    select * from stg_class__enrollments
),

classes as (
    select * from dim_classes
)

select
    enrollments.class_id,
    classes.class_name,
    enrollments.student_id,
    enrollments.user_name,
    enrollments.email,
    enrollments.ext_person_id,
    enrollments.role,
    enrollments.valid_from,
    enrollments.valid_to,
    enrollments.is_current
from enrollments
left join classes on classes.class_id = enrollments.class_id
