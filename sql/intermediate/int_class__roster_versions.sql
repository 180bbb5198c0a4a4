-- grain: class_id, student_id, valid_from?
-- purpose: Every roster version (stg_class__enrollments) with the time it stands for when a model
--   asks who was on a class's roster, in which role, at an instant T: a version stands for
--   [stands_from, valid_to). stands_from is valid_from, except for a person's earliest version, whose
--   stands_from is null (no lower bound): the roster before the first load is unknown, and the first
--   version seen is the best evidence for older sessions. A removal followed by a re-enrollment
--   leaves a gap in which the person was on no roster. Versions of one person do not overlap, so at
--   most one stands for any instant.

with enrollments as (
    select * from stg_class__enrollments
)

select
    enrollments.*,
    case
        when enrollments.valid_from = min(enrollments.valid_from) over (
            partition by enrollments.class_id, enrollments.student_id
        ) then null
        else enrollments.valid_from
    end as stands_from
from enrollments
