-- The current contact, per contact and per field: the value of the newest
-- change of THAT field (field-level last-writer-wins over the changelog).
--
-- * A row only speaks for the fields its `changed` names: a field an event
--   did not change (NULL, or [] for an ARRAY column) never wins.
-- * STRUCT(x AS v) wraps the value so that IGNORE NULLS skips only the rows
--   that did not change the field: a change TO NULL is a non-NULL struct and
--   wins like any other value.
-- * Newest = highest version (the source's updated_at); ties are broken by
--   op (a delete or destroy wins a version tie, as in the arbiter), then
--   received_at, then event_id, so the answer is deterministic. Duplicate
--   rows (insertId dedupe is best-effort) carry the same values and change
--   nothing.
-- * twenty_id and supabase_id are merged, never cleared (contact.md,
--   Identity): the newest non-NULL value.
-- * Deletes are honoured as data: a contact whose newest deleted_at change is
--   non-NULL is shown with that deleted_at (not filtered out), so a reader
--   can propagate the delete; add `WHERE deleted_at IS NULL` for live ones.
-- * extra: per source, the newest non-NULL extra.<source>; a source with
--   none is a JSON null member.
-- * sync_metadata is syncrelay's own bookkeeping and is not part of the view.
CREATE OR REPLACE VIEW `project.dataset.contacts` AS
SELECT
  contact_id,
  ARRAY_AGG(twenty_id IGNORE NULLS ORDER BY version DESC, op = 'upsert', received_at DESC, event_id DESC LIMIT 1)[SAFE_OFFSET(0)] AS twenty_id,
  ARRAY_AGG(supabase_id IGNORE NULLS ORDER BY version DESC, op = 'upsert', received_at DESC, event_id DESC LIMIT 1)[SAFE_OFFSET(0)] AS supabase_id,
  ARRAY_AGG(IF('full_name' IN UNNEST(changed), STRUCT(full_name AS v), NULL) IGNORE NULLS
            ORDER BY version DESC, op = 'upsert', received_at DESC, event_id DESC LIMIT 1)[SAFE_OFFSET(0)].v AS full_name,
  ARRAY_AGG(IF('display_name' IN UNNEST(changed), STRUCT(display_name AS v), NULL) IGNORE NULLS
            ORDER BY version DESC, op = 'upsert', received_at DESC, event_id DESC LIMIT 1)[SAFE_OFFSET(0)].v AS display_name,
  ARRAY_AGG(IF('name_prefix' IN UNNEST(changed), STRUCT(name_prefix AS v), NULL) IGNORE NULLS
            ORDER BY version DESC, op = 'upsert', received_at DESC, event_id DESC LIMIT 1)[SAFE_OFFSET(0)].v AS name_prefix,
  ARRAY_AGG(IF('first_name' IN UNNEST(changed), STRUCT(first_name AS v), NULL) IGNORE NULLS
            ORDER BY version DESC, op = 'upsert', received_at DESC, event_id DESC LIMIT 1)[SAFE_OFFSET(0)].v AS first_name,
  ARRAY_AGG(IF('middle_name' IN UNNEST(changed), STRUCT(middle_name AS v), NULL) IGNORE NULLS
            ORDER BY version DESC, op = 'upsert', received_at DESC, event_id DESC LIMIT 1)[SAFE_OFFSET(0)].v AS middle_name,
  ARRAY_AGG(IF('last_name' IN UNNEST(changed), STRUCT(last_name AS v), NULL) IGNORE NULLS
            ORDER BY version DESC, op = 'upsert', received_at DESC, event_id DESC LIMIT 1)[SAFE_OFFSET(0)].v AS last_name,
  ARRAY_AGG(IF('name_suffix' IN UNNEST(changed), STRUCT(name_suffix AS v), NULL) IGNORE NULLS
            ORDER BY version DESC, op = 'upsert', received_at DESC, event_id DESC LIMIT 1)[SAFE_OFFSET(0)].v AS name_suffix,
  ARRAY_AGG(IF('nickname' IN UNNEST(changed), STRUCT(nickname AS v), NULL) IGNORE NULLS
            ORDER BY version DESC, op = 'upsert', received_at DESC, event_id DESC LIMIT 1)[SAFE_OFFSET(0)].v AS nickname,
  ARRAY_AGG(IF('phonetic_name' IN UNNEST(changed), STRUCT(phonetic_name AS v), NULL) IGNORE NULLS
            ORDER BY version DESC, op = 'upsert', received_at DESC, event_id DESC LIMIT 1)[SAFE_OFFSET(0)].v AS phonetic_name,
  ARRAY_AGG(IF('company' IN UNNEST(changed), STRUCT(company AS v), NULL) IGNORE NULLS
            ORDER BY version DESC, op = 'upsert', received_at DESC, event_id DESC LIMIT 1)[SAFE_OFFSET(0)].v AS company,
  ARRAY_AGG(IF('job_title' IN UNNEST(changed), STRUCT(job_title AS v), NULL) IGNORE NULLS
            ORDER BY version DESC, op = 'upsert', received_at DESC, event_id DESC LIMIT 1)[SAFE_OFFSET(0)].v AS job_title,
  ARRAY_AGG(IF('department' IN UNNEST(changed), STRUCT(department AS v), NULL) IGNORE NULLS
            ORDER BY version DESC, op = 'upsert', received_at DESC, event_id DESC LIMIT 1)[SAFE_OFFSET(0)].v AS department,
  ARRAY_AGG(IF('relationship_type' IN UNNEST(changed), STRUCT(relationship_type AS v), NULL) IGNORE NULLS
            ORDER BY version DESC, op = 'upsert', received_at DESC, event_id DESC LIMIT 1)[SAFE_OFFSET(0)].v AS relationship_type,
  ARRAY_AGG(IF('relationship_strength' IN UNNEST(changed), STRUCT(relationship_strength AS v), NULL) IGNORE NULLS
            ORDER BY version DESC, op = 'upsert', received_at DESC, event_id DESC LIMIT 1)[SAFE_OFFSET(0)].v AS relationship_strength,
  ARRAY_AGG(IF('social_network' IN UNNEST(changed), STRUCT(social_network AS v), NULL) IGNORE NULLS
            ORDER BY version DESC, op = 'upsert', received_at DESC, event_id DESC LIMIT 1)[SAFE_OFFSET(0)].v AS social_network,
  ARRAY_AGG(IF('tags' IN UNNEST(changed), STRUCT(tags AS v), NULL) IGNORE NULLS
            ORDER BY version DESC, op = 'upsert', received_at DESC, event_id DESC LIMIT 1)[SAFE_OFFSET(0)].v AS tags,
  ARRAY_AGG(IF('created_at' IN UNNEST(changed), STRUCT(created_at AS v), NULL) IGNORE NULLS
            ORDER BY version DESC, op = 'upsert', received_at DESC, event_id DESC LIMIT 1)[SAFE_OFFSET(0)].v AS created_at,
  ARRAY_AGG(IF('updated_at' IN UNNEST(changed), STRUCT(updated_at AS v), NULL) IGNORE NULLS
            ORDER BY version DESC, op = 'upsert', received_at DESC, event_id DESC LIMIT 1)[SAFE_OFFSET(0)].v AS updated_at,
  ARRAY_AGG(IF('deleted_at' IN UNNEST(changed), STRUCT(deleted_at AS v), NULL) IGNORE NULLS
            ORDER BY version DESC, op = 'upsert', received_at DESC, event_id DESC LIMIT 1)[SAFE_OFFSET(0)].v AS deleted_at,
  ARRAY_AGG(IF('llm_summary' IN UNNEST(changed), STRUCT(llm_summary AS v), NULL) IGNORE NULLS
            ORDER BY version DESC, op = 'upsert', received_at DESC, event_id DESC LIMIT 1)[SAFE_OFFSET(0)].v AS llm_summary,
  ARRAY_AGG(IF('llm_context' IN UNNEST(changed), STRUCT(llm_context AS v), NULL) IGNORE NULLS
            ORDER BY version DESC, op = 'upsert', received_at DESC, event_id DESC LIMIT 1)[SAFE_OFFSET(0)].v AS llm_context,
  ARRAY_AGG(IF('ai_insights' IN UNNEST(changed), STRUCT(ai_insights AS v), NULL) IGNORE NULLS
            ORDER BY version DESC, op = 'upsert', received_at DESC, event_id DESC LIMIT 1)[SAFE_OFFSET(0)].v AS ai_insights,
  ARRAY_AGG(IF('communication_stats' IN UNNEST(changed), STRUCT(communication_stats AS v), NULL) IGNORE NULLS
            ORDER BY version DESC, op = 'upsert', received_at DESC, event_id DESC LIMIT 1)[SAFE_OFFSET(0)].v AS communication_stats,
  ARRAY_AGG(IF('llm_updated_at' IN UNNEST(changed), STRUCT(llm_updated_at AS v), NULL) IGNORE NULLS
            ORDER BY version DESC, op = 'upsert', received_at DESC, event_id DESC LIMIT 1)[SAFE_OFFSET(0)].v AS llm_updated_at,
  ARRAY_AGG(IF('emails' IN UNNEST(changed), STRUCT(emails AS v), NULL) IGNORE NULLS
            ORDER BY version DESC, op = 'upsert', received_at DESC, event_id DESC LIMIT 1)[SAFE_OFFSET(0)].v AS emails,
  ARRAY_AGG(IF('phones' IN UNNEST(changed), STRUCT(phones AS v), NULL) IGNORE NULLS
            ORDER BY version DESC, op = 'upsert', received_at DESC, event_id DESC LIMIT 1)[SAFE_OFFSET(0)].v AS phones,
  JSON_OBJECT(
    'twenty', ARRAY_AGG(JSON_QUERY(extra, '$.twenty') IGNORE NULLS ORDER BY version DESC, op = 'upsert', received_at DESC, event_id DESC LIMIT 1)[SAFE_OFFSET(0)],
    'supabase', ARRAY_AGG(JSON_QUERY(extra, '$.supabase') IGNORE NULLS ORDER BY version DESC, op = 'upsert', received_at DESC, event_id DESC LIMIT 1)[SAFE_OFFSET(0)]
  ) AS extra
FROM `project.dataset.contacts_changes`
GROUP BY contact_id;
