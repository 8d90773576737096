/* redis_url_split: the userinfo rule of redis:// URLs (see redis_url.h). */
#include "relay/redis_url.h"

#include <string.h>

void redis_url_split(const char *rest, struct redis_url_parts *out)
{
    memset(out, 0, sizeof(*out));
    out->authority_len = strcspn(rest, "/");
    const char *at = NULL;
    for (size_t i = 0; i < out->authority_len; i++) {
        if (rest[i] == '@') {
            at = rest + i;
        }
    }
    if (at == NULL) {
        return;
    }
    out->userinfo = rest;
    out->userinfo_len = (size_t)(at - rest);
    const char *colon = memchr(rest, ':', out->userinfo_len);
    if (colon != NULL) {
        out->password = colon + 1;
        out->password_len = (size_t)(at - out->password);
    }
}
