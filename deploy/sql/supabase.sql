-- syncrelay: the Supabase / PostgreSQL side (shared/spec/contact.md).
-- Idempotent: `syncrelay migrate --sink postgres` runs it on every deploy.
-- Runs on plain PostgreSQL >= 13 (gen_random_uuid is built in) and on Supabase.

CREATE TABLE IF NOT EXISTS contacts (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    contact_id text NOT NULL UNIQUE,
    twenty_id text,
    full_name text,
    display_name text,
    name_prefix text,
    first_name text,
    middle_name text,
    last_name text,
    name_suffix text,
    nickname text,
    phonetic_name text,
    company text,
    job_title text,
    department text,
    relationship_type text,
    relationship_strength double precision
        CONSTRAINT contacts_relationship_strength_range
        CHECK (relationship_strength >= 0 AND relationship_strength <= 1),
    social_network jsonb,
    tags jsonb,
    created_at timestamptz,
    updated_at timestamptz,
    deleted_at timestamptz,
    llm_summary text,
    llm_context jsonb,
    ai_insights jsonb,
    communication_stats jsonb,
    llm_updated_at timestamptz,
    sync_metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    emails jsonb,
    phones jsonb,
    extra jsonb NOT NULL DEFAULT '{}'::jsonb
);

CREATE INDEX IF NOT EXISTS contacts_twenty_id_idx ON contacts (twenty_id);

-- Field versions of direct edits. syncrelay marks its own transactions with
-- SET LOCAL syncrelay.writer = 'on' and stamps sync_metadata.versions itself;
-- any other session that changes a column gets that column's version stamped
-- here, so a later, older event from another system cannot overwrite the edit.
-- The version is the row's updated_at in canonical form
-- (YYYY-MM-DDTHH:MM:SS.ffffffZ); an edit that does not move updated_at
-- gets now(). Keys are canonical field names (column id is supabase_id).
CREATE OR REPLACE FUNCTION syncrelay_stamp_versions() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    changed_key text;
    version text;
    versions jsonb;
BEGIN
    IF coalesce(current_setting('syncrelay.writer', true), '') = 'on' THEN
        RETURN NEW;
    END IF;
    IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
        NEW.updated_at := now();
    END IF;
    version := to_char(NEW.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');
    versions := coalesce(NEW.sync_metadata -> 'versions', '{}'::jsonb);
    FOR changed_key IN
        SELECT n.key
        FROM jsonb_each(to_jsonb(NEW)) AS n
        JOIN jsonb_each(to_jsonb(OLD)) AS o USING (key)
        WHERE n.value IS DISTINCT FROM o.value
          AND n.key NOT IN ('sync_metadata', 'extra')
    LOOP
        IF changed_key = 'id' THEN
            changed_key := 'supabase_id';
        END IF;
        versions := jsonb_set(versions, ARRAY[changed_key], to_jsonb(version));
    END LOOP;
    NEW.sync_metadata := jsonb_set(coalesce(NEW.sync_metadata, '{}'::jsonb), '{versions}', versions);
    RETURN NEW;
END;
$$;

DROP TRIGGER IF EXISTS syncrelay_stamp_versions ON contacts;
CREATE TRIGGER syncrelay_stamp_versions
    BEFORE UPDATE ON contacts
    FOR EACH ROW EXECUTE FUNCTION syncrelay_stamp_versions();

-- A row inserted without a contact_id is a contact first seen in Supabase:
-- its contact_id is its own id (contact.md, Identity), the same value
-- syncrelay derives from the webhook of the insert.
CREATE OR REPLACE FUNCTION syncrelay_default_contact_id() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.contact_id IS NULL OR NEW.contact_id = '' THEN
        NEW.contact_id := NEW.id::text;
    END IF;
    RETURN NEW;
END;
$$;

DROP TRIGGER IF EXISTS syncrelay_default_contact_id ON contacts;
CREATE TRIGGER syncrelay_default_contact_id
    BEFORE INSERT ON contacts
    FOR EACH ROW EXECUTE FUNCTION syncrelay_default_contact_id();

-- The Supabase webhook that tells syncrelay about changes (INSERT, UPDATE
-- and DELETE on contacts, POSTed to https://<syncrelay>/v1/webhooks/supabase
-- with the shared secret header) is deploy/sql/supabase_webhook.sql, or one
-- made in the Supabase dashboard; see the README. It is not part of this
-- file so that the file also runs on plain PostgreSQL, which has no
-- supabase_functions schema.
