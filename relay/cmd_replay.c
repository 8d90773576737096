/* `syncrelay replay [--sink S] [--id ID] [--source S] [--contact C]
 *  [--error CODE] [--since TS] [--until TS] [--dry-run]`: moves matching
 * dead letters back onto their queues, oldest first, attempts reset and the
 * last error kept in history (queue_dead_replay). Without a filter every
 * dead letter is replayed. Exit: 0 ok, 1 Redis unreachable or failed,
 * 2 usage. */
#include "queue/queue.h"
#include "relay/cli.h"

#include <stdio.h>

int cmd_replay(const struct cli_ctx *ctx, int argc, char **argv)
{
    static const char usage[] =
        "usage: syncrelay replay [--sink S] [--id ID] [--source S] [--contact C]\n"
        "         [--error CODE] [--since TS] [--until TS] [--dry-run]\n";
    struct cmd_dead_opts o = {0};
    if (cli_is_help(argc, argv)) {
        fputs(usage, stdout);
        return 0;
    }
    if (cmd_dead_parse(argc, argv, 1, &o) != 0 || o.all) {
        fputs(usage, stderr);
        return 2;
    }
    struct queue *q = cmd_queue_open(ctx);
    if (q == NULL) {
        return 1;
    }
    struct relay_error err = {0};
    size_t n = 0;
    int rc = queue_dead_replay(q, &o.filter, o.dry_run, &n, &err);
    queue_close(q);
    if (rc != 0) {
        fprintf(stderr, "replay: %s (%zu moved before the failure)\n", err.msg, n);
        return 1;
    }
    printf("%s %zu dead letter(s)\n", o.dry_run ? "would replay" : "replayed", n);
    return fflush(stdout) == 0 ? 0 : 1;
}
