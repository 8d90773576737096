/* Error detail for every layer: a code plus a fixed message, no allocation.
 * The caller owns the struct (usually on its stack); callees fill it on
 * failure. relay_error_set() returns -1 so a callee can write
 * `return relay_error_set(err, ...)`. Thread-safe: no shared state. */
#ifndef RELAY_RELAY_ERROR_H
#define RELAY_RELAY_ERROR_H

#include <stddef.h>

#define RELAY_MUST_CHECK __attribute__((warn_unused_result))
#define RELAY_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))

enum relay_error_code {
    RELAY_OK = 0,
    RELAY_EINVAL,    /* bad input: not JSON, wrong shape, bad value (HTTP 400) */
    RELAY_EAUTH,     /* bad or missing signature or secret (HTTP 401) */
    RELAY_ETOOBIG,   /* over a size limit (HTTP 413) */
    RELAY_ENOMEM,    /* allocation failed */
    RELAY_EIO,       /* network, disk or remote server failure (transient) */
    RELAY_ECONFIG,   /* invalid configuration */
    RELAY_ENOTFOUND, /* a looked-up thing does not exist */
    RELAY_EPERM,     /* a remote system refused for good (permanent) */
};

#define RELAY_ERROR_MSG_MAX 256

struct relay_error {
    enum relay_error_code code;
    char msg[RELAY_ERROR_MSG_MAX];
};

/* Fills err (which may be NULL) and returns -1. */
int relay_error_set(struct relay_error *err, enum relay_error_code code, const char *fmt, ...)
    RELAY_PRINTF(3, 4);

/* Resets err to RELAY_OK with an empty message; NULL is a no-op. */
void relay_error_clear(struct relay_error *err);

/* Fills err from a saved errno value, prefixed by what (e.g. "open x.db"). */
int relay_error_errno(struct relay_error *err, enum relay_error_code code, int saved_errno,
                      const char *what);

/* A short stable name for a code ("einval"), for logs and JSON answers. */
const char *relay_error_name(enum relay_error_code code);

#endif
