/* Unit tests for relay/webhook_auth.c: every accept and reject case of
 * Twenty signatures, Supabase shared secrets and Standard Webhooks
 * (shared/spec/webhooks.md), including the byte-exact fixtures and the
 * Standard Webhooks test vector. Reference signatures are computed here
 * with OpenSSL's one-shot HMAC(), independently of the code under test. */
#include "relay/webhook_auth.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#define SECRET "test-secret"
#define NOW_MS INT64_C(1748872931233)

struct headers {
    const char *names[8];
    const char *values[8];
    size_t count;
};

static const char *lookup(void *ctx, const char *name)
{
    struct headers *h = ctx;
    for (size_t i = 0; i < h->count; i++) {
        if (strcasecmp(h->names[i], name) == 0) {
            return h->values[i];
        }
    }
    return NULL;
}

static void add(struct headers *h, const char *name, const char *value)
{
    h->names[h->count] = name;
    h->values[h->count] = value;
    h->count++;
}

static struct webhook_auth *make_auth(const char *twenty_secret, bool allow_unsigned)
{
    struct webhook_auth_conf conf = {
        .twenty_secret = twenty_secret,
        .twenty_allow_unsigned = allow_unsigned,
        .timestamp_window_s = 300,
        .supabase_secret = "sb-secret",
        .standard_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    };
    struct relay_error err = {0};
    struct webhook_auth *auth = webhook_auth_create(&conf, &err);
    assert_non_null(auth);
    return auth;
}

/* Lower-case hex HMAC-SHA256(secret, ts ":" body) into out[65]. */
static void twenty_sign(const char *secret, const char *ts, const char *body, char *out)
{
    char msg[4096];
    int n = snprintf(msg, sizeof(msg), "%s:%s", ts, body);
    assert_true(n > 0 && (size_t)n < sizeof(msg));
    unsigned char mac[32];
    unsigned len = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (unsigned char *)msg, (size_t)n, mac, &len);
    assert_int_equal(len, 32);
    for (int i = 0; i < 32; i++) {
        snprintf(out + 2 * i, 3, "%02x", mac[i]);
    }
}

static int check_twenty(struct webhook_auth *auth, const char *ts, const char *sig,
                        const char *body, int64_t now_ms, struct relay_error *err)
{
    struct headers h = {0};
    if (ts != NULL) {
        add(&h, "x-twenty-webhook-timestamp", ts);
    }
    if (sig != NULL) {
        add(&h, "X-Twenty-Webhook-Signature", sig);
    }
    return webhook_auth_twenty(auth, lookup, &h, body, strlen(body), now_ms, err);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *data = malloc(65536);
    assert_non_null(data);
    *len = fread(data, 1, 65535, f);
    data[*len] = '\0';
    fclose(f);
    return data;
}

/* Reads "Name: value" from a fixture's .headers file into out. */
static void fixture_header(const char *headers, const char *name, char *out, size_t cap)
{
    const char *p = strstr(headers, name);
    assert_non_null(p);
    p += strlen(name) + 2;
    size_t n = strcspn(p, "\r\n");
    assert_true(n < cap);
    memcpy(out, p, n);
    out[n] = '\0';
}

static void twenty_fixtures_verify(void **state)
{
    (void)state;
    static const char *const names[] = {"person.created",        "person.updated",
                                        "person.deleted",        "person.updated.custom-fields",
                                        "person.updated.mapped", "company.updated"};
    struct webhook_auth *auth = make_auth(SECRET, false);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char path[512];
        size_t blen = 0, hlen = 0;
        snprintf(path, sizeof(path), "%s/twenty/%s.json", RELAY_FIXTURES, names[i]);
        char *body = read_file(path, &blen);
        snprintf(path, sizeof(path), "%s/twenty/%s.headers", RELAY_FIXTURES, names[i]);
        char *headers = read_file(path, &hlen);
        char ts[32], sig[80];
        fixture_header(headers, WEBHOOK_TWENTY_TIMESTAMP, ts, sizeof(ts));
        fixture_header(headers, WEBHOOK_TWENTY_SIGNATURE, sig, sizeof(sig));
        int64_t now = strtoll(ts, NULL, 10) + 1000;
        struct headers h = {0};
        add(&h, WEBHOOK_TWENTY_TIMESTAMP, ts);
        add(&h, WEBHOOK_TWENTY_SIGNATURE, sig);
        struct relay_error err = {0};
        assert_int_equal(webhook_auth_twenty(auth, lookup, &h, body, blen, now, &err), 0);
        /* The same bytes less one: the signature covers every byte. */
        assert_int_equal(webhook_auth_twenty(auth, lookup, &h, body, blen - 1, now, &err), -1);
        assert_int_equal(err.code, RELAY_EAUTH);
        free(body);
        free(headers);
    }
    webhook_auth_destroy(auth);
}

static void twenty_good_signature_accepted(void **state)
{
    (void)state;
    struct webhook_auth *auth = make_auth(SECRET, false);
    char sig[65];
    twenty_sign(SECRET, "1748872931233", "{\"a\":1}", sig);
    struct relay_error err = {0};
    assert_int_equal(check_twenty(auth, "1748872931233", sig, "{\"a\":1}", NOW_MS, &err), 0);
    /* Upper-case hex is the same signature. */
    for (char *p = sig; *p != '\0'; p++) {
        if (*p >= 'a' && *p <= 'f') {
            *p = (char)(*p - 'a' + 'A');
        }
    }
    assert_int_equal(check_twenty(auth, "1748872931233", sig, "{\"a\":1}", NOW_MS, &err), 0);
    webhook_auth_destroy(auth);
}

static void expect_twenty_reject(struct webhook_auth *auth, const char *ts, const char *sig,
                                 const char *body, int64_t now, const char *reason)
{
    struct relay_error err = {0};
    assert_int_equal(check_twenty(auth, ts, sig, body, now, &err), -1);
    assert_int_equal(err.code, RELAY_EAUTH);
    assert_string_equal(err.msg, reason);
    assert_null(strstr(err.msg, SECRET));
}

static void twenty_bad_signatures_rejected(void **state)
{
    (void)state;
    struct webhook_auth *auth = make_auth(SECRET, false);
    char sig[65], wrong[65];
    twenty_sign(SECRET, "1748872931233", "{\"a\":1}", sig);
    twenty_sign("other-secret", "1748872931233", "{\"a\":1}", wrong);
    expect_twenty_reject(auth, "1748872931233", sig, "{\"a\":2}", NOW_MS, "bad signature");
    expect_twenty_reject(auth, "1748872931233", wrong, "{\"a\":1}", NOW_MS, "bad signature");
    /* Signed for one timestamp, sent with another. */
    expect_twenty_reject(auth, "1748872931234", sig, "{\"a\":1}", NOW_MS, "bad signature");
    char shortened[65];
    memcpy(shortened, sig, 63);
    shortened[63] = '\0';
    expect_twenty_reject(auth, "1748872931233", shortened, "{\"a\":1}", NOW_MS,
                         "signature is not 64 hex digits");
    char nonhex[65];
    memcpy(nonhex, sig, 65);
    nonhex[10] = 'g';
    expect_twenty_reject(auth, "1748872931233", nonhex, "{\"a\":1}", NOW_MS,
                         "signature is not 64 hex digits");
    expect_twenty_reject(auth, "1748872931233", "sha256=abc", "{\"a\":1}", NOW_MS,
                         "signature is not 64 hex digits");
    webhook_auth_destroy(auth);
}

static void twenty_missing_headers_rejected(void **state)
{
    (void)state;
    struct webhook_auth *auth = make_auth(SECRET, false);
    char sig[65];
    twenty_sign(SECRET, "1748872931233", "{}", sig);
    expect_twenty_reject(auth, "1748872931233", NULL, "{}", NOW_MS,
                         "missing " WEBHOOK_TWENTY_SIGNATURE);
    expect_twenty_reject(auth, NULL, sig, "{}", NOW_MS, "missing " WEBHOOK_TWENTY_TIMESTAMP);
    expect_twenty_reject(auth, NULL, NULL, "{}", NOW_MS, "missing " WEBHOOK_TWENTY_TIMESTAMP);
    webhook_auth_destroy(auth);
}

static void twenty_timestamp_window_both_ways(void **state)
{
    (void)state;
    struct webhook_auth *auth = make_auth(SECRET, false);
    char sig[65];
    twenty_sign(SECRET, "1748872931233", "{}", sig);
    struct relay_error err = {0};
    /* Exactly at either edge of the 300 s window: accepted. */
    assert_int_equal(check_twenty(auth, "1748872931233", sig, "{}", NOW_MS + 300000, &err), 0);
    assert_int_equal(check_twenty(auth, "1748872931233", sig, "{}", NOW_MS - 300000, &err), 0);
    expect_twenty_reject(auth, "1748872931233", sig, "{}", NOW_MS + 300001,
                         "timestamp outside the window");
    expect_twenty_reject(auth, "1748872931233", sig, "{}", NOW_MS - 300001,
                         "timestamp outside the window");
    /* Seconds instead of milliseconds is 55 years ago. */
    twenty_sign(SECRET, "1748872931", "{}", sig);
    expect_twenty_reject(auth, "1748872931", sig, "{}", NOW_MS, "timestamp outside the window");
    expect_twenty_reject(auth, "17488a2931233", sig, "{}", NOW_MS, "timestamp is not an integer");
    expect_twenty_reject(auth, "-1748872931233", sig, "{}", NOW_MS, "timestamp is not an integer");
    expect_twenty_reject(auth, "", sig, "{}", NOW_MS, "timestamp is not an integer");
    expect_twenty_reject(auth, "99999999999999999999", sig, "{}", NOW_MS,
                         "timestamp is not an integer");
    webhook_auth_destroy(auth);
}

static void twenty_allow_unsigned(void **state)
{
    (void)state;
    struct webhook_auth *auth = make_auth(SECRET, true);
    struct relay_error err = {0};
    /* No signature at all: accepted by the opt-in... */
    assert_int_equal(check_twenty(auth, NULL, NULL, "{}", NOW_MS, &err), 0);
    /* ...but a signature that is present must still verify. */
    expect_twenty_reject(auth, "1748872931233", "00", "{}", NOW_MS,
                         "signature is not 64 hex digits");
    expect_twenty_reject(auth, NULL, "00", "{}", NOW_MS, "missing " WEBHOOK_TWENTY_TIMESTAMP);
    webhook_auth_destroy(auth);
}

static void twenty_empty_secret(void **state)
{
    (void)state;
    struct relay_error err = {0};
    /* No secret and no opt-in: the relay starts, every Twenty request is refused. */
    struct webhook_auth *refusing = make_auth("", false);
    assert_int_equal(check_twenty(refusing, NULL, NULL, "{}", NOW_MS, &err), -1);
    assert_int_equal(err.code, RELAY_EAUTH);
    assert_non_null(strstr(err.msg, "not configured"));
    assert_int_equal(check_twenty(refusing, "1", "00", "{}", NOW_MS, &err), -1);
    webhook_auth_destroy(refusing);
    refusing = make_auth(NULL, false);
    assert_int_equal(check_twenty(refusing, NULL, NULL, "{}", NOW_MS, &err), -1);
    webhook_auth_destroy(refusing);

    struct webhook_auth *auth = make_auth("", true);
    assert_int_equal(check_twenty(auth, NULL, NULL, "{}", NOW_MS, &err), 0);
    /* Nothing to verify against: whatever is sent is accepted. */
    assert_int_equal(check_twenty(auth, "1", "00", "{}", NOW_MS, &err), 0);
    webhook_auth_destroy(auth);
}

static int check_supabase(struct webhook_auth *auth, struct headers *h, const char *body,
                          int64_t now_ms, struct relay_error *err)
{
    return webhook_auth_supabase(auth, lookup, h, body, strlen(body), now_ms, err);
}

static void expect_supabase(struct webhook_auth *auth, struct headers *h, const char *body,
                            int64_t now_ms, const char *reason)
{
    struct relay_error err = {0};
    int rc = check_supabase(auth, h, body, now_ms, &err);
    if (reason == NULL) {
        assert_int_equal(rc, 0);
        return;
    }
    assert_int_equal(rc, -1);
    assert_int_equal(err.code, RELAY_EAUTH);
    assert_string_equal(err.msg, reason);
}

static void supabase_shared_secret(void **state)
{
    (void)state;
    struct webhook_auth *auth = make_auth(SECRET, false);
    struct headers h = {0};
    add(&h, "x-syncrelay-secret", "sb-secret");
    expect_supabase(auth, &h, "{}", NOW_MS, NULL);
    h = (struct headers){0};
    add(&h, "Authorization", "Bearer sb-secret");
    expect_supabase(auth, &h, "{}", NOW_MS, NULL);
    h = (struct headers){0};
    add(&h, "Authorization", "bearer sb-secret");
    expect_supabase(auth, &h, "{}", NOW_MS, NULL);
    /* A wrong header value does not hide a right Bearer token. */
    add(&h, "X-Syncrelay-Secret", "nope");
    expect_supabase(auth, &h, "{}", NOW_MS, NULL);
    webhook_auth_destroy(auth);
}

static void supabase_wrong_or_missing_secret(void **state)
{
    (void)state;
    struct webhook_auth *auth = make_auth(SECRET, false);
    static const char *const wrong[] = {"sb-secre", "sb-secret ", "SB-SECRET", "", "x"};
    for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
        struct headers h = {0};
        add(&h, "X-Syncrelay-Secret", wrong[i]);
        expect_supabase(auth, &h, "{}", NOW_MS, "wrong secret");
    }
    struct headers h = {0};
    add(&h, "Authorization", "Bearer wrong");
    expect_supabase(auth, &h, "{}", NOW_MS, "wrong secret");
    h = (struct headers){0};
    add(&h, "Authorization", "Basic c2Itc2VjcmV0");
    expect_supabase(auth, &h, "{}", NOW_MS, "missing secret");
    h = (struct headers){0};
    expect_supabase(auth, &h, "{}", NOW_MS, "missing secret");
    webhook_auth_destroy(auth);
}

static void supabase_custom_header(void **state)
{
    (void)state;
    struct webhook_auth_conf conf = {
        .twenty_secret = "t", .supabase_secret = "sb-secret", .supabase_header = "X-Hook-Key"};
    struct relay_error err = {0};
    struct webhook_auth *auth = webhook_auth_create(&conf, &err);
    assert_non_null(auth);
    struct headers h = {0};
    add(&h, "x-hook-key", "sb-secret");
    expect_supabase(auth, &h, "{}", NOW_MS, NULL);
    h = (struct headers){0};
    add(&h, "X-Syncrelay-Secret", "sb-secret");
    expect_supabase(auth, &h, "{}", NOW_MS, "missing secret");
    webhook_auth_destroy(auth);
}

static void supabase_nothing_configured(void **state)
{
    (void)state;
    struct webhook_auth_conf conf = {.twenty_secret = "t"};
    struct relay_error err = {0};
    struct webhook_auth *auth = webhook_auth_create(&conf, &err);
    assert_non_null(auth);
    assert_false(webhook_auth_supabase_configured(auth));
    struct headers h = {0};
    add(&h, "X-Syncrelay-Secret", "");
    expect_supabase(auth, &h, "{}", NOW_MS, "no supabase secret configured");
    webhook_auth_destroy(auth);
}

#define STD_ID "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define STD_TS "1614265330"
#define STD_BODY "{\"test\": 2432232314}"
#define STD_SIG "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
#define STD_NOW_MS (INT64_C(1614265330) * 1000)

static void std_headers(struct headers *h, const char *id, const char *ts, const char *sig)
{
    *h = (struct headers){0};
    if (id != NULL) {
        add(h, "Webhook-Id", id);
    }
    if (ts != NULL) {
        add(h, "Webhook-Timestamp", ts);
    }
    if (sig != NULL) {
        add(h, "Webhook-Signature", sig);
    }
}

static void standard_webhooks_vector(void **state)
{
    (void)state;
    struct webhook_auth *auth = make_auth(SECRET, false);
    struct headers h;
    std_headers(&h, STD_ID, STD_TS, STD_SIG);
    expect_supabase(auth, &h, STD_BODY, STD_NOW_MS, NULL);
    std_headers(&h, STD_ID, STD_TS, "v1,bm9wZQ== " STD_SIG);
    expect_supabase(auth, &h, STD_BODY, STD_NOW_MS, NULL);
    std_headers(&h, STD_ID, STD_TS, "v1,bm9wZQ==, " STD_SIG ", v1,eA==");
    expect_supabase(auth, &h, STD_BODY, STD_NOW_MS, NULL);
    /* A wrong shared secret beside a valid signature: the signature counts. */
    add(&h, "X-Syncrelay-Secret", "wrong");
    expect_supabase(auth, &h, STD_BODY, STD_NOW_MS + 299000, NULL);
    webhook_auth_destroy(auth);
}

static void standard_webhooks_rejects(void **state)
{
    (void)state;
    struct webhook_auth *auth = make_auth(SECRET, false);
    struct headers h;
    std_headers(&h, STD_ID, STD_TS, STD_SIG);
    expect_supabase(auth, &h, "{\"test\": 2432232315}", STD_NOW_MS, "bad webhook signature");
    std_headers(&h, "msg_other", STD_TS, STD_SIG);
    expect_supabase(auth, &h, STD_BODY, STD_NOW_MS, "bad webhook signature");
    std_headers(&h, STD_ID, STD_TS, "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    expect_supabase(auth, &h, STD_BODY, STD_NOW_MS, "bad webhook signature");
    std_headers(&h, STD_ID, STD_TS, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE");
    expect_supabase(auth, &h, STD_BODY, STD_NOW_MS, "bad webhook signature");
    std_headers(&h, STD_ID, STD_TS, STD_SIG);
    expect_supabase(auth, &h, STD_BODY, STD_NOW_MS + 301000,
                    "webhook-timestamp outside the window");
    expect_supabase(auth, &h, STD_BODY, STD_NOW_MS - 301000,
                    "webhook-timestamp outside the window");
    std_headers(&h, STD_ID, "1614265330000", STD_SIG);
    expect_supabase(auth, &h, STD_BODY, STD_NOW_MS, "webhook-timestamp outside the window");
    std_headers(&h, STD_ID, "16142a5330", STD_SIG);
    expect_supabase(auth, &h, STD_BODY, STD_NOW_MS, "webhook-timestamp is not an integer");
    std_headers(&h, NULL, STD_TS, STD_SIG);
    expect_supabase(auth, &h, STD_BODY, STD_NOW_MS, "missing secret or webhook signature");
    std_headers(&h, STD_ID, NULL, STD_SIG);
    expect_supabase(auth, &h, STD_BODY, STD_NOW_MS, "missing secret or webhook signature");
    webhook_auth_destroy(auth);
}

static void standard_webhooks_off_without_secret(void **state)
{
    (void)state;
    struct webhook_auth_conf conf = {.twenty_secret = "t", .supabase_secret = "sb-secret"};
    struct relay_error err = {0};
    struct webhook_auth *auth = webhook_auth_create(&conf, &err);
    assert_non_null(auth);
    struct headers h;
    std_headers(&h, STD_ID, STD_TS, STD_SIG);
    expect_supabase(auth, &h, STD_BODY, STD_NOW_MS, "missing secret");
    webhook_auth_destroy(auth);
}

static void standard_secret_must_be_base64(void **state)
{
    (void)state;
    static const char *const bad[] = {"whsec_", "whsec_abc", "whsec_!!!!", "whsec_MfKQ9r8G*Yqr"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct webhook_auth_conf conf = {.twenty_secret = "t", .standard_secret = bad[i]};
        struct relay_error err = {0};
        assert_null(webhook_auth_create(&conf, &err));
        assert_int_equal(err.code, RELAY_ECONFIG);
        assert_non_null(strstr(err.msg, "supabase.standard_webhook_secret"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(twenty_fixtures_verify),
        cmocka_unit_test(twenty_good_signature_accepted),
        cmocka_unit_test(twenty_bad_signatures_rejected),
        cmocka_unit_test(twenty_missing_headers_rejected),
        cmocka_unit_test(twenty_timestamp_window_both_ways),
        cmocka_unit_test(twenty_allow_unsigned),
        cmocka_unit_test(twenty_empty_secret),
        cmocka_unit_test(supabase_shared_secret),
        cmocka_unit_test(supabase_wrong_or_missing_secret),
        cmocka_unit_test(supabase_custom_header),
        cmocka_unit_test(supabase_nothing_configured),
        cmocka_unit_test(standard_webhooks_vector),
        cmocka_unit_test(standard_webhooks_rejects),
        cmocka_unit_test(standard_webhooks_off_without_secret),
        cmocka_unit_test(standard_secret_must_be_base64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
