/* Shared by the files of the BigQuery token source only: the fields of
 * struct bigquery_auth and the steps one file hands to another.
 *   bigquery_auth.c         sources: static token, key file, metadata server
 *   bigquery_jwt.c          the RS256 assertion of the key-file source
 *   bigquery_token_fetch.c  one token exchange (key file or metadata server)
 *   bigquery_token_cache.c  the shared, single-flight cache in front of it
 *   bigquery_api.c          one authenticated REST call
 * Other files include bigquery_auth.h, never this one. */
#ifndef RELAY_WORKERS_SINKS_BIGQUERY_AUTH_INTERNAL_H
#define RELAY_WORKERS_SINKS_BIGQUERY_AUTH_INTERNAL_H

#include "workers/sinks/bigquery_auth.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>

#define BIGQUERY_AUTH_REFRESH_MARGIN_S 300 /* refresh this long before expiry ... */
#define BIGQUERY_AUTH_JWT_LIFETIME_S 3600  /* Google's maximum assertion lifetime */

enum bigquery_auth_source { BIGQUERY_AUTH_STATIC, BIGQUERY_AUTH_KEY, BIGQUERY_AUTH_METADATA };

struct bigquery_auth {
    enum bigquery_auth_source source;
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

/* One exchange at the key's token_uri (JWT bearer grant) or at the
 * metadata server, with the calling thread's client. Touches no cached
 * state, so it runs without a->mu. On 0, *token (owned by the caller) and
 * *expires_in_s are set; -1 + err (RELAY_EIO transient, RELAY_EAUTH the
 * credentials were refused, RELAY_ENOMEM). bigquery_token_fetch.c. */
int bigquery_auth_fetch(struct bigquery_auth *a, struct http_client *http, char **token,
                        long long *expires_in_s, struct relay_error *err) RELAY_MUST_CHECK;

#endif
