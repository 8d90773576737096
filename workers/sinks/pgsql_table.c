/* The Postgres sink's view of the contacts table, from the mapping: which
 * canonical field lives in which column, and how each column is updated. */
#include "workers/sinks/pgsql_batch.h"

#include "mappers/mapper.h"
#include "relay/mem.h"

#include <string.h>

static enum pgsql_col_role col_role(const struct mapping_field *f)
{
    if (strcmp(f->name, "supabase_id") == 0) {
        return PGSQL_COL_PRIMARY_ID;
    }
    return f->is_identity ? PGSQL_COL_ID_MERGE : PGSQL_COL_VERSIONED;
}

int pgsql_table_init(struct pgsql_table *t, const struct mapping *m,
                     char *(*quote)(void *ctx, const char *ident), void *ctx,
                     struct relay_error *err)
{
    size_t count = mapping_field_count(m);
    memset(t, 0, sizeof(*t));
    t->cols = relay_calloc(count ? count : 1, sizeof(*t->cols));
    if (t->cols == NULL || sql_fields_init(&t->fields, count) != 0) {
        goto nomem;
    }
    for (size_t i = 0; i < count; i++) {
        const struct mapping_field *f = mapping_field_at(m, i);
        const char *column = f->column[MAPPER_SYS_POSTGRES];
        if (column == NULL || f->is_syncrelay_owned) {
            continue;
        }
        if (!sql_plain_name(f->name)) {
            pgsql_table_fini(t);
            return relay_error_set(err, RELAY_ECONFIG, "postgres: field name '%s' is not [a-z_][a-z0-9_]*",
                                   f->name);
        }
        char *quoted = quote(ctx, column);
        if (quoted == NULL) {
            goto nomem;
        }
        if (strcmp(f->name, "contact_id") == 0) {
            relay_free(t->key_quoted);
            t->key_quoted = quoted;
            t->key_field = f->name;
            continue;
        }
        t->cols[t->ncols] = (struct pgsql_col){
            .field = f->name, .column = column, .quoted = quoted, .role = col_role(f),
            .json_typed = f->type == MAPPING_JSON || f->type == MAPPING_JSON_OBJECT ||
                          f->type == MAPPING_TEXT_ARRAY};
        sql_fields_add(&t->fields, f->name);
        t->ncols++;
    }
    if (t->key_quoted == NULL) {
        pgsql_table_fini(t);
        return relay_error_set(err, RELAY_ECONFIG, "postgres: the mapping has no contact_id column");
    }
    sql_fields_sort(&t->fields);
    return 0;
nomem:
    pgsql_table_fini(t);
    return relay_error_set(err, RELAY_ENOMEM, "postgres: out of memory");
}

void pgsql_table_fini(struct pgsql_table *t)
{
    if (t->cols != NULL) {
        for (size_t i = 0; i < t->ncols; i++) {
            relay_free(t->cols[i].quoted);
        }
    }
    relay_free(t->cols);
    sql_fields_fini(&t->fields);
    relay_free(t->key_quoted);
    memset(t, 0, sizeof(*t));
}
