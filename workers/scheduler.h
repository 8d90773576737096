/* The pool's housekeeping thread: every SCHEDULER_TICK_MS it moves due
 * retries of every enabled sink back onto their queues; every
 * heartbeat_ttl_s / 3 it refreshes the heartbeat of each consumer of this
 * process; at start-up and every SCHEDULER_RECOVER_MS it runs queue_recover
 * (in-flight lists of dead consumers, from any instance, go back to their
 * queues). It owns its own queue handle. */
#ifndef RELAY_WORKERS_SCHEDULER_H
#define RELAY_WORKERS_SCHEDULER_H

#include "workers/worker.h"

#include <stddef.h>

#define SCHEDULER_TICK_MS 200
#define SCHEDULER_RECOVER_MS 5000
#define SCHEDULER_PROMOTE_MAX 1000

struct scheduler {
    struct pool_shared *shared;
    struct worker *workers; /* borrowed from the pool; read: kind, index, generation */
    size_t nworkers;
    const char *sinks[RELAY_SINK_COUNT]; /* names of the enabled sinks */
    size_t nsinks;
    char started_at[RELAY_TS_LEN + 1];
    atomic_bool quit; /* set by pool_stop after the workers are joined */
    pthread_t thread;
    bool started;
};

/* The thread body; arg is a struct scheduler *. Clears the heartbeats of
 * this process's consumers when it quits. */
void *scheduler_main(void *arg);

/* One round of heartbeats for every consumer; 0 when all were written.
 * Used by the scheduler and by pool_stop. */
int scheduler_heartbeat_all(struct scheduler *s, struct queue *q, unsigned ttl_s);

#endif
