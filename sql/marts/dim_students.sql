-- grain: student_id
-- purpose: Every person seen in a roster, an attendance report or an activity event (the API calls
--   them all student_id, teachers included), with one name and contact profile each.
--   The profile comes from their enrollments (the row with an e-mail first, then by class_id);
--   e-mail and ext_person_id fall back to the attendance report, then to activity events.

with enrollments as (
    select * from stg_class__enrollments where is_current
),

attendance as (
    select * from stg_class__attendance
),

events as (
    select * from int_class__events
),

ranked_enrollments as (
    select
        *,
        row_number() over (
            partition by student_id
            order by case when email is null then 1 else 0 end, class_id
        ) as profile_rank
    from enrollments
),

enrollment_profiles as (
    select * from ranked_enrollments where profile_rank = 1
),

enrollment_counts as (
    select
        student_id,
        count(*) as enrolled_classes,
        sum(case when coalesce(role, 'student') = 'student' then 1 else 0 end) as classes_as_student,
        sum(case when role in ('teacher', 'assistant') then 1 else 0 end) as classes_as_staff
    from enrollments
    group by student_id
),

attendance_profiles as (
    select
        student_id,
        max(email) as email,
        max(ext_person_id) as ext_person_id,
        count(*) as roster_sessions,
        sum(case when present then 1 else 0 end) as sessions_present
    from attendance
    group by student_id
),

event_profiles as (
    select
        student_id,
        max(email) as email,
        max(ext_person_id) as ext_person_id
    from events
    group by student_id
),

known_students as (
    select student_id from enrollments
    union
    select student_id from attendance
    union
    select student_id from events
)

select
    known_students.student_id,
    enrollment_profiles.user_name as student_name,
    enrollment_profiles.first_name,
    enrollment_profiles.last_name,
    coalesce(enrollment_profiles.email, attendance_profiles.email, event_profiles.email) as email,
    coalesce(
        enrollment_profiles.ext_person_id,
        attendance_profiles.ext_person_id,
        event_profiles.ext_person_id
    ) as ext_person_id,
    coalesce(enrollment_counts.enrolled_classes, 0) as enrolled_classes,
    coalesce(enrollment_counts.classes_as_student, 0) as classes_as_student,
    coalesce(enrollment_counts.classes_as_staff, 0) as classes_as_staff,
    coalesce(attendance_profiles.roster_sessions, 0) as roster_sessions,
    coalesce(attendance_profiles.sessions_present, 0) as sessions_present
from known_students
left join enrollment_profiles
    on enrollment_profiles.student_id = known_students.student_id
left join enrollment_counts
    on enrollment_counts.student_id = known_students.student_id
left join attendance_profiles
    on attendance_profiles.student_id = known_students.student_id
left join event_profiles
    on event_profiles.student_id = known_students.student_id
