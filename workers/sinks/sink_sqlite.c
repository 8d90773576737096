/* The local SQLite sink: the embedded default (./syncrelay.db). Two worker
 * threads whose transactions take turns (sqlite_write_lock; SQLite has one
 * writer anyway): events are mapped before the lock, so one worker's
 * take, decode and mapping overlap the other's write. WAL,
 * synchronous=NORMAL, busy_timeout; one transaction per batch; one
 * prepared upsert for every
 * event (absent fields bind NULL and carry no version, so they change
 * nothing on an existing row). An event the table refuses (wrong type in
 * a STRICT column, a constraint) fails alone: its statement is undone and
 * the rest of the batch commits (SINK_PARTIAL). SQLITE_BUSY is transient. */
#define LOG_COMPONENT "sink.sqlite"
#include "workers/sinks/sqlite_schema.h"
#include "workers/sinks/sqlite_sql.h"
#include "workers/sinks/sqlite_bind.h"

#include "mappers/mapper.h"
#include "relay/log.h"
#include "relay/mem.h"
#include "workers/sink.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#define SQLITE_BUSY_TIMEOUT_MS 5000
#define SQLITE_DEFAULT_PATH "./syncrelay.db"
#define SQLITE_WORKERS 2 /* one writes while the other prepares its batch */



/* Serialises the write transactions of this process's SQLite workers
 * (SQLite has one writer per database anyway): a second worker waits
 * here rather than in SQLite's sleeping busy handler, while its take,
 * decode, mapping and settling overlap the first one's transaction. The
 * busy timeout still covers other processes. */
static pthread_mutex_t sqlite_write_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *sqlite_path(const struct relay_config *conf)
{
    const char *p = conf->sqlite.path;
    return p != NULL && p[0] != '\0' ? p : SQLITE_DEFAULT_PATH;
}

static bool sqlite_is_enabled(const struct relay_config *conf)
{
    return strcmp(sqlite_path(conf), "off") != 0;
}

static unsigned sqlite_worker_count(const struct relay_config *conf)
{
    (void)conf;
    return SQLITE_WORKERS;
}

/* Busy, locked, I/O, full and out of memory pass; anything about the data
 * (type, constraint, size, malformed JSON) does not. */
static enum sink_status sqlite_classify(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_NOMEM:
    case SQLITE_CANTOPEN:
    case SQLITE_PROTOCOL:
    case SQLITE_READONLY:
    case SQLITE_INTERRUPT:
        return SINK_RETRY;
    default:
        return SINK_REJECT;
    }
}

static enum sink_status sqlite_fail(struct sqlite_state *st, int rc, const char *what,
                                    struct relay_error *err)
{
    enum sink_status s = sqlite_classify(rc);
    /* Copied at once: the next call may overwrite sqlite3_errmsg. */
    relay_error_set(err, s == SINK_RETRY ? RELAY_EIO : RELAY_EINVAL, "%s: %s (%d)", what,
                    sqlite3_errmsg(st->db), rc);
    return s;
}

/* One event inside the open transaction, with its mapped row: SINK_OK,
 * REJECT (its statement is undone, the transaction goes on) or RETRY
 * (the batch must roll back). */
static enum sink_status sqlite_write_one(struct sqlite_state *st, const struct relay_event *ev,
                                         const json_t *row, struct relay_error *err)
{
    /* The insert path sets a new rowid; the update path does not, and only
     * then must extra be merged per source. A reused rowid merely runs the
     * (idempotent) merge once more. */
    sqlite3_int64 rowid = sqlite3_last_insert_rowid(st->db);
    int rc = sqlite_bind_upsert(st, ev, row);
    if (rc == SQLITE_OK && sqlite3_last_insert_rowid(st->db) == rowid) {
        rc = sqlite_bind_extra(st, ev);
    }
    if (rc == SQLITE_OK && ev->op == RELAY_OP_DESTROY && st->env->conf->sqlite.hard_delete) {
        rc = sqlite_bind_destroy(st, ev);
    }
    return rc == SQLITE_OK ? SINK_OK : sqlite_fail(st, rc, "upsert", err);
}

static void sqlite_rows_free(struct sqlite_state *st, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_decref(st->rows[i]);
        st->rows[i] = NULL;
    }
}

/* Maps every event before the write lock is taken: st->rows[i], or
 * status[i] = SINK_REJECT with the first reason in err. Returns the
 * number rejected, or -1 (out of memory; nothing is kept). */
static long sqlite_map_all(struct sqlite_state *st, struct relay_event *const *evs, size_t n,
                           enum sink_status *status, struct relay_error *err)
{
    long rejected = 0;
    if (n > st->rows_cap) {
        json_t **rows = relay_realloc(st->rows, n * sizeof(*rows));
        if (rows == NULL) {
            return -1;
        }
        st->rows = rows;
        st->rows_cap = n;
    }
    for (size_t i = 0; i < n; i++) {
        struct relay_error why = {0};
        status[i] = SINK_OK;
        st->rows[i] = mapper_to_system(st->env->mapping, MAPPER_SYS_SQLITE, evs[i]->fields, NULL,
                                       0, &why);
        if (st->rows[i] != NULL) {
            continue;
        }
        if (why.code == RELAY_ENOMEM) {
            sqlite_rows_free(st, i);
            return -1;
        }
        status[i] = SINK_REJECT;
        if (rejected++ == 0) {
            relay_error_set(err, RELAY_EINVAL, "ev %s: %s", evs[i]->id, why.msg);
        }
    }
    return rejected;
}

/* The transaction: every mapped row, then COMMIT. Runs under
 * sqlite_write_lock. SINK_OK (rejects are in status[]) or SINK_RETRY. */
static enum sink_status sqlite_tx(struct sqlite_state *st, struct relay_event *const *evs,
                                  size_t n, enum sink_status *status, long *rejected,
                                  struct relay_error *err)
{
    int rc = sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        sqlite_fail(st, rc, "begin", err);
        return SINK_RETRY;
    }
    for (size_t i = 0; i < n; i++) {
        struct relay_error one = {0};
        if (status[i] == SINK_REJECT) {
            continue;
        }
        status[i] = sqlite_write_one(st, evs[i], st->rows[i], &one);
        if (status[i] == SINK_RETRY) {
            *err = one;
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
            return SINK_RETRY;
        }
        if (status[i] == SINK_REJECT && (*rejected)++ == 0) {
            *err = one;
        }
    }
    rc = sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        sqlite_fail(st, rc, "commit", err);
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        return SINK_RETRY;
    }
    return SINK_OK;
}

static enum sink_status sqlite_write(void *state, struct relay_event *const *evs, size_t n,
                                     enum sink_status *status, struct relay_error *err)
{
    struct sqlite_state *st = state;
    long rejected = sqlite_map_all(st, evs, n, status, err);
    if (rejected < 0) {
        relay_error_set(err, RELAY_ENOMEM, "sqlite: out of memory");
        return SINK_RETRY;
    }
    pthread_mutex_lock(&sqlite_write_lock);
    enum sink_status s = sqlite_tx(st, evs, n, status, &rejected, err);
    pthread_mutex_unlock(&sqlite_write_lock);
    sqlite_rows_free(st, n);
    if (s != SINK_OK) {
        return s;
    }
    if (rejected == 0) {
        return SINK_OK;
    }
    return n == 1 ? SINK_REJECT : SINK_PARTIAL;
}

static void sqlite_close(void *state)
{
    struct sqlite_state *st = state;
    if (st == NULL) {
        return;
    }
    sqlite3_finalize(st->upsert);
    sqlite3_finalize(st->destroy);
    sqlite3_finalize(st->extra);
    sqlite3_close_v2(st->db);
    sqlite_table_fini(&st->table);
    relay_buf_fini(&st->versions);
    relay_buf_fini(&st->text);
    relay_free(st->mark);
    relay_free(st->rows);
    relay_free(st);
}

/* Opens path with the sink's settings and applies the schema. */
static int sqlite_open_db(const char *path, sqlite3 **out, struct relay_error *err)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                            SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(db, SQLITE_BUSY_TIMEOUT_MS);
        rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL,
                          NULL);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_exec(db, sqlite_schema_sql, NULL, NULL, NULL);
    }
    if (rc != SQLITE_OK) {
        relay_error_set(err, RELAY_EIO, "sqlite %s: %s", path,
                        db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close_v2(db);
        return -1;
    }
    *out = db;
    return 0;
}

int sqlite_migrate(const char *path, struct relay_error *err)
{
    sqlite3 *db = NULL;
    if (sqlite_open_db(path, &db, err) != 0) {
        return -1;
    }
    sqlite3_close_v2(db);
    return 0;
}

static void *sqlite_open(const struct sink_env *env, struct relay_error *err)
{
    struct sqlite_state *st = relay_calloc(1, sizeof(*st));
    struct relay_buf sql;
    relay_buf_init(&sql);
    if (st == NULL) {
        relay_error_set(err, RELAY_ENOMEM, "sqlite: out of memory");
        return NULL;
    }
    st->env = env;
    relay_buf_init(&st->versions);
    relay_buf_init(&st->text);
    if (sqlite_open_db(sqlite_path(env->conf), &st->db, err) != 0 ||
        sqlite_table_init(&st->table, env->mapping, err) != 0) {
        goto fail;
    }
    st->mark = relay_calloc(st->table.ncols ? st->table.ncols : 1, sizeof(*st->mark));
    if (st->mark == NULL) {
        relay_error_set(err, RELAY_ENOMEM, "sqlite: out of memory");
        goto fail;
    }
    if (sqlite_sql_upsert(&st->table, &sql) != 0) {
        relay_error_set(err, RELAY_ENOMEM, "sqlite: out of memory");
        goto fail;
    }
    if (sqlite3_prepare_v3(st->db, sql.data, (int)sql.len, SQLITE_PREPARE_PERSISTENT, &st->upsert,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v3(st->db, sqlite_sql_delete, -1, SQLITE_PREPARE_PERSISTENT, &st->destroy,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v3(st->db, sqlite_sql_extra, -1, SQLITE_PREPARE_PERSISTENT, &st->extra,
                           NULL) != SQLITE_OK) {
        /* A mapped column the table lacks: the operator must migrate. */
        relay_error_set(err, RELAY_ECONFIG, "sqlite prepare: %s", sqlite3_errmsg(st->db));
        goto fail;
    }
    relay_buf_fini(&sql);
    return st;
fail:
    relay_buf_fini(&sql);
    sqlite_close(st);
    return NULL;
}

const struct sink_kind sink_sqlite_kind = {
    .name = "sqlite",
    .id = RELAY_SINK_SQLITE,
    .is_enabled = sqlite_is_enabled,
    .worker_count = sqlite_worker_count,
    .open = sqlite_open,
    .write = sqlite_write,
    .close = sqlite_close,
};
