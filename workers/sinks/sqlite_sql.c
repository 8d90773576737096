/* The SQLite upsert, with the field-level version rule of contact.md:
 *   col = CASE WHEN <the event changed the field> AND (<stored version is
 *         null> OR <stored version> <= <event version>) THEN excluded.col
 *         ELSE contacts.col END
 * Versions live in sync_metadata.versions (canonical timestamps: text
 * order is time order); the event's ride in excluded.sync_metadata. */
#include "workers/sinks/sqlite_sql.h"

#include "mappers/mapper.h"
#include "relay/mem.h"

#include <string.h>

#define SQLITE_PAIRS_PER_CALL 50 /* json_object takes at most 127 arguments */

const char sqlite_sql_delete[] =
    "DELETE FROM contacts WHERE contact_id = ?1 AND NOT EXISTS (SELECT 1 FROM "
    "json_each(contacts.sync_metadata, '$.versions') AS v WHERE v.value > ?2)";

int sqlite_table_init(struct sqlite_table *t, const struct mapping *m, struct relay_error *err)
{
    size_t count = mapping_field_count(m);
    memset(t, 0, sizeof(*t));
    t->cols = relay_calloc(count ? count : 1, sizeof(*t->cols));
    if (t->cols == NULL || sql_fields_init(&t->fields, count) != 0) {
        sqlite_table_fini(t);
        return relay_error_set(err, RELAY_ENOMEM, "sqlite: out of memory");
    }
    for (size_t i = 0; i < count; i++) {
        const struct mapping_field *f = mapping_field_at(m, i);
        const char *column = f->column[MAPPER_SYS_SQLITE];
        if (column == NULL || f->is_syncrelay_owned) {
            continue;
        }
        if (!sql_plain_name(column) || !sql_plain_name(f->name)) {
            sqlite_table_fini(t);
            return relay_error_set(err, RELAY_ECONFIG, "sqlite: '%s' is not [a-z_][a-z0-9_]*",
                                   column);
        }
        if (strcmp(f->name, "contact_id") == 0) {
            t->key_column = column;
            continue;
        }
        sql_fields_add(&t->fields, f->name);
        t->cols[t->ncols++] =
            (struct sqlite_col){.field = f->name, .column = column, .id_merge = f->is_identity};
    }
    sql_fields_sort(&t->fields);
    if (t->key_column == NULL) {
        sqlite_table_fini(t);
        return relay_error_set(err, RELAY_ECONFIG, "sqlite: the mapping has no contact_id column");
    }
    return 0;
}

void sqlite_table_fini(struct sqlite_table *t)
{
    relay_free(t->cols);
    sql_fields_fini(&t->fields);
    memset(t, 0, sizeof(*t));
}

static int render_guard(struct relay_buf *out, const char *f)
{
    return relay_buf_printf(out,
                            "json_extract(excluded.sync_metadata, '$.versions.%s') IS NOT NULL AND "
                            "(json_extract(contacts.sync_metadata, '$.versions.%s') IS NULL OR "
                            "json_extract(contacts.sync_metadata, '$.versions.%s') <= "
                            "json_extract(excluded.sync_metadata, '$.versions.%s'))",
                            f, f, f, f);
}

/* sync_metadata.versions = stored versions patched with, per field, the
 * event's version when it won, else the stored one (json_patch drops the
 * key when both are null). */
static int render_versions(const struct sqlite_table *t, struct relay_buf *out)
{
    size_t chunks = (t->ncols + SQLITE_PAIRS_PER_CALL - 1) / SQLITE_PAIRS_PER_CALL;
    int bad = relay_buf_appends(
        out, ", sync_metadata = json_set(COALESCE(contacts.sync_metadata, '{}'), '$.versions', "
             "json(json_patch(COALESCE(json_extract(contacts.sync_metadata, '$.versions'), '{}'), ");
    for (size_t k = 0; k < chunks; k++) {
        bad |= relay_buf_appends(out, "json_patch(");
    }
    bad |= relay_buf_appends(out, "json_object()");
    for (size_t c = 0; c < t->ncols; c++) {
        const char *f = t->cols[c].field;
        bad |= relay_buf_appends(out, c % SQLITE_PAIRS_PER_CALL == 0 ? ", json_object(" : ", ");
        bad |= relay_buf_printf(out, "'%s', CASE WHEN ", f) | render_guard(out, f) |
               relay_buf_printf(out,
                                " THEN json_extract(excluded.sync_metadata, '$.versions.%s') "
                                "ELSE json_extract(contacts.sync_metadata, '$.versions.%s') END",
                                f, f);
        if (c % SQLITE_PAIRS_PER_CALL == SQLITE_PAIRS_PER_CALL - 1 || c + 1 == t->ncols) {
            bad |= relay_buf_appends(out, "))");
        }
    }
    bad |= relay_buf_appends(out, ")))");
    return bad;
}

/* extra: per source key, versioned like a field ("extra:<source>" in
 * sync_metadata.versions), so the newest event of a source wins whatever
 * the arrival order. ?1 contact_id, ?2 source, ?3 its extra (JSON text),
 * ?4 the event's version. Runs after the upsert of the event. */
const char sqlite_sql_extra[] =
    "UPDATE contacts SET extra = json_set(COALESCE(extra, '{}'), '$.\"' || ?2 || '\"', json(?3)), "
    "sync_metadata = json_set(COALESCE(sync_metadata, '{}'), '$.versions.\"extra:' || ?2 || "
    "'\"', ?4) WHERE contact_id = ?1 AND (json_extract(sync_metadata, '$.versions.\"extra:' || "
    "?2 || '\"') IS NULL OR json_extract(sync_metadata, '$.versions.\"extra:' || ?2 || '\"') "
    "<= ?4)";

int sqlite_sql_upsert(const struct sqlite_table *t, struct relay_buf *out)
{
    int bad = relay_buf_printf(out, "INSERT INTO contacts (\"%s\"", t->key_column);
    for (size_t c = 0; c < t->ncols; c++) {
        bad |= relay_buf_printf(out, ", \"%s\"", t->cols[c].column);
    }
    bad |= relay_buf_appends(out, ", sync_metadata, extra) VALUES (?1");
    for (size_t c = 0; c < t->ncols + 2; c++) {
        bad |= relay_buf_printf(out, ", ?%zu", c + 2);
    }
    bad |= relay_buf_printf(out, ") ON CONFLICT(\"%s\") DO UPDATE SET ", t->key_column);
    for (size_t c = 0; c < t->ncols; c++) {
        const char *col = t->cols[c].column;
        if (t->cols[c].id_merge) {
            bad |= relay_buf_printf(out, "%s\"%s\" = COALESCE(excluded.\"%s\", contacts.\"%s\")",
                                    c ? ", " : "", col, col, col);
            continue;
        }
        bad |= relay_buf_printf(out, "%s\"%s\" = CASE WHEN ", c ? ", " : "", col) |
               render_guard(out, t->cols[c].field) |
               relay_buf_printf(out, " THEN excluded.\"%s\" ELSE contacts.\"%s\" END", col, col);
    }
    bad |= render_versions(t, out);
    return bad ? -1 : 0;
}
