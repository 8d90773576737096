/* Canonical fields <-> one system's row or request body, driven by the
 * compiled mapping (mapping order, so output key order is stable).
 * Reading keeps every key: a mapped key becomes a canonical field (or is
 * quarantined, its raw value kept in extra), an unmapped key goes to extra,
 * and only the system's own keys (extra_column, own_keys) are skipped. */
#include "mappers/mapper_internal.h"

#include <stdio.h>
#include <string.h>

/* Quarantines e: the reason under its canonical name, the raw top-level
 * value under its system key in extra_out[bucket]. 0 or -1 (ENOMEM). */
static int quarantine_field(const struct mapper_entry *e, const struct mapper_column *c,
                            const json_t *row, const char *bucket, json_t *extra_out,
                            json_t *quarantine, const char *reason)
{
    json_t *raw = json_object_get(row, c->part[0]);
    if (quarantine != NULL &&
        json_object_set_new(quarantine, e->pub.name, json_string(reason)) != 0) {
        return -1;
    }
    if (extra_out != NULL && raw != NULL &&
        mapper_extra_put(extra_out, bucket, c->part[0], raw) != 0) {
        return -1;
    }
    return 0;
}

/* Reads entry e from row into fields; absent stays absent. */
static int read_entry(const struct mapper_entry *e, enum mapper_system sys, const json_t *row,
                      const char *bucket, json_t *fields, json_t *extra_out, json_t *quarantine)
{
    const struct mapper_column *c = &e->col[sys];
    struct relay_error why = {0};
    const json_t *raw = NULL;
    if (mapper_path_get(c, row, &raw, &why) != 0) {
        return quarantine_field(e, c, row, bucket, extra_out, quarantine, why.msg);
    }
    if (raw == NULL) {
        return 0;
    }
    json_t *v = mapper_value_in(e, sys, raw, &why);
    if (v == NULL) {
        if (why.code == RELAY_ENOMEM) {
            return -1;
        }
        return quarantine_field(e, c, row, bucket, extra_out, quarantine, why.msg);
    }
    return json_object_set_new(fields, e->pub.name, v);
}

/* True when some entry reads key in sys. */
static bool is_mapped_key(const struct mapping *m, enum mapper_system sys, const char *key)
{
    size_t pos = 0;
    return mapper_find_by_top(m, sys, key, &pos) != NULL;
}

static int keep_unmapped(const struct mapping *m, enum mapper_system sys, const json_t *row,
                         const char *bucket, json_t *extra_out)
{
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)row, key, value)
    {
        if (!is_mapped_key(m, sys, key) && !mapper_is_own_key(m, sys, key) &&
            mapper_extra_put(extra_out, bucket, key, value) != 0) {
            return -1;
        }
    }
    return 0;
}

json_t *mapper_read_row(const struct mapping *m, enum mapper_system sys, const json_t *row,
                        const char *bucket, json_t *extra_out, json_t *quarantine,
                        struct relay_error *err)
{
    if (!json_is_object(row)) {
        relay_error_set(err, RELAY_EINVAL, "%s: row must be an object", mapper_system_name(sys));
        return NULL;
    }
    json_t *fields = json_object();
    if (fields == NULL) {
        relay_error_set(err, RELAY_ENOMEM, "mapper: out of memory");
        return NULL;
    }
    for (size_t i = 0; i < m->count; i++) {
        if (m->entries[i].col[sys].path != NULL &&
            read_entry(&m->entries[i], sys, row, bucket, fields, extra_out, quarantine) != 0) {
            goto oom;
        }
    }
    if (extra_out != NULL && keep_unmapped(m, sys, row, bucket, extra_out) != 0) {
        goto oom;
    }
    return fields;
oom:
    json_decref(fields);
    relay_error_set(err, RELAY_ENOMEM, "mapper: out of memory");
    return NULL;
}

json_t *mapper_from_system(const struct mapping *m, enum mapper_system sys, const json_t *row,
                           json_t *extra_out, json_t *quarantine, struct relay_error *err)
{
    if ((unsigned)sys >= MAPPER_SYS_COUNT) {
        relay_error_set(err, RELAY_EINVAL, "mapper: unknown system %d", (int)sys);
        return NULL;
    }
    return mapper_read_row(m, sys, row, mapper_system_name(sys), extra_out, quarantine, err);
}

/* Writes extra into the system's extra column, when it has one. */
static int write_extra(const struct mapping *m, enum mapper_system sys, const json_t *extra,
                       json_t *row, struct relay_error *err)
{
    const struct mapper_system_conf *sc = &m->sys[sys];
    if (sc->extra_column == NULL || extra == NULL) {
        return 0;
    }
    json_t *v = json_incref((json_t *)extra);
    if (sc->extra_transform != NULL && sc->extra_transform->out != NULL) {
        json_t *t = sc->extra_transform->out(v, err);
        json_decref(v);
        v = t;
    }
    if (v == NULL || json_object_set_new(row, sc->extra_column, v) != 0) {
        return err->code != RELAY_OK ? -1
                                     : relay_error_set(err, RELAY_ENOMEM, "mapper: out of memory");
    }
    return 0;
}

/* Twenty's system keys (id, createdAt, updatedAt, deletedAt) are read but
 * never written in a request body unless the caller asks (round-trip
 * tests, rendering): the id goes in the URL, deletion through the delete
 * call. A composite such as name {firstName, lastName} is emitted with the
 * parts present in fields only (just firstName when only first_name is
 * there): Twenty replaces a composite whole, so the Twenty sink merges this
 * with the record it read before writing. */
static bool should_write(const struct mapper_column *c, enum mapper_system sys, unsigned flags)
{
    if (c->path == NULL) {
        return false;
    }
    return !(sys == MAPPER_SYS_TWENTY && c->is_system_key && !(flags & MAPPER_WITH_SYSTEM_KEYS));
}

static int write_entry(const struct mapper_entry *e, enum mapper_system sys, const json_t *value,
                       json_t *row, struct relay_error *err)
{
    struct relay_error why = {0};
    json_t *v = mapper_value_out(e, sys, value, &why);
    if (v == NULL) {
        return relay_error_set(err, why.code == RELAY_ENOMEM ? RELAY_ENOMEM : RELAY_EINVAL,
                               "%s: %s: %s", mapper_system_name(sys), e->pub.name, why.msg);
    }
    if (mapper_path_set(&e->col[sys], row, v) != 0) {
        return relay_error_set(err, RELAY_ENOMEM, "mapper: out of memory");
    }
    return 0;
}

json_t *mapper_to_system(const struct mapping *m, enum mapper_system sys, const json_t *fields,
                         const json_t *extra, unsigned flags, struct relay_error *err)
{
    if ((unsigned)sys >= MAPPER_SYS_COUNT || !json_is_object(fields)) {
        relay_error_set(err, RELAY_EINVAL, "mapper: fields must be an object");
        return NULL;
    }
    struct relay_error local = {0};
    err = err != NULL ? err : &local;
    relay_error_clear(err);
    json_t *row = json_object();
    if (row == NULL) {
        relay_error_set(err, RELAY_ENOMEM, "mapper: out of memory");
        return NULL;
    }
    for (size_t i = 0; i < m->count; i++) {
        const struct mapper_entry *e = &m->entries[i];
        const json_t *value = json_object_get(fields, e->pub.name);
        if (value != NULL && should_write(&e->col[sys], sys, flags) &&
            write_entry(e, sys, value, row, err) != 0) {
            json_decref(row);
            return NULL;
        }
    }
    if (write_extra(m, sys, extra, row, err) != 0) {
        json_decref(row);
        return NULL;
    }
    return row;
}
