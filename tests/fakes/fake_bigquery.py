#!/usr/bin/python3
"""A fake BigQuery for syncrelay's tests: the OAuth token endpoint, the GCE
metadata token, tabledata.insertAll and jobs.query/getQueryResults on the
`contacts` view, as Google documents them, on loopback only.

Usage: fake_bigquery.py PORT --schema contacts_changes.schema.json
           [--pubkey PEM --kid KEY_ID --client-email EMAIL] [--expires-in SECONDS]
Prints "PORT <n>" on stdout once it listens (PORT 0 picks a free one).

Checks what the real service checks and the client could get wrong: the
JWT (RS256 signature against the key's public half, kid, iss, scope, aud,
iat, exp, grant_type), the bearer token (known, unexpired), the insertAll
body (shape, <= 500 rows, <= 10 MB), every row against the table schema
(types, JSON columns as strings holding JSON, REPEATED as arrays, no unknown
field since ignoreUnknownValues is false). One bad row fails the request:
it gets `invalid` and every other row `stopped`, and nothing is stored.
insertId dedupes (best-effort in BigQuery, always here).

Control: POST /_control with a JSON object, any of
  {"fail": 503, "count": 3}        next 3 insertAll answer 503 (429: rateLimitExceeded)
  {"hang": 5, "count": 1}          next insertAll sleeps 5 s, then drops the connection
  {"invalid_contacts": ["C-1"]}    rows of these contacts are `invalid`
  {"expires_in": 3}                lifetime of tokens issued from now on
  {"revoke_tokens": true}          every token issued so far answers 401
  {"token_uses": 5}                a token answers 401 after 5 insertAll calls (expiry
                                   mid-run without timing; 0: no limit)
  {"job_polls": 2}                 jobs.query answers jobComplete=false; 2 polls needed
  {"reset": true}                  forget rows, counters and failures
GET /_rows: {"rows": [{"insertId", "json"}...], "stats": {...}}.
"""
import argparse
import base64
import json
import re
import secrets
import signal
import sys
import threading
import time
import urllib.parse
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

SCOPE = "https://www.googleapis.com/auth/bigquery"
GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
MAX_ROWS = 500
MAX_BYTES = 10 * 1024 * 1024
TS_RE = re.compile(r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)?$")
INSERT_RE = re.compile(r"^/bigquery/v2/projects/([^/]+)/datasets/([^/]+)/tables/([^/]+)/insertAll$")
QUERY_RE = re.compile(r"^/bigquery/v2/projects/([^/]+)/queries$")
RESULTS_RE = re.compile(r"^/bigquery/v2/projects/([^/]+)/queries/([^/?]+)$")
METADATA_PATH = "/computeMetadata/v1/instance/service-accounts/default/token"
# The only query shapes syncrelay sends (bigquery_query.c).
SELECT_RE = re.compile(
    r"^SELECT \* FROM `([^`.]+)\.([^`.]+)\.contacts`"
    r"(?: WHERE contact_id = @contact_id)? ORDER BY contact_id$")


def b64url_decode(part):
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def ts_to_micros(s):
    s = s.replace(" ", "T")
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    if "+" not in s[10:] and "-" not in s[10:]:
        s += "+00:00"
    dt = datetime.fromisoformat(s)
    delta = dt - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86400 + delta.seconds) * 1000000 + delta.microseconds


def micros_to_bq_seconds(us):
    """BigQuery REST's TIMESTAMP cell: epoch seconds as a float string in
    scientific notation ("1.73140087927E9"), written exactly."""
    sign = "-" if us < 0 else ""
    us = abs(us)
    if us == 0:
        return "0.0E0"
    digits = str(us)
    exponent = len(digits) - 1 - 6
    mant = digits.rstrip("0")
    if len(mant) == 1:
        mant += "0"
    return "%s%s.%sE%d" % (sign, mant[0], mant[1:], exponent)


class State:
    """Everything the fake holds; `lock` guards all of it."""

    def __init__(self, schema, key, expires_in):
        self.lock = threading.Lock()
        self.schema = {c["name"]: c for c in schema}
        self.key = key  # {"kid", "client_email"} or None
        self.public_key = None
        if key is not None:
            self.public_key = serialization.load_pem_public_key(key["pem"])
        self.expires_in = expires_in
        self.reset()

    def reset(self):
        self.rows = []
        self.seen_ids = set()
        self.tokens = {}  # token -> expiry (time.time())
        self.token_uses = {}  # token -> insertAll calls made with it
        self.max_token_uses = 0
        self.stats = {"insert_requests": 0, "rows_stored": 0, "rows_deduped": 0,
                      "tokens_issued": 0, "rejected_tokens": 0, "failures_served": 0,
                      "hangs_served": 0, "invalid_rows": 0, "max_rows_per_request": 0,
                      "queries": 0, "polls": 0}
        self.fail = None  # [status, remaining]
        self.hang = None  # [seconds, remaining]
        self.invalid_contacts = set()
        self.job_polls = 0
        self.jobs = {}


STATE = None


def google_error(code, reason, message):
    status = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
              404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
              503: "UNAVAILABLE"}.get(code, "UNKNOWN")
    return {"error": {"code": code, "message": message, "status": status,
                      "errors": [{"reason": reason, "message": message, "domain": "global"}]}}


def check_value(col, value):
    """None when value fits the column, else a message like BigQuery's."""
    name, typ = col["name"], col["type"]
    if col.get("mode") == "REPEATED":
        if not isinstance(value, list):
            return "Value for repeated field %s is not an array" % name
        for item in value:
            if item is None:
                return "Null value in repeated field %s" % name
            msg = check_scalar(name, typ, item)
            if msg:
                return msg
        return None
    if value is None:
        if col.get("mode") == "REQUIRED":
            return "Missing required field: %s." % name
        return None
    return check_scalar(name, typ, value)


def check_scalar(name, typ, v):
    if typ == "STRING":
        ok = isinstance(v, str)
    elif typ in ("FLOAT", "FLOAT64"):
        ok = isinstance(v, (int, float)) and not isinstance(v, bool)
    elif typ in ("INTEGER", "INT64"):
        ok = isinstance(v, int) and not isinstance(v, bool)
    elif typ == "TIMESTAMP":
        ok = isinstance(v, str) and TS_RE.match(v) is not None
    elif typ == "JSON":
        if not isinstance(v, str):
            return "Cannot convert value to JSON: field %s must be a JSON-encoded string" % name
        try:
            json.loads(v)
            ok = True
        except ValueError:
            ok = False
    else:
        ok = False
    return None if ok else "Cannot convert value to %s: field %s" % (typ, name)


def check_row(row):
    if not isinstance(row, dict):
        return "", "Row is not a JSON object"
    for key in row:
        if key not in STATE.schema:
            return key, "no such field: %s." % key
    for name, col in STATE.schema.items():
        if name not in row:
            if col.get("mode") == "REQUIRED":
                return name, "Missing required field: %s." % name
            continue
        msg = check_value(col, row[name])
        if msg:
            return name, msg
    if row.get("contact_id") in STATE.invalid_contacts:
        return "contact_id", "Rejected by the test (invalid_contacts)"
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without TCP_NODELAY,
    # Nagle plus the client's delayed ACK adds ~40 ms to every answer.
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):  # quiet: the tests read /_rows
        pass

    def reply(self, code, obj):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    # ---------------------------------------------------------- routing
    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/_rows":
            with STATE.lock:
                return self.reply(200, {"rows": list(STATE.rows), "stats": dict(STATE.stats)})
        if url.path == METADATA_PATH:
            return self.metadata_token()
        m = RESULTS_RE.match(url.path)
        if m:
            return self.get_query_results(m.group(2), urllib.parse.parse_qs(url.query))
        self.reply(404, google_error(404, "notFound", "Not found: " + url.path))

    def do_POST(self):
        raw = self.body()
        path = urllib.parse.urlsplit(self.path).path
        if path == "/_control":
            return self.control(json.loads(raw))
        if path == "/token":
            return self.token(raw)
        m = INSERT_RE.match(path)
        if m:
            return self.insert_all(raw)
        m = QUERY_RE.match(path)
        if m:
            return self.query(m.group(1), raw)
        self.reply(404, google_error(404, "notFound", "Not found: " + path))

    # ---------------------------------------------------------- control
    def control(self, c):
        with STATE.lock:
            if c.get("reset"):
                STATE.reset()
            if "fail" in c:
                STATE.fail = [int(c["fail"]), int(c.get("count", 1))]
            if "hang" in c:
                STATE.hang = [float(c["hang"]), int(c.get("count", 1))]
            if "invalid_contacts" in c:
                STATE.invalid_contacts = set(c["invalid_contacts"])
            if "expires_in" in c:
                STATE.expires_in = int(c["expires_in"])
            if c.get("revoke_tokens"):
                STATE.tokens = {}
            if "token_uses" in c:
                STATE.max_token_uses = int(c["token_uses"])
            if "job_polls" in c:
                STATE.job_polls = int(c["job_polls"])
        self.reply(200, {"ok": True})

    # ---------------------------------------------------------- tokens
    def issue_token(self):
        with STATE.lock:
            token = "ya29.fake-" + secrets.token_hex(16)
            STATE.tokens[token] = time.time() + STATE.expires_in
            STATE.stats["tokens_issued"] += 1
            expires_in = STATE.expires_in
        self.reply(200, {"access_token": token, "expires_in": expires_in,
                         "token_type": "Bearer"})

    def token_error(self, why):
        self.reply(400, {"error": "invalid_grant", "error_description": why})

    def token(self, raw):
        if self.headers.get("Content-Type", "").split(";")[0] != \
                "application/x-www-form-urlencoded":
            return self.token_error("form body expected")
        form = urllib.parse.parse_qs(raw.decode(), strict_parsing=True)
        if form.get("grant_type") != [GRANT]:
            return self.token_error("bad grant_type")
        jwt = form.get("assertion", [""])[0]
        why = self.check_jwt(jwt)
        if why:
            return self.token_error(why)
        self.issue_token()

    def check_jwt(self, jwt):
        if STATE.public_key is None:
            return "no key configured"
        parts = jwt.split(".")
        if len(parts) != 3:
            return "JWT must have 3 parts"
        try:
            header = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
            sig = b64url_decode(parts[2])
        except ValueError:
            return "JWT parts are not base64url JSON"
        if header != {"alg": "RS256", "typ": "JWT", "kid": STATE.key["kid"]}:
            return "bad JWT header"
        try:
            STATE.public_key.verify(sig, (parts[0] + "." + parts[1]).encode(),
                                    padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return "Invalid JWT Signature."
        host = self.headers.get("Host", "")
        now = time.time()
        if claims.get("iss") != STATE.key["client_email"]:
            return "bad iss"
        if claims.get("scope") != SCOPE:
            return "bad scope"
        if claims.get("aud") != "http://%s/token" % host:
            return "bad aud"
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, int) or not isinstance(exp, int):
            return "iat/exp must be integers"
        if abs(iat - now) > 300 or exp != iat + 3600:
            return "Invalid JWT: Token must be a short-lived token (60 minutes)"
        return None

    def metadata_token(self):
        if self.headers.get("Metadata-Flavor") != "Google":
            return self.reply(403, {"error": "Metadata-Flavor: Google header missing"})
        self.issue_token()

    def bearer_ok(self, count_use=False):
        auth = self.headers.get("Authorization", "")
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else None
        with STATE.lock:
            expiry = STATE.tokens.get(token)
            uses = STATE.token_uses.get(token, 0)
            if expiry is None or expiry <= time.time() or \
                    (STATE.max_token_uses and uses >= STATE.max_token_uses):
                STATE.stats["rejected_tokens"] += 1
                return False
            if count_use:
                STATE.token_uses[token] = uses + 1
        return True

    # ---------------------------------------------------------- insertAll
    def injected_failure(self):
        """Applies a pending hang or failure; True when it answered."""
        with STATE.lock:
            hang = STATE.hang
            if hang and hang[1] > 0:
                hang[1] -= 1
                STATE.stats["hangs_served"] += 1
            else:
                hang = None
            fail = STATE.fail
            if not hang and fail and fail[1] > 0:
                fail[1] -= 1
                STATE.stats["failures_served"] += 1
            else:
                fail = None
        if hang:
            time.sleep(hang[0])
            self.close_connection = True
            return True
        if fail:
            reason = {429: "rateLimitExceeded", 500: "internalError",
                      503: "backendError"}.get(fail[0], "invalid")
            self.reply(fail[0], google_error(fail[0], reason, "injected by the test"))
            return True
        return False

    def insert_all(self, raw):
        if not self.bearer_ok(count_use=True):
            return self.reply(401, google_error(401, "authError",
                                                "Request had invalid authentication credentials."))
        with STATE.lock:
            STATE.stats["insert_requests"] += 1
        if self.injected_failure():
            return None
        if len(raw) > MAX_BYTES:
            return self.reply(400, google_error(400, "invalid", "Request payload size exceeds "
                                                "the limit: 10485760 bytes."))
        try:
            body = json.loads(raw)
        except ValueError:
            return self.reply(400, google_error(400, "parseError", "Parse error"))
        rows = body.get("rows") if isinstance(body, dict) else None
        if (not isinstance(rows, list) or not rows or body.get("skipInvalidRows") is not False
                or body.get("ignoreUnknownValues") is not False
                or set(body) - {"skipInvalidRows", "ignoreUnknownValues", "rows", "kind"}):
            return self.reply(400, google_error(400, "invalid", "Bad insertAll body shape"))
        if len(rows) > MAX_ROWS:
            return self.reply(400, google_error(400, "invalid", "too many rows: %d" % len(rows)))
        for r in rows:
            if not isinstance(r, dict) or set(r) != {"insertId", "json"} or \
                    not isinstance(r["insertId"], str):
                return self.reply(400, google_error(400, "invalid", "Bad row shape"))
        with STATE.lock:
            STATE.stats["max_rows_per_request"] = max(STATE.stats["max_rows_per_request"],
                                                      len(rows))
            errors = []
            for i, r in enumerate(rows):
                bad = check_row(r["json"])
                if bad:
                    errors.append((i, bad))
            if errors:
                STATE.stats["invalid_rows"] += len(errors)
                bad_index = {i: e for i, e in errors}
                out = []
                for i in range(len(rows)):
                    if i in bad_index:
                        loc, msg = bad_index[i]
                        out.append({"index": i, "errors": [
                            {"reason": "invalid", "location": loc, "debugInfo": "",
                             "message": msg}]})
                    else:
                        out.append({"index": i, "errors": [
                            {"reason": "stopped", "location": "", "debugInfo": "",
                             "message": ""}]})
                answer = {"kind": "bigquery#tableDataInsertAllResponse", "insertErrors": out}
            else:
                for r in rows:
                    if r["insertId"] in STATE.seen_ids:
                        STATE.stats["rows_deduped"] += 1
                        continue
                    STATE.seen_ids.add(r["insertId"])
                    STATE.rows.append(r)
                    STATE.stats["rows_stored"] += 1
                answer = {"kind": "bigquery#tableDataInsertAllResponse"}
        self.reply(200, answer)

    # ---------------------------------------------------------- queries
    def query(self, project, raw):
        if not self.bearer_ok():
            return self.reply(401, google_error(401, "authError", "invalid credentials"))
        req = json.loads(raw)
        sql = req.get("query", "")
        m = SELECT_RE.match(sql)
        if not m or req.get("useLegacySql") is not False:
            return self.reply(400, google_error(400, "invalidQuery", "unsupported query"))
        want = None
        if "@contact_id" in sql:
            params = {p["name"]: p["parameterValue"]["value"]
                      for p in req.get("queryParameters", [])}
            if req.get("parameterMode") != "NAMED" or "contact_id" not in params:
                return self.reply(400, google_error(400, "invalidQuery", "missing parameter"))
            want = params["contact_id"]
        with STATE.lock:
            contacts = view_contacts([r["json"] for r in STATE.rows])
            STATE.stats["queries"] += 1
            job_id = "job_" + secrets.token_hex(8)
            result = [c for c in contacts if want is None or c["contact_id"] == want]
            STATE.jobs[job_id] = {"rows": result, "polls": STATE.job_polls,
                                  "project": project}
        return self.job_page(job_id, req.get("maxResults"), None)

    def get_query_results(self, job_id, qs):
        if not self.bearer_ok():
            return self.reply(401, google_error(401, "authError", "invalid credentials"))
        with STATE.lock:
            job = STATE.jobs.get(job_id)
            STATE.stats["polls"] += 1
            if job and job["polls"] > 0:
                job["polls"] -= 1
        if job is None:
            return self.reply(404, google_error(404, "notFound", "Not found: Job " + job_id))
        size = qs.get("maxResults", [None])[0]
        return self.job_page(job_id, size, qs.get("pageToken", [None])[0])

    def job_page(self, job_id, max_results, page_token):
        with STATE.lock:
            job = STATE.jobs[job_id]
            pending = job["polls"] > 0
        ref = {"projectId": job["project"], "jobId": job_id, "location": "US"}
        if pending:
            return self.reply(200, {"kind": "bigquery#queryResponse", "jobReference": ref,
                                    "jobComplete": False})
        start = int(page_token) if page_token else 0
        size = int(max_results) if max_results else len(job["rows"]) or 1
        page = job["rows"][start:start + size]
        answer = {"kind": "bigquery#queryResponse", "jobReference": ref, "jobComplete": True,
                  "schema": {"fields": view_schema()}, "totalRows": str(len(job["rows"])),
                  "rows": [encode_fv(c) for c in page], "cacheHit": False}
        if start + size < len(job["rows"]):
            answer["pageToken"] = str(start + size)
        self.reply(200, answer)


# -------------------------------------------------------------- the view
VIEW_FIELDS = None  # (name, type, mode) of the view's columns, set in main


def order_key(row):
    """ORDER BY version DESC, op = 'upsert', received_at DESC, event_id DESC."""
    return (ts_to_micros(row["version"]), row["op"] != "upsert",
            ts_to_micros(row["received_at"]), row["event_id"])


def view_contacts(rows):
    """The `contacts` view (deploy/bigquery/contacts_view.sql) over rows."""
    by_contact = {}
    for r in rows:
        by_contact.setdefault(r["contact_id"], []).append(r)
    out = []
    for cid in sorted(by_contact):
        group = sorted(by_contact[cid], key=order_key, reverse=True)
        contact = {"contact_id": cid}
        for name, _typ, _mode in VIEW_FIELDS[1:]:
            if name in ("twenty_id", "supabase_id"):
                vals = [r[name] for r in group if r.get(name) is not None]
                contact[name] = vals[0] if vals else None
            elif name == "extra":
                ex = {}
                for src in ("twenty", "supabase"):
                    vals = [json.loads(r["extra"]).get(src) for r in group
                            if r.get("extra") is not None]
                    vals = [v for v in vals if v is not None]
                    ex[src] = vals[0] if vals else None
                contact[name] = json.dumps(ex)
            else:
                vals = [r for r in group if name in r.get("changed", [])]
                if vals:
                    default = [] if _mode == "REPEATED" else None
                    contact[name] = vals[0].get(name, default)
                else:
                    contact[name] = None
        out.append(contact)
    return out


def view_schema():
    fields = []
    for name, typ, mode in VIEW_FIELDS:
        fields.append({"name": name, "type": typ, "mode": mode})
    return fields


def encode_cell(typ, v):
    if v is None:
        return None
    if typ == "TIMESTAMP":
        return micros_to_bq_seconds(ts_to_micros(v))
    if typ in ("FLOAT", "FLOAT64"):
        return repr(float(v))
    if typ == "JSON":
        return json.dumps(json.loads(v), separators=(",", ":"))
    return str(v)


def encode_fv(contact):
    cells = []
    for name, typ, mode in VIEW_FIELDS:
        v = contact.get(name)
        if mode == "REPEATED":
            # A REPEATED column is never NULL in BigQuery: [] when unknown.
            cells.append({"v": [{"v": encode_cell(typ, x)} for x in (v or [])]})
        else:
            cells.append({"v": encode_cell(typ, v)})
    return {"f": cells}


def main():
    global STATE, VIEW_FIELDS
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--schema", required=True)
    ap.add_argument("--pubkey")
    ap.add_argument("--kid")
    ap.add_argument("--client-email")
    ap.add_argument("--expires-in", type=int, default=3600)
    args = ap.parse_args()
    with open(args.schema) as f:
        schema = json.load(f)
    key = None
    if args.pubkey:
        with open(args.pubkey, "rb") as f:
            key = {"pem": f.read(), "kid": args.kid, "client_email": args.client_email}
    STATE = State(schema, key, args.expires_in)
    VIEW_FIELDS = [("contact_id", "STRING", "NULLABLE")]
    for c in schema[7:]:
        if c["name"] != "sync_metadata":
            VIEW_FIELDS.append((c["name"], c["type"], c.get("mode", "NULLABLE")))
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    # SIGTERM (tests/lib.sh cleanup) is a normal stop: exit 0, so a test
    # script under `set -e` does not fail while it cleans up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("PORT %d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
