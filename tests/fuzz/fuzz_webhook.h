/* The part the two webhook fuzz targets share: a body through
 * mapper_decode_webhook with the compiled-in mapping, the result checked
 * (mapped-event invariants, determinism, envelope round trip) and pushed
 * through mapper_to_system / mapper_from_system for every system. */
#ifndef RELAY_TESTS_FUZZ_FUZZ_WEBHOOK_H
#define RELAY_TESTS_FUZZ_FUZZ_WEBHOOK_H

#include "relay/event.h"

#include <stddef.h>
#include <stdint.h>

/* Fixed "now" of the signature checks: 2024-11-12T08:41:19.270Z. */
#define FUZZ_NOW_MS INT64_C(1731400879270)

/* Loads the default mapping once; aborts when it cannot (a build bug). */
void fuzz_webhook_setup(void);

/* Decodes data as a webhook of source and checks everything above. */
void fuzz_webhook_decode(enum relay_source source, const uint8_t *data, size_t size);

/* Request headers for the webhook_auth callbacks: a small fixed table,
 * looked up case-insensitively. Values are borrowed. */
#define FUZZ_HEADERS_MAX 8
struct fuzz_headers {
    const char *name[FUZZ_HEADERS_MAX];
    const char *value[FUZZ_HEADERS_MAX];
    int count;
};

void fuzz_headers_add(struct fuzz_headers *h, const char *name, const char *value);
const char *fuzz_headers_get(void *ctx, const char *name); /* a webhook_header_fn */

/* HMAC-SHA256 of the concatenated parts with key (computed here with
 * OpenSSL's one-shot API, independently of relay/webhook_auth.c). */
void fuzz_hmac_sha256(const void *key, size_t key_len, const void *const *parts, const size_t *lens,
                      size_t count, unsigned char out[32]);

#endif
