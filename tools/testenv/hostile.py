#!/usr/bin/env python3
"""A hostile HTTP server for fluxs's security tests: it redirects, advertises endless or millions of Git refs,
sends endless headers and bodies, and terminates TLS with certificates for other names. It records every request
(listener, method, path, Authorization and other credential headers) so tests can check where credentials went.

Listeners (all on 127.0.0.1):
  origin     plain HTTP; the address a test configures
  elsewhere  plain HTTP on another port, reached as http://localhost:<port> (another host and port than origin)
  tls        HTTPS with a certificate for localhost and 127.0.0.1 (the test CA)
  tls-other  HTTPS with a certificate for other.fluxs.test only, forwarding like `real/` below
  kube-sni   HTTPS with a certificate for kube.fluxs.test only, forwarding every byte to --kube-http (kubesim)

Paths (on origin, elsewhere and tls):
  /real/<path>                  proxied to --git-http<path> (lighttpd + git http-backend), headers included
  /moved/<path>                 301 to /real/<path> on the same listener (a renamed repository)
  /redirect/<path>              302 to http://localhost:<elsewhere>/real/<path> (another host)
  /redirect-port/<path>         302 to http://127.0.0.1:<elsewhere>/real/<path> (same host name, another port)
  /redirect-plain/<path>        302 to http://127.0.0.1:<origin>/real/<path> (https -> http when asked over tls)
  /redirect-loop/<path>         302 to itself, forever
  /endless-refs/<repo>/info/refs          a ref advertisement that never ends
  /many-refs/<n>/<repo>/info/refs         an advertisement of n refs (streamed)
  /huge-headers/<anything>      200 with header lines that never end
  /endless-body/<anything>      200 application/json with a body that never ends
  /v2/...                       an OCI registry with Basic auth (any credentials) holding hostile/app:v1 (a Flux
                                artifact with cm.yaml); its manifest and blobs answer 307 to
                                http://localhost:<elsewhere>/v2-store/... (blob storage on another origin)
  GET    /__hostile/requests    {"requests": [{"listener","method","path","authorization","headers"}...]}
  DELETE /__hostile/requests    clears the record

usage: hostile.py --pki DIR --git-http URL --kube-http URL --info FILE
Writes {"origin": port, "elsewhere": port, "tls": port, "tlsOther": port, "kubeSNI": port} to FILE when listening.
"""

import argparse
import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RECORDS = []
LOCK = threading.Lock()


def make_artifact():
    """A Flux artifact (flux's media types) with one file, for the registry routes."""
    import gzip
    import hashlib
    import io
    import tarfile
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf:
        data = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hostile\n"
        ti = tarfile.TarInfo("cm.yaml")
        ti.size, ti.mode = len(data), 0o644
        tf.addfile(ti, io.BytesIO(data))
    layer = gzip.compress(raw.getvalue(), mtime=0)
    config = b"{}"
    def d(b):
        return "sha256:" + hashlib.sha256(b).hexdigest()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.cncf.flux.config.v1+json", "size": len(config), "digest": d(config)},
                           "layers": [{"mediaType": "application/vnd.cncf.flux.content.v1.tar+gzip", "size": len(layer), "digest": d(layer)}],
                           "annotations": {"org.opencontainers.image.source": "hostile", "org.opencontainers.image.revision": "v1"}}).encode()
    return {"manifest": manifest, "digest": d(manifest), "blobs": {d(layer): layer, d(config): config}}


ARTIFACT = make_artifact()
PORTS = {}
SECRET_HEADERS = ("authorization", "proxy-authorization", "cookie", "x-api-key", "private-token")


def issue(pki, name, sans):
    """A server certificate for `sans` (DNS names) signed by the test CA in pki; returns (crt, key)."""
    crt, key = os.path.join(pki, name + ".crt"), os.path.join(pki, name + ".key")
    if os.path.exists(crt) and os.path.exists(key):
        return crt, key

    def run(args):
        subprocess.run(args, cwd=pki, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=%s" % sans[0]])
    ext = os.path.join(pki, name + ".ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=%s\nextendedKeyUsage=serverAuth\n" % ",".join(sans))
    run(["openssl", "x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
         "-out", name + ".crt", "-days", "3650", "-extfile", ext])
    os.chmod(key, 0o600)
    for f in (name + ".csr", name + ".ext"):
        os.remove(os.path.join(pki, f))
    return crt, key


def pkt(line):
    data = line.encode()
    return b"%04x" % (len(data) + 4) + data


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    listener = "?"

    def log_message(self, *a):
        pass

    def record(self):
        headers = {k.lower(): v for k, v in self.headers.items()}
        with LOCK:
            RECORDS.append({"listener": self.listener, "method": self.command, "path": self.path,
                            "authorization": headers.get("authorization", ""),
                            "headers": {k: v for k, v in headers.items() if k in SECRET_HEADERS}})

    def reply(self, code, body=b"", ctype="text/plain", extra=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def redirect(self, code, location):
        self.reply(code, b"moved\n", extra=[("Location", location)])

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            return self.rfile.read(n)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        return b""

    def handle_any(self):
        path = self.path
        if path.startswith("/__hostile/requests"):
            if self.command == "DELETE":
                with LOCK:
                    RECORDS.clear()
                return self.reply(200, b"{}", "application/json")
            with LOCK:
                body = json.dumps({"requests": list(RECORDS)}).encode()
            return self.reply(200, body, "application/json")
        self.record()
        parts = path.split("/", 2)
        route, rest = parts[1], (parts[2] if len(parts) > 2 else "")
        if route == "real":
            return self.proxy("/" + rest)
        if route == "moved":
            return self.redirect(301, "/real/" + rest)
        if route == "redirect":
            return self.redirect(302, "http://localhost:%d/real/%s" % (PORTS["elsewhere"], rest))
        if route == "redirect-port":
            return self.redirect(302, "http://127.0.0.1:%d/real/%s" % (PORTS["elsewhere"], rest))
        if route == "redirect-plain":
            return self.redirect(302, "http://127.0.0.1:%d/real/%s" % (PORTS["origin"], rest))
        if route == "redirect-loop":
            return self.redirect(302, path)
        if route == "endless-refs":
            return self.refs(None)
        if route == "many-refs":
            return self.refs(int(rest.split("/", 1)[0]))
        if route == "huge-headers":
            return self.endless_headers()
        if route == "endless-body":
            return self.endless_body()
        if route == "v2":
            return self.registry(rest)
        if route == "v2-store":
            if rest == "manifest":
                return self.reply(200, ARTIFACT["manifest"], "application/vnd.oci.image.manifest.v1+json")
            blob = ARTIFACT["blobs"].get(rest.split("/")[-1])
            return self.reply(200, blob, "application/octet-stream") if blob is not None else self.reply(404, b"no blob\n")
        self.reply(404, b"not found\n")

    def registry(self, rest):
        if not self.headers.get("Authorization", "").startswith("Basic "):
            return self.reply(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}', "application/json",
                              extra=[("WWW-Authenticate", 'Basic realm="hostile"')])
        if rest == "":
            return self.reply(200, b"{}", "application/json")
        store = "http://localhost:%d/v2-store/" % PORTS["elsewhere"]
        if rest == "hostile/app/manifests/v1" or rest == "hostile/app/manifests/" + ARTIFACT["digest"]:
            if self.command == "HEAD":
                return self.reply(200, b"", "application/vnd.oci.image.manifest.v1+json", extra=[("Docker-Content-Digest", ARTIFACT["digest"])])
            return self.redirect(307, store + "manifest")
        if rest.startswith("hostile/app/blobs/"):
            return self.redirect(307, store + "blob/" + rest.split("/")[-1])
        self.reply(404, b'{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}', "application/json")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = handle_any

    def proxy(self, path):
        body = self.body()
        target = urllib.parse.urlsplit(self.server.git_http)
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "transfer-encoding", "content-length")}
        if body:
            headers["Content-Length"] = str(len(body))
        conn.request(self.command, path, body=body or None, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("transfer-encoding", "content-length", "connection"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        conn.close()

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def refs(self, count):
        """An upload-pack advertisement: `count` refs (None: without end), streamed in chunks."""
        self.send_response(200)
        self.send_header("Content-Type", "application/x-git-upload-pack-advertisement")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            self.chunk(pkt("# service=git-upload-pack\n") + b"0000")
            oid = "1" * 40
            first = True
            i = 0
            while count is None or i < count:
                buf = []
                for _ in range(2000):
                    if count is not None and i >= count:
                        break
                    name = "refs/tags/v%d.%d.%d" % (i // 1000000, (i // 1000) % 1000, i % 1000)
                    line = "%s %s%s\n" % (oid, name, "\0multi_ack side-band-64k ofs-delta shallow" if first else "")
                    first = False
                    buf.append(pkt(line))
                    i += 1
                self.chunk(b"".join(buf))
            self.chunk(b"0000")
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True

    def endless_headers(self):
        try:
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
            pad = b"X-Pad: " + b"a" * 1000 + b"\r\n"
            while True:
                self.wfile.write(pad * 100)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True

    def endless_body(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            self.chunk(b'{"kind":"Status","items":[')
            block = b'"' + b"x" * 65000 + b'",'
            while True:
                self.chunk(block)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True


def handler(name):
    return type("Handler_" + name.replace("-", "_"), (Handler,), {"listener": name})


def forward(listen, target_port, context, name):
    """TLS termination in front of a plain TCP port: every byte both ways."""
    def pump(a, b):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def serve():
        while True:
            raw, _ = listen.accept()
            def one(raw=raw):
                try:
                    tls = context.wrap_socket(raw, server_side=True)
                except (ssl.SSLError, OSError):
                    raw.close()
                    return
                with LOCK:
                    RECORDS.append({"listener": name, "method": "CONNECT", "path": "", "authorization": "", "headers": {}})
                try:
                    up = socket.create_connection(("127.0.0.1", target_port))
                except OSError:
                    tls.close()
                    return
                threading.Thread(target=pump, args=(tls, up), daemon=True).start()
                pump(up, tls)
            threading.Thread(target=one, daemon=True).start()
    threading.Thread(target=serve, daemon=True).start()


def tls_context(crt, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    return ctx


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pki", required=True)
    ap.add_argument("--git-http", required=True)
    ap.add_argument("--kube-http", default="")
    ap.add_argument("--info", required=True)
    a = ap.parse_args()

    servers = {}
    for name in ("origin", "elsewhere", "tls"):
        s = ThreadingHTTPServer(("127.0.0.1", 0), handler(name))
        s.daemon_threads = True
        s.git_http = a.git_http
        servers[name] = s
        PORTS[name] = s.server_address[1]
    crt, key = issue(a.pki, "hostile-localhost", ["DNS:localhost", "IP:127.0.0.1"])
    servers["tls"].socket = tls_context(crt, key).wrap_socket(servers["tls"].socket, server_side=True)

    # tls-other: a certificate for another name in front of the plain origin listener.
    other_crt, other_key = issue(a.pki, "hostile-other", ["DNS:other.fluxs.test"])
    listen = socket.socket()
    listen.bind(("127.0.0.1", 0))
    listen.listen(64)
    PORTS["tlsOther"] = listen.getsockname()[1]
    forward(listen, PORTS["origin"], tls_context(other_crt, other_key), "tls-other")

    if a.kube_http:
        kube_crt, kube_key = issue(a.pki, "hostile-kube", ["DNS:kube.fluxs.test"])
        kl = socket.socket()
        kl.bind(("127.0.0.1", 0))
        kl.listen(64)
        PORTS["kubeSNI"] = kl.getsockname()[1]
        forward(kl, urllib.parse.urlsplit(a.kube_http).port, tls_context(kube_crt, kube_key), "kube-sni")

    for name, s in servers.items():
        threading.Thread(target=s.serve_forever, daemon=True).start()
    with open(a.info + ".tmp", "w") as f:
        json.dump(PORTS, f)
    os.replace(a.info + ".tmp", a.info)
    threading.Event().wait()


if __name__ == "__main__":
    sys.exit(main())
