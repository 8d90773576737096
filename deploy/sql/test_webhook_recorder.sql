-- syncrelay tests: a plain-PostgreSQL stand-in for the Supabase database
-- webhook (deploy/sql/supabase_webhook.sql). Instead of posting, the
-- trigger records the exact body Supabase's http_request would post, one
-- row per change, in syncrelay_test_webhooks; a test forwarder then posts
-- the bodies (in id order, or shuffled: Supabase does not keep order) to
-- syncrelay's /v1/webhooks/supabase. Like pg_net's requests, a row exists
-- only once its transaction committed.
--
-- Run after the contacts table exists:
--   psql "$PG_URL" -f deploy/sql/test_webhook_recorder.sql
\set ON_ERROR_STOP on

create table if not exists public.syncrelay_test_webhooks (
    id bigserial primary key,
    body text not null,
    forwarded boolean not null default false,
    recorded_at timestamptz not null default clock_timestamp()
);

create or replace function public.syncrelay_test_record_webhook() returns trigger
language plpgsql as $$
begin
    -- The same expression as supabase_functions.http_request's payload.
    insert into public.syncrelay_test_webhooks (body)
    values (jsonb_build_object('old_record', OLD, 'record', NEW, 'type', TG_OP,
                               'table', TG_TABLE_NAME, 'schema', TG_TABLE_SCHEMA)::text);
    return null; -- AFTER trigger: the result is ignored
end
$$;

drop trigger if exists syncrelay_contacts_webhook on public.contacts;
create trigger syncrelay_contacts_webhook
    after insert or update or delete on public.contacts
    for each row execute function public.syncrelay_test_record_webhook();
