/* civetweb set-up, routing and the small GET routes (see http_server.h).
 *
 * DESIGN: one request handler on "/" routes by exact path, so civetweb's
 * prefix matching never lets /v1/webhooks/twenty/x reach a webhook route.
 * civetweb serves each connection (keep-alive included) on one worker
 * thread, so http.threads bounds the connections served at once; the
 * accept queue (connection_queue, listen_backlog) holds the rest up to
 * http.max_connections. Per-thread state comes from init_thread and lives
 * on the heap: Debian's civetweb runs handlers on 100 KB stacks. */
#define LOG_COMPONENT "http"
#include "relay/http_server.h"

#include "queue/queue.h"
#include "relay/config.h"
#include "relay/http_answer.h"
#include "relay/http_ingress.h"
#include "relay/log.h"
#include "relay/mem.h"
#include "relay/metrics.h"
#include "relay/metrics_redis.h"
#include "relay/webhook_auth.h"

#include <civetweb.h>

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LISTEN_MAX 512

struct http_server {
    struct mg_context *ctx;
    struct webhook_auth *auth; /* owned */
    struct http_ingress ingress; /* owns ingress.group */
    bool has_tls;
};

unsigned http_server_enabled_sinks(const struct relay_config *conf)
{
    unsigned mask = 0;
    if (conf->postgres.url != NULL && conf->postgres.url[0] != '\0') {
        mask |= RELAY_SINK_BIT(RELAY_SINK_POSTGRES);
    }
    if (conf->sqlite.path != NULL && conf->sqlite.path[0] != '\0' &&
        strcmp(conf->sqlite.path, "off") != 0) {
        mask |= RELAY_SINK_BIT(RELAY_SINK_SQLITE);
    }
    if (conf->bigquery.project != NULL && conf->bigquery.project[0] != '\0') {
        mask |= RELAY_SINK_BIT(RELAY_SINK_BIGQUERY);
    }
    if (conf->twenty.url != NULL && conf->twenty.url[0] != '\0') {
        mask |= RELAY_SINK_BIT(RELAY_SINK_TWENTY);
    }
    return mask;
}

static void *init_thread(const struct mg_context *ctx, int thread_type)
{
    (void)ctx;
    return thread_type == 1 ? http_ingress_thread_create() : NULL;
}

static void exit_thread(const struct mg_context *ctx, int thread_type, void *thread_pointer)
{
    (void)ctx;
    if (thread_type == 1) {
        http_ingress_thread_destroy(thread_pointer);
    }
}

static int log_message(const struct mg_connection *conn, const char *message)
{
    (void)conn;
    log_warn("civetweb: %s", message);
    return 1;
}

static int send_simple(struct mg_connection *conn, struct http_ingress_thread *t,
                       const struct http_answer *a)
{
    struct relay_buf scratch;
    relay_buf_init(&scratch);
    (void)http_answer_send(conn, a, t != NULL ? &t->out : &scratch);
    relay_buf_fini(&scratch);
    return a->status;
}

static int serve_readyz(struct mg_connection *conn, const struct http_server *s,
                        struct http_ingress_thread *t)
{
    struct relay_error err = {0};
    struct queue *q = http_ingress_queue_get(&s->ingress, t, &err);
    struct http_answer a = {.status = 200, .state = "ready"};
    if (q == NULL || queue_ping(q, &err) != 0) {
        a = (struct http_answer){.status = 503, .state = "error", .reason = err.msg};
        log_warn("readyz: redis: %s", err.msg);
    }
    return send_simple(conn, t, &a);
}

/* The process-local metrics, then the Redis numbers read with this
 * thread's own queue handle (a Redis failure renders redis_up 0). */
static int serve_metrics(struct mg_connection *conn, const struct http_server *s,
                         struct http_ingress_thread *t)
{
    struct relay_error err = {0};
    relay_buf_reset(&t->out);
    struct queue *q = http_ingress_queue_get(&s->ingress, t, &err);
    int rc = metrics_render(&t->out);
    if (rc == 0) {
        rc = metrics_redis_render(q, s->ingress.enabled_mask, &t->out, &err);
        if (rc == 0 && err.code != RELAY_OK) {
            log_warn("metrics: redis: %s", err.msg);
        }
    }
    if (rc != 0) {
        struct http_answer a = {.status = 503, .state = "error", .reason = "out of memory"};
        return send_simple(conn, t, &a);
    }
    mg_printf(conn,
              "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
              "Content-Length: %zu\r\n\r\n",
              t->out.len);
    mg_write(conn, t->out.data, t->out.len);
    return 200;
}

static bool is_method(const struct mg_request_info *ri, const char *method)
{
    return strcmp(ri->request_method, method) == 0;
}

/* The route table: exact paths; a known path with the wrong method is 405. */
static int route(struct mg_connection *conn, const struct http_server *s,
                 struct http_ingress_thread *t, const struct mg_request_info *ri)
{
    const char *path = ri->local_uri != NULL ? ri->local_uri : "";
    bool has_body = ri->content_length > 0 || mg_get_header(conn, "Transfer-Encoding") != NULL;
    struct http_answer a = {
        .status = 405, .state = "error", .reason = "method not allowed", .should_close = has_body};
    int source = -1;
    if (strcmp(path, "/v1/webhooks/twenty") == 0) {
        source = RELAY_SOURCE_TWENTY;
    } else if (strcmp(path, "/v1/webhooks/supabase") == 0) {
        source = RELAY_SOURCE_SUPABASE;
    }
    if (source >= 0) {
        if (!is_method(ri, "POST")) {
            a.allow = "POST";
            return send_simple(conn, t, &a);
        }
        return http_ingress_handle(conn, &s->ingress, t, (enum relay_source)source);
    }
    bool is_get = is_method(ri, "GET");
    a.allow = "GET";
    if (strcmp(path, "/healthz") == 0) {
        struct http_answer ok = {.status = 200, .state = "ok"};
        return send_simple(conn, t, is_get ? &ok : &a);
    }
    if (strcmp(path, "/readyz") == 0) {
        return is_get ? serve_readyz(conn, s, t) : send_simple(conn, t, &a);
    }
    if (strcmp(path, "/metrics") == 0) {
        return is_get ? serve_metrics(conn, s, t) : send_simple(conn, t, &a);
    }
    a = (struct http_answer){
        .status = 404, .state = "error", .reason = "no such route", .should_close = has_body};
    return send_simple(conn, t, &a);
}

static enum metrics_route metrics_route_of(const char *path)
{
    if (strcmp(path, "/v1/webhooks/twenty") == 0) {
        return METRICS_ROUTE_TWENTY;
    }
    if (strcmp(path, "/v1/webhooks/supabase") == 0) {
        return METRICS_ROUTE_SUPABASE;
    }
    if (strcmp(path, "/healthz") == 0) {
        return METRICS_ROUTE_HEALTHZ;
    }
    if (strcmp(path, "/readyz") == 0) {
        return METRICS_ROUTE_READYZ;
    }
    return strcmp(path, "/metrics") == 0 ? METRICS_ROUTE_METRICS : METRICS_ROUTE_OTHER;
}

/* A short id for every request, put in the log context of the thread
 * while it handles the request: 4 hex digits that differ per process
 * (several instances may log to one place; set by http_server_start
 * before civetweb's threads exist) and a per-process counter. */
static unsigned request_prefix;
static _Atomic unsigned long request_counter;

static void set_request_prefix(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    request_prefix = ((unsigned)getpid() * 2654435761u ^ (unsigned)ts.tv_nsec) & 0xffffu;
}

static void set_request_id(void)
{
    unsigned long n = atomic_fetch_add_explicit(&request_counter, 1, memory_order_relaxed) + 1;
    char id[32];
    snprintf(id, sizeof(id), "%04x%06lx", request_prefix, n & 0xfffffful);
    log_set_context("req", id);
}

static int handle_request(struct mg_connection *conn, void *cbdata)
{
    const struct http_server *s = cbdata;
    const struct mg_request_info *ri = mg_get_request_info(conn);
    struct http_ingress_thread *t = mg_get_thread_pointer(conn);
    if (t == NULL) {
        struct http_answer a = {
            .status = 503, .state = "error", .reason = "out of memory", .should_close = true};
        return send_simple(conn, NULL, &a);
    }
    set_request_id();
    int status = route(conn, s, t, ri);
    log_set_context(NULL, NULL);
    const char *path = ri->local_uri != NULL ? ri->local_uri : "";
    enum metrics_route r = metrics_route_of(path);
    /* http_ingress_handle counts the webhook POSTs it handled itself. */
    bool counted =
        (r == METRICS_ROUTE_TWENTY || r == METRICS_ROUTE_SUPABASE) && is_method(ri, "POST");
    if (!counted) {
        metrics_http_request(r, status);
    }
    return status;
}

/* "a:1,b:2" -> "a:1s,b:2s" for TLS (civetweb's listening_ports syntax). */
static int listen_ports(const char *listen, bool tls, char *out, size_t cap,
                        struct relay_error *err)
{
    size_t pos = 0;
    const char *p = listen;
    while (*p != '\0') {
        size_t n = strcspn(p, ",");
        bool marked = n > 0 && (p[n - 1] == 's' || p[n - 1] == 'r');
        int w = snprintf(out + pos, cap - pos, "%s%.*s%s", pos > 0 ? "," : "", (int)n, p,
                         tls && !marked ? "s" : "");
        if (w < 0 || (size_t)w >= cap - pos) {
            return relay_error_set(err, RELAY_ECONFIG, "http.listen: too long");
        }
        pos += (size_t)w;
        p += n;
        p += *p == ',';
    }
    if (pos == 0) {
        return relay_error_set(err, RELAY_ECONFIG, "http.listen: empty");
    }
    return 0;
}

static struct webhook_auth *auth_from_config(const struct relay_config *conf,
                                             struct relay_error *err)
{
    struct webhook_auth_conf ac = {
        .twenty_secret = conf->twenty.secret,
        .twenty_allow_unsigned = conf->twenty.allow_unsigned,
        .timestamp_window_s = conf->twenty.timestamp_window_s,
        .supabase_secret = conf->supabase.secret,
        .supabase_header = conf->supabase.secret_header,
        .standard_secret = conf->supabase.standard_webhook_secret,
    };
    struct webhook_auth *auth = webhook_auth_create(&ac, err);
    if (auth != NULL && !webhook_auth_supabase_configured(auth)) {
        log_warn("supabase.secret is empty: every Supabase webhook will be refused (401)");
    }
    return auth;
}

static int start_civetweb(struct http_server *s, const struct relay_config *conf,
                          struct relay_error *err)
{
    const struct config_http *h = &conf->http;
    char ports[LISTEN_MAX], threads[16], timeout[16], queue_len[16];
    if (listen_ports(h->listen != NULL ? h->listen : "", s->has_tls, ports, sizeof(ports), err) !=
        0) {
        return -1;
    }
    snprintf(threads, sizeof(threads), "%u", h->threads > 0 ? h->threads : 8);
    snprintf(timeout, sizeof(timeout), "%u",
             h->request_timeout_ms > 0 ? h->request_timeout_ms : 5000);
    snprintf(queue_len, sizeof(queue_len), "%u", h->max_connections > 0 ? h->max_connections : 256);
    const char *options[] = {
        "listening_ports",
        ports,
        "num_threads",
        threads,
        "request_timeout_ms",
        timeout,
        "connection_queue",
        queue_len,
        "listen_backlog",
        queue_len,
        "enable_keep_alive",
        "yes",
        "tcp_nodelay",
        "1",
        "decode_url",
        "yes",
        s->has_tls ? "ssl_certificate" : NULL,
        h->tls_cert,
        NULL,
    };
    struct mg_callbacks callbacks = {
        .init_thread = init_thread,
        .exit_thread = exit_thread,
        .log_message = log_message,
    };
    char text[256] = "";
    unsigned code = 0;
    struct mg_error_data error = {.code = &code, .text = text, .text_buffer_size = sizeof(text)};
    struct mg_init_data init = {
        .callbacks = &callbacks, .user_data = s, .configuration_options = options};
    s->ctx = mg_start2(&init, &error);
    if (s->ctx == NULL) {
        return relay_error_set(err, RELAY_EIO, "http: cannot start on %s: %s", ports,
                               text[0] != '\0' ? text : "unknown civetweb error");
    }
    mg_set_request_handler(s->ctx, "/", handle_request, s);
    log_info("listening on %s (%s threads%s)", ports, threads, s->has_tls ? ", TLS" : "");
    return 0;
}

struct http_server *http_server_start(const struct relay_config *conf,
                                      const struct mapping *mapping, const struct queue_conf *qconf,
                                      struct relay_error *err)
{
    struct http_server *s = relay_calloc(1, sizeof(*s));
    if (s == NULL) {
        relay_error_set(err, RELAY_ENOMEM, "out of memory");
        return NULL;
    }
    set_request_prefix();
    s->has_tls = conf->http.tls_cert != NULL && conf->http.tls_cert[0] != '\0';
    if (s->has_tls && mg_check_feature(MG_FEATURES_TLS) == 0) {
        relay_error_set(err, RELAY_ECONFIG,
                        "http.tls_cert: this civetweb was built without TLS support");
        goto fail;
    }
    s->auth = auth_from_config(conf, err);
    if (s->auth == NULL) {
        goto fail;
    }
    s->ingress = (struct http_ingress){
        .group = queue_group_start(qconf, err),
        .mapping = mapping,
        .auth = s->auth,
        .qconf = qconf,
        .enabled_mask = http_server_enabled_sinks(conf),
        .body_limit_bytes =
            conf->http.body_limit_bytes > 0 ? conf->http.body_limit_bytes : 1048576u,
    };
    if (s->ingress.group == NULL) {
        goto fail;
    }
    unsigned features = mg_init_library(s->has_tls ? MG_FEATURES_TLS : 0);
    if (s->has_tls && (features & MG_FEATURES_TLS) == 0) {
        mg_exit_library();
        relay_error_set(err, RELAY_ECONFIG,
                        "http.tls_cert: civetweb could not initialise TLS (Debian's civetweb "
                        "1.15 cannot load OpenSSL 3); leave http.tls_cert empty and terminate "
                        "TLS in a reverse proxy (nginx, caddy) in front of syncrelay");
        goto fail;
    }
    if (start_civetweb(s, conf, err) != 0) {
        mg_exit_library();
        goto fail;
    }
    return s;
fail:
    queue_group_stop(s->ingress.group);
    webhook_auth_destroy(s->auth);
    relay_free(s);
    return NULL;
}

void http_server_stop(struct http_server *s)
{
    if (s == NULL) {
        return;
    }
    mg_stop(s->ctx);
    mg_exit_library();
    queue_group_stop(s->ingress.group); /* after civetweb: no request is left to queue */
    webhook_auth_destroy(s->auth);
    relay_free(s);
}
