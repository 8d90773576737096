/* Backfill reader of Twenty (backfill_reader_internal.h): GET /rest/people
 * with starting_after paging (at most TWENTY_LIST_MAX per page); the cursor
 * is Twenty's endCursor. Requests share the process's rate bucket
 * (twenty.rate_limit_per_min) with nothing else here; when the bucket is
 * empty the reader waits for the next token. Twenty cannot filter on a
 * canonical timestamp cheaply, so --since is applied after mapping, and
 * the number of contacts left is unknown (no ETA). Soft-deleted people
 * are not listed by Twenty; a lookup by contact_id asks for them too. */
#include "relay/backfill_reader_internal.h"
#include "relay/config.h"
#include "relay/mem.h"
#include "workers/sinks/twenty_client.h"
#include "workers/sinks/twenty_rate.h"

#include <time.h>

#define TWENTY_READ_TIMEOUT_MS 30000
#define TWENTY_THROTTLE_WAITS_MAX 1000

struct twenty_reader {
    struct twenty_client *client;
};

static void *twenty_open(const struct relay_config *conf, struct relay_error *err)
{
    struct twenty_reader *r = relay_calloc(1, sizeof(*r));
    if (r == NULL) {
        relay_error_set(err, RELAY_ENOMEM, "out of memory");
        return NULL;
    }
    struct twenty_rate *rate = twenty_rate_shared(conf->twenty.rate_limit_per_min);
    r->client = twenty_client_create(conf->twenty.url, conf->twenty.api_key, TWENTY_READ_TIMEOUT_MS,
                                     rate, err);
    if (r->client == NULL) {
        relay_free(r);
        return NULL;
    }
    return r;
}

static void twenty_close(void *state)
{
    struct twenty_reader *r = state;
    if (r != NULL) {
        twenty_client_destroy(r->client);
        relay_free(r);
    }
}

/* After a failed call: sleeps and returns true when the failure was the
 * local rate bucket (nothing was sent), so the call can be repeated. */
static bool waited_for_token(struct twenty_reader *r, int *waits)
{
    int64_t ms = twenty_client_throttled_ms(r->client);
    if (ms <= 0 || ++*waits > TWENTY_THROTTLE_WAITS_MAX) {
        return false;
    }
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    return true;
}

static int twenty_next(void *state, const char *cursor, unsigned limit, const char *since,
                       json_t **rows, char **next_cursor, bool *is_last, struct relay_error *err)
{
    struct twenty_reader *r = state;
    bool has_next = false;
    int waits = 0;
    (void)since; /* filtered by backfill_reader.c after mapping */
    if (limit > TWENTY_LIST_MAX) {
        limit = TWENTY_LIST_MAX;
    }
    for (;;) {
        *rows = NULL;
        *next_cursor = NULL;
        if (twenty_list(r->client, cursor, limit, rows, next_cursor, &has_next, err) == 0) {
            break;
        }
        if (!waited_for_token(r, &waits)) {
            return -1;
        }
    }
    *is_last = !has_next || json_array_size(*rows) == 0;
    return 0;
}

static int find(struct twenty_reader *r, const char *contact_id, bool is_deleted, json_t **row,
                struct relay_error *err)
{
    int waits = 0;
    for (;;) {
        if (twenty_find(r->client, "contactId", contact_id, is_deleted, row, err) == 0) {
            return 0;
        }
        if (!waited_for_token(r, &waits)) {
            return -1;
        }
    }
}

static int twenty_get(void *state, const char *contact_id, json_t **row, struct relay_error *err)
{
    struct twenty_reader *r = state;
    *row = NULL;
    if (find(r, contact_id, false, row, err) != 0) {
        return -1;
    }
    return *row != NULL ? 0 : find(r, contact_id, true, row, err);
}

static long long twenty_remaining(void *state, const char *cursor, const char *since)
{
    (void)state;
    (void)cursor;
    (void)since;
    return -1;
}

const struct backfill_reader_ops backfill_twenty_ops = {
    .name = "twenty",
    .filters_since = false,
    .open = twenty_open,
    .next = twenty_next,
    .get = twenty_get,
    .remaining = twenty_remaining,
    .close = twenty_close,
};
