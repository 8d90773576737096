-- The BigQuery changelog: one row per change event syncrelay delivers
-- (append-only; insertAll with insertId = event_id). Replace `project.dataset`.
-- Same columns as contacts_changes.schema.json. A field an event does not
-- carry is NULL (ARRAY columns: []); read contacts through the `contacts`
-- view, which takes each field from the newest row whose `changed` names it.
CREATE TABLE IF NOT EXISTS `project.dataset.contacts_changes` (
  event_id STRING NOT NULL,
  op STRING NOT NULL,
  source STRING NOT NULL,
  version TIMESTAMP NOT NULL,
  changed ARRAY<STRING>,
  received_at TIMESTAMP NOT NULL,
  contact_id STRING NOT NULL,
  twenty_id STRING,
  supabase_id STRING,
  full_name STRING,
  display_name STRING,
  name_prefix STRING,
  first_name STRING,
  middle_name STRING,
  last_name STRING,
  name_suffix STRING,
  nickname STRING,
  phonetic_name STRING,
  company STRING,
  job_title STRING,
  department STRING,
  relationship_type STRING,
  relationship_strength FLOAT64,
  social_network JSON,
  tags ARRAY<STRING>,
  created_at TIMESTAMP,
  updated_at TIMESTAMP,
  deleted_at TIMESTAMP,
  llm_summary STRING,
  llm_context JSON,
  ai_insights JSON,
  communication_stats JSON,
  llm_updated_at TIMESTAMP,
  sync_metadata JSON,
  emails ARRAY<STRING>,
  phones ARRAY<STRING>,
  extra JSON
)
PARTITION BY DATE(received_at)
CLUSTER BY contact_id
OPTIONS (description = 'syncrelay contact changelog');
