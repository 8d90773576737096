/* One worker thread: take a batch from P:q:SINK into this consumer's
 * in-flight list, decode, write through the sink, settle.
 *
 * DESIGN
 * - The thread owns its queue handle (one Redis connection) and its sink
 *   instance; nothing mutable is shared but the pool's atomics.
 * - Sinks report, workers decide: OK -> ack; RETRY -> every event to the
 *   retry set with backoff; REJECT of a batch of n > 1 -> each event is
 *   written again alone, so only the poison one is dead-lettered; PARTIAL
 *   -> per event. worker_settle.c makes the retry-or-dead decision.
 * - DEFER (the sink's rate limit had no room, the event was not tried)
 *   is not a failure: the element goes back to P:retry:SINK unchanged (no
 *   attempt, no error) due when the limit has room again, and the worker
 *   does not back off. Before each take a worker whose sink has a
 *   throttle_ms hook waits until it says 0, so pacing costs no attempt
 *   and nothing waits in flight. A take is capped by kind->max_batch.
 * - A sink that cannot open (database down) fails its batch transiently;
 *   the worker backs off and opens again later. Nothing is dead-lettered
 *   while an outage is shorter than the retry horizon (retry.h).
 * - If Redis fails while settling, the elements stay in this consumer's
 *   in-flight list; a take that failed may have moved elements there with
 *   its answer lost. Either way the worker moves to a new consumer name (the
 *   THREAD part becomes "N.G"); the scheduler stops refreshing the old
 *   name, so after heartbeat_ttl_s any instance's queue_recover puts the
 *   stranded elements back on the queue (at-least-once, never lost).
 * - Stop: the flag is checked before every take and the take waits at most
 *   WORKER_TAKE_TIMEOUT_MS; a batch in hand is finished and settled. */
#define LOG_COMPONENT "worker"
#include "workers/worker.h"

#include "queue/queue.h"
#include "relay/log.h"
#include "relay/mem.h"
#include "relay/metrics.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define WORKER_BACKOFF_MAX_MS 5000u

/* Per thread scratch for one batch; reused across batches. */
struct worker_run {
    struct worker *w;
    struct queue *q;
    void *sink;               /* NULL while the sink cannot open */
    struct relay_error open_err;
    int64_t next_open_ms;
    unsigned failures;        /* consecutive whole-batch failures, for the backoff */
    char consumer[WORKER_CONSUMER_MAX];
    struct queue_batch batch;
    struct relay_event **evs; /* evs[i] decodes batch.items[idx[i]] */
    size_t *idx;
    enum sink_status *status;
    struct queue_item *acks;
    size_t cap;
    size_t take_max;          /* min(batch_size, kind->max_batch) */
    int64_t defer_due_ms;     /* due time of this batch's deferred events; 0: not yet known */
    size_t deferred;          /* deferred events in this batch */
};

int64_t worker_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void worker_sleep(const struct pool_shared *shared, uint64_t ms)
{
    while (ms > 0 && !atomic_load(&shared->stop)) {
        uint64_t step = ms < 50 ? ms : 50;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

void worker_consumer_name(const struct worker *w, char out[WORKER_CONSUMER_MAX])
{
    unsigned gen = atomic_load(&w->generation);
    if (gen == 0) {
        snprintf(out, WORKER_CONSUMER_MAX, "%s:%ld:%u", w->shared->host, w->shared->pid, w->index);
    } else {
        snprintf(out, WORKER_CONSUMER_MAX, "%s:%ld:%u.%u", w->shared->host, w->shared->pid,
                 w->index, gen);
    }
}

/* After a failed settle: abandon this consumer name (see DESIGN). */
static void worker_new_generation(struct worker_run *run)
{
    struct relay_error err = {0};
    atomic_fetch_add(&run->w->generation, 1);
    worker_consumer_name(run->w, run->consumer);
    if (queue_heartbeat(run->q, run->consumer, run->w->shared->heartbeat_ttl_s, "worker", &err) !=
        0) {
        log_warn("consumer %s: heartbeat: %s", run->consumer, err.msg);
    }
}

static void worker_backoff(struct worker_run *run)
{
    const struct pool_shared *sh = run->w->shared;
    run->failures++;
    uint64_t delay = retry_delay_ms(&sh->policy, run->failures);
    if (delay > WORKER_BACKOFF_MAX_MS) {
        delay = WORKER_BACKOFF_MAX_MS;
    }
    worker_sleep(sh, retry_jitter_ms(delay, run->w->rng.next(run->w->rng.ctx)));
}

static int worker_grow(struct worker_run *run, size_t n)
{
    if (n <= run->cap) {
        return 0;
    }
    relay_free(run->evs);
    relay_free(run->idx);
    relay_free(run->status);
    relay_free(run->acks);
    run->evs = relay_calloc(n, sizeof(*run->evs));
    run->idx = relay_calloc(n, sizeof(*run->idx));
    run->status = relay_calloc(n, sizeof(*run->status));
    run->acks = relay_calloc(n, sizeof(*run->acks));
    run->cap = (run->evs && run->idx && run->status && run->acks) ? n : 0;
    return run->cap ? 0 : -1;
}

/* Opens the sink when it is closed and its back-off has passed. */
static void worker_ensure_sink(struct worker_run *run)
{
    if (run->sink != NULL || worker_now_ms() < run->next_open_ms) {
        return;
    }
    relay_error_clear(&run->open_err);
    run->sink = run->w->kind->open(run->w->shared->env, &run->open_err);
    if (run->sink == NULL) {
        if (run->open_err.code == RELAY_OK) {
            relay_error_set(&run->open_err, RELAY_EIO, "sink open failed");
        }
        log_warn("sink=%s: cannot open: %s", run->w->kind->name, run->open_err.msg);
        run->next_open_ms = worker_now_ms() + 1000;
    }
}

static int worker_ack(struct worker_run *run, size_t count)
{
    struct relay_error err = {0};
    int done = 0;
    if (count == 0) {
        return 0;
    }
    /* Everything taken was delivered: one DEL of the in-flight list
     * instead of sending the batch back (queue_ack_all). */
    if (count == run->batch.count &&
        queue_ack_all(run->q, run->w->kind->name, run->consumer, count, &done, &err) != 0) {
        log_error("sink=%s: ack failed (events stay in flight): %s", run->w->kind->name, err.msg);
        return -1;
    }
    if (!done &&
        queue_ack(run->q, run->w->kind->name, run->consumer, run->acks, count, &err) != 0) {
        log_error("sink=%s: ack failed (events stay in flight): %s", run->w->kind->name, err.msg);
        return -1;
    }
    metrics_sink_written(run->w->kind->id, (unsigned)count);
    return 0;
}

/* Settles evs[i] by status st (RETRY or REJECT), with cause. */
static int worker_fail(struct worker_run *run, size_t i, enum sink_status st,
                       const struct relay_error *cause)
{
    return worker_settle_failure(run->w, run->q, run->consumer, &run->batch.items[run->idx[i]],
                                 run->evs[i], st == SINK_REJECT, cause);
}

/* When this batch's deferred events are due: once the sink's limit has
 * room again, and never sooner than WORKER_DEFER_MIN_MS. */
static int64_t worker_defer_due(struct worker_run *run)
{
    if (run->defer_due_ms == 0) {
        const struct sink_kind *kind = run->w->kind;
        unsigned ms = kind->throttle_ms && run->sink ? kind->throttle_ms(run->sink) : 0;
        run->defer_due_ms = worker_now_ms() + (ms > WORKER_DEFER_MIN_MS ? ms : WORKER_DEFER_MIN_MS);
    }
    return run->defer_due_ms;
}

/* Settles evs[i] by its own status: OK joins the acks, DEFER goes back
 * untried, anything else is a failure with cause. */
static int worker_settle_one(struct worker_run *run, size_t i, enum sink_status st,
                             const struct relay_error *cause, size_t *nack)
{
    const struct queue_item *item = &run->batch.items[run->idx[i]];
    if (st == SINK_OK) {
        run->acks[(*nack)++] = *item;
        return 0;
    }
    if (st == SINK_DEFER) {
        run->deferred++;
        return worker_settle_defer(run->w, run->q, run->consumer, item, worker_defer_due(run));
    }
    return worker_fail(run, i, st, cause);
}

/* REJECT of a batch: each event alone, so only the bad one dies. */
static int worker_split(struct worker_run *run, size_t n)
{
    size_t nack = 0;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        struct relay_error err = {0};
        enum sink_status one = SINK_OK;
        enum sink_status st = run->w->kind->write(run->sink, &run->evs[i], 1, &one, &err);
        if (st == SINK_PARTIAL) {
            st = one;
        }
        if (worker_settle_one(run, i, st, &err, &nack) != 0) {
            rc = -1;
        }
    }
    return worker_ack(run, nack) != 0 ? -1 : rc;
}

/* Writes the decoded events evs[0..n) and settles them. */
static int worker_write(struct worker_run *run, size_t n)
{
    struct relay_error err = {0};
    size_t nack = 0;
    int rc = 0;

    if (run->sink == NULL) {
        for (size_t i = 0; i < n; i++) {
            rc |= worker_fail(run, i, SINK_RETRY, &run->open_err);
        }
        worker_backoff(run);
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        run->status[i] = SINK_OK;
    }
    int64_t started = worker_now_ms(); /* metrics: batch latency (ms resolution) */
    enum sink_status st = run->w->kind->write(run->sink, run->evs, n, run->status, &err);
    metrics_batch_seconds(run->w->kind->id, (double)(worker_now_ms() - started) / 1000.0);
    if (st == SINK_REJECT && n > 1) {
        log_warn("sink=%s: batch of %zu rejected, isolating: %s", run->w->kind->name, n, err.msg);
        run->failures = 0;
        return worker_split(run, n);
    }
    for (size_t i = 0; i < n; i++) {
        enum sink_status one = st == SINK_PARTIAL ? run->status[i] : st;
        rc |= worker_settle_one(run, i, one, &err, &nack);
    }
    rc |= worker_ack(run, nack);
    if (run->deferred > 0) {
        log_debug("sink=%s: %zu of %zu event(s) deferred by the rate limit", run->w->kind->name,
                  run->deferred, n);
    }
    if (st == SINK_RETRY) {
        log_warn("sink=%s: batch of %zu failed transiently: %s", run->w->kind->name, n, err.msg);
        worker_backoff(run);
    } else if (st != SINK_DEFER) {
        run->failures = 0; /* a deferral is neither a failure nor a success */
    }
    return rc;
}

/* Decodes the taken batch; elements that are not events are dead-lettered. */
static int worker_process(struct worker_run *run)
{
    size_t n = 0;
    int rc = 0;
    if (worker_grow(run, run->batch.count) != 0) {
        log_error("sink=%s: out of memory for a batch of %zu", run->w->kind->name,
                  run->batch.count);
        return -1;
    }
    for (size_t i = 0; i < run->batch.count; i++) {
        struct relay_error err = {0};
        const struct queue_item *it = &run->batch.items[i];
        if (relay_event_decode(it->raw, it->len, &run->evs[n], &err) != 0) {
            rc |= worker_settle_undecodable(run->w, run->q, run->consumer, it, &err);
            continue;
        }
        run->idx[n++] = i;
    }
    run->defer_due_ms = 0;
    run->deferred = 0;
    if (n > 0) {
        rc |= worker_write(run, n);
    }
    for (size_t i = 0; i < n; i++) {
        relay_event_destroy(run->evs[i]);
        run->evs[i] = NULL;
    }
    return rc;
}

/* Waits while the sink's rate limit has no room, in slices so that a stop
 * is seen; nothing is taken meanwhile, so nothing waits in flight. */
static void worker_throttle(struct worker_run *run)
{
    const struct sink_kind *kind = run->w->kind;
    const struct pool_shared *sh = run->w->shared;
    if (kind->throttle_ms == NULL || run->sink == NULL) {
        return;
    }
    while (!atomic_load(&sh->stop)) {
        unsigned ms = kind->throttle_ms(run->sink);
        if (ms == 0) {
            return;
        }
        worker_sleep(sh, ms < WORKER_THROTTLE_SLICE_MS ? ms : WORKER_THROTTLE_SLICE_MS);
    }
}

static void worker_loop(struct worker_run *run)
{
    struct worker *w = run->w;
    const struct pool_shared *sh = w->shared;
    while (!atomic_load(&sh->stop)) {
        struct relay_error err = {0};
        worker_ensure_sink(run);
        worker_throttle(run);
        if (atomic_load(&sh->stop)) {
            break;
        }
        if (queue_take(run->q, w->kind->name, run->consumer, run->take_max,
                       WORKER_TAKE_TIMEOUT_MS, &run->batch, &err) != 0) {
            /* The take may have run with its answer lost (Redis died after
             * the move): what it moved is stranded in flight, as after a
             * failed settle. */
            log_warn("sink=%s: take: %s", w->kind->name, err.msg);
            worker_new_generation(run);
            worker_backoff(run);
            continue;
        }
        if (run->batch.count == 0) {
            continue;
        }
        atomic_store(&w->busy, true);
        if (worker_process(run) != 0) {
            worker_new_generation(run);
        }
        atomic_store(&w->busy, false);
    }
}

static uint32_t worker_xorshift(void *ctx)
{
    uint64_t *s = ctx;
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return (uint32_t)((x * 0x2545F4914F6CDD1DULL) >> 32);
}

void *worker_main(void *arg)
{
    struct worker *w = arg;
    const struct pool_shared *sh = w->shared;
    struct worker_run run = {.w = w};
    struct relay_error err = {0};
    char label[64];

    snprintf(label, sizeof(label), "%s/%u", w->kind->name, w->index);
    log_set_context("w", label);
    if (w->rng.next == NULL) {
        w->rng_state = ((uint64_t)worker_now_ms() << 16) ^ ((uint64_t)w->index << 48) ^
                       (uint64_t)sh->pid ^ 0x9E3779B97F4A7C15ULL;
        w->rng.next = worker_xorshift;
        w->rng.ctx = &w->rng_state;
    }
    queue_batch_init(&run.batch);
    run.take_max = sh->batch_size;
    if (w->kind->max_batch > 0 && w->kind->max_batch < run.take_max) {
        run.take_max = w->kind->max_batch;
    }
    worker_consumer_name(w, run.consumer);
    /* Take nothing before the scheduler has announced this consumer, or
     * another instance's recovery could take our in-flight list. */
    while (!atomic_load(&sh->heartbeat_ok) && !atomic_load(&sh->stop)) {
        worker_sleep(sh, 20);
    }
    while (run.q == NULL && !atomic_load(&sh->stop)) {
        run.q = queue_open(sh->qconf, &err);
        if (run.q == NULL) {
            log_warn("sink=%s: queue: %s", w->kind->name, err.msg);
            worker_backoff(&run);
        }
    }
    if (run.q != NULL) {
        run.failures = 0;
        worker_loop(&run);
    }
    w->kind->close(run.sink);
    queue_close(run.q);
    queue_batch_fini(&run.batch);
    relay_free(run.evs);
    relay_free(run.idx);
    relay_free(run.status);
    relay_free(run.acks);
    atomic_store(&w->finished, true);
    log_set_context("w", NULL);
    return NULL;
}
