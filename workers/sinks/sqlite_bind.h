/* Internal to the SQLite sink: the per-thread state, and binding one
 * event's values into its prepared statements (sqlite_bind.c). The
 * texts bound SQLITE_STATIC live in the state's reused buffers and stay
 * valid until the next event. */
#ifndef RELAY_WORKERS_SINKS_SQLITE_BIND_H
#define RELAY_WORKERS_SINKS_SQLITE_BIND_H

#include "relay/buf.h"
#include "relay/event.h"
#include "workers/sink.h"
#include "workers/sinks/sqlite_sql.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>

struct sqlite_state {
    sqlite3 *db;
    const struct sink_env *env;
    struct sqlite_table table;
    sqlite3_stmt *upsert;
    sqlite3_stmt *destroy;
    sqlite3_stmt *extra;
    /* Reused per event (bound SQLITE_STATIC, valid until the next event). */
    struct relay_buf versions; /* sync_metadata parameter */
    struct relay_buf text;     /* extra, and JSON values of columns */
    bool *mark;                /* per column: already in versions */
    json_t **rows;             /* per event of the batch: its mapped row */
    size_t rows_cap;
};

/* Binds and runs the upsert of ev with its mapped row; the sqlite3 rc. */
int sqlite_bind_upsert(struct sqlite_state *st, const struct relay_event *ev, const json_t *row);

/* Merges each source's extra of ev into the row (sqlite_sql_extra); the rc. */
int sqlite_bind_extra(struct sqlite_state *st, const struct relay_event *ev);

/* The version-guarded hard delete of ev's contact; the rc. */
int sqlite_bind_destroy(struct sqlite_state *st, const struct relay_event *ev);

#endif
