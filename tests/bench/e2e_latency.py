#!/usr/bin/env python3
"""Webhook-to-row latency from a load log and Postgres commit timestamps.

  e2e_latency.py LOADLOG ARRIVALS RATE

LOADLOG: tests/chaos/loadgen.py's output (t_send, t_due per request).
ARRIVALS: "contact_id|commit_epoch_seconds" lines: when the transaction
that wrote each contact's row committed (pg_xact_commit_timestamp(xmin),
track_commit_timestamp = on), i.e. when the row became visible.
Prints `e2e p50=..ms p99=..ms rate=R/s n=N` (latency from the moment the
request was sent), then a detail line: the same from the due time (no
coordinated omission if the sender fell behind), the HTTP answer time,
the sender's pacing, and how many accepted events have no row.
Exit 1 when an accepted event has no row.
"""
import json
import sys


def pct(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(p / 100.0 * len(values) + 0.5)) - 1))
    return values[k]


def main(argv):
    if len(argv) != 4:
        sys.stderr.write(__doc__)
        return 2
    events = [json.loads(l) for l in open(argv[1]) if l.strip()]
    arrivals = {}
    for line in open(argv[2]):
        line = line.strip()
        if line:
            c, t = line.rsplit("|", 1)
            arrivals[c] = float(t)
    acc = [e for e in events if e["status"] == 202]
    lat_send, lat_due, answer = [], [], []
    missing = 0
    for e in acc:
        t = arrivals.get(e["contact"])
        if t is None:
            missing += 1
            continue
        lat_send.append((t - e["t_send"]) * 1000)
        lat_due.append((t - e["t_due"]) * 1000)
    for e in events:
        if e["status"]:
            answer.append((e["t_done"] - e["t_send"]) * 1000)
    span = max(e["t_send"] for e in events) - min(e["t_send"] for e in events)
    achieved = (len(events) - 1) / span if span > 0 else 0
    lag = [(e["t_send"] - e["t_due"]) * 1000 for e in events]
    print("e2e p50=%.1fms p99=%.1fms rate=%s/s n=%d" % (
        pct(lat_send, 50), pct(lat_send, 99), argv[3], len(lat_send)))
    print("  detail: from due time p50=%.1fms p99=%.1fms max=%.1fms; "
          "HTTP answer p50=%.1fms p99=%.1fms; sent %d in %.2fs (%.0f/s), "
          "pacing lag p99=%.1fms; not 202: %d; accepted without a row: %d" % (
              pct(lat_due, 50), pct(lat_due, 99), max(lat_due) if lat_due else float("nan"),
              pct(answer, 50), pct(answer, 99), len(events), span, achieved,
              pct(lag, 99), len(events) - len(acc), missing))
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
