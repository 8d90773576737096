#!/usr/bin/python3
"""Checks of the loop test (test_loop.sh): reads the four systems and the
relay's counters, waits for quiet, and judges each step.

  loop_check.py quiet                 until the relay is quiet (2 s without
                                      any movement, nothing queued), <= 25 s
  loop_check.py snap FILE             every counter and every contact -> FILE
  loop_check.py check STEP PREV CUR   judges STEP from two snapshots; prints
                                      one line per check, exit 1 on a failure
  loop_check.py show CID              the contact in every system (debugging)

Environment (set by loop_lib.sh): REDIS_PORT, PG_URL, LITE_DB, TWENTY_URL,
BQ_URL, BQ_PROJECT, SYNCRELAY_BIN, RELAY_FIXTURES, FWD_LOG, LOOP_A, LOOP_B.
Python stdlib only (Redis over a raw RESP socket, Postgres through psql).
"""
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from decimal import Decimal

SINKS = ("postgres", "sqlite", "bigquery", "twenty")
PREFIX = os.environ.get("LOOP_PREFIX", "syncrelay")
# The 30 canonical fields but sync_metadata (syncrelay's own bookkeeping).
FIELDS = ("contact_id twenty_id supabase_id full_name display_name name_prefix first_name "
          "middle_name last_name name_suffix nickname phonetic_name company job_title "
          "department relationship_type relationship_strength social_network tags "
          "created_at updated_at deleted_at llm_summary llm_context ai_insights "
          "communication_stats llm_updated_at emails phones").split()
TIMESTAMPS = {"created_at", "updated_at", "deleted_at", "llm_updated_at"}
JSON_TEXT = {"social_network", "tags", "llm_context", "ai_insights", "communication_stats",
             "emails", "phones", "sync_metadata", "extra"}
# Twenty's system keys are never written by syncrelay (contact.md, Values):
# its createdAt/updatedAt are Twenty's own clock, its deletedAt the time
# Twenty deleted the person. They are compared as "deleted or not" only.
TWENTY_OWN_CLOCK = {"created_at", "updated_at", "deleted_at"}


# ------------------------------------------------------------------ access
def redis(*args):
    """One command over RESP; returns the decoded reply."""
    s = socket.create_connection(("127.0.0.1", int(os.environ["REDIS_PORT"])), timeout=5)
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    s.sendall(out)
    f = s.makefile("rb")

    def read():
        line = f.readline().rstrip(b"\r\n")
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b"-"):
            return rest.decode()
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = f.read(n + 2)[:-2]
            return data.decode()
        if kind == b"*":
            n = int(rest)
            return [read() for _ in range(max(n, 0))]
        raise RuntimeError("bad RESP reply %r" % line)

    try:
        return read()
    finally:
        s.close()


def psql(sql):
    env = dict(os.environ, PGTZ="UTC")
    out = subprocess.run(["psql", os.environ["PG_URL"], "-X", "-q", "-A", "-t", "-v",
                          "ON_ERROR_STOP=1", "-c", sql], env=env, check=True,
                         capture_output=True, text=True).stdout
    return [line for line in out.split("\n") if line]


def http_json(url, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers=headers or {},
                                 method="POST" if data is not None else "GET")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.load(resp)


# ------------------------------------------------------------------ values
TS_RE = re.compile(r"^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d(?::?\d\d)?)?$")


def canon_ts(v):
    """Any RFC 3339 / Postgres timestamp -> 2024-11-12T08:41:19.270000Z."""
    if v is None:
        return None
    import datetime
    m = TS_RE.match(v)
    if not m:
        return "BAD-TIMESTAMP:" + v
    day, clock, frac, off = m.groups()
    frac = ((frac or "") + "000000")[:6]
    dt = datetime.datetime.fromisoformat(day + "T" + clock)
    if off and off != "Z":
        sign = -1 if off[0] == "-" else 1
        hh, mm = int(off[1:3]), int(off[-2:]) if len(off) > 3 else 0
        dt -= sign * datetime.timedelta(hours=hh, minutes=mm)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + frac + "Z"


def canon(fields):
    out = {}
    for f in FIELDS:
        v = fields.get(f)
        if f in TIMESTAMPS:
            v = canon_ts(v)
        if f in ("tags", "emails", "phones") and v is None:
            v = []  # the team's decision: a null text[] is []
        out[f] = v
    return out


def bq_ts(cell):
    """BigQuery REST TIMESTAMP cell (epoch seconds, maybe 1.7E9) -> canonical."""
    import datetime
    us = int(Decimal(cell) * 1000000)
    dt = datetime.datetime(1970, 1, 1) + datetime.timedelta(microseconds=us)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ------------------------------------------------------------------ systems
def pg_contacts():
    rows = psql("SELECT row_to_json(c) FROM contacts c")
    out = {}
    for line in rows:
        r = json.loads(line)
        r["supabase_id"] = r.pop("id")
        out[r["contact_id"]] = canon(r)
    return out


def lite_contacts():
    db = sqlite3.connect("file:%s?mode=ro" % os.environ["LITE_DB"], uri=True, timeout=5)
    db.row_factory = sqlite3.Row
    out = {}
    for row in db.execute("SELECT * FROM contacts"):
        r = dict(row)
        for k in JSON_TEXT:
            if r.get(k) is not None:
                r[k] = json.loads(r[k])
        out[r["contact_id"]] = canon(r)
    db.close()
    return out


def bq_contacts():
    """The `contacts` view, as jobs.query answers it (token from the fake's
    metadata endpoint, which issues the same bearer tokens)."""
    base = os.environ["BQ_URL"]
    req = urllib.request.Request(
        base + "/computeMetadata/v1/instance/service-accounts/default/token",
        headers={"Metadata-Flavor": "Google"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        token = json.load(resp)["access_token"]
    ans = http_json("%s/bigquery/v2/projects/%s/queries" % (base, os.environ["BQ_PROJECT"]),
                    {"query": "SELECT * FROM `%s.crm.contacts` ORDER BY contact_id"
                     % os.environ["BQ_PROJECT"], "useLegacySql": False},
                    {"Authorization": "Bearer " + token})
    if not ans.get("jobComplete"):
        raise RuntimeError("fake BigQuery job not complete")
    schema = ans["schema"]["fields"]
    out = {}
    for row in ans.get("rows", []):
        r = {}
        for col, cell in zip(schema, row["f"]):
            v = cell["v"]
            if col["mode"] == "REPEATED":
                v = [x["v"] for x in v]
            elif v is not None and col["type"] == "TIMESTAMP":
                v = bq_ts(v)
            elif v is not None and col["type"] in ("FLOAT", "FLOAT64"):
                v = float(v)
            elif v is not None and col["type"] == "JSON":
                v = json.loads(v)
            r[col["name"]] = v
        out[r["contact_id"]] = canon(r)
    return out


def bq_rows():
    return http_json(os.environ["BQ_URL"] + "/_rows")


def twenty_state():
    base = os.environ["TWENTY_URL"] + "/_control/"
    return (http_json(base + "records")["records"], http_json(base + "stats"),
            http_json(base + "webhooks"))


def twenty_contacts(records):
    """Each Twenty record through syncrelay's own Twenty mapping (`syncrelay
    transform --from twenty`), wrapped as a person.updated webhook."""
    with open(os.path.join(os.environ["RELAY_FIXTURES"], "twenty", "person.updated.json")) as f:
        shell = json.load(f)
    out = {}
    for rec in records:
        body = dict(shell, record=rec, updatedFields=["jobTitle"])
        res = subprocess.run([os.environ["SYNCRELAY_BIN"], "transform", "--from", "twenty",
                              "--to", "canonical"], input=json.dumps(body),
                             capture_output=True, text=True)
        if res.returncode != 0:
            raise RuntimeError("transform of twenty record %s: %s" % (rec["id"], res.stderr))
        fields = json.loads(res.stdout)["fields"]
        fields.setdefault("twenty_id", rec["id"])
        c = canon(fields)
        c["_raw"] = rec
        out[fields.get("contact_id") or rec["id"]] = c
    return out


def pg_writes():
    """Per contact: (all writes by the syncrelay writer, data-changing ones)."""
    out = {}
    for line in psql("SELECT contact_id, count(*), count(*) FILTER (WHERE cardinality(changed) > 0) "
                     "FROM loop_pg_writes WHERE writer GROUP BY contact_id"):
        cid, n, data = line.split("|")
        out[cid] = [int(n), int(data)]
    return out


def lite_writes():
    db = sqlite3.connect("file:%s?mode=ro" % os.environ["LITE_DB"], uri=True, timeout=5)
    out = {cid: [n, data] for cid, n, data in db.execute(
        "SELECT contact_id, count(*), sum(data) FROM loop_lite_writes GROUP BY contact_id")}
    db.close()
    return out


def queue_depth():
    n = 0
    for s in SINKS:
        n += redis("LLEN", "%s:q:%s" % (PREFIX, s)) + redis("ZCARD", "%s:retry:%s" % (PREFIX, s))
    for key in redis("KEYS", PREFIX + ":inflight:*"):
        n += redis("LLEN", key)
    return n


def stats():
    flat = redis("HGETALL", PREFIX + ":stats") or []
    return {flat[i]: int(flat[i + 1]) for i in range(0, len(flat), 2)}


def forwarded():
    try:
        with open(os.environ["FWD_LOG"]) as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


# ------------------------------------------------------------------ quiet
def activity():
    """(busy, signature): busy while anything is queued or unsent."""
    unsent = int(psql("SELECT count(*) FROM syncrelay_test_webhooks WHERE NOT forwarded")[0])
    _, tstats, hooks = twenty_state()
    depth = queue_depth()
    sig = json.dumps([stats(), depth, unsent, len(forwarded()), tstats["requests"],
                      len(hooks["sent"]), hooks["pending"], bq_rows()["stats"]["rows_stored"]],
                     sort_keys=True)
    pause = os.environ.get("FWD_PAUSE")
    held = unsent if pause and os.path.exists(pause) else 0
    return depth > 0 or unsent > held or hooks["pending"] > 0, sig


def cmd_quiet():
    start = time.time()
    last_sig, since = None, time.time()
    while time.time() - start < 25:
        busy, sig = activity()
        if busy or sig != last_sig:
            last_sig, since = sig, time.time()
        elif time.time() - since >= 2.0:
            print("quiet after %.1f s" % (time.time() - start))
            return 0
        time.sleep(0.1)
    print("FAIL: the relay never went quiet in 25 s (a loop?): %s" % last_sig)
    return 1


# ------------------------------------------------------------------ snapshot
def snapshot():
    records, tstats, hooks = twenty_state()
    rows = bq_rows()
    per_bq = {}
    for r in rows["rows"]:
        per_bq[r["json"]["contact_id"]] = per_bq.get(r["json"]["contact_id"], 0) + 1
    return {
        "stats": stats(), "depth": queue_depth(),
        "dead": {s: redis("LLEN", "%s:dead:%s" % (PREFIX, s)) for s in SINKS},
        "twenty_writes": tstats["writes"], "twenty_requests": tstats["requests"],
        "twenty_log": [[l["method"], l["path"], l["status"]] for l in tstats["log"]],
        "twenty_sent": [[h["event"], h["status"], h["body"]["record"].get("contactId")]
                        for h in hooks["sent"]],
        "forwarded": forwarded(),
        "bq_rows": per_bq, "bq_changed": [[r["json"]["contact_id"], r["json"]["source"],
                                           r["json"]["op"], r["json"]["changed"]]
                                          for r in rows["rows"]],
        "pg_writes": pg_writes(), "lite_writes": lite_writes(),
        "contacts": {"postgres": pg_contacts(), "sqlite": lite_contacts(),
                     "bigquery": bq_contacts(),
                     "twenty": {k: {f: v for f, v in c.items() if f != "_raw"}
                                for k, c in twenty_contacts(records).items()}},
    }


# ------------------------------------------------------------------ checks
class Judge:
    def __init__(self, step):
        self.step, self.bad = step, 0

    def ok(self, cond, what, detail=""):
        print("%s [%s] %s%s" % ("ok  " if cond else "FAIL", self.step, what,
                                ("" if cond else ": " + detail)))
        self.bad += 0 if cond else 1


def delta(prev, cur, path, key):
    return cur[path].get(key, 0) - prev[path].get(key, 0)


def per_contact(prev, cur, path, cid, idx=None):
    a, b = prev[path].get(cid, 0), cur[path].get(cid, 0)
    if idx is not None:
        a = a[idx] if a else 0
        b = b[idx] if b else 0
    return b - a


def agree(j, cur, cid, deleted=False, pg_absent=False, expect=None):
    """The contact is the same, field by field, in the four systems."""
    sysc = {s: cur["contacts"][s].get(cid) for s in SINKS}
    for s in SINKS:
        if s == "postgres" and pg_absent:
            j.ok(sysc[s] is None, "%s has no row for %s (deleted there)" % (s, cid),
                 "row is back: deleted_at=%s" % (sysc[s] or {}).get("deleted_at"))
            continue
        j.ok(sysc[s] is not None, "%s holds %s" % (s, cid))
    ref_sys = "sqlite" if pg_absent else "postgres"
    ref = sysc[ref_sys]
    if ref is None:
        return
    for s in SINKS:
        c = sysc[s]
        if s == ref_sys or c is None or (s == "postgres" and pg_absent):
            continue
        diffs = []
        for f in FIELDS:
            if s == "twenty" and f in TWENTY_OWN_CLOCK:
                if f == "deleted_at" and (c[f] is None) != (ref[f] is None):
                    diffs.append("deleted_at: %s=%r %s=%r" % (ref_sys, ref[f], s, c[f]))
                continue
            if s == "twenty" and deleted:
                continue  # Twenty does not update soft-deleted people (README: Differences from the spec)
            if c[f] != ref[f]:
                diffs.append("%s: %s=%r %s=%r" % (f, ref_sys, ref[f], s, c[f]))
        j.ok(not diffs, "%s agrees with %s on %s" % (s, ref_sys, cid), "; ".join(diffs))
    for f, v in (expect or {}).items():
        for s in SINKS:
            c = sysc[s]
            if c is None or (s == "twenty" and (deleted or f in TWENTY_OWN_CLOCK)) or \
                    (s == "postgres" and pg_absent):
                continue
            j.ok(c[f] == v, "%s %s.%s == %r" % (s, cid, f, v), "got %r" % (c[f],))
    if deleted:
        for s in SINKS:
            if sysc[s] is not None:
                j.ok(sysc[s]["deleted_at"] is not None, "%s: %s is deleted" % (s, cid),
                     "deleted_at is null")


def crossings(j, prev, cur, accepted, dropped, echo_min, delivered, twenty, pg, lite, bq):
    """Each change crossed each system exactly once, and nothing looped."""
    got = {k: delta(prev, cur, "stats", k) for k in ("accepted", "echo", "stale", "duplicate")}
    j.ok(got["accepted"] == accepted, "P:stats accepted +%d" % accepted, "got %s" % got)
    # Our own writes come back and must be dropped: as an echo (same
    # digest), as stale (its version is older than a field's: Postgres's
    # echo of a delete carries the row's older updated_at), or as a
    # duplicate (that echo's version, hence its event id, is the one of the
    # previous Supabase change of the row).
    j.ok(got["echo"] + got["stale"] + got["duplicate"] == dropped,
         "P:stats echo+stale+duplicate +%d" % dropped, "got %s" % got)
    j.ok(got["echo"] >= echo_min, "P:stats echo moved (>= +%d)" % echo_min, "got %s" % got)
    for s in SINKS:
        got = delta(prev, cur, "stats", "delivered:" + s)
        j.ok(got == delivered.get(s, 0), "delivered:%s +%d" % (s, delivered.get(s, 0)),
             "got +%d" % got)
    for s in SINKS:
        for c in ("retried:", "dead:"):
            got = delta(prev, cur, "stats", c + s)
            j.ok(got == 0, "%s%s +0 (nothing re-queued)" % (c, s), "got +%d" % got)
    j.ok(cur["depth"] == 0, "every queue empty", "depth %d" % cur["depth"])
    tw = {k: cur["twenty_writes"].get(k, 0) - prev["twenty_writes"].get(k, 0)
          for k in set(cur["twenty_writes"]) | set(prev["twenty_writes"])}
    tw = {k: v for k, v in tw.items() if v}
    j.ok(tw == twenty, "twenty writes %s" % twenty, "got %s; log: %s" % (
        tw, cur["twenty_log"][len(prev["twenty_log"]):]))
    # A sink may merge two events of one contact taken in one batch into one
    # write (delivered:SINK above still counts events exactly): fewer writes
    # than events is fine, more is a change crossing twice.
    for cid, want in pg.items():
        got = per_contact(prev, cur, "pg_writes", cid, 0)
        j.ok(min(want, 1) <= got <= want,
             "postgres: %s write(s) of %s by syncrelay" % (want if want < 2 else "1..%d" % want,
                                                          cid), "got %d" % got)
    for cid, want in lite.items():
        got = per_contact(prev, cur, "lite_writes", cid, 1)
        j.ok(min(want, 1) <= got <= want,
             "sqlite: %s data write(s) of %s" % (want if want < 2 else "1..%d" % want, cid),
             "got %d" % got)
    for cid, want in bq.items():
        got = per_contact(prev, cur, "bq_rows", cid)
        j.ok(got == want, "bigquery: %d row(s) for %s" % (want, cid), "got %d: %s" % (
            got, [r for r in cur["bq_changed"][len(prev["bq_changed"]):]]))
    fw = cur["forwarded"][len(prev["forwarded"]):]
    bad = [f for f in fw if f["status"] not in (200, 202)]
    j.ok(not bad, "every forwarded Supabase webhook answered 2xx", str(bad))
    sent = cur["twenty_sent"][len(prev["twenty_sent"]):]
    bad = [h for h in sent if h[1] not in (200, 202)]
    j.ok(not bad, "every Twenty webhook answered 2xx", str(bad))


def cmd_check(step, prev, cur):
    j = Judge(step)
    A, B = os.environ["LOOP_A"], os.environ.get("LOOP_B", "")
    if step == "1a":  # INSERT in Supabase; Twenty's create webhook links twenty_id
        crossings(j, prev, cur, accepted=2, dropped=1, echo_min=1,
                  delivered={"sqlite": 2, "bigquery": 2, "twenty": 1, "postgres": 1},
                  twenty={"create": 1, "created_records": 1}, pg={A: 1}, lite={A: 2},
                  bq={A: 2})
        agree(j, cur, A, expect={"job_title": "Buyer", "first_name": "Ana"})
        c = cur["contacts"]["postgres"].get(A) or {}
        j.ok(c.get("created_at") == os.environ.get("LOOP_A_CREATED"),
             "postgres created_at of %s is still the one inserted" % A,
             "inserted %s, now %s" % (os.environ.get("LOOP_A_CREATED"), c.get("created_at")))
    elif step == "1b":  # created in Twenty; Postgres's INSERT webhook links supabase_id
        crossings(j, prev, cur, accepted=2, dropped=1, echo_min=1,
                  delivered={"postgres": 1, "sqlite": 2, "bigquery": 2, "twenty": 1},
                  twenty={"update": 1}, pg={B: 1}, lite={B: 2}, bq={B: 2})
        agree(j, cur, B, expect={"first_name": "Bea", "job_title": "Partner"})
    elif step == "2":  # one field edited in Supabase
        crossings(j, prev, cur, accepted=1, dropped=1, echo_min=1,
                  delivered={"sqlite": 1, "bigquery": 1, "twenty": 1},
                  twenty={"update": 1}, pg={A: 0}, lite={A: 1}, bq={A: 1})
        agree(j, cur, A, expect={"job_title": "Head Buyer"})
    elif step == "3":  # one field edited in Twenty
        crossings(j, prev, cur, accepted=1, dropped=1, echo_min=1,
                  delivered={"postgres": 1, "sqlite": 1, "bigquery": 1},
                  twenty={}, pg={A: 1}, lite={A: 1}, bq={A: 1})
        agree(j, cur, A, expect={"nickname": "Annie"})
    elif step == "4":  # both at once, different fields
        # Postgres's echo is an echo or a duplicate (when the Supabase edit is
        # the newer one, the row's updated_at does not move): echo >= 1.
        crossings(j, prev, cur, accepted=2, dropped=2, echo_min=1,
                  delivered={"postgres": 1, "sqlite": 2, "bigquery": 2, "twenty": 1},
                  twenty={"update": 1}, pg={A: 1}, lite={A: 2}, bq={A: 2})
        agree(j, cur, A, expect={"company": "Acme Supa", "department": "Twenty Dept"})
    elif step == "5":  # both at once, same field: Twenty's edit is newer
        crossings(j, prev, cur, accepted=1, dropped=2, echo_min=1,
                  delivered={"postgres": 1, "sqlite": 1, "bigquery": 1},
                  twenty={}, pg={A: 1}, lite={A: 1}, bq={A: 1})
        agree(j, cur, A, expect={"job_title": "Twenty Title"})
    elif step == "6a":  # soft delete in Twenty, a late (older) Supabase update of A
        # The one write coming back (Postgres's deleted_at) keeps the row's
        # updated_at, so it shares the late update's event id: a duplicate.
        crossings(j, prev, cur, accepted=2, dropped=1, echo_min=0,
                  delivered={"postgres": 1, "sqlite": 2, "bigquery": 2, "twenty": 1},
                  twenty={"soft_delete": 1}, pg={A: 1}, lite={A: 2}, bq={A: 2})
        agree(j, cur, A, deleted=True, expect={"department": "Late Dept"})
        j.ok(cur["twenty_writes"].get("restore", 0) == 0, "twenty: nothing restored",
             str(cur["twenty_writes"]))
    elif step == "6b":  # DELETE in Supabase, then its older UPDATE arrives late
        crossings(j, prev, cur, accepted=2, dropped=1, echo_min=1,
                  delivered={"sqlite": 2, "bigquery": 2, "twenty": 2},
                  twenty={"soft_delete": 1}, pg={B: 0}, lite={B: 2}, bq={B: 2})
        agree(j, cur, B, deleted=True, pg_absent=True, expect={"job_title": "Late Title"})
        agree(j, cur, A, deleted=True)
        j.ok(cur["twenty_writes"].get("restore", 0) == 0, "twenty: nothing restored",
             str(cur["twenty_writes"]))
    else:
        print("unknown step " + step)
        return 2
    return 1 if j.bad else 0


def main(argv):
    if argv[1] == "quiet":
        return cmd_quiet()
    if argv[1] == "snap":
        with open(argv[2], "w") as f:
            json.dump(snapshot(), f, indent=1, sort_keys=True)
        return 0
    if argv[1] == "check":
        prev, cur = (json.load(open(p)) for p in argv[3:5])
        return cmd_check(argv[2], prev, cur)
    if argv[1] == "show":
        snap = snapshot()
        for s in SINKS:
            print(s, json.dumps(snap["contacts"][s].get(argv[2]), sort_keys=True))
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
