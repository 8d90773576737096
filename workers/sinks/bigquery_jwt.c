/* The signed assertion of the service-account source: RS256 JWT bearer
 * grant (RFC 7523, Google's "Using OAuth 2.0 for Server to Server
 * Applications"); see bigquery_auth_jwt in bigquery_auth.h. Pure apart
 * from the key it reads; thread-safe. */
#include "relay/mem.h"
#include "workers/sinks/bigquery_auth_internal.h"

#include <jansson.h>
#include <string.h>

/* base64url without padding (RFC 7515 section 2), appended to out. */
static int append_base64url(struct relay_buf *out, const unsigned char *data, size_t len)
{
    size_t cap = 4 * ((len + 2) / 3) + 1;
    unsigned char *tmp = relay_malloc(cap);
    if (tmp == NULL) {
        return -1;
    }
    int n = EVP_EncodeBlock(tmp, data, (int)len);
    while (n > 0 && tmp[n - 1] == '=') {
        n--;
    }
    for (int i = 0; i < n; i++) {
        tmp[i] = tmp[i] == '+' ? '-' : tmp[i] == '/' ? '_' : tmp[i];
    }
    int rc = relay_buf_append(out, tmp, (size_t)n);
    relay_free(tmp);
    return rc;
}

static int append_json_part(struct relay_buf *out, json_t *part)
{
    char *text = part != NULL ? json_dumps(part, JSON_COMPACT) : NULL;
    json_decref(part);
    if (text == NULL) {
        return -1;
    }
    int rc = append_base64url(out, (const unsigned char *)text, strlen(text));
    relay_free(text);
    return rc;
}

/* RS256 = RSASSA-PKCS1-v1_5 with SHA-256 over "header.claims". */
static int append_signature(struct relay_buf *out, EVP_PKEY *key, const char *data, size_t len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char *sig = NULL;
    size_t sig_len = 0;
    int rc = -1;
    if (ctx == NULL || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestSign(ctx, NULL, &sig_len, (const unsigned char *)data, len) != 1) {
        goto out;
    }
    sig = relay_malloc(sig_len);
    if (sig == NULL || EVP_DigestSign(ctx, sig, &sig_len, (const unsigned char *)data, len) != 1) {
        goto out;
    }
    rc = append_base64url(out, sig, sig_len);
out:
    relay_free(sig);
    EVP_MD_CTX_free(ctx);
    return rc;
}

char *bigquery_auth_jwt(const struct bigquery_auth *a, long long iat_s, struct relay_error *err)
{
    struct relay_buf jwt;
    relay_buf_init(&jwt);
    if (a->source != BIGQUERY_AUTH_KEY) {
        relay_error_set(err, RELAY_ECONFIG, "bigquery auth: no service-account key");
        return NULL;
    }
    json_t *header = json_pack("{s:s,s:s,s:s}", "alg", "RS256", "typ", "JWT", "kid", a->key_id);
    json_t *claims = json_pack("{s:s,s:s,s:s,s:I,s:I}", "iss", a->client_email, "scope",
                               BIGQUERY_AUTH_SCOPE, "aud", a->token_uri, "iat", (json_int_t)iat_s,
                               "exp", (json_int_t)(iat_s + BIGQUERY_AUTH_JWT_LIFETIME_S));
    if (append_json_part(&jwt, header) != 0 || relay_buf_appends(&jwt, ".") != 0 ||
        append_json_part(&jwt, claims) != 0) {
        relay_buf_fini(&jwt);
        relay_error_set(err, RELAY_ENOMEM, "bigquery auth: out of memory");
        return NULL;
    }
    size_t signed_len = jwt.len;
    if (relay_buf_appends(&jwt, ".") != 0 ||
        append_signature(&jwt, a->key, jwt.data, signed_len) != 0) {
        relay_buf_fini(&jwt);
        relay_error_set(err, RELAY_EAUTH, "bigquery auth: cannot sign the JWT");
        return NULL;
    }
    return jwt.data; /* the buffer's allocation becomes the caller's string */
}
