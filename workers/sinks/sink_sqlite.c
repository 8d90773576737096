/* The local SQLite sink: the embedded default (./syncrelay.db). One writer
 * thread (SQLite has one writer anyway), WAL, synchronous=NORMAL,
 * busy_timeout; one transaction per batch; one prepared upsert for every
 * event (absent fields bind NULL and carry no version, so they change
 * nothing on an existing row). An event the table refuses (wrong type in
 * a STRICT column, a constraint) fails alone: its statement is undone and
 * the rest of the batch commits (SINK_PARTIAL). SQLITE_BUSY is transient. */
#define LOG_COMPONENT "sink.sqlite"
#include "workers/sinks/sqlite_schema.h"
#include "workers/sinks/sqlite_sql.h"

#include "mappers/mapper.h"
#include "relay/log.h"
#include "relay/mem.h"
#include "workers/sink.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#define SQLITE_BUSY_TIMEOUT_MS 5000
#define SQLITE_DEFAULT_PATH "./syncrelay.db"

struct sqlite_state {
    sqlite3 *db;
    const struct sink_env *env;
    struct sqlite_table table;
    sqlite3_stmt *upsert;
    sqlite3_stmt *destroy;
    sqlite3_stmt *extra;
};

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
    return 1;
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

static int bind_value(sqlite3_stmt *stmt, int i, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        return sqlite3_bind_text(stmt, i, json_string_value(v), (int)json_string_length(v),
                                 SQLITE_STATIC);
    case JSON_INTEGER:
        return sqlite3_bind_int64(stmt, i, (sqlite3_int64)json_integer_value(v));
    case JSON_REAL:
        return sqlite3_bind_double(stmt, i, json_real_value(v));
    case JSON_TRUE:
    case JSON_FALSE:
        return sqlite3_bind_int(stmt, i, json_is_true(v));
    case JSON_NULL:
        return sqlite3_bind_null(stmt, i);
    default: {
        char *text = json_dumps(v, JSON_COMPACT);
        if (text == NULL) {
            return SQLITE_NOMEM;
        }
        int rc = sqlite3_bind_text(stmt, i, text, -1, SQLITE_TRANSIENT);
        relay_free(text);
        return rc;
    }
    }
}

/* {"versions": {field: version}} of the fields the event changed. */
static char *event_versions(const struct sqlite_table *t, const struct relay_event *ev,
                            const json_t *row)
{
    json_t *versions = json_object();
    json_t *meta = json_pack("{s:o}", "versions", versions);
    char *text = NULL;
    size_t i;
    json_t *name;
    if (meta == NULL) {
        return NULL;
    }
    json_array_foreach(ev->changed, i, name)
    {
        for (size_t c = 0; c < t->ncols; c++) {
            if (json_is_string(name) && strcmp(t->cols[c].field, json_string_value(name)) == 0 &&
                json_object_get(row, t->cols[c].column) != NULL &&
                json_object_set_new(versions, t->cols[c].field, json_string(ev->version)) != 0) {
                goto out;
            }
        }
    }
    /* A new row takes ev->extra as it is (sqlite_upsert_one), so it also
     * takes the versions of its sources. */
    const char *source;
    json_t *value;
    json_object_foreach(ev->extra, source, value)
    {
        char key[64];
        snprintf(key, sizeof(key), "extra:%s", source);
        if (json_object_set_new(versions, key, json_string(ev->version)) != 0) {
            goto out;
        }
    }
    text = json_dumps(meta, JSON_COMPACT);
out:
    json_decref(meta);
    return text;
}

/* Binds and runs the upsert of one event; returns the sqlite3 rc. */
static int sqlite_upsert_one(struct sqlite_state *st, const struct relay_event *ev,
                             const json_t *row)
{
    sqlite3_stmt *s = st->upsert;
    const struct sqlite_table *t = &st->table;
    char *versions = event_versions(t, ev, row);
    char *extra = ev->extra ? json_dumps(ev->extra, JSON_COMPACT) : NULL;
    int rc = SQLITE_NOMEM;
    if (versions == NULL || (ev->extra != NULL && extra == NULL)) {
        goto out;
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    rc = sqlite3_bind_text(s, 1, ev->contact_id, -1, SQLITE_STATIC);
    for (size_t c = 0; c < t->ncols && rc == SQLITE_OK; c++) {
        const json_t *v = json_object_get(row, t->cols[c].column);
        if (v != NULL) {
            rc = bind_value(s, (int)c + 2, v);
        }
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_text(s, (int)t->ncols + 2, versions, -1, SQLITE_STATIC);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_text(s, (int)t->ncols + 3, extra ? extra : "{}", -1, SQLITE_STATIC);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(s);
        rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
out:
    relay_free(versions);
    relay_free(extra);
    return rc;
}

/* Merges each source's extra of ev into the row (sqlite_sql_extra). */
static int sqlite_extra_one(struct sqlite_state *st, const struct relay_event *ev)
{
    sqlite3_stmt *s = st->extra;
    const char *source;
    json_t *value;
    int rc = SQLITE_OK;
    if (!json_is_object(ev->extra)) {
        return SQLITE_OK;
    }
    json_object_foreach(ev->extra, source, value)
    {
        char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
        if (text == NULL) {
            return SQLITE_NOMEM;
        }
        sqlite3_reset(s);
        rc = sqlite3_bind_text(s, 1, ev->contact_id, -1, SQLITE_STATIC);
        rc = rc ? rc : sqlite3_bind_text(s, 2, source, -1, SQLITE_STATIC);
        rc = rc ? rc : sqlite3_bind_text(s, 3, text, -1, SQLITE_STATIC);
        rc = rc ? rc : sqlite3_bind_text(s, 4, ev->version, -1, SQLITE_STATIC);
        if (rc == SQLITE_OK) {
            rc = sqlite3_step(s);
            rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
        }
        sqlite3_reset(s);
        relay_free(text);
        if (rc != SQLITE_OK) {
            break;
        }
    }
    return rc;
}

static int sqlite_destroy_one(struct sqlite_state *st, const struct relay_event *ev)
{
    sqlite3_stmt *s = st->destroy;
    sqlite3_reset(s);
    int rc = sqlite3_bind_text(s, 1, ev->contact_id, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_text(s, 2, ev->version, -1, SQLITE_STATIC);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(s);
        rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
    sqlite3_reset(s);
    return rc;
}

/* One event inside the open transaction: SINK_OK, REJECT (its statement
 * is undone, the transaction goes on) or RETRY (the batch must roll back). */
static enum sink_status sqlite_write_one(struct sqlite_state *st, const struct relay_event *ev,
                                         struct relay_error *err)
{
    struct relay_error why = {0};
    json_t *row = mapper_to_system(st->env->mapping, MAPPER_SYS_SQLITE, ev->fields, NULL, 0, &why);
    if (row == NULL) {
        relay_error_set(err, why.code == RELAY_ENOMEM ? RELAY_ENOMEM : RELAY_EINVAL, "ev %s: %s",
                        ev->id, why.msg);
        return why.code == RELAY_ENOMEM ? SINK_RETRY : SINK_REJECT;
    }
    /* The insert path sets a new rowid; the update path does not, and only
     * then must extra be merged per source. A reused rowid merely runs the
     * (idempotent) merge once more. */
    sqlite3_int64 rowid = sqlite3_last_insert_rowid(st->db);
    int rc = sqlite_upsert_one(st, ev, row);
    json_decref(row);
    if (rc == SQLITE_OK && sqlite3_last_insert_rowid(st->db) == rowid) {
        rc = sqlite_extra_one(st, ev);
    }
    if (rc == SQLITE_OK && ev->op == RELAY_OP_DESTROY && st->env->conf->sqlite.hard_delete) {
        rc = sqlite_destroy_one(st, ev);
    }
    return rc == SQLITE_OK ? SINK_OK : sqlite_fail(st, rc, "upsert", err);
}

static enum sink_status sqlite_write(void *state, struct relay_event *const *evs, size_t n,
                                     enum sink_status *status, struct relay_error *err)
{
    struct sqlite_state *st = state;
    size_t rejected = 0;
    int rc = sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        return sqlite_fail(st, rc, "begin", err);
    }
    for (size_t i = 0; i < n; i++) {
        struct relay_error one = {0};
        status[i] = sqlite_write_one(st, evs[i], &one);
        if (status[i] == SINK_RETRY) {
            *err = one;
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
            return SINK_RETRY;
        }
        if (status[i] == SINK_REJECT && rejected++ == 0) {
            *err = one;
        }
    }
    rc = sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        enum sink_status s = sqlite_fail(st, rc, "commit", err);
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        return s == SINK_REJECT ? SINK_RETRY : s;
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
    if (sqlite_open_db(sqlite_path(env->conf), &st->db, err) != 0 ||
        sqlite_table_init(&st->table, env->mapping, err) != 0) {
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
