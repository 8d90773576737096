/* Error detail helpers; see error.h. */
#include "relay/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int relay_error_set(struct relay_error *err, enum relay_error_code code, const char *fmt, ...)
{
    if (err == NULL) {
        return -1;
    }
    va_list ap;
    va_start(ap, fmt);
    err->code = code;
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return -1;
}

void relay_error_clear(struct relay_error *err)
{
    if (err != NULL) {
        err->code = RELAY_OK;
        err->msg[0] = '\0';
    }
}

int relay_error_errno(struct relay_error *err, enum relay_error_code code, int saved_errno,
                      const char *what)
{
    char buf[128];
    /* With _POSIX_C_SOURCE this is the XSI strerror_r, which fills buf. */
    if (strerror_r(saved_errno, buf, sizeof(buf)) != 0) {
        snprintf(buf, sizeof(buf), "errno %d", saved_errno);
    }
    return relay_error_set(err, code, "%s: %s", what, buf);
}

const char *relay_error_name(enum relay_error_code code)
{
    static const char *const names[] = {
        [RELAY_OK] = "ok",           [RELAY_EINVAL] = "invalid",   [RELAY_EAUTH] = "unauthorized",
        [RELAY_ETOOBIG] = "too_big", [RELAY_ENOMEM] = "no_memory", [RELAY_EIO] = "io",
        [RELAY_ECONFIG] = "config",  [RELAY_ENOTFOUND] = "not_found", [RELAY_EPERM] = "refused",
    };
    if ((size_t)code >= sizeof(names) / sizeof(names[0])) {
        return "unknown";
    }
    return names[code];
}
