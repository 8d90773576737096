/* `syncrelay push --source bigquery|twenty|supabase|sqlite|all
 *  [--contact-id ID] [--since TS] [--page-size N] [--dry-run] [--restart]
 *  [--verify [--verify-timeout S]] [--quiet]`
 * Backfill: reads a whole system page by page and sends every contact
 * through the normal path (arbiter, queues, sinks) as an upsert from that
 * system, so it reaches every other enabled system; with `all`, every
 * enabled system in turn (the arbiter keeps the newest of each field).
 * Resumable: SIGINT/SIGTERM stop after the current page with the
 * checkpoint (P:push:SOURCE) saved, exit 130; the same command continues
 * from it. Prints a summary per source on stdout: read, queued, unchanged
 * (already known: echo or duplicate), stale, failed. With --verify, waits
 * until the queues are drained (by a running `serve`) and runs
 * `verify --all`. Exit: 0 ok, 1 failure or difference, 2 usage, 130 stopped. */
#include "mappers/transform.h"
#include "queue/queue.h"
#include "relay/backfill_push.h"
#include "relay/backfill_reader.h"
#include "relay/backfill_verify.h"
#include "relay/cli.h"
#include "relay/config.h"
#include "relay/http_server.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PUSH_EXIT_STOPPED 130
#define PUSH_VERIFY_TIMEOUT_S 300u
#define PUSH_DRAIN_POLL_MS 200

static volatile sig_atomic_t push_stop;

static void on_stop_signal(int sig)
{
    (void)sig;
    push_stop = 1;
}

struct push_args {
    struct backfill_push_opts opts;
    const char *source_name;
    char since[RELAY_TS_LEN + 1];
    bool should_verify;
    bool is_all; /* --source all */
    unsigned verify_timeout_s;
};

static void push_usage(FILE *out)
{
    fprintf(out, "usage: syncrelay push --source bigquery|twenty|supabase|sqlite|all\n"
                 "         [--contact-id ID] [--since TS] [--page-size N] [--dry-run]\n"
                 "         [--restart] [--verify [--verify-timeout S]] [--quiet]\n");
}

static int parse_unsigned(const char *s, unsigned min, unsigned max, unsigned *out)
{
    char *end = NULL;
    unsigned long v = strtoul(s, &end, 10);
    if (s[0] < '0' || s[0] > '9' || *end != '\0' || v < min || v > max) {
        return -1;
    }
    *out = (unsigned)v;
    return 0;
}

/* One option with a value; 1 when argv[*i] is not one of them, -1 bad. */
static int parse_valued(int argc, char **argv, int *i, struct push_args *a)
{
    const char *v;
    struct relay_error err = {0};
    if ((v = cli_option_value(argc, argv, i, "--source")) != NULL) {
        a->source_name = v;
    } else if ((v = cli_option_value(argc, argv, i, "--contact-id")) != NULL) {
        a->opts.contact_id = v;
    } else if ((v = cli_option_value(argc, argv, i, "--since")) != NULL) {
        if (transform_timestamp_normalize(v, a->since, &err) != 0) {
            fprintf(stderr, "push: --since %s: %s\n", v, err.msg);
            return -1;
        }
        a->opts.since = a->since;
    } else if ((v = cli_option_value(argc, argv, i, "--page-size")) != NULL) {
        if (parse_unsigned(v, 1, BACKFILL_PAGE_MAX, &a->opts.page_size) != 0) {
            fprintf(stderr, "push: --page-size must be 1..%u\n", BACKFILL_PAGE_MAX);
            return -1;
        }
    } else if ((v = cli_option_value(argc, argv, i, "--verify-timeout")) != NULL) {
        if (parse_unsigned(v, 1, 86400, &a->verify_timeout_s) != 0) {
            fprintf(stderr, "push: --verify-timeout must be 1..86400 seconds\n");
            return -1;
        }
    } else {
        return 1;
    }
    return 0;
}

static int parse_args(int argc, char **argv, struct push_args *a)
{
    a->opts.show_progress = true;
    a->opts.is_tty = isatty(STDERR_FILENO) == 1;
    a->verify_timeout_s = PUSH_VERIFY_TIMEOUT_S;
    for (int i = 1; i < argc; i++) {
        int rc = parse_valued(argc, argv, &i, a);
        if (rc < 0) {
            return -1;
        }
        if (rc == 0) {
            continue;
        }
        if (strcmp(argv[i], "--dry-run") == 0) {
            a->opts.is_dry_run = true;
        } else if (strcmp(argv[i], "--restart") == 0) {
            a->opts.should_restart = true;
        } else if (strcmp(argv[i], "--verify") == 0) {
            a->should_verify = true;
        } else if (strcmp(argv[i], "--quiet") == 0) {
            a->opts.show_progress = false;
        } else {
            fprintf(stderr, "push: unknown argument %s\n", argv[i]);
            return -1;
        }
    }
    if (a->source_name == NULL) {
        fprintf(stderr, "push: --source is required\n");
        return -1;
    }
    if (strcmp(a->source_name, "all") != 0 && backfill_source_parse(a->source_name) < 0) {
        fprintf(stderr, "push: unknown source %s\n", a->source_name);
        return -1;
    }
    return 0;
}

static void print_summary(const char *label, const struct backfill_counts *n, int rc,
                          bool is_dry_run)
{
    printf("push %s: read %llu, queued %llu, unchanged %llu, stale %llu, failed %llu%s%s\n", label,
           n->read, n->queued, n->unchanged, n->stale, n->failed,
           is_dry_run ? " (dry run: nothing queued)" : "",
           rc == BACKFILL_PUSH_STOPPED ? " (interrupted: run the same command to resume)" : "");
    fflush(stdout);
}

/* Pushes one source; returns the exit status so far (0, 1, 2 or 130). */
static int push_source(const struct cli_ctx *ctx, struct push_args *a, enum relay_source source)
{
    struct relay_error err = {0};
    struct backfill_counts n = {0};
    a->opts.source = source;
    int rc = backfill_push_run(ctx->conf, ctx->mapping, &a->opts, &push_stop, &n, &err);
    const char *label = backfill_system_label(source);
    if (rc < 0) {
        fprintf(stderr, "syncrelay push: %s: %s\n", label, err.msg);
        print_summary(label, &n, rc, a->opts.is_dry_run);
        if (err.code == RELAY_ENOTFOUND && a->is_all) {
            return 0; /* --contact-id with all: not every system holds it */
        }
        return err.code == RELAY_ECONFIG || err.code == RELAY_EINVAL ? 2 : 1;
    }
    print_summary(label, &n, rc, a->opts.is_dry_run);
    if (rc == BACKFILL_PUSH_STOPPED) {
        return PUSH_EXIT_STOPPED;
    }
    return n.failed > 0 ? 1 : 0;
}

/* Events not yet settled by the sinks (queued, in flight, retrying); -1 on error. */
static long long pending_events(struct queue *q, unsigned mask, struct relay_error *err)
{
    long long n = 0;
    for (int s = 0; s < RELAY_SINK_COUNT; s++) {
        struct queue_depths d;
        if (!(mask & RELAY_SINK_BIT(s))) {
            continue;
        }
        if (queue_depths(q, relay_sink_name((enum relay_sink)s), &d, err) != 0) {
            return -1;
        }
        n += d.queued + d.in_flight + d.retrying;
    }
    return n;
}

static int wait_drained(const struct relay_config *conf, unsigned timeout_s,
                        struct relay_error *err)
{
    struct queue_conf qconf = {.url = conf->redis.url,
                               .prefix = conf->redis.prefix,
                               .timeout_ms = conf->redis.timeout_ms,
                               .dedupe_ttl_s = conf->redis.dedupe_ttl_s};
    struct queue *q = queue_open(&qconf, err);
    if (q == NULL) {
        return -1;
    }
    unsigned mask = http_server_enabled_sinks(conf);
    struct timespec poll = {.tv_sec = 0, .tv_nsec = PUSH_DRAIN_POLL_MS * 1000000L};
    long long left = -1;
    for (unsigned waited_ms = 0; !push_stop; waited_ms += PUSH_DRAIN_POLL_MS) {
        left = pending_events(q, mask, err);
        if (left <= 0 || waited_ms >= timeout_s * 1000u) {
            break;
        }
        nanosleep(&poll, NULL);
    }
    queue_close(q);
    if (left > 0 || push_stop) {
        return relay_error_set(err, RELAY_EIO,
                               "queues not drained (%lld events pending); "
                               "is `syncrelay serve` running?",
                               left);
    }
    return left < 0 ? -1 : 0;
}

static int run_verify(const struct cli_ctx *ctx, const struct push_args *a)
{
    struct relay_error err = {0};
    if (wait_drained(ctx->conf, a->verify_timeout_s, &err) != 0) {
        fprintf(stderr, "syncrelay push --verify: %s\n", err.msg);
        return push_stop ? PUSH_EXIT_STOPPED : 1;
    }
    int rc =
        a->opts.contact_id != NULL
            ? backfill_verify_one(ctx->conf, ctx->mapping, a->opts.contact_id, false, stdout, &err)
            : backfill_verify_all(ctx->conf, ctx->mapping, false, stdout, &err);
    if (rc < 0) {
        fprintf(stderr, "syncrelay push --verify: %s\n", err.msg);
        return 1;
    }
    return rc == BACKFILL_VERIFY_AGREE ? 0 : 1;
}

static void catch_stop_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART; /* libpq, hiredis and curl calls finish; the loop checks */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int cmd_push(const struct cli_ctx *ctx, int argc, char **argv)
{
    struct push_args a;
    memset(&a, 0, sizeof(a));
    if (cli_is_help(argc, argv)) {
        push_usage(stdout);
        return 0;
    }
    if (parse_args(argc, argv, &a) != 0) {
        push_usage(stderr);
        return 2;
    }
    catch_stop_signals();
    int status = 0;
    bool is_all = strcmp(a.source_name, "all") == 0;
    a.is_all = is_all;
    /* With `all`, a source that fails does not stop the others (each has
     * its own checkpoint); a stop signal does. */
    for (int s = 0; s < RELAY_SOURCE_COUNT && status != PUSH_EXIT_STOPPED; s++) {
        bool is_chosen = is_all ? backfill_source_is_enabled(ctx->conf, (enum relay_source)s)
                                : s == backfill_source_parse(a.source_name);
        if (is_chosen) {
            int rc = push_source(ctx, &a, (enum relay_source)s);
            status = rc > status ? rc : status;
        }
    }
    if (status == 0 && a.should_verify && !a.opts.is_dry_run) {
        status = run_verify(ctx, &a);
    }
    return status;
}
