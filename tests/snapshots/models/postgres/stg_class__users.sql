DROP VIEW IF EXISTS class_data.stg_class__users CASCADE;

CREATE VIEW class_data.stg_class__users AS
WITH source AS (
  SELECT
    *
  FROM class_data.users
), typed AS (
  SELECT
    CAST(id AS BIGINT) AS user_id,
    CAST(ext_user_id AS TEXT) AS ext_user_id,
    CAST(email AS TEXT) AS email,
    CAST(user_name AS TEXT) AS user_name,
    roles,
    CAST(is_zoom_configured AS BOOLEAN) AS is_zoom_configured
  FROM source
), ranked AS (
  SELECT
    *,
    ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY email, user_name) AS duplicate_rank
  FROM typed
)
SELECT
  user_id,
  ext_user_id,
  email,
  user_name,
  roles,
  is_zoom_configured
FROM ranked
WHERE
  duplicate_rank = 1;

COMMENT ON VIEW class_data.stg_class__users IS 'Organization users (instructors, admins) from GET /users: typed and deduplicated. `roles` stays the destination''s JSON type: its element access is not portable across dialects.';
