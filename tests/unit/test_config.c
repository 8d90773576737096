/* Unit tests for relay/config*.c: defaults, file, environment, *_file
 * secrets, every validation error with its exact message, rendering with
 * masked secrets, and the example file. `test_config --torture` instead
 * makes each allocation of config_load fail in turn (label torture).
 * Runs in a private temp directory so messages say "relay.yaml:N: ...". */
#include "relay/config.h"
#include "relay/config_internal.h"
#include "relay/mem.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

extern char **environ;

static char tmp_dir[] = "/tmp/test_config.XXXXXX";

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

/* Removes every variable config_load reads, so tests start clean. */
static void clear_env(void)
{
    for (;;) {
        char name[256] = "";
        for (char **e = environ; *e != NULL; e++) {
            if (strncmp(*e, "SYNCRELAY_", 10) == 0 ||
                strncmp(*e, "GOOGLE_APPLICATION_CREDENTIALS=", 31) == 0) {
                snprintf(name, sizeof(name), "%.*s", (int)strcspn(*e, "="), *e);
                break;
            }
        }
        if (name[0] == '\0') {
            return;
        }
        unsetenv(name);
    }
}

static int setup(void **state)
{
    (void)state;
    clear_env();
    return 0;
}

static struct relay_config *load_yaml(const char *yaml, struct relay_error *err)
{
    write_file("relay.yaml", yaml);
    return config_load("relay.yaml", err);
}

static char *render(const struct relay_config *c)
{
    struct relay_buf b;
    relay_buf_init(&b);
    assert_int_equal(config_render(c, &b), 0);
    return b.data;
}

static void expect_error(const char *yaml, const char *message)
{
    struct relay_error err = {0};
    struct relay_config *c = load_yaml(yaml, &err);
    if (c != NULL) {
        fail_msg("loaded, expected error %s for:\n%s", message, yaml);
    }
    assert_string_equal(err.msg, message);
    assert_int_equal(err.code, RELAY_ECONFIG);
}

static void expect_env_error(const char *name, const char *value, const char *message)
{
    struct relay_error err = {0};
    setenv(name, value, 1);
    struct relay_config *c = config_load(NULL, &err);
    unsetenv(name);
    assert_null(c);
    assert_string_equal(err.msg, message);
}

static void defaults_without_file(void **state)
{
    (void)state;
    struct relay_error err = {0};
    struct relay_config *c = config_load(NULL, &err);
    assert_non_null(c);
    assert_string_equal(c->http.listen, "127.0.0.1:8080");
    assert_int_equal(c->http.threads, 8);
    assert_int_equal(c->http.max_connections, 256);
    assert_int_equal(c->http.body_limit_bytes, 1048576);
    assert_int_equal(c->http.request_timeout_ms, 5000);
    assert_string_equal(c->http.tls_cert, "");
    assert_string_equal(c->redis.url, "redis://127.0.0.1:6379");
    assert_string_equal(c->redis.prefix, "syncrelay");
    assert_int_equal(c->redis.timeout_ms, 1000);
    assert_int_equal(c->redis.dedupe_ttl_s, 86400);
    assert_string_equal(c->twenty.secret, "");
    assert_false(c->twenty.allow_unsigned);
    assert_int_equal(c->twenty.timestamp_window_s, 300);
    assert_string_equal(c->twenty.url, "");
    assert_string_equal(c->twenty.api_key, "");
    assert_int_equal(c->twenty.rate_limit_per_min, 100);
    assert_int_equal(c->twenty.workers, 1);
    assert_false(c->twenty.hard_delete);
    assert_string_equal(c->supabase.secret, "");
    assert_string_equal(c->supabase.secret_header, "X-Syncrelay-Secret");
    assert_string_equal(c->supabase.standard_webhook_secret, "");
    assert_string_equal(c->postgres.url, "");
    assert_int_equal(c->postgres.workers, 2);
    assert_false(c->postgres.hard_delete);
    assert_string_equal(c->sqlite.path, "./syncrelay.db");
    assert_false(c->sqlite.hard_delete);
    assert_string_equal(c->bigquery.project, "");
    assert_string_equal(c->bigquery.dataset, "syncrelay");
    assert_string_equal(c->bigquery.table, "contacts_changes");
    assert_string_equal(c->bigquery.endpoint, "https://bigquery.googleapis.com");
    assert_string_equal(c->bigquery.token_url, "");
    assert_string_equal(c->bigquery.token, "");
    assert_string_equal(c->bigquery.credentials, "");
    assert_string_equal(c->bigquery.metadata_url, "http://metadata.google.internal");
    assert_int_equal(c->bigquery.workers, 1);
    assert_int_equal(c->bigquery.timeout_ms, 10000);
    assert_int_equal(c->workers.batch_size, 200);
    assert_int_equal(c->workers.heartbeat_ttl_s, 15);
    assert_int_equal(c->workers.grace_ms, 10000);
    assert_int_equal(c->retry.base_ms, 500);
    assert_int_equal(c->retry.cap_ms, 300000);
    assert_int_equal(c->retry.max_attempts, 12);
    assert_int_equal(c->retry.dead_cap, 0);
    assert_string_equal(c->log.level, "info");
    assert_string_equal(c->log.format, "logfmt");
    assert_string_equal(c->mapping.path, "");
    config_destroy(c);
    config_destroy(NULL);
}

/* Every schema key has one rule, every rule a key, and strings are never NULL. */
static void schema_rules_and_strings_agree(void **state)
{
    (void)state;
    struct relay_error err = {0};
    struct relay_config *c = config_load(NULL, &err);
    assert_non_null(c);
    int keys = 0;
    for (int s = 0; config_sections[s].key != NULL; s++) {
        assert_true(s < CONFIG_MAX_SECTIONS);
        const cyaml_schema_field_t *fields = config_sections[s].value.mapping.fields;
        for (int k = 0; fields[k].key != NULL; k++, keys++) {
            assert_true(k < CONFIG_MAX_KEYS);
            assert_non_null(config_rule_get(s, k));
            if (fields[k].value.type == CYAML_STRING) {
                assert_non_null(*(char **)config_key_addr(c, s, k));
            }
        }
    }
    int rules = 0;
    for (const struct config_rule *r = config_rules; r->section != NULL; r++, rules++) {
        int s = config_section_find(r->section);
        assert_true(s >= 0);
        assert_true(config_key_find(s, r->key) >= 0);
    }
    assert_int_equal(keys, rules);
    config_destroy(c);
}

static void file_sets_only_its_keys(void **state)
{
    (void)state;
    struct relay_error err = {0};
    struct relay_config *c = load_yaml("# relay\n"
                                       "http:\n"
                                       "  listen: 9090\n"
                                       "  threads: 4\n"
                                       "redis:\n"
                                       "  prefix: other\n"
                                       "twenty:\n"
                                       "  allow_unsigned: yes\n"
                                       "  hard_delete: true\n"
                                       "retry: {dead_cap: 0x10}\n"
                                       "bigquery:\n"
                                       "  project: \"\"\n",
                                       &err);
    assert_non_null(c);
    assert_string_equal(c->http.listen, "9090");
    assert_int_equal(c->http.threads, 4);
    assert_int_equal(c->http.max_connections, 256);
    assert_string_equal(c->redis.prefix, "other");
    assert_string_equal(c->redis.url, "redis://127.0.0.1:6379");
    assert_true(c->twenty.allow_unsigned);
    assert_true(c->twenty.hard_delete);
    assert_int_equal(c->retry.dead_cap, 16);
    assert_int_equal(c->retry.base_ms, 500);
    assert_string_equal(c->bigquery.project, "");
    assert_string_equal(c->bigquery.dataset, "syncrelay");
    config_destroy(c);
}

static void empty_files_give_defaults(void **state)
{
    (void)state;
    static const char *const texts[] = {"",           "# nothing\n", "---\n",
                                        "---\n...\n", "{}\n",        "http: {}\n"};
    struct relay_config *def = config_load(NULL, NULL);
    char *want = render(def);
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        struct relay_error err = {0};
        struct relay_config *c = load_yaml(texts[i], &err);
        assert_non_null(c);
        char *got = render(c);
        assert_string_equal(got, want);
        relay_free(got);
        config_destroy(c);
    }
    relay_free(want);
    config_destroy(def);
}

static const char full_yaml[] = "http:\n"
                                "  listen: \"[::1]:8443s,8080\"\n"
                                "  threads: 2\n"
                                "  max_connections: 10\n"
                                "  body_limit_bytes: 1\n"
                                "  request_timeout_ms: 7\n"
                                "  tls_cert: /etc/cert.pem\n"
                                "redis:\n"
                                "  url: unix:///run/redis.sock\n"
                                "  prefix: p-1\n"
                                "  timeout_ms: 3\n"
                                "  dedupe_ttl_s: 4\n"
                                "twenty:\n"
                                "  allow_unsigned: true\n"
                                "  timestamp_window_s: 5\n"
                                "  url: http://127.0.0.1:1/rest\n"
                                "  rate_limit_per_min: 6\n"
                                "  workers: 7\n"
                                "  hard_delete: on\n"
                                "supabase:\n"
                                "  secret_header: X-Other\n"
                                "postgres:\n"
                                "  url: \"host=/tmp dbname=x\"\n"
                                "  workers: 3\n"
                                "  hard_delete: yes\n"
                                "sqlite:\n"
                                "  path: \"a \\\"quoted\\\" path\\tx\"\n"
                                "  hard_delete: true\n"
                                "bigquery:\n"
                                "  project: p\n"
                                "  dataset: d\n"
                                "  table: t\n"
                                "  endpoint: http://127.0.0.1:2\n"
                                "  token_url: http://127.0.0.1:3/token\n"
                                "  credentials: /k.json\n"
                                "  metadata_url: http://127.0.0.1:4\n"
                                "  workers: 8\n"
                                "  timeout_ms: 9\n"
                                "workers:\n"
                                "  batch_size: 10\n"
                                "  heartbeat_ttl_s: 11\n"
                                "  grace_ms: 0\n"
                                "retry:\n"
                                "  base_ms: 13\n"
                                "  cap_ms: 14\n"
                                "  max_attempts: 15\n"
                                "  dead_cap: 4294967295\n"
                                "log:\n"
                                "  level: debug\n"
                                "  format: json\n"
                                "mapping:\n"
                                "  path: /m.yaml\n";

/* Rendering is loadable and stable: load(render(c)) renders the same. */
static void render_round_trips(void **state)
{
    (void)state;
    struct relay_error err = {0};
    struct relay_config *c = load_yaml(full_yaml, &err);
    if (c == NULL) {
        fail_msg("%s", err.msg);
    }
    assert_string_equal(c->sqlite.path, "a \"quoted\" path\tx");
    assert_int_equal(c->retry.dead_cap, 4294967295u);
    char *first = render(c);
    assert_non_null(strstr(first, "  path: \"a \\\"quoted\\\" path\\x09x\"\n"));
    assert_non_null(strstr(first, "\nretry:\n  base_ms: 13\n  cap_ms: 14\n"));
    assert_non_null(strstr(first, "  hard_delete: true\n"));
    struct relay_config *again = load_yaml(first, &err);
    assert_non_null(again);
    char *second = render(again);
    assert_string_equal(first, second);
    relay_free(first);
    relay_free(second);
    config_destroy(c);
    config_destroy(again);
}

static void env_overrides_file(void **state)
{
    (void)state;
    setenv("SYNCRELAY_HTTP_THREADS", "16", 1);
    setenv("SYNCRELAY_HTTP_LISTEN", "0.0.0.0:9000", 1);
    setenv("SYNCRELAY_REDIS_URL", "redis://:pw@127.0.0.1:7000/2", 1);
    setenv("SYNCRELAY_TWENTY_SECRET", "tw", 1);
    setenv("SYNCRELAY_TWENTY_ALLOW_UNSIGNED", "TRUE", 1);
    setenv("SYNCRELAY_SUPABASE_SECRET", "sb", 1);
    setenv("SYNCRELAY_POSTGRES_URL", "postgresql://127.0.0.1/x", 1);
    setenv("SYNCRELAY_SQLITE_PATH", "/tmp/x.db", 1);
    setenv("SYNCRELAY_BIGQUERY_PROJECT", "proj", 1);
    setenv("SYNCRELAY_BIGQUERY_DATASET", "ds", 1);
    setenv("SYNCRELAY_BIGQUERY_TABLE", "tb", 1);
    setenv("SYNCRELAY_BIGQUERY_ENDPOINT", "http://127.0.0.1:1", 1);
    setenv("SYNCRELAY_BIGQUERY_TOKEN_URL", "http://127.0.0.1:2/t", 1);
    setenv("SYNCRELAY_BIGQUERY_TOKEN", "tok", 1);
    setenv("SYNCRELAY_LOG_LEVEL", "warn", 1);
    setenv("SYNCRELAY_MAPPING_PATH", "", 1);
    struct relay_error err = {0};
    struct relay_config *c = load_yaml("http:\n  threads: 4\nmapping:\n  path: /x\n", &err);
    assert_non_null(c);
    assert_int_equal(c->http.threads, 16);
    assert_string_equal(c->http.listen, "0.0.0.0:9000");
    assert_string_equal(c->redis.url, "redis://:pw@127.0.0.1:7000/2");
    assert_string_equal(c->twenty.secret, "tw");
    assert_true(c->twenty.allow_unsigned);
    assert_string_equal(c->supabase.secret, "sb");
    assert_string_equal(c->postgres.url, "postgresql://127.0.0.1/x");
    assert_string_equal(c->sqlite.path, "/tmp/x.db");
    assert_string_equal(c->bigquery.project, "proj");
    assert_string_equal(c->bigquery.dataset, "ds");
    assert_string_equal(c->bigquery.table, "tb");
    assert_string_equal(c->bigquery.endpoint, "http://127.0.0.1:1");
    assert_string_equal(c->bigquery.token_url, "http://127.0.0.1:2/t");
    assert_string_equal(c->bigquery.token, "tok");
    assert_string_equal(c->log.level, "warn");
    assert_string_equal(c->mapping.path, "");
    config_destroy(c);
    clear_env();
}

/* Every number and boolean key has its variable, named by the schema walk. */
static void env_names_cover_every_key(void **state)
{
    (void)state;
    /* retry.cap_ms may not be below base_ms, which goes to its maximum below. */
    setenv("SYNCRELAY_RETRY_CAP_MS", "86400000", 1);
    for (int s = 0; config_sections[s].key != NULL; s++) {
        const cyaml_schema_field_t *fields = config_sections[s].value.mapping.fields;
        for (int k = 0; fields[k].key != NULL; k++) {
            char name[CONFIG_NAME_MAX];
            config_env_name(s, k, "", name, sizeof(name));
            enum cyaml_type type = fields[k].value.type;
            if (type == CYAML_STRING) {
                continue; /* spot-checked with valid values in env_overrides_file */
            }
            const struct config_rule *r = config_rule_get(s, k);
            char value[32];
            snprintf(value, sizeof(value), "%u", r->max);
            setenv(name, type == CYAML_UINT ? value : "1", 1);
            struct relay_error err = {0};
            struct relay_config *c = config_load(NULL, &err);
            if (strcmp(name, "SYNCRELAY_RETRY_CAP_MS") != 0) {
                unsetenv(name);
            }
            if (c == NULL) {
                fail_msg("%s: %s", name, err.msg);
            }
            if (type == CYAML_UINT) {
                assert_int_equal(*(unsigned *)config_key_addr(c, s, k), r->max);
            } else {
                assert_true(*(bool *)config_key_addr(c, s, k));
            }
            config_destroy(c);
        }
    }
    char name[CONFIG_NAME_MAX];
    int s = config_section_find("supabase");
    config_env_name(s, config_key_find(s, "standard_webhook_secret"), "_FILE", name, sizeof(name));
    assert_string_equal(name, "SYNCRELAY_SUPABASE_STANDARD_WEBHOOK_SECRET_FILE");
    clear_env();
}

static void google_credentials(void **state)
{
    (void)state;
    setenv("GOOGLE_APPLICATION_CREDENTIALS", "/g.json", 1);
    struct relay_config *c = load_yaml("bigquery:\n  credentials: /y.json\n", NULL);
    assert_non_null(c);
    assert_string_equal(c->bigquery.credentials, "/g.json");
    config_destroy(c);
    setenv("SYNCRELAY_BIGQUERY_CREDENTIALS", "/s.json", 1);
    c = config_load(NULL, NULL);
    assert_non_null(c);
    assert_string_equal(c->bigquery.credentials, "/s.json");
    config_destroy(c);
    clear_env();
}

static void secrets_from_files(void **state)
{
    (void)state;
    write_file("tw.secret", "twenty-secret\n");
    write_file("pg.url", "postgresql://u:pw@127.0.0.1/db\r\n");
    write_file("sb.secret", "whsec_abc");
    setenv("SYNCRELAY_SUPABASE_STANDARD_WEBHOOK_SECRET_FILE", "sb.secret", 1);
    setenv("SYNCRELAY_TWENTY_API_KEY_FILE", "tw.secret", 1);
    struct relay_error err = {0};
    struct relay_config *c = load_yaml("twenty:\n  secret_file: tw.secret\n"
                                       "postgres:\n  url_file: pg.url\n"
                                       "bigquery:\n  token_file: \"\"\n  token: x\n",
                                       &err);
    assert_null(c);
    assert_string_equal(err.msg,
                        "relay.yaml:6: bigquery.token_file: conflicts with bigquery.token");
    c = load_yaml("twenty:\n  secret_file: tw.secret\npostgres:\n  url_file: pg.url\n", &err);
    assert_non_null(c);
    assert_string_equal(c->twenty.secret, "twenty-secret");
    assert_string_equal(c->twenty.api_key, "twenty-secret");
    assert_string_equal(c->postgres.url, "postgresql://u:pw@127.0.0.1/db");
    assert_string_equal(c->supabase.standard_webhook_secret, "whsec_abc");
    config_destroy(c);
    clear_env();
}

static void secret_file_errors(void **state)
{
    (void)state;
    expect_error("twenty:\n  secret_file: missing.txt\n",
                 "relay.yaml:2: twenty.secret_file: missing.txt: No such file or directory");
    expect_error("twenty:\n  secret_file: [a]\n",
                 "relay.yaml:2: twenty.secret_file: must be a file name");
    expect_error("http:\n  listen_file: x\n", "relay.yaml:2: http.listen_file: unknown key");
    expect_error("twenty:\n  secret_file: a\n  secret_file: b\n",
                 "relay.yaml:3: twenty.secret_file: duplicate key");
    write_file("nul.secret", "");
    FILE *f = fopen("nul.secret", "w");
    assert_non_null(f);
    fputc('a', f);
    fputc('\0', f);
    fclose(f);
    expect_error("twenty:\n  secret_file: nul.secret\n",
                 "relay.yaml:2: twenty.secret_file: nul.secret: contains a NUL byte");
    expect_error("twenty:\n  secret_file: /tmp\n",
                 "relay.yaml:2: twenty.secret_file: /tmp: Is a directory");
    expect_env_error("SYNCRELAY_TWENTY_SECRET_FILE", "missing.txt",
                     "env SYNCRELAY_TWENTY_SECRET_FILE: missing.txt: No such file or directory");
    setenv("SYNCRELAY_BIGQUERY_TOKEN", "x", 1);
    expect_env_error("SYNCRELAY_BIGQUERY_TOKEN_FILE", "tw.secret",
                     "env SYNCRELAY_BIGQUERY_TOKEN_FILE: conflicts with SYNCRELAY_BIGQUERY_TOKEN");
    clear_env();
    char *big = malloc(CONFIG_FILE_MAX + 2);
    assert_non_null(big);
    memset(big, 'a', CONFIG_FILE_MAX + 1);
    big[CONFIG_FILE_MAX + 1] = '\0';
    write_file("big.secret", big);
    free(big);
    expect_env_error("SYNCRELAY_TWENTY_SECRET_FILE", "big.secret",
                     "env SYNCRELAY_TWENTY_SECRET_FILE: big.secret: larger than 65536 bytes");
}

struct error_case {
    const char *yaml;
    const char *message;
};

static const struct error_case error_cases[] = {
    {"http:\n  listen: x\n  colour: 4\n", "relay.yaml:3: http.colour: unknown key"},
    {"log: {level: info}\nredis:\n  url: redis://h\n  colour: red\n",
     "relay.yaml:4: redis.colour: unknown key"},
    {"colour: red\n", "relay.yaml:1: colour: unknown key"},
    {"# a comment\nhttp:\n  listen: \"127.0.0.1:8080\"\n  max_connections: 10\n"
     "  body_limit_bytes: 100\n  request_timeout_ms: 10\n  threads: 0\n",
     "relay.yaml:7: http.threads: must be between 1 and 1024"},
    {"http:\n  threads: 1025\n", "relay.yaml:2: http.threads: must be between 1 and 1024"},
    {"http:\n  threads: abc\n", "relay.yaml:2: http.threads: must be a number"},
    {"http:\n  threads: -1\n", "relay.yaml:2: http.threads: must be a number"},
    {"http:\n  threads: 5000000000\n", "relay.yaml:2: http.threads: must be a number"},
    {"http:\n  threads: [1]\n", "relay.yaml:2: http.threads: must be a number"},
    {"http:\n  body_limit_bytes: 0\n",
     "relay.yaml:2: http.body_limit_bytes: must be between 1 and 1073741824"},
    {"http:\n  listen: [a]\n", "relay.yaml:2: http.listen: must be a string"},
    {"http: 5\n", "relay.yaml:1: http: must be a mapping"},
    {"http:\n", "relay.yaml:1: http: must be a mapping"},
    {"twenty:\n  allow_unsigned: maybe\n",
     "relay.yaml:2: twenty.allow_unsigned: must be true or false"},
    {"sqlite:\n  hard_delete: [true]\n", "relay.yaml:2: sqlite.hard_delete: must be true or false"},
    {"log:\n  level: loud\n", "relay.yaml:2: log.level: must be one of error, warn, info, debug"},
    {"log:\n  format: xml\n", "relay.yaml:2: log.format: must be one of logfmt, json"},
    {"http:\n  listen: abc\n",
     "relay.yaml:2: http.listen: must be host:port or port, with an optional trailing s for TLS"},
    {"http:\n  listen: \"localhost:\"\n",
     "relay.yaml:2: http.listen: must be host:port or port, with an optional trailing s for TLS"},
    {"http:\n  listen: \"1.2.3.4:70000\"\n",
     "relay.yaml:2: http.listen: must be host:port or port, with an optional trailing s for TLS"},
    {"http:\n  listen: \"8080,\"\n",
     "relay.yaml:2: http.listen: must be host:port or port, with an optional trailing s for TLS"},
    {"http:\n  listen: \"[::1]\"\n",
     "relay.yaml:2: http.listen: must be host:port or port, with an optional trailing s for TLS"},
    {"http:\n  listen: \"a:b:80\"\n",
     "relay.yaml:2: http.listen: must be host:port or port, with an optional trailing s for TLS"},
    {"http:\n  listen: 8443s\n", "relay.yaml:2: http.listen: a TLS port needs http.tls_cert"},
    {"redis:\n  url: http://h\n", "relay.yaml:2: redis.url: must start with redis:// or unix://"},
    {"redis:\n  url: redis://\n", "relay.yaml:2: redis.url: must start with redis:// or unix://"},
    {"redis:\n  prefix: \"a b\"\n",
     "relay.yaml:2: redis.prefix: may hold only letters, digits, '-', '_' and '.'"},
    {"redis:\n  prefix: \"\"\n", "relay.yaml:2: redis.prefix: must not be empty"},
    {"twenty:\n  url: ftp://x\n", "relay.yaml:2: twenty.url: must start with http:// or https://"},
    {"bigquery:\n  endpoint: \"\"\n",
     "relay.yaml:2: bigquery.endpoint: must start with http:// or https://"},
    {"bigquery:\n  endpoint: https://\n",
     "relay.yaml:2: bigquery.endpoint: must name a host after the scheme"},
    {"bigquery:\n  table: a-b\n",
     "relay.yaml:2: bigquery.table: may hold only letters, digits and '_'"},
    {"bigquery:\n  dataset: \"\"\n", "relay.yaml:2: bigquery.dataset: must not be empty"},
    {"supabase:\n  standard_webhook_secret: abc\n",
     "relay.yaml:2: supabase.standard_webhook_secret: must start with whsec_"},
    {"supabase:\n  secret_header: \"X Y\"\n",
     "relay.yaml:2: supabase.secret_header: may hold only letters, digits, '-', '_' and '.'"},
    {"sqlite:\n  path: \"\"\n", "relay.yaml:2: sqlite.path: must not be empty"},
    {"retry:\n  base_ms: 1000\n  cap_ms: 999\n",
     "relay.yaml:3: retry.cap_ms: must not be below retry.base_ms"},
    {"retry:\n  base_ms: 0\n", "relay.yaml:2: retry.base_ms: must be between 1 and 3600000"},
    {"workers:\n  batch_size: 10001\n",
     "relay.yaml:2: workers.batch_size: must be between 1 and 10000"},
    {"http:\n  listen: a\n  listen: b\n", "relay.yaml:3: http.listen: duplicate key"},
    {"http: {}\nlog: {}\nhttp: {}\n", "relay.yaml:3: http: duplicate key"},
    {"- a\n", "relay.yaml:1: top level: must be a mapping of sections"},
    {"just text\n", "relay.yaml:1: top level: must be a mapping of sections"},
    {"http: {}\n---\nlog: {}\n", "relay.yaml:2: top level: only one YAML document is allowed"},
    {"http: &h {threads: 2}\nlog: *h\n", "relay.yaml:2: alias: aliases are not supported"},
    {"? [a]\n: b\n", "relay.yaml:1: top level: keys must be plain strings"},
    {"http:\n  ? [a]\n  : b\n", "relay.yaml:2: http: keys must be plain strings"},
    {"http: {listen: \"a\"\n", "relay.yaml:2: syntax: did not find expected ',' or '}'"},
    {"http:\n  listen: \"unterminated\n", "relay.yaml:3: syntax: found unexpected end of stream"},
};

static void every_file_error(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
        expect_error(error_cases[i].yaml, error_cases[i].message);
    }
}

static void good_listen_values(void **state)
{
    (void)state;
    static const char *const good[] = {"8080", "0.0.0.0:1", "[::1]:65535", "localhost:80",
                                       "8080,8443s"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        setenv("SYNCRELAY_HTTP_LISTEN", good[i], 1);
        setenv("SYNCRELAY_HTTP_TLS_CERT", "/c.pem", 1);
        struct relay_error err = {0};
        struct relay_config *c = config_load(NULL, &err);
        if (c == NULL) {
            fail_msg("%s: %s", good[i], err.msg);
        }
        config_destroy(c);
    }
    clear_env();
}

static void every_env_error(void **state)
{
    (void)state;
    expect_env_error("SYNCRELAY_HTTP_THREADS", "abc",
                     "env SYNCRELAY_HTTP_THREADS: must be a number");
    expect_env_error("SYNCRELAY_HTTP_THREADS", "", "env SYNCRELAY_HTTP_THREADS: must be a number");
    expect_env_error("SYNCRELAY_HTTP_THREADS", " 4",
                     "env SYNCRELAY_HTTP_THREADS: must be a number");
    expect_env_error("SYNCRELAY_HTTP_THREADS", "-4",
                     "env SYNCRELAY_HTTP_THREADS: must be a number");
    expect_env_error("SYNCRELAY_HTTP_THREADS", "4x",
                     "env SYNCRELAY_HTTP_THREADS: must be a number");
    expect_env_error("SYNCRELAY_RETRY_DEAD_CAP", "4294967296",
                     "env SYNCRELAY_RETRY_DEAD_CAP: must be a number");
    expect_env_error("SYNCRELAY_HTTP_THREADS", "0",
                     "env SYNCRELAY_HTTP_THREADS: must be between 1 and 1024");
    expect_env_error("SYNCRELAY_TWENTY_ALLOW_UNSIGNED", "maybe",
                     "env SYNCRELAY_TWENTY_ALLOW_UNSIGNED: must be true or false");
    expect_env_error("SYNCRELAY_REDIS_URL", "http://x",
                     "env SYNCRELAY_REDIS_URL: must start with redis:// or unix://");
    expect_env_error("SYNCRELAY_LOG_FORMAT", "xml",
                     "env SYNCRELAY_LOG_FORMAT: must be one of logfmt, json");
    expect_env_error("SYNCRELAY_HTTP_LISTEN", "443s",
                     "env SYNCRELAY_HTTP_LISTEN: a TLS port needs http.tls_cert");
    /* A file value fixed by the environment is fine; a bad env value names env. */
    setenv("SYNCRELAY_HTTP_THREADS", "3", 1);
    struct relay_config *c = load_yaml("http:\n  threads: 0\n", NULL);
    assert_non_null(c);
    config_destroy(c);
    clear_env();
}

static void missing_file(void **state)
{
    (void)state;
    struct relay_error err = {0};
    assert_null(config_load("nope.yaml", &err));
    assert_string_equal(err.msg, "nope.yaml: No such file or directory");
    assert_int_equal(err.code, RELAY_ECONFIG);
    assert_null(config_load("/tmp", &err));
    assert_string_equal(err.msg, "/tmp: Is a directory");
}

static void render_masks_secrets(void **state)
{
    (void)state;
    setenv("SYNCRELAY_TWENTY_SECRET", "s3cr3t-tw", 1);
    setenv("SYNCRELAY_TWENTY_API_KEY", "s3cr3t-key", 1);
    setenv("SYNCRELAY_SUPABASE_SECRET", "s3cr3t-sb", 1);
    setenv("SYNCRELAY_SUPABASE_STANDARD_WEBHOOK_SECRET", "whsec_s3cr3t", 1);
    setenv("SYNCRELAY_BIGQUERY_TOKEN", "s3cr3t-tok", 1);
    setenv("SYNCRELAY_REDIS_URL", "redis://:s3cr3t-r@127.0.0.1:6379/0", 1);
    setenv("SYNCRELAY_POSTGRES_URL", "postgresql://app:s3cr3t-pg@db:5432/x?sslmode=off", 1);
    struct relay_config *c = config_load(NULL, NULL);
    assert_non_null(c);
    char *text = render(c);
    assert_null(strstr(text, "s3cr3t"));
    assert_non_null(strstr(text, "twenty:\n  secret: \"***\"\n"));
    assert_non_null(strstr(text, "  api_key: \"***\"\n"));
    assert_non_null(strstr(text, "supabase:\n  secret: \"***\"\n"));
    assert_non_null(strstr(text, "  standard_webhook_secret: \"***\"\n"));
    assert_non_null(strstr(text, "  token: \"***\"\n"));
    assert_non_null(strstr(text, "  url: \"redis://:***@127.0.0.1:6379/0\"\n"));
    assert_non_null(strstr(text, "  url: \"postgresql://app:***@db:5432/x?sslmode=off\"\n"));
    assert_non_null(strstr(text, "  secret_header: \"X-Syncrelay-Secret\"\n"));
    relay_free(text);
    config_destroy(c);
    clear_env();
    c = config_load(NULL, NULL);
    text = render(c);
    assert_non_null(strstr(text, "twenty:\n  secret: \"\"\n")); /* empty stays visible */
    relay_free(text);
    config_destroy(c);
}

static void render_masks_url_forms(void **state)
{
    (void)state;
    static const char *const urls[][2] = {
        {"host=db password=s3cr3t dbname=x", "host=db password=*** dbname=x"},
        {"host=db password='s3 cr\\'3t' dbname=x", "host=db password=*** dbname=x"},
        {"postgresql://db/x?user=a&password=s3cr3t&sslmode=off",
         "postgresql://db/x?user=a&password=***&sslmode=off"},
        {"postgresql://app@db/x", "postgresql://app@db/x"},
        {"postgresql://app:s3cr3t@db", "postgresql://app:***@db"},
        /* libpq ends the userinfo at the first '@': the host is "3t@db". */
        {"postgresql://app:s3:cr@3t@db/x", "postgresql://app:***@3t@db/x"},
        {"postgresql:///x?host=/tmp", "postgresql:///x?host=/tmp"},
    };
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        setenv("SYNCRELAY_POSTGRES_URL", urls[i][0], 1);
        struct relay_config *c = config_load(NULL, NULL);
        assert_non_null(c);
        char *text = render(c);
        char want[256];
        snprintf(want, sizeof(want), "postgres:\n  url: \"%s\"\n", urls[i][1]);
        if (strstr(text, want) == NULL) {
            fail_msg("%s -> want %s in\n%s", urls[i][0], want, text);
        }
        relay_free(text);
        config_destroy(c);
    }
    clear_env();
}

/* Renders url as redis.url (or postgres.url) and checks the rendered value. */
static void expect_masked(const char *env, const char *url, const char *want_url)
{
    setenv(env, url, 1);
    struct relay_error err = {0};
    struct relay_config *c = config_load(NULL, &err);
    if (c == NULL) {
        fail_msg("%s: %s", url, err.msg);
    }
    char *text = render(c);
    char want[512];
    snprintf(want, sizeof(want), "  url: \"%s\"\n", want_url);
    if (strstr(text, want) == NULL) {
        fail_msg("%s -> want %s in\n%s", url, want, text);
    }
    assert_null(strstr(text, "s3cr3t"));
    relay_free(text);
    config_destroy(c);
    unsetenv(env);
}

/* The Redis password is what queue/queue_url.c sends: the userinfo runs to
 * the authority's last '@', and the authority ends at the first '/' only
 * (a '#' or '?' is part of the password). */
static void render_masks_redis_password_like_the_client(void **state)
{
    (void)state;
    static const char *const urls[][2] = {
        {"redis://:my#s3cr3t@redis.internal:6379", "redis://:***@redis.internal:6379"},
        {"redis://:pw?s3cr3t@h:1/2", "redis://:***@h:1/2"},
        {"redis://u:a@s3cr3t@h", "redis://u:***@h"},
        {"redis://u:s3:cr3t@h/0", "redis://u:***@h/0"},
        {"redis://s3cr3t@h", "redis://***@h"}, /* no ':': refused later, still hidden */
        {"redis://:@h", "redis://:@h"},
        {"redis://h:6379/0", "redis://h:6379/0"},
        {"redis://h/x@y:z", "redis://h/x@y:z"},
        {"unix:///run/redis.sock?db=1", "unix:///run/redis.sock?db=1"},
    };
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        expect_masked("SYNCRELAY_REDIS_URL", urls[i][0], urls[i][1]);
    }
}

/* The Postgres password is what libpq parses: spaces around '=', a value
 * running to the next unescaped space, several password keys, a
 * percent-encoded key (which only libpq's own parse finds: the whole
 * conninfo is then rendered from it). */
static void render_masks_postgres_password_like_libpq(void **state)
{
    (void)state;
    static const char *const urls[][2] = {
        {"host=db password = s3cr3t dbname=x", "host=db password = *** dbname=x"},
        {"host=db password=\t's3cr3t' dbname=x", "host=db password=\\x09*** dbname=x"},
        {"password=ab&s3cr3t", "password=***"},
        {"password=ab\\ s3cr3t host=db", "password=*** host=db"},
        {"password=a password=s3cr3t", "password=*** password=***"},
        {"  password=s3cr3t", "  password=***"},
        {"password=", "password="},
        {"postgresql://db/x?pass%77ord=s3cr3t", "password='***' dbname='x' host='db'"},
        {"postgresql://a:s3cr3t@db/x?password=s3cr3t", "postgresql://a:***@db/x?password=***"},
        {"postgres://u:s%33cr3t@[::1]:5/x", "postgres://u:***@[::1]:5/x"},
        {"postgresql://u:p/db@h/x", "postgresql://u:p/db@h/x"}, /* no password */
    };
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        expect_masked("SYNCRELAY_POSTGRES_URL", urls[i][0], urls[i][1]);
    }
}

/* Loads yaml, checks that sqlite.path renders as want (a YAML double-quoted
 * scalar) and that the rendering loads back to the same bytes. */
static void expect_path_round_trip(const char *yaml, const char *value, const char *want)
{
    struct relay_error err = {0};
    struct relay_config *c = load_yaml(yaml, &err);
    if (c == NULL) {
        fail_msg("%s: %s", yaml, err.msg);
    }
    assert_string_equal(c->sqlite.path, value);
    char *text = render(c);
    char line[256];
    snprintf(line, sizeof(line), "  path: %s\n", want);
    if (strstr(text, line) == NULL) {
        fail_msg("want %s in\n%s", line, text);
    }
    struct relay_config *again = load_yaml(text, &err);
    if (again == NULL) {
        fail_msg("rendering does not load: %s\n%s", err.msg, text);
    }
    assert_string_equal(again->sqlite.path, value);
    relay_free(text);
    config_destroy(again);
    config_destroy(c);
}

/* C1 controls (which libyaml refuses raw), the YAML line breaks NEL, LS
 * and PS (which it folds), BOM and non-characters come out escaped; other
 * UTF-8 stays as it is. */
static void render_escapes_what_yaml_would_change(void **state)
{
    (void)state;
    expect_path_round_trip("sqlite:\n  path: \"db\\x8f.sqlite\"\n", "db\xc2\x8f.sqlite",
                           "\"db\\x8f.sqlite\"");
    expect_path_round_trip("sqlite:\n  path: \"a\\x85b\\u2028c\\u2029d\"\n",
                           "a\xc2\x85" "b\xe2\x80\xa8" "c\xe2\x80\xa9" "d", "\"a\\Nb\\Lc\\Pd\"");
    expect_path_round_trip("sqlite:\n  path: \"\\x80\\x9f\\uFEFF\\uFFFE\\uFFFF\\x7f\"\n",
                           "\xc2\x80\xc2\x9f\xef\xbb\xbf\xef\xbf\xbe\xef\xbf\xbf\x7f",
                           "\"\\x80\\x9f\\ufeff\\ufffe\\uffff\\x7f\"");
    expect_path_round_trip("sqlite:\n  path: \"\\xa0\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"\n",
                           "\xc2\xa0\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
                           "\"\xc2\xa0\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
    /* Bytes that are not UTF-8 (only the environment can hold them) render
     * as \xNN so the rendering still loads. */
    setenv("SYNCRELAY_SQLITE_PATH", "a\xff\xc3(\xe2\x82", 1);
    struct relay_config *c = config_load(NULL, NULL);
    assert_non_null(c);
    unsetenv("SYNCRELAY_SQLITE_PATH");
    char *text = render(c);
    assert_non_null(strstr(text, "  path: \"a\\xff\\xc3(\\xe2\\x82\"\n"));
    struct relay_error err = {0};
    struct relay_config *again = load_yaml(text, &err);
    if (again == NULL) {
        fail_msg("rendering does not load: %s", err.msg);
    }
    relay_free(text);
    config_destroy(again);
    config_destroy(c);
}

/* postgres.url must be a conninfo or URI libpq parses; the message is
 * libpq's with every quoted piece of the value hidden. */
static void postgres_url_is_checked(void **state)
{
    (void)state;
    expect_error("postgres:\n  url: mypassword=x\n",
                 "relay.yaml:2: postgres.url: invalid connection option \"***\"");
    expect_error("postgres:\n  url: \"password=my s3cr3t\"\n",
                 "relay.yaml:2: postgres.url: missing \"=\" after \"***\" in connection info "
                 "string");
    expect_error("postgres:\n  url: mydb\n",
                 "relay.yaml:2: postgres.url: missing \"=\" after \"***\" in connection info "
                 "string");
    expect_error("postgres:\n  url: \"postgresql://u:s3cr3t@[::1\"\n",
                 "relay.yaml:2: postgres.url: end of string reached when looking for matching "
                 "\"]\" in IPv6 host address in URI");
    /* The position libpq names differs between its minor versions. */
    struct relay_error err = {0};
    assert_null(load_yaml("postgres:\n  url: \"postgresql://u:s3cr3t@[::1]x/d\"\n", &err));
    assert_non_null(strstr(err.msg, "relay.yaml:2: postgres.url: unexpected character \"x\" at "
                                    "position "));
    assert_null(strstr(err.msg, "s3cr3t"));
    expect_error("postgres:\n  url: \"postgresql://db/x?password=%zzs3cr3t\"\n",
                 "relay.yaml:2: postgres.url: invalid percent-encoded token");
    expect_env_error("SYNCRELAY_POSTGRES_URL", "host='s3cr3t",
                     "env SYNCRELAY_POSTGRES_URL: unterminated quoted string in connection info "
                     "string");
    setenv("SYNCRELAY_POSTGRES_URL", "", 1); /* "" turns the sink off: fine */
    struct relay_config *c = config_load(NULL, NULL);
    assert_non_null(c);
    config_destroy(c);
    clear_env();
}

/* deploy/syncrelay.example.yaml names every key and says every default. */
static void example_file_is_the_defaults(void **state)
{
    (void)state;
    const char *path = RELAY_SOURCE_DIR "/deploy/syncrelay.example.yaml";
    struct relay_error err = {0};
    struct relay_config *c = config_load(path, &err);
    if (c == NULL) {
        fail_msg("%s", err.msg);
    }
    struct relay_config *def = config_load(NULL, NULL);
    char *got = render(c);
    char *want = render(def);
    assert_string_equal(got, want);
    char *text = NULL;
    assert_int_equal(config_read_file(path, CONFIG_YAML_MAX, &text, &err), 0);
    for (int s = 0; config_sections[s].key != NULL; s++) {
        char line[CONFIG_NAME_MAX];
        snprintf(line, sizeof(line), "\n%s:\n", config_sections[s].key);
        const char *section = strstr(text, line);
        assert_non_null(section);
        const cyaml_schema_field_t *fields = config_sections[s].value.mapping.fields;
        for (int k = 0; fields[k].key != NULL; k++) {
            snprintf(line, sizeof(line), "\n  %s: ", fields[k].key);
            if (strstr(section, line) == NULL) {
                fail_msg("example lacks %s.%s", config_sections[s].key, fields[k].key);
            }
        }
    }
    relay_free(text);
    relay_free(got);
    relay_free(want);
    config_destroy(c);
    config_destroy(def);
}

/* Torture: the nth allocation fails, for every n until a load succeeds. */
static void torture_one(const char *path)
{
    for (long n = 1;; n++) {
        struct relay_error err = {0};
        relay_mem_fail_after(n);
        struct relay_config *c = config_load(path, &err);
        relay_mem_fail_after(0);
        if (c != NULL) {
            config_destroy(c);
            assert_true(n > 10);
            return;
        }
        if (err.code != RELAY_ENOMEM) {
            fail_msg("n=%ld: %s", n, err.msg);
        }
        assert_string_equal(err.msg, "config: out of memory");
    }
}

static void torture_config_load(void **state)
{
    (void)state;
    write_file("tw.secret", "twenty-secret\n");
    write_file("full.yaml", full_yaml);
    write_file("secrets.yaml", "twenty:\n  secret_file: tw.secret\n");
    setenv("SYNCRELAY_SUPABASE_SECRET_FILE", "tw.secret", 1);
    setenv("SYNCRELAY_HTTP_THREADS", "3", 1);
    setenv("GOOGLE_APPLICATION_CREDENTIALS", "/g.json", 1);
    torture_one(NULL);
    torture_one("full.yaml");
    torture_one("secrets.yaml");
    torture_one(RELAY_SOURCE_DIR "/deploy/syncrelay.example.yaml");
    clear_env();
}

int main(int argc, char **argv)
{
    if (mkdtemp(tmp_dir) == NULL || chdir(tmp_dir) != 0) {
        perror("test_config: temp dir");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(defaults_without_file, setup),
        cmocka_unit_test_setup(schema_rules_and_strings_agree, setup),
        cmocka_unit_test_setup(file_sets_only_its_keys, setup),
        cmocka_unit_test_setup(empty_files_give_defaults, setup),
        cmocka_unit_test_setup(render_round_trips, setup),
        cmocka_unit_test_setup(env_overrides_file, setup),
        cmocka_unit_test_setup(env_names_cover_every_key, setup),
        cmocka_unit_test_setup(google_credentials, setup),
        cmocka_unit_test_setup(secrets_from_files, setup),
        cmocka_unit_test_setup(secret_file_errors, setup),
        cmocka_unit_test_setup(every_file_error, setup),
        cmocka_unit_test_setup(good_listen_values, setup),
        cmocka_unit_test_setup(every_env_error, setup),
        cmocka_unit_test_setup(missing_file, setup),
        cmocka_unit_test_setup(render_masks_secrets, setup),
        cmocka_unit_test_setup(render_masks_url_forms, setup),
        cmocka_unit_test_setup(render_masks_redis_password_like_the_client, setup),
        cmocka_unit_test_setup(render_masks_postgres_password_like_libpq, setup),
        cmocka_unit_test_setup(render_escapes_what_yaml_would_change, setup),
        cmocka_unit_test_setup(postgres_url_is_checked, setup),
        cmocka_unit_test_setup(example_file_is_the_defaults, setup),
    };
    const struct CMUnitTest torture[] = {
        cmocka_unit_test_setup(torture_config_load, setup),
    };
    int failed;
    if (argc > 1 && strcmp(argv[1], "--torture") == 0) {
        failed = cmocka_run_group_tests_name("config_torture", torture, NULL, NULL);
    } else {
        if (argc > 1) {
            cmocka_set_test_filter(argv[1]);
        }
        failed = cmocka_run_group_tests_name("config", tests, NULL, NULL);
    }
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp_dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "test_config: could not remove %s\n", tmp_dir);
    }
    return failed;
}
