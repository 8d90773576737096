/* The worker side of one process: for every enabled sink, N worker threads
 * (sink_kind.worker_count), plus one scheduler thread that promotes due
 * retries, refreshes heartbeats and recovers in-flight lists of dead
 * consumers. Follows libuv's threadpool.c and Redis's bio.c. */
#ifndef RELAY_WORKERS_POOL_H
#define RELAY_WORKERS_POOL_H

#include "relay/error.h"
#include "workers/sink.h"

struct queue_conf;
struct pool;

/* Starts the threads. env and qconf are borrowed and must outlive the pool.
 * Call with signals blocked (threads inherit the mask). NULL + err. */
struct pool *pool_start(const struct sink_env *env, const struct queue_conf *qconf,
                        struct relay_error *err);

/* Stops taking new work; each worker finishes or returns its in-flight batch
 * within grace_ms; joins every thread and frees the pool. NULL is a no-op. */
void pool_stop(struct pool *p, unsigned grace_ms);

#endif
