/* `syncrelay migrate --sink postgres`: the deployment SQL in one
 * transaction (a simple-query string with several statements runs as one
 * implicit transaction), so a failed run leaves nothing half-applied. */
#include "workers/sinks/pgsql_schema.h"

int pgsql_migrate(const char *url, struct relay_error *err)
{
    PGconn *conn = pgsql_connect(url);
    int rc = -1;
    if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
        relay_error_set(err, RELAY_EIO, "postgres connect: %.200s",
                        conn ? PQerrorMessage(conn) : "out of memory");
        goto out;
    }
    /* A concurrent migrate from another instance waits here instead of
     * failing on CREATE OR REPLACE races. */
    /* IF NOT EXISTS notices on a re-run are expected, not news. */
    PGresult *res = PQexec(conn, "SET client_min_messages TO warning");
    PQclear(res);
    res = PQexec(conn, "SELECT pg_advisory_lock(727379969)");
    PQclear(res);
    res = PQexec(conn, pgsql_schema_sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        relay_error_set(err, RELAY_EINVAL, "postgres migrate: %.200s", PQerrorMessage(conn));
    } else {
        rc = 0;
    }
    PQclear(res);
out:
    PQfinish(conn);
    return rc;
}
