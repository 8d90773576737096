/* Comparison of canonical copies (backfill_compare.h). */
#include "relay/backfill_compare.h"
#include "mappers/mapper.h"

#include <string.h>

static bool is_empty_array(const json_t *v)
{
    return json_is_array(v) && json_array_size(v) == 0;
}

static bool objects_equal(const json_t *a, const json_t *b)
{
    if (json_object_size(a) != json_object_size(b)) {
        return false;
    }
    const char *key;
    json_t *va;
    json_object_foreach((json_t *)a, key, va)
    {
        const json_t *vb = json_object_get(b, key);
        if (vb == NULL || !backfill_values_equal(va, vb, false)) {
            return false;
        }
    }
    return true;
}

static bool arrays_equal(const json_t *a, const json_t *b)
{
    if (json_array_size(a) != json_array_size(b)) {
        return false;
    }
    for (size_t i = 0; i < json_array_size(a); i++) {
        if (!backfill_values_equal(json_array_get(a, i), json_array_get(b, i), false)) {
            return false;
        }
    }
    return true;
}

bool backfill_values_equal(const json_t *a, const json_t *b, bool is_text_array)
{
    if (is_text_array && (json_is_null(a) || is_empty_array(a)) &&
        (json_is_null(b) || is_empty_array(b))) {
        return true;
    }
    if (json_is_number(a) && json_is_number(b)) {
        return json_number_value(a) == json_number_value(b);
    }
    if (json_is_object(a) && json_is_object(b)) {
        return objects_equal(a, b);
    }
    if (json_is_array(a) && json_is_array(b)) {
        return arrays_equal(a, b);
    }
    return json_equal((json_t *)a, (json_t *)b) != 0;
}

/* Twenty sets createdAt, updatedAt and deletedAt itself whenever syncrelay
 * creates, changes or deletes a person there, so they hold Twenty's own
 * times: created_at and updated_at are not compared for Twenty, deleted_at
 * only as deleted or not (twenty_deleted_differs). */
static bool is_twenty_own_time(const struct mapping_field *f, const struct backfill_copy *c)
{
    return c->system == MAPPER_SYS_TWENTY &&
           (strcmp(f->name, "created_at") == 0 || strcmp(f->name, "updated_at") == 0 ||
            strcmp(f->name, "deleted_at") == 0);
}

/* Whether copy c takes part in the comparison of field f. */
static bool takes_part(const struct mapping_field *f, const struct backfill_copy *c)
{
    if (c->fields == NULL || c->system < 0 || c->system >= MAPPER_SYS_COUNT ||
        f->column[c->system] == NULL || is_twenty_own_time(f, c)) {
        return false;
    }
    const json_t *v = json_object_get(c->fields, f->name);
    return v != NULL && !(f->is_identity && json_is_null(v));
}

/* deleted_at in Twenty against the others: deleted or not. */
static bool twenty_deleted_differs(const struct mapping_field *f,
                                   const struct backfill_copy *copies, size_t n)
{
    int twenty_deleted = -1;
    int other_deleted = -1;
    if (strcmp(f->name, "deleted_at") != 0) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *v =
            copies[i].fields != NULL ? json_object_get(copies[i].fields, f->name) : NULL;
        if (v == NULL || copies[i].system < 0 || copies[i].system >= MAPPER_SYS_COUNT ||
            f->column[copies[i].system] == NULL) {
            continue;
        }
        if (copies[i].system == MAPPER_SYS_TWENTY) {
            twenty_deleted = !json_is_null(v);
        } else if (other_deleted < 0) {
            other_deleted = !json_is_null(v);
        }
    }
    return twenty_deleted >= 0 && other_deleted >= 0 && twenty_deleted != other_deleted;
}

/* Whether copy c is shown in the difference of field f. */
static bool is_shown(const struct mapping_field *f, const struct backfill_copy *c)
{
    return takes_part(f, c) || (is_twenty_own_time(f, c) && strcmp(f->name, "deleted_at") == 0 &&
                                json_object_get(c->fields, f->name) != NULL);
}

/* One field: appends {"field", "values"} to diffs when the copies differ. */
static int compare_field(const struct mapping_field *f, const struct backfill_copy *copies,
                         size_t n, json_t *diffs)
{
    const json_t *first = NULL;
    bool differs = twenty_deleted_differs(f, copies, n);
    bool is_text_array = f->type == MAPPING_TEXT_ARRAY;
    for (size_t i = 0; i < n; i++) {
        if (!takes_part(f, &copies[i])) {
            continue;
        }
        const json_t *v = json_object_get(copies[i].fields, f->name);
        if (first == NULL) {
            first = v;
        } else if (!backfill_values_equal(first, v, is_text_array)) {
            differs = true;
        }
    }
    if (!differs) {
        return 0;
    }
    json_t *values = json_object();
    json_t *entry = json_pack("{s:s, s:o}", "field", f->name, "values", values);
    for (size_t i = 0; entry != NULL && i < n; i++) {
        if (is_shown(f, &copies[i]) &&
            json_object_set(values, copies[i].label, json_object_get(copies[i].fields, f->name)) !=
                0) {
            json_decref(entry);
            entry = NULL;
        }
    }
    return entry != NULL ? json_array_append_new(diffs, entry) : -1;
}

json_t *backfill_compare(const struct mapping *m, const struct backfill_copy *copies, size_t n,
                         struct relay_error *err)
{
    json_t *diffs = json_array();
    for (size_t i = 0; diffs != NULL && i < mapping_field_count(m); i++) {
        const struct mapping_field *f = mapping_field_at(m, i);
        if (f->is_syncrelay_owned || strcmp(f->name, "extra") == 0) {
            continue;
        }
        if (compare_field(f, copies, n, diffs) != 0) {
            json_decref(diffs);
            diffs = NULL;
        }
    }
    if (diffs == NULL) {
        relay_error_set(err, RELAY_ENOMEM, "out of memory");
    }
    return diffs;
}
