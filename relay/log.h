/* Logging: one line per message on stderr, logfmt or JSON lines.
 * Each .c defines LOG_COMPONENT before including this header. The macros
 * check the level before evaluating their arguments and rate-limit each
 * call site (at most LOG_BURST lines per second; the next line that gets
 * through says how many were suppressed). Thread-safe. */
#ifndef RELAY_RELAY_LOG_H
#define RELAY_RELAY_LOG_H

#include "relay/error.h"

#include <stdatomic.h>
#include <stdbool.h>

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };
enum log_format { LOG_FORMAT_LOGFMT = 0, LOG_FORMAT_JSON };

#define LOG_BURST 20

/* Per call site state; lives in a static inside each macro expansion. */
struct log_site {
    _Atomic long second;     /* the second the current window started */
    _Atomic int count;       /* lines let through in that window */
    _Atomic long suppressed; /* lines dropped since the last one let through */
};

extern _Atomic int log_current_level;

/* Sets level and format; call before threads start. */
void log_setup(enum log_level level, enum log_format format);
/* Parses "error|warn|info|debug" / "logfmt|json"; -1 when unknown. */
int log_level_parse(const char *s);
int log_format_parse(const char *s);

/* Per-thread context added to every line (request or event id); NULL clears.
 * The string is copied. */
void log_set_context(const char *key, const char *value);
/* Adds one more key/value to this thread's context (after the one
 * log_set_context set; a key already present gets the new value), up to
 * LOG_CTX_PAIRS in all; more are ignored. log_set_context(NULL...) clears
 * every pair. The strings are copied. */
void log_add_context(const char *key, const char *value);
#define LOG_CTX_PAIRS 3

void log_write(struct log_site *site, enum log_level level, const char *component,
               const char *fmt, ...) RELAY_PRINTF(4, 5);

#define LOG_AT(level, ...)                                                                         \
    do {                                                                                           \
        if ((int)(level) <= atomic_load_explicit(&log_current_level, memory_order_relaxed)) {      \
            static struct log_site log_site_;                                                      \
            log_write(&log_site_, (level), LOG_COMPONENT, __VA_ARGS__);                            \
        }                                                                                          \
    } while (0)

#define log_error(...) LOG_AT(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) LOG_AT(LOG_WARN, __VA_ARGS__)
#define log_info(...) LOG_AT(LOG_INFO, __VA_ARGS__)
#define log_debug(...) LOG_AT(LOG_DEBUG, __VA_ARGS__)

#endif
