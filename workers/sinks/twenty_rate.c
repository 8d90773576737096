/* Token bucket for Twenty's REST rate limit; see twenty_rate.h.
 *
 * Exact integer arithmetic: a token is TOKEN_UNITS units and the bucket
 * gains `refill_per_min` units per millisecond (refill_per_min tokens per
 * 60,000 ms), so no fraction is ever lost to rounding. */
#include "workers/sinks/twenty_rate.h"
#include "relay/mem.h"

#include <pthread.h>
#include <time.h>

#define TOKEN_UNITS 60000 /* units per token = milliseconds per minute */

struct twenty_rate {
    /* Guards every field below: the worker threads of one process share
     * the bucket. Held for a few arithmetic operations only, never across
     * I/O. */
    pthread_mutex_t lock;
    int64_t burst;            /* capacity, tokens */
    int64_t refill_per_min;   /* tokens added per minute = units per ms */
    int64_t units;            /* tokens * TOKEN_UNITS currently in the bucket */
    int64_t last_ms;          /* time of the last refill */
    int64_t blocked_until_ms; /* after a 429: nothing before this time */
};

/* Sets the limit and fills the bucket. Caller holds r->lock or owns r alone. */
static void configure(struct twenty_rate *r, unsigned per_min, int64_t now_ms)
{
    int64_t limit = per_min == 0 ? TWENTY_RATE_DEFAULT_PER_MIN : per_min;
    r->burst = limit / 10 > 0 ? limit / 10 : 1;
    /* burst + refill per minute stays strictly under the limit, so even a
     * window that catches one extra refill at its edge holds <= limit. */
    r->refill_per_min = limit - r->burst - 1;
    if (r->refill_per_min < 1) {
        r->refill_per_min = 1;
    }
    r->units = r->burst * TOKEN_UNITS;
    r->last_ms = now_ms;
    r->blocked_until_ms = now_ms;
}

struct twenty_rate *twenty_rate_create(unsigned per_min, int64_t now_ms)
{
    struct twenty_rate *r = relay_calloc(1, sizeof(*r));
    if (r == NULL) {
        return NULL;
    }
    pthread_mutex_init(&r->lock, NULL);
    configure(r, per_min, now_ms);
    return r;
}

void twenty_rate_destroy(struct twenty_rate *r)
{
    if (r == NULL) {
        return;
    }
    pthread_mutex_destroy(&r->lock);
    relay_free(r);
}

/* The process-wide bucket. Guarded by shared_lock: created once by the
 * first Twenty worker that opens, then only read. */
static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static struct twenty_rate *shared_bucket;

struct twenty_rate *twenty_rate_shared(unsigned per_min)
{
    pthread_mutex_lock(&shared_lock);
    if (shared_bucket == NULL) {
        shared_bucket = twenty_rate_create(per_min, twenty_rate_now_ms());
    }
    struct twenty_rate *r = shared_bucket;
    pthread_mutex_unlock(&shared_lock);
    return r;
}

#ifdef RELAY_TESTING
void twenty_rate_shared_reset(unsigned per_min)
{
    /* In place: clients keep pointers to the shared bucket. */
    struct twenty_rate *r = twenty_rate_shared(per_min);
    if (r != NULL) {
        pthread_mutex_lock(&r->lock);
        configure(r, per_min, twenty_rate_now_ms());
        pthread_mutex_unlock(&r->lock);
    }
}
#endif

/* Adds what accrued since last_ms. Caller holds r->lock. */
static void refill_locked(struct twenty_rate *r, int64_t now_ms)
{
    if (now_ms <= r->last_ms) {
        return; /* a clock that goes back adds nothing */
    }
    int64_t cap = r->burst * TOKEN_UNITS;
    int64_t elapsed = now_ms - r->last_ms;
    if (elapsed > TOKEN_UNITS) {
        elapsed = TOKEN_UNITS; /* a minute refills more than the cap anyway */
    }
    r->units += elapsed * r->refill_per_min;
    if (r->units > cap) {
        r->units = cap;
    }
    r->last_ms = now_ms;
}

/* Milliseconds until n whole tokens are there. Caller holds r->lock. */
static int64_t wait_n_locked(const struct twenty_rate *r, int64_t now_ms, int64_t n)
{
    int64_t wait = 0;
    if (n > r->burst) {
        n = r->burst;
    }
    if (r->units < n * TOKEN_UNITS) {
        int64_t need = n * TOKEN_UNITS - r->units;
        wait = (need + r->refill_per_min - 1) / r->refill_per_min;
    }
    if (r->blocked_until_ms > now_ms && r->blocked_until_ms - now_ms > wait) {
        wait = r->blocked_until_ms - now_ms;
    }
    return wait;
}

static int64_t wait_locked(const struct twenty_rate *r, int64_t now_ms)
{
    return wait_n_locked(r, now_ms, 1);
}

int64_t twenty_rate_wait_n_ms(struct twenty_rate *r, int64_t now_ms, unsigned n)
{
    pthread_mutex_lock(&r->lock);
    refill_locked(r, now_ms);
    int64_t wait = wait_n_locked(r, now_ms, n);
    pthread_mutex_unlock(&r->lock);
    return wait;
}

bool twenty_rate_take(struct twenty_rate *r, int64_t now_ms, int64_t *wait_ms)
{
    pthread_mutex_lock(&r->lock);
    refill_locked(r, now_ms);
    int64_t wait = wait_locked(r, now_ms);
    bool is_taken = wait == 0;
    if (is_taken) {
        r->units -= TOKEN_UNITS;
    }
    pthread_mutex_unlock(&r->lock);
    if (wait_ms != NULL) {
        *wait_ms = wait;
    }
    return is_taken;
}

int64_t twenty_rate_wait_ms(struct twenty_rate *r, int64_t now_ms)
{
    pthread_mutex_lock(&r->lock);
    refill_locked(r, now_ms);
    int64_t wait = wait_locked(r, now_ms);
    pthread_mutex_unlock(&r->lock);
    return wait;
}

void twenty_rate_penalize(struct twenty_rate *r, int64_t now_ms, int64_t pause_ms)
{
    pthread_mutex_lock(&r->lock);
    refill_locked(r, now_ms);
    if (pause_ms <= 0) {
        pause_ms = (TOKEN_UNITS + r->refill_per_min - 1) / r->refill_per_min;
    }
    r->units = 0;
    if (now_ms + pause_ms > r->blocked_until_ms) {
        r->blocked_until_ms = now_ms + pause_ms;
    }
    pthread_mutex_unlock(&r->lock);
}

int64_t twenty_rate_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
