/* Small helpers every transform uses: type names for error messages, and the
 * ordered distinct-string list behind the email and phone transforms.
 * Pure functions; thread-safe. */
#include "mappers/transform_internal.h"

const char *transform_type_name(const json_t *v)
{
    if (v == NULL) {
        return "nothing";
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "text";
    case JSON_INTEGER:
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    case JSON_NULL:
        return "null";
    }
    return "unknown";
}

int transform_expect_text(const json_t *v, struct relay_error *err)
{
    if (json_is_string(v)) {
        return 0;
    }
    return relay_error_set(err, RELAY_EINVAL, "expected text, got %s", transform_type_name(v));
}

int transform_oom(struct relay_error *err)
{
    return relay_error_set(err, RELAY_ENOMEM, "out of memory");
}

bool transform_is_ascii_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

int transform_uniq_init(struct transform_uniq *u, struct relay_error *err)
{
    u->list = json_array();
    u->seen = json_object();
    if (u->list == NULL || u->seen == NULL) {
        transform_uniq_fini(u);
        return transform_oom(err);
    }
    return 0;
}

int transform_uniq_add(struct transform_uniq *u, const char *s, size_t len, struct relay_error *err)
{
    if (len == 0 || json_object_getn(u->seen, s, len) != NULL) {
        return 0;
    }
    /* json_stringn_nocheck: s is a piece of a jansson string (valid UTF-8)
     * with only ASCII bytes changed or removed, so it is still valid. */
    json_t *str = json_stringn_nocheck(s, len);
    if (str == NULL || json_array_append_new(u->list, str) != 0) {
        return transform_oom(err);
    }
    if (json_object_setn_new_nocheck(u->seen, s, len, json_true()) != 0) {
        return transform_oom(err);
    }
    return 0;
}

json_t *transform_uniq_take(struct transform_uniq *u)
{
    json_t *list = u->list;
    u->list = NULL;
    transform_uniq_fini(u);
    return list;
}

void transform_uniq_fini(struct transform_uniq *u)
{
    json_decref(u->list);
    json_decref(u->seen);
    u->list = NULL;
    u->seen = NULL;
}

json_t *transform_uniq_list(const json_t *in, const char *what,
                            int (*add)(struct transform_uniq *u, const json_t *item,
                                       struct relay_error *err),
                            struct relay_error *err)
{
    if (json_is_null(in)) {
        return json_array();
    }
    if (!json_is_array(in)) {
        relay_error_set(err, RELAY_EINVAL, "expected a list of %s, got %s", what,
                        transform_type_name(in));
        return NULL;
    }
    struct transform_uniq u;
    if (transform_uniq_init(&u, err) != 0) {
        return NULL;
    }
    size_t i;
    json_t *item;
    json_array_foreach(in, i, item)
    {
        if (add(&u, item, err) != 0) {
            transform_uniq_fini(&u);
            return NULL;
        }
    }
    return transform_uniq_take(&u);
}
