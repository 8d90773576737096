/* The relay's configuration: one YAML file (libcyaml schema tables in
 * config.c), then SYNCRELAY_<SECTION>_<KEY> environment overrides, on top
 * of built-in defaults that run a working relay with no file at all.
 * Built once at start-up, then immutable and shared read-only by every
 * thread. Strings are owned by the struct and freed by config_destroy. */
#ifndef RELAY_RELAY_CONFIG_H
#define RELAY_RELAY_CONFIG_H

#include "relay/buf.h"
#include "relay/error.h"

#include <stdbool.h>

struct config_http {
    char *listen;                /* "127.0.0.1:8080"; civetweb listening_ports syntax */
    unsigned threads;            /* civetweb worker threads */
    unsigned max_connections;    /* queued + served connections at once */
    unsigned body_limit_bytes;   /* 413 above this; default 1 MiB */
    unsigned request_timeout_ms; /* civetweb request_timeout_ms */
    char *tls_cert;              /* PEM with key; HTTPS when set */
};

struct config_redis {
    char *url;           /* redis://host:port/db or unix:///path; empty: run-local decides */
    char *prefix;        /* key prefix P, default "syncrelay" */
    unsigned timeout_ms; /* connect and command timeout */
    unsigned dedupe_ttl_s;
};

struct config_twenty {
    char *secret;        /* webhook HMAC secret; secret */
    bool allow_unsigned; /* explicit opt-in for servers that sign nothing */
    unsigned timestamp_window_s;
    char *url;     /* REST base for the sink, "" disables the sink */
    char *api_key; /* secret */
    unsigned rate_limit_per_min;
    unsigned workers;
    bool hard_delete; /* person.destroyed / op destroy: hard delete (default soft) */
};

struct config_supabase {
    char *secret;                  /* shared secret; secret */
    char *secret_header;           /* default "X-Syncrelay-Secret" */
    char *standard_webhook_secret; /* "whsec_..." enables Standard Webhooks; secret */
};

struct config_postgres {
    char *url; /* libpq URI or conninfo; "" disables the sink; secret (may hold a password) */
    unsigned workers;
    bool hard_delete;
};

struct config_sqlite {
    char *path; /* default "./syncrelay.db"; "off" disables the sink */
    bool hard_delete;
};

struct config_bigquery {
    char *project; /* "" disables the sink */
    char *dataset;
    char *table;
    char *endpoint;    /* default https://bigquery.googleapis.com */
    char *token_url;   /* overrides the key file's token_uri */
    char *token;       /* static token; secret */
    char *credentials; /* service-account key file (GOOGLE_APPLICATION_CREDENTIALS) */
    char *metadata_url; /* GCE metadata server base */
    unsigned workers;
    unsigned timeout_ms;
};

struct config_workers {
    unsigned batch_size;      /* events per take, default 200 */
    unsigned heartbeat_ttl_s; /* a consumer whose heartbeat is older is dead */
    unsigned grace_ms;        /* SIGTERM: finish or return the batch within this */
};

struct config_retry {
    unsigned base_ms;
    unsigned cap_ms;
    unsigned max_attempts;
    unsigned dead_cap; /* 0: dead-letter lists are never trimmed */
};

struct config_log {
    char *level;  /* error|warn|info|debug */
    char *format; /* logfmt|json */
};

struct config_mapping {
    char *path; /* "" uses the compiled-in deploy/mappings/contact.yaml */
};

struct relay_config {
    struct config_http http;
    struct config_redis redis;
    struct config_twenty twenty;
    struct config_supabase supabase;
    struct config_postgres postgres;
    struct config_sqlite sqlite;
    struct config_bigquery bigquery;
    struct config_workers workers;
    struct config_retry retry;
    struct config_log log;
    struct config_mapping mapping;
};

/* Loads defaults, then path (NULL: no file), then the environment.
 * On failure returns NULL and err->msg is "file:line: key: reason"
 * (or "env SYNCRELAY_X: reason"). The caller owns the result. */
struct relay_config *config_load(const char *path, struct relay_error *err);
void config_destroy(struct relay_config *conf); /* NULL is a no-op */

/* Appends the effective config as YAML with secrets masked ("***"). */
int config_render(const struct relay_config *conf, struct relay_buf *out) RELAY_MUST_CHECK;

#endif
