/* The subcommands of the syncrelay binary. Each takes the loaded, immutable
 * config and mapping, and argv starting at its own name; it returns the
 * process exit status (0 ok, 1 a runtime failure or a difference found,
 * 2 bad usage or bad input). Implementations live in cmd_<name>.c. */
#ifndef RELAY_RELAY_CLI_H
#define RELAY_RELAY_CLI_H

#include "queue/queue.h"

#include <stdbool.h>

struct relay_config;
struct mapping;

struct cli_ctx {
    const struct relay_config *conf;
    const struct mapping *mapping;
    const char *config_path; /* NULL when running on defaults */
};

/* True when a command's first argument asks for its usage (--help, -h):
 * the command prints it on stdout and exits 0. */
bool cli_is_help(int argc, char **argv);

/* Reads "--name VALUE" or "--name=VALUE" at argv[*i] (advancing *i past a
 * separate value); NULL when argv[*i] is not that option. */
const char *cli_option_value(int argc, char **argv, int *i, const char *name);

int cmd_check_config(const struct cli_ctx *ctx, int argc, char **argv);
int cmd_transform(const struct cli_ctx *ctx, int argc, char **argv);
int cmd_serve(const struct cli_ctx *ctx, int argc, char **argv);
int cmd_migrate(const struct cli_ctx *ctx, int argc, char **argv);
int cmd_push(const struct cli_ctx *ctx, int argc, char **argv);
int cmd_verify(const struct cli_ctx *ctx, int argc, char **argv);

int cmd_status(const struct cli_ctx *ctx, int argc, char **argv);
int cmd_dead(const struct cli_ctx *ctx, int argc, char **argv);
int cmd_replay(const struct cli_ctx *ctx, int argc, char **argv);

/* Shared by the queue commands (cmd_status.c): opens the configured Redis
 * and PINGs it; on failure prints "syncrelay: redis unreachable: ..." to
 * stderr and returns NULL (the command exits 1). Caller closes it. */
struct queue *cmd_queue_open(const struct cli_ctx *ctx);

/* Options of `dead` and `replay` (cmd_dead.c). Strings borrow argv. */
struct cmd_dead_opts {
    struct queue_dead_filter filter;
    int dry_run;
    int all;
    int allow_positional_id; /* `dead show ID` */
};

/* Parses argv[first..argc) into o (zeroed by the caller); unknown options,
 * missing values, unknown sink or source names print why to stderr and
 * return -1 (the command exits 2). */
int cmd_dead_parse(int argc, char **argv, int first, struct cmd_dead_opts *o);

#endif
