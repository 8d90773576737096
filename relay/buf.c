/* Growable byte buffer; see buf.h. */
#include "relay/buf.h"
#include "relay/mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void relay_buf_init(struct relay_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void relay_buf_fini(struct relay_buf *b)
{
    relay_free(b->data);
    relay_buf_init(b);
}

void relay_buf_reset(struct relay_buf *b)
{
    b->len = 0;
    if (b->data != NULL) {
        b->data[0] = '\0';
    }
}

static int reserve(struct relay_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap) {
        return 0;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) {
        cap *= 2;
    }
    char *data = relay_realloc(b->data, cap);
    if (data == NULL) {
        return -1;
    }
    b->data = data;
    b->cap = cap;
    return 0;
}

int relay_buf_append(struct relay_buf *b, const void *data, size_t len)
{
    if (reserve(b, len) != 0) {
        return -1;
    }
    if (len > 0) {
        memcpy(b->data + b->len, data, len);
    }
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int relay_buf_appends(struct relay_buf *b, const char *s)
{
    return relay_buf_append(b, s, strlen(s));
}

int relay_buf_printf(struct relay_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (need < 0 || reserve(b, (size_t)need) != 0) {
        return -1;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)need + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)need;
    return 0;
}
