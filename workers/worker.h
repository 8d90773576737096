/* Internal to workers/: the state the pool shares with its worker threads
 * and its scheduler thread, and the worker thread itself. Other folders
 * include workers/pool.h only. */
#ifndef RELAY_WORKERS_WORKER_H
#define RELAY_WORKERS_WORKER_H

#include "workers/retry.h"
#include "workers/sink.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct queue_conf;

#define WORKER_CONSUMER_MAX 160
#define WORKER_TAKE_TIMEOUT_MS 500 /* <= 1 s, so the stop flag is seen promptly */
#define WORKER_THROTTLE_SLICE_MS 200 /* a throttled worker re-checks stop and the limit */
#define WORKER_DEFER_MIN_MS 100      /* a deferred event waits at least this long */

/* Read-only after pool_start except the atomics. */
struct pool_shared {
    const struct sink_env *env;
    const struct queue_conf *qconf;
    struct retry_policy policy;
    unsigned batch_size;
    unsigned dead_cap;
    unsigned heartbeat_ttl_s;
    char host[64];
    long pid;
    atomic_bool stop;         /* set once by pool_stop */
    atomic_bool heartbeat_ok; /* the scheduler has announced every consumer once */
};

/* A random source in [0, 2^32) for the retry jitter; injected so tests can
 * pin it. next must be callable from the owning thread only. */
struct worker_rng {
    uint32_t (*next)(void *ctx);
    void *ctx;
};

struct worker {
    struct pool_shared *shared;
    const struct sink_kind *kind;
    unsigned index;         /* unique in the process: the THREAD of HOST:PID:THREAD */
    atomic_uint generation; /* bumped when a settle fails: see worker.c DESIGN */
    atomic_bool busy;       /* holding a taken batch */
    atomic_bool finished;   /* the thread has left its loop */
    atomic_bool abandoned;  /* pool_stop gave up waiting: no more heartbeats */
    struct worker_rng rng;
    uint64_t rng_state;
    pthread_t thread;
    bool started;
};

/* Writes HOST:PID:THREAD for w's current generation into out. */
void worker_consumer_name(const struct worker *w, char out[WORKER_CONSUMER_MAX]);

/* The thread body; arg is a struct worker *. */
void *worker_main(void *arg);

/* Sleeps up to ms in short steps; returns early when the pool stops. */
void worker_sleep(const struct pool_shared *shared, uint64_t ms);

/* Unix time in ms. */
int64_t worker_now_ms(void);

#endif

/* worker_settle.c: the failure half of settling one taken element. */
struct queue;
struct queue_item;

/* The one place that decides between retry and dead letter: attempts + 1,
 * error {class, code, message}, first_error_at; a permanent failure or the
 * last attempt goes to P:dead:SINK, anything else to P:retry:SINK at now +
 * full-jitter backoff. ev is updated in place. 0, or -1 when Redis failed
 * (the element then stays in the consumer's in-flight list). */
int worker_settle_failure(struct worker *w, struct queue *q, const char *consumer,
                          const struct queue_item *item, struct relay_event *ev, bool permanent,
                          const struct relay_error *cause);

/* SINK_DEFER: the sink did not try the event (its rate limit had no room).
 * The element goes to P:retry:SINK due at due_ms exactly as it was taken:
 * no attempt is counted and no error is added, so pacing can never
 * dead-letter an event. 0, or -1 as above. */
int worker_settle_defer(struct worker *w, struct queue *q, const char *consumer,
                        const struct queue_item *item, int64_t due_ms);

/* An element that does not decode as an event: dead-lettered at once with
 * a permanent error; the original text is kept (as the element itself when
 * it is a JSON object, else under "raw"). 0 or -1 as above. */
int worker_settle_undecodable(struct worker *w, struct queue *q, const char *consumer,
                              const struct queue_item *item, const struct relay_error *cause);
