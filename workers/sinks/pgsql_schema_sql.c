/* deploy/sql/supabase.sql as applied by syncrelay migrate: compiled in at
 * build time (relay_embed), so it is always the shipped file. */
#include "workers/sinks/pgsql_schema.h"
#include "workers/sinks/supabase_sql_embed.h" /* generated: supabase_sql_embed[] */

const char *const pgsql_schema_sql = (const char *)supabase_sql_embed;
