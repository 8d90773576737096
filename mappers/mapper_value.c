/* One field's value between a system and the canonical form: the
 * column's transform, the canonical type check and the normaliser, and
 * dotted-path access into composite records (Twenty's name.firstName).
 * Types are never coerced (contact.md, Values): text given a number, a
 * number given "0.5", a non-string in a text[] are errors of the field. */
#include "mappers/mapper_internal.h"
#include "mappers/transform_internal.h"

#include <string.h>

static bool is_text_array(const json_t *v)
{
    size_t i;
    json_t *item;
    if (!json_is_array(v)) {
        return false;
    }
    json_array_foreach(v, i, item)
    {
        if (!json_is_string(item)) {
            return false;
        }
    }
    return true;
}

/* Checks v against the canonical type; takes v and returns it (a null
 * text[] becomes []), or NULL + err. */
static json_t *check_type(enum mapping_type type, json_t *v, struct relay_error *err)
{
    static const char *const expected[] = {"text", "number", "timestamp text",
                                           "json", "object", "array of text"};
    bool ok = json_is_null(v);
    switch (type) {
    case MAPPING_TEXT:
    case MAPPING_TIMESTAMP:
        ok = ok || json_is_string(v);
        break;
    case MAPPING_NUMBER:
        ok = ok || json_is_number(v);
        break;
    case MAPPING_JSON:
        ok = true;
        break;
    case MAPPING_JSON_OBJECT:
        ok = ok || json_is_object(v);
        break;
    case MAPPING_TEXT_ARRAY:
        if (json_is_null(v)) {
            json_decref(v);
            return json_array();
        }
        ok = is_text_array(v);
        if (!ok && json_is_array(v)) {
            json_decref(v);
            relay_error_set(err, RELAY_EINVAL, "expected an array of text, got a non-text item");
            return NULL;
        }
        break;
    }
    if (!ok) {
        relay_error_set(err, RELAY_EINVAL, "expected %s, got %s", expected[type],
                        transform_type_name(v));
        json_decref(v);
        return NULL;
    }
    return v;
}

/* Applies fn (NULL: as is) to v; takes v. */
static json_t *apply(mapper_transform_fn fn, json_t *v, struct relay_error *err)
{
    if (fn == NULL || v == NULL) {
        return v;
    }
    json_t *r = fn(v, err);
    json_decref(v);
    return r;
}

json_t *mapper_value_in(const struct mapper_entry *e, enum mapper_system sys, const json_t *raw,
                        struct relay_error *err)
{
    const struct mapper_transform *t = e->col[sys].transform;
    json_t *v = apply(t != NULL ? t->in : NULL, json_incref((json_t *)raw), err);
    if (v == NULL) {
        return NULL;
    }
    v = check_type(e->pub.type, v, err);
    return apply(e->normalize != NULL ? e->normalize->in : NULL, v, err);
}

json_t *mapper_value_out(const struct mapper_entry *e, enum mapper_system sys, const json_t *value,
                         struct relay_error *err)
{
    const struct mapper_transform *t = e->col[sys].transform;
    json_t *v = check_type(e->pub.type, json_incref((json_t *)value), err);
    v = apply(e->normalize != NULL ? e->normalize->in : NULL, v, err);
    return apply(t != NULL ? t->out : NULL, v, err);
}

int mapper_path_get(const struct mapper_column *c, const json_t *row, const json_t **out,
                    struct relay_error *err)
{
    const json_t *v = json_object_get(row, c->part[0]);
    if (c->depth == 1 || v == NULL) {
        *out = v;
        return 0;
    }
    if (json_is_null(v)) {
        *out = v; /* a null composite: each of its parts is null */
        return 0;
    }
    if (!json_is_object(v)) {
        *out = NULL;
        return relay_error_set(err, RELAY_EINVAL, "\"%s\" is not an object", c->part[0]);
    }
    *out = json_object_get(v, c->part[1]);
    return 0;
}

int mapper_path_set(const struct mapper_column *c, json_t *row, json_t *value)
{
    if (value == NULL) {
        return -1;
    }
    if (c->depth == 1) {
        return json_object_set_new(row, c->part[0], value);
    }
    json_t *parent = json_object_get(row, c->part[0]);
    if (!json_is_object(parent)) {
        parent = json_object();
        if (json_object_set_new(row, c->part[0], parent) != 0) {
            json_decref(value);
            return -1;
        }
    }
    return json_object_set_new(parent, c->part[1], value);
}

int mapper_extra_put(json_t *extra, const char *bucket, const char *key, json_t *value)
{
    json_t *b = json_object_get(extra, bucket);
    if (b == NULL) {
        b = json_object();
        if (json_object_set_new(extra, bucket, b) != 0) {
            return -1;
        }
    }
    return json_object_set(b, key, value);
}
