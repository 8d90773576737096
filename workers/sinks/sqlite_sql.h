/* The SQLite sink's statements, rendered once per connection from the
 * mapping (sqlite_sql.c). Identifiers are checked plain and quoted; every
 * value is a bound parameter. */
#ifndef RELAY_WORKERS_SINKS_SQLITE_SQL_H
#define RELAY_WORKERS_SINKS_SQLITE_SQL_H

#include "relay/buf.h"
#include "relay/error.h"
#include "workers/sinks/sql_fields.h"

#include <stdbool.h>
#include <stddef.h>

struct mapping;

struct sqlite_col {
    const char *field;  /* canonical name, borrowed from the mapping */
    const char *column; /* column name, borrowed from the mapping */
    bool id_merge;      /* identity: merged, never cleared */
};

struct sqlite_table {
    struct sqlite_col *cols; /* owned; every mapped column but the key and sync_metadata */
    size_t ncols;
    struct sql_fields fields; /* cols by field name */
    const char *key_column;
};

int sqlite_table_init(struct sqlite_table *t, const struct mapping *m, struct relay_error *err);
void sqlite_table_fini(struct sqlite_table *t);

/* INSERT INTO contacts (key, cols..., sync_metadata, extra) VALUES (?1..)
 * ON CONFLICT(key) DO UPDATE SET <the version rule per column>.
 * Parameters: 1 = contact_id, 2.. = cols in order, then sync_metadata
 * ({"versions": {...}} of the changed fields and of extra's sources),
 * then extra (a new row takes it; an existing row keeps its own, and
 * sqlite_sql_extra merges it afterwards). */
int sqlite_sql_upsert(const struct sqlite_table *t, struct relay_buf *out);

/* The per-source, version-guarded merge of extra (see sqlite_sql.c). */
extern const char sqlite_sql_extra[];

/* The version-guarded hard delete: ?1 = contact_id, ?2 = version. */
extern const char sqlite_sql_delete[];

#endif
