/* Fuzz target: a Twenty webhook request. The raw body is signed with a
 * fixed secret and must pass webhook_auth_twenty; the input's first bytes,
 * used as a signature or a timestamp, must be refused unless they are a
 * valid one (an independent oracle decides). Then the body goes through
 * mapper_decode_webhook and every check of fuzz_webhook.c. */
#include "relay/mem.h"
#include "relay/webhook_auth.h"
#include "tests/fuzz/fuzz_util.h"
#include "tests/fuzz/fuzz_webhook.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define SECRET "fuzz-twenty-secret"
#define WINDOW_MS INT64_C(300000)

static struct webhook_auth *auth;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    struct relay_error err = {0};
    struct webhook_auth_conf conf = {.twenty_secret = SECRET};
    fuzz_webhook_setup();
    auth = webhook_auth_create(&conf, &err);
    FUZZ_CHECK(auth != NULL, "webhook_auth_create failed");
    return 0;
}

/* Lower-case hex of HMAC(SECRET, ts ":" body) into out[65]. */
static void sign(const char *ts, const uint8_t *body, size_t len, char out[65])
{
    unsigned char mac[32];
    const void *parts[] = {ts, ":", body};
    const size_t lens[] = {strlen(ts), 1, len};
    fuzz_hmac_sha256(SECRET, strlen(SECRET), parts, lens, 3, mac);
    for (int i = 0; i < 32; i++) {
        snprintf(out + 2 * i, 3, "%02x", mac[i]);
    }
}

static int verify(const char *ts, const char *sig, const uint8_t *body, size_t len)
{
    struct fuzz_headers h = {0};
    struct relay_error err = {0};
    if (ts != NULL) {
        fuzz_headers_add(&h, WEBHOOK_TWENTY_TIMESTAMP, ts);
    }
    if (sig != NULL) {
        fuzz_headers_add(&h, WEBHOOK_TWENTY_SIGNATURE, sig);
    }
    int rc =
        webhook_auth_twenty(auth, fuzz_headers_get, &h, (const char *)body, len, FUZZ_NOW_MS, &err);
    FUZZ_CHECK(rc == 0 || (rc == -1 && (err.code == RELAY_EAUTH || err.code == RELAY_ENOMEM)),
               "webhook_auth_twenty: bad result");
    FUZZ_CHECK(rc == 0 || strstr(err.msg, SECRET) == NULL, "reason names the secret");
    return rc;
}

/* Is ts a timestamp the spec accepts: 1..18 decimal digits within the window? */
static bool timestamp_ok(const char *ts)
{
    size_t n = strlen(ts);
    if (n == 0 || n > 18 || strspn(ts, "0123456789") != n) {
        return false;
    }
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        v = v * 10 + (ts[i] - '0');
    }
    return v >= FUZZ_NOW_MS - WINDOW_MS && v <= FUZZ_NOW_MS + WINDOW_MS;
}

static void check_auth(const uint8_t *data, size_t size)
{
    char now[24];
    char good[65];
    snprintf(now, sizeof(now), "%" PRId64, FUZZ_NOW_MS);
    sign(now, data, size, good);
    FUZZ_CHECK(verify(now, good, data, size) == 0, "a valid signature was refused");
    FUZZ_CHECK(verify(NULL, good, data, size) != 0, "accepted without a timestamp");
    FUZZ_CHECK(verify(now, NULL, data, size) != 0, "accepted without a signature");

    /* The first bytes as a bogus signature (at most 64, up to a NUL). */
    char *head = fuzz_strndup(data, size < 64 ? size : 64);
    if (head == NULL) {
        return;
    }
    if (strcasecmp(head, good) != 0) {
        FUZZ_CHECK(verify(now, head, data, size) != 0, "a bogus signature was accepted");
    }
    /* The first bytes as the timestamp, correctly signed: accepted exactly
     * when they are a timestamp inside the window. */
    if (strlen(head) > 20) {
        head[20] = '\0';
    }
    char sig[65];
    sign(head, data, size, sig);
    bool accepted = verify(head, sig, data, size) == 0;
    FUZZ_CHECK(accepted == timestamp_ok(head), "timestamp check disagrees with the spec");
    relay_free(head);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_auth(data, size);
    fuzz_webhook_decode(RELAY_SOURCE_TWENTY, data, size);
    return 0;
}
