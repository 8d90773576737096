/* Blocking HTTP exchanges over one libcurl easy handle; see http_client.h.
 * libcurl keeps the connection cache in the easy handle, so reusing one
 * client per worker thread keeps its TCP/TLS connection alive. */
#include "workers/sinks/http_client.h"
#include "relay/mem.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <string.h>

struct http_client {
    CURL *curl;
    unsigned timeout_ms;
};

void http_response_init(struct http_response *r)
{
    r->status = 0;
    relay_buf_init(&r->body);
}

void http_response_fini(struct http_response *r)
{
    relay_buf_fini(&r->body);
    r->status = 0;
}

struct http_client *http_client_create(unsigned timeout_ms, struct relay_error *err)
{
    struct http_client *c = relay_calloc(1, sizeof(*c));
    if (c == NULL) {
        relay_error_set(err, RELAY_ENOMEM, "http client: out of memory");
        return NULL;
    }
    c->curl = curl_easy_init();
    if (c->curl == NULL) {
        relay_free(c);
        relay_error_set(err, RELAY_ENOMEM, "http client: curl_easy_init failed");
        return NULL;
    }
    c->timeout_ms = timeout_ms;
    return c;
}

void http_client_destroy(struct http_client *c)
{
    if (c == NULL) {
        return;
    }
    curl_easy_cleanup(c->curl);
    relay_free(c);
}

/* libcurl write callback: appends to the response buffer; returning less
 * than asked makes libcurl fail the transfer with CURLE_WRITE_ERROR. */
static size_t collect_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct relay_buf *body = userdata;
    size_t n = size * nmemb;
    if (relay_buf_append(body, data, n) != 0) {
        return 0;
    }
    return n;
}

/* Options that hold for every request; reset_handle keeps the connection
 * cache but forgets per-request options from the previous call. */
static void set_common_options(struct http_client *c, struct http_response *resp)
{
    CURL *h = c->curl;
    curl_easy_reset(h);
    /* Signals are not thread-safe for name resolution timeouts (libcurl-thread). */
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(c->timeout_ms ? c->timeout_ms : 10000));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp->body);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
}

static int build_headers(const char *const *headers, struct curl_slist **out,
                         struct relay_error *err)
{
    struct curl_slist *list = NULL;
    /* libcurl adds "Expect: 100-continue" to large POSTs; an empty value
     * turns it off so a body is sent without a wasted round trip. */
    struct curl_slist *next = curl_slist_append(list, "Expect:");
    for (size_t i = 0; next != NULL && headers != NULL && headers[i] != NULL; i++) {
        list = next;
        next = curl_slist_append(list, headers[i]);
    }
    if (next == NULL) {
        curl_slist_free_all(list);
        return relay_error_set(err, RELAY_ENOMEM, "http client: out of memory");
    }
    *out = next;
    return 0;
}

int http_client_request(struct http_client *c, const char *method, const char *url,
                        const char *const *headers, const char *body, size_t len,
                        struct http_response *resp, struct relay_error *err)
{
    struct curl_slist *list = NULL;
    int result = -1;

    relay_buf_reset(&resp->body);
    resp->status = 0;
    if (build_headers(headers, &list, err) != 0) {
        goto out;
    }
    set_common_options(c, resp);
    curl_easy_setopt(c->curl, CURLOPT_URL, url);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, list);
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
    } else {
        /* libcurl does not copy POSTFIELDS: body outlives perform() below. */
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body != NULL ? body : "");
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        if (strcmp(method, "POST") != 0) {
            curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
        }
    }
    CURLcode rc = curl_easy_perform(c->curl);
    if (rc != CURLE_OK) {
        relay_error_set(err, rc == CURLE_WRITE_ERROR ? RELAY_ENOMEM : RELAY_EIO, "%s %s: %s",
                        method, url, curl_easy_strerror(rc));
        goto out;
    }
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &resp->status);
    if (resp->body.data == NULL && relay_buf_append(&resp->body, "", 0) != 0) {
        relay_error_set(err, RELAY_ENOMEM, "http client: out of memory");
        goto out;
    }
    result = 0;
out:
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL); /* no dangling list */
    curl_slist_free_all(list);
    return result;
}

int http_client_append_base(struct relay_buf *out, const char *base_url)
{
    size_t len = strlen(base_url);
    while (len > 0 && base_url[len - 1] == '/') {
        len--;
    }
    return relay_buf_append(out, base_url, len);
}

int http_client_escape(struct relay_buf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        bool is_unreserved = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                             (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' ||
                             *p == '~';
        char enc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
        int rc = is_unreserved ? relay_buf_append(out, p, 1) : relay_buf_append(out, enc, 3);
        if (rc != 0) {
            return -1;
        }
    }
    return 0;
}
