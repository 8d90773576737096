/* The Postgres side's deployment SQL (deploy/sql/supabase.sql, compiled
 * in) and what `syncrelay migrate` needs to apply it. */
#ifndef RELAY_WORKERS_SINKS_PGSQL_SCHEMA_H
#define RELAY_WORKERS_SINKS_PGSQL_SCHEMA_H

#include "relay/error.h"

#include <libpq-fe.h>

extern const char *const pgsql_schema_sql;

/* Connects to url (libpq URI or conninfo) with syncrelay's defaults
 * (application_name, connect_timeout) under the URL's own settings.
 * Returns the PGconn even when it failed (check PQstatus); PQfinish it. */
PGconn *pgsql_connect(const char *url);

/* Applies pgsql_schema_sql to url in one transaction. Idempotent.
 * 0, or -1 with err (RELAY_EIO: cannot connect; RELAY_EINVAL: the SQL
 * failed, message carries the server's). */
int pgsql_migrate(const char *url, struct relay_error *err);

#endif
