#!/usr/bin/python3
"""A fake Twenty CRM for syncrelay's tests (Python 3 stdlib only).

It implements strictly the REST calls of shared/spec/sinks.md for the
`person` object, with Twenty's shapes and errors, a per-minute rate limit,
and it EMITS Twenty-shaped signed webhooks whenever a record changes through
it, as real Twenty does, including changes syncrelay itself makes (the echo
syncrelay must drop).

REST (Authorization: Bearer <key>, else 401):
  GET    /rest/people?filter=&limit=&starting_after=   list/find
  GET    /rest/people/{id}
  POST   /rest/people                 201 {"data":{"createPerson":{..}}}
  POST   /rest/batch/people           201 {"data":{"createPeople":[..]}}, <= 60
  PATCH  /rest/people/{id}            {"data":{"updatePerson":{..}}}
  PATCH  /rest/people/{id}/restore    {"data":{"restorePerson":{..}}}
  DELETE /rest/people/{id}?soft_delete=true   soft; without: hard (destroy)
Control (no auth):
  GET  /_control/stats       counters, request log, max requests in any minute
  GET  /_control/records     every record, soft-deleted included
  GET  /_control/webhooks    webhooks sent (and pending count)
  POST /_control/edit/{id}   edit a record "as a user" (PATCH semantics)
  POST /_control/create      create a record "as a user"
  POST /_control/fail        {"status": 500, "count": 2}: next N REST calls fail
  POST /_control/config      {"rate_limit": N, "rate_limit_style": "429"|"400"}

Usage: fake_twenty.py --port-file F [--port P] [--api-key K] [--rate-limit N]
       [--webhook-url URL] [--webhook-secret S]
"""
import argparse
import base64
import collections
import datetime
import hashlib
import hmac
import json
import os
import queue
import re
import signal
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WORKSPACE_ID = "3b8e6458-5fc1-4e63-8563-008ccddaa6db"
OBJECT_ID = "0f4b7a2c-9d1e-4c3b-8a5f-6e2d1c0b9a87"
WEBHOOK_ID = "c9f1a3e2-7b4d-4f0a-9e6c-2d5b8a1f4c70"
SYSTEM_KEYS = {"id", "createdAt", "updatedAt", "deletedAt"}
TEXT = {"jobTitle", "city", "avatarUrl", "contactId", "supabaseId", "fullName",
        "displayName", "namePrefix", "middleName", "nameSuffix", "nickname",
        "phoneticName", "companyName", "department", "llmSummary", "llmContext",
        "aiInsights", "companyId"}
RAW_JSON = {"socialNetwork", "communicationStats", "syncMetadata"}
COMPOSITES = {
    "name": {"firstName": "", "lastName": ""},
    "emails": {"primaryEmail": "", "additionalEmails": None},
    "phones": {"primaryPhoneNumber": "", "primaryPhoneCountryCode": "",
               "primaryPhoneCallingCode": "", "additionalPhones": None},
    "linkedinLink": {"primaryLinkUrl": "", "primaryLinkLabel": "", "secondaryLinks": None},
    "xLink": {"primaryLinkUrl": "", "primaryLinkLabel": "", "secondaryLinks": None},
}
OTHER = {"relationshipType", "relationshipStrength", "tags", "llmUpdatedAt", "position"}
WRITABLE = TEXT | RAW_JSON | set(COMPOSITES) | OTHER
FILTER_CLAUSE = re.compile(r'^([A-Za-z]+)\[(eq|is)\]:(.*)$')
TS = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$')


class BadRequest(Exception):
    def __init__(self, message, status=400, error="BadRequestException"):
        super().__init__(message)
        self.status, self.error = status, error


class State:
    """Everything the server holds. `lock` guards all of it."""

    def __init__(self, args):
        self.lock = threading.Lock()
        self.api_key = args.api_key
        self.rate_limit = args.rate_limit
        self.rate_style = "429"
        self.records = collections.OrderedDict()
        self.last_ms = 0
        self.request_times = collections.deque()
        self.all_times = []
        self.log = []
        self.writes = collections.Counter()
        self.rate_limited = 0
        self.fail_status, self.fail_count = 0, 0
        self.webhook_url, self.webhook_secret = args.webhook_url, args.webhook_secret
        self.outbox = queue.Queue()
        self.sent = []
        self.pending = 0

    def now_iso(self):
        ms = max(int(time.time() * 1000), self.last_ms + 1)  # strictly increasing
        self.last_ms = ms
        dt = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.timezone.utc)
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000)


def err_body(status, error, message):
    return {"statusCode": status, "error": error, "messages": [message]}


def validate_value(key, value):
    if key in TEXT:
        ok = value is None or isinstance(value, str)
    elif key in RAW_JSON:
        ok = value is None or isinstance(value, (dict, list))
    elif key in COMPOSITES:
        ok = isinstance(value, dict) and set(value) <= set(COMPOSITES[key])
    elif key == "relationshipType":
        ok = value is None or (isinstance(value, str) and re.match(r'^[A-Z][A-Z0-9_]*$', value))
    elif key in ("relationshipStrength", "position"):
        ok = value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))
    elif key == "tags":
        ok = value is None or (isinstance(value, list) and all(isinstance(t, str) for t in value))
    elif key == "llmUpdatedAt":
        ok = value is None or (isinstance(value, str) and TS.match(value))
    else:
        raise BadRequest("Object person doesn't have any \"%s\" field." % key)
    if not ok:
        raise BadRequest("Invalid value for field \"%s\"" % key)


def validate_body(body, allow_id):
    if not isinstance(body, dict):
        raise BadRequest("Body must be an object")
    for key, value in body.items():
        if key in SYSTEM_KEYS:
            if key == "id" and allow_id:
                continue
            raise BadRequest("Field \"%s\" cannot be written" % key)
        validate_value(key, value)


def apply_fields(rec, body):
    """Writes body into rec; composites are replaced whole. Returns changed keys."""
    changed = []
    for key, value in body.items():
        if key == "id":
            continue
        if key in COMPOSITES:
            value = dict(COMPOSITES[key], **value)
        if rec.get(key) != value:
            changed.append(key)
        rec[key] = value
    return changed


def new_record(st, body, source):
    rec = {"id": body.get("id") or str(uuid.uuid4())}
    for key, default in COMPOSITES.items():
        rec[key] = dict(default)
    for key in sorted(TEXT | RAW_JSON | OTHER):
        rec[key] = None
    rec.update({"jobTitle": "", "city": "", "avatarUrl": "", "position": len(st.records)})
    actor = {"source": source, "workspaceMemberId": None,
             "name": "relay-daemon" if source == "API" else "Grace Hopper", "context": {}}
    rec["createdBy"], rec["updatedBy"] = actor, dict(actor)
    apply_fields(rec, body)
    rec["createdAt"] = rec["updatedAt"] = st.now_iso()
    rec["deletedAt"] = None
    return rec


def emit(st, event, rec, updated_fields=None, as_user=False):
    """Queues a webhook (caller holds st.lock)."""
    if not st.webhook_url:
        return
    payload = {"targetUrl": st.webhook_url, "eventName": event,
               "objectMetadata": {"id": OBJECT_ID, "nameSingular": "person"},
               "workspaceId": WORKSPACE_ID, "webhookId": WEBHOOK_ID,
               "eventDate": st.now_iso()}
    if as_user:
        payload["userId"] = "e1d2c3b4-a5f6-4789-9abc-def012345678"
        payload["workspaceMemberId"] = "7d4c2b1a-3e5f-4a6b-8c9d-0e1f2a3b4c5d"
    payload["record"] = json.loads(json.dumps(rec))
    if updated_fields is not None:
        payload["updatedFields"] = updated_fields
    st.pending += 1
    st.outbox.put(json.dumps(payload, ensure_ascii=False, separators=(",", ":")))


def webhook_sender(st):
    """One thread: posts queued webhooks in order, signed like Twenty."""
    while True:
        body = st.outbox.get().encode()
        ts = str(int(time.time() * 1000))
        headers = {"Content-Type": "application/json",
                   "X-Twenty-Webhook-Timestamp": ts,
                   "X-Twenty-Webhook-Nonce": os.urandom(16).hex()}
        if st.webhook_secret:
            mac = hmac.new(st.webhook_secret.encode(), ts.encode() + b":" + body, hashlib.sha256)
            headers["X-Twenty-Webhook-Signature"] = mac.hexdigest()
        status = 0
        try:
            req = urllib.request.Request(st.webhook_url, data=body, headers=headers, method="POST")
            with urllib.request.urlopen(req, timeout=5) as resp:  # Twenty waits 5 s
                status = resp.status
        except urllib.error.HTTPError as e:
            status = e.code
        except OSError:
            status = -1
        with st.lock:  # never retried, as Twenty does
            st.sent.append({"event": json.loads(body)["eventName"], "status": status,
                            "body": json.loads(body)})
            st.pending -= 1


def parse_filter(text):
    """Twenty's `a[eq]:"x",deletedAt[is]:NOT_NULL` (and-conjunction) -> predicates."""
    clauses, depth, cur, quoted = [], 0, "", False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            clauses.append(cur)
            cur = ""
        else:
            cur += ch
    clauses.append(cur)
    preds, names_deleted = [], False
    for clause in clauses:
        m = FILTER_CLAUSE.match(clause)
        if not m:
            raise BadRequest("'filter' invalid for '%s', e.g. field[eq]:\"value\"" % clause)
        field, op, value = m.groups()
        if field not in WRITABLE | SYSTEM_KEYS:
            raise BadRequest("field '%s' does not exist in 'person' object" % field)
        if op == "is":
            if value not in ("NULL", "NOT_NULL"):
                raise BadRequest("'filter' invalid: [is] takes NULL or NOT_NULL")
            names_deleted |= field == "deletedAt"
            preds.append(lambda r, f=field, v=value: (r.get(f) is None) == (v == "NULL"))
            continue
        if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
            value = value[1:-1]
        if field == "id" and not re.match(r'^[0-9a-f-]{36}$', value):
            raise BadRequest("invalid input syntax for type uuid: \"%s\"" % value)
        preds.append(lambda r, f=field, v=value: r.get(f) == v)
    return preds, names_deleted


def cursor_of(rec):
    return base64.b64encode(json.dumps({"id": rec["id"]}).encode()).decode()


def list_people(st, query):
    preds, with_deleted = parse_filter(query["filter"][0]) if "filter" in query else ([], False)
    limit = query.get("limit", ["60"])[0]
    if not limit.isdigit() or not 0 < int(limit) <= 200:
        raise BadRequest("limit must be an integer between 1 and 200")
    rows = [r for r in st.records.values()
            if (with_deleted or r["deletedAt"] is None) and all(p(r) for p in preds)]
    if "starting_after" in query:
        try:
            after = json.loads(base64.b64decode(query["starting_after"][0]))["id"]
            ids = [r["id"] for r in rows]
            rows = rows[ids.index(after) + 1:]
        except (ValueError, KeyError, TypeError):
            raise BadRequest("Invalid cursor")
    total = len(rows)
    page = rows[:int(limit)]
    info = {"hasNextPage": total > len(page),
            "startCursor": cursor_of(page[0]) if page else None,
            "endCursor": cursor_of(page[-1]) if page else None}
    return 200, {"data": {"people": page}, "totalCount": total, "pageInfo": info}


def get_live(st, pid, deleted_ok=False):
    rec = st.records.get(pid)
    if rec is None or (rec["deletedAt"] is not None and not deleted_ok):
        raise BadRequest("Record not found", 404, "NotFoundException")
    return rec


def update(st, rec, body, as_user=False):
    changed = apply_fields(rec, body)
    if changed:
        rec["updatedAt"] = st.now_iso()
        if as_user:
            rec["updatedBy"] = {"source": "MANUAL", "workspaceMemberId":
                                "7d4c2b1a-3e5f-4a6b-8c9d-0e1f2a3b4c5d",
                                "name": "Grace Hopper", "context": {}}
        emit(st, "person.updated", rec, changed, as_user)
    return changed


def rest(st, method, parts, query, body):
    """Answers one REST call (caller holds st.lock). Returns (status, json)."""
    if parts[:1] == ["batch"]:
        if method != "POST" or parts[1:] != ["people"]:
            raise BadRequest("Unknown route", 404, "NotFoundException")
        if not isinstance(body, list) or not 0 < len(body) <= 60:
            raise BadRequest("Batch must hold 1 to 60 records")
        for item in body:
            validate_body(item, True)
        created = [new_record(st, item, "API") for item in body]
        for rec in created:
            st.records[rec["id"]] = rec
            emit(st, "person.created", rec)
        st.writes["batch_create"] += 1
        st.writes["created_records"] += len(created)
        return 201, {"data": {"createPeople": created}}
    if parts[:1] != ["people"]:
        raise BadRequest("Object '%s' not found" % "/".join(parts), 404, "NotFoundException")
    pid = parts[1] if len(parts) > 1 else None
    if method == "GET" and pid is None:
        return list_people(st, query)
    if method == "GET" and len(parts) == 2:
        return 200, {"data": {"person": get_live(st, pid)}}
    if method == "POST" and pid is None:
        validate_body(body, True)
        rec = new_record(st, body, "API")
        st.records[rec["id"]] = rec
        st.writes["create"] += 1
        st.writes["created_records"] += 1
        emit(st, "person.created", rec)
        return 201, {"data": {"createPerson": rec}}
    if method == "PATCH" and len(parts) == 3 and parts[2] == "restore":
        rec = get_live(st, pid, deleted_ok=True)
        if rec["deletedAt"] is not None:
            rec["deletedAt"] = None
            rec["updatedAt"] = st.now_iso()
            emit(st, "person.restored", rec)
        st.writes["restore"] += 1
        return 200, {"data": {"restorePerson": rec}}
    if method == "PATCH" and len(parts) == 2:
        validate_body(body, False)
        rec = get_live(st, pid)
        update(st, rec, body)
        st.writes["update"] += 1
        return 200, {"data": {"updatePerson": rec}}
    if method == "DELETE" and len(parts) == 2:
        soft = query.get("soft_delete", ["false"])[0] == "true"
        rec = get_live(st, pid, deleted_ok=not soft)
        if soft:
            rec["deletedAt"] = rec["updatedAt"] = st.now_iso()
            emit(st, "person.deleted", rec, ["deletedAt"])
            st.writes["soft_delete"] += 1
        else:
            del st.records[pid]
            emit(st, "person.destroyed", rec)
            st.writes["destroy"] += 1
        return 200, {"data": {"deletePerson": {"id": pid}}}
    raise BadRequest("Unknown route", 404, "NotFoundException")


def max_per_minute(times):
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - 60.0:
            j += 1
        best = max(best, i - j + 1)
    return best


def control(st, method, parts, body):
    if method == "GET" and parts == ["stats"]:
        return 200, {"requests": len(st.all_times), "writes": dict(st.writes),
                     "rate_limited": st.rate_limited,
                     "max_per_minute": max_per_minute(st.all_times), "log": st.log}
    if method == "GET" and parts == ["records"]:
        return 200, {"records": list(st.records.values())}
    if method == "GET" and parts == ["webhooks"]:
        return 200, {"pending": st.pending, "sent": st.sent}
    if method == "POST" and parts[:1] == ["edit"] and len(parts) == 2:
        validate_body(body, False)
        rec = get_live(st, parts[1])
        return 200, {"record": rec, "changed": update(st, rec, body, as_user=True)}
    if method == "POST" and parts == ["create"]:
        validate_body(body, True)
        rec = new_record(st, body, "MANUAL")
        st.records[rec["id"]] = rec
        emit(st, "person.created", rec, None, as_user=True)
        return 201, {"record": rec}
    if method == "POST" and parts == ["fail"]:
        st.fail_status, st.fail_count = int(body["status"]), int(body.get("count", 1))
        return 200, {}
    if method == "POST" and parts == ["config"]:
        st.rate_limit = int(body.get("rate_limit", st.rate_limit))
        st.rate_style = body.get("rate_limit_style", st.rate_style)
        st.webhook_url = body.get("webhook_url", st.webhook_url)
        return 200, {}
    raise BadRequest("Unknown control route", 404, "NotFoundException")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without TCP_NODELAY,
    # Nagle plus the client's delayed ACK adds ~40 ms to every answer.
    disable_nagle_algorithm = True
    st = None

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, obj):
        data = json.dumps(obj, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self):
        st = self.st
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        parts = [urllib.parse.unquote(p) for p in url.path.strip("/").split("/") if p]
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, obj, body = 500, {}, None
        with st.lock:
            try:
                if raw:
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        raise BadRequest("Body is not JSON")
                if parts[:1] == ["_control"]:
                    status, obj = control(st, self.command, parts[1:], body)
                    self.answer(status, obj)
                    return
                status, obj = self.rest_call(st, parts, query, body)
            except BadRequest as e:
                status, obj = e.status, err_body(e.status, e.error, str(e))
            if parts[:1] != ["_control"]:
                st.log.append({"method": self.command, "path": url.path, "query": url.query,
                               "status": status, "body": body, "t": time.time()})
        self.answer(status, obj)

    def rest_call(self, st, parts, query, body):
        now = time.time()
        st.all_times.append(now)
        if self.headers.get("Authorization") != "Bearer " + st.api_key:
            return 401, err_body(401, "UnauthorizedException", "Invalid API key")
        while st.request_times and st.request_times[0] <= now - 60.0:
            st.request_times.popleft()
        if st.rate_limit and len(st.request_times) >= st.rate_limit:
            st.rate_limited += 1
            if st.rate_style == "400":
                return 400, err_body(400, "BadRequestException", "API rate limit exceeded")
            return 429, err_body(429, "TooManyRequestsException", "Limit reached")
        st.request_times.append(now)
        if st.fail_count > 0:
            st.fail_count -= 1
            return st.fail_status, err_body(st.fail_status, "InternalServerError", "injected")
        if parts[:1] != ["rest"]:
            raise BadRequest("Unknown route", 404, "NotFoundException")
        return rest(st, self.command, parts[1:], query, body)

    do_GET = do_POST = do_PATCH = do_DELETE = handle_any


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--api-key", default="test-key")
    ap.add_argument("--rate-limit", type=int, default=0, help="requests per minute, 0: none")
    ap.add_argument("--webhook-url", default="")
    ap.add_argument("--webhook-secret", default="")
    args = ap.parse_args()
    st = State(args)
    Handler.st = st
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    threading.Thread(target=webhook_sender, args=(st,), daemon=True).start()
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(tmp, args.port_file)
    # A clean exit on SIGTERM: tests/lib.sh waits for it under `set -e`.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
