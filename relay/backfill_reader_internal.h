/* Shared inside the backfill readers only (backfill_reader.c and one
 * backfill_<system>.c per system): the table of operations a system
 * implements. A system returns its records in its own shape (column names
 * of its table or REST body); backfill_reader.c maps them to canonical. */
#ifndef RELAY_RELAY_BACKFILL_READER_INTERNAL_H
#define RELAY_RELAY_BACKFILL_READER_INTERNAL_H

#include "relay/backfill_reader.h"

struct backfill_reader_ops {
    const char *name;   /* "postgres", "sqlite", "bigquery", "twenty" */
    bool filters_since; /* next/remaining apply since themselves */
    /* conf borrowed, outlives the state. NULL + err. */
    void *(*open)(const struct relay_config *conf, struct relay_error *err);
    /* Up to limit records after cursor (NULL: start): *rows gets an array
     * of the system's records (owned), *next_cursor the cursor after the
     * last one (owned; NULL when none), *is_last whether nothing follows. */
    int (*next)(void *state, const char *cursor, unsigned limit, const char *since, json_t **rows,
                char **next_cursor, bool *is_last, struct relay_error *err);
    /* The record of contact_id (owned) or NULL when absent. */
    int (*get)(void *state, const char *contact_id, json_t **row, struct relay_error *err);
    /* Records after cursor, -1 when unknown. */
    long long (*remaining)(void *state, const char *cursor, const char *since);
    void (*close)(void *state); /* NULL-safe */
};

extern const struct backfill_reader_ops backfill_pgsql_ops;
extern const struct backfill_reader_ops backfill_sqlite_ops;
extern const struct backfill_reader_ops backfill_bigquery_ops;
extern const struct backfill_reader_ops backfill_twenty_ops;

#endif
