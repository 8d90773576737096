"""Helpers for the delivery scenarios: envelopes, RESP for redis-cli --pipe,
and the expected rows of contact.md's field-level rule. Python 3 stdlib."""
import hashlib
import json
import sys
from datetime import datetime, timezone

TS = {"created_at", "updated_at", "deleted_at", "llm_updated_at"}
JSON_COLS = {"social_network", "tags", "llm_context", "ai_insights",
             "communication_stats", "emails", "phones", "sync_metadata", "extra"}


def envelope(e):
    e.update({"v": 1, "object": "contact", "attempts": 0,
              "received_at": "2025-10-01T00:00:00.000000Z"})
    e.pop("quarantined", None)
    e.pop("delivery", None)
    return json.dumps(e, separators=(",", ":"), ensure_ascii=False)


def make(source, contact, version, fields, changed, op="upsert"):
    eid = hashlib.sha256(f"{source}|{contact}|{op}|{version}".encode()).hexdigest()[:16]
    return envelope({"id": eid, "source": source, "op": op, "contact_id": contact,
                     "record_id": contact, "version": version,
                     "fields": json.loads(fields),
                     "changed": [c for c in changed.split(",") if c]})


def resp(key, lines):
    out = []
    for line in lines:
        line = line.rstrip("\n")
        if not line:
            continue
        parts = [b"LPUSH", key.encode(), line.encode()]
        out.append(b"*3\r\n" + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts))
    sys.stdout.buffer.write(b"".join(out))


def canon_ts(v):
    if v is None:
        return None
    d = datetime.fromisoformat(v.replace("Z", "+00:00")).astimezone(timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def expected(events):
    """Field-level last-writer-wins, applied oldest first."""
    rows = {}
    for e in sorted(events, key=lambda e: e["version"]):
        fields = {k: v for k, v in e["fields"].items() if k not in ("sync_metadata", "contact_id")}
        changed = [f for f in e["changed"] if f in fields]
        r = rows.get(e["contact_id"])
        if r is None:
            r = rows[e["contact_id"]] = {"fields": dict(fields), "versions": {}, "extra": {}}
            for f in changed:
                r["versions"][f] = e["version"]
        else:
            for f in changed:
                if r["versions"].get(f) is None or r["versions"][f] <= e["version"]:
                    r["fields"][f] = fields[f]
                    r["versions"][f] = e["version"]
            for f in ("twenty_id", "supabase_id"):
                if fields.get(f) is not None:
                    r["fields"][f] = fields[f]
        for src, val in (e.get("extra") or {}).items():
            r["extra"][src] = val
            r["versions"]["extra:" + src] = e["version"]
    return rows


def load_pg(path):
    rows = {}
    for line in open(path):
        if line.strip():
            r = json.loads(line)
            r["supabase_id"] = r.pop("id")
            rows[r["contact_id"]] = r
    return rows


def load_lite(path):
    text = open(path).read().strip()
    rows = {}
    for r in (json.loads(text) if text else []):
        for c in JSON_COLS:
            if r.get(c) is not None:
                r[c] = json.loads(r[c])
        rows[r["contact_id"]] = r
    return rows


def norm(field, v):
    if field in TS:
        return canon_ts(v)
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def compare(name, exp, got):
    bad = []
    if set(exp) != set(got):
        bad.append(f"{name}: contacts {sorted(exp)} != {sorted(got)}")
    for cid, r in exp.items():
        row = got.get(cid)
        if row is None:
            continue
        for f, v in r["fields"].items():
            if norm(f, v) != norm(f, row.get(f)):
                bad.append(f"{name} {cid} {f}: expected {v!r}, got {row.get(f)!r}")
        versions = (row.get("sync_metadata") or {}).get("versions", {})
        if versions != r["versions"]:
            bad.append(f"{name} {cid} versions: expected {r['versions']}, got {versions}")
        if (row.get("extra") or {}) != r["extra"]:
            bad.append(f"{name} {cid} extra differs")
    return bad


def main():
    cmd = sys.argv[1]
    if cmd == "envelope":
        print(envelope(json.load(sys.stdin)))
    elif cmd == "make":
        print(make(*sys.argv[2:]))
    elif cmd == "resp":
        resp(sys.argv[2], sys.stdin)
    elif cmd == "check":
        events = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
        exp = expected(events)
        bad = compare("postgres", exp, load_pg(sys.argv[3]))
        bad += compare("sqlite", exp, load_lite(sys.argv[4]))
        for b in bad:
            print(b, file=sys.stderr)
        sys.exit(1 if bad else 0)
    elif cmd == "snapshot":
        pg = load_pg(sys.argv[2])
        for r in pg.values():
            r.pop("supabase_id")
            for f in TS:
                r[f] = canon_ts(r.get(f))
        print(json.dumps({"postgres": pg, "sqlite": load_lite(sys.argv[3])}, sort_keys=True, indent=1))
    elif cmd == "dead":
        for line in sys.stdin:
            d = json.loads(line)
            err = d.get("error", {})
            who = d.get("contact_id", "raw" if "raw" in d else "?")
            print(who, err.get("class"), err.get("code"), err.get("message"))


if __name__ == "__main__":
    main()
