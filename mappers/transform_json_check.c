/* A JSON syntax check that allocates nothing. jansson reports an allocation
 * failure inside its lexer as a syntax error ("invalid token"), so after a
 * failed parse this tells "the text is not JSON" (keep it as text) from
 * "memory ran out" (fail with ENOMEM). RFC 8259 grammar as jansson reads
 * it: surrogates must pair, \u0000 is allowed (JSON_ALLOW_NUL), nesting is
 * capped at jansson's JSON_PARSER_MAX_DEPTH. Number ranges and UTF-8 are
 * not checked: the caller sorts those out by jansson's error code, and the
 * input always comes from a jansson string (valid UTF-8). Thread-safe. */
#include "mappers/transform_internal.h"

#include <stdbool.h>
#include <string.h>

#define JSON_CHECK_MAX_DEPTH 2048 /* jansson's JSON_PARSER_MAX_DEPTH */

struct json_cursor {
    const char *s;
    size_t len, pos;
};

static int peek(const struct json_cursor *c)
{
    return c->pos < c->len ? (unsigned char)c->s[c->pos] : -1;
}

static void skip_space(struct json_cursor *c)
{
    while (peek(c) == ' ' || peek(c) == '\t' || peek(c) == '\n' || peek(c) == '\r') {
        c->pos++;
    }
}

static bool scan_digits(struct json_cursor *c)
{
    size_t start = c->pos;
    while (peek(c) >= '0' && peek(c) <= '9') {
        c->pos++;
    }
    return c->pos > start;
}

/* -? (0 | [1-9][0-9]*) (.[0-9]+)? ([eE][+-]?[0-9]+)? */
static bool scan_number(struct json_cursor *c)
{
    if (peek(c) == '-') {
        c->pos++;
    }
    if (peek(c) == '0') {
        c->pos++;
    } else if (!scan_digits(c)) {
        return false;
    }
    if (peek(c) == '.') {
        c->pos++;
        if (!scan_digits(c)) {
            return false;
        }
    }
    if (peek(c) == 'e' || peek(c) == 'E') {
        c->pos++;
        if (peek(c) == '+' || peek(c) == '-') {
            c->pos++;
        }
        return scan_digits(c);
    }
    return true;
}

/* Reads "\uXXXX" (the backslash already consumed up to the 'u'). */
static bool scan_u_escape(struct json_cursor *c, unsigned *code)
{
    if (peek(c) != 'u' || c->len - c->pos < 5) {
        return false;
    }
    unsigned v = 0;
    for (size_t i = 1; i <= 4; i++) {
        char h = c->s[c->pos + i];
        unsigned d;
        if (h >= '0' && h <= '9') {
            d = (unsigned)(h - '0');
        } else if (h >= 'a' && h <= 'f') {
            d = (unsigned)(h - 'a' + 10);
        } else if (h >= 'A' && h <= 'F') {
            d = (unsigned)(h - 'A' + 10);
        } else {
            return false;
        }
        v = v * 16 + d;
    }
    c->pos += 5;
    *code = v;
    return true;
}

static bool scan_escape(struct json_cursor *c)
{
    int ch = peek(c); /* > 0: strchr would find the terminator for 0 */
    if (ch > 0 && ch != 'u' && strchr("\"\\/bfnrt", ch) != NULL) {
        c->pos++;
        return true;
    }
    unsigned code;
    if (!scan_u_escape(c, &code) || (code >= 0xDC00 && code <= 0xDFFF)) {
        return false;
    }
    if (code < 0xD800 || code > 0xDBFF) {
        return true;
    }
    unsigned low;
    if (peek(c) != '\\') {
        return false;
    }
    c->pos++;
    return scan_u_escape(c, &low) && low >= 0xDC00 && low <= 0xDFFF;
}

static bool scan_string(struct json_cursor *c)
{
    if (peek(c) != '"') {
        return false;
    }
    c->pos++;
    for (;;) {
        int ch = peek(c);
        if (ch < 0x20) { /* end of input (-1) or a raw control character */
            return false;
        }
        c->pos++;
        if (ch == '"') {
            return true;
        }
        if (ch == '\\' && !scan_escape(c)) {
            return false;
        }
    }
}

static bool scan_literal(struct json_cursor *c, const char *word)
{
    size_t n = strlen(word);
    if (c->len - c->pos < n || memcmp(c->s + c->pos, word, n) != 0) {
        return false;
    }
    c->pos += n;
    return true;
}

/* `"key" :` inside an object. */
static bool scan_member_key(struct json_cursor *c)
{
    skip_space(c);
    if (!scan_string(c)) {
        return false;
    }
    skip_space(c);
    if (peek(c) != ':') {
        return false;
    }
    c->pos++;
    return true;
}

/* Starts a value: -1 bad, 0 a complete value (scalar or empty container),
 * 1 a container was opened and its first value comes next. */
static int start_value(struct json_cursor *c, char *stack, size_t *depth)
{
    /* jansson counts every value, scalars too, against its depth limit. */
    if (*depth >= JSON_CHECK_MAX_DEPTH) {
        return -1;
    }
    skip_space(c);
    int ch = peek(c);
    if (ch == '[' || ch == '{') {
        c->pos++;
        skip_space(c);
        if (peek(c) == (ch == '[' ? ']' : '}')) {
            c->pos++;
            return 0;
        }
        stack[(*depth)++] = (char)ch;
        return ch == '{' && !scan_member_key(c) ? -1 : 1;
    }
    bool ok = ch == '"'   ? scan_string(c)
              : ch == 't' ? scan_literal(c, "true")
              : ch == 'f' ? scan_literal(c, "false")
              : ch == 'n' ? scan_literal(c, "null")
                          : scan_number(c);
    return ok ? 0 : -1;
}

/* After a complete value: closes containers; -1 bad, 0 end of the
 * document, 1 another value comes next. */
static int end_value(struct json_cursor *c, const char *stack, size_t *depth)
{
    for (;;) {
        skip_space(c);
        if (*depth == 0) {
            return c->pos == c->len ? 0 : -1;
        }
        char top = stack[*depth - 1];
        if (peek(c) == ',') {
            c->pos++;
            return top == '{' && !scan_member_key(c) ? -1 : 1;
        }
        if (peek(c) != (top == '[' ? ']' : '}')) {
            return -1;
        }
        c->pos++;
        (*depth)--;
    }
}

bool transform_json_is_valid(const char *s, size_t len)
{
    struct json_cursor c = {.s = s, .len = len, .pos = 0};
    char stack[JSON_CHECK_MAX_DEPTH];
    size_t depth = 0;
    for (;;) {
        int rc = start_value(&c, stack, &depth);
        if (rc < 0) {
            return false;
        }
        if (rc == 1) {
            continue;
        }
        rc = end_value(&c, stack, &depth);
        if (rc <= 0) {
            return rc == 0;
        }
    }
}
