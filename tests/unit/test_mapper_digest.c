/* mapper_value_digest streams jansson's encoding into SHA-256 without
 * json_dumps (mapper_digest.c). The digest is stored in Redis and compared
 * across processes and versions, so it must stay byte-for-byte the
 * documented formula: first 16 hex of sha256(json_dumps(v, JSON_COMPACT |
 * JSON_SORT_KEYS | JSON_ENCODE_ANY)), or of "" when json_dumps fails. This
 * test computes that formula independently and compares over hand-picked
 * edge cases (every escape, UTF-8 edge and invalid forms, integer limits,
 * reals, key order, the jansson fall-backs for wide and deep values), every
 * field of every fixture, and many random values. */
#include "mappers/mapper.h"
#include "queue/queue.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <limits.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void reference(const json_t *v, char out[17])
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    const char *data = text != NULL ? text : "";
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)data, strlen(data), md);
    for (int i = 0; i < 8; i++) {
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    }
    free(text);
}

/* Takes v. */
static void check(json_t *v)
{
    char got[17], want[17];
    assert_non_null(v);
    mapper_value_digest(v, got);
    reference(v, want);
    if (strcmp(got, want) != 0) {
        char *text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        fail_msg("digest %s, expected %s for %s", got, want, text ? text : "(not encodable)");
    }
    json_decref(v);
}

static void check_text(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);
    if (v == NULL) {
        fail_msg("bad test JSON %s: %s", text, jerr.text);
    }
    check(v);
}

static void scalars(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "null", "true", "false", "0", "-1", "7", "9223372036854775807", "-9223372036854775808",
        "0.1", "1.0", "-0.0", "1e300", "2.5e-8", "123456789.123456789", "\"\"", "\"plain\"",
        "\"a/b\"", "\"q\\\"uote\"", "\"back\\\\slash\"", "\"\\b\\f\\n\\r\\t\"",
        "\"\\u0001\\u001f\\u007f\"", "\"é\"", "\"María José Núñez-O'Connor\"", "\"€ ✓ \\u2028\"",
        "\"😀 \\ud83d\\ude00\"", "\"\\uffff\"", "\"\\u0800\"", "\"\\u0080\"",
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        check_text(texts[i]);
    }
    check(json_stringn("nul\0inside", 10));
    for (int c = 0; c < 0x80; c++) {
        char s[3] = {'x', (char)c, 'y'};
        check(json_stringn(s, 3));
    }
}

/* The accept script recognises a null by this digest (queue.h). */
static void null_digest_is_the_queue_constant(void **state)
{
    (void)state;
    char got[17];
    json_t *null = json_null();
    mapper_value_digest(null, got);
    assert_string_equal(got, QUEUE_NULL_DIGEST);
}

/* Strings jansson refuses to dump: both digest the empty string. */
static void invalid_utf8(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "\xc0\x80",         /* overlong NUL */
        "\xc1\xbf",         /* overlong */
        "\xe0\x80\x80",     /* overlong 3 bytes */
        "\xf0\x80\x80\x80", /* overlong 4 bytes */
        "\xed\xa0\x80",     /* surrogate */
        "\xf4\x90\x80\x80", /* above U+10FFFF */
        "\xf5\x80\x80\x80", "\xff", "\x80", "ok\xc3", "\xe2\x82", "\xc3\x28",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        check(json_stringn_nocheck(bad[i], strlen(bad[i])));
        json_t *o = json_object();
        json_object_set_new_nocheck(o, bad[i], json_true());
        check(o);
        check(json_pack("[s, o]", "x", json_stringn_nocheck(bad[i], strlen(bad[i]))));
    }
    char want[17], got[17];
    mapper_value_digest(NULL, got);
    json_t *b = json_stringn_nocheck("\xff", 1);
    mapper_value_digest(b, want);
    json_decref(b);
    assert_string_equal(got, want);
    assert_string_equal(got, "e3b0c44298fc1c14"); /* sha256("") */
}

static void containers(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "[]", "{}", "[[]]", "[{}]", "{\"a\":{}}", "[1,\"two\",3.0,null,true,false]",
        "{\"b\":1,\"a\":2}", "{\"ab\":1,\"a\":2,\"b\":3,\"\":4}", "{\"é\":1,\"e\":2,\"z\":3}",
        "{\"k\\\"\":1,\"k\\\\\":2,\"k\\n\":3}",
        "{\"b\":[1,{\"y\":2,\"x\":1}],\"a\":\"é\"}",
        "{\"sentiment\":{\"label\":\"positive\",\"score\":0.82},\"topics\":[\"sso\",\"scim\"]}",
        "[[[[[[[[[[[[1,{\"b\":[[[{\"z\":1,\"a\":2}]]]}]]]]]]]]]]]]",
        "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"z\":1,\"y\":2}}}}}}}}}}",
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        check_text(texts[i]);
    }
    check(json_pack("{s:i, s%:i}", "a", 1, "a\0b", (size_t)3, 2));
    /* Wider than the inline key array: jansson does it. */
    for (int n = 30; n <= 34; n++) {
        json_t *o = json_object();
        for (int i = n; i > 0; i--) {
            char key[16];
            snprintf(key, sizeof(key), "k%d", i);
            json_object_set_new(o, key, json_integer(i));
        }
        check(o);
    }
}

/* Every field of every fixture, as the mapper reads them. */
static void fixtures(void **state)
{
    (void)state;
    static const char *const dirs[] = {"supabase", "twenty"};
    for (size_t d = 0; d < 2; d++) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", RELAY_FIXTURES, dirs[d]);
        DIR *dir = opendir(path);
        assert_non_null(dir);
        struct dirent *e;
        while ((e = readdir(dir)) != NULL) {
            size_t len = strlen(e->d_name);
            if (len < 5 || strcmp(e->d_name + len - 5, ".json") != 0) {
                continue;
            }
            char file[1300];
            snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
            json_t *doc = json_load_file(file, 0, NULL);
            assert_non_null(doc);
            json_t *record = json_object_get(doc, "record");
            const char *key;
            json_t *value;
            json_object_foreach(record, key, value)
            {
                check(json_incref(value));
            }
            check(doc);
        }
        closedir(dir);
    }
}

static unsigned long rng_state = 12345;

static unsigned rnd(unsigned n)
{
    rng_state = rng_state * 6364136223846793005ul + 1442695040888963407ul;
    return (unsigned)((rng_state >> 33) % n);
}

static json_t *random_string(void)
{
    static const char *const pieces[] = {"a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t",
                                         "\x01", "\x7f", "é", "€", "😀", "key", ""};
    char s[64] = "";
    size_t n = rnd(6);
    for (size_t i = 0; i < n; i++) {
        strncat(s, pieces[rnd(16)], sizeof(s) - strlen(s) - 1);
    }
    return json_string(s);
}

static json_t *random_value(int depth)
{
    unsigned kind = rnd(depth > 10 ? 6 : 8);
    switch (kind) {
    case 0:
        return json_null();
    case 1:
        return json_boolean(rnd(2));
    case 2:
        return json_integer((json_int_t)rnd(2000000) - 1000000);
    case 3:
        return json_real((double)rnd(100000) / 128.0 - 300.0);
    case 4:
    case 5:
        return random_string();
    case 6: {
        json_t *a = json_array();
        for (unsigned i = rnd(5); i > 0; i--) {
            json_array_append_new(a, random_value(depth + 1));
        }
        return a;
    }
    default: {
        json_t *o = json_object();
        for (unsigned i = rnd(depth == 0 ? 40 : 6); i > 0; i--) {
            json_t *k = random_string();
            json_object_set_new(o, json_string_value(k), random_value(depth + 1));
            json_decref(k);
        }
        return o;
    }
    }
}

static void random_values(void **state)
{
    (void)state;
    for (int i = 0; i < 3000; i++) {
        check(random_value(0));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scalars),    cmocka_unit_test(invalid_utf8), cmocka_unit_test(containers),
        cmocka_unit_test(fixtures),   cmocka_unit_test(random_values),
        cmocka_unit_test(null_digest_is_the_queue_constant),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
