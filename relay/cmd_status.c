/* `syncrelay status [--json]`: per sink the queue depths (queued, in
 * flight, retrying, dead, age of the oldest queued event) and every
 * P:stats counter: the same numbers redis-cli shows (README: The queue in Redis).
 * Exit: 0 ok, 1 Redis unreachable, 2 usage. Also home of cmd_queue_open,
 * which the dead-letter commands share. */
#include "queue/queue.h"
#include "relay/cli.h"
#include "relay/config.h"

#include <stdio.h>
#include <string.h>

struct queue *cmd_queue_open(const struct cli_ctx *ctx)
{
    const struct config_redis *r = &ctx->conf->redis;
    struct queue_conf qconf = {.url = r->url,
                               .prefix = r->prefix,
                               .timeout_ms = r->timeout_ms,
                               .dedupe_ttl_s = r->dedupe_ttl_s};
    struct relay_error err = {0};
    struct queue *q = queue_open(&qconf, &err);
    if (q == NULL || queue_ping(q, &err) != 0) {
        fprintf(stderr, "syncrelay: redis unreachable: %s\n", err.msg);
        queue_close(q);
        return NULL;
    }
    return q;
}

/* {"sinks": {name: depths}, "stats": {...}}; NULL with err. */
static json_t *collect(struct queue *q, struct relay_error *err)
{
    json_t *sinks = json_object();
    json_t *stats = NULL;
    json_t *all = NULL;
    for (int s = 0; sinks != NULL && s < RELAY_SINK_COUNT; s++) {
        struct queue_depths d;
        if (queue_depths(q, relay_sink_name((enum relay_sink)s), &d, err) != 0) {
            goto out;
        }
        json_object_set_new(sinks, relay_sink_name((enum relay_sink)s),
                            json_pack("{s:I, s:I, s:I, s:I, s:I}", "queued", d.queued, "in_flight",
                                      d.in_flight, "retrying", d.retrying, "dead", d.dead,
                                      "oldest_queued_ms", (json_int_t)d.oldest_queued_ms));
    }
    if (sinks == NULL || queue_stats(q, &stats, err) != 0) {
        goto out;
    }
    all = json_pack("{s:O, s:O}", "sinks", sinks, "stats", stats);
out:
    json_decref(sinks);
    json_decref(stats);
    if (all == NULL && err != NULL && err->code == RELAY_OK) {
        relay_error_set(err, RELAY_ENOMEM, "status: out of memory");
    }
    return all;
}

static void print_text(json_t *all)
{
    const char *name;
    json_t *v;
    printf("%-10s %10s %10s %10s %10s %14s\n", "sink", "queued", "in_flight", "retrying", "dead",
           "oldest_age_s");
    json_object_foreach(json_object_get(all, "sinks"), name, v)
    {
        json_int_t age = json_integer_value(json_object_get(v, "oldest_queued_ms"));
        printf("%-10s %10lld %10lld %10lld %10lld %10lld.%03lld\n", name,
               (long long)json_integer_value(json_object_get(v, "queued")),
               (long long)json_integer_value(json_object_get(v, "in_flight")),
               (long long)json_integer_value(json_object_get(v, "retrying")),
               (long long)json_integer_value(json_object_get(v, "dead")), (long long)(age / 1000),
               (long long)(age % 1000));
    }
    printf("\ncounters (%s):\n", "P:stats");
    json_object_foreach(json_object_get(all, "stats"), name, v)
    {
        printf("  %-24s %lld\n", name, (long long)json_integer_value(v));
    }
}

int cmd_status(const struct cli_ctx *ctx, int argc, char **argv)
{
    int as_json = 0;
    if (cli_is_help(argc, argv)) {
        printf("usage: syncrelay status [--json]\n");
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            as_json = 1;
        } else {
            fprintf(stderr, "status: unknown argument '%s'\nusage: syncrelay status [--json]\n",
                    argv[i]);
            return 2;
        }
    }
    struct queue *q = cmd_queue_open(ctx);
    if (q == NULL) {
        return 1;
    }
    struct relay_error err = {0};
    json_t *all = collect(q, &err);
    queue_close(q);
    if (all == NULL) {
        fprintf(stderr, "status: %s\n", err.msg);
        return 1;
    }
    if (as_json) {
        json_dumpf(all, stdout, JSON_COMPACT | JSON_SORT_KEYS);
        putchar('\n');
    } else {
        print_text(all);
    }
    json_decref(all);
    return fflush(stdout) == 0 ? 0 : 1;
}
