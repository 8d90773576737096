/* The YAML file step of config_load. Two passes over the same bytes:
 * 1. libyaml events build an index of which section.key appears on which
 *    line (and its scalar text). It reports syntax errors, unknown and
 *    duplicate keys with the key's own line, and accepts K_file for secrets.
 * 2. libcyaml loads the file through the schema tables (type checking);
 *    its error backtrace, captured by our log_fn, gives the line.
 * Only keys that appear in the file overwrite the defaults, which is why
 * the index is needed: libcyaml leaves absent and zero alike. */
#include "relay/config_internal.h"
#include "relay/mem.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

struct file_entry {
    int s, k;
    bool is_file_key; /* "secret_file": value names the file holding the secret */
    int line;
    char *value; /* scalar text, or NULL when the value is a sequence or mapping */
};

struct file_index {
    struct file_entry entries[CONFIG_MAX_SECTIONS * CONFIG_MAX_KEYS * 2];
    size_t count;
    unsigned seen_sections; /* bit per section index */
    bool has_mapping;       /* false: an empty document, all defaults */
};

struct yaml_walk {
    yaml_parser_t parser;
    const char *path;
    struct file_index *index;
    struct relay_error *err;
};

static int syntax_error(struct yaml_walk *w)
{
    if (w->parser.error == YAML_MEMORY_ERROR) {
        return relay_error_set(w->err, RELAY_ENOMEM, "config: out of memory");
    }
    return relay_error_set(w->err, RELAY_ECONFIG, "%s:%zu: syntax: %s", w->path,
                           w->parser.problem_mark.line + 1,
                           w->parser.problem ? w->parser.problem : "invalid YAML");
}

static int next_event(struct yaml_walk *w, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&w->parser, ev)) {
        return syntax_error(w);
    }
    if (ev->type == YAML_ALIAS_EVENT) {
        int line = (int)ev->start_mark.line + 1;
        yaml_event_delete(ev);
        return relay_error_set(w->err, RELAY_ECONFIG, "%s:%d: alias: aliases are not supported",
                               w->path, line);
    }
    return 0;
}

/* Consumes the rest of a node whose first event was start. */
static int skip_node(struct yaml_walk *w, yaml_event_type_t start)
{
    int depth = (start == YAML_SEQUENCE_START_EVENT || start == YAML_MAPPING_START_EVENT);
    while (depth > 0) {
        yaml_event_t ev;
        if (next_event(w, &ev) != 0) {
            return -1;
        }
        if (ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_MAPPING_START_EVENT) {
            depth++;
        } else if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT) {
            depth--;
        }
        yaml_event_delete(&ev);
    }
    return 0;
}

/* Resolves key (or key_file of a secret) in section s; -1 when unknown. */
static int resolve_key(int s, const char *key, bool *is_file_key)
{
    *is_file_key = false;
    int k = config_key_find(s, key);
    size_t len = strlen(key);
    if (k >= 0 || len <= 5 || strcmp(key + len - 5, "_file") != 0) {
        return k;
    }
    char base[CONFIG_NAME_MAX];
    if (len - 5 >= sizeof(base)) {
        return -1;
    }
    memcpy(base, key, len - 5);
    base[len - 5] = '\0';
    k = config_key_find(s, base);
    if (k < 0 || (config_rule_get(s, k)->flags & (CONFIG_SECRET | CONFIG_SECRET_URL)) == 0) {
        return -1;
    }
    *is_file_key = true;
    return k;
}

static struct file_entry *index_find(struct file_index *idx, int s, int k, bool is_file_key)
{
    for (size_t i = 0; i < idx->count; i++) {
        struct file_entry *e = &idx->entries[i];
        if (e->s == s && e->k == k && e->is_file_key == is_file_key) {
            return e;
        }
    }
    return NULL;
}

/* One "key: value" pair inside section s; key is the already-read key event. */
static int walk_key(struct yaml_walk *w, int s, const yaml_event_t *key)
{
    const char *section = config_sections[s].key;
    const char *name = (const char *)key->data.scalar.value;
    int line = (int)key->start_mark.line + 1;
    bool is_file_key;
    int k = resolve_key(s, name, &is_file_key);
    if (k < 0) {
        return relay_error_set(w->err, RELAY_ECONFIG, "%s:%d: %s.%s: unknown key", w->path, line,
                               section, name);
    }
    if (index_find(w->index, s, k, is_file_key) != NULL) {
        return relay_error_set(w->err, RELAY_ECONFIG, "%s:%d: %s.%s: duplicate key", w->path, line,
                               section, name);
    }
    struct file_entry *e = &w->index->entries[w->index->count++];
    *e = (struct file_entry){.s = s, .k = k, .is_file_key = is_file_key, .line = line};
    yaml_event_t value;
    if (next_event(w, &value) != 0) {
        return -1;
    }
    int rc = 0;
    if (value.type == YAML_SCALAR_EVENT) {
        e->value = relay_strdup((const char *)value.data.scalar.value);
        if (e->value == NULL) {
            rc = relay_error_set(w->err, RELAY_ENOMEM, "config: out of memory");
        }
    } else {
        rc = skip_node(w, value.type);
    }
    yaml_event_delete(&value);
    return rc;
}

/* The body of a section mapping, after its MAPPING_START. */
static int walk_section(struct yaml_walk *w, int s)
{
    for (;;) {
        yaml_event_t key;
        if (next_event(w, &key) != 0) {
            return -1;
        }
        int rc = 0;
        if (key.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&key);
            return 0;
        }
        if (key.type != YAML_SCALAR_EVENT) {
            rc = relay_error_set(w->err, RELAY_ECONFIG, "%s:%zu: %s: keys must be plain strings",
                                 w->path, key.start_mark.line + 1, config_sections[s].key);
        } else {
            rc = walk_key(w, s, &key);
        }
        yaml_event_delete(&key);
        if (rc != 0) {
            return -1;
        }
    }
}

/* One "section: {...}" pair of the top-level mapping. */
static int walk_top_key(struct yaml_walk *w, const yaml_event_t *key)
{
    int line = (int)key->start_mark.line + 1;
    if (key->type != YAML_SCALAR_EVENT) {
        return relay_error_set(w->err, RELAY_ECONFIG,
                               "%s:%d: top level: keys must be plain strings", w->path, line);
    }
    const char *name = (const char *)key->data.scalar.value;
    int s = config_section_find(name);
    if (s < 0) {
        return relay_error_set(w->err, RELAY_ECONFIG, "%s:%d: %s: unknown key", w->path, line,
                               name);
    }
    if (w->index->seen_sections & (1u << s)) {
        return relay_error_set(w->err, RELAY_ECONFIG, "%s:%d: %s: duplicate key", w->path, line,
                               name);
    }
    w->index->seen_sections |= 1u << s;
    yaml_event_t value;
    if (next_event(w, &value) != 0) {
        return -1;
    }
    /* A non-mapping section is left to libcyaml, which reports its type. */
    int rc = value.type == YAML_MAPPING_START_EVENT ? walk_section(w, s) : skip_node(w, value.type);
    yaml_event_delete(&value);
    return rc;
}

/* The document: empty, null, or a mapping of sections; exactly one. */
static int walk_document(struct yaml_walk *w)
{
    yaml_event_t ev;
    int rc = 0;
    if (next_event(w, &ev) != 0) {
        return -1;
    }
    yaml_event_type_t type = ev.type;
    size_t line = ev.start_mark.line + 1;
    bool is_null = type == YAML_SCALAR_EVENT && ev.data.scalar.length == 0;
    yaml_event_delete(&ev);
    if (type == YAML_MAPPING_START_EVENT) {
        w->index->has_mapping = true;
        for (;;) {
            if (next_event(w, &ev) != 0) {
                return -1;
            }
            if (ev.type == YAML_MAPPING_END_EVENT) {
                yaml_event_delete(&ev);
                break;
            }
            rc = walk_top_key(w, &ev);
            yaml_event_delete(&ev);
            if (rc != 0) {
                return -1;
            }
        }
    } else if (!is_null) {
        return relay_error_set(w->err, RELAY_ECONFIG,
                               "%s:%zu: top level: must be a mapping of sections", w->path, line);
    }
    return 0;
}

static int walk_stream(struct yaml_walk *w)
{
    yaml_event_t ev;
    int documents = 0;
    for (;;) {
        if (next_event(w, &ev) != 0) {
            return -1;
        }
        yaml_event_type_t type = ev.type;
        size_t line = ev.start_mark.line + 1;
        yaml_event_delete(&ev);
        if (type == YAML_STREAM_END_EVENT) {
            return 0;
        }
        if (type != YAML_DOCUMENT_START_EVENT) {
            continue; /* STREAM_START, DOCUMENT_END */
        }
        if (++documents > 1) {
            return relay_error_set(w->err, RELAY_ECONFIG,
                                   "%s:%zu: top level: only one YAML document is allowed", w->path,
                                   line);
        }
        if (walk_document(w) != 0) {
            return -1;
        }
    }
}

static int index_build(const char *path, const char *data, size_t len, struct file_index *idx,
                       struct relay_error *err)
{
    struct yaml_walk w = {.path = path, .index = idx, .err = err};
    if (!yaml_parser_initialize(&w.parser)) {
        return relay_error_set(err, RELAY_ENOMEM, "config: out of memory");
    }
    yaml_parser_set_input_string(&w.parser, (const unsigned char *)data, len);
    int rc = walk_stream(&w);
    yaml_parser_delete(&w.parser);
    return rc;
}

static void index_free(struct file_index *idx)
{
    for (size_t i = 0; i < idx->count; i++) {
        relay_free(idx->entries[i].value);
    }
    relay_free(idx);
}

/* Applies one indexed key from the loaded struct (or the named file). */
static int apply_entry(struct config_ctx *ctx, struct file_index *idx, const struct file_entry *e,
                       const struct relay_config *loaded, struct relay_error *err)
{
    const cyaml_schema_field_t *field = &config_sections[e->s].value.mapping.fields[e->k];
    const char *section = config_sections[e->s].key;
    ctx->origin[e->s][e->k].line = e->line;
    if (e->is_file_key) {
        if (index_find(idx, e->s, e->k, false) != NULL) {
            return relay_error_set(err, RELAY_ECONFIG, "%s:%d: %s.%s_file: conflicts with %s.%s",
                                   ctx->path, e->line, section, field->key, section, field->key);
        }
        struct relay_error ferr = {0};
        char *secret = NULL;
        if (e->value == NULL || config_read_secret_file(e->value, &secret, &ferr) != 0) {
            if (ferr.code == RELAY_ENOMEM) {
                return relay_error_set(err, RELAY_ENOMEM, "%s", ferr.msg);
            }
            return relay_error_set(err, ferr.code ? ferr.code : RELAY_ECONFIG,
                                   "%s:%d: %s.%s_file: %s", ctx->path, e->line, section, field->key,
                                   e->value ? ferr.msg : "must be a file name");
        }
        int rc = config_set_string(ctx->conf, e->s, e->k, secret, err);
        relay_free(secret);
        return rc;
    }
    if (field->value.type == CYAML_BOOL) {
        /* libcyaml takes any unknown word as true; be strict instead. */
        int b = e->value != NULL ? config_parse_bool(e->value) : -1;
        if (b < 0) {
            return relay_error_set(err, RELAY_ECONFIG, "%s:%d: %s.%s: must be true or false",
                                   ctx->path, e->line, section, field->key);
        }
        *(bool *)config_key_addr(ctx->conf, e->s, e->k) = b == 1;
        return 0;
    }
    if (loaded == NULL) {
        return 0; /* an empty document has no keys; kept for safety */
    }
    if (field->value.type == CYAML_STRING) {
        const char *v = *(char *const *)config_key_addr(loaded, e->s, e->k);
        return config_set_string(ctx->conf, e->s, e->k, v != NULL ? v : "", err);
    }
    memcpy(config_key_addr(ctx->conf, e->s, e->k), config_key_addr(loaded, e->s, e->k),
           field->value.data_size);
    return 0;
}

int config_file_apply(struct config_ctx *ctx, struct relay_error *err)
{
    char *data = NULL;
    struct file_index *idx = NULL;
    struct relay_config *loaded = NULL;
    int rc = -1;

    if (config_read_file(ctx->path, CONFIG_YAML_MAX, &data, err) != 0) {
        goto out;
    }
    idx = relay_calloc(1, sizeof(*idx));
    if (idx == NULL) {
        relay_error_set(err, RELAY_ENOMEM, "config: out of memory");
        goto out;
    }
    if (index_build(ctx->path, data, strlen(data), idx, err) != 0) {
        goto out;
    }
    /* libcyaml refuses a document that is only "---"; the index allows it. */
    if (idx->has_mapping && config_cyaml_load(ctx, data, strlen(data), &loaded, err) != 0) {
        goto out;
    }
    for (size_t i = 0; i < idx->count; i++) {
        if (apply_entry(ctx, idx, &idx->entries[i], loaded, err) != 0) {
            goto out;
        }
    }
    rc = 0;
out:
    config_cyaml_free(loaded);
    if (idx != NULL) {
        index_free(idx);
    }
    relay_free(data);
    return rc;
}
