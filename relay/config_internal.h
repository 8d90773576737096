/* Shared by the config_*.c files only; other folders include relay/config.h.
 * The libcyaml schema tables (config_schema.c) are the single list of keys:
 * defaults, environment names, _file secrets, validation and rendering all
 * walk them, so adding a key means one schema line, one rule line and one
 * default. */
#ifndef RELAY_RELAY_CONFIG_INTERNAL_H
#define RELAY_RELAY_CONFIG_INTERNAL_H

#include "relay/config.h"

#include <cyaml/cyaml.h>
#include <stddef.h>

#define CONFIG_MAX_SECTIONS 16
#define CONFIG_MAX_KEYS 16 /* per section */
#define CONFIG_ENV_PREFIX "SYNCRELAY_"
#define CONFIG_NAME_MAX 96    /* "SYNCRELAY_BIGQUERY_STANDARD_..._FILE" fits */
#define CONFIG_FILE_MAX 65536 /* a *_file secret is at most this many bytes */
#define CONFIG_YAML_MAX (1024 * 1024)

/* Rule flags. */
#define CONFIG_SECRET 1u     /* rendered as "***"; may come from K_file */
#define CONFIG_SECRET_URL 2u /* password part rendered as "***"; may come from K_file */
#define CONFIG_CONNINFO 4u   /* a libpq conninfo or URI: checked and masked with libpq */

/* Validation and secrecy of one key; numbers use min/max, strings check. */
struct config_rule {
    const char *section;
    const char *key;
    unsigned min;
    unsigned max;
    /* Returns NULL when value is fine, else the reason ("must be ..."). */
    const char *(*check)(const char *value);
    unsigned flags;
};

/* Where a key's effective value came from, for error messages. */
struct config_origin {
    int line;                  /* > 0: from the file, at this line */
    char env[CONFIG_NAME_MAX]; /* non-empty: from this environment variable */
};

/* Per-load state shared by the steps of config_load. */
struct config_ctx {
    const char *path; /* NULL: no file */
    struct relay_config *conf;
    struct config_origin origin[CONFIG_MAX_SECTIONS][CONFIG_MAX_KEYS];
};

/* The top-level schema: a pointer to struct relay_config, one optional
 * mapping field per section. */
extern const cyaml_schema_value_t config_schema;
extern const cyaml_schema_field_t config_sections[];
extern const struct config_rule config_rules[];
extern const struct relay_config config_defaults;

/* Section index by name, or -1. */
int config_section_find(const char *name);
/* Key index within section s by name, or -1. */
int config_key_find(int s, const char *name);
/* The rule of key k in section s (never NULL for a schema key). */
const struct config_rule *config_rule_get(int s, int k);
/* The address of key k of section s inside conf. */
void *config_key_addr(const struct relay_config *conf, int s, int k);
/* Frees the strings of conf (not conf itself); NULL strings are fine. */
void config_free_strings(struct relay_config *conf);

/* postgres.url (config_conninfo.c). Check: 0 when value is "" or libpq
 * parses it; 1 when not, with libpq's reason (no piece of the value) in
 * reason; -1 when out of memory. Mask: appends value with the password
 * libpq would send replaced by "***" (a value libpq cannot parse becomes
 * "***"); -1 when out of memory. Both thread-safe. */
int config_conninfo_check(const char *value, char *reason, size_t size);
int config_conninfo_mask(const char *value, struct relay_buf *out) RELAY_MUST_CHECK;

/* http.listen check, shared by the rule table and the TLS cross-check. */
const char *config_check_listen(const char *value);

/* Fills buf with "SYNCRELAY_<SECTION>_<KEY><suffix>", upper-cased. */
void config_env_name(int s, int k, const char *suffix, char *buf, size_t size);

/* Strict boolean text: true/false/yes/no/on/off/1/0 (any case); -1 if not. */
int config_parse_bool(const char *text);
/* Decimal unsigned that fits in unsigned; -1 if not. */
int config_parse_unsigned(const char *text, unsigned *out);

/* Reads a whole file (at most limit bytes, no NUL) into *out (owned). */
int config_read_file(const char *file, size_t limit, char **out, struct relay_error *err);
/* Reads a secret file into *out (owned), trailing newlines stripped. */
int config_read_secret_file(const char *file, char **out, struct relay_error *err);

/* Replaces the string key k of section s with a copy of value. */
int config_set_string(struct relay_config *conf, int s, int k, const char *value,
                      struct relay_error *err) RELAY_MUST_CHECK;

/* The steps of config_load, in order. Each fills err with the
 * "file:line: key: reason" or "env NAME: reason" message. */
int config_file_apply(struct config_ctx *ctx, struct relay_error *err) RELAY_MUST_CHECK;
int config_env_apply(struct config_ctx *ctx, struct relay_error *err) RELAY_MUST_CHECK;
int config_validate(struct config_ctx *ctx, struct relay_error *err) RELAY_MUST_CHECK;

/* libcyaml pass over the file's bytes (config_cyaml.c): *out is the
 * schema-shaped struct, absent keys zero; free it with config_cyaml_free. */
int config_cyaml_load(const struct config_ctx *ctx, const char *data, size_t len,
                      struct relay_config **out, struct relay_error *err) RELAY_MUST_CHECK;
void config_cyaml_free(struct relay_config *loaded); /* NULL is a no-op */

/* Writes "where" a key came from: "env NAME", "file:line: sec.key" or "sec.key". */
void config_where(const struct config_ctx *ctx, int s, int k, char *buf, size_t size);

#endif
