/* insertAll of a batch of events into the BigQuery changelog table, for
 * the BigQuery sink (sink_bigquery.c), which owns one struct
 * bigquery_insert per worker thread and fills its members at open. */
#ifndef RELAY_WORKERS_SINKS_BIGQUERY_INSERT_H
#define RELAY_WORKERS_SINKS_BIGQUERY_INSERT_H

#include "relay/error.h"
#include "relay/event.h"
#include "workers/sink.h"

#include <stddef.h>

struct bigquery_auth;
struct http_client;

struct bigquery_insert {
    const struct sink_env *env; /* borrowed; outlives the instance */
    struct http_client *http;   /* this thread's CURL handle */
    struct bigquery_auth *auth; /* shared by every BigQuery worker thread */
    char *insert_url;           /* owned: .../tables/TABLE/insertAll */
};

/* Writes evs[0..n) as changelog rows (the sink_kind write contract of
 * workers/sink.h): status[i] says what became of evs[i]; the result is
 * that status when all agree, SINK_PARTIAL otherwise, SINK_OK for n == 0.
 * err gets the first failure. Not thread-safe for one ins. */
enum sink_status bigquery_insert_write(struct bigquery_insert *ins, struct relay_event *const *evs,
                                       size_t n, enum sink_status *status,
                                       struct relay_error *err);

#endif
