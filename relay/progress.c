/* Progress lines (progress.h). */
#include "relay/progress.h"
#include "relay/mem.h"

#include <stdint.h>
#include <string.h>
#include <time.h>

#define PROGRESS_BAR_CELLS 20

struct progress {
    FILE *out;
    char label[32];
    bool is_tty;
    long long total;
    unsigned long long done_before;
    int64_t start_ms;
    int64_t last_draw_ms; /* -1: never drawn */
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct progress *progress_create(FILE *out, const char *label, bool is_tty)
{
    struct progress *p = relay_calloc(1, sizeof(*p));
    if (p == NULL) {
        return NULL;
    }
    p->out = out;
    snprintf(p->label, sizeof(p->label), "%s", label);
    p->is_tty = is_tty;
    p->total = -1;
    p->start_ms = mono_ms();
    p->last_draw_ms = -1;
    return p;
}

void progress_destroy(struct progress *p)
{
    relay_free(p);
}

void progress_set_total(struct progress *p, long long total, unsigned long long done_before)
{
    p->total = total;
    p->done_before = done_before;
}

/* "12s", "3m05s", "1h02m". */
static void format_duration(char *out, size_t len, double s)
{
    unsigned long long t = s < 0 ? 0 : (unsigned long long)(s + 0.5);
    if (t < 60) {
        snprintf(out, len, "%llus", t);
    } else if (t < 3600) {
        snprintf(out, len, "%llum%02llus", t / 60, t % 60);
    } else {
        snprintf(out, len, "%lluh%02llum", t / 3600, (t % 3600) / 60);
    }
}

static void format_bar(char *out, size_t len, unsigned long long done, long long total)
{
    char cells[PROGRESS_BAR_CELLS + 1];
    unsigned long long full = total > 0 ? done * PROGRESS_BAR_CELLS / (unsigned long long)total : 0;
    if (full > PROGRESS_BAR_CELLS) {
        full = PROGRESS_BAR_CELLS;
    }
    for (size_t i = 0; i < PROGRESS_BAR_CELLS; i++) {
        cells[i] = i < full ? '#' : '.';
    }
    cells[PROGRESS_BAR_CELLS] = '\0';
    snprintf(out, len, "[%s] ", cells);
}

void progress_format(char *out, size_t len, const char *label, unsigned long long done,
                     long long total, unsigned long long done_now, double elapsed_s, bool with_bar)
{
    char bar[PROGRESS_BAR_CELLS + 4] = "";
    char count[64];
    char eta[48] = "";
    double rate = elapsed_s > 0 ? (double)done_now / elapsed_s : 0;
    if (total >= 0) {
        unsigned long long pct = total > 0 ? done * 100 / (unsigned long long)total : 100;
        snprintf(count, sizeof(count), "%llu/%lld (%llu%%)", done, total, pct > 100 ? 100 : pct);
        if (with_bar) {
            format_bar(bar, sizeof(bar), done, total);
        }
        if (rate > 0 && (unsigned long long)total > done) {
            char d[24];
            format_duration(d, sizeof(d), (double)((unsigned long long)total - done) / rate);
            snprintf(eta, sizeof(eta), " ETA %s", d);
        }
    } else {
        snprintf(count, sizeof(count), "%llu", done);
    }
    snprintf(out, len, "push %s: %s%s %.0f/s%s", label, bar, count, rate, eta);
}

static void draw(struct progress *p, unsigned long long done, int64_t now, bool is_final)
{
    char line[256];
    unsigned long long done_now = done > p->done_before ? done - p->done_before : 0;
    progress_format(line, sizeof(line), p->label, done, p->total, done_now,
                    (double)(now - p->start_ms) / 1000.0, p->is_tty);
    if (p->is_tty) {
        fprintf(p->out, "\r\033[K%s%s", line, is_final ? "\n" : "");
    } else {
        fprintf(p->out, "%s\n", line);
    }
    fflush(p->out);
    p->last_draw_ms = now;
}

void progress_update(struct progress *p, unsigned long long done)
{
    int64_t now = mono_ms();
    int64_t interval = p->is_tty ? PROGRESS_TTY_INTERVAL_MS : PROGRESS_PLAIN_INTERVAL_MS;
    if (p->last_draw_ms < 0 || now - p->last_draw_ms >= interval) {
        draw(p, done, now, false);
    }
}

void progress_finish(struct progress *p, unsigned long long done)
{
    draw(p, done, mono_ms(), true);
}
