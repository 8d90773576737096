/* Fuzz target: the input as the YAML config file through config_load. A
 * config that loads must render (config_render), and the rendering, which
 * config_load promises to read back, must load to a config that renders
 * the same bytes, except the secret URLs, whose masking is lossy: for
 * those, the password that the Redis client (queue_url_parse) or libpq
 * (PQconninfoParse) reads from the rendered URL must not be the real one.
 * The standard webhook secret is cleared before rendering: its mask "***"
 * is not a whsec_ value and is refused by design. */
#include "queue/queue_internal.h"
#include "relay/config.h"
#include "relay/mem.h"
#include "tests/fuzz/fuzz_util.h"

#include <libpq-fe.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_setup();
    return 0;
}

/* Replaces a string of conf (owned, relay_malloc'd) by a copy of value. */
static void set_string(char **slot, const char *value)
{
    char *copy = relay_strdup(value);
    FUZZ_CHECK(copy != NULL, "out of memory in the harness");
    relay_free(*slot);
    *slot = copy;
}

/* Renders conf into a fresh config loaded back from the rendering; NULL
 * only on ENOMEM. The rendering is left in out. */
static struct relay_config *reload(const struct relay_config *conf, struct relay_buf *out)
{
    struct relay_error err = {0};
    relay_buf_reset(out);
    if (config_render(conf, out) != 0) {
        return NULL; /* ENOMEM */
    }
    const char *path = fuzz_scratch_file((const uint8_t *)out->data, out->len);
    FUZZ_CHECK(path != NULL, "cannot write the scratch file");
    struct relay_config *again = config_load(path, &err);
    if (again == NULL) {
        fprintf(stderr, "rendered config does not load: %s\n%s\n", err.msg, out->data);
        FUZZ_CHECK(err.code == RELAY_ENOMEM, "config_render output does not load back");
    }
    return again;
}

/* The password the Redis client would send for url, or NULL. */
static char *redis_password(const char *url)
{
    struct queue_url u;
    struct relay_error err = {0};
    char *pw = NULL;
    if (queue_url_parse(url, &u, &err) == 0) {
        pw = u.password != NULL ? relay_strdup(u.password) : NULL;
        queue_url_fini(&u);
    }
    return pw;
}

/* The password libpq would send for conninfo (URI or key=value), or NULL. */
static char *postgres_password(const char *conninfo)
{
    char *pw = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
    for (PQconninfoOption *o = opts; o != NULL && o->keyword != NULL; o++) {
        if (strcmp(o->keyword, "password") == 0 && o->val != NULL) {
            pw = relay_strdup(o->val);
        }
    }
    PQconninfoFree(opts);
    return pw;
}

/* A secret URL's password must not survive the masking: the client that
 * reads the masked URL must not find the same password in it. */
static void check_masked(char *(*password)(const char *), const char *url, const char *masked,
                         const char *what)
{
    char *before = password(url);
    char *after = password(masked);
    if (before != NULL && before[0] != '\0' && strcmp(before, "***") != 0 && after != NULL &&
        strcmp(before, after) == 0) {
        fprintf(stderr, "%s: value %s rendered as %s\n", what, url, masked);
        FUZZ_CHECK(0, "config_render shows a password");
    }
    relay_free(before);
    relay_free(after);
}

static void check_reload(struct relay_config *conf)
{
    struct relay_buf first, second;
    relay_buf_init(&first);
    relay_buf_init(&second);
    set_string(&conf->supabase.standard_webhook_secret, "");
    struct relay_config *again = reload(conf, &first);
    if (again == NULL) {
        goto out;
    }
    check_masked(redis_password, conf->redis.url, again->redis.url, "redis.url");
    check_masked(postgres_password, conf->postgres.url, again->postgres.url, "postgres.url");
    /* Masking is lossy by design; every other value must survive as is. */
    set_string(&conf->redis.url, "");
    set_string(&conf->postgres.url, "");
    set_string(&again->redis.url, "");
    set_string(&again->postgres.url, "");
    relay_buf_reset(&first);
    if (config_render(conf, &first) == 0 && config_render(again, &second) == 0 &&
        (first.len != second.len || memcmp(first.data, second.data, first.len) != 0)) {
        fprintf(stderr, "first rendering:\n%s\nsecond:\n%s\n", first.data, second.data);
        FUZZ_CHECK(0, "config_render -> config_load changed a value");
    }
    config_destroy(again);
out:
    relay_buf_fini(&first);
    relay_buf_fini(&second);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct relay_error err = {0};
    const char *path = fuzz_scratch_file(data, size);
    FUZZ_CHECK(path != NULL, "cannot write the scratch file");
    struct relay_config *conf = config_load(path, &err);
    fuzz_note("config_load: %s", conf != NULL ? "loaded" : err.msg);
    if (conf == NULL) {
        FUZZ_CHECK(err.code == RELAY_ECONFIG || err.code == RELAY_ENOMEM,
                   "config_load: unexpected error code");
        FUZZ_CHECK(err.msg[0] != '\0', "config_load: error without a message");
        return 0;
    }
    check_reload(conf);
    config_destroy(conf);
    return 0;
}
