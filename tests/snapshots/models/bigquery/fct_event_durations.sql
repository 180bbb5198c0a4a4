CREATE OR REPLACE TABLE class_data.fct_event_durations AS
WITH events AS (
  SELECT
    *
  FROM class_data.int_class__events
), participants AS (
  SELECT
    *
  FROM class_data.int_class__session_participants
), enrollments AS (
  SELECT
    *
  FROM class_data.int_class__roster_versions
), grouped AS (
  SELECT
    class_id,
    session_id,
    activity_date,
    student_id,
    event_type,
    event_value,
    COUNT(*) AS event_count,
    SUM(event_milliseconds) / 1000.0 AS total_seconds,
    SUM(merged_milliseconds) / 1000.0 AS merged_seconds,
    SUM(starts_island) AS islands,
    MIN(event_start) AS first_event_start,
    MAX(event_start) AS last_event_start,
    MAX(event_end) AS last_event_end
  FROM events
  GROUP BY
    class_id,
    session_id,
    activity_date,
    student_id,
    event_type,
    event_value
), outside_people AS (
  SELECT
    class_id,
    activity_date,
    student_id,
    MIN(first_event_start) AS first_event_start
  FROM grouped
  WHERE
    session_id IS NULL
  GROUP BY
    class_id,
    activity_date,
    student_id
), outside_roles AS (
  SELECT
    outside_people.class_id,
    outside_people.activity_date,
    outside_people.student_id,
    enrollments.role
  FROM outside_people
  INNER JOIN enrollments
    ON enrollments.class_id = outside_people.class_id
    AND enrollments.student_id = outside_people.student_id
    AND (
      enrollments.stands_from IS NULL
      OR enrollments.stands_from <= outside_people.first_event_start
    )
    AND (
      enrollments.valid_to IS NULL
      OR enrollments.valid_to > outside_people.first_event_start
    )
)
SELECT
  grouped.class_id,
  grouped.session_id,
  grouped.activity_date,
  grouped.student_id,
  COALESCE(participants.enrollment_role, outside_roles.role, 'student') AS enrollment_role,
  CASE
    WHEN COALESCE(participants.enrollment_role, outside_roles.role) IN ('teacher', 'assistant')
    THEN 'staff'
    ELSE 'student'
  END AS person_type,
  grouped.event_type,
  grouped.event_value,
  grouped.event_count,
  grouped.total_seconds,
  grouped.merged_seconds,
  grouped.islands,
  grouped.first_event_start,
  grouped.last_event_start,
  grouped.last_event_end
FROM grouped
LEFT JOIN participants
  ON participants.class_id = grouped.class_id
  AND participants.session_id = grouped.session_id
  AND participants.student_id = grouped.student_id
LEFT JOIN outside_roles
  ON grouped.session_id IS NULL
  AND outside_roles.class_id = grouped.class_id
  AND outside_roles.activity_date = grouped.activity_date
  AND outside_roles.student_id = grouped.student_id;

ALTER TABLE class_data.fct_event_durations SET OPTIONS (description='Activity per person, session (or local date outside sessions) and kind of event, with counts and times.');

ALTER TABLE class_data.fct_event_durations ALTER COLUMN class_id SET OPTIONS (description='The class.');

ALTER TABLE class_data.fct_event_durations ALTER COLUMN session_id SET OPTIONS (description='The session the events belong to (null outside every session).');

ALTER TABLE class_data.fct_event_durations ALTER COLUMN activity_date SET OPTIONS (description='Local date of the session (or of the event, outside sessions).');

ALTER TABLE class_data.fct_event_durations ALTER COLUMN student_id SET OPTIONS (description='The person.');

ALTER TABLE class_data.fct_event_durations ALTER COLUMN enrollment_role SET OPTIONS (description='Roster role at the time (student if on no roster).');

ALTER TABLE class_data.fct_event_durations ALTER COLUMN person_type SET OPTIONS (description='student or staff.');

ALTER TABLE class_data.fct_event_durations ALTER COLUMN event_type SET OPTIONS (description='Event type as reported (undocumented types are kept and warned about).');

ALTER TABLE class_data.fct_event_durations ALTER COLUMN event_value SET OPTIONS (description='Event value (null when the API gave none).');

ALTER TABLE class_data.fct_event_durations ALTER COLUMN event_count SET OPTIONS (description='Number of events.');

ALTER TABLE class_data.fct_event_durations ALTER COLUMN total_seconds SET OPTIONS (description='Sum of the events\' own lengths (end - start), whole events.');

ALTER TABLE class_data.fct_event_durations ALTER COLUMN merged_seconds SET OPTIONS (description='Wall-clock time covered within the attended stretch, overlaps counted once.');

ALTER TABLE class_data.fct_event_durations ALTER COLUMN islands SET OPTIONS (description='Separate stretches left after clipping and merging.');

ALTER TABLE class_data.fct_event_durations ALTER COLUMN first_event_start SET OPTIONS (description='Earliest event start (UTC).');

ALTER TABLE class_data.fct_event_durations ALTER COLUMN last_event_start SET OPTIONS (description='Latest event start (UTC).');

ALTER TABLE class_data.fct_event_durations ALTER COLUMN last_event_end SET OPTIONS (description='Latest event end (UTC).');
