/* The environment step of config_load: SYNCRELAY_<SECTION>_<KEY> for every
 * key of the schema tables, SYNCRELAY_<SECTION>_<KEY>_FILE for secrets, and
 * GOOGLE_APPLICATION_CREDENTIALS for bigquery.credentials (overridden by
 * SYNCRELAY_BIGQUERY_CREDENTIALS). The environment beats the file. */
#include "relay/config_internal.h"
#include "relay/mem.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void set_origin(struct config_ctx *ctx, int s, int k, const char *name)
{
    snprintf(ctx->origin[s][k].env, sizeof(ctx->origin[s][k].env), "%s", name);
}

/* Sets key k of section s from the text of environment variable name. */
static int apply_value(struct config_ctx *ctx, int s, int k, const char *name, const char *text,
                       struct relay_error *err)
{
    const cyaml_schema_field_t *field = &config_sections[s].value.mapping.fields[k];
    void *slot = config_key_addr(ctx->conf, s, k);
    set_origin(ctx, s, k, name);
    switch (field->value.type) {
    case CYAML_UINT:
        if (config_parse_unsigned(text, (unsigned *)slot) != 0) {
            return relay_error_set(err, RELAY_ECONFIG, "env %s: must be a number", name);
        }
        return 0;
    case CYAML_BOOL: {
        int b = config_parse_bool(text);
        if (b < 0) {
            return relay_error_set(err, RELAY_ECONFIG, "env %s: must be true or false", name);
        }
        *(bool *)slot = b == 1;
        return 0;
    }
    default:
        return config_set_string(ctx->conf, s, k, text, err);
    }
}

/* SYNCRELAY_X_FILE for a secret key: the named file holds the value. */
static int apply_file(struct config_ctx *ctx, int s, int k, const char *plain_name,
                      struct relay_error *err)
{
    char name[CONFIG_NAME_MAX];
    config_env_name(s, k, "_FILE", name, sizeof(name));
    const char *file = getenv(name);
    if (file == NULL) {
        return 0;
    }
    if (getenv(plain_name) != NULL) {
        return relay_error_set(err, RELAY_ECONFIG, "env %s: conflicts with %s", name, plain_name);
    }
    struct relay_error ferr = {0};
    char *secret = NULL;
    if (config_read_secret_file(file, &secret, &ferr) != 0) {
        if (ferr.code == RELAY_ENOMEM) {
            return relay_error_set(err, RELAY_ENOMEM, "%s", ferr.msg);
        }
        return relay_error_set(err, ferr.code, "env %s: %s", name, ferr.msg);
    }
    set_origin(ctx, s, k, name);
    int rc = config_set_string(ctx->conf, s, k, secret, err);
    relay_free(secret);
    return rc;
}

static int apply_google_credentials(struct config_ctx *ctx, struct relay_error *err)
{
    static const char name[] = "GOOGLE_APPLICATION_CREDENTIALS";
    const char *file = getenv(name);
    if (file == NULL) {
        return 0;
    }
    int s = config_section_find("bigquery");
    int k = config_key_find(s, "credentials");
    set_origin(ctx, s, k, name);
    return config_set_string(ctx->conf, s, k, file, err);
}

int config_env_apply(struct config_ctx *ctx, struct relay_error *err)
{
    if (apply_google_credentials(ctx, err) != 0) {
        return -1;
    }
    for (int s = 0; config_sections[s].key != NULL; s++) {
        const cyaml_schema_field_t *fields = config_sections[s].value.mapping.fields;
        for (int k = 0; fields[k].key != NULL; k++) {
            char name[CONFIG_NAME_MAX];
            config_env_name(s, k, "", name, sizeof(name));
            const char *text = getenv(name);
            if (text != NULL && apply_value(ctx, s, k, name, text, err) != 0) {
                return -1;
            }
            unsigned secret = CONFIG_SECRET | CONFIG_SECRET_URL;
            if ((config_rule_get(s, k)->flags & secret) != 0 &&
                apply_file(ctx, s, k, name, err) != 0) {
                return -1;
            }
        }
    }
    return 0;
}
