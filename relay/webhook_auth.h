/* Who may post webhooks: Twenty's HMAC signature, Supabase's shared secret
 * (own header or Authorization: Bearer) and Standard Webhooks signatures
 * (shared/spec/webhooks.md). Sits first in the ingress pipeline, before
 * the body is parsed. Every secret comparison is constant time; signatures
 * are computed over the raw bytes as received, never a re-serialisation.
 *
 * A struct webhook_auth is built once from the config (secrets copied,
 * the whsec_ key decoded), then immutable: the verify functions are pure
 * and thread-safe. */
#ifndef RELAY_RELAY_WEBHOOK_AUTH_H
#define RELAY_RELAY_WEBHOOK_AUTH_H

#include "relay/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WEBHOOK_TWENTY_TIMESTAMP "X-Twenty-Webhook-Timestamp"
#define WEBHOOK_TWENTY_SIGNATURE "X-Twenty-Webhook-Signature"
#define WEBHOOK_STD_ID "webhook-id"
#define WEBHOOK_STD_TIMESTAMP "webhook-timestamp"
#define WEBHOOK_STD_SIGNATURE "webhook-signature"
#define WEBHOOK_SUPABASE_DEFAULT_HEADER "X-Syncrelay-Secret"

/* What webhook_auth_create needs; every string is borrowed for the call. */
struct webhook_auth_conf {
    const char *twenty_secret;   /* NULL or "": unsigned (allow_unsigned) or refused */
    bool twenty_allow_unsigned;  /* accept requests without a signature */
    unsigned timestamp_window_s; /* both directions; 0 means 300 */
    const char *supabase_secret; /* NULL or "": no shared secret */
    const char *supabase_header; /* NULL or "": X-Syncrelay-Secret */
    const char *standard_secret; /* "whsec_<base64>", NULL or "": off */
};

struct webhook_auth;

/* Header lookup of one request: the value of name (case-insensitive) or
 * NULL when absent. ctx is the caller's. */
typedef const char *(*webhook_header_fn)(void *ctx, const char *name);

/* Validates conf and copies what it needs. Refuses (NULL, RELAY_ECONFIG) a
 * standard secret that is not "whsec_" + base64. An empty Twenty secret is
 * allowed: without allow_unsigned every Twenty request is then refused, so
 * a relay on its defaults starts. The caller owns the result. */
struct webhook_auth *webhook_auth_create(const struct webhook_auth_conf *conf,
                                         struct relay_error *err);
void webhook_auth_destroy(struct webhook_auth *auth); /* NULL is a no-op */

/* True when Supabase requests can be authenticated at all (a shared or a
 * standard secret is configured); otherwise every one is refused. */
bool webhook_auth_supabase_configured(const struct webhook_auth *auth);

/* Verifies a Twenty request: 0 when accepted, -1 with RELAY_EAUTH and a
 * reason (no secret value ever appears in it). now_ms is the current Unix
 * time in milliseconds. Thread-safe. */
int webhook_auth_twenty(const struct webhook_auth *auth, webhook_header_fn header, void *ctx,
                        const char *body, size_t len, int64_t now_ms,
                        struct relay_error *err) RELAY_MUST_CHECK;

/* Verifies a Supabase request: the shared secret in the configured header
 * or as a Bearer token, else (when configured) a Standard Webhooks
 * signature. 0 or -1 with RELAY_EAUTH. Thread-safe. */
int webhook_auth_supabase(const struct webhook_auth *auth, webhook_header_fn header, void *ctx,
                          const char *body, size_t len, int64_t now_ms,
                          struct relay_error *err) RELAY_MUST_CHECK;

#endif
