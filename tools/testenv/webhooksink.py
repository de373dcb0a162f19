"""Webhook sink for notification tests: records every POST (Slack, Discord,
Microsoft Teams, generic, generic-hmac, GitHub-style paths alike) and lets
tests read them back.

  POST <any path>           recorded; answers 200 (or the injected failure)
  GET  /__sink/requests     {"requests": [{"method","path","headers","body","time"}...]}
  DELETE /__sink/requests   clears the record
  POST /__sink/fail         {"count": N, "status": 500} fails the next N posts

usage: webhooksink.py --port N
"""

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


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
        self.reply(200, text="ok")

    def do_DELETE(self):
        if self.path.startswith("/__sink/requests"):
            with self.server.lock:
                self.server.records.clear()
            self.reply(200, {"requests": []})
            return
        self.reply(404, text="not found")

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
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
            self.server.records.append({"method": "POST", "path": self.path, "headers": dict(self.headers.items()),
                                        "body": body, "raw": raw.decode("utf-8", "replace"), "time": time.time()})
            fail = self.server.fail
            if fail[0] > 0:
                fail[0] -= 1
                self.reply(fail[1], text="injected failure")
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
    srv.serve_forever()


if __name__ == "__main__":
    main()
