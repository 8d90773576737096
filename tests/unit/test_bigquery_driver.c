/* bigquery_driver: runs the real BigQuery sink (and reader) against the
 * fake server for tests/integration/test_bigquery*.sh, standing in for the
 * worker pool: N threads each open their own sink instance, take batches,
 * and settle every event the way worker.c does (ok, retry later with a
 * short pause up to BQ_MAX_ATTEMPTS, dead-letter; a rejected batch of
 * several is split and retried one by one).
 *
 *   bigquery_driver write FILE   JSON lines: a queue envelope, or
 *                                {"webhook": "twenty"|"supabase", "body": {...}}
 *   bigquery_driver query [ID]   prints the `contacts` view as JSON lines
 *
 * Config from the environment: BQ_PROJECT BQ_DATASET BQ_TABLE BQ_ENDPOINT
 * BQ_TOKEN BQ_CREDENTIALS BQ_TOKEN_URL BQ_METADATA_URL BQ_TIMEOUT_MS
 * BQ_WORKERS BQ_BATCH BQ_MAX_ATTEMPTS BQ_RETRY_MS BQ_PAGE_SIZE, and
 * BQ_NO_MAPPING=1 to send canonical fields as columns without the mapper.
 * write prints "<event id> ok|dead|gaveup <attempts>" per event, then a
 * summary; exit 0 when every event is ok or dead, 1 otherwise. */
#include "mappers/mapper.h"
#include "relay/log.h"
#include "relay/mem.h"
#include "workers/sink.h"
#include "workers/sinks/bigquery_query.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern const struct sink_kind sink_bigquery_kind;

struct item {
    struct relay_event *ev;
    int attempts;
    bool is_solo; /* isolate: write alone (after a rejected batch) */
    int state;    /* 0 pending, 1 in flight, 2 ok, 3 dead, 4 gave up */
    double not_before;
};

/* mu guards every item's attempts/is_solo/state/not_before. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct item *items;
static size_t item_count;
static struct sink_env env;
static unsigned batch_max = 50;
static int max_attempts = 8;
static double retry_s = 0.2;

static const char *env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v != NULL ? v : fallback;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fill_config(struct relay_config *conf)
{
    struct config_bigquery *bq = &conf->bigquery;
    bq->project = (char *)env_or("BQ_PROJECT", "test-project");
    bq->dataset = (char *)env_or("BQ_DATASET", "crm");
    bq->table = (char *)env_or("BQ_TABLE", "contacts_changes");
    bq->endpoint = (char *)env_or("BQ_ENDPOINT", "");
    bq->token = (char *)env_or("BQ_TOKEN", "");
    bq->credentials = (char *)env_or("BQ_CREDENTIALS", "");
    bq->token_url = (char *)env_or("BQ_TOKEN_URL", "");
    bq->metadata_url = (char *)env_or("BQ_METADATA_URL", "");
    bq->timeout_ms = (unsigned)strtoul(env_or("BQ_TIMEOUT_MS", "5000"), NULL, 10);
    bq->workers = (unsigned)strtoul(env_or("BQ_WORKERS", "2"), NULL, 10);
}

static struct relay_event *parse_line(const struct mapping *m, const char *line)
{
    struct relay_error err = {0};
    struct relay_event *ev = NULL;
    json_t *obj = json_loads(line, 0, NULL);
    const char *source = json_string_value(json_object_get(obj, "webhook"));
    if (source != NULL) {
        char *body = json_dumps(json_object_get(obj, "body"), JSON_COMPACT);
        int rc = mapper_decode_webhook(m, (enum relay_source)relay_source_parse(source), body,
                                       strlen(body), &ev, &err);
        relay_free(body);
        if (rc != MAPPER_EVENT) {
            fprintf(stderr, "webhook not mapped: %s\n", err.msg);
            ev = NULL;
        }
    } else if (relay_event_decode(line, strlen(line), &ev, &err) != 0) {
        fprintf(stderr, "bad envelope: %s\n", err.msg);
        ev = NULL;
    }
    json_decref(obj);
    return ev;
}

static int load_events(const struct mapping *m, const char *path)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    if (f == NULL) {
        perror(path);
        return -1;
    }
    while (getline(&line, &cap, f) > 0) {
        if (line[0] == '\n') {
            continue;
        }
        struct relay_event *ev = parse_line(m, line);
        if (ev == NULL) {
            free(line);
            fclose(f);
            return -1;
        }
        items = relay_realloc(items, (item_count + 1) * sizeof(*items));
        items[item_count++] = (struct item){.ev = ev};
    }
    free(line);
    fclose(f);
    return 0;
}

/* Takes up to batch_max due items (one if the first due one is solo). */
static size_t take_batch(size_t *out, bool *all_done)
{
    size_t n = 0;
    double now = now_s();
    *all_done = true;
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < item_count && n < batch_max; i++) {
        struct item *it = &items[i];
        if (it->state <= 1) {
            *all_done = false;
        }
        if (it->state != 0 || it->not_before > now || (n > 0 && it->is_solo)) {
            continue;
        }
        it->state = 1;
        out[n++] = i;
        if (it->is_solo) {
            break;
        }
    }
    pthread_mutex_unlock(&mu);
    return n;
}

static void settle(size_t at, enum sink_status st, size_t batch_n, const char *why)
{
    struct item *it = &items[at];
    pthread_mutex_lock(&mu);
    if (st == SINK_OK) {
        it->state = 2;
    } else if (st == SINK_REJECT && batch_n > 1) {
        it->is_solo = true; /* isolate the bad one; not an attempt */
        it->state = 0;
    } else if (st == SINK_REJECT) {
        it->state = 3;
        fprintf(stderr, "dead %s: %s\n", it->ev->id, why);
    } else if (++it->attempts >= max_attempts) {
        it->state = 4;
        fprintf(stderr, "gave up %s: %s\n", it->ev->id, why);
    } else {
        it->state = 0;
        it->not_before = now_s() + retry_s;
    }
    pthread_mutex_unlock(&mu);
}

static void *worker_main(void *arg)
{
    (void)arg;
    struct relay_error err = {0};
    void *sink = sink_bigquery_kind.open(&env, &err);
    if (sink == NULL) {
        fprintf(stderr, "open: %s\n", err.msg);
        return (void *)1;
    }
    size_t *which = relay_calloc(batch_max, sizeof(*which));
    struct relay_event **evs = relay_calloc(batch_max, sizeof(*evs));
    enum sink_status *status = relay_calloc(batch_max, sizeof(*status));
    for (;;) {
        bool done = false;
        size_t n = take_batch(which, &done);
        if (done) {
            break;
        }
        if (n == 0) {
            nanosleep(&(struct timespec){0, 20000000L}, NULL);
            continue;
        }
        for (size_t k = 0; k < n; k++) {
            evs[k] = items[which[k]].ev;
        }
        relay_error_clear(&err);
        enum sink_status st = sink_bigquery_kind.write(sink, evs, n, status, &err);
        for (size_t k = 0; k < n; k++) {
            settle(which[k], st == SINK_PARTIAL ? status[k] : st, st == SINK_PARTIAL ? 1 : n,
                   err.msg);
        }
    }
    relay_free(which);
    relay_free(evs);
    relay_free(status);
    sink_bigquery_kind.close(sink);
    return NULL;
}

static int run_write(const char *path)
{
    if (load_events(env.mapping, path) != 0) {
        return 2;
    }
    unsigned threads = sink_bigquery_kind.worker_count(env.conf);
    pthread_t tids[16];
    threads = threads > 16 ? 16 : threads;
    for (unsigned t = 0; t < threads; t++) {
        pthread_create(&tids[t], NULL, worker_main, NULL);
    }
    int open_failed = 0;
    for (unsigned t = 0; t < threads; t++) {
        void *rc = NULL;
        pthread_join(tids[t], &rc);
        open_failed |= rc != NULL;
    }
    size_t counts[5] = {0};
    long attempts = 0;
    static const char *const names[] = {"pending", "inflight", "ok", "dead", "gaveup"};
    for (size_t i = 0; i < item_count; i++) {
        counts[items[i].state]++;
        attempts += items[i].attempts;
        printf("%s %s %d\n", items[i].ev->id, names[items[i].state], items[i].attempts);
        relay_event_destroy(items[i].ev);
    }
    printf("summary ok=%zu dead=%zu gaveup=%zu retries=%ld\n", counts[2], counts[3], counts[4],
           attempts);
    relay_free(items);
    return open_failed || counts[2] + counts[3] != item_count ? 1 : 0;
}

static int print_contact(const json_t *contact, void *ctx, struct relay_error *err)
{
    (void)ctx;
    (void)err;
    char *text = json_dumps(contact, JSON_COMPACT);
    printf("%s\n", text);
    relay_free(text);
    return 0;
}

static int run_query(const char *contact_id)
{
    struct relay_error err = {0};
    struct bigquery_query *q = bigquery_query_open(&env.conf->bigquery, &err);
    if (q == NULL) {
        fprintf(stderr, "query open: %s\n", err.msg);
        return 1;
    }
    bigquery_query_set_page_size(q, (unsigned)strtoul(env_or("BQ_PAGE_SIZE", "0"), NULL, 10));
    long n = bigquery_query_contacts(q, contact_id, print_contact, NULL, &err);
    bigquery_query_close(q);
    if (n < 0) {
        fprintf(stderr, "query: %s\n", err.msg);
        return 1;
    }
    fprintf(stderr, "contacts=%ld\n", n);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "write") == 0 && argc != 3)) {
        fprintf(stderr, "usage: bigquery_driver write FILE | query [CONTACT_ID]\n");
        return 2;
    }
    relay_mem_init();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    log_setup(LOG_WARN, LOG_FORMAT_LOGFMT);
    static struct relay_config conf;
    fill_config(&conf);
    batch_max = (unsigned)strtoul(env_or("BQ_BATCH", "50"), NULL, 10);
    max_attempts = (int)strtol(env_or("BQ_MAX_ATTEMPTS", "8"), NULL, 10);
    retry_s = (double)strtol(env_or("BQ_RETRY_MS", "200"), NULL, 10) / 1000.0;
    struct relay_error err = {0};
    struct mapping *m = NULL;
    if (strcmp(env_or("BQ_NO_MAPPING", "0"), "1") != 0) {
        m = mapping_load(NULL, &err);
        if (m == NULL) {
            fprintf(stderr, "mapping: %s\n", err.msg);
            return 2;
        }
    }
    env.conf = &conf;
    env.mapping = m;
    int rc =
        strcmp(argv[1], "write") == 0 ? run_write(argv[2]) : run_query(argc > 2 ? argv[2] : NULL);
    mapping_destroy(m);
    curl_global_cleanup();
    return rc;
}
