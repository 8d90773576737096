#!/usr/bin/env python3
"""Bounded webhook load for the chaos scenarios and the latency bench.

Posts signed Twenty `person.*` webhooks and Supabase `contacts` webhooks to
a syncrelay receiver on loopback at a fixed rate (request i is due at
t0 + i/rate), for at most --count requests and --duration seconds, from
--threads threads with keep-alive connections. The mix:
  new        a fresh contact (Twenty person.created / Supabase INSERT)
  update     a newer version of a contact accepted earlier (job_title changes)
  redeliver  the exact body of an earlier accepted request, re-signed
             (Twenty and Supabase never retry, but a proxy might: expected
             answer 200 duplicate)
Every answer is recorded, one JSON object per line in --out:
  {"i", "kind", "source", "contact", "version" (canonical), "job_title",
   "t_send", "t_done" (Unix s, float), "status" (HTTP, 0 = no answer),
   "answer" (the answer's status word), "id" (202's event id), "error"}
Prints a one-line summary on stderr. Only loopback URLs are accepted.

Usage: loadgen.py --url http://127.0.0.1:PORT --out FILE [--rate R]
         [--count N] [--duration S] [--threads T] [--twenty-share F]
         [--update-share F] [--redeliver-share F] [--twenty-secret S]
         [--supabase-secret S] [--fixtures DIR] [--tag TAG] [--seed N]
"""
import argparse
import copy
import hashlib
import hmac
import http.client
import json
import random
import sys
import threading
import time
import urllib.parse
import uuid


def canonical_ms(ms):
    """Unix ms -> (canonical version, Twenty form, Supabase form)."""
    sec, frac = divmod(ms, 1000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
    return ("%s.%03d000Z" % (base, frac), "%s.%03dZ" % (base, frac),
            "%s.%03d+00:00" % (base, frac))


class Generator:
    """Builds request bodies; remembers accepted contacts (under `lock`)."""

    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.rng = random.Random(args.seed)
        fx = args.fixtures
        self.twenty_tpl = json.load(open(fx + "/twenty/person.created.json"))
        self.supa_tpl = json.load(open(fx + "/supabase/contacts.insert.json"))
        self.accepted = []  # contacts: {"source", "contact", "body", "last_ms"}
        self.bodies = []    # accepted request bodies (bytes, source) to redeliver
        self.last_ms = 0

    def next_ms(self, after=0):
        """A version strictly after `after` and after the last one handed out
        (one clock for all contacts keeps versions unique and increasing)."""
        ms = max(int(time.time() * 1000), after + 1, self.last_ms + 1)
        self.last_ms = ms
        return ms

    def build(self, i):
        """Returns (kind, source, contact, version, job_title, body, ref) for
        request i; ref is the contact state to remember on 202."""
        a = self.args
        with self.lock:
            r = self.rng.random()
            kind = "new"
            if r < a.redeliver_share and self.bodies:
                kind = "redeliver"
            elif r < a.redeliver_share + a.update_share and self.accepted:
                kind = "update"
            if kind == "redeliver":
                body, source, contact, version, title = self.rng.choice(self.bodies)
                return kind, source, contact, version, title, body, None
            if kind == "update":
                ref = self.rng.choice(self.accepted)
                ms = self.next_ms(ref["last_ms"])
                ref["last_ms"] = ms
                source = ref["source"]
            else:
                source = "twenty" if self.rng.random() < a.twenty_share else "supabase"
                ms = self.next_ms()
                ref = None
        title = "JT %s %d" % (a.tag, i)
        version, v_twenty, v_supa = canonical_ms(ms)
        if source == "twenty":
            body, contact, state = self.twenty_body(i, kind, ref, title, v_twenty)
        else:
            body, contact, state = self.supabase_body(i, kind, ref, title, v_supa)
        if ref is None:
            ref = {"source": source, "contact": contact, "last_ms": ms}
        ref_update = (ref, state)
        return kind, source, contact, version, title, body, ref_update

    def twenty_body(self, i, kind, ref, title, version):
        if kind == "new":
            rec = copy.deepcopy(self.twenty_tpl["record"])
            rec["id"] = str(uuid.uuid4())
            rec["name"] = {"firstName": "Chaos", "lastName": "%s %d" % (self.args.tag, i)}
            rec["emails"] = {"primaryEmail": "c%d.%s@example.org" % (i, self.args.tag),
                             "additionalEmails": []}
            rec["createdAt"] = version
            event = "person.created"
        else:
            rec = copy.deepcopy(ref["state"])
            event = "person.updated"
        rec["jobTitle"] = title
        rec["updatedAt"] = version
        d = dict(self.twenty_tpl)
        d["eventName"] = event
        d["eventDate"] = version
        d["record"] = rec
        if kind == "update":
            d["updatedFields"] = ["jobTitle"]
        body = json.dumps(d, separators=(",", ":")).encode()
        return body, rec["id"], rec

    def supabase_body(self, i, kind, ref, title, version):
        if kind == "new":
            rec = copy.deepcopy(self.supa_tpl["record"])
            rec["id"] = str(uuid.uuid4())
            rec["contact_id"] = "CH-%s-%06d" % (self.args.tag, i)
            rec["full_name"] = "Chaos %s %d" % (self.args.tag, i)
            rec["emails"] = ["s%d.%s@example.org" % (i, self.args.tag)]
            rec["created_at"] = version
            old, typ = None, "INSERT"
        else:
            old = ref["state"]
            rec = copy.deepcopy(old)
            typ = "UPDATE"
        rec["job_title"] = title
        rec["updated_at"] = version
        d = {"type": typ, "table": "contacts", "record": rec, "schema": "public",
             "old_record": old}
        body = json.dumps(d, ensure_ascii=False, separators=(", ", ": ")).encode()
        return body, rec["contact_id"], rec

    def remember(self, ref_update, source, contact, version, title, body):
        ref, state = ref_update
        with self.lock:
            fresh = "state" not in ref
            ref["state"] = state
            if fresh:
                self.accepted.append(ref)
            self.bodies.append((body, source, contact, version, title))


class Sender:
    """One keep-alive connection; reconnects after any error."""

    def __init__(self, host, port, timeout):
        self.host, self.port, self.timeout = host, port, timeout
        self.conn = None

    def post(self, path, body, headers):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            self.conn.request("POST", path, body, headers)
            resp = self.conn.getresponse()
            data = resp.read()
            if resp.getheader("Connection", "").lower() == "close":
                self.close()
            return resp.status, data, None
        except (OSError, http.client.HTTPException) as e:
            self.close()
            return 0, b"", "%s: %s" % (type(e).__name__, e)

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def headers_for(args, source, body):
    h = {"Content-Type": "application/json"}
    if source == "twenty":
        ts = str(int(time.time() * 1000))
        sig = hmac.new(args.twenty_secret.encode(), ts.encode() + b":" + body,
                       hashlib.sha256).hexdigest()
        h["X-Twenty-Webhook-Timestamp"] = ts
        h["X-Twenty-Webhook-Signature"] = sig
    else:
        h["X-Syncrelay-Secret"] = args.supabase_secret
    return h


def worker(args, gen, sched, results):
    u = urllib.parse.urlsplit(args.url)
    sender = Sender(u.hostname, u.port, args.timeout)
    while True:
        with sched["lock"]:
            i = sched["next"]
            sched["next"] += 1
        due = sched["t0"] + i / args.rate
        if i >= args.count or due - sched["t0"] >= args.duration:
            break
        delay = due - time.time()
        if delay > 0:
            time.sleep(delay)
        kind, source, contact, version, title, body, ref = gen.build(i)
        path = "/v1/webhooks/" + source
        t_send = time.time()
        status, data, error = sender.post(path, body, headers_for(args, source, body))
        t_done = time.time()
        answer, eid = "", None
        try:
            a = json.loads(data) if data else {}
            answer, eid = a.get("status", ""), a.get("id")
        except ValueError:
            answer = "unparsable"
        if status == 202 and kind != "redeliver":
            gen.remember(ref, source, contact, version, title, body)
        results.append({"i": i, "kind": kind, "source": source, "contact": contact,
                        "version": version, "job_title": title, "t_send": t_send,
                        "t_due": due, "t_done": t_done, "status": status, "answer": answer,
                        "id": eid if status == 202 else None, "error": error})
    sender.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--url", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--rate", type=float, default=200.0)
    p.add_argument("--count", type=int, default=2000)
    p.add_argument("--duration", type=float, default=20.0)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--timeout", type=float, default=5.0)
    p.add_argument("--twenty-share", type=float, default=0.5)
    p.add_argument("--update-share", type=float, default=0.15)
    p.add_argument("--redeliver-share", type=float, default=0.05)
    p.add_argument("--twenty-secret", default="twenty-webhook-secret")
    p.add_argument("--supabase-secret", default="supabase-test-secret")
    p.add_argument("--fixtures", default="/work/shared/fixtures")
    p.add_argument("--tag", default="run")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    host = urllib.parse.urlsplit(args.url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("loadgen: loopback only, not %s" % host)
    if args.duration > 600 or args.count > 200000:
        sys.exit("loadgen: keep runs bounded (<= 600 s, <= 200000 requests)")
    gen = Generator(args)
    results = []
    sched = {"lock": threading.Lock(), "next": 0, "t0": time.time() + 0.05}
    threads = [threading.Thread(target=worker, args=(args, gen, sched, results))
               for _ in range(args.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results.sort(key=lambda r: r["i"])
    with open(args.out, "w") as f:
        for r in results:
            f.write(json.dumps(r) + "\n")
    n = len(results)
    by = {}
    for r in results:
        key = "%s" % r["status"] if r["status"] else "noanswer(%s)" % r["error"].split(":")[0]
        by[key] = by.get(key, 0) + 1
    span = (results[-1]["t_send"] - results[0]["t_send"]) if n > 1 else 0
    lag = sorted(r["t_send"] - r["t_due"] for r in results)
    lag99 = lag[int(0.99 * (n - 1))] * 1000 if n else 0
    sys.stderr.write("loadgen: sent=%d in %.1fs (%.0f/s) %s pacing_lag_p99=%.1fms\n" % (
        n, span, (n - 1) / span if span else 0,
        " ".join("%s=%d" % kv for kv in sorted(by.items())), lag99))
    return 0


if __name__ == "__main__":
    sys.exit(main())
