/* One token exchange (bigquery_auth_fetch in bigquery_auth_internal.h):
 * the JWT bearer grant at the key's token_uri, or a GET at the metadata
 * server; both answer {"access_token": ..., "expires_in": N}. Called by
 * the cache without its lock; reads only the immutable source fields. */
#include "relay/mem.h"
#include "workers/sinks/bigquery_auth_internal.h"
#include "workers/sinks/http_client.h"

#include <jansson.h>
#include <string.h>
#include <time.h>

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
    if (http_client_append_base(&url, a->metadata_url) != 0 ||
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

int bigquery_auth_fetch(struct bigquery_auth *a, struct http_client *http, char **token,
                        long long *expires_in_s, struct relay_error *err)
{
    return a->source == BIGQUERY_AUTH_KEY ? fetch_with_key(a, http, token, expires_in_s, err)
                                          : fetch_from_metadata(a, http, token, expires_in_s, err);
}
