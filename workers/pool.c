/* The worker pool (pool.h): worker_count threads per enabled sink kind,
 * each with its own queue handle and sink instance, plus the scheduler.
 * Start-up order: the scheduler first announces every consumer (workers
 * wait for that), then recovers dead consumers' in-flight lists.
 * Stop order: stop flag -> workers finish their batch (up to grace_ms;
 * a worker still busy after that is abandoned: its heartbeat is cleared
 * and its in-flight list recovered onto the queue) -> join -> scheduler
 * quits and clears the heartbeats. */
#define LOG_COMPONENT "pool"
#include "workers/pool.h"

#include "queue/queue.h"
#include "relay/log.h"
#include "relay/mem.h"
#include "workers/scheduler.h"
#include "workers/worker.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define POOL_DEFAULT_BATCH 200u
#define POOL_MAX_BATCH 10000u
#define POOL_DEFAULT_TTL_S 15u

struct pool {
    struct pool_shared shared;
    struct worker *workers;
    size_t nworkers;
    struct scheduler sched;
};

static void pool_shared_init(struct pool_shared *sh, const struct sink_env *env,
                             const struct queue_conf *qconf)
{
    const struct relay_config *conf = env->conf;
    sh->env = env;
    sh->qconf = qconf;
    sh->policy = retry_policy_from_config(conf);
    sh->batch_size = conf->workers.batch_size ? conf->workers.batch_size : POOL_DEFAULT_BATCH;
    if (sh->batch_size > POOL_MAX_BATCH) {
        sh->batch_size = POOL_MAX_BATCH;
    }
    sh->dead_cap = conf->retry.dead_cap;
    sh->heartbeat_ttl_s = conf->workers.heartbeat_ttl_s ? conf->workers.heartbeat_ttl_s
                                                         : POOL_DEFAULT_TTL_S;
    if (gethostname(sh->host, sizeof(sh->host)) != 0) {
        snprintf(sh->host, sizeof(sh->host), "localhost");
    }
    sh->host[sizeof(sh->host) - 1] = '\0';
    /* ':' separates the parts of a consumer name. */
    for (char *c = sh->host; *c; c++) {
        if (*c == ':') {
            *c = '_';
        }
    }
    sh->pid = (long)getpid();
    atomic_init(&sh->stop, false);
    atomic_init(&sh->heartbeat_ok, false);
}

/* Counts the worker threads and fills the scheduler's sink list. */
static size_t pool_plan(struct pool *p)
{
    const struct relay_config *conf = p->shared.env->conf;
    size_t total = 0;
    for (size_t k = 0; sink_kinds[k] != NULL; k++) {
        const struct sink_kind *kind = sink_kinds[k];
        if (!kind->is_enabled(conf) || p->sched.nsinks >= RELAY_SINK_COUNT) {
            continue;
        }
        unsigned n = kind->worker_count(conf);
        p->sched.sinks[p->sched.nsinks++] = kind->name;
        total += n ? n : 1;
    }
    return total;
}

static void pool_fill_workers(struct pool *p)
{
    const struct relay_config *conf = p->shared.env->conf;
    size_t w = 0;
    for (size_t k = 0; sink_kinds[k] != NULL; k++) {
        const struct sink_kind *kind = sink_kinds[k];
        if (!kind->is_enabled(conf)) {
            continue;
        }
        unsigned n = kind->worker_count(conf);
        for (unsigned i = 0; i < (n ? n : 1u) && w < p->nworkers; i++, w++) {
            struct worker *wk = &p->workers[w];
            wk->shared = &p->shared;
            wk->kind = kind;
            wk->index = (unsigned)w;
            atomic_init(&wk->generation, 0);
            atomic_init(&wk->busy, false);
            atomic_init(&wk->finished, false);
            atomic_init(&wk->abandoned, false);
        }
    }
}

struct pool *pool_start(const struct sink_env *env, const struct queue_conf *qconf,
                        struct relay_error *err)
{
    struct pool *p = relay_calloc(1, sizeof(*p));
    if (p == NULL) {
        relay_error_set(err, RELAY_ENOMEM, "pool: out of memory");
        return NULL;
    }
    pool_shared_init(&p->shared, env, qconf);
    p->nworkers = pool_plan(p);
    if (p->nworkers > 0) {
        p->workers = relay_calloc(p->nworkers, sizeof(*p->workers));
        if (p->workers == NULL) {
            relay_free(p);
            relay_error_set(err, RELAY_ENOMEM, "pool: out of memory");
            return NULL;
        }
        pool_fill_workers(p);
    }
    p->sched.shared = &p->shared;
    p->sched.workers = p->workers;
    p->sched.nworkers = p->nworkers;
    relay_now_ts(p->sched.started_at);
    atomic_init(&p->sched.quit, false);
    if (pthread_create(&p->sched.thread, NULL, scheduler_main, &p->sched) != 0) {
        relay_free(p->workers);
        relay_free(p);
        relay_error_set(err, RELAY_EIO, "pool: cannot start the scheduler thread");
        return NULL;
    }
    p->sched.started = true;
    for (size_t i = 0; i < p->nworkers; i++) {
        if (pthread_create(&p->workers[i].thread, NULL, worker_main, &p->workers[i]) != 0) {
            relay_error_set(err, RELAY_EIO, "pool: cannot start worker thread %zu", i);
            pool_stop(p, 0);
            return NULL;
        }
        p->workers[i].started = true;
    }
    log_info("pool started: %zu worker(s) over %zu sink(s), batch %u", p->nworkers,
             p->sched.nsinks, p->shared.batch_size);
    return p;
}

static bool pool_all_finished(const struct pool *p)
{
    for (size_t i = 0; i < p->nworkers; i++) {
        if (p->workers[i].started && !atomic_load(&p->workers[i].finished)) {
            return false;
        }
    }
    return true;
}

/* Grace is over: the busy workers' in-flight batches go back to the queue
 * (their late acks then find nothing: at-least-once). */
static void pool_abandon_busy(struct pool *p)
{
    struct relay_error err = {0};
    struct queue *q = queue_open(p->shared.qconf, &err);
    size_t moved = 0;
    if (q == NULL) {
        log_error("stop: cannot return busy batches to the queue: %s", err.msg);
        return;
    }
    for (size_t i = 0; i < p->nworkers; i++) {
        struct worker *w = &p->workers[i];
        if (!w->started || atomic_load(&w->finished)) {
            continue;
        }
        char name[WORKER_CONSUMER_MAX];
        atomic_store(&w->abandoned, true);
        worker_consumer_name(w, name);
        log_warn("stop: worker %s still busy after the grace period; returning its batch", name);
        if (queue_heartbeat_clear(q, name, &err) != 0) {
            log_error("stop: %s", err.msg);
        }
    }
    if (queue_recover(q, &moved, &err) != 0) {
        log_error("stop: recover: %s", err.msg);
    } else {
        log_info("stop: returned %zu in-flight event(s) to the queue", moved);
    }
    queue_close(q);
}

void pool_stop(struct pool *p, unsigned grace_ms)
{
    if (p == NULL) {
        return;
    }
    atomic_store(&p->shared.stop, true);
    int64_t deadline = worker_now_ms() + grace_ms;
    while (!pool_all_finished(p) && worker_now_ms() < deadline) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (!pool_all_finished(p)) {
        pool_abandon_busy(p);
    }
    for (size_t i = 0; i < p->nworkers; i++) {
        if (p->workers[i].started) {
            pthread_join(p->workers[i].thread, NULL);
        }
    }
    if (p->sched.started) {
        atomic_store(&p->sched.quit, true);
        pthread_join(p->sched.thread, NULL);
    }
    log_info("pool stopped");
    relay_free(p->workers);
    relay_free(p);
}
