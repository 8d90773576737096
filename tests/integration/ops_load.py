#!/usr/bin/env python3
"""Bounded webhook load for the ops scale-out scenario (Python 3 stdlib).

  ops_load.py SECRET FIXTURE FIRST COUNT OUT URL [URL...]

Posts COUNT signed Twenty webhooks, each a distinct person (record.id
ends in FIRST, FIRST+1, ...; built from the FIXTURE body), round robin over
the instances' base URLs, one request at a time. Appends one line per
request to OUT: "<http status or 0 when the connection failed> <record id>
<event id or ->". Never raises for a refused connection: an instance may
have been killed.
"""
import hashlib
import hmac
import json
import sys
import time
import urllib.error
import urllib.request


def record_id(n):
    return "00000000-0000-4000-8000-%012d" % n


def post(url, secret, body):
    ts = str(int(time.time() * 1000))
    sig = hmac.new(secret.encode(), ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    req = urllib.request.Request(
        url + "/v1/webhooks/twenty",
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-Twenty-Webhook-Timestamp": ts,
            "X-Twenty-Webhook-Signature": sig,
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, {}
    except (urllib.error.URLError, OSError):
        return 0, {}


def main(argv):
    if len(argv) < 7:
        print(__doc__, file=sys.stderr)
        return 2
    secret, fixture, first, count, out, urls = (
        argv[1], argv[2], int(argv[3]), int(argv[4]), argv[5], argv[6:])
    template = json.load(open(fixture, encoding="utf-8"))
    with open(out, "a", encoding="utf-8") as f:
        for i in range(count):
            n = first + i
            doc = json.loads(json.dumps(template))
            doc["record"]["id"] = record_id(n)
            doc["record"]["jobTitle"] = "Load %d" % n
            body = json.dumps(doc, separators=(",", ":")).encode()
            status, answer = post(urls[i % len(urls)], secret, body)
            f.write("%d %s %s\n" % (status, record_id(n), answer.get("id", "-")))
            f.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
