/* Text case transforms for SELECT-like values: relationship_type is
 * canonical lower_snake ("board_member") and Twenty's option value is the
 * same in upper case ("BOARD_MEMBER"). Only ASCII changes case; other
 * bytes are kept, so UTF-8 stays valid. Pure functions; thread-safe. */
#include "mappers/transform.h"
#include "mappers/transform_internal.h"
#include "relay/mem.h"

#include <stdbool.h>

static bool is_word_separator(char c)
{
    return c == '-' || c == '_' || transform_is_ascii_space(c);
}

/* Trimmed, lower-cased, separator runs -> one '_'. out holds len + 1. */
static size_t snake_copy(const char *in, size_t len, char *out)
{
    size_t start = 0;
    while (start < len && transform_is_ascii_space(in[start])) {
        start++;
    }
    while (len > start && transform_is_ascii_space(in[len - 1])) {
        len--;
    }
    size_t n = 0;
    bool in_separator_run = false;
    for (size_t i = start; i < len; i++) {
        char c = in[i];
        if (is_word_separator(c)) {
            if (!in_separator_run) {
                out[n++] = '_';
            }
            in_separator_run = true;
            continue;
        }
        in_separator_run = false;
        out[n++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    return n;
}

static size_t upper_copy(const char *in, size_t len, char *out)
{
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        out[i] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
    }
    return len;
}

/* Applies copy to a text value; null stays null. */
static json_t *map_text(const json_t *in, size_t (*copy)(const char *, size_t, char *),
                        struct relay_error *err)
{
    if (json_is_null(in)) {
        return json_null();
    }
    if (transform_expect_text(in, err) != 0) {
        return NULL;
    }
    size_t len = json_string_length(in);
    char *buf = relay_malloc(len + 1);
    if (buf == NULL) {
        transform_oom(err);
        return NULL;
    }
    size_t n = copy(json_string_value(in), len, buf);
    /* Only ASCII bytes changed, so the UTF-8 check can be skipped. */
    json_t *res = json_stringn_nocheck(buf, n);
    relay_free(buf);
    if (res == NULL) {
        transform_oom(err);
    }
    return res;
}

json_t *transform_lower_snake(const json_t *in, struct relay_error *err)
{
    return map_text(in, snake_copy, err);
}

json_t *transform_upper(const json_t *in, struct relay_error *err)
{
    return map_text(in, upper_copy, err);
}
