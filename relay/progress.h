/* Progress of a long command (push) on stderr: on a terminal one line
 * redrawn in place with a bar, the count, the rate and the ETA; otherwise
 * plain lines, at most one per PROGRESS_PLAIN_INTERVAL_MS, so a log file
 * stays readable. Not thread-safe: one owner. */
#ifndef RELAY_RELAY_PROGRESS_H
#define RELAY_RELAY_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define PROGRESS_TTY_INTERVAL_MS 100
#define PROGRESS_PLAIN_INTERVAL_MS 2000

struct progress;

/* out is borrowed (stderr usually); label is copied ("sqlite").
 * is_tty chooses the redrawn bar. NULL on ENOMEM. */
struct progress *progress_create(FILE *out, const char *label, bool is_tty);
void progress_destroy(struct progress *p); /* NULL is a no-op */

/* Total expected (for percent and ETA); negative: unknown. done_before
 * is what an earlier, resumed run already did (not counted in the rate). */
void progress_set_total(struct progress *p, long long total, unsigned long long done_before);

/* Reports done so far; draws when the interval has passed. */
void progress_update(struct progress *p, unsigned long long done);

/* Draws the final state (and ends the terminal line). */
void progress_finish(struct progress *p, unsigned long long done);

/* Pure: formats one progress line into out (always NUL-terminated).
 * total < 0: unknown (no bar, percent or ETA). elapsed_s is the time of
 * this run and done_now what it did; with_bar adds a 20-cell bar. */
void progress_format(char *out, size_t len, const char *label, unsigned long long done,
                     long long total, unsigned long long done_now, double elapsed_s, bool with_bar);

#endif
