/* Rendering a merged batch into SQL. Values are always parameters ($n);
 * only identifiers (quoted) and canonical field names (checked plain at
 * open) are part of the text. The version rule of contact.md per column:
 *
 *   col = CASE WHEN <the event changed the field> AND (<stored version is
 *         null> OR <stored version> <= <event version>) THEN EXCLUDED.col
 *         ELSE contacts.col END
 *
 * where the event's versions ride in EXCLUDED.sync_metadata->'versions'
 * (only changed fields have one) and the stored ones in
 * contacts.sync_metadata->'versions'. Versions are canonical timestamps,
 * compared as text under COLLATE "C": string order is time order. */
#include "workers/sinks/pgsql_batch.h"
#include "workers/sinks/sql_json.h"

#include "relay/mem.h"

#include <stdio.h>
#include <string.h>

#define PGSQL_PAIRS_PER_CALL 40 /* jsonb_build_object takes at most 100 arguments */

void pgsql_params_fini(struct pgsql_params *p)
{
    relay_free(p->values);
    relay_free(p->arena_off);
    relay_buf_fini(&p->arena);
    memset(p, 0, sizeof(*p));
}

static void params_reset(struct pgsql_params *p)
{
    p->n = 0;
    relay_buf_reset(&p->arena);
}

static int params_grow(struct pgsql_params *p)
{
    if (p->n < p->cap) {
        return 0;
    }
    size_t cap = p->cap ? p->cap * 2 : 256;
    const char **v = relay_realloc(p->values, cap * sizeof(*v));
    if (v == NULL) {
        return -1;
    }
    p->values = v;
    size_t *o = relay_realloc(p->arena_off, cap * sizeof(*o));
    if (o == NULL) {
        return -1;
    }
    p->arena_off = o;
    p->cap = cap;
    return 0;
}

/* Appends a parameter pointing at text (borrowed; NULL is SQL NULL). */
static int params_add(struct pgsql_params *p, const char *text)
{
    if (params_grow(p) != 0) {
        return -1;
    }
    p->values[p->n] = text;
    p->arena_off[p->n++] = 0;
    return 0;
}

/* Starts a parameter whose text the caller appends to p->arena next;
 * params_end terminates it. */
static int params_begin(struct pgsql_params *p)
{
    if (params_grow(p) != 0) {
        return -1;
    }
    p->values[p->n] = NULL;
    p->arena_off[p->n++] = p->arena.len + 1;
    return 0;
}

static int params_end(struct pgsql_params *p)
{
    return relay_buf_append(&p->arena, "", 1); /* the NUL that ends this text */
}

/* The arena no longer moves: point the values at their texts. */
static void params_resolve(struct pgsql_params *p)
{
    for (size_t i = 0; i < p->n; i++) {
        if (p->arena_off[i] != 0) {
            p->values[i] = p->arena.data + p->arena_off[i] - 1;
        }
    }
}

/* Appends "$n" (the placeholder of parameter n) without printf. */
static int append_placeholder(struct relay_buf *sql, size_t n)
{
    char tmp[24];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + n % 10);
        n /= 10;
    } while (n > 0);
    tmp[--i] = '$';
    return relay_buf_append(sql, tmp + i, sizeof(tmp) - i);
}

/* Appends "$n" for a value, or DEFAULT. */
static int render_value(struct relay_buf *sql, struct pgsql_params *p, const struct pgsql_col *c,
                        const json_t *v)
{
    if (v == NULL || (json_is_null(v) && c->role == PGSQL_COL_PRIMARY_ID)) {
        return relay_buf_append(sql, "DEFAULT", 7);
    }
    int bad;
    if (json_is_null(v)) {
        bad = params_add(p, NULL);
    } else if (json_is_string(v) && !c->json_typed) {
        bad = params_add(p, json_string_value(v));
    } else {
        bad = params_begin(p) |
              (sql_json_append_dump(&p->arena, v, JSON_COMPACT | JSON_ENCODE_ANY)) |
              params_end(p);
    }
    return bad | append_placeholder(sql, p->n);
}

/* {"versions": {field: version}} of the changed fields of a row (and of
 * its sources' extra), written straight into the arena as one parameter. */
static int row_versions(const struct pgsql_batch *b, const struct pgsql_row *r,
                        struct pgsql_params *p)
{
    struct relay_buf *a = &p->arena;
    const char *sep = "";
    int bad = params_begin(p) | relay_buf_appends(a, "{\"versions\":{");
    for (size_t c = 0; c < b->t->ncols; c++) {
        if (r->val[c] != NULL && r->chg[c]) {
            bad |= relay_buf_appends(a, sep) | sql_json_append_string(a, b->t->cols[c].field) |
                   relay_buf_append(a, ":", 1) | sql_json_append_string(a, r->vver[c]);
            sep = ",";
        }
    }
    const char *source;
    json_t *ver;
    json_object_foreach(r->extra_ver, source, ver)
    {
        char key[64];
        snprintf(key, sizeof(key), PGSQL_EXTRA_VERSION_PREFIX "%s", source);
        bad |= relay_buf_appends(a, sep) | sql_json_append_string(a, key) |
               relay_buf_append(a, ":", 1) | sql_json_append_string(a, json_string_value(ver));
        sep = ",";
    }
    bad |= relay_buf_append(a, "}}", 2) | params_end(p);
    return bad ? -1 : 0;
}

static void used_columns(const struct pgsql_batch *b, size_t from, size_t to, bool *used)
{
    for (size_t c = 0; c < b->t->ncols; c++) {
        used[c] = false;
        for (size_t r = from; r < to && !used[c]; r++) {
            used[c] = b->rows[r].val[c] != NULL;
        }
    }
}

static int render_row(const struct pgsql_batch *b, const struct pgsql_row *r, const bool *used,
                      struct relay_buf *sql, struct pgsql_params *p)
{
    int bad = params_add(p, r->contact_id) | relay_buf_append(sql, "(", 1) |
              append_placeholder(sql, p->n);
    for (size_t c = 0; c < b->t->ncols; c++) {
        if (used[c]) {
            bad |= relay_buf_append(sql, ", ", 2) | render_value(sql, p, &b->t->cols[c], r->val[c]);
        }
    }
    bad |= row_versions(b, r, p) | relay_buf_append(sql, ", ", 2) | append_placeholder(sql, p->n) |
           relay_buf_append(sql, ", ", 2);
    if (r->extra != NULL) {
        bad |= params_begin(p) |
               sql_json_append_dump(&p->arena, r->extra, JSON_COMPACT) |
               params_end(p) | append_placeholder(sql, p->n) | relay_buf_append(sql, ")", 1);
    } else {
        bad |= relay_buf_append(sql, "DEFAULT)", 8);
    }
    return bad ? -1 : 0;
}

/* The version guard of field f (see the file comment). */
static int render_guard(struct relay_buf *sql, const char *f)
{
    return relay_buf_printf(sql,
                            "(EXCLUDED.sync_metadata->'versions'->>'%s') IS NOT NULL AND "
                            "(contacts.sync_metadata->'versions'->>'%s' IS NULL OR "
                            "(contacts.sync_metadata->'versions'->>'%s') COLLATE \"C\" <= "
                            "(EXCLUDED.sync_metadata->'versions'->>'%s') COLLATE \"C\")",
                            f, f, f, f);
}

static int render_versions_merge(const struct pgsql_table *t, const bool *used,
                                 struct relay_buf *sql)
{
    int bad = relay_buf_appends(
        sql, ", sync_metadata = jsonb_set(COALESCE(contacts.sync_metadata, '{}'::jsonb), "
             "'{versions}', COALESCE(contacts.sync_metadata->'versions', '{}'::jsonb)");
    size_t pairs = 0;
    for (size_t c = 0; c < t->ncols; c++) {
        if (!used[c]) {
            continue;
        }
        const char *f = t->cols[c].field;
        bad |= relay_buf_appends(sql, pairs % PGSQL_PAIRS_PER_CALL == 0
                                          ? (pairs ? ")) || jsonb_strip_nulls(jsonb_build_object("
                                                   : " || jsonb_strip_nulls(jsonb_build_object(")
                                          : ", ");
        bad |= relay_buf_printf(sql, "'%s', CASE WHEN ", f) | render_guard(sql, f) |
               relay_buf_printf(sql, " THEN EXCLUDED.sync_metadata->'versions'->'%s' END", f);
        pairs++;
    }
    for (int s = 0; s < RELAY_SOURCE_COUNT; s++) {
        char key[64];
        snprintf(key, sizeof(key), PGSQL_EXTRA_VERSION_PREFIX "%s",
                 relay_source_name((enum relay_source)s));
        bad |= relay_buf_appends(sql, pairs % PGSQL_PAIRS_PER_CALL == 0
                                          ? (pairs ? ")) || jsonb_strip_nulls(jsonb_build_object("
                                                   : " || jsonb_strip_nulls(jsonb_build_object(")
                                          : ", ");
        bad |= relay_buf_printf(sql, "'%s', CASE WHEN ", key) | render_guard(sql, key) |
               relay_buf_printf(sql, " THEN EXCLUDED.sync_metadata->'versions'->'%s' END", key);
        pairs++;
    }
    bad |= relay_buf_appends(sql, ")))");
    return bad ? -1 : 0;
}

static int render_set(const struct pgsql_table *t, const bool *used, struct relay_buf *sql)
{
    int bad = relay_buf_printf(sql, " ON CONFLICT (%s) DO UPDATE SET ", t->key_quoted);
    bad |= relay_buf_appends(sql, "extra = COALESCE(contacts.extra, '{}'::jsonb)");
    for (int s = 0; s < RELAY_SOURCE_COUNT; s++) {
        char key[64];
        const char *src = relay_source_name((enum relay_source)s);
        snprintf(key, sizeof(key), PGSQL_EXTRA_VERSION_PREFIX "%s", src);
        bad |= relay_buf_appends(sql, " || CASE WHEN ") | render_guard(sql, key) |
               relay_buf_printf(sql,
                                " THEN jsonb_build_object('%s', EXCLUDED.extra->'%s') "
                                "ELSE '{}'::jsonb END",
                                src, src);
    }
    for (size_t c = 0; c < t->ncols; c++) {
        const struct pgsql_col *col = &t->cols[c];
        if (!used[c] || col->role == PGSQL_COL_PRIMARY_ID) {
            continue;
        }
        if (col->role == PGSQL_COL_ID_MERGE) {
            bad |= relay_buf_printf(sql, ", %s = COALESCE(EXCLUDED.%s, contacts.%s)", col->quoted,
                                    col->quoted, col->quoted);
            continue;
        }
        bad |= relay_buf_printf(sql, ", %s = CASE WHEN ", col->quoted) |
               render_guard(sql, col->field) |
               relay_buf_printf(sql, " THEN EXCLUDED.%s ELSE contacts.%s END", col->quoted,
                                col->quoted);
    }
    bad |= render_versions_merge(t, used, sql);
    return bad ? -1 : 0;
}

size_t pgsql_batch_rows_per_statement(const struct pgsql_batch *b)
{
    return PGSQL_MAX_PARAMS / (b->t->ncols + 3);
}

int pgsql_batch_render(const struct pgsql_batch *b, size_t from, size_t to, struct relay_buf *sql,
                       struct pgsql_params *params, struct relay_error *err)
{
    const struct pgsql_table *t = b->t;
    bool *used = b->scratch;
    int bad = 0;
    relay_buf_reset(sql);
    params_reset(params);
    used_columns(b, from, to, used);
    bad |= relay_buf_printf(sql, "INSERT INTO contacts AS contacts (%s", t->key_quoted);
    for (size_t c = 0; c < t->ncols; c++) {
        if (used[c]) {
            bad |= relay_buf_printf(sql, ", %s", t->cols[c].quoted);
        }
    }
    bad |= relay_buf_appends(sql, ", sync_metadata, extra) VALUES ");
    for (size_t r = from; r < to && !bad; r++) {
        bad |= relay_buf_appends(sql, r > from ? ", " : "") |
               render_row(b, &b->rows[r], used, sql, params);
    }
    bad |= bad ? 0 : render_set(t, used, sql);
    if (bad) {
        return relay_error_set(err, RELAY_ENOMEM, "postgres: out of memory");
    }
    params_resolve(params);
    return 0;
}

int pgsql_batch_render_deletes(const struct pgsql_batch *b, struct relay_buf *sql,
                               struct pgsql_params *params, struct relay_error *err)
{
    json_t *list = json_array();
    int bad = list == NULL;
    relay_buf_reset(sql);
    params_reset(params);
    for (size_t r = 0; r < b->nrows && !bad; r++) {
        const struct pgsql_row *row = &b->rows[r];
        if (row->destroy_version != NULL) {
            bad |= json_array_append_new(list, json_pack("{s:s, s:s}", "cid", row->contact_id,
                                                         "ver", row->destroy_version));
        }
    }
    if (!bad && json_array_size(list) > 0) {
        bad |= params_begin(params) |
               sql_json_append_dump(&params->arena, list, JSON_COMPACT) |
               params_end(params);
        bad |= bad ? 0
                   : relay_buf_printf(
                         sql,
                         "DELETE FROM contacts AS c USING jsonb_to_recordset($1::jsonb) AS d(cid "
                         "text, ver text) WHERE c.%s = d.cid AND NOT EXISTS (SELECT 1 FROM "
                         "jsonb_each_text(COALESCE(c.sync_metadata->'versions', '{}'::jsonb)) AS "
                         "v WHERE v.value COLLATE \"C\" > d.ver COLLATE \"C\")",
                         b->t->key_quoted);
        params_resolve(params);
    }
    json_decref(list);
    return bad ? relay_error_set(err, RELAY_ENOMEM, "postgres: out of memory") : 0;
}
