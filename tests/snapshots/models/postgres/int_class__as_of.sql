DROP TABLE IF EXISTS class_data.int_class__as_of CASCADE;

CREATE TABLE class_data.int_class__as_of AS
WITH attendance AS (
  SELECT
    *
  FROM class_data.stg_class__attendance
), people_with_events AS (
  SELECT
    *
  FROM class_data.stg_class__metrics_people
), reported AS (
  SELECT
    MAX(session_start_time) AS reported_at
  FROM attendance
  UNION ALL
  SELECT
    MAX(join_time)
  FROM attendance
  UNION ALL
  SELECT
    MAX(leave_time)
  FROM attendance
  UNION ALL
  SELECT
    MAX(last_event_end)
  FROM people_with_events
)
SELECT
  COALESCE(MAX(reported_at), CURRENT_TIMESTAMP) AS as_of
FROM reported;

COMMENT ON TABLE class_data.int_class__as_of IS 'One row: the moment the loaded data describes, i.e. the latest instant the API reported anything happening (a session start, a join, a leave, an event end). Session status (live, missed, upcoming) is judged against it rather than against the build''s clock, so rebuilding the models later, without a new load, does not turn a session that was live at load time into a finished one. Empty warehouse: the build time.';
