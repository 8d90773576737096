/* JSON held in text: Twenty keeps llm_context/ai_insights in TEXT fields,
 * SQLite in TEXT columns, BigQuery's insertAll takes JSON columns as
 * encoded strings. Serialisation is compact and keeps object key order
 * (jansson keeps insertion order since 2.8). Pure functions; thread-safe. */
#include "mappers/transform.h"
#include "mappers/transform_internal.h"
#include "relay/mem.h"

#include <stdbool.h>

#define JSON_TEXT_DUMP_FLAGS (JSON_COMPACT | JSON_ENCODE_ANY)
#define JSON_TEXT_LOAD_FLAGS (JSON_DECODE_ANY | JSON_ALLOW_NUL)

static bool contains_real(const json_t *v)
{
    if (json_is_real(v)) {
        return true;
    }
    size_t i;
    const char *key;
    json_t *child;
    if (json_is_array(v)) {
        json_array_foreach((json_t *)v, i, child)
        {
            if (contains_real(child)) {
                return true;
            }
        }
    } else if (json_is_object(v)) {
        json_object_foreach((json_t *)v, key, child)
        {
            if (contains_real(child)) {
                return true;
            }
        }
    }
    return false;
}

/* json_dumpb into our own allocation, so the caller frees with relay_free
 * whatever allocator jansson was given. NULL when jansson cannot encode or
 * memory runs out. */
static char *dump_flags(const json_t *v, size_t flags, size_t *len)
{
    size_t need = json_dumpb(v, NULL, 0, flags);
    if (need == 0) {
        return NULL;
    }
    char *buf = relay_malloc(need);
    if (buf == NULL) {
        return NULL;
    }
    *len = json_dumpb(v, buf, need, flags);
    if (*len != need) {
        relay_free(buf);
        return NULL;
    }
    return buf;
}

/* jansson writes reals with %.17g, which turns 0.35 into
 * "0.34999999999999998". The first precision from 15 up that reads back
 * equal is the shortest faithful text for every real in the document. */
static char *dump_shortest(const json_t *v, size_t *len)
{
    if (!contains_real(v)) {
        return dump_flags(v, JSON_TEXT_DUMP_FLAGS, len);
    }
    for (int precision = 15; precision < 17; precision++) {
        char *buf = dump_flags(v, JSON_TEXT_DUMP_FLAGS | JSON_REAL_PRECISION(precision), len);
        if (buf == NULL) {
            return NULL;
        }
        json_t *back = json_loadb(buf, *len, JSON_TEXT_LOAD_FLAGS, NULL);
        bool is_exact = back != NULL && json_equal(back, v);
        json_decref(back);
        if (is_exact) {
            return buf;
        }
        relay_free(buf);
    }
    return dump_flags(v, JSON_TEXT_DUMP_FLAGS | JSON_REAL_PRECISION(17), len);
}

/* A failed json_loadb is "not JSON" only when the text really is not:
 * jansson reports an allocation failure in its lexer as a syntax error,
 * and one before parsing starts with an empty message. Range errors
 * (too big a number, too deep) are genuine whatever the grammar says. */
static bool is_load_oom(const char *s, size_t len, const json_error_t *jerr)
{
    enum json_error_code code = json_error_code(jerr);
    if (code == json_error_numeric_overflow || code == json_error_stack_overflow) {
        return false;
    }
    return jerr->text[0] == '\0' || code == json_error_out_of_memory ||
           transform_json_is_valid(s, len);
}

json_t *transform_dump_text(const json_t *v, struct relay_error *err)
{
    size_t len = 0;
    char *buf = dump_shortest(v, &len);
    if (buf == NULL) {
        /* jansson encodes every value it can hold; a failure is memory. */
        transform_oom(err);
        return NULL;
    }
    json_t *res = json_stringn(buf, len);
    relay_free(buf);
    if (res == NULL) {
        transform_oom(err);
    }
    return res;
}

json_t *transform_json_text_in(const json_t *in, struct relay_error *err)
{
    if (json_is_null(in)) {
        return json_null();
    }
    if (transform_expect_text(in, err) != 0) {
        return NULL;
    }
    size_t len = json_string_length(in);
    if (len == 0) {
        return json_null();
    }
    json_error_t jerr;
    json_t *parsed = json_loadb(json_string_value(in), len, JSON_TEXT_LOAD_FLAGS, &jerr);
    if (parsed != NULL) {
        return parsed;
    }
    if (is_load_oom(json_string_value(in), len, &jerr)) {
        transform_oom(err);
        return NULL;
    }
    /* Not JSON: the text itself is the value, never dropped. */
    json_t *res = json_stringn_nocheck(json_string_value(in), len);
    if (res == NULL) {
        transform_oom(err);
    }
    return res;
}

json_t *transform_json_text_out(const json_t *in, struct relay_error *err)
{
    if (json_is_null(in)) {
        return json_null();
    }
    return transform_dump_text(in, err);
}

json_t *transform_json_encode(const json_t *in, struct relay_error *err)
{
    return transform_json_text_out(in, err);
}

json_t *transform_json_decode(const json_t *in, struct relay_error *err)
{
    if (json_is_null(in)) {
        return json_null();
    }
    if (transform_expect_text(in, err) != 0) {
        return NULL;
    }
    json_error_t jerr;
    json_t *parsed =
        json_loadb(json_string_value(in), json_string_length(in), JSON_TEXT_LOAD_FLAGS, &jerr);
    if (parsed == NULL && is_load_oom(json_string_value(in), json_string_length(in), &jerr)) {
        transform_oom(err);
    } else if (parsed == NULL) {
        /* Position only: the message would quote the (private) text. */
        relay_error_set(err, RELAY_EINVAL, "text is not JSON (line %d column %d)", jerr.line,
                        jerr.column);
    }
    return parsed;
}
