/* Webhook authentication (see webhook_auth.h and shared/spec/webhooks.md).
 *
 * DESIGN: the keyed HMAC state is built once (EVP_MAC_CTX "templates") and
 * duplicated per request, so the hot path does no algorithm fetch and no
 * key schedule. Shared secrets are compared through their SHA-256 digests
 * with CRYPTO_memcmp, which hides both the contents and the length of the
 * configured secret. No reason string ever contains a secret or a
 * signature. */
#include "relay/webhook_auth.h"

#include "relay/mem.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/sha.h>

#include <string.h>
#include <strings.h>

#define HMAC_SHA256_LEN 32
#define STD_KEY_MAX 128
#define DEFAULT_WINDOW_S 300u

struct webhook_auth {
    EVP_MAC *mac;             /* HMAC, fetched once */
    EVP_MAC_CTX *twenty_tmpl; /* keyed with the Twenty secret; NULL: unsigned */
    bool twenty_allow_unsigned;
    int64_t window_ms;
    bool has_supabase_secret;
    unsigned char supabase_digest[SHA256_DIGEST_LENGTH]; /* sha256(secret) */
    char *supabase_header;                               /* owned */
    EVP_MAC_CTX *std_tmpl; /* keyed with the decoded whsec_ key; NULL: off */
};

static bool is_empty(const char *s)
{
    return s == NULL || s[0] == '\0';
}

static EVP_MAC_CTX *keyed_hmac(EVP_MAC *mac, const unsigned char *key, size_t len)
{
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
    if (ctx == NULL) {
        return NULL;
    }
    /* A zero-length key is legal HMAC; OpenSSL wants a non-NULL pointer. */
    static const unsigned char no_key[1] = {0};
    if (EVP_MAC_init(ctx, len > 0 ? key : no_key, len, params) != 1) {
        EVP_MAC_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* Decodes "whsec_<base64>" into key; returns the key length or -1. */
static int decode_standard_secret(const char *secret, unsigned char *key, size_t cap)
{
    const char *b64 = secret;
    if (strncmp(b64, "whsec_", 6) == 0) {
        b64 += 6;
    }
    size_t len = strlen(b64);
    if (len == 0 || len % 4 != 0 || len / 4 * 3 > cap) {
        return -1;
    }
    int n = EVP_DecodeBlock(key, (const unsigned char *)b64, (int)len);
    if (n < 0) {
        return -1;
    }
    /* EVP_DecodeBlock counts the padding as zero bytes. */
    for (size_t i = len; i > 0 && b64[i - 1] == '='; i--) {
        n--;
    }
    return n;
}

static int setup_standard(struct webhook_auth *auth, const char *secret, struct relay_error *err)
{
    unsigned char key[STD_KEY_MAX];
    int n = decode_standard_secret(secret, key, sizeof(key));
    if (n <= 0) {
        return relay_error_set(err, RELAY_ECONFIG,
                               "supabase.standard_webhook_secret: not whsec_ + base64");
    }
    auth->std_tmpl = keyed_hmac(auth->mac, key, (size_t)n);
    OPENSSL_cleanse(key, sizeof(key));
    if (auth->std_tmpl == NULL) {
        return relay_error_set(err, RELAY_ENOMEM, "HMAC setup failed");
    }
    return 0;
}

static int setup(struct webhook_auth *auth, const struct webhook_auth_conf *conf,
                 struct relay_error *err)
{
    auth->twenty_allow_unsigned = conf->twenty_allow_unsigned;
    unsigned window_s = conf->timestamp_window_s > 0 ? conf->timestamp_window_s : DEFAULT_WINDOW_S;
    auth->window_ms = (int64_t)window_s * 1000;
    auth->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (auth->mac == NULL) {
        return relay_error_set(err, RELAY_ENOMEM, "OpenSSL has no HMAC");
    }
    if (!is_empty(conf->twenty_secret)) {
        auth->twenty_tmpl = keyed_hmac(auth->mac, (const unsigned char *)conf->twenty_secret,
                                       strlen(conf->twenty_secret));
        if (auth->twenty_tmpl == NULL) {
            return relay_error_set(err, RELAY_ENOMEM, "HMAC setup failed");
        }
    }
    if (!is_empty(conf->supabase_secret)) {
        auth->has_supabase_secret = true;
        SHA256((const unsigned char *)conf->supabase_secret, strlen(conf->supabase_secret),
               auth->supabase_digest);
    }
    const char *header =
        is_empty(conf->supabase_header) ? WEBHOOK_SUPABASE_DEFAULT_HEADER : conf->supabase_header;
    auth->supabase_header = relay_strdup(header);
    if (auth->supabase_header == NULL) {
        return relay_error_set(err, RELAY_ENOMEM, "out of memory");
    }
    if (!is_empty(conf->standard_secret)) {
        return setup_standard(auth, conf->standard_secret, err);
    }
    return 0;
}

struct webhook_auth *webhook_auth_create(const struct webhook_auth_conf *conf,
                                         struct relay_error *err)
{
    struct webhook_auth *auth = relay_calloc(1, sizeof(*auth));
    if (auth == NULL) {
        relay_error_set(err, RELAY_ENOMEM, "out of memory");
        return NULL;
    }
    if (setup(auth, conf, err) != 0) {
        webhook_auth_destroy(auth);
        return NULL;
    }
    return auth;
}

void webhook_auth_destroy(struct webhook_auth *auth)
{
    if (auth == NULL) {
        return;
    }
    EVP_MAC_CTX_free(auth->twenty_tmpl);
    EVP_MAC_CTX_free(auth->std_tmpl);
    EVP_MAC_free(auth->mac);
    relay_free(auth->supabase_header);
    OPENSSL_cleanse(auth, sizeof(*auth));
    relay_free(auth);
}

bool webhook_auth_supabase_configured(const struct webhook_auth *auth)
{
    return auth->has_supabase_secret || auth->std_tmpl != NULL;
}

/* HMAC-SHA256 of the concatenated parts with a copy of tmpl; 0 or -1. */
static int hmac_parts(const EVP_MAC_CTX *tmpl, const void *const *parts, const size_t *lens,
                      size_t count, unsigned char out[HMAC_SHA256_LEN])
{
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(tmpl);
    int rc = -1;
    if (ctx == NULL) {
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        if (EVP_MAC_update(ctx, parts[i], lens[i]) != 1) {
            goto out;
        }
    }
    size_t outlen = 0;
    if (EVP_MAC_final(ctx, out, &outlen, HMAC_SHA256_LEN) == 1 && outlen == HMAC_SHA256_LEN) {
        rc = 0;
    }
out:
    EVP_MAC_CTX_free(ctx);
    return rc;
}

/* Parses a non-negative decimal integer of at most 18 digits; -1 if not. */
static int64_t parse_unsigned(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 18) {
        return -1;
    }
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Decodes exactly 64 hex digits into 32 bytes; -1 when s is not that. */
static int decode_hex_sha256(const char *s, unsigned char out[HMAC_SHA256_LEN])
{
    if (strlen(s) != HMAC_SHA256_LEN * 2) {
        return -1;
    }
    for (size_t i = 0; i < HMAC_SHA256_LEN; i++) {
        int hi = hex_value(s[2 * i]);
        int lo = hex_value(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return -1;
        }
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

static bool within_window(int64_t ts_ms, int64_t now_ms, int64_t window_ms)
{
    int64_t delta = now_ms - ts_ms;
    return delta <= window_ms && delta >= -window_ms;
}

int webhook_auth_twenty(const struct webhook_auth *auth, webhook_header_fn header, void *ctx,
                        const char *body, size_t len, int64_t now_ms, struct relay_error *err)
{
    if (auth->twenty_tmpl == NULL) {
        /* No secret: nothing to verify against. Accept only on the explicit
         * opt-in, so a relay on its defaults refuses Twenty until configured. */
        if (auth->twenty_allow_unsigned) {
            return 0;
        }
        return relay_error_set(err, RELAY_EAUTH,
                               "twenty webhooks are not configured (set twenty.secret, or "
                               "twenty.allow_unsigned for servers that sign nothing)");
    }
    const char *ts = header(ctx, WEBHOOK_TWENTY_TIMESTAMP);
    const char *sig = header(ctx, WEBHOOK_TWENTY_SIGNATURE);
    if (ts == NULL && sig == NULL && auth->twenty_allow_unsigned) {
        return 0;
    }
    if (ts == NULL || sig == NULL) {
        return relay_error_set(err, RELAY_EAUTH, "missing %s",
                               ts == NULL ? WEBHOOK_TWENTY_TIMESTAMP : WEBHOOK_TWENTY_SIGNATURE);
    }
    int64_t ts_ms = parse_unsigned(ts);
    if (ts_ms < 0) {
        return relay_error_set(err, RELAY_EAUTH, "timestamp is not an integer");
    }
    if (!within_window(ts_ms, now_ms, auth->window_ms)) {
        return relay_error_set(err, RELAY_EAUTH, "timestamp outside the window");
    }
    unsigned char given[HMAC_SHA256_LEN];
    if (decode_hex_sha256(sig, given) != 0) {
        return relay_error_set(err, RELAY_EAUTH, "signature is not 64 hex digits");
    }
    unsigned char want[HMAC_SHA256_LEN];
    const void *parts[] = {ts, ":", body};
    const size_t lens[] = {strlen(ts), 1, len};
    if (hmac_parts(auth->twenty_tmpl, parts, lens, 3, want) != 0) {
        return relay_error_set(err, RELAY_ENOMEM, "HMAC failed");
    }
    if (CRYPTO_memcmp(given, want, HMAC_SHA256_LEN) != 0) {
        return relay_error_set(err, RELAY_EAUTH, "bad signature");
    }
    return 0;
}

static bool secret_matches(const struct webhook_auth *auth, const char *value, size_t len)
{
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)value, len, digest);
    return CRYPTO_memcmp(digest, auth->supabase_digest, sizeof(digest)) == 0;
}

/* 1 when the shared secret is presented, 0 when it is absent, -1 when a
 * presented one is wrong. */
static int check_shared_secret(const struct webhook_auth *auth, webhook_header_fn header, void *ctx)
{
    int seen = 0;
    const char *value = header(ctx, auth->supabase_header);
    if (value != NULL) {
        if (secret_matches(auth, value, strlen(value))) {
            return 1;
        }
        seen = -1;
    }
    const char *authz = header(ctx, "Authorization");
    if (authz != NULL && strncasecmp(authz, "Bearer ", 7) == 0) {
        const char *token = authz + 7;
        while (*token == ' ') {
            token++;
        }
        if (secret_matches(auth, token, strlen(token))) {
            return 1;
        }
        seen = -1;
    }
    return seen;
}

/* True when one "v1,<b64>" entry of list equals want (constant time per entry). */
static bool signature_listed(const char *list, const char *want, size_t want_len)
{
    const char *p = list;
    while (*p != '\0') {
        while (*p == ' ' || *p == ',') {
            p++;
        }
        const char *end = p;
        while (*end != '\0' && *end != ' ') {
            end++;
        }
        size_t n = (size_t)(end - p);
        /* "v1,sig, v1,sig2": an entry may carry the ", " separator's comma. */
        if (n > 0 && p[n - 1] == ',') {
            n--;
        }
        if (n == want_len + 3 && strncmp(p, "v1,", 3) == 0 &&
            CRYPTO_memcmp(p + 3, want, want_len) == 0) {
            return true;
        }
        p = end;
    }
    return false;
}

static int check_standard(const struct webhook_auth *auth, webhook_header_fn header, void *ctx,
                          const char *body, size_t len, int64_t now_ms, struct relay_error *err)
{
    const char *id = header(ctx, WEBHOOK_STD_ID);
    const char *ts = header(ctx, WEBHOOK_STD_TIMESTAMP);
    const char *sig = header(ctx, WEBHOOK_STD_SIGNATURE);
    if (id == NULL || ts == NULL || sig == NULL) {
        return relay_error_set(err, RELAY_EAUTH, "missing secret or webhook signature");
    }
    int64_t ts_s = parse_unsigned(ts);
    if (ts_s < 0 || ts_s > INT64_MAX / 1000) {
        return relay_error_set(err, RELAY_EAUTH, "webhook-timestamp is not an integer");
    }
    if (!within_window(ts_s * 1000, now_ms, auth->window_ms)) {
        return relay_error_set(err, RELAY_EAUTH, "webhook-timestamp outside the window");
    }
    unsigned char mac[HMAC_SHA256_LEN];
    const void *parts[] = {id, ".", ts, ".", body};
    const size_t lens[] = {strlen(id), 1, strlen(ts), 1, len};
    if (hmac_parts(auth->std_tmpl, parts, lens, 5, mac) != 0) {
        return relay_error_set(err, RELAY_ENOMEM, "HMAC failed");
    }
    char want[4 * ((HMAC_SHA256_LEN + 2) / 3) + 1];
    int want_len = EVP_EncodeBlock((unsigned char *)want, mac, HMAC_SHA256_LEN);
    if (!signature_listed(sig, want, (size_t)want_len)) {
        return relay_error_set(err, RELAY_EAUTH, "bad webhook signature");
    }
    return 0;
}

int webhook_auth_supabase(const struct webhook_auth *auth, webhook_header_fn header, void *ctx,
                          const char *body, size_t len, int64_t now_ms, struct relay_error *err)
{
    int shared = 0;
    if (auth->has_supabase_secret) {
        shared = check_shared_secret(auth, header, ctx);
        if (shared == 1) {
            return 0;
        }
    }
    if (auth->std_tmpl != NULL && header(ctx, WEBHOOK_STD_SIGNATURE) != NULL) {
        return check_standard(auth, header, ctx, body, len, now_ms, err);
    }
    if (!webhook_auth_supabase_configured(auth)) {
        return relay_error_set(err, RELAY_EAUTH, "no supabase secret configured");
    }
    return relay_error_set(err, RELAY_EAUTH, shared < 0 ? "wrong secret" : "missing secret");
}
