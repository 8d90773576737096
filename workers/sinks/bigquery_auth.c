/* BigQuery access tokens: sources, the JWT bearer grant (RFC 7523, Google's
 * "Using OAuth 2.0 for Server to Server Applications") and the shared,
 * single-flight token cache; see bigquery_auth.h.
 *
 * DESIGN: every worker thread asks bigquery_auth_token() before a request.
 * The cache is one mutex-guarded struct. A thread that finds the token due
 * for refresh sets is_refreshing, unlocks, does the HTTP exchange with its
 * own CURL handle, then relocks to store the result and wakes the waiters.
 * Others use the old token while it is still valid, or wait on the
 * condition variable; a failed refresh is reported to the threads that
 * waited for it (generation counter), so one failure is one exchange. */
#include "workers/sinks/bigquery_auth.h"
#include "relay/mem.h"
#include "workers/sinks/http_client.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define AUTH_REFRESH_MARGIN_S 300 /* refresh this long before expiry ... */
#define AUTH_JWT_LIFETIME_S 3600  /* Google's maximum assertion lifetime */

enum auth_source { AUTH_STATIC, AUTH_KEY, AUTH_METADATA };

struct bigquery_auth {
    enum auth_source source;
    char *static_token;
    char *client_email, *key_id, *token_uri, *metadata_url;
    EVP_PKEY *key;

    /* mu guards every field below: the cached token, its deadlines and the
     * single-flight refresh state. Never held during network I/O. */
    pthread_mutex_t mu;
    pthread_cond_t refreshed;
    char *token;              /* NULL until fetched or after invalidate */
    double refresh_at_s;      /* monotonic: fetch a new one from here on */
    double expires_at_s;      /* monotonic: unusable from here on */
    bool is_refreshing;       /* one thread is fetching */
    unsigned long generation; /* finished fetches, good or bad */
    struct relay_error last_error;
};

static double monotonic_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *dup_or_null(const char *s)
{
    return s != NULL && s[0] != '\0' ? relay_strdup(s) : NULL;
}

/* Reads the service-account JSON key: client_email, private_key (PEM),
 * private_key_id, token_uri. token_url (config) overrides token_uri. */
static int load_key_file(struct bigquery_auth *a, const char *path, const char *token_url,
                         struct relay_error *err)
{
    json_error_t jerr;
    json_t *key = json_load_file(path, 0, &jerr);
    int rc = -1;
    BIO *bio = NULL;
    if (key == NULL) {
        return relay_error_set(err, RELAY_ECONFIG, "bigquery credentials %s: %s", path, jerr.text);
    }
    const char *email = json_string_value(json_object_get(key, "client_email"));
    const char *pem = json_string_value(json_object_get(key, "private_key"));
    const char *kid = json_string_value(json_object_get(key, "private_key_id"));
    const char *uri = json_string_value(json_object_get(key, "token_uri"));
    if (token_url != NULL && token_url[0] != '\0') {
        uri = token_url;
    }
    if (email == NULL || pem == NULL || kid == NULL || uri == NULL) {
        relay_error_set(err, RELAY_ECONFIG,
                        "bigquery credentials %s: needs client_email, private_key, "
                        "private_key_id and token_uri",
                        path);
        goto out;
    }
    bio = BIO_new_mem_buf(pem, -1);
    a->key = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    if (a->key == NULL || EVP_PKEY_get_base_id(a->key) != EVP_PKEY_RSA) {
        relay_error_set(err, RELAY_ECONFIG,
                        "bigquery credentials %s: private_key is not an "
                        "RSA PEM key",
                        path);
        goto out;
    }
    a->client_email = relay_strdup(email);
    a->key_id = relay_strdup(kid);
    a->token_uri = relay_strdup(uri);
    if (a->client_email == NULL || a->key_id == NULL || a->token_uri == NULL) {
        relay_error_set(err, RELAY_ENOMEM, "bigquery credentials: out of memory");
        goto out;
    }
    rc = 0;
out:
    BIO_free(bio);
    json_decref(key);
    return rc;
}

struct bigquery_auth *bigquery_auth_create(const struct config_bigquery *conf,
                                           struct relay_error *err)
{
    struct bigquery_auth *a = relay_calloc(1, sizeof(*a));
    if (a == NULL) {
        relay_error_set(err, RELAY_ENOMEM, "bigquery auth: out of memory");
        return NULL;
    }
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->refreshed, NULL);
    const char *creds = conf->credentials;
    if (creds == NULL || creds[0] == '\0') {
        creds = getenv("GOOGLE_APPLICATION_CREDENTIALS");
    }
    if (conf->token != NULL && conf->token[0] != '\0') {
        a->source = AUTH_STATIC;
        a->static_token = relay_strdup(conf->token);
        if (a->static_token == NULL) {
            relay_error_set(err, RELAY_ENOMEM, "bigquery auth: out of memory");
            goto fail;
        }
    } else if (creds != NULL && creds[0] != '\0') {
        a->source = AUTH_KEY;
        if (load_key_file(a, creds, conf->token_url, err) != 0) {
            goto fail;
        }
    } else if (conf->metadata_url != NULL && conf->metadata_url[0] != '\0') {
        a->source = AUTH_METADATA;
        a->metadata_url = dup_or_null(conf->metadata_url);
        if (a->metadata_url == NULL) {
            relay_error_set(err, RELAY_ENOMEM, "bigquery auth: out of memory");
            goto fail;
        }
    } else {
        relay_error_set(err, RELAY_ECONFIG,
                        "bigquery: no credentials (set bigquery.token, "
                        "bigquery.credentials or bigquery.metadata_url)");
        goto fail;
    }
    return a;
fail:
    bigquery_auth_destroy(a);
    return NULL;
}

void bigquery_auth_destroy(struct bigquery_auth *a)
{
    if (a == NULL) {
        return;
    }
    relay_free(a->static_token);
    relay_free(a->client_email);
    relay_free(a->key_id);
    relay_free(a->token_uri);
    relay_free(a->metadata_url);
    relay_free(a->token);
    EVP_PKEY_free(a->key);
    pthread_cond_destroy(&a->refreshed);
    pthread_mutex_destroy(&a->mu);
    relay_free(a);
}

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
    if (a->source != AUTH_KEY) {
        relay_error_set(err, RELAY_ECONFIG, "bigquery auth: no service-account key");
        return NULL;
    }
    json_t *header = json_pack("{s:s,s:s,s:s}", "alg", "RS256", "typ", "JWT", "kid", a->key_id);
    json_t *claims = json_pack("{s:s,s:s,s:s,s:I,s:I}", "iss", a->client_email, "scope",
                               BIGQUERY_AUTH_SCOPE, "aud", a->token_uri, "iat", (json_int_t)iat_s,
                               "exp", (json_int_t)(iat_s + AUTH_JWT_LIFETIME_S));
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

/* Reads {"access_token": ..., "expires_in": N} from a token answer. */
static int parse_token_answer(const struct http_response *resp, const char *what, char **token,
                              long long *expires_in_s, struct relay_error *err)
{
    if (resp->status >= 500 || resp->status == 429 || resp->status == 408) {
        return relay_error_set(err, RELAY_EIO, "%s: HTTP %ld", what, resp->status);
    }
    if (resp->status != 200) {
        return relay_error_set(err, RELAY_EAUTH, "%s: HTTP %ld (credentials refused)", what,
                               resp->status);
    }
    json_t *answer = json_loadb(resp->body.data, resp->body.len, 0, NULL);
    const char *value = json_string_value(json_object_get(answer, "access_token"));
    json_t *expires = json_object_get(answer, "expires_in");
    int rc = -1;
    if (value == NULL || value[0] == '\0' || !json_is_integer(expires) ||
        json_integer_value(expires) <= 0) {
        relay_error_set(err, RELAY_EIO, "%s: answer has no access_token/expires_in", what);
    } else if ((*token = relay_strdup(value)) == NULL) {
        relay_error_set(err, RELAY_ENOMEM, "%s: out of memory", what);
    } else {
        *expires_in_s = json_integer_value(expires);
        rc = 0;
    }
    json_decref(answer);
    return rc;
}

static int fetch_with_key(struct bigquery_auth *a, struct http_client *http, char **token,
                          long long *expires_in_s, struct relay_error *err)
{
    static const char *const headers[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
    struct relay_buf form;
    struct http_response resp;
    int rc = -1;
    relay_buf_init(&form);
    http_response_init(&resp);
    char *jwt = bigquery_auth_jwt(a, (long long)time(NULL), err);
    if (jwt == NULL) {
        goto out;
    }
    /* The assertion is base64url, so only the grant type needs escaping. */
    if (relay_buf_printf(&form, "grant_type=%s&assertion=%s",
                         "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer", jwt) != 0) {
        relay_error_set(err, RELAY_ENOMEM, "token request: out of memory");
        goto out;
    }
    if (http_client_request(http, "POST", a->token_uri, headers, form.data, form.len, &resp, err) !=
        0) {
        goto out;
    }
    rc = parse_token_answer(&resp, "token endpoint", token, expires_in_s, err);
out:
    relay_free(jwt);
    relay_buf_fini(&form);
    http_response_fini(&resp);
    return rc;
}

static int fetch_from_metadata(struct bigquery_auth *a, struct http_client *http, char **token,
                               long long *expires_in_s, struct relay_error *err)
{
    static const char *const headers[] = {"Metadata-Flavor: Google", NULL};
    struct relay_buf url;
    struct http_response resp;
    int rc = -1;
    relay_buf_init(&url);
    http_response_init(&resp);
    size_t base_len = strlen(a->metadata_url);
    while (base_len > 0 && a->metadata_url[base_len - 1] == '/') {
        base_len--;
    }
    if (relay_buf_append(&url, a->metadata_url, base_len) != 0 ||
        relay_buf_appends(&url, BIGQUERY_AUTH_METADATA_PATH) != 0) {
        relay_error_set(err, RELAY_ENOMEM, "metadata token: out of memory");
        goto out;
    }
    if (http_client_request(http, "GET", url.data, headers, NULL, 0, &resp, err) != 0) {
        goto out;
    }
    rc = parse_token_answer(&resp, "metadata server", token, expires_in_s, err);
out:
    relay_buf_fini(&url);
    http_response_fini(&resp);
    return rc;
}

/* Margin before expiry at which a token is refreshed: a few minutes, or a
 * quarter of the lifetime for short-lived tokens (tests use seconds). */
static double refresh_margin_s(long long expires_in_s)
{
    double quarter = (double)expires_in_s / 4.0;
    return quarter < AUTH_REFRESH_MARGIN_S ? quarter : AUTH_REFRESH_MARGIN_S;
}

/* Called with a->mu held: is the cached token usable up to `deadline`? */
static bool token_usable(const struct bigquery_auth *a, double now, bool before_refresh)
{
    if (a->token == NULL) {
        return false;
    }
    return now < (before_refresh ? a->refresh_at_s : a->expires_at_s);
}

/* Runs the exchange without the lock, then stores the outcome under it.
 * Called with a->mu held and is_refreshing set; returns with mu held. */
static char *refresh_locked(struct bigquery_auth *a, struct http_client *http,
                            struct relay_error *err)
{
    char *fresh = NULL;
    long long expires_in_s = 0;
    struct relay_error fetch_err = {0};
    pthread_mutex_unlock(&a->mu);
    int rc = a->source == AUTH_KEY
                 ? fetch_with_key(a, http, &fresh, &expires_in_s, &fetch_err)
                 : fetch_from_metadata(a, http, &fresh, &expires_in_s, &fetch_err);
    double now = monotonic_s();
    pthread_mutex_lock(&a->mu);
    a->is_refreshing = false;
    a->generation++;
    char *result = NULL;
    if (rc == 0) {
        relay_free(a->token);
        a->token = fresh;
        a->expires_at_s = now + (double)expires_in_s;
        a->refresh_at_s = a->expires_at_s - refresh_margin_s(expires_in_s);
        result = relay_strdup(fresh);
    } else {
        a->last_error = fetch_err;
        if (token_usable(a, now, false)) {
            result = relay_strdup(a->token); /* still valid: try again next call */
        }
    }
    pthread_cond_broadcast(&a->refreshed);
    if (result == NULL) {
        *err = rc == 0 ? (struct relay_error){RELAY_ENOMEM, "bigquery auth: out of memory"}
                       : fetch_err;
    }
    return result;
}

char *bigquery_auth_token(struct bigquery_auth *a, struct http_client *http,
                          struct relay_error *err)
{
    struct relay_error scratch;
    err = err != NULL ? err : &scratch;
    if (a->source == AUTH_STATIC) {
        char *t = relay_strdup(a->static_token);
        if (t == NULL) {
            relay_error_set(err, RELAY_ENOMEM, "bigquery auth: out of memory");
        }
        return t;
    }
    char *result = NULL;
    pthread_mutex_lock(&a->mu);
    for (;;) {
        double now = monotonic_s();
        if (token_usable(a, now, true) || (a->is_refreshing && token_usable(a, now, false))) {
            result = relay_strdup(a->token);
            if (result == NULL) {
                relay_error_set(err, RELAY_ENOMEM, "bigquery auth: out of memory");
            }
            break;
        }
        if (!a->is_refreshing) {
            a->is_refreshing = true;
            result = refresh_locked(a, http, err);
            break;
        }
        unsigned long seen = a->generation;
        while (a->is_refreshing) {
            pthread_cond_wait(&a->refreshed, &a->mu);
        }
        if (a->generation != seen && !token_usable(a, monotonic_s(), false)) {
            *err = a->last_error; /* the refresh we waited for failed */
            break;
        }
    }
    pthread_mutex_unlock(&a->mu);
    return result;
}

void bigquery_auth_invalidate(struct bigquery_auth *a, const char *token)
{
    if (a->source == AUTH_STATIC || token == NULL) {
        return;
    }
    pthread_mutex_lock(&a->mu);
    if (a->token != NULL && strcmp(a->token, token) == 0) {
        relay_free(a->token);
        a->token = NULL;
    }
    pthread_mutex_unlock(&a->mu);
}

unsigned long bigquery_auth_refresh_count(struct bigquery_auth *a)
{
    pthread_mutex_lock(&a->mu);
    unsigned long n = a->generation;
    pthread_mutex_unlock(&a->mu);
    return n;
}
