/* The Postgres sink's batch: events merged by contact_id (Postgres rejects
 * the same key twice in one INSERT ... ON CONFLICT) and rendered into
 * multi-row upserts with every value bound as a parameter. No I/O here:
 * sink_pgsql.c runs what this file builds. */
#ifndef RELAY_WORKERS_SINKS_PGSQL_BATCH_H
#define RELAY_WORKERS_SINKS_PGSQL_BATCH_H

#include "relay/buf.h"
#include "relay/error.h"
#include "relay/event.h"
#include "workers/sink.h"
#include "workers/sinks/sql_fields.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define PGSQL_MAX_PARAMS 65535 /* the protocol's limit per statement */

/* extra is versioned per source like a field, under this key prefix in
 * sync_metadata.versions ("extra:twenty"), so that the newest event of a
 * source wins whatever the arrival order. */
#define PGSQL_EXTRA_VERSION_PREFIX "extra:"

enum pgsql_col_role {
    PGSQL_COL_VERSIONED = 0, /* guarded by its field version */
    PGSQL_COL_ID_MERGE,      /* twenty_id...: merged, never cleared */
    PGSQL_COL_PRIMARY_ID,    /* supabase_id -> id uuid: generated when unknown, never updated */
};

struct pgsql_col {
    const char *field;  /* canonical name, borrowed from the mapping */
    const char *column; /* column name, borrowed from the mapping */
    char *quoted;       /* quoted identifier, owned */
    enum pgsql_col_role role;
    bool json_typed;    /* jsonb column: every value is bound as JSON text */
};

/* The contacts table as the mapping describes it; built at open. */
struct pgsql_table {
    struct pgsql_col *cols; /* owned; every mapped column except the key and sync_metadata */
    size_t ncols;
    struct sql_fields fields; /* cols by field name */
    char *key_quoted;       /* owned: the contact_id column, quoted */
    const char *key_field;  /* "contact_id" */
};

/* quote(column) must return an owned (relay_malloc) quoted identifier. */
int pgsql_table_init(struct pgsql_table *t, const struct mapping *m,
                     char *(*quote)(void *ctx, const char *ident), void *ctx,
                     struct relay_error *err);
void pgsql_table_fini(struct pgsql_table *t);

/* One contact after merging the batch's events for it. */
struct pgsql_row {
    const char *contact_id; /* borrowed from an event */
    json_t **val;           /* per column: owned ref, NULL = absent */
    const char **vver;      /* per column: version of the event val came from */
    bool *chg;              /* per column: val came from a changed field */
    json_t *extra;          /* owned merged extra, or NULL */
    json_t *extra_ver;      /* owned: source -> version of its extra in `extra` */
    const char *destroy_version; /* newest destroy of this contact, or NULL */
};

struct pgsql_batch {
    const struct pgsql_table *t;
    struct pgsql_row *rows;
    size_t nrows;
    size_t *slots;          /* open addressing over contact_id: row index + 1 */
    size_t nslots;
    json_t **val_block;
    const char **vver_block;
    bool *chg_block;
    bool *scratch; /* one flag per column, reused per event */
};

/* Merges evs into b (per field: a changed value beats an unchanged one,
 * then the newer version wins). status[i] is set to SINK_REJECT (with err
 * naming it) for an event whose values the mapping cannot write, else
 * SINK_OK. Returns the number rejected, or -1 (ENOMEM). */
long pgsql_batch_build(struct pgsql_batch *b, const struct pgsql_table *t, const struct mapping *m,
                       struct relay_event *const *evs, size_t n, bool hard_delete,
                       enum sink_status *status, struct relay_error *err);
void pgsql_batch_fini(struct pgsql_batch *b);

/* Parameters of one statement: values[i] NULL is SQL NULL. Texts the
 * render produces (JSON dumps, versions) are written one after another,
 * NUL-terminated, into one reused arena instead of a malloc each; until
 * pgsql_batch_render returns, such a value is recorded as an offset
 * (arena_off[i] = offset + 1) and values[i] is only set at the end, since
 * the arena may move while it grows. */
struct pgsql_params {
    const char **values;
    size_t *arena_off; /* per value: 0, or 1 + offset of its text in arena */
    size_t n, cap;
    struct relay_buf arena;
};

void pgsql_params_fini(struct pgsql_params *p);

/* Renders rows [from, to) as one INSERT ... ON CONFLICT statement into sql
 * and params (both reset first). pgsql_batch_rows_per_statement tells how
 * many rows fit under PGSQL_MAX_PARAMS. */
size_t pgsql_batch_rows_per_statement(const struct pgsql_batch *b);
int pgsql_batch_render(const struct pgsql_batch *b, size_t from, size_t to, struct relay_buf *sql,
                       struct pgsql_params *params, struct relay_error *err);

/* The hard deletes of the batch as one statement with one JSON parameter;
 * 0 with sql->len == 0 when there are none. */
int pgsql_batch_render_deletes(const struct pgsql_batch *b, struct relay_buf *sql,
                               struct pgsql_params *params, struct relay_error *err);

#endif
