/* `syncrelay migrate [--sink postgres|sqlite|all]`: applies the deployment
 * SQL (deploy/sql/supabase.sql, deploy/sql/sqlite.sql, compiled in) to the
 * configured databases. Idempotent (CREATE ... IF NOT EXISTS, CREATE OR
 * REPLACE), so it runs on every deploy. "all" (the default) migrates every
 * enabled SQL sink; naming a disabled sink is a usage error. */
#define LOG_COMPONENT "migrate"
#include "relay/cli.h"
#include "relay/config.h"
#include "relay/log.h"
#include "workers/sinks/pgsql_schema.h"
#include "workers/sinks/sqlite_schema.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static void migrate_usage(FILE *out)
{
    fprintf(out, "usage: syncrelay migrate [--sink postgres|sqlite|all]\n");
}

static const char *migrate_sqlite_path(const struct relay_config *conf)
{
    const char *p = conf->sqlite.path;
    return p != NULL && p[0] != '\0' ? p : "./syncrelay.db";
}

static int migrate_one(const char *sink, const struct relay_config *conf)
{
    struct relay_error err = {0};
    int rc;
    if (strcmp(sink, "postgres") == 0) {
        rc = pgsql_migrate(conf->postgres.url, &err);
    } else {
        rc = sqlite_migrate(migrate_sqlite_path(conf), &err);
    }
    if (rc != 0) {
        fprintf(stderr, "syncrelay migrate: %s: %s\n", sink, err.msg);
        return 1;
    }
    printf("%s: schema up to date\n", sink);
    return 0;
}

int cmd_migrate(const struct cli_ctx *ctx, int argc, char **argv)
{
    const char *which = "all";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--sink") == 0 && i + 1 < argc) {
            which = argv[++i];
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            migrate_usage(stdout);
            return 0;
        } else {
            migrate_usage(stderr);
            return 2;
        }
    }
    bool all = strcmp(which, "all") == 0;
    if (!all && strcmp(which, "postgres") != 0 && strcmp(which, "sqlite") != 0) {
        migrate_usage(stderr);
        return 2;
    }
    const struct relay_config *conf = ctx->conf;
    bool pg_on = conf->postgres.url != NULL && conf->postgres.url[0] != '\0';
    bool lite_on = strcmp(migrate_sqlite_path(conf), "off") != 0;
    if ((strcmp(which, "postgres") == 0 && !pg_on) || (strcmp(which, "sqlite") == 0 && !lite_on)) {
        fprintf(stderr, "syncrelay migrate: sink %s is not enabled in the config\n", which);
        return 2;
    }
    int status = 0;
    if ((all || strcmp(which, "postgres") == 0) && pg_on) {
        status |= migrate_one("postgres", conf);
    }
    if ((all || strcmp(which, "sqlite") == 0) && lite_on) {
        status |= migrate_one("sqlite", conf);
    }
    return status;
}
