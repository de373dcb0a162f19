#!/usr/bin/env python3
"""A Docker token server (the distribution token protocol) for the test environment's token-auth docker-registry.

GET /token?scope=repository:<name>:<actions>&service=<service> with Basic credentials answers {"token", "access_token"}:
a JWT signed RS256 (with `openssl dgst -sha256 -sign`, the key's certificate in its x5c header) that grants the
requested actions to the configured user; without valid credentials the token grants nothing (the registry then
answers 401), with wrong credentials the answer is 401. GET /__token/requests lists what was asked (the Authorization
header included, so tests can check where credentials went).

usage: tokenserver.py --port N --key KEY --cert CERT --issuer ISSUER --service SERVICE --user USER:PASSWORD
"""

import argparse
import base64
import json
import secrets
import subprocess
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
REQUESTS = []


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def cert_der_b64(cert):
    body = "".join(line.strip() for line in open(cert) if line.strip() and not line.startswith("-----"))
    return body


class Handler(BaseHTTPRequestHandler):
    opts = None

    def log_message(self, *a):
        pass

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        if u.path == "/__token/requests":
            with LOCK:
                return self.answer(200, {"requests": list(REQUESTS)})
        if u.path != "/token":
            return self.answer(404, {"error": "not found"})
        q = urllib.parse.parse_qs(u.query)
        auth = self.headers.get("Authorization", "")
        with LOCK:
            REQUESTS.append({"path": self.path, "authorization": auth})
        o = self.opts
        user = None
        if auth.startswith("Basic "):
            try:
                u_, p_ = base64.b64decode(auth[6:]).decode().split(":", 1)
            except Exception:
                return self.answer(400, {"error": "bad basic auth"})
            if (u_, p_) != (o.user, o.password):
                return self.answer(401, {"errors": [{"code": "UNAUTHORIZED", "message": "invalid username or password"}]})
            user = u_
        access = []
        for scope in q.get("scope", []):
            parts = scope.split(":")
            if len(parts) == 3 and parts[0] == "repository" and user:
                access.append({"type": "repository", "name": parts[1], "actions": parts[2].split(",")})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [o.cert_b64]}
        claims = {"iss": o.issuer, "sub": user or "", "aud": q.get("service", [o.service])[0], "exp": now + 300,
                  "nbf": now - 10, "iat": now, "jti": secrets.token_hex(8), "access": access}
        signing_input = (b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())).encode()
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", o.key], input=signing_input, capture_output=True, check=True).stdout
        token = signing_input.decode() + "." + b64(sig)
        self.answer(200, {"token": token, "access_token": token, "expires_in": 300})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--issuer", required=True)
    ap.add_argument("--service", required=True)
    ap.add_argument("--user", required=True)
    a = ap.parse_args()
    a.user, a.password = a.user.split(":", 1)
    a.cert_b64 = cert_der_b64(a.cert)
    Handler.opts = a
    ThreadingHTTPServer(("127.0.0.1", a.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
