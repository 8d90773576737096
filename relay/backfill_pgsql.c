/* Backfill reader of Supabase / PostgreSQL (backfill_reader_internal.h):
 * keyset paging on the contacts table,
 *   SELECT row_to_json(c) FROM contacts c WHERE contact_id > $1
 *   [AND updated_at >= $2] ORDER BY contact_id LIMIT $3
 * so a page costs one index range scan wherever it starts, and the cursor
 * (the last contact_id) stays valid while rows are added or changed. Values
 * are bound, never formatted into SQL. */
#include "relay/backfill_reader_internal.h"
#include "relay/config.h"
#include "relay/mem.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pgsql_reader {
    PGconn *conn;
};

static const char page_sql[] = "SELECT row_to_json(c)::text, c.contact_id FROM contacts c"
                               " WHERE ($1::text IS NULL OR c.contact_id > $1::text)"
                               " AND ($2::timestamptz IS NULL OR c.updated_at >= $2::timestamptz)"
                               " ORDER BY c.contact_id LIMIT $3::int";

static const char count_sql[] = "SELECT count(*) FROM contacts c"
                                " WHERE ($1::text IS NULL OR c.contact_id > $1::text)"
                                " AND ($2::timestamptz IS NULL OR c.updated_at >= $2::timestamptz)";

static const char get_sql[] = "SELECT row_to_json(c)::text FROM contacts c WHERE c.contact_id = $1";

/* Copies the server's message (first line only) into err. */
static int pg_fail(struct relay_error *err, const char *what, const PGconn *conn,
                   const PGresult *res)
{
    const char *msg = res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(conn);
    size_t len = strcspn(msg, "\n");
    return relay_error_set(err, RELAY_EIO, "postgres %s: %.*s", what, (int)len, msg);
}

static void *pgsql_open(const struct relay_config *conf, struct relay_error *err)
{
    struct pgsql_reader *r = relay_calloc(1, sizeof(*r));
    if (r == NULL) {
        relay_error_set(err, RELAY_ENOMEM, "out of memory");
        return NULL;
    }
    r->conn = PQconnectdb(conf->postgres.url);
    if (r->conn == NULL || PQstatus(r->conn) != CONNECTION_OK) {
        pg_fail(err, "connect", r->conn, NULL);
        PQfinish(r->conn);
        relay_free(r);
        return NULL;
    }
    return r;
}

static void pgsql_close(void *state)
{
    struct pgsql_reader *r = state;
    if (r != NULL) {
        PQfinish(r->conn);
        relay_free(r);
    }
}

/* Parses the JSON text of column 0 of every row into an array. */
static json_t *rows_of(const PGresult *res, struct relay_error *err)
{
    json_t *rows = json_array();
    if (rows == NULL) {
        relay_error_set(err, RELAY_ENOMEM, "out of memory");
        return NULL;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        json_error_t jerr;
        json_t *row = json_loads(PQgetvalue(res, i, 0), 0, &jerr);
        if (row == NULL || json_array_append_new(rows, row) != 0) {
            relay_error_set(err, RELAY_EINVAL, "postgres: row %d is not JSON: %s", i, jerr.text);
            json_decref(rows);
            return NULL;
        }
    }
    return rows;
}

static int pgsql_next(void *state, const char *cursor, unsigned limit, const char *since,
                      json_t **rows, char **next_cursor, bool *is_last, struct relay_error *err)
{
    struct pgsql_reader *r = state;
    char limit_text[16];
    snprintf(limit_text, sizeof(limit_text), "%u", limit);
    const char *params[3] = {cursor, since, limit_text};
    PGresult *res = PQexecParams(r->conn, page_sql, 3, NULL, params, NULL, NULL, 0);
    int rc = -1;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        pg_fail(err, "read", r->conn, res);
        goto out;
    }
    *rows = rows_of(res, err);
    if (*rows == NULL) {
        goto out;
    }
    int n = PQntuples(res);
    *is_last = (unsigned)n < limit;
    *next_cursor = n > 0 ? relay_strdup(PQgetvalue(res, n - 1, 1)) : NULL;
    if (n > 0 && *next_cursor == NULL) {
        json_decref(*rows);
        *rows = NULL;
        relay_error_set(err, RELAY_ENOMEM, "out of memory");
        goto out;
    }
    rc = 0;
out:
    PQclear(res);
    return rc;
}

static int pgsql_get(void *state, const char *contact_id, json_t **row, struct relay_error *err)
{
    struct pgsql_reader *r = state;
    const char *params[1] = {contact_id};
    PGresult *res = PQexecParams(r->conn, get_sql, 1, NULL, params, NULL, NULL, 0);
    int rc = -1;
    *row = NULL;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        pg_fail(err, "read", r->conn, res);
        goto out;
    }
    if (PQntuples(res) > 0) {
        json_t *rows = rows_of(res, err);
        if (rows == NULL) {
            goto out;
        }
        *row = json_incref(json_array_get(rows, 0));
        json_decref(rows);
    }
    rc = 0;
out:
    PQclear(res);
    return rc;
}

static long long pgsql_remaining(void *state, const char *cursor, const char *since)
{
    struct pgsql_reader *r = state;
    const char *params[2] = {cursor, since};
    PGresult *res = PQexecParams(r->conn, count_sql, 2, NULL, params, NULL, NULL, 0);
    long long n = -1;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    }
    PQclear(res);
    return n;
}

const struct backfill_reader_ops backfill_pgsql_ops = {
    .name = "postgres",
    .filters_since = true,
    .open = pgsql_open,
    .next = pgsql_next,
    .get = pgsql_get,
    .remaining = pgsql_remaining,
    .close = pgsql_close,
};
