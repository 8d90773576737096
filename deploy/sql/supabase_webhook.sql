-- syncrelay: the Supabase database webhook on public.contacts.
--
-- Every INSERT, UPDATE and DELETE on public.contacts is posted (after
-- commit, by pg_net through supabase_functions.http_request) to syncrelay's
-- /v1/webhooks/supabase with the shared secret in X-Syncrelay-Secret (or
-- the header named by relay_header).
-- The body is Supabase's: jsonb_build_object('old_record', OLD, 'record',
-- NEW, 'type', TG_OP, 'table', TG_TABLE_NAME, 'schema', TG_TABLE_SCHEMA).
--
-- Run it with psql, after the table and its triggers exist:
--   psql "$SUPABASE_DB_URL" -v relay_url=https://relay.example.com \
--        -v relay_secret="$SYNCRELAY_SUPABASE_SECRET" -f deploy/sql/supabase_webhook.sql
-- relay_secret must equal syncrelay's supabase.secret. When syncrelay's
-- supabase.secret_header is not the default, pass the same name with
-- -v relay_header=<name>. Like a webhook made
-- in the Supabase dashboard, the secret is stored in the trigger's
-- arguments (pg_trigger.tgargs): only roles that may read the catalog see it.
-- The default timeout of supabase_functions.http_request is 1000 ms; this
-- trigger asks for 5000 ms. Supabase never retries a failed webhook:
-- `syncrelay push` backfills what was lost.
\set ON_ERROR_STOP on
\if :{?relay_header}
\else
\set relay_header X-Syncrelay-Secret
\endif

select set_config('syncrelay.webhook_url', :'relay_url', false),
       set_config('syncrelay.webhook_secret', :'relay_secret', false),
       set_config('syncrelay.webhook_header', :'relay_header', false);

do $$
declare
    url text := rtrim(current_setting('syncrelay.webhook_url'), '/') || '/v1/webhooks/supabase';
    headers text := json_build_object(
        'Content-Type', 'application/json',
        current_setting('syncrelay.webhook_header'), current_setting('syncrelay.webhook_secret'))::text;
begin
    if current_setting('syncrelay.webhook_secret') = '' then
        raise exception 'relay_secret is empty: syncrelay refuses unsigned Supabase webhooks';
    end if;
    execute 'drop trigger if exists syncrelay_contacts_webhook on public.contacts';
    execute format(
        'create trigger syncrelay_contacts_webhook '
        'after insert or update or delete on public.contacts '
        'for each row execute function supabase_functions.http_request(%L, %L, %L, %L, %L)',
        url, 'POST', headers, '{}', '5000');
end
$$;

-- Forget the secret in this session.
select set_config('syncrelay.webhook_secret', '', false);
