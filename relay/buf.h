/* Length-carrying byte buffer for payloads. The owner of the struct owns
 * data; relay_buf_fini frees it. Always NUL-terminated after a successful
 * append, so data can be handed to APIs that want a C string. */
#ifndef RELAY_RELAY_BUF_H
#define RELAY_RELAY_BUF_H

#include "relay/error.h"

#include <stddef.h>

struct relay_buf {
    char *data;
    size_t len;
    size_t cap;
};

void relay_buf_init(struct relay_buf *b);
void relay_buf_fini(struct relay_buf *b);
/* Keeps the allocation, sets len to 0. */
void relay_buf_reset(struct relay_buf *b);
int relay_buf_append(struct relay_buf *b, const void *data, size_t len) RELAY_MUST_CHECK;
int relay_buf_appends(struct relay_buf *b, const char *s) RELAY_MUST_CHECK;
int relay_buf_printf(struct relay_buf *b, const char *fmt, ...) RELAY_PRINTF(2, 3) RELAY_MUST_CHECK;

#endif
