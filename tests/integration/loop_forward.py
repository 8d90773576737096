#!/usr/bin/python3
"""The loop test's stand-in for Supabase's pg_net: polls the recorder table
(deploy/sql/test_webhook_recorder.sql) and POSTs every recorded body, in
order of recording, to syncrelay's /v1/webhooks/supabase with the shared
secret; each row is marked forwarded once its answer came back.

Usage: loop_forward.py PG_URL RELAY_URL SECRET LOG [PAUSE_FILE]
  LOG gets one JSON line per forwarded body: {"id", "status", "answer",
  "type", "contact_id"}. While PAUSE_FILE exists nothing is forwarded (the
  test holds webhooks back to make two edits "at once"). SIGTERM stops it.
Python stdlib only: one long-lived psql child answers the queries.
"""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

END = "__loop_forward_end__"


class Psql:
    """A psql child that runs one statement at a time and returns its rows."""

    def __init__(self, url):
        self.proc = subprocess.Popen(
            ["psql", url, "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=0"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

    def rows(self, sql):
        self.proc.stdin.write(sql.rstrip().rstrip(";") + ";\n\\echo " + END + "\n")
        self.proc.stdin.flush()
        out = []
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            if line == END:
                return out
            if line:
                out.append(line.split("\t", 1))
        raise RuntimeError("psql exited")


def post(url, secret, body):
    req = urllib.request.Request(url, data=body.encode(), method="POST", headers={
        "Content-Type": "application/json", "X-Syncrelay-Secret": secret})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:  # pg_net's default is shorter
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError as e:
        return -1, str(e)


def main():
    pg_url, relay_url, secret, log_path = sys.argv[1:5]
    pause = sys.argv[5] if len(sys.argv) > 5 else None
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    db = Psql(pg_url)
    with open(log_path, "a", buffering=1) as log:
        while True:
            if pause and os.path.exists(pause):
                time.sleep(0.05)
                continue
            rows = db.rows("SELECT id, body FROM public.syncrelay_test_webhooks "
                           "WHERE NOT forwarded ORDER BY id LIMIT 50")
            for rid, body in rows:
                if pause and os.path.exists(pause):
                    break
                status, answer = post(relay_url, secret, body)
                doc = json.loads(body)
                rec = doc.get("record") or doc.get("old_record") or {}
                db.rows("UPDATE public.syncrelay_test_webhooks SET forwarded = true "
                        "WHERE id = %d" % int(rid))
                log.write(json.dumps({"id": int(rid), "status": status, "answer": answer,
                                      "type": doc.get("type"),
                                      "contact_id": rec.get("contact_id")}) + "\n")
            if not rows:
                time.sleep(0.1)


if __name__ == "__main__":
    sys.exit(main())
