/* Fuzz target: a Supabase webhook request. The body must pass
 * webhook_auth_supabase with the shared secret (own header and Bearer) and
 * with a Standard Webhooks signature made here; the input's first bytes as
 * a bogus secret or signature list must be refused, and a garbage list
 * followed by the right signature accepted. Then the body goes through
 * mapper_decode_webhook and every check of fuzz_webhook.c. */
#include "relay/mem.h"
#include "relay/webhook_auth.h"
#include "tests/fuzz/fuzz_util.h"
#include "tests/fuzz/fuzz_webhook.h"

#include <openssl/evp.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define SECRET "fuzz-supabase-secret"
/* The Standard Webhooks test vector's key (shared/spec/webhooks.md). */
#define STD_SECRET_B64 "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define STD_ID "msg_p5jXN8AQM9LWM0D4loKWxJek"

static struct webhook_auth *auth;
static unsigned char std_key[64];
static size_t std_key_len;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    struct relay_error err = {0};
    struct webhook_auth_conf conf = {
        .twenty_allow_unsigned = true,
        .supabase_secret = SECRET,
        .standard_secret = "whsec_" STD_SECRET_B64,
    };
    fuzz_webhook_setup();
    auth = webhook_auth_create(&conf, &err);
    FUZZ_CHECK(auth != NULL, "webhook_auth_create failed");
    int n = EVP_DecodeBlock(std_key, (const unsigned char *)STD_SECRET_B64,
                            (int)strlen(STD_SECRET_B64));
    FUZZ_CHECK(n == 24, "test vector key does not decode");
    std_key_len = (size_t)n;
    return 0;
}

static int verify(const struct fuzz_headers *h, const uint8_t *body, size_t len)
{
    struct relay_error err = {0};
    int rc = webhook_auth_supabase(auth, fuzz_headers_get, (void *)h, (const char *)body, len,
                                   FUZZ_NOW_MS, &err);
    FUZZ_CHECK(rc == 0 || (rc == -1 && (err.code == RELAY_EAUTH || err.code == RELAY_ENOMEM)),
               "webhook_auth_supabase: bad result");
    FUZZ_CHECK(rc == 0 || strstr(err.msg, SECRET) == NULL, "reason names the secret");
    return rc;
}

static int verify_one(const char *name, const char *value, const uint8_t *body, size_t len)
{
    struct fuzz_headers h = {0};
    fuzz_headers_add(&h, name, value);
    return verify(&h, body, len);
}

/* "v1,<base64 HMAC(key, id "." ts "." body)>" into out[48]. */
static void std_sign(const char *id, const char *ts, const uint8_t *body, size_t len, char out[48])
{
    unsigned char mac[32];
    const void *parts[] = {id, ".", ts, ".", body};
    const size_t lens[] = {strlen(id), 1, strlen(ts), 1, len};
    fuzz_hmac_sha256(std_key, std_key_len, parts, lens, 5, mac);
    memcpy(out, "v1,", 3);
    EVP_EncodeBlock((unsigned char *)out + 3, mac, 32);
}

static int verify_std(const char *id, const char *ts, const char *sig, const uint8_t *body,
                      size_t len)
{
    struct fuzz_headers h = {0};
    fuzz_headers_add(&h, WEBHOOK_STD_ID, id);
    fuzz_headers_add(&h, WEBHOOK_STD_TIMESTAMP, ts);
    fuzz_headers_add(&h, WEBHOOK_STD_SIGNATURE, sig);
    return verify(&h, body, len);
}

static void check_bogus(const uint8_t *data, size_t size, const char *now, const char *good)
{
    char *head = fuzz_strndup(data, size < 200 ? size : 200);
    if (head == NULL) {
        return;
    }
    if (strcmp(head, SECRET) != 0) {
        FUZZ_CHECK(verify_one(WEBHOOK_SUPABASE_DEFAULT_HEADER, head, data, size) != 0,
                   "a bogus shared secret was accepted");
    }
    if (strstr(head, good + 3) == NULL) {
        FUZZ_CHECK(verify_std(STD_ID, now, head, data, size) != 0,
                   "a bogus signature list was accepted");
    }
    /* Garbage, a space, then the right signature: found in the list. */
    size_t n = strlen(head);
    char *list = relay_malloc(n + 2 + 48);
    if (list != NULL) {
        memcpy(list, head, n);
        list[n] = ' ';
        memcpy(list + n + 1, good, strlen(good) + 1);
        FUZZ_CHECK(verify_std(STD_ID, now, list, data, size) == 0,
                   "the right signature after others was refused");
        relay_free(list);
    }
    /* The first bytes as the message id, correctly signed. */
    char sig[48];
    std_sign(head, now, data, size, sig);
    FUZZ_CHECK(verify_std(head, now, sig, data, size) == 0, "a signed odd webhook-id refused");
    relay_free(head);
}

static void check_auth(const uint8_t *data, size_t size)
{
    char now[24];
    char good[48];
    snprintf(now, sizeof(now), "%" PRId64, FUZZ_NOW_MS / 1000);
    FUZZ_CHECK(verify_one(WEBHOOK_SUPABASE_DEFAULT_HEADER, SECRET, data, size) == 0,
               "the shared secret was refused");
    FUZZ_CHECK(verify_one("Authorization", "Bearer " SECRET, data, size) == 0,
               "the Bearer secret was refused");
    std_sign(STD_ID, now, data, size, good);
    FUZZ_CHECK(verify_std(STD_ID, now, good, data, size) == 0,
               "a valid Standard Webhooks signature was refused");
    struct fuzz_headers none = {0};
    FUZZ_CHECK(verify(&none, data, size) != 0, "accepted with no credentials");
    check_bogus(data, size, now, good);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_auth(data, size);
    fuzz_webhook_decode(RELAY_SOURCE_SUPABASE, data, size);
    return 0;
}
