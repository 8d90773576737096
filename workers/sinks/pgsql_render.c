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

#include "relay/mem.h"

#include <stdio.h>
#include <string.h>

#define PGSQL_PAIRS_PER_CALL 40 /* jsonb_build_object takes at most 100 arguments */

void pgsql_params_fini(struct pgsql_params *p)
{
    for (size_t i = 0; i < p->nowned; i++) {
        relay_free(p->owned[i]);
    }
    relay_free(p->owned);
    relay_free(p->values);
    memset(p, 0, sizeof(*p));
}

static void params_reset(struct pgsql_params *p)
{
    for (size_t i = 0; i < p->nowned; i++) {
        relay_free(p->owned[i]);
    }
    p->nowned = 0;
    p->n = 0;
}

/* Appends a parameter; when owned, p takes text over. */
static int params_add(struct pgsql_params *p, const char *text, bool owned)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 256;
        const char **v = relay_realloc(p->values, cap * sizeof(*v));
        if (v == NULL) {
            return -1;
        }
        p->values = v;
        p->cap = cap;
    }
    if (owned) {
        if (p->nowned == p->owned_cap) {
            size_t cap = p->owned_cap ? p->owned_cap * 2 : 256;
            char **o = relay_realloc(p->owned, cap * sizeof(*o));
            if (o == NULL) {
                return -1;
            }
            p->owned = o;
            p->owned_cap = cap;
        }
        p->owned[p->nowned++] = (char *)text;
    }
    p->values[p->n++] = text;
    return 0;
}

/* Appends "$n" for a value, or DEFAULT. */
static int render_value(struct relay_buf *sql, struct pgsql_params *p, const struct pgsql_col *c,
                        const json_t *v)
{
    if (v == NULL || (json_is_null(v) && c->role == PGSQL_COL_PRIMARY_ID)) {
        return relay_buf_appends(sql, "DEFAULT");
    }
    if (json_is_null(v)) {
        return params_add(p, NULL, false) | relay_buf_printf(sql, "$%zu", p->n);
    }
    if (json_is_string(v) && !c->json_typed) {
        return params_add(p, json_string_value(v), false) | relay_buf_printf(sql, "$%zu", p->n);
    }
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text == NULL || params_add(p, text, true) != 0) {
        relay_free(text);
        return -1;
    }
    return relay_buf_printf(sql, "$%zu", p->n);
}

/* {"versions": {field: version}} for the changed fields of a row. */
static char *row_versions(const struct pgsql_batch *b, const struct pgsql_row *r)
{
    json_t *versions = json_object();
    json_t *meta = json_pack("{s:o}", "versions", versions);
    char *text = NULL;
    if (meta == NULL) {
        return NULL;
    }
    for (size_t c = 0; c < b->t->ncols; c++) {
        if (r->val[c] != NULL && r->chg[c] &&
            json_object_set_new(versions, b->t->cols[c].field, json_string(r->vver[c])) != 0) {
            goto out;
        }
    }
    const char *source;
    json_t *ver;
    json_object_foreach(r->extra_ver, source, ver)
    {
        char key[64];
        snprintf(key, sizeof(key), PGSQL_EXTRA_VERSION_PREFIX "%s", source);
        if (json_object_set(versions, key, ver) != 0) {
            goto out;
        }
    }
    text = json_dumps(meta, JSON_COMPACT);
out:
    json_decref(meta);
    return text;
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
    int bad = params_add(p, r->contact_id, false) | relay_buf_printf(sql, "($%zu", p->n);
    for (size_t c = 0; c < b->t->ncols; c++) {
        if (used[c]) {
            bad |= relay_buf_appends(sql, ", ") | render_value(sql, p, &b->t->cols[c], r->val[c]);
        }
    }
    char *versions = row_versions(b, r);
    if (versions == NULL || params_add(p, versions, true) != 0) {
        relay_free(versions);
        return -1;
    }
    bad |= relay_buf_printf(sql, ", $%zu, ", p->n);
    if (r->extra != NULL) {
        char *extra = json_dumps(r->extra, JSON_COMPACT);
        if (extra == NULL || params_add(p, extra, true) != 0) {
            relay_free(extra);
            return -1;
        }
        bad |= relay_buf_printf(sql, "$%zu)", p->n);
    } else {
        bad |= relay_buf_appends(sql, "DEFAULT)");
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
    return bad ? relay_error_set(err, RELAY_ENOMEM, "postgres: out of memory") : 0;
}

int pgsql_batch_render_deletes(const struct pgsql_batch *b, struct relay_buf *sql,
                               struct pgsql_params *params, struct relay_error *err)
{
    json_t *list = json_array();
    char *text = NULL;
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
        text = json_dumps(list, JSON_COMPACT);
        bad |= text == NULL || params_add(params, text, true) != 0;
        if (!bad) {
            text = NULL;
            bad |= relay_buf_printf(
                sql,
                "DELETE FROM contacts AS c USING jsonb_to_recordset($1::jsonb) AS d(cid text, "
                "ver text) WHERE c.%s = d.cid AND NOT EXISTS (SELECT 1 FROM jsonb_each_text("
                "COALESCE(c.sync_metadata->'versions', '{}'::jsonb)) AS v WHERE v.value "
                "COLLATE \"C\" > d.ver COLLATE \"C\")",
                b->t->key_quoted);
        }
    }
    relay_free(text);
    json_decref(list);
    return bad ? relay_error_set(err, RELAY_ENOMEM, "postgres: out of memory") : 0;
}
