/* The config's key list: one libcyaml schema table per section, the
 * top-level mapping of sections, the built-in defaults and the validation
 * rules. Everything else in config_*.c walks these tables. Invariant: every
 * schema key has exactly one rule and one default (test_config checks). */
#include "relay/config_internal.h"
#include "relay/log.h"
#include "relay/mem.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define OPT CYAML_FLAG_OPTIONAL
#define STR(key, type, member)                                                                     \
    CYAML_FIELD_STRING_PTR(key, OPT | CYAML_FLAG_POINTER, type, member, 0, CYAML_UNLIMITED)
#define UINT(key, type, member) CYAML_FIELD_UINT(key, OPT, type, member)
#define BOOL(key, type, member) CYAML_FIELD_BOOL(key, OPT, type, member)

static const cyaml_schema_field_t http_fields[] = {
    STR("listen", struct config_http, listen),
    UINT("threads", struct config_http, threads),
    UINT("max_connections", struct config_http, max_connections),
    UINT("body_limit_bytes", struct config_http, body_limit_bytes),
    UINT("request_timeout_ms", struct config_http, request_timeout_ms),
    STR("tls_cert", struct config_http, tls_cert),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t redis_fields[] = {
    STR("url", struct config_redis, url),
    STR("prefix", struct config_redis, prefix),
    UINT("timeout_ms", struct config_redis, timeout_ms),
    UINT("dedupe_ttl_s", struct config_redis, dedupe_ttl_s),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t twenty_fields[] = {
    STR("secret", struct config_twenty, secret),
    BOOL("allow_unsigned", struct config_twenty, allow_unsigned),
    UINT("timestamp_window_s", struct config_twenty, timestamp_window_s),
    STR("url", struct config_twenty, url),
    STR("api_key", struct config_twenty, api_key),
    UINT("rate_limit_per_min", struct config_twenty, rate_limit_per_min),
    UINT("workers", struct config_twenty, workers),
    BOOL("hard_delete", struct config_twenty, hard_delete),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t supabase_fields[] = {
    STR("secret", struct config_supabase, secret),
    STR("secret_header", struct config_supabase, secret_header),
    STR("standard_webhook_secret", struct config_supabase, standard_webhook_secret),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t postgres_fields[] = {
    STR("url", struct config_postgres, url),
    UINT("workers", struct config_postgres, workers),
    BOOL("hard_delete", struct config_postgres, hard_delete),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t sqlite_fields[] = {
    STR("path", struct config_sqlite, path),
    BOOL("hard_delete", struct config_sqlite, hard_delete),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t bigquery_fields[] = {
    STR("project", struct config_bigquery, project),
    STR("dataset", struct config_bigquery, dataset),
    STR("table", struct config_bigquery, table),
    STR("endpoint", struct config_bigquery, endpoint),
    STR("token_url", struct config_bigquery, token_url),
    STR("token", struct config_bigquery, token),
    STR("credentials", struct config_bigquery, credentials),
    STR("metadata_url", struct config_bigquery, metadata_url),
    UINT("workers", struct config_bigquery, workers),
    UINT("timeout_ms", struct config_bigquery, timeout_ms),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t workers_fields[] = {
    UINT("batch_size", struct config_workers, batch_size),
    UINT("heartbeat_ttl_s", struct config_workers, heartbeat_ttl_s),
    UINT("grace_ms", struct config_workers, grace_ms),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t retry_fields[] = {
    UINT("base_ms", struct config_retry, base_ms),
    UINT("cap_ms", struct config_retry, cap_ms),
    UINT("max_attempts", struct config_retry, max_attempts),
    UINT("dead_cap", struct config_retry, dead_cap),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t log_fields[] = {
    STR("level", struct config_log, level),
    STR("format", struct config_log, format),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t mapping_fields[] = {
    STR("path", struct config_mapping, path),
    CYAML_FIELD_END,
};

#define SECTION(name, member, fields)                                                              \
    CYAML_FIELD_MAPPING(name, OPT, struct relay_config, member, fields)

const cyaml_schema_field_t config_sections[] = {
    SECTION("http", http, http_fields),
    SECTION("redis", redis, redis_fields),
    SECTION("twenty", twenty, twenty_fields),
    SECTION("supabase", supabase, supabase_fields),
    SECTION("postgres", postgres, postgres_fields),
    SECTION("sqlite", sqlite, sqlite_fields),
    SECTION("bigquery", bigquery, bigquery_fields),
    SECTION("workers", workers, workers_fields),
    SECTION("retry", retry, retry_fields),
    SECTION("log", log, log_fields),
    SECTION("mapping", mapping, mapping_fields),
    CYAML_FIELD_END,
};

const cyaml_schema_value_t config_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct relay_config, config_sections),
};

/* String literals are never written through: config_load copies every
 * default string before the struct is handed out. */
const struct relay_config config_defaults = {
    .http = {.listen = "127.0.0.1:8080",
             .threads = 8,
             .max_connections = 256,
             .body_limit_bytes = 1048576,
             .request_timeout_ms = 5000,
             .tls_cert = ""},
    .redis = {.url = "redis://127.0.0.1:6379",
              .prefix = "syncrelay",
              .timeout_ms = 1000,
              .dedupe_ttl_s = 86400},
    .twenty = {.secret = "",
               .allow_unsigned = false,
               .timestamp_window_s = 300,
               .url = "",
               .api_key = "",
               .rate_limit_per_min = 100,
               .workers = 1,
               .hard_delete = false},
    .supabase = {.secret = "",
                 .secret_header = "X-Syncrelay-Secret",
                 .standard_webhook_secret = ""},
    .postgres = {.url = "", .workers = 2, .hard_delete = false},
    .sqlite = {.path = "./syncrelay.db", .hard_delete = false},
    .bigquery = {.project = "",
                 .dataset = "syncrelay",
                 .table = "contacts_changes",
                 .endpoint = "https://bigquery.googleapis.com",
                 .token_url = "",
                 .token = "",
                 .credentials = "",
                 .metadata_url = "http://metadata.google.internal",
                 .workers = 1,
                 .timeout_ms = 10000},
    .workers = {.batch_size = 200, .heartbeat_ttl_s = 15, .grace_ms = 10000},
    .retry = {.base_ms = 500, .cap_ms = 300000, .max_attempts = 12, .dead_cap = 0},
    .log = {.level = "info", .format = "logfmt"},
    .mapping = {.path = ""},
};

static const char *check_http_url(const char *v)
{
    if (strncmp(v, "http://", 7) == 0 || strncmp(v, "https://", 8) == 0) {
        return strchr(v, '/')[2] != '\0' ? NULL : "must name a host after the scheme";
    }
    return "must start with http:// or https://";
}

static const char *check_optional_http_url(const char *v)
{
    return v[0] == '\0' ? NULL : check_http_url(v);
}

static const char *check_redis_url(const char *v)
{
    if (v[0] == '\0') {
        return NULL; /* run-local decides */
    }
    if ((strncmp(v, "redis://", 8) == 0 && v[8] != '\0') ||
        (strncmp(v, "unix://", 7) == 0 && v[7] != '\0')) {
        return NULL;
    }
    return "must start with redis:// or unix://";
}

static const char *check_not_empty(const char *v)
{
    return v[0] != '\0' ? NULL : "must not be empty";
}

/* Key prefixes and header names: printable, no spaces, no colon in names. */
static const char *check_token(const char *v)
{
    if (v[0] == '\0') {
        return "must not be empty";
    }
    for (const char *p = v; *p != '\0'; p++) {
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.') {
            return "may hold only letters, digits, '-', '_' and '.'";
        }
    }
    return NULL;
}

static const char *check_identifier(const char *v)
{
    if (v[0] == '\0') {
        return "must not be empty";
    }
    for (const char *p = v; *p != '\0'; p++) {
        if (!isalnum((unsigned char)*p) && *p != '_') {
            return "may hold only letters, digits and '_'";
        }
    }
    return NULL;
}

static const char *check_whsec(const char *v)
{
    if (v[0] == '\0' || (strncmp(v, "whsec_", 6) == 0 && v[6] != '\0')) {
        return NULL;
    }
    return "must start with whsec_";
}

static const char *check_log_level(const char *v)
{
    return log_level_parse(v) >= 0 ? NULL : "must be one of error, warn, info, debug";
}

static const char *check_log_format(const char *v)
{
    return log_format_parse(v) >= 0 ? NULL : "must be one of logfmt, json";
}

#define MAX_U 4294967295u
#define HOUR_MS 3600000u
#define DAY_S 86400u

const struct config_rule config_rules[] = {
    {"http", "listen", 0, 0, config_check_listen, 0},
    {"http", "threads", 1, 1024, NULL, 0},
    {"http", "max_connections", 1, 65536, NULL, 0},
    {"http", "body_limit_bytes", 1, 1073741824u, NULL, 0},
    {"http", "request_timeout_ms", 1, HOUR_MS, NULL, 0},
    {"http", "tls_cert", 0, 0, NULL, 0},
    {"redis", "url", 0, 0, check_redis_url, CONFIG_SECRET_URL},
    {"redis", "prefix", 0, 0, check_token, 0},
    {"redis", "timeout_ms", 1, 600000, NULL, 0},
    {"redis", "dedupe_ttl_s", 1, 365 * DAY_S, NULL, 0},
    {"twenty", "secret", 0, 0, NULL, CONFIG_SECRET},
    {"twenty", "allow_unsigned", 0, 0, NULL, 0},
    {"twenty", "timestamp_window_s", 1, DAY_S, NULL, 0},
    {"twenty", "url", 0, 0, check_optional_http_url, 0},
    {"twenty", "api_key", 0, 0, NULL, CONFIG_SECRET},
    {"twenty", "rate_limit_per_min", 1, 100000, NULL, 0},
    {"twenty", "workers", 1, 64, NULL, 0},
    {"twenty", "hard_delete", 0, 0, NULL, 0},
    {"supabase", "secret", 0, 0, NULL, CONFIG_SECRET},
    {"supabase", "secret_header", 0, 0, check_token, 0},
    {"supabase", "standard_webhook_secret", 0, 0, check_whsec, CONFIG_SECRET},
    {"postgres", "url", 0, 0, NULL, CONFIG_SECRET_URL | CONFIG_CONNINFO},
    {"postgres", "workers", 1, 64, NULL, 0},
    {"postgres", "hard_delete", 0, 0, NULL, 0},
    {"sqlite", "path", 0, 0, check_not_empty, 0},
    {"sqlite", "hard_delete", 0, 0, NULL, 0},
    {"bigquery", "project", 0, 0, NULL, 0},
    {"bigquery", "dataset", 0, 0, check_identifier, 0},
    {"bigquery", "table", 0, 0, check_identifier, 0},
    {"bigquery", "endpoint", 0, 0, check_http_url, 0},
    {"bigquery", "token_url", 0, 0, check_optional_http_url, 0},
    {"bigquery", "token", 0, 0, NULL, CONFIG_SECRET},
    {"bigquery", "credentials", 0, 0, NULL, 0},
    {"bigquery", "metadata_url", 0, 0, check_http_url, 0},
    {"bigquery", "workers", 1, 64, NULL, 0},
    {"bigquery", "timeout_ms", 1, 600000, NULL, 0},
    {"workers", "batch_size", 1, 10000, NULL, 0},
    {"workers", "heartbeat_ttl_s", 1, 3600, NULL, 0},
    {"workers", "grace_ms", 0, 600000, NULL, 0},
    {"retry", "base_ms", 1, HOUR_MS, NULL, 0},
    {"retry", "cap_ms", 1, 24 * HOUR_MS, NULL, 0},
    {"retry", "max_attempts", 1, 1000, NULL, 0},
    {"retry", "dead_cap", 0, MAX_U, NULL, 0},
    {"log", "level", 0, 0, check_log_level, 0},
    {"log", "format", 0, 0, check_log_format, 0},
    {"mapping", "path", 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, NULL, 0},
};

int config_section_find(const char *name)
{
    for (int s = 0; config_sections[s].key != NULL; s++) {
        if (strcmp(config_sections[s].key, name) == 0) {
            return s;
        }
    }
    return -1;
}

int config_key_find(int s, const char *name)
{
    const cyaml_schema_field_t *fields = config_sections[s].value.mapping.fields;
    for (int k = 0; fields[k].key != NULL; k++) {
        if (strcmp(fields[k].key, name) == 0) {
            return k;
        }
    }
    return -1;
}

const struct config_rule *config_rule_get(int s, int k)
{
    const char *section = config_sections[s].key;
    const char *key = config_sections[s].value.mapping.fields[k].key;
    for (const struct config_rule *r = config_rules; r->section != NULL; r++) {
        if (strcmp(r->section, section) == 0 && strcmp(r->key, key) == 0) {
            return r;
        }
    }
    return NULL;
}

void *config_key_addr(const struct relay_config *conf, int s, int k)
{
    const cyaml_schema_field_t *field = &config_sections[s].value.mapping.fields[k];
    return (char *)conf + config_sections[s].data_offset + field->data_offset;
}

void config_free_strings(struct relay_config *conf)
{
    for (int s = 0; config_sections[s].key != NULL; s++) {
        const cyaml_schema_field_t *fields = config_sections[s].value.mapping.fields;
        for (int k = 0; fields[k].key != NULL; k++) {
            if (fields[k].value.type == CYAML_STRING) {
                char **slot = config_key_addr(conf, s, k);
                relay_free(*slot);
                *slot = NULL;
            }
        }
    }
}

void config_env_name(int s, int k, const char *suffix, char *buf, size_t size)
{
    snprintf(buf, size, CONFIG_ENV_PREFIX "%s_%s%s", config_sections[s].key,
             config_sections[s].value.mapping.fields[k].key, suffix);
    for (char *p = buf; *p != '\0'; p++) {
        *p = (char)toupper((unsigned char)*p);
    }
}
