/* The sink interface: a sink kind is a const table of functions, one per
 * destination type; a sink instance is opened by each worker thread for
 * itself, so a PGconn, sqlite3 * or CURL * is never shared between threads.
 *
 * Sinks report; workers decide. A sink never sleeps, never loops on
 * retries and never dead-letters: it returns a status and the worker
 * (worker.c with retry.c) settles the events. */
#ifndef RELAY_WORKERS_SINK_H
#define RELAY_WORKERS_SINK_H

#include "relay/config.h"
#include "relay/error.h"
#include "relay/event.h"

#include <stdbool.h>
#include <stddef.h>

struct mapping;

enum sink_status {
    SINK_OK = 0, /* every event is stored: ack them */
    SINK_RETRY,  /* transient (network, 5xx, 429, SQLITE_BUSY, 40001...): try later */
    SINK_REJECT, /* permanent for this input (mapping error, 400, 22xxx/23xxx) */
    SINK_PARTIAL, /* per-event statuses are in the status array */
    /* Not attempted: the sink's rate limit has no room now (Twenty). Put
     * the event back without counting an attempt; kind->throttle_ms says
     * when to try again. A worker that does not know it treats it as
     * SINK_RETRY. Added by the Twenty sink (issue 6). */
    SINK_DEFER
};

/* What every instance of every kind may read; borrowed, immutable, outlives
 * the instances. */
struct sink_env {
    const struct relay_config *conf;
    const struct mapping *mapping;
};

struct sink_kind {
    const char *name;   /* "postgres", "sqlite", "bigquery", "twenty" */
    enum relay_sink id;
    /* True when the config enables this sink. */
    bool (*is_enabled)(const struct relay_config *conf);
    /* Worker threads for this sink (SQLite: always 1). */
    unsigned (*worker_count)(const struct relay_config *conf);
    /* Per thread. NULL + err when it cannot start (the worker retries later). */
    void *(*open)(const struct sink_env *env, struct relay_error *err);
    /* Writes a batch, all or nothing unless it returns SINK_PARTIAL, in which
     * case status[i] (SINK_OK/RETRY/REJECT) says what became of evs[i] and
     * err describes the first failure. status has n entries. */
    enum sink_status (*write)(void *state, struct relay_event *const *evs, size_t n,
                              enum sink_status *status, struct relay_error *err);
    void (*close)(void *state); /* NULL-safe */
    /* Optional (NULL: never throttled). Milliseconds until the sink may send
     * again under its rate limit; 0: now. The worker waits this long before
     * taking a batch, so pacing never costs an attempt. Thread-safe. */
    unsigned (*throttle_ms)(void *state);
    /* Optional (0: the config's workers.batch_size). The most events one
     * write may get: a worker never takes more than this at once, so
     * events a sink cannot reach before its rate limit do not sit in
     * flight (Twenty: 60, its batch call's limit). */
    unsigned max_batch;
};

/* NULL-terminated list of the kinds compiled in (sink_registry.c). */
extern const struct sink_kind *const sink_kinds[];

/* The kind for a sink id, or NULL when not compiled in. */
const struct sink_kind *sink_kind_get(enum relay_sink id);

#endif
