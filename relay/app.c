/* Global options, config and mapping load, and command dispatch.
 * Every command runs on a config that is loaded once and then immutable. */
#define LOG_COMPONENT "app"
#include "relay/app.h"
#include "relay/cli.h"
#include "relay/config.h"
#include "relay/log.h"
#include "relay/mem.h"
#include "mappers/mapper.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct command {
    const char *name;
    int (*run)(const struct cli_ctx *ctx, int argc, char **argv);
    const char *help;
};

static const struct command commands[] = {
    {"check-config", cmd_check_config, "validate the config; print it with secrets masked"},
    {"transform", cmd_transform, "map a webhook body or contact between systems"},
    {"serve", cmd_serve, "run the daemon: webhooks in, workers out (--role receiver|workers|all)"},
    {"migrate", cmd_migrate, "apply the deployment SQL to Postgres and SQLite (--sink ...)"},
    {"push", cmd_push, "backfill: send every contact of a system through the relay (--source ...)"},
    {"verify", cmd_verify, "compare one contact (or --all) across every enabled system"},
    {"status", cmd_status, "queue depths per sink and the shared counters (--json)"},
    {"dead", cmd_dead, "dead letters: ls | show ID | purge, with filters (--sink, --error, ...)"},
    {"replay", cmd_replay, "move dead letters back onto their queues (filters, --dry-run)"},
    /* (more commands register here) */
    {NULL, NULL, NULL},
};

bool cli_is_help(int argc, char **argv)
{
    return argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
}

const char *cli_option_value(int argc, char **argv, int *i, const char *name)
{
    size_t len = strlen(name);
    if (strcmp(argv[*i], name) == 0 && *i + 1 < argc) {
        return argv[++*i];
    }
    if (strncmp(argv[*i], name, len) == 0 && argv[*i][len] == '=') {
        return argv[*i] + len + 1;
    }
    return NULL;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: syncrelay [--config FILE] COMMAND [ARGS]\n\ncommands:\n");
    for (const struct command *c = commands; c->name != NULL; c++) {
        fprintf(out, "  %-14s %s\n", c->name, c->help);
    }
    fprintf(out, "\nThe config file may also be named by SYNCRELAY_CONFIG.\n");
}

static const struct command *find_command(const char *name)
{
    for (const struct command *c = commands; c->name != NULL; c++) {
        if (strcmp(c->name, name) == 0) {
            return c;
        }
    }
    return NULL;
}

/* Applies the config's log settings; invalid values were refused by config_load. */
static void setup_logging(const struct relay_config *conf)
{
    int level = log_level_parse(conf->log.level);
    int format = log_format_parse(conf->log.format);
    log_setup(level < 0 ? LOG_INFO : (enum log_level)level,
              format < 0 ? LOG_FORMAT_LOGFMT : (enum log_format)format);
}

static int run_command(const struct command *cmd, const char *config_path, int argc, char **argv)
{
    struct relay_error err = {0};
    struct relay_config *conf = config_load(config_path, &err);
    if (conf == NULL) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    setup_logging(conf);
    struct mapping *mapping = mapping_load(conf->mapping.path, &err);
    if (mapping == NULL) {
        fprintf(stderr, "%s\n", err.msg);
        config_destroy(conf);
        return 2;
    }
    struct cli_ctx ctx = {.conf = conf, .mapping = mapping, .config_path = config_path};
    int status = cmd->run(&ctx, argc, argv);
    mapping_destroy(mapping);
    config_destroy(conf);
    return status;
}

int relay_app_run(int argc, char **argv)
{
    const char *config_path = getenv("SYNCRELAY_CONFIG");
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            config_path = argv[++i];
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "syncrelay: unknown option %s\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    const struct command *cmd = find_command(argv[i]);
    if (cmd == NULL) {
        fprintf(stderr, "syncrelay: unknown command '%s'\n", argv[i]);
        usage(stderr);
        return 2;
    }
    if (config_path != NULL && config_path[0] == '\0') {
        config_path = NULL;
    }
    relay_mem_init();
    /* Before any thread exists (libcurl-thread docs). */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int status = run_command(cmd, config_path, argc - i, argv + i);
    curl_global_cleanup();
    return status;
}
