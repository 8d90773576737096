/* The arbiter's value digest: the first 16 hex digits of the SHA-256 of
 * jansson's compact, key-sorted encoding, so equal values give equal
 * digests whatever their key order. */
#include "mappers/mapper.h"
#include "relay/mem.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

void mapper_value_digest(const json_t *value, char out[RELAY_EVENT_ID_LEN + 1])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    char *text = NULL;
    if (value != NULL) {
        text = json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    }
    /* Out of memory (or a NULL value) digests as the empty string: the
     * arbiter then sees a value that differs from every stored one, which
     * errs on the side of syncing. */
    const char *data = text != NULL ? text : "";
    SHA256((const unsigned char *)data, strlen(data), md);
    for (int i = 0; i < RELAY_EVENT_ID_LEN / 2; i++) {
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    }
    out[RELAY_EVENT_ID_LEN] = '\0';
    relay_free(text);
}
