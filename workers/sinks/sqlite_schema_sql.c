/* deploy/sql/sqlite.sql as applied by the SQLite sink at open and by
 * syncrelay migrate: compiled in at build time (relay_embed), so it is
 * always the shipped file. */
#include "workers/sinks/sqlite_schema.h"
#include "workers/sinks/sqlite_sql_embed.h" /* generated: sqlite_sql_embed[] */

const char *const sqlite_schema_sql = (const char *)sqlite_sql_embed;
