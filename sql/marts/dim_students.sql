-- grain: student_id
-- purpose: Every student the warehouse knows of, one name and contact profile each. A person is a
--   student if they are on a current roster as a student, took part in a session as one (see
--   int_class__session_participants: people on no roster count as students), or have events but
--   no role anywhere. Teachers and assistants are in dim_instructors instead (the API calls every
--   person student_id); someone who is a student in one class and an assistant in another is in
--   both. The profile comes from their enrollments (the row with an e-mail first, then by
--   class_id); e-mail and ext_person_id fall back to the attendance report, then to activity events.
--   roster_sessions / sessions_present count sessions on an attendance report as a student.

with enrollments as (
    select * from stg_class__enrollments where is_current
),

participants as (
    select * from int_class__session_participants
),

people_with_events as (
    select * from stg_class__metrics_people
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
        sum(case when coalesce(role, 'student') not in ('teacher', 'assistant') then 1 else 0 end) as classes_as_student,
        sum(case when role in ('teacher', 'assistant') then 1 else 0 end) as classes_as_staff
    from enrollments
    group by student_id
),

participant_profiles as (
    select
        student_id,
        max(email) as email,
        max(ext_person_id) as ext_person_id,
        sum(case when person_type = 'student' then 1 else 0 end) as sessions_as_student,
        sum(case when person_type = 'staff' then 1 else 0 end) as sessions_as_staff,
        sum(case when person_type = 'student' and on_attendance_roster then 1 else 0 end) as roster_sessions,
        sum(case when person_type = 'student' and present then 1 else 0 end) as sessions_present
    from participants
    group by student_id
),

event_profiles as (
    select
        student_id,
        max(email) as email,
        max(ext_person_id) as ext_person_id
    from people_with_events
    group by student_id
),

known_people as (
    select student_id from enrollments
    union
    select student_id from participants
    union
    select student_id from event_profiles
),

students as (
    select known_people.student_id
    from known_people
    left join enrollment_counts
        on enrollment_counts.student_id = known_people.student_id
    left join participant_profiles
        on participant_profiles.student_id = known_people.student_id
    where coalesce(enrollment_counts.classes_as_student, 0) > 0
        or coalesce(participant_profiles.sessions_as_student, 0) > 0
        or (
            coalesce(enrollment_counts.classes_as_staff, 0) = 0
            and coalesce(participant_profiles.sessions_as_staff, 0) = 0
        )
)

select
    students.student_id,
    enrollment_profiles.user_name as student_name,
    enrollment_profiles.first_name,
    enrollment_profiles.last_name,
    coalesce(enrollment_profiles.email, participant_profiles.email, event_profiles.email) as email,
    coalesce(
        enrollment_profiles.ext_person_id,
        participant_profiles.ext_person_id,
        event_profiles.ext_person_id
    ) as ext_person_id,
    coalesce(enrollment_counts.enrolled_classes, 0) as enrolled_classes,
    coalesce(enrollment_counts.classes_as_student, 0) as classes_as_student,
    coalesce(enrollment_counts.classes_as_staff, 0) as classes_as_staff,
    coalesce(participant_profiles.roster_sessions, 0) as roster_sessions,
    coalesce(participant_profiles.sessions_present, 0) as sessions_present
from students
left join enrollment_profiles
    on enrollment_profiles.student_id = students.student_id
left join enrollment_counts
    on enrollment_counts.student_id = students.student_id
left join participant_profiles
    on participant_profiles.student_id = students.student_id
left join event_profiles
    on event_profiles.student_id = students.student_id
