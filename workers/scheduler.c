/* The scheduler thread: due retries, heartbeats, recovery (scheduler.h).
 * Every step is one atomic script on the Redis side, so running this in
 * many instances at once is safe. */
#define LOG_COMPONENT "scheduler"
#include "workers/scheduler.h"

#include "queue/queue.h"
#include "relay/log.h"

#include <stdio.h>
#include <time.h>

int scheduler_heartbeat_all(struct scheduler *s, struct queue *q, unsigned ttl_s)
{
    char info[160];
    int rc = 0;
    snprintf(info, sizeof(info), "host=%s pid=%ld started=%s", s->shared->host, s->shared->pid,
             s->started_at);
    for (size_t i = 0; i < s->nworkers; i++) {
        struct relay_error err = {0};
        char name[WORKER_CONSUMER_MAX];
        if (atomic_load(&s->workers[i].abandoned)) {
            continue;
        }
        worker_consumer_name(&s->workers[i], name);
        if (queue_heartbeat(q, name, ttl_s, info, &err) != 0) {
            log_warn("heartbeat %s: %s", name, err.msg);
            rc = -1;
            break; /* Redis is down: the next round tries again */
        }
    }
    return rc;
}

static void scheduler_promote(struct scheduler *s, struct queue *q)
{
    for (size_t i = 0; i < s->nsinks; i++) {
        /* A bounded number of scripts per tick, so a huge backlog of due
         * retries cannot starve heartbeats. */
        for (int round = 0; round < 10; round++) {
            struct relay_error err = {0};
            size_t moved = 0;
            if (queue_promote_due(q, s->sinks[i], worker_now_ms(), SCHEDULER_PROMOTE_MAX, &moved,
                                  &err) != 0) {
                log_warn("promote %s: %s", s->sinks[i], err.msg);
                return;
            }
            if (moved < SCHEDULER_PROMOTE_MAX) {
                break;
            }
        }
    }
}

static void scheduler_recover(struct queue *q)
{
    struct relay_error err = {0};
    size_t moved = 0;
    if (queue_recover(q, &moved, &err) != 0) {
        log_warn("recover: %s", err.msg);
    } else if (moved > 0) {
        log_info("recovered %zu in-flight event(s) of dead consumers", moved);
    }
}

static void scheduler_clear(struct scheduler *s, struct queue *q)
{
    for (size_t i = 0; i < s->nworkers; i++) {
        struct relay_error err = {0};
        char name[WORKER_CONSUMER_MAX];
        worker_consumer_name(&s->workers[i], name);
        if (queue_heartbeat_clear(q, name, &err) != 0) {
            log_warn("heartbeat clear %s: %s", name, err.msg);
            return;
        }
    }
}

static void scheduler_loop(struct scheduler *s, struct queue *q)
{
    const struct pool_shared *sh = s->shared;
    int64_t hb_every = (int64_t)sh->heartbeat_ttl_s * 1000 / 3;
    int64_t next_hb = 0;
    int64_t next_recover = 0;
    while (!atomic_load(&s->quit)) {
        int64_t now = worker_now_ms();
        if (now >= next_hb) {
            if (scheduler_heartbeat_all(s, q, sh->heartbeat_ttl_s) == 0) {
                next_hb = now + (hb_every > 0 ? hb_every : 1000);
                atomic_store(&s->shared->heartbeat_ok, true);
            } else {
                next_hb = now + 500;
            }
        }
        if (now >= next_recover && atomic_load(&s->shared->heartbeat_ok)) {
            scheduler_recover(q);
            next_recover = now + SCHEDULER_RECOVER_MS;
        }
        if (!atomic_load(&sh->stop)) {
            scheduler_promote(s, q);
        }
        struct timespec ts = {.tv_sec = 0, .tv_nsec = SCHEDULER_TICK_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
}

void *scheduler_main(void *arg)
{
    struct scheduler *s = arg;
    struct queue *q = NULL;
    struct relay_error err = {0};
    log_set_context("w", "scheduler");
    while (q == NULL && !atomic_load(&s->quit)) {
        q = queue_open(s->shared->qconf, &err);
        if (q == NULL) {
            log_warn("queue: %s", err.msg);
            struct timespec ts = {.tv_sec = 0, .tv_nsec = 500 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    if (q != NULL) {
        scheduler_loop(s, q);
        scheduler_clear(s, q);
        queue_close(q);
    }
    log_set_context("w", NULL);
    return NULL;
}
