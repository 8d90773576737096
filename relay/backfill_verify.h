/* `syncrelay verify` (and `push --verify`): read one contact, or every
 * contact, from every enabled system (Postgres, SQLite, BigQuery, Twenty),
 * map each copy to canonical and compare them field by field with the
 * rules of backfill_compare.h. A contact that some systems hold and others
 * do not is a difference too ("missing"). */
#ifndef RELAY_RELAY_BACKFILL_VERIFY_H
#define RELAY_RELAY_BACKFILL_VERIFY_H

#include "relay/error.h"

#include <stdbool.h>
#include <stdio.h>

struct relay_config;
struct mapping;

#define BACKFILL_VERIFY_AGREE 0
#define BACKFILL_VERIFY_DIFFER 1

/* Compares contact_id's copies and prints a field-by-field table (or, with
 * is_json, one JSON object) on out. Returns BACKFILL_VERIFY_AGREE,
 * BACKFILL_VERIFY_DIFFER (a field differs, the contact is missing
 * somewhere, or no system holds it), or -1 with err when a system cannot
 * be read. */
int backfill_verify_one(const struct relay_config *conf, const struct mapping *m,
                        const char *contact_id, bool is_json, FILE *out, struct relay_error *err);

/* Scans every contact of every enabled system (each system is read whole,
 * keyset paged, and held in memory while comparing) and prints the number
 * of contacts per differing field and per system missing them, with a few
 * example contact ids. Same results as backfill_verify_one. */
int backfill_verify_all(const struct relay_config *conf, const struct mapping *m, bool is_json,
                        FILE *out, struct relay_error *err);

#endif
