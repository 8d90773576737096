/* The shared, single-flight token cache of bigquery_auth.h.
 *
 * DESIGN: every worker thread asks bigquery_auth_token() before a request.
 * The cache is one mutex-guarded struct. A thread that finds the token due
 * for refresh sets is_refreshing, unlocks, does the HTTP exchange with its
 * own CURL handle (bigquery_auth_fetch), then relocks to store the result
 * and wakes the waiters. Others use the old token while it is still valid,
 * or wait on the condition variable; a failed refresh is reported to the
 * threads that waited for it (generation counter), so one failure is one
 * exchange. */
#include "relay/mem.h"
#include "workers/sinks/bigquery_auth_internal.h"

#include <string.h>
#include <time.h>

static double monotonic_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Margin before expiry at which a token is refreshed: a few minutes, or a
 * quarter of the lifetime for short-lived tokens (tests use seconds). */
static double refresh_margin_s(long long expires_in_s)
{
    double quarter = (double)expires_in_s / 4.0;
    return quarter < BIGQUERY_AUTH_REFRESH_MARGIN_S ? quarter : BIGQUERY_AUTH_REFRESH_MARGIN_S;
}

/* Called with a->mu held: is the cached token usable up to `deadline`? */
static bool token_usable(const struct bigquery_auth *a, double now, bool before_refresh)
{
    if (a->token == NULL) {
        return false;
    }
    return now < (before_refresh ? a->refresh_at_s : a->expires_at_s);
}

/* Runs the exchange without the lock, then stores the outcome under it.
 * Called with a->mu held and is_refreshing set; returns with mu held. */
static char *refresh_locked(struct bigquery_auth *a, struct http_client *http,
                            struct relay_error *err)
{
    char *fresh = NULL;
    long long expires_in_s = 0;
    struct relay_error fetch_err = {0};
    pthread_mutex_unlock(&a->mu);
    int rc = bigquery_auth_fetch(a, http, &fresh, &expires_in_s, &fetch_err);
    double now = monotonic_s();
    pthread_mutex_lock(&a->mu);
    a->is_refreshing = false;
    a->generation++;
    char *result = NULL;
    if (rc == 0) {
        relay_free(a->token);
        a->token = fresh;
        a->expires_at_s = now + (double)expires_in_s;
        a->refresh_at_s = a->expires_at_s - refresh_margin_s(expires_in_s);
        result = relay_strdup(fresh);
    } else {
        a->last_error = fetch_err;
        if (token_usable(a, now, false)) {
            result = relay_strdup(a->token); /* still valid: try again next call */
        }
    }
    pthread_cond_broadcast(&a->refreshed);
    if (result == NULL) {
        *err = rc == 0 ? (struct relay_error){RELAY_ENOMEM, "bigquery auth: out of memory"}
                       : fetch_err;
    }
    return result;
}

char *bigquery_auth_token(struct bigquery_auth *a, struct http_client *http,
                          struct relay_error *err)
{
    struct relay_error scratch;
    err = err != NULL ? err : &scratch;
    if (a->source == BIGQUERY_AUTH_STATIC) {
        char *t = relay_strdup(a->static_token);
        if (t == NULL) {
            relay_error_set(err, RELAY_ENOMEM, "bigquery auth: out of memory");
        }
        return t;
    }
    char *result = NULL;
    pthread_mutex_lock(&a->mu);
    for (;;) {
        double now = monotonic_s();
        if (token_usable(a, now, true) || (a->is_refreshing && token_usable(a, now, false))) {
            result = relay_strdup(a->token);
            if (result == NULL) {
                relay_error_set(err, RELAY_ENOMEM, "bigquery auth: out of memory");
            }
            break;
        }
        if (!a->is_refreshing) {
            a->is_refreshing = true;
            result = refresh_locked(a, http, err);
            break;
        }
        unsigned long seen = a->generation;
        while (a->is_refreshing) {
            pthread_cond_wait(&a->refreshed, &a->mu);
        }
        if (a->generation != seen && !token_usable(a, monotonic_s(), false)) {
            *err = a->last_error; /* the refresh we waited for failed */
            break;
        }
    }
    pthread_mutex_unlock(&a->mu);
    return result;
}

void bigquery_auth_invalidate(struct bigquery_auth *a, const char *token)
{
    if (a->source == BIGQUERY_AUTH_STATIC || token == NULL) {
        return;
    }
    pthread_mutex_lock(&a->mu);
    if (a->token != NULL && strcmp(a->token, token) == 0) {
        relay_free(a->token);
        a->token = NULL;
    }
    pthread_mutex_unlock(&a->mu);
}

unsigned long bigquery_auth_refresh_count(struct bigquery_auth *a)
{
    pthread_mutex_lock(&a->mu);
    unsigned long n = a->generation;
    pthread_mutex_unlock(&a->mu);
    return n;
}
