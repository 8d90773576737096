/* One authenticated call to the BigQuery REST API (bigquery_auth_request
 * in bigquery_auth.h), shared by the insertAll sink and the query reader.
 * The Authorization header holds the token, a secret: it is wiped before
 * its buffer is freed, and never logged. */
#include "relay/mem.h"
#include "workers/sinks/bigquery_auth.h"
#include "workers/sinks/http_client.h"

#include <string.h>

int bigquery_auth_request(struct bigquery_auth *a, struct http_client *http, const char *method,
                          const char *url, const char *body, size_t len,
                          struct http_response *resp, char **token, struct relay_error *err)
{
    struct relay_buf auth_header;
    int rc = -1;
    relay_buf_init(&auth_header);
    *token = bigquery_auth_token(a, http, err);
    if (*token == NULL) {
        return -1;
    }
    if (relay_buf_printf(&auth_header, "Authorization: Bearer %s", *token) != 0) {
        relay_error_set(err, RELAY_ENOMEM, "bigquery: out of memory");
        goto out;
    }
    const char *headers[] = {"Content-Type: application/json", auth_header.data, NULL};
    rc = http_client_request(http, method, url, headers, body, len, resp, err);
out:
    if (auth_header.data != NULL) {
        memset(auth_header.data, 0, auth_header.len); /* a secret */
    }
    relay_buf_fini(&auth_header);
    if (rc != 0) {
        relay_free(*token);
        *token = NULL;
    }
    return rc;
}
