"""Webhook sink for notification tests: records every POST (Slack, Discord,
Microsoft Teams, generic, generic-hmac, GitHub-style paths alike) and lets
tests read them back.

  POST <any path>           recorded; answers 200 (or the injected failure)
  GET  /__sink/requests     {"requests": [{"method","path","headers","body","time"}...]}
  DELETE /__sink/requests   clears the record
  POST /__sink/fail         {"count": N, "status": 500} fails the next N posts
  POST /__sink/delay        {"path": P, "seconds": S} answers requests on P after S seconds

Commit status endpoints keep what was posted so that the list/get calls the
providers make first (to skip duplicates) see it, at the real APIs' paths:
  GitLab     POST /api/v4/projects/ID/statuses/SHA
             GET  /api/v4/projects/ID/repository/commits/SHA/statuses[?name=]
  Gitea      POST /api/v1/repos/O/R/statuses/SHA
             GET  /api/v1/repos/O/R/commits/SHA/statuses
  Bitbucket  POST [/2.0]/repositories/O/R/commit/SHA/statuses/build
             GET  [/2.0]/repositories/O/R/commit/SHA/statuses/build/KEY (404 when none)
  Bitbucket Server POST|GET [CTX]/rest/api/latest/projects/P/repos/R/commits/SHA/builds[?key=]
  Azure DevOps POST|GET /ORG/PROJ/_apis/git/repositories/R/commits/SHA/statuses
  GitHub     POST [/api/v3]/repos/O/R/statuses/SHA
             GET  [/api/v3]/repos/O/R/commits/SHA/statuses

usage: webhooksink.py --port N
"""

import argparse
import json
import re
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


STATUS_ROUTES = [
    # (kind, POST path, GET path); both capture the same commit.
    ("gitlab", r"/api/v4/projects/([^/]+)/statuses/([0-9a-f]+)", r"/api/v4/projects/([^/]+)/repository/commits/([0-9a-f]+)/statuses"),
    ("gitea", r"/api/v1/repos/([^/]+/[^/]+)/statuses/([0-9a-f]+)", r"/api/v1/repos/([^/]+/[^/]+)/commits/([0-9a-f]+)/statuses"),
    ("bitbucket", r"(?:/2\.0)?/repositories/([^/]+/[^/]+)/commit/([0-9a-f]+)/statuses/build",
     r"(?:/2\.0)?/repositories/([^/]+/[^/]+)/commit/([0-9a-f]+)/statuses/build/([0-9a-f]+)"),
    ("bitbucketserver", r"(.*/rest/api/latest/projects/[^/]+/repos/[^/]+)/commits/([0-9a-f]+)/builds",
     r"(.*/rest/api/latest/projects/[^/]+/repos/[^/]+)/commits/([0-9a-f]+)/builds"),
    ("azuredevops", r"(/[^/]+/[^/]+/_apis/git/repositories/[^/]+)/commits/([0-9a-f]+)/statuses",
     r"(/[^/]+/[^/]+/_apis/git/repositories/[^/]+)/commits/([0-9a-f]+)/statuses"),
    ("github", r"(?:/api/v3)?/repos/([^/]+/[^/]+)/statuses/([0-9a-f]+)", r"(?:/api/v3)?/repos/([^/]+/[^/]+)/commits/([0-9a-f]+)/statuses"),
]


def stored_status(kind, sha, body):
    """The status as the API returns it (field names of each API)."""
    b = body if isinstance(body, dict) else {}
    if kind == "gitlab":
        return {"sha": sha, "status": b.get("state"), "name": b.get("name"), "description": b.get("description")}
    if kind == "gitea":
        return {"context": b.get("context"), "status": b.get("state"), "description": b.get("description")}
    return dict(b)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, code, obj=None, text=None):
        body = json.dumps(obj).encode() if obj is not None else (text or "").encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json" if obj is not None else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path.startswith("/__sink/requests"):
            with self.server.lock:
                self.reply(200, {"requests": list(self.server.records)})
            return
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        with self.server.lock:
            self.server.records.append({"method": "GET", "path": self.path, "headers": dict(self.headers.items()),
                                        "body": None, "raw": "", "time": time.time()})
            for kind, _, get in STATUS_ROUTES:
                m = re.fullmatch(get, url.path)
                if not m:
                    continue
                items = list(self.server.statuses.get((kind, m.group(1), m.group(2)), []))
                if kind == "gitlab" and "name" in query:
                    items = [i for i in items if i.get("name") == query["name"][0]]
                if kind == "bitbucket":
                    found = [i for i in items if i.get("key") == m.group(3)]
                    self.reply(200, found[0]) if found else self.reply(404, {"type": "error", "error": {"message": "Not found"}})
                elif kind == "bitbucketserver":
                    found = [i for i in items if i.get("key") == query.get("key", [""])[0]]
                    self.reply(200, found[0]) if found else self.reply(404, {"errors": [{"message": "not found"}]})
                elif kind == "azuredevops":
                    self.reply(200, {"count": len(items), "value": items})
                else:
                    self.reply(200, items)
                return
        self.reply(200, text="ok")

    def do_DELETE(self):
        if self.path.startswith("/__sink/requests"):
            with self.server.lock:
                self.server.records.clear()
                self.server.statuses.clear()
            self.reply(200, {"requests": []})
            return
        self.reply(404, text="not found")

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if self.path == "/__sink/delay":
            spec = json.loads(raw or b"{}")
            with self.server.lock:
                self.server.delays[spec.get("path", "")] = float(spec.get("seconds", 0))
            self.reply(200, {"delay": spec})
            return
        with self.server.lock:
            delay = self.server.delays.get(self.path, 0)
        if delay:
            time.sleep(delay)
        if self.path == "/__sink/fail":
            spec = json.loads(raw or b"{}")
            with self.server.lock:
                self.server.fail = [int(spec.get("count", 1)), int(spec.get("status", 500))]
            self.reply(200, {"fail": self.server.fail})
            return
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        with self.server.lock:
            self.server.records.append({"method": self.command, "path": self.path, "headers": dict(self.headers.items()),
                                        "body": body, "raw": raw.decode("utf-8", "replace"), "time": time.time()})
            fail = self.server.fail
            if fail[0] > 0:
                fail[0] -= 1
                self.reply(fail[1], text="injected failure")
                return
            path = urllib.parse.urlsplit(self.path).path
            for kind, post, _ in STATUS_ROUTES:
                m = re.fullmatch(post, path)
                if m:
                    st = stored_status(kind, m.group(2), body)
                    items = self.server.statuses.setdefault((kind, m.group(1), m.group(2)), [])
                    if kind in ("bitbucket", "bitbucketserver"):
                        items[:] = [i for i in items if i.get("key") != st.get("key")]
                    items.insert(0, st)
                    self.reply(201, st)
                    return
        self.reply(200, text="ok")

    do_PUT = do_POST


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, required=True)
    a = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    srv.lock = threading.Lock()
    srv.records = []
    srv.fail = [0, 500]
    srv.statuses = {}
    srv.delays = {}
    srv.serve_forever()


if __name__ == "__main__":
    main()
