/* Throughput of queue_accept (and take + ack) against the Redis at
 * SYNCRELAY_TEST_REDIS_URL: `test_queue_bench [threads] [events per thread]`.
 * Not a CTest test (no timed tests): run it by hand through
 * tests/with-redis.sh. Each event upserts a distinct contact with five
 * changed fields routed to two sinks, like a Twenty webhook. */
#include "test_queue_util.h"

#include <pthread.h>
#include <time.h>

struct bench {
    int id;
    int events;
    char prefix[32];
    int failures;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *accept_loop(void *arg)
{
    struct bench *b = arg;
    struct queue_conf conf = {.url = getenv("SYNCRELAY_TEST_REDIS_URL"),
                              .prefix = b->prefix,
                              .timeout_ms = 2000,
                              .dedupe_ttl_s = 600};
    struct relay_error err = {0};
    struct queue *q = queue_open(&conf, &err);
    const char *digests[5] = {"0123456789abcdef", "1123456789abcdef", "2123456789abcdef",
                              "3123456789abcdef", "4123456789abcdef"};
    for (int i = 0; q != NULL && i < b->events; i++) {
        char contact[32];
        char delivery[17];
        snprintf(contact, sizeof(contact), "B%d-%d", b->id, i);
        snprintf(delivery, sizeof(delivery), "%04x%012x", (unsigned)b->id, (unsigned)i);
        struct relay_event *ev = relay_event_create();
        ev->contact_id = relay_strdup(contact);
        ev->record_id = relay_strdup(contact);
        snprintf(ev->version, sizeof(ev->version), "2025-09-14T10:20:31.377000Z");
        relay_now_ts(ev->received_at);
        snprintf(ev->delivery, sizeof(ev->delivery), "%s", delivery);
        relay_event_set_id(ev);
        static const char *const names[] = {"job_title", "company", "emails", "phones",
                                            "updated_at"};
        for (int f = 0; f < 5; f++) {
            json_object_set_new(ev->fields, names[f], json_string("a value of some length"));
            json_array_append_new(ev->changed, json_string(names[f]));
        }
        enum queue_verdict v;
        unsigned queued;
        if (queue_accept(q, ev, digests, 3, &v, &queued, &err) != 0 || v != QUEUE_ACCEPTED) {
            b->failures++;
        }
        relay_event_destroy(ev);
    }
    queue_close(q);
    return NULL;
}

static void *drain_loop(void *arg)
{
    struct bench *b = arg;
    struct queue_conf conf = {
        .url = getenv("SYNCRELAY_TEST_REDIS_URL"), .prefix = b->prefix, .timeout_ms = 2000};
    struct relay_error err = {0};
    struct queue *q = queue_open(&conf, &err);
    struct queue_batch batch;
    queue_batch_init(&batch);
    char consumer[32];
    snprintf(consumer, sizeof(consumer), "bench:%d", b->id);
    for (;;) {
        if (queue_take(q, "postgres", consumer, 200, 0, &batch, &err) != 0) {
            b->failures++;
            break;
        }
        if (batch.count == 0) {
            break;
        }
        if (queue_ack(q, "postgres", consumer, batch.items, batch.count, &err) != 0) {
            b->failures++;
        }
    }
    queue_batch_fini(&batch);
    queue_close(q);
    return NULL;
}

static double run(void *(*fn)(void *), int threads, int events, const char *prefix, int *fails)
{
    pthread_t th[64];
    struct bench b[64];
    double start = now_s();
    for (int i = 0; i < threads; i++) {
        b[i] = (struct bench){.id = i, .events = events};
        snprintf(b[i].prefix, sizeof(b[i].prefix), "%s", prefix);
        pthread_create(&th[i], NULL, fn, &b[i]);
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        *fails += b[i].failures;
    }
    return now_s() - start;
}

int main(int argc, char **argv)
{
    (void)tq_url();
    int threads = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 4;
    int events = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 10000;
    if (threads < 1 || threads > 64 || events < 1) {
        fprintf(stderr, "usage: test_queue_bench [threads 1..64] [events per thread]\n");
        return 2;
    }
    char prefix[32];
    snprintf(prefix, sizeof(prefix), "bench%d", (int)getpid());
    int fails = 0;
    double s = run(accept_loop, threads, events, prefix, &fails);
    int total = threads * events;
    printf("accept: %d events, %d threads, %.2f s, %.0f events/s, %d failures\n", total, threads, s,
           total / s, fails);
    s = run(drain_loop, threads, 0, prefix, &fails);
    printf("take+ack (batch 200): %d events, %.2f s, %.0f events/s, %d failures\n", total, s,
           total / s, fails);
    return fails == 0 ? 0 : 1;
}
