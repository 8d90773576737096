/* The answers of the HTTP ingress (the table in shared/spec/webhooks.md):
 * a status code and a small JSON body. Rendering is pure (unit-tested);
 * sending writes head and body with one mg_write. */
#ifndef RELAY_RELAY_HTTP_ANSWER_H
#define RELAY_RELAY_HTTP_ANSWER_H

#include "relay/buf.h"
#include "relay/event.h"

#include <stdbool.h>

struct mg_connection;

struct http_answer {
    int status;                   /* 200, 202, 400, ... */
    const char *state;            /* "accepted", "duplicate", "error", "ok", ... */
    const char *reason;           /* NULL: no reason key */
    const struct relay_event *ev; /* 202: id and quarantined come from it; else NULL */
    unsigned queued_mask;         /* 202: RELAY_SINK_BIT mask of the sinks queued to */
    bool should_close;            /* the request body was not read: Connection: close */
    const char *allow;            /* 405: the Allow header; else NULL */
};

/* Appends the JSON body of a to out:
 * {"status":STATE[,"reason":REASON][,"id":ID,"queued":[...],"quarantined":[...]]}.
 * Strings are JSON-escaped. Thread-safe. */
int http_answer_render(const struct http_answer *a, struct relay_buf *out) RELAY_MUST_CHECK;

/* Renders a into scratch (reset first; head then body) and writes it to
 * conn; 503 answers carry Retry-After: 1. Returns 0, or -1 when the
 * client is gone. */
int http_answer_send(struct mg_connection *conn, const struct http_answer *a,
                     struct relay_buf *scratch);

/* The reason phrase of a status code ("Accepted"). */
const char *http_answer_phrase(int status);

#endif
