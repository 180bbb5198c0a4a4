-- grain: instructor_id
-- purpose: Every teacher and assistant: people on a current roster as teacher or assistant, or who
--   took part in a session as one (instructor_id is the API's student_id of the person). Matched to
--   the organization's users (GET /users) by e-mail, case-insensitively, where one exists (the
--   lowest user_id if several share it). classes_as_teacher / classes_as_assistant count current
--   roster entries; sessions_taught counts held sessions they attended as staff.

with enrollments as (
    select * from stg_class__enrollments where is_current
),

participants as (
    select * from int_class__session_participants
),

users as (
    select * from stg_class__users
),

ranked_enrollments as (
    select
        *,
        row_number() over (
            partition by student_id
            order by case when email is null then 1 else 0 end, class_id
        ) as profile_rank
    from enrollments
    where role in ('teacher', 'assistant')
),

roster_counts as (
    select
        student_id,
        sum(case when role = 'teacher' then 1 else 0 end) as classes_as_teacher,
        sum(case when role = 'assistant' then 1 else 0 end) as classes_as_assistant
    from enrollments
    where role in ('teacher', 'assistant')
    group by student_id
),

session_counts as (
    select
        student_id,
        max(email) as email,
        max(ext_person_id) as ext_person_id,
        sum(case when session_status = 'held' and attended then 1 else 0 end) as sessions_taught
    from participants
    where person_type = 'staff'
    group by student_id
),

instructors as (
    select student_id from roster_counts
    union
    select student_id from session_counts
),

profiles as (
    select
        instructors.student_id,
        profile.user_name,
        profile.first_name,
        profile.last_name,
        coalesce(profile.email, session_counts.email) as email,
        coalesce(profile.ext_person_id, session_counts.ext_person_id) as ext_person_id
    from instructors
    left join ranked_enrollments as profile
        on profile.student_id = instructors.student_id
        and profile.profile_rank = 1
    left join session_counts
        on session_counts.student_id = instructors.student_id
),

user_matches as (
    select
        profiles.student_id,
        users.user_id,
        users.user_name,
        users.is_zoom_configured,
        row_number() over (partition by profiles.student_id order by users.user_id) as user_rank
    from profiles
    inner join users
        on lower(users.email) = lower(profiles.email)
)

select
    profiles.student_id as instructor_id,
    profiles.user_name as instructor_name,
    profiles.first_name,
    profiles.last_name,
    profiles.email,
    profiles.ext_person_id,
    coalesce(roster_counts.classes_as_teacher, 0) as classes_as_teacher,
    coalesce(roster_counts.classes_as_assistant, 0) as classes_as_assistant,
    coalesce(session_counts.sessions_taught, 0) as sessions_taught,
    user_matches.user_id,
    user_matches.user_name as organization_user_name,
    user_matches.is_zoom_configured
from profiles
left join roster_counts
    on roster_counts.student_id = profiles.student_id
left join session_counts
    on session_counts.student_id = profiles.student_id
left join user_matches
    on user_matches.student_id = profiles.student_id
    and user_matches.user_rank = 1
