/* `syncrelay verify --contact-id ID | --all [--json]`: reads the contact
 * (or every contact) from every enabled system, maps each copy to
 * canonical and prints where they differ, field by field. Exit 0 when all
 * agree, 1 when not (or a system cannot be read), 2 on bad usage.
 * The comparison rules are in relay/backfill_compare.h. */
#include "relay/backfill_verify.h"
#include "relay/cli.h"

#include <stdio.h>
#include <string.h>

static void verify_usage(FILE *out)
{
    fprintf(out, "usage: syncrelay verify (--contact-id ID | --all) [--json]\n");
}

int cmd_verify(const struct cli_ctx *ctx, int argc, char **argv)
{
    const char *contact_id = NULL;
    bool is_all = false;
    bool is_json = false;
    for (int i = 1; i < argc; i++) {
        const char *v = cli_option_value(argc, argv, &i, "--contact-id");
        if (v != NULL) {
            contact_id = v;
        } else if (strcmp(argv[i], "--all") == 0) {
            is_all = true;
        } else if (strcmp(argv[i], "--json") == 0) {
            is_json = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            verify_usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "verify: unknown argument %s\n", argv[i]);
            verify_usage(stderr);
            return 2;
        }
    }
    if ((contact_id == NULL) == !is_all || (contact_id != NULL && contact_id[0] == '\0')) {
        fprintf(stderr, "verify: give either --contact-id ID or --all\n");
        verify_usage(stderr);
        return 2;
    }
    struct relay_error err = {0};
    int rc = is_all
                 ? backfill_verify_all(ctx->conf, ctx->mapping, is_json, stdout, &err)
                 : backfill_verify_one(ctx->conf, ctx->mapping, contact_id, is_json, stdout, &err);
    fflush(stdout);
    if (rc < 0) {
        fprintf(stderr, "syncrelay verify: %s\n", err.msg);
        return err.code == RELAY_ECONFIG ? 2 : 1;
    }
    return rc == BACKFILL_VERIFY_AGREE ? 0 : 1;
}
