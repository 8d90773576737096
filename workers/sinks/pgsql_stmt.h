/* Prepared statements of one Postgres connection, by SQL text. The sink
 * renders the same statement text again and again (one shape per set of
 * columns and row count, e.g. every full batch of a backlog); a text seen
 * a second time is prepared once (PQprepare) and from then on only bound
 * and executed, so the server parses and plans it once per connection.
 * A text seen once runs unnamed as before, so one-off shapes cost nothing
 * extra. Behind a transaction-mode pooler named statements fail (26000
 * "does not exist", 42P05 "already exists"): the first such answer turns
 * the cache off for the connection, and the sink treats both SQLSTATEs
 * as transient, so the batch is simply retried unnamed. Owned by one sink
 * instance (one thread). */
#ifndef RELAY_WORKERS_SINKS_PGSQL_STMT_H
#define RELAY_WORKERS_SINKS_PGSQL_STMT_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#define PGSQL_STMT_SLOTS 8 /* prepared statements kept per connection */
#define PGSQL_STMT_SEEN 16 /* texts remembered (by hash) before they are prepared */

struct pgsql_stmt {
    char *sql; /* owned text; NULL: free slot */
    size_t len;
    uint64_t hash;
    uint64_t last_use;
    char name[24];
};

struct pgsql_stmt_cache {
    struct pgsql_stmt slot[PGSQL_STMT_SLOTS];
    uint64_t seen[PGSQL_STMT_SEEN]; /* hashes of texts run once, ring */
    size_t seen_next;
    uint64_t tick;
    unsigned next_id;
    int disabled; /* a pooler refused named statements: always unnamed */
};

/* Zeroed memory is an empty cache. Forgets every statement without
 * telling the server: call it after the connection was reset (the server
 * dropped them) and before freeing. Keeps `disabled`. */
void pgsql_stmt_cache_clear(struct pgsql_stmt_cache *c);

/* Runs sql (len bytes, NUL-terminated) with nparams text parameters on
 * conn, prepared when this text ran before (see above). Returns the
 * result the caller checks and PQclears: the execution's, or the failed
 * PREPARE's / DEALLOCATE's when that step failed. NULL only when libpq
 * is out of memory. */
PGresult *pgsql_stmt_exec(struct pgsql_stmt_cache *c, PGconn *conn, const char *sql, size_t len,
                          int nparams, const char *const *values);

#endif
