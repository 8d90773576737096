/* Round-trip property: for generated canonical contacts c (seeded PRNG:
 * Unicode and emoji, "" and null, 10 KB text, nested JSON with reals, many
 * emails and phones with real calling codes, numbers, timestamps, absent
 * fields) and every system S,
 *     from_system(S, to_system(S, c)) == c   (json_equal)
 * with nothing quarantined and nothing left over in extra. Twenty uses
 * MAPPER_WITH_SYSTEM_KEYS so id/createdAt/updatedAt/deletedAt go through.
 *
 * This is the mapper's JSON contract. Where a real system stores less than
 * its JSON form carries, the value cannot round-trip through that system
 * and the generator does not pretend it can (README: Differences from the spec):
 * PostgreSQL text cannot hold U+0000 (so no NUL is generated); Twenty keeps
 * timestamps to the millisecond and may turn a null text into ""; SQLite
 * REAL reads an integer back as a real. RELAY_ROUNDTRIP_SEED and
 * RELAY_ROUNDTRIP_COUNT override the seed and the count. */
#include "mappers/mapper.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_mapping_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state;

/* xorshift64*: small, deterministic, good enough for test data. */
static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static unsigned below(unsigned n)
{
    return (unsigned)(rng() % n);
}

static bool chance(unsigned percent)
{
    return below(100) < percent;
}

static const char *const pieces[] = {
    "a",    "Z",     "0", " ", "-",    "'",           "\"",  "\\",           "/",        "\n",
    "\t",   "é",     "ü", "ß", "Š",    "ø",           "中",  "文",           "日本",     "한",
    "ع",    "עברית", "Ω", "🏦", "😀",    "👩‍💻", "🇨🇭",  "\xe2\x80\x8b", "{",        "}",
    "[",    "]",     ":", ",", "null", "true",        "0.5", "Dr.",          "O'Connor", "Núñez",
    "\x7f", "\x01",
};

/* Appends n random pieces to buf (NUL-terminated, cap bytes). */
static void random_text(char *buf, size_t cap, unsigned n)
{
    size_t len = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < n; i++) {
        const char *p = pieces[below(sizeof(pieces) / sizeof(pieces[0]))];
        size_t pl = strlen(p);
        if (len + pl + 1 > cap) {
            break;
        }
        memcpy(buf + len, p, pl + 1);
        len += pl;
    }
}

static json_t *gen_text(void)
{
    static char buf[12 * 1024];
    unsigned pick = below(100);
    if (pick < 8) {
        return json_null();
    }
    if (pick < 14) {
        return json_string("");
    }
    /* About one contact in ten carries a 10 KB text somewhere. */
    random_text(buf, sizeof(buf), pick < 15 ? 4000 : 1 + below(24));
    return json_string(buf);
}

static json_t *gen_number(void)
{
    switch (below(6)) {
    case 0:
        return json_null();
    case 1:
        return json_integer((json_int_t)(rng() >> 11) - (1LL << 52));
    case 2:
        return json_real((double)below(1001) / 1000.0);
    case 3:
        return json_real(-1e300 * (double)below(3) + 1e-7);
    default:
        return json_real((double)(int64_t)(rng() >> 1) / 1e9);
    }
}

static json_t *gen_timestamp(bool may_be_null)
{
    if (may_be_null && chance(30)) {
        return json_null();
    }
    char buf[96];
    int64_t day = (int64_t)below(365 * 130); /* 1970 .. 2100 */
    int64_t y = 1970, doy = day;
    while (doy >= ((y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) ? 366 : 365)) {
        doy -= (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) ? 366 : 365;
        y++;
    }
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int m = 0;
    bool leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    while (doy >= mdays[m] + (m == 1 && leap)) {
        doy -= mdays[m] + (m == 1 && leap);
        m++;
    }
    snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02u:%02u:%02u.%06uZ", (int)y, m + 1, (int)doy + 1,
             below(24), below(60), below(60), below(1000000));
    return json_string(buf);
}

static json_t *gen_json(int depth);

static json_t *gen_json_object(int depth)
{
    json_t *o = json_object();
    unsigned n = below(depth > 0 ? 6 : 3);
    char key[64];
    for (unsigned i = 0; i < n; i++) {
        random_text(key, sizeof(key), 1 + below(3));
        json_object_set_new(o, key, gen_json(depth - 1));
    }
    return o;
}

static json_t *gen_json(int depth)
{
    unsigned pick = below(depth > 0 ? 9 : 6);
    switch (pick) {
    case 0:
        return json_null();
    case 1:
        return json_boolean(chance(50));
    case 2: {
        json_t *v = gen_number();
        return json_is_null(v) ? json_integer(0) : v;
    }
    case 3:
    case 4: {
        json_t *v = gen_text();
        return json_is_null(v) ? json_string("x") : v;
    }
    case 5:
    case 6:
        return gen_json_object(depth);
    default: {
        json_t *a = json_array();
        for (unsigned i = below(5); i > 0; i--) {
            json_array_append_new(a, gen_json(depth - 1));
        }
        return a;
    }
    }
}

/* Adds s to list unless it is there (canonical lists hold no duplicates). */
static void add_unique(json_t *list, const char *s)
{
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item)
    {
        if (strcmp(json_string_value(item), s) == 0) {
            return;
        }
    }
    json_array_append_new(list, json_string(s));
}

static json_t *gen_text_array(void)
{
    json_t *a = json_array();
    char buf[256];
    for (unsigned i = below(8); i > 0; i--) {
        random_text(buf, sizeof(buf), below(6)); /* "" items are allowed in tags */
        json_array_append_new(a, json_string(buf));
    }
    return a;
}

/* Canonical emails: trimmed, domain in lower case, no empties, no dups. */
static json_t *gen_emails(void)
{
    static const char *const locals[] = {"ada",  "J.Mueller", "maría.josé", "x+tag",
                                         "中文", "o'connor",  "UPPER",      "a_b-c"};
    static const char *const domains[] = {"example.org", "example-bank.de", "münchen.example",
                                          "mail.co.uk", "xn--bcher-kva.example"};
    json_t *a = json_array();
    char buf[128];
    for (unsigned i = chance(10) ? 12 + below(20) : below(4); i > 0; i--) {
        snprintf(buf, sizeof(buf), "%s%u@%s", locals[below(8)], below(50), domains[below(5)]);
        add_unique(a, buf);
    }
    return a;
}

/* Canonical phones: E.164 with real ITU calling codes. */
static json_t *gen_phones(void)
{
    static const char *const codes[] = {
        "1",  "7",  "20", "27",  "30",  "33",  "34",  "41",  "44",  "49",  "52",   "55",  "61",
        "81", "86", "91", "234", "353", "358", "380", "852", "971", "972", "1242", "1876"};
    json_t *a = json_array();
    char buf[32];
    for (unsigned i = chance(10) ? 10 + below(10) : below(4); i > 0; i--) {
        const char *code = codes[below(sizeof(codes) / sizeof(codes[0]))];
        int len = snprintf(buf, sizeof(buf), "+%s%u", code, 1 + below(9));
        unsigned digits = 5 + below(15 - 5 - (unsigned)strlen(code) + 1);
        for (unsigned d = 1; d < digits && len < 16; d++) {
            buf[len++] = (char)('0' + below(10));
        }
        buf[len] = '\0';
        add_unique(a, buf);
    }
    return a;
}

static json_t *gen_id(void)
{
    char buf[40];
    if (chance(20)) {
        return json_null();
    }
    snprintf(buf, sizeof(buf), "%08x-%04x-4%03x-8%03x-%012llx", (unsigned)rng(), below(65536),
             below(4096), below(4096), (unsigned long long)(rng() >> 16));
    return json_string(buf);
}

static json_t *gen_relationship_type(void)
{
    static const char *const kinds[] = {"client",           "board_member", "vendor", "friend",
                                        "former_colleague", "investor",     "a_b_c",  ""};
    return chance(15) ? json_null() : json_string(kinds[below(8)]);
}

static json_t *gen_value(const struct mapping_field *f)
{
    if (f->is_identity) {
        return gen_id();
    }
    if (strcmp(f->name, "relationship_type") == 0) {
        return gen_relationship_type();
    }
    if (strcmp(f->name, "emails") == 0) {
        return gen_emails();
    }
    if (strcmp(f->name, "phones") == 0) {
        return gen_phones();
    }
    switch (f->type) {
    case MAPPING_TEXT:
        return gen_text();
    case MAPPING_NUMBER:
        return gen_number();
    case MAPPING_TIMESTAMP:
        return gen_timestamp(strcmp(f->name, "created_at") != 0);
    case MAPPING_JSON:
        return gen_json(3);
    case MAPPING_JSON_OBJECT:
        return chance(15) ? json_null() : gen_json_object(3);
    default:
        return gen_text_array();
    }
}

/* A canonical contact: each field present 85% of the time. */
static json_t *gen_contact(void)
{
    json_t *c = json_object();
    for (size_t i = 0; i < mapping_field_count(mapping); i++) {
        const struct mapping_field *f = mapping_field_at(mapping, i);
        if (chance(85)) {
            json_object_set_new(c, f->name, gen_value(f));
        }
    }
    return c;
}

/* Names the first field where a and b differ (for the failure message). */
static const char *first_difference(const json_t *a, const json_t *b)
{
    for (size_t i = 0; i < mapping_field_count(mapping); i++) {
        const char *name = mapping_field_at(mapping, i)->name;
        json_t *x = json_object_get(a, name), *y = json_object_get(b, name);
        if ((x == NULL) != (y == NULL) || (x != NULL && !json_equal(x, y))) {
            return name;
        }
    }
    return "(key set)";
}

static void check_system(const json_t *c, enum mapper_system sys, unsigned n)
{
    struct relay_error err = {0};
    json_t *extra = json_object(), *quarantine = json_object();
    json_t *row = mapper_to_system(mapping, sys, c, NULL, MAPPER_WITH_SYSTEM_KEYS, &err);
    if (row == NULL) {
        fail_msg("contact %u: to %s: %s", n, mapper_system_name(sys), err.msg);
    }
    json_t *back = mapper_from_system(mapping, sys, row, extra, quarantine, &err);
    if (back == NULL || !json_equal(back, (json_t *)c)) {
        fail_msg("contact %u: %s does not round-trip: field %s", n, mapper_system_name(sys),
                 back != NULL ? first_difference(back, c) : err.msg);
    }
    if (json_object_size(extra) != 0 || json_object_size(quarantine) != 0) {
        char *q = json_dumps(quarantine, 0);
        fail_msg("contact %u: %s left extra/quarantine: %s", n, mapper_system_name(sys), q);
    }
    json_decref(back);
    json_decref(row);
    json_decref(extra);
    json_decref(quarantine);
}

static void every_system_round_trips(void **state)
{
    (void)state;
    const char *seed = getenv("RELAY_ROUNDTRIP_SEED");
    const char *count = getenv("RELAY_ROUNDTRIP_COUNT");
    rng_state = seed != NULL ? strtoull(seed, NULL, 0) : 0x5eed2024c0ffeeULL;
    unsigned total = count != NULL ? (unsigned)strtoul(count, NULL, 10) : 1200;
    unsigned long long big_texts = 0, phones = 0;
    for (unsigned n = 0; n < total; n++) {
        json_t *c = gen_contact();
        /* The generator makes canonical values: normalising changes nothing. */
        check_system(c, MAPPER_SYS_CANONICAL, n);
        for (int s = MAPPER_SYS_TWENTY; s < MAPPER_SYS_COUNT; s++) {
            check_system(c, (enum mapper_system)s, n);
        }
        const char *summary = json_string_value(json_object_get(c, "llm_summary"));
        big_texts += summary != NULL && strlen(summary) > 10000;
        phones += json_array_size(json_object_get(c, "phones"));
        json_decref(c);
    }
    /* The generator really covers what it claims. */
    assert_true(total < 1000 || big_texts > 0);
    assert_true(total < 1000 || phones > 1000);
}


int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_system_round_trips),
    };
    return cmocka_run_group_tests(tests, mapping_setup, mapping_teardown);
}
