/* The subcommands of the syncrelay binary. Each takes the loaded, immutable
 * config and mapping, and argv starting at its own name; it returns the
 * process exit status (0 ok, 1 a runtime failure or a difference found,
 * 2 bad usage or bad input). Implementations live in cmd_<name>.c. */
#ifndef RELAY_RELAY_CLI_H
#define RELAY_RELAY_CLI_H

struct relay_config;
struct mapping;

struct cli_ctx {
    const struct relay_config *conf;
    const struct mapping *mapping;
    const char *config_path; /* NULL when running on defaults */
};

int cmd_check_config(const struct cli_ctx *ctx, int argc, char **argv);
int cmd_transform(const struct cli_ctx *ctx, int argc, char **argv);

#endif
