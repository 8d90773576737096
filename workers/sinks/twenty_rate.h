/* Pacing under Twenty's API rate limit (default 100 requests per minute per
 * workspace, twenty.rate_limit_per_min). One token bucket per process is
 * shared by all the Twenty worker threads (twenty_rate_shared); tests make
 * their own with twenty_rate_create and drive it with an injected clock.
 *
 * The bucket holds at most `burst` tokens and refills at
 * (per_min - burst) tokens per minute, so that ANY 60 s window holds at most
 * per_min requests (burst + refill * 60 s), whatever window the server uses.
 * Nobody sleeps here: twenty_rate_take says "no" and how long to wait. */
#ifndef RELAY_WORKERS_SINKS_TWENTY_RATE_H
#define RELAY_WORKERS_SINKS_TWENTY_RATE_H

#include <stdbool.h>
#include <stdint.h>

#define TWENTY_RATE_DEFAULT_PER_MIN 100u

struct twenty_rate;

/* A bucket for per_min requests per minute (0: the default), full at
 * now_ms. NULL on ENOMEM. The caller owns it. Thread-safe once created. */
struct twenty_rate *twenty_rate_create(unsigned per_min, int64_t now_ms);
void twenty_rate_destroy(struct twenty_rate *r); /* NULL is a no-op */

/* The process-wide bucket, created on first use with per_min (later calls
 * get the same bucket whatever they pass). Lives until exit. NULL on ENOMEM.
 * Thread-safe. */
struct twenty_rate *twenty_rate_shared(unsigned per_min);

#ifdef RELAY_TESTING
/* Test hook: replaces the process-wide bucket by a fresh full one for
 * per_min. Only while no other thread uses it. */
void twenty_rate_shared_reset(unsigned per_min);
#endif

/* Takes one token at now_ms. true: send the request. false: do not send;
 * *wait_ms (may be NULL) gets the milliseconds until a token is due (>= 1).
 * Thread-safe. */
bool twenty_rate_take(struct twenty_rate *r, int64_t now_ms, int64_t *wait_ms);

/* Milliseconds until a token is available at now_ms (0: one is available
 * now). Takes nothing. Thread-safe. */
int64_t twenty_rate_wait_ms(struct twenty_rate *r, int64_t now_ms);

/* Milliseconds until n tokens are available at now_ms (n is capped at the
 * bucket's size, so the answer is always finite). Takes nothing. A caller
 * that needs several requests for one unit of work checks this first, so
 * single tokens are not eaten one by one by work that cannot finish
 * (a livelock under a tight limit). Thread-safe. */
int64_t twenty_rate_wait_n_ms(struct twenty_rate *r, int64_t now_ms, unsigned n);

/* The server answered 429 (or the older 400 rate-limit message): empty the
 * bucket and send nothing for at least pause_ms (0: one refill interval).
 * Thread-safe. */
void twenty_rate_penalize(struct twenty_rate *r, int64_t now_ms, int64_t pause_ms);

/* Monotonic clock in milliseconds, for callers outside tests. */
int64_t twenty_rate_now_ms(void);

#endif
