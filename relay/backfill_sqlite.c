/* Backfill reader of the local SQLite file (backfill_reader_internal.h):
 * keyset paging on contact_id, the file opened read-only (the SQLite sink
 * may be writing meanwhile; a busy file is waited for). Timestamps are
 * canonical text, so `updated_at >= since` is a string comparison. */
#include "relay/backfill_reader_internal.h"
#include "relay/config.h"
#include "relay/mem.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#define SQLITE_BUSY_WAIT_MS 5000

struct sqlite_reader {
    sqlite3 *db;
};

static const char page_sql[] = "SELECT * FROM contacts WHERE (?1 IS NULL OR contact_id > ?1)"
                               " AND (?2 IS NULL OR updated_at >= ?2)"
                               " ORDER BY contact_id LIMIT ?3";
static const char count_sql[] =
    "SELECT count(*) FROM contacts WHERE (?1 IS NULL OR contact_id > ?1)"
    " AND (?2 IS NULL OR updated_at >= ?2)";
static const char get_sql[] = "SELECT * FROM contacts WHERE contact_id = ?1";

static int lite_fail(struct relay_error *err, const char *what, sqlite3 *db)
{
    return relay_error_set(err, RELAY_EIO, "sqlite %s: %s", what,
                           db != NULL ? sqlite3_errmsg(db) : "out of memory");
}

static void *sqlite_open(const struct relay_config *conf, struct relay_error *err)
{
    struct sqlite_reader *r = relay_calloc(1, sizeof(*r));
    if (r == NULL) {
        relay_error_set(err, RELAY_ENOMEM, "out of memory");
        return NULL;
    }
    if (sqlite3_open_v2(conf->sqlite.path, &r->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        relay_error_set(err, RELAY_EIO, "sqlite open %s: %s", conf->sqlite.path,
                        r->db != NULL ? sqlite3_errmsg(r->db) : "out of memory");
        sqlite3_close(r->db);
        relay_free(r);
        return NULL;
    }
    sqlite3_busy_timeout(r->db, SQLITE_BUSY_WAIT_MS);
    return r;
}

static void sqlite_close(void *state)
{
    struct sqlite_reader *r = state;
    if (r != NULL) {
        sqlite3_close(r->db);
        relay_free(r);
    }
}

static json_t *column_value(sqlite3_stmt *st, int i)
{
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER:
        return json_integer(sqlite3_column_int64(st, i));
    case SQLITE_FLOAT:
        return json_real(sqlite3_column_double(st, i));
    case SQLITE_TEXT:
    case SQLITE_BLOB:
        return json_stringn((const char *)sqlite3_column_text(st, i),
                            (size_t)sqlite3_column_bytes(st, i));
    default:
        return json_null();
    }
}

/* The current row as {column: value}. */
static json_t *row_of(sqlite3_stmt *st, struct relay_error *err)
{
    json_t *row = json_object();
    for (int i = 0; row != NULL && i < sqlite3_column_count(st); i++) {
        json_t *v = column_value(st, i);
        if (v == NULL || json_object_set_new(row, sqlite3_column_name(st, i), v) != 0) {
            json_decref(row);
            row = NULL;
        }
    }
    if (row == NULL) {
        relay_error_set(err, RELAY_EINVAL, "sqlite: a row holds text that is not UTF-8");
    }
    return row;
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
    if (s == NULL) {
        sqlite3_bind_null(st, i);
    } else {
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    }
}

/* Steps st to the end, appending every row to *rows (created here). */
static int collect(struct sqlite_reader *r, sqlite3_stmt *st, json_t **rows,
                   struct relay_error *err)
{
    *rows = json_array();
    if (*rows == NULL) {
        return relay_error_set(err, RELAY_ENOMEM, "out of memory");
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *row = row_of(st, err);
        if (row == NULL || json_array_append_new(*rows, row) != 0) {
            json_decref(*rows);
            *rows = NULL;
            return -1;
        }
    }
    if (rc != SQLITE_DONE) {
        json_decref(*rows);
        *rows = NULL;
        return lite_fail(err, "read", r->db);
    }
    return 0;
}

static int sqlite_next(void *state, const char *cursor, unsigned limit, const char *since,
                       json_t **rows, char **next_cursor, bool *is_last, struct relay_error *err)
{
    struct sqlite_reader *r = state;
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(r->db, page_sql, -1, &st, NULL) != SQLITE_OK) {
        lite_fail(err, "prepare", r->db);
        goto out;
    }
    bind_text_or_null(st, 1, cursor);
    bind_text_or_null(st, 2, since);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)limit);
    if (collect(r, st, rows, err) != 0) {
        goto out;
    }
    size_t n = json_array_size(*rows);
    *is_last = n < limit;
    *next_cursor = NULL;
    if (n > 0) {
        const char *last =
            json_string_value(json_object_get(json_array_get(*rows, n - 1), "contact_id"));
        *next_cursor = relay_strdup(last != NULL ? last : "");
        if (*next_cursor == NULL) {
            json_decref(*rows);
            *rows = NULL;
            relay_error_set(err, RELAY_ENOMEM, "out of memory");
            goto out;
        }
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

static int sqlite_get(void *state, const char *contact_id, json_t **row, struct relay_error *err)
{
    struct sqlite_reader *r = state;
    sqlite3_stmt *st = NULL;
    json_t *rows = NULL;
    int rc = -1;
    *row = NULL;
    if (sqlite3_prepare_v2(r->db, get_sql, -1, &st, NULL) != SQLITE_OK) {
        lite_fail(err, "prepare", r->db);
        goto out;
    }
    bind_text_or_null(st, 1, contact_id);
    if (collect(r, st, &rows, err) != 0) {
        goto out;
    }
    *row = json_incref(json_array_get(rows, 0));
    rc = 0;
out:
    json_decref(rows);
    sqlite3_finalize(st);
    return rc;
}

static long long sqlite_remaining(void *state, const char *cursor, const char *since)
{
    struct sqlite_reader *r = state;
    sqlite3_stmt *st = NULL;
    long long n = -1;
    if (sqlite3_prepare_v2(r->db, count_sql, -1, &st, NULL) == SQLITE_OK) {
        bind_text_or_null(st, 1, cursor);
        bind_text_or_null(st, 2, since);
        if (sqlite3_step(st) == SQLITE_ROW) {
            n = sqlite3_column_int64(st, 0);
        }
    }
    sqlite3_finalize(st);
    return n;
}

const struct backfill_reader_ops backfill_sqlite_ops = {
    .name = "sqlite",
    .filters_since = true,
    .open = sqlite_open,
    .next = sqlite_next,
    .get = sqlite_get,
    .remaining = sqlite_remaining,
    .close = sqlite_close,
};
