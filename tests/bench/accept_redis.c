/* The Redis half of ingest on its own: the accept script of the ingest
 * bench's Supabase insert (a new contact and version each time), mapped by
 * the real decoder and sent through the group commit thread as serve does,
 * with no HTTP in front. tests/bench/accept_redis.sh runs it against a
 * private Redis and divides Redis's CPU time by the scripts run.
 *
 * Usage: accept_redis FIXTURE EVENTS THREADS (Redis at
 * SYNCRELAY_TEST_REDIS_URL). Prints "accepted N in S s". */
#include "mappers/mapper.h"
#include "queue/queue.h"
#include "relay/mem.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_CHANGED 64

struct job {
    const struct mapping *mapping;
    struct queue_group *group;
    json_t *doc; /* the fixture; each thread has its own copy */
    int thread;
    int events;
    int accepted;
};

/* The fixture with a new id, contact_id and updated_at for event n. */
static char *body_for(struct job *j, int n)
{
    char id[64], contact[32], ts[40];
    snprintf(id, sizeof(id), "%08x-0000-4000-8000-%012x", (unsigned)j->thread, (unsigned)n);
    snprintf(contact, sizeof(contact), "ACCEPT-%02d-%08d", j->thread, n);
    snprintf(ts, sizeof(ts), "2025-01-01T%02d:%02d:%02d.%06d+00:00", n / 3600000 % 24,
             n / 60000 % 60, n / 1000 % 60, n % 1000 * 1000);
    json_t *record = json_object_get(j->doc, "record");
    json_object_set_new(record, "id", json_string(id));
    json_object_set_new(record, "contact_id", json_string(contact));
    json_object_set_new(record, "updated_at", json_string(ts));
    return json_dumps(j->doc, JSON_COMPACT);
}

static int accept_one(struct job *j, struct queue_accept_call *call, const char *body)
{
    struct relay_error err = {0};
    struct relay_event *ev = NULL;
    if (mapper_decode_webhook(j->mapping, RELAY_SOURCE_SUPABASE, body, strlen(body), &ev, &err) !=
        MAPPER_EVENT) {
        fprintf(stderr, "decode: %s\n", err.msg);
        return -1;
    }
    size_t n = json_array_size(ev->changed);
    char digests[MAX_CHANGED][RELAY_EVENT_ID_LEN + 1];
    const char *ptrs[MAX_CHANGED];
    for (size_t i = 0; i < n && i < MAX_CHANGED; i++) {
        json_t *v = json_object_get(ev->fields, json_string_value(json_array_get(ev->changed, i)));
        mapper_value_digest(v != NULL ? v : json_null(), digests[i]);
        ptrs[i] = digests[i];
    }
    enum queue_verdict verdict = QUEUE_STALE;
    unsigned queued = 0;
    unsigned route = RELAY_SINK_BIT(RELAY_SINK_SQLITE) | RELAY_SINK_BIT(RELAY_SINK_BIGQUERY) |
                     RELAY_SINK_BIT(RELAY_SINK_TWENTY);
    int rc = n <= MAX_CHANGED
                 ? queue_group_accept(j->group, call, ev, ptrs, route, &verdict, &queued, &err)
                 : -1;
    if (rc != 0) {
        fprintf(stderr, "accept: %s\n", err.msg);
    }
    relay_event_destroy(ev);
    return rc == 0 && verdict == QUEUE_ACCEPTED ? 0 : -1;
}

static void *run(void *arg)
{
    struct job *j = arg;
    struct queue_accept_call *call = queue_accept_call_new();
    for (int n = 0; call != NULL && n < j->events; n++) {
        char *body = body_for(j, n);
        j->accepted += body != NULL && accept_one(j, call, body) == 0;
        free(body);
    }
    queue_accept_call_free(call);
    return NULL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    const char *url = getenv("SYNCRELAY_TEST_REDIS_URL");
    if (argc != 4 || url == NULL) {
        fprintf(stderr,
                "usage: SYNCRELAY_TEST_REDIS_URL=... accept_redis FIXTURE EVENTS THREADS\n");
        return 2;
    }
    int events = atoi(argv[2]), threads = atoi(argv[3]);
    struct relay_error err = {0};
    json_error_t jerr;
    json_t *doc = json_load_file(argv[1], 0, &jerr);
    struct mapping *mapping = mapping_load(NULL, &err);
    struct queue_conf conf = {.url = url, .prefix = "syncrelay"};
    struct queue_group *group = queue_group_start(&conf, &err);
    if (doc == NULL || mapping == NULL || group == NULL || threads < 1 || threads > 64) {
        fprintf(stderr, "accept_redis: cannot start: %s %s\n", jerr.text, err.msg);
        return 1;
    }
    pthread_t th[64];
    struct job jobs[64];
    double start = now_s();
    for (int t = 0; t < threads; t++) {
        jobs[t] = (struct job){.mapping = mapping,
                               .group = group,
                               .doc = json_deep_copy(doc),
                               .thread = t,
                               .events = events / threads};
        pthread_create(&th[t], NULL, run, &jobs[t]);
    }
    int accepted = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(th[t], NULL);
        accepted += jobs[t].accepted;
        json_decref(jobs[t].doc);
    }
    printf("accepted %d in %.2f s\n", accepted, now_s() - start);
    queue_group_stop(group);
    mapping_destroy(mapping);
    json_decref(doc);
    return accepted == events / threads * threads ? 0 : 1;
}
