DROP TABLE IF EXISTS class_data.fct_event_durations CASCADE;

CREATE TABLE class_data.fct_event_durations AS
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
    CAST(SUM(event_milliseconds) AS DOUBLE PRECISION) / 1000.0 AS total_seconds,
    CAST(SUM(merged_milliseconds) AS DOUBLE PRECISION) / 1000.0 AS merged_seconds,
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

COMMENT ON TABLE class_data.fct_event_durations IS 'Activity per person, session (or local date outside sessions) and kind of event, with counts and times.';

COMMENT ON COLUMN class_data.fct_event_durations.class_id IS 'The class.';

COMMENT ON COLUMN class_data.fct_event_durations.session_id IS 'The session the events belong to (null outside every session).';

COMMENT ON COLUMN class_data.fct_event_durations.activity_date IS 'Local date of the session (or of the event, outside sessions).';

COMMENT ON COLUMN class_data.fct_event_durations.student_id IS 'The person.';

COMMENT ON COLUMN class_data.fct_event_durations.enrollment_role IS 'Roster role at the time (student if on no roster).';

COMMENT ON COLUMN class_data.fct_event_durations.person_type IS 'student or staff.';

COMMENT ON COLUMN class_data.fct_event_durations.event_type IS 'Event type as reported (undocumented types are kept and warned about).';

COMMENT ON COLUMN class_data.fct_event_durations.event_value IS 'Event value (null when the API gave none).';

COMMENT ON COLUMN class_data.fct_event_durations.event_count IS 'Number of events.';

COMMENT ON COLUMN class_data.fct_event_durations.total_seconds IS 'Sum of the events'' own lengths (end - start), whole events.';

COMMENT ON COLUMN class_data.fct_event_durations.merged_seconds IS 'Wall-clock time covered within the attended stretch, overlaps counted once.';

COMMENT ON COLUMN class_data.fct_event_durations.islands IS 'Separate stretches left after clipping and merging.';

COMMENT ON COLUMN class_data.fct_event_durations.first_event_start IS 'Earliest event start (UTC).';

COMMENT ON COLUMN class_data.fct_event_durations.last_event_start IS 'Latest event start (UTC).';

COMMENT ON COLUMN class_data.fct_event_durations.last_event_end IS 'Latest event end (UTC).';
