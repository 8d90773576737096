/* `syncrelay dead ls|show|purge [--sink S] [--id ID] [--source S]
 *  [--contact C] [--error CODE] [--since TS] [--until TS] [--dry-run]`:
 * read and repair the dead-letter lists P:dead:SINK (queue_admin.c).
 * ls prints one tab-separated line per letter (newest first, sink by
 * sink): sink, id, source, contact_id, attempts, error code, error time,
 * error message. show prints the raw envelopes. purge deletes (an
 * unfiltered purge needs --all). Exit: 0 ok, 1 Redis unreachable or
 * failed, 2 usage. Also home of the filter parser `replay` shares. */
#include "queue/queue.h"
#include "relay/cli.h"

#include <stdio.h>
#include <string.h>

static int parse_one(int argc, char **argv, int *i, struct cmd_dead_opts *o)
{
    static const char *const names[] = {"--sink",  "--id",    "--source", "--contact",
                                        "--error", "--since", "--until"};
    const char **slots[] = {&o->filter.sink,       &o->filter.id,         &o->filter.source,
                            &o->filter.contact_id, &o->filter.error_code, &o->filter.since,
                            &o->filter.until};
    const char *a = argv[*i];
    if (strcmp(a, "--dry-run") == 0) {
        o->dry_run = 1;
        return 0;
    }
    if (strcmp(a, "--all") == 0) {
        o->all = 1;
        return 0;
    }
    for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
        if (strcmp(a, names[k]) != 0) {
            continue;
        }
        if (*i + 1 >= argc || argv[*i + 1][0] == '\0') {
            fprintf(stderr, "%s needs a value\n", a);
            return -1;
        }
        *slots[k] = argv[++*i];
        return 0;
    }
    if (a[0] != '-' && o->filter.id == NULL && o->allow_positional_id) {
        o->filter.id = a;
        return 0;
    }
    fprintf(stderr, "unknown argument '%s'\n", a);
    return -1;
}

int cmd_dead_parse(int argc, char **argv, int first, struct cmd_dead_opts *o)
{
    for (int i = first; i < argc; i++) {
        if (parse_one(argc, argv, &i, o) != 0) {
            return -1;
        }
    }
    if (o->filter.sink != NULL && relay_sink_parse(o->filter.sink) < 0) {
        fprintf(stderr, "unknown sink '%s' (postgres, sqlite, bigquery, twenty)\n", o->filter.sink);
        return -1;
    }
    if (o->filter.source != NULL && relay_source_parse(o->filter.source) < 0) {
        fprintf(stderr, "unknown source '%s' (twenty, supabase, bigquery, sqlite)\n",
                o->filter.source);
        return -1;
    }
    return 0;
}

static int print_line(void *ctx, const char *sink, const struct queue_item *item,
                      const struct relay_event *ev, struct relay_error *err)
{
    (void)err;
    size_t *n = ctx;
    ++*n;
    if (ev == NULL) {
        printf("%s\t-\t(undecodable, %zu bytes)\n", sink, item->len);
        return 0;
    }
    const char *at = json_string_value(json_object_get(ev->error, "at"));
    printf("%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", sink, ev->id, relay_source_name(ev->source),
           ev->contact_id, ev->attempts,
           json_string_value(json_object_get(ev->error, "code")) ?: "-",
           at ? at : (ev->first_error_at[0] ? ev->first_error_at : "-"),
           json_string_value(json_object_get(ev->error, "message")) ?: "-");
    return 0;
}

static int print_raw(void *ctx, const char *sink, const struct queue_item *item,
                     const struct relay_event *ev, struct relay_error *err)
{
    (void)sink;
    (void)ev;
    (void)err;
    size_t *n = ctx;
    ++*n;
    fwrite(item->raw, 1, item->len, stdout);
    putchar('\n');
    return 0;
}

static const char dead_usage[] =
    "usage: syncrelay dead ls|show|purge [--sink S] [--id ID] [--source S] [--contact C]\n"
    "         [--error CODE] [--since TS] [--until TS] [--dry-run] [--all]\n"
    "       show takes the event id (or --id); purge without a filter needs --all\n";

static int run_dead(struct queue *q, const char *verb, const struct cmd_dead_opts *o)
{
    struct relay_error err = {0};
    size_t n = 0;
    int rc;
    if (strcmp(verb, "purge") == 0) {
        rc = queue_dead_purge(q, &o->filter, o->dry_run, &n, &err);
        if (rc == 0) {
            printf("%s %zu dead letter(s)\n", o->dry_run ? "would purge" : "purged", n);
        }
    } else {
        int is_show = strcmp(verb, "show") == 0;
        rc = queue_dead_each(q, &o->filter, is_show ? print_raw : print_line, &n, &err);
        if (rc == 0 && is_show && n == 0) {
            fprintf(stderr, "dead show: no dead letter with id %s\n", o->filter.id);
            rc = -1;
            err.code = RELAY_ENOTFOUND;
        }
    }
    if (rc != 0 && err.code != RELAY_ENOTFOUND) {
        fprintf(stderr, "dead %s: %s\n", verb, err.msg);
    }
    return rc == 0 && fflush(stdout) == 0 ? 0 : 1;
}

int cmd_dead(const struct cli_ctx *ctx, int argc, char **argv)
{
    struct cmd_dead_opts o = {0};
    if (cli_is_help(argc, argv)) {
        fputs(dead_usage, stdout);
        return 0;
    }
    const char *verb = argc > 1 ? argv[1] : "";
    int known = strcmp(verb, "ls") == 0 || strcmp(verb, "show") == 0 || strcmp(verb, "purge") == 0;
    o.allow_positional_id = strcmp(verb, "show") == 0;
    if (!known || cmd_dead_parse(argc, argv, 2, &o) != 0) {
        fputs(dead_usage, stderr);
        return 2;
    }
    const struct queue_dead_filter *f = &o.filter;
    int filtered =
        f->sink || f->id || f->source || f->contact_id || f->error_code || f->since || f->until;
    if ((strcmp(verb, "show") == 0 && f->id == NULL) ||
        (strcmp(verb, "purge") == 0 && !filtered && !o.all && !o.dry_run)) {
        fputs(dead_usage, stderr);
        return 2;
    }
    struct queue *q = cmd_queue_open(ctx);
    if (q == NULL) {
        return 1;
    }
    int status = run_dead(q, verb, &o);
    queue_close(q);
    return status;
}
