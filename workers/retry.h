/* Backoff and give-up rules for failed deliveries (shared/spec/queue.md,
 * Settle). Pure functions: no clock, no randomness, no state, so they are
 * thread-safe and tested exactly; worker.c applies full jitter on top from
 * an injected random source. */
#ifndef RELAY_WORKERS_RETRY_H
#define RELAY_WORKERS_RETRY_H

#include <stdbool.h>
#include <stdint.h>

struct relay_config;

struct retry_policy {
    unsigned base_ms;      /* delay before the first retry doubles from here */
    unsigned max_ms;       /* cap on one delay */
    unsigned max_attempts; /* an event that failed this many times is dead */
};

/* The policy of the config's `retry:` section, with zero values replaced by
 * the defaults (base 500 ms, cap 60 s, 10 attempts). */
struct retry_policy retry_policy_from_config(const struct relay_config *conf);

/* min(max_ms, base_ms * 2^attempt); never overflows (attempt may be huge).
 * attempt is the event's attempt count after this failure. */
uint64_t retry_delay_ms(const struct retry_policy *policy, unsigned attempt);

/* Full jitter (AWS architecture blog, "Exponential Backoff And Jitter"):
 * a uniformly drawn delay in [0, delay_ms], from rnd in [0, 2^32). Pure. */
uint64_t retry_jitter_ms(uint64_t delay_ms, uint32_t rnd);

/* True when an event that has now failed `attempts` times must go to the
 * dead-letter list instead of the retry set. */
bool retry_should_give_up(const struct retry_policy *policy, unsigned attempts);

/* The longest time, in ms, that an event may keep failing transiently
 * before it is dead-lettered (the sum of the capped delays): the outage a
 * policy rides out without losing anything to the dead letters. */
uint64_t retry_horizon_ms(const struct retry_policy *policy);

#endif
