/* Shared webhook fuzzing; see fuzz_webhook.h. */
#include "tests/fuzz/fuzz_webhook.h"

#include "mappers/mapper.h"
#include "relay/mem.h"
#include "tests/fuzz/fuzz_mapper.h"
#include "tests/fuzz/fuzz_util.h"

#include <openssl/evp.h>
#include <string.h>
#include <strings.h>

static const struct mapping *mapping;

void fuzz_webhook_setup(void)
{
    fuzz_setup();
    mapping = fuzz_default_mapping();
}

/* Decoding the same bytes twice gives the same event (ids are dedupe keys). */
static void check_deterministic(enum relay_source source, const uint8_t *data, size_t size,
                                const struct relay_event *ev)
{
    struct relay_error err = {0};
    struct relay_event *again = NULL;
    int rc = mapper_decode_webhook(mapping, source, (const char *)data, size, &again, &err);
    if (rc != MAPPER_EVENT) {
        FUZZ_CHECK(err.code == RELAY_ENOMEM, "second decode of the same body differs");
        return;
    }
    FUZZ_CHECK(strcmp(ev->id, again->id) == 0, "event id is not deterministic");
    FUZZ_CHECK(strcmp(ev->delivery, again->delivery) == 0, "delivery is not deterministic");
    FUZZ_CHECK(json_equal(ev->fields, again->fields), "fields are not deterministic");
    FUZZ_CHECK(json_equal(ev->changed, again->changed), "changed is not deterministic");
    relay_event_destroy(again);
}

void fuzz_webhook_decode(enum relay_source source, const uint8_t *data, size_t size)
{
    struct relay_error err = {0};
    struct relay_event *ev = NULL;
    int rc = mapper_decode_webhook(mapping, source, (const char *)data, size, &ev, &err);
    fuzz_note("decode: rc=%d %s", rc, rc == MAPPER_EVENT ? "event" : err.msg);
    if (rc == MAPPER_IGNORED) {
        FUZZ_CHECK(ev == NULL, "ignored body returned an event");
        return;
    }
    if (rc != MAPPER_EVENT) {
        FUZZ_CHECK(rc == -1 && ev == NULL, "mapper_decode_webhook: bad return");
        FUZZ_CHECK(err.code == RELAY_EINVAL || err.code == RELAY_ENOMEM,
                   "mapper_decode_webhook: unexpected error code");
        FUZZ_CHECK(err.msg[0] != '\0', "mapper_decode_webhook: error without a message");
        return;
    }
    FUZZ_CHECK(ev != NULL, "MAPPER_EVENT without an event");
    FUZZ_CHECK(ev->source == source, "event source differs from the webhook's");
    FUZZ_CHECK(strlen(ev->id) == RELAY_EVENT_ID_LEN, "event id length");
    FUZZ_CHECK(strlen(ev->delivery) == RELAY_EVENT_ID_LEN, "delivery id length");
    fuzz_event_check_mapped(ev);
    fuzz_event_roundtrip(ev);
    check_deterministic(source, data, size, ev);
    fuzz_through_systems(mapping, ev);
    relay_event_destroy(ev);
}

void fuzz_headers_add(struct fuzz_headers *h, const char *name, const char *value)
{
    if (h->count < FUZZ_HEADERS_MAX) {
        h->name[h->count] = name;
        h->value[h->count] = value;
        h->count++;
    }
}

const char *fuzz_headers_get(void *ctx, const char *name)
{
    const struct fuzz_headers *h = ctx;
    for (int i = 0; i < h->count; i++) {
        if (strcasecmp(h->name[i], name) == 0) {
            return h->value[i];
        }
    }
    return NULL;
}

void fuzz_hmac_sha256(const void *key, size_t key_len, const void *const *parts, const size_t *lens,
                      size_t count, unsigned char out[32])
{
    size_t total = 0;
    for (size_t i = 0; i < count; i++) {
        total += lens[i];
    }
    unsigned char *msg = relay_malloc(total + 1);
    FUZZ_CHECK(msg != NULL, "out of memory in the harness");
    size_t at = 0;
    for (size_t i = 0; i < count; i++) {
        memcpy(msg + at, parts[i], lens[i]);
        at += lens[i];
    }
    size_t out_len = 0;
    unsigned char *res =
        EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, key_len, msg, total, out, 32, &out_len);
    relay_free(msg);
    FUZZ_CHECK(res != NULL && out_len == 32, "EVP_Q_mac failed");
}
