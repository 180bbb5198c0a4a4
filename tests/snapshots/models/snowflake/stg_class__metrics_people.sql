CREATE OR REPLACE TABLE class_data.stg_class__metrics_people AS
WITH source AS (
  SELECT
    *
  FROM class_data.metrics
), typed AS (
  SELECT
    CAST(class_id AS VARCHAR) AS class_id,
    CAST(student_id AS VARCHAR) AS student_id,
    CAST(email AS VARCHAR) AS email,
    CAST(ext_person_id AS VARCHAR) AS ext_person_id,
    CAST(event_start AS TIMESTAMPTZ) AS event_start,
    CAST(event_end AS TIMESTAMPTZ) AS event_end
  FROM source
)
SELECT
  class_id,
  student_id,
  ROW_NUMBER() OVER (ORDER BY class_id, student_id) AS person_key,
  DENSE_RANK() OVER (ORDER BY class_id) AS class_key,
  MAX(email) AS email,
  MAX(ext_person_id) AS ext_person_id,
  MIN(event_start) AS first_event_start,
  MAX(event_end) AS last_event_end
FROM typed
GROUP BY
  class_id,
  student_id;

COMMENT ON TABLE class_data.stg_class__metrics_people IS 'One row per class and person with activity events (GET /reporting/metrics): their e-mail and ext_person_id as the events carry them, and when their first event started and their last one ended. Read from the raw events directly, without stg_class__metrics\' dedupe: a repeated event changes none of these (each is a max or min), and grouping 2 M events by two keys once is cheaper than deduplicating them for every model that only needs people (int_class__as_of, int_class__session_participants, dim_students). A table: those three and int_class__events read it. person_key numbers the (class, person) pairs and class_key the classes (1, 2, ... in id order): int_class__events joins, sorts and partitions 2 M events on these integers rather than on the 36-character id strings. They are numbered anew on every build: never store them.';
