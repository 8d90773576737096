/* The arbiter's value digest: the first 16 hex digits of the SHA-256 of
 * jansson's json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS |
 * JSON_ENCODE_ANY), so equal values give equal digests whatever their key
 * order (the team's decision; stored digests in P:contact depend on it).
 *
 * DESIGN: the ingress computes ~25 digests per webhook, so rather than
 * json_dumps (a hashtable, a growing buffer and a copy per call) the bytes
 * jansson would produce are streamed straight into SHA-256: null, booleans,
 * integers ("%lld"), strings (jansson's escapes: \" \\ \b \f \n \r \t,
 * other controls as \u00XX, everything else as is) and arrays/objects
 * (keys sorted by bytes, like jansson's compare_keys) are written here;
 * reals, objects with many keys and deep nesting are dumped by jansson
 * itself and fed in, so the result is byte-for-byte jansson's. Where
 * json_dumps fails (invalid UTF-8 in a string value) the digest is that
 * of the empty string, as before; a key with invalid UTF-8 is written
 * truncated, as jansson does. test_mapper_digest compares both ways over
 * many values. */
/* The low-level SHA256_Init/Update/Final are deprecated in OpenSSL 3 but
 * kept; unlike the one-shot SHA256() (EVP_Q_digest: a provider fetch and
 * its lock on every call) they hash a stream with no allocation. */
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include "mappers/mapper.h"
#include "relay/mem.h"

#include <openssl/sha.h>
#include <stdbool.h>
#include <string.h>

#define DIGEST_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY)
#define DIGEST_MAX_DEPTH 8 /* deeper values go to jansson (small stack frames) */
#define DIGEST_MAX_KEYS 32 /* objects with more keys go to jansson */

struct key_ref {
    const char *key;
    size_t len;
};

/* The bytes jansson would write, gathered in buf so SHA-256 sees a few
 * large updates rather than one per token. */
struct digest {
    SHA256_CTX sha;
    size_t len;
    char buf[256];
};

static void flush(struct digest *d)
{
    SHA256_Update(&d->sha, d->buf, d->len);
    d->len = 0;
}

static void feed(struct digest *d, const char *data, size_t len)
{
    if (d->len + len > sizeof(d->buf)) {
        flush(d);
        if (len > sizeof(d->buf)) {
            SHA256_Update(&d->sha, data, len);
            return;
        }
    }
    memcpy(d->buf + d->len, data, len);
    d->len += len;
}

/* Feeds jansson's own encoding of v; -1 when jansson refuses it. */
static int feed_jansson(struct digest *d, const json_t *v)
{
    char *text = json_dumps(v, DIGEST_FLAGS);
    if (text == NULL) {
        return -1;
    }
    feed(d, text, strlen(text));
    relay_free(text);
    return 0;
}

static void feed_integer(struct digest *d, json_int_t value)
{
    char buf[24];
    size_t pos = sizeof(buf);
    unsigned long long u = value < 0 ? 0ull - (unsigned long long)value : (unsigned long long)value;
    do {
        buf[--pos] = (char)('0' + u % 10);
        u /= 10;
    } while (u > 0);
    if (value < 0) {
        buf[--pos] = '-';
    }
    feed(d, buf + pos, sizeof(buf) - pos);
}

/* Length of the valid UTF-8 sequence at s (jansson's utf8_check rules:
 * no overlong forms, no surrogates, nothing above U+10FFFF), or 0. */
static size_t utf8_length(const unsigned char *s, size_t avail)
{
    size_t n = s[0] < 0xC2 ? 0 : s[0] < 0xE0 ? 2 : s[0] < 0xF0 ? 3 : s[0] < 0xF5 ? 4 : 0;
    if (n == 0 || n > avail) {
        return 0;
    }
    unsigned cp = s[0] & (0x7Fu >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    bool overlong = (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000);
    bool bad = cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF);
    return overlong || bad ? 0 : n;
}

/* The escape jansson writes for the ASCII byte c, or NULL when none. */
static const char *escape_of(unsigned char c, char buf[8])
{
    static const char hex[] = "0123456789ABCDEF";
    switch (c) {
    case '"':
        return "\\\"";
    case '\\':
        return "\\\\";
    case '\b':
        return "\\b";
    case '\f':
        return "\\f";
    case '\n':
        return "\\n";
    case '\r':
        return "\\r";
    case '\t':
        return "\\t";
    default:
        break;
    }
    if (c >= 0x20) {
        return NULL;
    }
    memcpy(buf, "\\u00", 4);
    buf[4] = hex[c >> 4];
    buf[5] = hex[c & 0xF];
    buf[6] = '\0';
    return buf;
}

/* Bytes a string run can pass as they are: printable ASCII but '"' and
 * '\\' (1); the rest needs an escape or a UTF-8 check (0). */
static bool is_plain_byte(unsigned char c)
{
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/* A JSON string literal as jansson writes it; -1 on invalid UTF-8. */
static int feed_string(struct digest *d, const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t run = 0, i = 0;
    feed(d, "\"", 1);
    while (i < len) {
        if (is_plain_byte(s[i])) {
            i++;
            continue;
        }
        char buf[8];
        const char *esc = s[i] < 0x80 ? escape_of(s[i], buf) : NULL;
        if (esc == NULL) {
            size_t n = utf8_length(s + i, len - i);
            if (n == 0) {
                return -1;
            }
            i += n;
            continue;
        }
        feed(d, str + run, i - run);
        feed(d, esc, strlen(esc));
        run = ++i;
    }
    feed(d, str + run, len - run);
    feed(d, "\"", 1);
    return 0;
}

static int feed_value(struct digest *d, const json_t *v, int depth);

static int feed_array(struct digest *d, const json_t *v, int depth)
{
    size_t n = json_array_size(v);
    feed(d, "[", 1);
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            feed(d, ",", 1);
        }
        if (feed_value(d, json_array_get(v, i), depth) != 0) {
            return -1;
        }
    }
    feed(d, "]", 1);
    return 0;
}

/* jansson's key order: bytes, then the shorter first. */
static bool key_before(const struct key_ref *a, const struct key_ref *b)
{
    int c = memcmp(a->key, b->key, a->len < b->len ? a->len : b->len);
    return c < 0 || (c == 0 && a->len < b->len);
}

/* At most DIGEST_MAX_KEYS keys: insertion sort on the stack. */
static int feed_object(struct digest *d, const json_t *v, int depth)
{
    struct key_ref keys[DIGEST_MAX_KEYS];
    size_t n = 0;
    const char *key;
    size_t key_len;
    json_t *value;
    json_object_keylen_foreach((json_t *)v, key, key_len, value)
    {
        struct key_ref k = {key, key_len};
        size_t at = n++;
        for (; at > 0 && key_before(&k, &keys[at - 1]); at--) {
            keys[at] = keys[at - 1];
        }
        keys[at] = k;
    }
    feed(d, "{", 1);
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            feed(d, ",", 1);
        }
        /* jansson ignores a key's encoding failure: the bytes up to the
         * last escape before the bad one stay, and it goes on. */
        (void)feed_string(d, keys[i].key, keys[i].len);
        feed(d, ":", 1);
        if (feed_value(d, json_object_getn(v, keys[i].key, keys[i].len), depth) != 0) {
            return -1;
        }
    }
    feed(d, "}", 1);
    return 0;
}

static int feed_value(struct digest *d, const json_t *v, int depth)
{
    switch (json_typeof(v)) {
    case JSON_NULL:
        feed(d, "null", 4);
        return 0;
    case JSON_TRUE:
        feed(d, "true", 4);
        return 0;
    case JSON_FALSE:
        feed(d, "false", 5);
        return 0;
    case JSON_INTEGER:
        feed_integer(d, json_integer_value(v));
        return 0;
    case JSON_STRING:
        return feed_string(d, json_string_value(v), json_string_length(v));
    case JSON_ARRAY:
        return depth < DIGEST_MAX_DEPTH ? feed_array(d, v, depth + 1) : feed_jansson(d, v);
    case JSON_OBJECT:
        return depth < DIGEST_MAX_DEPTH && json_object_size(v) <= DIGEST_MAX_KEYS
                   ? feed_object(d, v, depth + 1)
                   : feed_jansson(d, v);
    default: /* JSON_REAL: jansson's own number formatting */
        return feed_jansson(d, v);
    }
}

void mapper_value_digest(const json_t *value, char out[RELAY_EVENT_ID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[SHA256_DIGEST_LENGTH];
    struct digest d = {.len = 0};
    SHA256_Init(&d.sha);
    /* A value jansson cannot encode (or NULL) digests as the empty string:
     * the arbiter then sees a value that differs from every stored one,
     * which errs on the side of syncing. */
    if (value == NULL || feed_value(&d, value, 0) != 0) {
        SHA256_Init(&d.sha);
        d.len = 0;
    }
    flush(&d);
    SHA256_Final(md, &d.sha);
    for (int i = 0; i < RELAY_EVENT_ID_LEN / 2; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0xF];
    }
    out[RELAY_EVENT_ID_LEN] = '\0';
}
