/* Answer bodies and their HTTP framing (see http_answer.h). The head is
 * written by hand rather than with mg_response_header_*: one buffer, one
 * write, and the Connection header reflects whether the body was read. */
#include "relay/http_answer.h"

#include <civetweb.h>

#include <stdio.h>
#include <string.h>

const char *http_answer_phrase(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 202:
        return "Accepted";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Unknown";
    }
}

/* Appends s as a JSON string literal. */
static int append_json_string(struct relay_buf *out, const char *s)
{
    if (relay_buf_append(out, "\"", 1) != 0) {
        return -1;
    }
    const char *run = s;
    for (const char *p = s; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }
        if (relay_buf_append(out, run, (size_t)(p - run)) != 0) {
            return -1;
        }
        int rc = (c == '"' || c == '\\') ? relay_buf_printf(out, "\\%c", c)
                                         : relay_buf_printf(out, "\\u%04x", c);
        if (rc != 0) {
            return -1;
        }
        run = p + 1;
    }
    if (relay_buf_appends(out, run) != 0) {
        return -1;
    }
    return relay_buf_append(out, "\"", 1);
}

static int append_sinks(struct relay_buf *out, unsigned mask)
{
    const char *sep = "";
    if (relay_buf_appends(out, "[") != 0) {
        return -1;
    }
    for (int s = 0; s < RELAY_SINK_COUNT; s++) {
        if ((mask & RELAY_SINK_BIT(s)) == 0) {
            continue;
        }
        if (relay_buf_printf(out, "%s\"%s\"", sep, relay_sink_name((enum relay_sink)s)) != 0) {
            return -1;
        }
        sep = ",";
    }
    return relay_buf_appends(out, "]");
}

static int append_quarantined(struct relay_buf *out, const json_t *quarantined)
{
    const char *name;
    json_t *reason;
    const char *sep = "";
    if (relay_buf_appends(out, "[") != 0) {
        return -1;
    }
    /* json_object_foreach wants a non-const object; it only reads it. */
    json_t *q = (json_t *)quarantined;
    json_object_foreach(q, name, reason)
    {
        if (relay_buf_appends(out, sep) != 0 || append_json_string(out, name) != 0) {
            return -1;
        }
        sep = ",";
    }
    return relay_buf_appends(out, "]");
}

int http_answer_render(const struct http_answer *a, struct relay_buf *out)
{
    if (relay_buf_appends(out, "{\"status\":") != 0 || append_json_string(out, a->state) != 0) {
        return -1;
    }
    if (a->reason != NULL) {
        if (relay_buf_appends(out, ",\"reason\":") != 0 ||
            append_json_string(out, a->reason) != 0) {
            return -1;
        }
    }
    if (a->ev != NULL) {
        if (relay_buf_printf(out, ",\"id\":\"%s\",\"queued\":", a->ev->id) != 0 ||
            append_sinks(out, a->queued_mask) != 0 ||
            relay_buf_appends(out, ",\"quarantined\":") != 0 ||
            append_quarantined(out, a->ev->quarantined) != 0) {
            return -1;
        }
    }
    return relay_buf_appends(out, "}");
}

#define HEAD_MAX 256

int http_answer_send(struct mg_connection *conn, const struct http_answer *a,
                     struct relay_buf *scratch)
{
    relay_buf_reset(scratch);
    /* Leave room for the head in front, then render the body after it. */
    char pad[HEAD_MAX];
    memset(pad, ' ', sizeof(pad));
    if (relay_buf_append(scratch, pad, sizeof(pad)) != 0 || http_answer_render(a, scratch) != 0) {
        static const char oom[] = "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n"
                                  "Content-Length: 0\r\nConnection: close\r\n\r\n";
        mg_disable_keep_alive(conn);
        return mg_write(conn, oom, sizeof(oom) - 1) > 0 ? 0 : -1;
    }
    size_t body_len = scratch->len - HEAD_MAX;
    char head[HEAD_MAX];
    int n =
        snprintf(head, sizeof(head),
                 "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                 "Content-Length: %zu\r\n%s%s%s%s\r\n",
                 a->status, http_answer_phrase(a->status), body_len,
                 a->status == 503 ? "Retry-After: 1\r\n" : "", a->allow != NULL ? "Allow: " : "",
                 a->allow != NULL ? a->allow : "", a->allow != NULL ? "\r\n" : "");
    if (n < 0 || n >= HEAD_MAX - 20) {
        return -1;
    }
    if (a->should_close) {
        mg_disable_keep_alive(conn);
        /* Replace the final CRLF by the Connection header and a new one. */
        n -= 2;
        n += snprintf(head + n, sizeof(head) - (size_t)n, "Connection: close\r\n\r\n");
    }
    char *start = scratch->data + HEAD_MAX - n;
    memcpy(start, head, (size_t)n);
    size_t total = (size_t)n + body_len;
    return mg_write(conn, start, total) == (int)total ? 0 : -1;
}
