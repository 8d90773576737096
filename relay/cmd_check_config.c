/* `syncrelay check-config`: app.c has already loaded and validated the
 * config (errors exit 2 there); this prints the effective config as YAML
 * with secrets masked, so an operator sees what the relay would run with. */
#include "relay/buf.h"
#include "relay/cli.h"
#include "relay/config.h"

#include <stdbool.h>
#include <stdio.h>

int cmd_check_config(const struct cli_ctx *ctx, int argc, char **argv)
{
    if (argc > 1) {
        bool help = cli_is_help(argc, argv);
        fprintf(help ? stdout : stderr, "usage: syncrelay [--config FILE] check-config\n");
        return help ? 0 : 2;
    }
    struct relay_buf out;
    relay_buf_init(&out);
    int status = 0;
    if (config_render(ctx->conf, &out) != 0) {
        fprintf(stderr, "check-config: out of memory\n");
        status = 1;
    } else {
        printf("# syncrelay effective config (%s); secrets shown as \"***\"\n",
               ctx->config_path != NULL ? ctx->config_path : "built-in defaults, no file");
        fwrite(out.data, 1, out.len, stdout);
        if (fflush(stdout) != 0) {
            status = 1;
        }
    }
    relay_buf_fini(&out);
    return status;
}
