#!/usr/bin/env python3
"""Request material for tests/bench/ingest.lua, built from the shared fixtures.

  ingest_gen.py FIXTURES OUT_DIR TWENTY_SECRET TWENTY_COUNT THREADS

Writes OUT_DIR/supabase.template: the Supabase insert fixture with the record
id, contact_id and updated_at replaced by @ID@, @CONTACT@ and @TS@ (wrk fills
them per request, so every request is a new contact at a new version), and
OUT_DIR/twenty.N (N = 1..THREADS): pre-signed Twenty person.created requests,
each with a fresh record id and updatedAt and a fresh signing timestamp, as
lines "TIMESTAMP SIGNATURE BODY" (a body never contains a newline).
"""
import hashlib
import hmac
import json
import sys
import time
import uuid


def supabase_template(fixtures):
    d = json.load(open(fixtures + "/supabase/contacts.insert.json"))
    d["record"]["id"] = "@ID@"
    d["record"]["contact_id"] = "@CONTACT@"
    d["record"]["updated_at"] = "@TS@"
    return json.dumps(d, ensure_ascii=False, separators=(", ", ": "))


def twenty_requests(fixtures, secret, count):
    d = json.load(open(fixtures + "/twenty/person.created.json"))
    now_ms = str(int(time.time() * 1000))
    key = secret.encode()
    for i in range(count):
        rid = str(uuid.uuid4())
        d["record"]["id"] = rid
        d["record"]["updatedAt"] = "2025-07-%02dT%02d:%02d:%02d.%03dZ" % (
            1 + i // 3600000 % 28, i // 360000 % 24, i // 6000 % 60, i // 100 % 60, i % 1000)
        body = json.dumps(d, ensure_ascii=False, separators=(",", ":")).encode()
        sig = hmac.new(key, now_ms.encode() + b":" + body, hashlib.sha256).hexdigest()
        yield b"%s %s %s\n" % (now_ms.encode(), sig.encode(), body)


def main(argv):
    if len(argv) != 6:
        sys.stderr.write(__doc__)
        return 2
    fixtures, out, secret, count, threads = argv[1], argv[2], argv[3], int(argv[4]), int(argv[5])
    with open(out + "/supabase.template", "w", encoding="utf-8") as f:
        f.write(supabase_template(fixtures))
    files = [open("%s/twenty.%d" % (out, n + 1), "wb") for n in range(threads)]
    for i, line in enumerate(twenty_requests(fixtures, secret, count)):
        files[i % threads].write(line)
    for f in files:
        f.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
