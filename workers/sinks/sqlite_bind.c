/* Binding one event into the SQLite sink's prepared statements: the
 * column values, the sync_metadata versions of the fields it changed, and
 * extra (sqlite_bind.h). Texts are written into the state's reused
 * buffers, so a batch allocates nothing per event here. */
#include "workers/sinks/sqlite_bind.h"

#include "workers/sinks/sql_json.h"

#include <stdio.h>
#include <string.h>

/* Binds a JSON value that is not a scalar (array, object) as its text. */
static int bind_json_text(struct sqlite_state *st, sqlite3_stmt *stmt, int i, const json_t *v)
{
    relay_buf_reset(&st->text);
    if (sql_json_append_dump(&st->text, v, JSON_COMPACT) != 0) {
        return SQLITE_NOMEM;
    }
    return sqlite3_bind_text(stmt, i, st->text.data, (int)st->text.len, SQLITE_TRANSIENT);
}

static int bind_value(struct sqlite_state *st, sqlite3_stmt *stmt, int i, const json_t *v)
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
    default:
        return bind_json_text(st, stmt, i, v);
    }
}

/* {"versions": {field: version}} of the fields the event changed (and
 * that the row carries), into st->versions. 0 or -1 (out of memory). */
static int event_versions(struct sqlite_state *st, const struct relay_event *ev,
                          const json_t *row)
{
    const struct sqlite_table *t = &st->table;
    struct relay_buf *b = &st->versions;
    const char *sep = "";
    size_t i;
    json_t *name;
    relay_buf_reset(b);
    memset(st->mark, 0, t->ncols * sizeof(*st->mark));
    int bad = relay_buf_appends(b, "{\"versions\":{");
    json_array_foreach(ev->changed, i, name)
    {
        long c = json_is_string(name) ? sql_fields_find(&t->fields, json_string_value(name)) : -1;
        if (c < 0 || st->mark[c] || json_object_get(row, t->cols[c].column) == NULL) {
            continue;
        }
        st->mark[c] = true;
        bad |= relay_buf_appends(b, sep) | sql_json_append_string(b, t->cols[c].field) |
               relay_buf_append(b, ":", 1) | sql_json_append_string(b, ev->version);
        sep = ",";
    }
    /* A new row takes ev->extra as it is (sqlite_upsert_one), so it also
     * takes the versions of its sources. */
    const char *source;
    json_t *value;
    json_object_foreach(ev->extra, source, value)
    {
        char key[64];
        snprintf(key, sizeof(key), "extra:%s", source);
        bad |= relay_buf_appends(b, sep) | sql_json_append_string(b, key) |
               relay_buf_append(b, ":", 1) | sql_json_append_string(b, ev->version);
        sep = ",";
    }
    bad |= relay_buf_append(b, "}}", 2);
    return bad ? -1 : 0;
}

int sqlite_bind_upsert(struct sqlite_state *st, const struct relay_event *ev,
                             const json_t *row)
{
    sqlite3_stmt *s = st->upsert;
    const struct sqlite_table *t = &st->table;
    if (event_versions(st, ev, row) != 0) {
        return SQLITE_NOMEM;
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    int rc = sqlite3_bind_text(s, 1, ev->contact_id, -1, SQLITE_STATIC);
    for (size_t c = 0; c < t->ncols && rc == SQLITE_OK; c++) {
        const json_t *v = json_object_get(row, t->cols[c].column);
        if (v != NULL) {
            rc = bind_value(st, s, (int)c + 2, v);
        }
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_text(s, (int)t->ncols + 2, st->versions.data, (int)st->versions.len,
                               SQLITE_STATIC);
    }
    if (rc == SQLITE_OK) {
        relay_buf_reset(&st->text);
        if (ev->extra == NULL) {
            rc = sqlite3_bind_text(s, (int)t->ncols + 3, "{}", 2, SQLITE_STATIC);
        } else if (sql_json_append_dump(&st->text, ev->extra, JSON_COMPACT) != 0) {
            rc = SQLITE_NOMEM;
        } else {
            rc = sqlite3_bind_text(s, (int)t->ncols + 3, st->text.data, (int)st->text.len,
                                   SQLITE_STATIC);
        }
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(s);
        rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
    sqlite3_reset(s);
    return rc;
}

int sqlite_bind_extra(struct sqlite_state *st, const struct relay_event *ev)
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
        relay_buf_reset(&st->text);
        if (sql_json_append_dump(&st->text, value, JSON_COMPACT | JSON_ENCODE_ANY) != 0) {
            return SQLITE_NOMEM;
        }
        sqlite3_reset(s);
        rc = sqlite3_bind_text(s, 1, ev->contact_id, -1, SQLITE_STATIC);
        rc = rc ? rc : sqlite3_bind_text(s, 2, source, -1, SQLITE_STATIC);
        rc = rc ? rc : sqlite3_bind_text(s, 3, st->text.data, (int)st->text.len, SQLITE_STATIC);
        rc = rc ? rc : sqlite3_bind_text(s, 4, ev->version, -1, SQLITE_STATIC);
        if (rc == SQLITE_OK) {
            rc = sqlite3_step(s);
            rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
        }
        sqlite3_reset(s);
        if (rc != SQLITE_OK) {
            break;
        }
    }
    return rc;
}

int sqlite_bind_destroy(struct sqlite_state *st, const struct relay_event *ev)
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
