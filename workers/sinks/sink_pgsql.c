/* The Postgres / Supabase sink (libpq): one connection per worker thread;
 * per batch one transaction marked `SET LOCAL syncrelay.writer = 'on'`
 * (the deployment trigger then leaves field versions to us), one
 * multi-row INSERT ... ON CONFLICT per <= 65,535 parameters
 * (pgsql_render.c), and the version-guarded hard deletes. The sink
 * reconnects once inside write; retries are the worker's. */
#define LOG_COMPONENT "sink.pgsql"
#include "workers/sinks/pgsql_batch.h"
#include "workers/sinks/pgsql_schema.h"
#include "workers/sinks/pgsql_stmt.h"

#include "mappers/mapper.h"
#include "relay/log.h"
#include "relay/mem.h"
#include "relay/metrics.h"

#include <libpq-fe.h>
#include <string.h>

#define PGSQL_DEFAULT_WORKERS 2u

struct pgsql_state {
    PGconn *conn;
    const struct sink_env *env;
    struct pgsql_table table;
    struct relay_buf sql;
    struct pgsql_params params;
    struct pgsql_stmt_cache stmts; /* upserts and deletes, by text (pgsql_stmt.h) */
};

static bool pgsql_is_enabled(const struct relay_config *conf)
{
    return conf->postgres.url != NULL && conf->postgres.url[0] != '\0';
}

static unsigned pgsql_worker_count(const struct relay_config *conf)
{
    return conf->postgres.workers ? conf->postgres.workers : PGSQL_DEFAULT_WORKERS;
}

/* Transient: the connection, serialization/deadlock, shutdown, too many
 * connections; permanent: data (22), constraint (23, but 23505), schema
 * (42). Anything else is treated as transient: the retry horizon bounds it. */
static enum sink_status pgsql_classify(PGconn *conn, const PGresult *res, const char *what,
                                       struct relay_error *err)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (msg == NULL) {
        msg = PQerrorMessage(conn);
    }
    if (PQstatus(conn) != CONNECTION_OK || state == NULL) {
        relay_error_set(err, RELAY_EIO, "%s: connection: %.200s", what, msg);
        return SINK_RETRY;
    }
    /* 23505 is the exception: two workers inserting the same new contact
     * at once can trip the id key before ON CONFLICT (contact_id) sees the
     * other row; on retry the row exists. A lasting duplicate still ends
     * in the dead letters after the last attempt. */
    /* 42P05 too: a transaction-mode pooler refused a named statement
     * (pgsql_stmt.h); the retry runs unnamed. */
    bool permanent = (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0 ||
                      strncmp(state, "42", 2) == 0) &&
                     strcmp(state, "23505") != 0 && strcmp(state, "42P05") != 0;
    relay_error_set(err, permanent ? RELAY_EINVAL : RELAY_EIO, "%s: sqlstate %s: %.200s", what,
                    state, msg);
    return permanent ? SINK_REJECT : SINK_RETRY;
}

static enum sink_status pgsql_exec(struct pgsql_state *st, const char *sql,
                                   const struct pgsql_params *p, const char *what,
                                   struct relay_error *err)
{
    PGresult *res = p ? pgsql_stmt_exec(&st->stmts, st->conn, sql, strlen(sql), (int)p->n,
                                        p->values)
                      : PQexec(st->conn, sql);
    enum sink_status status = SINK_OK;
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        status = pgsql_classify(st->conn, res, what, err);
    }
    PQclear(res);
    return status;
}

/* One transaction for the whole batch. */
static enum sink_status pgsql_run(struct pgsql_state *st, const struct pgsql_batch *b,
                                  struct relay_error *err)
{
    enum sink_status status =
        pgsql_exec(st, "BEGIN; SET LOCAL syncrelay.writer = 'on'", NULL, "begin", err);
    size_t per = pgsql_batch_rows_per_statement(b);
    for (size_t from = 0; status == SINK_OK && from < b->nrows; from += per) {
        size_t to = from + per < b->nrows ? from + per : b->nrows;
        if (pgsql_batch_render(b, from, to, &st->sql, &st->params, err) != 0) {
            status = SINK_RETRY;
            break;
        }
        status = pgsql_exec(st, st->sql.data, &st->params, "upsert", err);
    }
    if (status == SINK_OK && st->env->conf->postgres.hard_delete) {
        if (pgsql_batch_render_deletes(b, &st->sql, &st->params, err) != 0) {
            status = SINK_RETRY;
        } else if (st->sql.len > 0) {
            status = pgsql_exec(st, st->sql.data, &st->params, "delete", err);
        }
    }
    if (status == SINK_OK) {
        status = pgsql_exec(st, "COMMIT", NULL, "commit", err);
    }
    if (status != SINK_OK && PQstatus(st->conn) == CONNECTION_OK) {
        PGresult *res = PQexec(st->conn, "ROLLBACK");
        PQclear(res);
    }
    return status;
}

static bool pgsql_reconnect(struct pgsql_state *st)
{
    pgsql_stmt_cache_clear(&st->stmts); /* the new session has none of them */
    PQreset(st->conn);
    if (PQstatus(st->conn) != CONNECTION_OK) {
        return false;
    }
    metrics_reconnect(METRICS_CONN_POSTGRES);
    return true;
}

static enum sink_status pgsql_write(void *state, struct relay_event *const *evs, size_t n,
                                    enum sink_status *status, struct relay_error *err)
{
    struct pgsql_state *st = state;
    struct pgsql_batch b;
    bool reconnected = false;

    if (PQstatus(st->conn) != CONNECTION_OK) {
        reconnected = true;
        if (!pgsql_reconnect(st)) {
            relay_error_set(err, RELAY_EIO, "reconnect: %.200s", PQerrorMessage(st->conn));
            return SINK_RETRY;
        }
    }
    long rejected = pgsql_batch_build(&b, &st->table, st->env->mapping, evs, n,
                                      st->env->conf->postgres.hard_delete, status, err);
    if (rejected < 0) {
        return SINK_RETRY;
    }
    enum sink_status tx = SINK_OK;
    if (b.nrows > 0) {
        struct relay_error txerr = {0};
        tx = pgsql_run(st, &b, &txerr);
        if (tx == SINK_RETRY && !reconnected && PQstatus(st->conn) != CONNECTION_OK &&
            pgsql_reconnect(st)) {
            relay_error_clear(&txerr);
            tx = pgsql_run(st, &b, &txerr);
        }
        if (tx != SINK_OK) {
            *err = txerr;
        }
    }
    pgsql_batch_fini(&b);
    if (rejected == 0 || tx == SINK_REJECT) {
        return tx;
    }
    for (size_t i = 0; i < n; i++) {
        if (status[i] != SINK_REJECT) {
            status[i] = tx;
        }
    }
    return (size_t)rejected == n && n == 1 ? SINK_REJECT : SINK_PARTIAL;
}

static char *pgsql_quote(void *ctx, const char *ident)
{
    char *q = PQescapeIdentifier(ctx, ident, strlen(ident));
    char *copy = q ? relay_strdup(q) : NULL;
    PQfreemem(q);
    return copy;
}

static void pgsql_close(void *state)
{
    struct pgsql_state *st = state;
    if (st == NULL) {
        return;
    }
    PQfinish(st->conn);
    pgsql_table_fini(&st->table);
    relay_buf_fini(&st->sql);
    pgsql_params_fini(&st->params);
    pgsql_stmt_cache_clear(&st->stmts);
    relay_free(st);
}

/* Connects with the configured URL; application_name and connect_timeout
 * come first so that the URL's own settings override them. */
PGconn *pgsql_connect(const char *url)
{
    const char *const keys[] = {"application_name", "connect_timeout", "dbname", NULL};
    const char *const values[] = {"syncrelay", "5", url, NULL};
    return PQconnectdbParams(keys, values, 1);
}

static void *pgsql_open(const struct sink_env *env, struct relay_error *err)
{
    struct pgsql_state *st = relay_calloc(1, sizeof(*st));
    if (st == NULL) {
        relay_error_set(err, RELAY_ENOMEM, "postgres: out of memory");
        return NULL;
    }
    st->env = env;
    relay_buf_init(&st->sql);
    st->conn = pgsql_connect(env->conf->postgres.url);
    if (st->conn == NULL || PQstatus(st->conn) != CONNECTION_OK) {
        relay_error_set(err, RELAY_EIO, "postgres connect: %.200s",
                        st->conn ? PQerrorMessage(st->conn) : "out of memory");
        pgsql_close(st);
        return NULL;
    }
    if (pgsql_table_init(&st->table, env->mapping, pgsql_quote, st->conn, err) != 0) {
        pgsql_close(st);
        return NULL;
    }
    return st;
}

const struct sink_kind sink_pgsql_kind = {
    .name = "postgres",
    .id = RELAY_SINK_POSTGRES,
    .is_enabled = pgsql_is_enabled,
    .worker_count = pgsql_worker_count,
    .open = pgsql_open,
    .write = pgsql_write,
    .close = pgsql_close,
};
