/* `syncrelay serve [--role receiver|workers|all]`: the daemon. The main
 * thread owns start-up and shutdown order and waits for SIGINT/SIGTERM
 * with sigwait; every other thread is created with those signals blocked
 * (style.md section 9). Shutdown: stop civetweb first (no new events),
 * then the worker pool (each worker finishes or returns its batch within
 * workers.grace_ms), then free everything. */
#define LOG_COMPONENT "serve"
#include "queue/queue.h"
#include "relay/cli.h"
#include "relay/config.h"
#include "relay/http_server.h"
#include "relay/log.h"
#include "workers/pool.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define ROLE_RECEIVER 1u
#define ROLE_WORKERS 2u

static int parse_role(int argc, char **argv, unsigned *roles)
{
    *roles = ROLE_RECEIVER | ROLE_WORKERS;
    for (int i = 1; i < argc; i++) {
        const char *value = cli_option_value(argc, argv, &i, "--role");
        if (value == NULL) {
            fprintf(stderr, "serve: unknown argument %s\n", argv[i]);
            return -1;
        }
        if (strcmp(value, "receiver") == 0) {
            *roles = ROLE_RECEIVER;
        } else if (strcmp(value, "workers") == 0) {
            *roles = ROLE_WORKERS;
        } else if (strcmp(value, "all") == 0) {
            *roles = ROLE_RECEIVER | ROLE_WORKERS;
        } else {
            fprintf(stderr, "serve: --role must be receiver, workers or all\n");
            return -1;
        }
    }
    return 0;
}

/* Blocks SIGINT/SIGTERM (threads inherit the mask) and ignores SIGPIPE: a
 * peer that closes a socket must not kill the process. */
static void block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static int wait_for_stop(const sigset_t *set)
{
    for (;;) {
        int sig = 0;
        if (sigwait(set, &sig) == 0 && (sig == SIGINT || sig == SIGTERM)) {
            return sig;
        }
    }
}

int cmd_serve(const struct cli_ctx *ctx, int argc, char **argv)
{
    static const char usage[] = "usage: syncrelay [--config FILE] serve "
                                "[--role receiver|workers|all]\n";
    unsigned roles = 0;
    if (cli_is_help(argc, argv)) {
        fputs(usage, stdout);
        return 0;
    }
    if (parse_role(argc, argv, &roles) != 0) {
        fputs(usage, stderr);
        return 2;
    }
    const struct relay_config *conf = ctx->conf;
    struct queue_conf qconf = {
        .url = conf->redis.url,
        .prefix = conf->redis.prefix,
        .timeout_ms = conf->redis.timeout_ms,
        .dedupe_ttl_s = conf->redis.dedupe_ttl_s,
    };
    struct sink_env env = {.conf = conf, .mapping = ctx->mapping};
    struct relay_error err = {0};
    struct http_server *server = NULL;
    struct pool *pool = NULL;
    sigset_t set;
    block_signals(&set);

    int status = 1;
    if (roles & ROLE_RECEIVER) {
        server = http_server_start(conf, ctx->mapping, &qconf, &err);
        if (server == NULL) {
            log_error("cannot start the receiver: %s", err.msg);
            fprintf(stderr, "syncrelay serve: %s\n", err.msg);
            status = err.code == RELAY_ECONFIG ? 2 : 1;
            goto out;
        }
    }
    if (roles & ROLE_WORKERS) {
        pool = pool_start(&env, &qconf, &err);
        if (pool == NULL) {
            log_error("cannot start the workers: %s", err.msg);
            fprintf(stderr, "syncrelay serve: %s\n", err.msg);
            status = err.code == RELAY_ECONFIG ? 2 : 1;
            goto out;
        }
    }
    log_info("serving (role %s)", roles == ROLE_RECEIVER  ? "receiver"
                                  : roles == ROLE_WORKERS ? "workers"
                                                          : "all");
    int sig = wait_for_stop(&set);
    log_info("stopping on %s", sig == SIGINT ? "SIGINT" : "SIGTERM");
    status = 0;
out:
    http_server_stop(server);
    pool_stop(pool, conf->workers.grace_ms);
    if (status == 0) {
        log_info("stopped");
    }
    return status;
}
