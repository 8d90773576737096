/* config_load: built-in defaults, then the YAML file (config_file.c), then
 * SYNCRELAY_* environment overrides (config_env.c), then validation
 * (config_validate.c). Also the small helpers the steps share. The result
 * is immutable after load; every string in it is owned and never NULL. */
#include "relay/config_internal.h"
#include "relay/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* A copy of config_defaults with every string duplicated. */
static struct relay_config *defaults_dup(struct relay_error *err)
{
    struct relay_config *conf = relay_calloc(1, sizeof(*conf));
    if (conf == NULL) {
        relay_error_set(err, RELAY_ENOMEM, "config: out of memory");
        return NULL;
    }
    memcpy(conf, &config_defaults, sizeof(*conf));
    for (int s = 0; config_sections[s].key != NULL; s++) {
        const cyaml_schema_field_t *fields = config_sections[s].value.mapping.fields;
        for (int k = 0; fields[k].key != NULL; k++) {
            if (fields[k].value.type != CYAML_STRING) {
                continue;
            }
            /* Forget the borrowed literal first, so a failure frees only copies. */
            char **slot = config_key_addr(conf, s, k);
            *slot = NULL;
        }
    }
    for (int s = 0; config_sections[s].key != NULL; s++) {
        const cyaml_schema_field_t *fields = config_sections[s].value.mapping.fields;
        for (int k = 0; fields[k].key != NULL; k++) {
            if (fields[k].value.type != CYAML_STRING) {
                continue;
            }
            char *const *def = config_key_addr(&config_defaults, s, k);
            if (config_set_string(conf, s, k, *def, err) != 0) {
                config_destroy(conf);
                return NULL;
            }
        }
    }
    return conf;
}

struct relay_config *config_load(const char *path, struct relay_error *err)
{
    struct config_ctx *ctx = NULL;
    struct relay_config *result = NULL;

    ctx = relay_calloc(1, sizeof(*ctx));
    if (ctx == NULL) {
        relay_error_set(err, RELAY_ENOMEM, "config: out of memory");
        goto out;
    }
    ctx->path = path;
    ctx->conf = defaults_dup(err);
    if (ctx->conf == NULL) {
        goto out;
    }
    if (path != NULL && config_file_apply(ctx, err) != 0) {
        goto out;
    }
    if (config_env_apply(ctx, err) != 0 || config_validate(ctx, err) != 0) {
        goto out;
    }
    result = ctx->conf;
    ctx->conf = NULL;
out:
    if (ctx != NULL) {
        config_destroy(ctx->conf);
        relay_free(ctx);
    }
    return result;
}

void config_destroy(struct relay_config *conf)
{
    if (conf == NULL) {
        return;
    }
    config_free_strings(conf);
    relay_free(conf);
}

int config_set_string(struct relay_config *conf, int s, int k, const char *value,
                      struct relay_error *err)
{
    char *copy = relay_strdup(value);
    if (copy == NULL) {
        return relay_error_set(err, RELAY_ENOMEM, "config: out of memory");
    }
    char **slot = config_key_addr(conf, s, k);
    relay_free(*slot);
    *slot = copy;
    return 0;
}

int config_parse_bool(const char *text)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(text, yes[i]) == 0) {
            return 1;
        }
        if (strcasecmp(text, no[i]) == 0) {
            return 0;
        }
    }
    return -1;
}

int config_parse_unsigned(const char *text, unsigned *out)
{
    if (text[0] < '0' || text[0] > '9') {
        return -1; /* no sign, no leading space */
    }
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || v > UINT_MAX) {
        return -1;
    }
    *out = (unsigned)v;
    return 0;
}

/* Reads all of fd, at most limit bytes, into a new NUL-terminated string. */
static int read_all(int fd, const char *file, size_t limit, char **out, struct relay_error *err)
{
    char *data = relay_malloc(limit + 1);
    size_t len = 0;
    if (data == NULL) {
        return relay_error_set(err, RELAY_ENOMEM, "config: out of memory");
    }
    for (;;) {
        ssize_t n = read(fd, data + len, limit + 1 - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            int saved = errno;
            relay_free(data);
            return relay_error_errno(err, RELAY_ECONFIG, saved, file);
        }
        if (n == 0 || len + (size_t)n > limit) {
            len += (size_t)n;
            break;
        }
        len += (size_t)n;
    }
    if (len > limit) {
        relay_free(data);
        return relay_error_set(err, RELAY_ECONFIG, "%s: larger than %zu bytes", file, limit);
    }
    data[len] = '\0';
    if (strlen(data) != len) {
        relay_free(data);
        return relay_error_set(err, RELAY_ECONFIG, "%s: contains a NUL byte", file);
    }
    *out = data;
    return 0;
}

int config_read_file(const char *file, size_t limit, char **out, struct relay_error *err)
{
    *out = NULL;
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return relay_error_errno(err, RELAY_ECONFIG, errno, file);
    }
    int rc = read_all(fd, file, limit, out, err);
    close(fd);
    return rc;
}

int config_read_secret_file(const char *file, char **out, struct relay_error *err)
{
    char *data = NULL;
    if (config_read_file(file, CONFIG_FILE_MAX, &data, err) != 0) {
        return -1;
    }
    size_t len = strlen(data);
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r')) {
        data[--len] = '\0';
    }
    *out = data;
    return 0;
}

void config_where(const struct config_ctx *ctx, int s, int k, char *buf, size_t size)
{
    const struct config_origin *o = &ctx->origin[s][k];
    const char *section = config_sections[s].key;
    const char *key = config_sections[s].value.mapping.fields[k].key;
    if (o->env[0] != '\0') {
        snprintf(buf, size, "env %s", o->env);
    } else if (o->line > 0 && ctx->path != NULL) {
        snprintf(buf, size, "%s:%d: %s.%s", ctx->path, o->line, section, key);
    } else {
        snprintf(buf, size, "%s.%s", section, key);
    }
}
