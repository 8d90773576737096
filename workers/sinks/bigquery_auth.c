/* BigQuery access tokens: which source the config names, and the
 * service-account key file that source reads at start-up; see
 * bigquery_auth.h. The JWT is in bigquery_jwt.c, the token exchange in
 * bigquery_token_fetch.c, and the shared cache every worker thread asks
 * in bigquery_token_cache.c (bigquery_auth_internal.h lists them). This
 * file reads no network and takes no lock. */
#include "relay/mem.h"
#include "workers/sinks/bigquery_auth_internal.h"

#include <jansson.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

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
        a->source = BIGQUERY_AUTH_STATIC;
        a->static_token = relay_strdup(conf->token);
        if (a->static_token == NULL) {
            relay_error_set(err, RELAY_ENOMEM, "bigquery auth: out of memory");
            goto fail;
        }
    } else if (creds != NULL && creds[0] != '\0') {
        a->source = BIGQUERY_AUTH_KEY;
        if (load_key_file(a, creds, conf->token_url, err) != 0) {
            goto fail;
        }
    } else if (conf->metadata_url != NULL && conf->metadata_url[0] != '\0') {
        a->source = BIGQUERY_AUTH_METADATA;
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
