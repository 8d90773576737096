-- syncrelay: the local SQLite copy (shared/spec/contact.md, sinks.md).
-- Idempotent; the SQLite sink also runs it when it opens the file.
-- JSON is TEXT, timestamps are canonical text (YYYY-MM-DDTHH:MM:SS.ffffffZ),
-- so string order is time order. STRICT: a value of the wrong type is an
-- error, not silently stored.

CREATE TABLE IF NOT EXISTS contacts (
    contact_id TEXT PRIMARY KEY NOT NULL,
    twenty_id TEXT,
    supabase_id TEXT,
    full_name TEXT,
    display_name TEXT,
    name_prefix TEXT,
    first_name TEXT,
    middle_name TEXT,
    last_name TEXT,
    name_suffix TEXT,
    nickname TEXT,
    phonetic_name TEXT,
    company TEXT,
    job_title TEXT,
    department TEXT,
    relationship_type TEXT,
    relationship_strength REAL,
    social_network TEXT,
    tags TEXT,
    created_at TEXT,
    updated_at TEXT,
    deleted_at TEXT,
    llm_summary TEXT,
    llm_context TEXT,
    ai_insights TEXT,
    communication_stats TEXT,
    llm_updated_at TEXT,
    sync_metadata TEXT NOT NULL DEFAULT '{}',
    emails TEXT,
    phones TEXT,
    extra TEXT NOT NULL DEFAULT '{}'
) STRICT;

CREATE INDEX IF NOT EXISTS contacts_twenty_id_idx ON contacts (twenty_id);
CREATE INDEX IF NOT EXISTS contacts_supabase_id_idx ON contacts (supabase_id);
