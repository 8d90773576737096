/* The SQLite side's schema (deploy/sql/sqlite.sql, compiled in). */
#ifndef RELAY_WORKERS_SINKS_SQLITE_SCHEMA_H
#define RELAY_WORKERS_SINKS_SQLITE_SCHEMA_H

#include "relay/error.h"

extern const char *const sqlite_schema_sql;

/* Opens (creating) the file at path, sets WAL and applies the schema.
 * Idempotent. 0, or -1 with err. */
int sqlite_migrate(const char *path, struct relay_error *err);

#endif
