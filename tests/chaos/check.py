#!/usr/bin/env python3
"""Compares what the load generator got accepted with what every sink holds.

  check.py --log LOADLOG [--log ...] --sinks postgres,sqlite,bigquery
           --redis-port P --prefix PFX [--pg-url URL] [--sqlite FILE]
           [--bq BASE] [--allow-loss SINK,...|all] [--mark NAME=UNIX_S ...]
           [--json OUT]

An accepted event is a 202 answer with an `id`. Routing: Twenty events go
to postgres, sqlite and bigquery; Supabase events to sqlite and bigquery
(the Twenty sink is off in these runs). Per sink and accepted event:
  landed  Postgres/SQLite: the contact's row has the event's job_title at
          its version, or a newer job_title version (the version rule: a
          later accepted change of the same contact supersedes it), and a
          `new` event's own fields (last_name / full_name) are in the row;
          BigQuery: the fake recorded the event id as an insertId.
  dead    the event id is in P:dead:SINK.
  lost    neither (when a lost event is still in a queue, retry set or
          in-flight list, the key is printed: stuck, not gone).
Prints one line per sink:
  SINK accepted=N landed=N dead=N lost=N
and, when lost > 0, the loss window (first/last accept time of a lost
event, also relative to each --mark). Also prints the answers seen and the
redeliveries answered 202 (a dedupe miss). Exit 1 when a sink not in
--allow-loss lost an event (or a dead letter appeared), else 0.
"""
import argparse
import json
import sqlite3
import subprocess
import sys
import time
import urllib.request

ROUTES = {"twenty": ["postgres", "sqlite", "bigquery"], "supabase": ["sqlite", "bigquery"]}


def load_logs(paths):
    events = []
    for p in paths:
        with open(p) as f:
            events.extend(json.loads(line) for line in f if line.strip())
    return events


def pg_rows(url):
    sql = ("SELECT json_build_object('c', contact_id, 'jt', job_title, 'ln', last_name, "
           "'fn', full_name, 'v', sync_metadata->'versions'->>'job_title') FROM contacts")
    out = subprocess.run(["psql", url, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                          "-c", sql], check=True, capture_output=True, text=True).stdout
    rows = {}
    for line in out.splitlines():
        if line.strip():
            r = json.loads(line)
            rows[r["c"]] = r
    return rows


def sqlite_rows(path):
    db = sqlite3.connect(path, timeout=10)
    rows = {}
    for c, jt, ln, fn, meta in db.execute(
            "SELECT contact_id, job_title, last_name, full_name, sync_metadata FROM contacts"):
        v = None
        if meta:
            try:
                v = (json.loads(meta).get("versions") or {}).get("job_title")
            except ValueError:
                v = None
        rows[c] = {"c": c, "jt": jt, "ln": ln, "fn": fn, "v": v}
    db.close()
    return rows


def bq_ids(base):
    with urllib.request.urlopen(base + "/_rows", timeout=30) as r:
        d = json.load(r)
    return {row["insertId"] for row in d["rows"]}, d["stats"]


def dead_ids(port, prefix, sink):
    out = subprocess.run(["redis-cli", "-p", str(port), "--raw", "LRANGE",
                          "%s:dead:%s" % (prefix, sink), "0", "-1"],
                         check=True, capture_output=True, text=True).stdout
    ids, errors = set(), {}
    for line in out.splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            continue
        ids.add(e.get("id"))
        err = e.get("error") or {}
        key = "%s/%s" % (err.get("class"), err.get("code"))
        errors[key] = errors.get(key, 0) + 1
    return ids, errors


def pending_ids(port, prefix, sink):
    """id -> key for every event still queued, in flight or waiting to be
    retried for sink (lost so far, but not gone from Redis)."""
    def cli(*args):
        return subprocess.run(["redis-cli", "-p", str(port), "--raw"] + list(args),
                              check=True, capture_output=True, text=True).stdout.splitlines()
    found = {}
    keys = ["%s:q:%s" % (prefix, sink)] + cli("--scan", "--pattern",
                                               "%s:inflight:%s:*" % (prefix, sink))
    for key in keys:
        for line in cli("LRANGE", key, "0", "-1"):
            try:
                found[json.loads(line).get("id")] = key
            except ValueError:
                pass
    for line in cli("ZRANGE", "%s:retry:%s" % (prefix, sink), "0", "-1"):
        try:
            found[json.loads(line).get("id")] = "%s:retry:%s" % (prefix, sink)
        except ValueError:
            pass
    return found


def row_landed(ev, row):
    if row is None:
        return False
    if ev["kind"] == "new":
        own = ("ln", ev["_last_name"]) if ev["source"] == "twenty" else ("fn", ev["_full_name"])
        if row.get(own[0]) != own[1]:
            return False
    v = row.get("v")
    if v is None:
        return False
    return v > ev["version"] or (v == ev["version"] and row.get("jt") == ev["job_title"])


def fmt_ts(t):
    return time.strftime("%H:%M:%S", time.localtime(t)) + ".%03d" % int((t % 1) * 1000)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--log", action="append", required=True)
    p.add_argument("--sinks", required=True)
    p.add_argument("--redis-port", type=int, required=True)
    p.add_argument("--prefix", required=True)
    p.add_argument("--pg-url")
    p.add_argument("--sqlite")
    p.add_argument("--bq")
    p.add_argument("--allow-loss", default="")
    p.add_argument("--mark", action="append", default=[])
    p.add_argument("--json")
    a = p.parse_args()
    sinks = [s for s in a.sinks.split(",") if s]
    allow = set(a.allow_loss.split(",")) if a.allow_loss else set()
    marks = [(m.split("=", 1)[0], float(m.split("=", 1)[1])) for m in a.mark]

    events = load_logs(a.log)
    accepted = [e for e in events if e["status"] == 202 and e.get("id")]
    tag_of = {}
    for e in accepted:
        if e["kind"] == "new":
            tag, i = e["job_title"].split(" ")[1:3]
            e["_last_name"] = "%s %s" % (tag, i)
            e["_full_name"] = "Chaos %s %s" % (tag, i)
        tag_of[e["id"]] = e

    answers = {}
    for e in events:
        key = "%s:%s" % (e["status"] or "noanswer", e["answer"] or "-")
        answers[key] = answers.get(key, 0) + 1
    redeliver_202 = sum(1 for e in events if e["kind"] == "redeliver" and e["status"] == 202)
    print("answers: " + " ".join("%s=%d" % kv for kv in sorted(answers.items())) +
          " redelivered_and_accepted_again=%d" % redeliver_202)

    bad = False
    report = {}
    for sink in sinks:
        mine = [e for e in accepted if sink in ROUTES[e["source"]]]
        dead, dead_err = dead_ids(a.redis_port, a.prefix, sink)
        if sink == "postgres":
            rows = pg_rows(a.pg_url)
            is_landed = lambda e: row_landed(e, rows.get(e["contact"]))
        elif sink == "sqlite":
            rows = sqlite_rows(a.sqlite)
            is_landed = lambda e: row_landed(e, rows.get(e["contact"]))
        elif sink == "bigquery":
            ids, stats = bq_ids(a.bq)
            is_landed = lambda e: e["id"] in ids
        else:
            sys.exit("check: unknown sink %s" % sink)
        landed = ndead = 0
        lost = []
        for e in mine:
            if is_landed(e):
                landed += 1
            elif e["id"] in dead:
                ndead += 1
            else:
                lost.append(e)
        line = "%s accepted=%d landed=%d dead=%d lost=%d" % (sink, len(mine), landed, ndead,
                                                              len(lost))
        print(line)
        report[sink] = {"accepted": len(mine), "landed": landed, "dead": ndead,
                        "lost": len(lost), "dead_errors": dead_err}
        if dead_err:
            print("  %s dead letters by error: %s" % (sink, json.dumps(dead_err)))
        if sink == "bigquery":
            print("  bigquery fake: rows_stored=%d rows_deduped=%d failures_served=%d" % (
                stats["rows_stored"], stats["rows_deduped"], stats["failures_served"]))
        if lost:
            t0 = min(e["t_done"] for e in lost)
            t1 = max(e["t_done"] for e in lost)
            rel = "".join(" (%s%+.3fs .. %+.3fs)" % (n, t0 - t, t1 - t) for n, t in marks)
            print("  %s loss window: %d accepted events lost, accepted %s .. %s%s" % (
                sink, len(lost), fmt_ts(t0), fmt_ts(t1), rel))
            pend = pending_ids(a.redis_port, a.prefix, sink)
            stuck = {}
            for e in lost:
                if e["id"] in pend:
                    stuck[pend[e["id"]]] = stuck.get(pend[e["id"]], 0) + 1
            if stuck:
                print("  %s lost events still in Redis (stuck, not gone): %s" % (
                    sink, " ".join("%s=%d" % kv for kv in sorted(stuck.items()))))
            report[sink]["stuck"] = stuck
            for e in lost[:5]:
                print("    lost: id=%s %s %s %s %s" % (e["id"], e["source"], e["kind"],
                                                    e["contact"], e["version"]))
            report[sink]["window"] = [t0, t1]
            if sink not in allow and "all" not in allow:
                bad = True
        if ndead and sink not in allow and "all" not in allow:
            bad = True
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"answers": answers, "redeliver_202": redeliver_202, "sinks": report}, f)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
