/* Backoff and give-up rules; see retry.h. Pure and allocation-free. */
#include "workers/retry.h"

#include "relay/config.h"

#define RETRY_DEFAULT_BASE_MS 500u
#define RETRY_DEFAULT_CAP_MS 60000u
#define RETRY_DEFAULT_MAX_ATTEMPTS 10u

struct retry_policy retry_policy_from_config(const struct relay_config *conf)
{
    struct retry_policy p = {
        .base_ms = conf->retry.base_ms ? conf->retry.base_ms : RETRY_DEFAULT_BASE_MS,
        .max_ms = conf->retry.cap_ms ? conf->retry.cap_ms : RETRY_DEFAULT_CAP_MS,
        .max_attempts =
            conf->retry.max_attempts ? conf->retry.max_attempts : RETRY_DEFAULT_MAX_ATTEMPTS,
    };
    if (p.max_ms < p.base_ms) {
        p.max_ms = p.base_ms;
    }
    return p;
}

uint64_t retry_delay_ms(const struct retry_policy *policy, unsigned attempt)
{
    uint64_t delay = policy->base_ms;
    /* Doubling stops at the cap, so the shift can never overflow. */
    for (unsigned i = 0; i < attempt && delay < policy->max_ms; i++) {
        delay *= 2;
    }
    return delay < policy->max_ms ? delay : policy->max_ms;
}

uint64_t retry_jitter_ms(uint64_t delay_ms, uint32_t rnd)
{
    /* (delay + 1) * rnd / 2^32 is uniform over [0, delay]; delay fits in 32
     * bits after the cap of an unsigned, so the product fits in 64. */
    if (delay_ms > UINT32_MAX) {
        delay_ms = UINT32_MAX;
    }
    return ((delay_ms + 1) * (uint64_t)rnd) >> 32;
}

bool retry_should_give_up(const struct retry_policy *policy, unsigned attempts)
{
    return attempts >= policy->max_attempts;
}

uint64_t retry_horizon_ms(const struct retry_policy *policy)
{
    uint64_t total = 0;
    for (unsigned a = 1; a < policy->max_attempts; a++) {
        total += retry_delay_ms(policy, a);
    }
    return total;
}
