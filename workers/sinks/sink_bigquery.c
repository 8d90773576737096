/* The BigQuery sink: each event becomes one row of the append-only
 * changelog table, sent with tabledata.insertAll (bigquery_insert.c) over
 * one CURL handle per worker thread, authenticated by the token cache that
 * all BigQuery worker threads share (bigquery_auth.h). This file is the
 * sink kind: config checks, the insertAll URL, and the shared token
 * cache's lifetime. */
#include "relay/mem.h"
#include "workers/sink.h"
#include "workers/sinks/bigquery_auth.h"
#include "workers/sinks/bigquery_insert.h"
#include "workers/sinks/http_client.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#define BQ_DEFAULT_ENDPOINT "https://bigquery.googleapis.com"
#define BQ_DEFAULT_TABLE "contacts_changes"
#define BQ_DEFAULT_TIMEOUT_MS 30000u

/* shared_mu guards shared_auth and shared_refs: the one token cache that
 * every BigQuery worker thread of the process uses, created by the first
 * open and destroyed by the last close. */
static pthread_mutex_t shared_mu = PTHREAD_MUTEX_INITIALIZER;
static struct bigquery_auth *shared_auth;
static unsigned shared_refs;

static bool bq_is_enabled(const struct relay_config *conf)
{
    return conf->bigquery.project != NULL && conf->bigquery.project[0] != '\0';
}

static unsigned bq_worker_count(const struct relay_config *conf)
{
    return conf->bigquery.workers > 0 ? conf->bigquery.workers : 1;
}

static const char *or_default(const char *value, const char *fallback)
{
    return value != NULL && value[0] != '\0' ? value : fallback;
}

/* Project ids may be domain-scoped ("example.com:proj"); dataset and table
 * names are letters, digits and underscores. Checked so they can go into
 * the URL path as they are. */
static bool is_name(const char *s, const char *extra_chars)
{
    if (s == NULL || s[0] == '\0') {
        return false;
    }
    for (const char *p = s; *p != '\0'; p++) {
        bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || *p == '_' || strchr(extra_chars, *p) != NULL;
        if (!ok) {
            return false;
        }
    }
    return true;
}

static struct bigquery_auth *shared_auth_acquire(const struct config_bigquery *conf,
                                                 struct relay_error *err)
{
    pthread_mutex_lock(&shared_mu);
    struct bigquery_auth *a = shared_auth;
    if (a != NULL) {
        shared_refs++;
    }
    pthread_mutex_unlock(&shared_mu);
    if (a != NULL) {
        return a;
    }
    /* Created outside the lock: it reads the key file. */
    struct bigquery_auth *mine = bigquery_auth_create(conf, err);
    if (mine == NULL) {
        return NULL;
    }
    pthread_mutex_lock(&shared_mu);
    if (shared_auth == NULL) {
        shared_auth = mine;
        mine = NULL;
    }
    shared_refs++;
    a = shared_auth;
    pthread_mutex_unlock(&shared_mu);
    bigquery_auth_destroy(mine); /* another thread won the race */
    return a;
}

static void shared_auth_release(void)
{
    struct bigquery_auth *last = NULL;
    pthread_mutex_lock(&shared_mu);
    if (shared_refs > 0 && --shared_refs == 0) {
        last = shared_auth;
        shared_auth = NULL;
    }
    pthread_mutex_unlock(&shared_mu);
    bigquery_auth_destroy(last);
}

static void bq_close(void *state)
{
    struct bigquery_insert *st = state;
    if (st == NULL) {
        return;
    }
    if (st->auth != NULL) {
        shared_auth_release();
    }
    http_client_destroy(st->http);
    relay_free(st->insert_url);
    relay_free(st);
}

static int build_insert_url(struct bigquery_insert *st, const struct config_bigquery *c,
                            struct relay_error *err)
{
    const char *table = or_default(c->table, BQ_DEFAULT_TABLE);
    if (!is_name(c->project, "-.:") || !is_name(c->dataset, "") || !is_name(table, "")) {
        return relay_error_set(err, RELAY_ECONFIG,
                               "bigquery: project, dataset or table is not a valid name");
    }
    struct relay_buf url;
    relay_buf_init(&url);
    const char *endpoint = or_default(c->endpoint, BQ_DEFAULT_ENDPOINT);
    if (http_client_append_base(&url, endpoint) != 0 ||
        relay_buf_printf(&url, "/bigquery/v2/projects/%s/datasets/%s/tables/%s/insertAll",
                         c->project, c->dataset, table) != 0) {
        relay_buf_fini(&url);
        return relay_error_set(err, RELAY_ENOMEM, "bigquery: out of memory");
    }
    st->insert_url = url.data;
    return 0;
}

static void *bq_open(const struct sink_env *env, struct relay_error *err)
{
    const struct config_bigquery *c = &env->conf->bigquery;
    struct bigquery_insert *st = relay_calloc(1, sizeof(*st));
    if (st == NULL) {
        relay_error_set(err, RELAY_ENOMEM, "bigquery: out of memory");
        return NULL;
    }
    st->env = env;
    unsigned timeout_ms = c->timeout_ms > 0 ? c->timeout_ms : BQ_DEFAULT_TIMEOUT_MS;
    if (build_insert_url(st, c, err) != 0 ||
        (st->http = http_client_create(timeout_ms, err)) == NULL ||
        (st->auth = shared_auth_acquire(c, err)) == NULL) {
        bq_close(st);
        return NULL;
    }
    return st;
}

static enum sink_status bq_write(void *state, struct relay_event *const *evs, size_t n,
                                 enum sink_status *status, struct relay_error *err)
{
    return bigquery_insert_write(state, evs, n, status, err);
}

const struct sink_kind sink_bigquery_kind = {
    .name = "bigquery",
    .id = RELAY_SINK_BIGQUERY,
    .is_enabled = bq_is_enabled,
    .worker_count = bq_worker_count,
    .open = bq_open,
    .write = bq_write,
    .close = bq_close,
};
