/* A checked mapping document -> struct mapping (the form every lookup
 * uses), and the read-only accessors of mapper.h. The compiled mapping
 * borrows its strings from the libcyaml document it owns. */
#include "mappers/mapping_internal.h"
#include "relay/mem.h"

#include <string.h>

static const char *const system_names[MAPPER_SYS_COUNT] = {"canonical", "twenty", "postgres",
                                                           "sqlite", "bigquery"};

const char *mapper_system_name(enum mapper_system sys)
{
    return (unsigned)sys < MAPPER_SYS_COUNT ? system_names[sys] : "unknown";
}

int mapper_system_parse(const char *name)
{
    for (int i = 0; i < MAPPER_SYS_COUNT; i++) {
        if (strcmp(name, system_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

size_t mapping_field_count(const struct mapping *m)
{
    return m->count;
}

const struct mapping_field *mapping_field_at(const struct mapping *m, size_t i)
{
    return i < m->count ? &m->entries[i].pub : NULL;
}

const struct mapping_field *mapping_field_find(const struct mapping *m, const char *name)
{
    for (size_t i = 0; i < m->count; i++) {
        if (strcmp(m->entries[i].pub.name, name) == 0) {
            return &m->entries[i].pub;
        }
    }
    return NULL;
}

bool mapper_column_has_top(const struct mapper_column *c, const char *key)
{
    return c->path != NULL && strcmp(c->part[0], key) == 0;
}

bool mapper_is_own_key(const struct mapping *m, enum mapper_system sys, const char *key)
{
    const struct mapper_system_conf *sc = &m->sys[sys];
    if (sc->extra_column != NULL && strcmp(sc->extra_column, key) == 0) {
        return true;
    }
    for (size_t i = 0; i < sc->own_key_count; i++) {
        if (strcmp(sc->own_keys[i], key) == 0) {
            return true;
        }
    }
    return false;
}

const struct mapper_entry *mapper_find_by_top(const struct mapping *m, enum mapper_system sys,
                                              const char *key, size_t *pos)
{
    for (size_t i = *pos; i < m->count; i++) {
        if (mapper_column_has_top(&m->entries[i].col[sys], key)) {
            *pos = i + 1;
            return &m->entries[i];
        }
    }
    *pos = m->count;
    return NULL;
}

/* Splits path at '.' into owned parts. 0 or -1 (ENOMEM). */
static int compile_path(struct mapper_column *c, const char *path)
{
    c->path = path;
    const char *p = path;
    for (size_t d = 0; d < MAPPER_PATH_MAX_DEPTH; d++) {
        size_t n = strcspn(p, ".");
        c->part[d] = relay_strndup(p, n);
        if (c->part[d] == NULL) {
            return -1;
        }
        c->depth = d + 1;
        if (p[n] == '\0') {
            break;
        }
        p += n + 1;
    }
    return 0;
}

static int compile_entry(struct mapper_entry *e, const struct mapping_yaml_field *f)
{
    e->pub.name = f->name;
    e->pub.type = (enum mapping_type)mapping_type_parse(f->type);
    e->pub.is_identity = f->identity;
    e->pub.is_syncrelay_owned = f->owned;
    e->pub.column[MAPPER_SYS_CANONICAL] = f->name;
    e->normalize = f->normalize != NULL ? mapper_normalizer_find(f->normalize) : NULL;
    if (e->normalize == NULL && e->pub.type == MAPPING_TIMESTAMP) {
        e->normalize = mapper_normalizer_find("timestamp"); /* a timestamp is always canonical */
    }
    if (compile_path(&e->col[MAPPER_SYS_CANONICAL], f->name) != 0) {
        return -1;
    }
    for (int s = 1; s < MAPPER_SYS_COUNT; s++) {
        const struct mapping_yaml_column *c = f->sys[s];
        if (c == NULL) {
            continue;
        }
        if (compile_path(&e->col[s], c->column) != 0) {
            return -1;
        }
        e->pub.column[s] = c->column;
        e->col[s].transform = c->transform != NULL ? mapper_transform_find(c->transform) : NULL;
        e->col[s].is_system_key = c->system_key;
    }
    return 0;
}

static void compile_systems(struct mapping *m, const struct mapping_yaml_doc *doc)
{
    for (int s = 1; s < MAPPER_SYS_COUNT && doc->systems != NULL; s++) {
        const struct mapping_yaml_system *sc = doc->systems->sys[s];
        if (sc != NULL) {
            m->sys[s].extra_column = sc->extra_column;
            m->sys[s].extra_transform =
                sc->extra_transform != NULL ? mapper_transform_find(sc->extra_transform) : NULL;
            m->sys[s].own_keys = (const char **)sc->own_keys;
            m->sys[s].own_key_count = sc->own_keys_count;
        }
    }
}

struct mapping *mapping_compile(struct mapping_yaml_doc *doc, struct relay_error *err)
{
    struct mapping *m = relay_calloc(1, sizeof(*m));
    if (m == NULL) {
        relay_error_set(err, RELAY_ENOMEM, "mapping: out of memory");
        return NULL;
    }
    m->entries = relay_calloc(doc->fields_count, sizeof(*m->entries));
    if (m->entries == NULL) {
        relay_free(m);
        relay_error_set(err, RELAY_ENOMEM, "mapping: out of memory");
        return NULL;
    }
    m->count = doc->fields_count;
    for (size_t i = 0; i < m->count; i++) {
        if (compile_entry(&m->entries[i], &doc->fields[i]) != 0) {
            mapping_destroy(m); /* does not own doc yet: parsed is NULL */
            relay_error_set(err, RELAY_ENOMEM, "mapping: out of memory");
            return NULL;
        }
    }
    compile_systems(m, doc);
    m->parsed = doc;
    return m;
}
