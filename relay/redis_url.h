/* Where a redis:// URL keeps its user name and password. The one rule both
 * the Redis client (queue/queue_url.c) and check-config's masking
 * (relay/config_render.c) follow, so the password hidden by the one is the
 * password sent by the other. */
#ifndef RELAY_RELAY_REDIS_URL_H
#define RELAY_RELAY_REDIS_URL_H

#include <stddef.h>

/* The parts of a redis:// URL after its scheme ("rest"). Pointers borrow
 * from rest. */
struct redis_url_parts {
    size_t authority_len; /* [userinfo@]host[:port]: bytes before the first '/' */
    const char *userinfo; /* rest, or NULL when the authority has no '@' */
    size_t userinfo_len;  /* bytes before the authority's last '@' */
    const char *password; /* after the userinfo's first ':'; NULL: no ':' */
    size_t password_len;  /* up to the authority's last '@' */
};

/* Splits rest (what follows "redis://") into out. No percent-decoding: the
 * authority ends at the first '/' only, so '?', '#' and '@' may be part of
 * the password. Pure, never fails. */
void redis_url_split(const char *rest, struct redis_url_parts *out);

#endif
