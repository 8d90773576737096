/* Line-oriented logger; see log.h. A line is formatted into a stack buffer
 * and written with one write(2), so lines from threads never interleave. */
#include "relay/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

_Atomic int log_current_level = LOG_INFO;
static enum log_format current_format = LOG_FORMAT_LOGFMT; /* set before threads start */

#define LOG_LINE_MAX 2048
#define LOG_CTX_MAX 80

static __thread char ctx_key[LOG_CTX_PAIRS][16];
static __thread char ctx_value[LOG_CTX_PAIRS][LOG_CTX_MAX];

void log_setup(enum log_level level, enum log_format format)
{
    atomic_store(&log_current_level, (int)level);
    current_format = format;
}

int log_level_parse(const char *s)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

int log_format_parse(const char *s)
{
    if (strcmp(s, "logfmt") == 0) {
        return LOG_FORMAT_LOGFMT;
    }
    if (strcmp(s, "json") == 0) {
        return LOG_FORMAT_JSON;
    }
    return -1;
}

void log_set_context(const char *key, const char *value)
{
    for (int i = 0; i < LOG_CTX_PAIRS; i++) {
        ctx_key[i][0] = '\0';
    }
    if (key != NULL && value != NULL) {
        log_add_context(key, value);
    }
}

void log_add_context(const char *key, const char *value)
{
    if (key == NULL || value == NULL) {
        return;
    }
    for (int i = 0; i < LOG_CTX_PAIRS; i++) {
        if (ctx_key[i][0] == '\0' || strcmp(ctx_key[i], key) == 0) {
            snprintf(ctx_key[i], sizeof(ctx_key[i]), "%s", key);
            snprintf(ctx_value[i], sizeof(ctx_value[i]), "%s", value);
            return;
        }
    }
}

/* Returns the number of suppressed lines to report, or -1 to drop this one. */
static long admit(struct log_site *site)
{
    long now = (long)time(NULL);
    long second = atomic_load(&site->second);
    if (second != now && atomic_compare_exchange_strong(&site->second, &second, now)) {
        atomic_store(&site->count, 0);
    }
    if (atomic_fetch_add(&site->count, 1) >= LOG_BURST) {
        atomic_fetch_add(&site->suppressed, 1);
        return -1;
    }
    return atomic_exchange(&site->suppressed, 0);
}

/* Appends s to out as a quoted string, escaping for JSON (also valid logfmt). */
static size_t append_quoted(char *out, size_t pos, size_t cap, const char *s)
{
    if (pos + 1 < cap) {
        out[pos++] = '"';
    }
    for (; *s != '\0' && pos + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[pos++] = '\\';
            out[pos++] = (char)c;
        } else if (c == '\n') {
            out[pos++] = '\\';
            out[pos++] = 'n';
        } else if (c < 0x20) {
            pos += (size_t)snprintf(out + pos, cap - pos, "\\u%04x", c);
        } else {
            out[pos++] = (char)c;
        }
    }
    if (pos + 1 < cap) {
        out[pos++] = '"';
    }
    return pos;
}

static size_t format_time(char *out, size_t cap)
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(out + n, cap - n, ".%03ldZ", (long)tv.tv_usec / 1000);
    return n;
}

static size_t add_field(char *line, size_t pos, const char *key, const char *value, bool first)
{
    size_t cap = LOG_LINE_MAX - 2;
    if (current_format == LOG_FORMAT_JSON) {
        pos += (size_t)snprintf(line + pos, cap - pos, "%s\"%s\":", first ? "{" : ",", key);
    } else {
        pos += (size_t)snprintf(line + pos, cap - pos, "%s%s=", first ? "" : " ", key);
    }
    if (pos >= cap) {
        return cap;
    }
    return append_quoted(line, pos, cap, value);
}

void log_write(struct log_site *site, enum log_level level, const char *component,
               const char *fmt, ...)
{
    static const char *const level_names[] = {"error", "warn", "info", "debug"};
    long suppressed = admit(site);
    if (suppressed < 0) {
        return;
    }
    char ts[40], msg[LOG_LINE_MAX / 2], line[LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    format_time(ts, sizeof(ts));
    size_t pos = add_field(line, 0, "ts", ts, true);
    pos = add_field(line, pos, "level", level_names[level], false);
    pos = add_field(line, pos, "component", component, false);
    for (int i = 0; i < LOG_CTX_PAIRS && ctx_key[i][0] != '\0'; i++) {
        pos = add_field(line, pos, ctx_key[i], ctx_value[i], false);
    }
    pos = add_field(line, pos, "msg", msg, false);
    if (suppressed > 0) {
        char n[32];
        snprintf(n, sizeof(n), "%ld", suppressed);
        pos = add_field(line, pos, "suppressed", n, false);
    }
    if (current_format == LOG_FORMAT_JSON && pos < LOG_LINE_MAX - 2) {
        line[pos++] = '}';
    }
    line[pos++] = '\n';
    ssize_t ignored = write(STDERR_FILENO, line, pos);
    (void)ignored;
}
