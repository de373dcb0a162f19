"""HTTP(S) front of the simulator: discovery, OpenAPI v3 stubs for kubectl's
field-validation check, resource routing, authentication, authorisation,
server-side printing, watch streams and the /__sim control endpoints."""

import collections
import email.parser
import hashlib
import http.client
import itertools
import json
import re
import socket
import ssl
import struct
import threading
import time
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import awsiam
import proto
import rbac
import registry
import selector
import tables
from api import ApiError

VERSION = {"major": "1", "minor": "33", "gitVersion": "v1.33.2", "gitCommit": "a57b6f7709f6c2722b92f07b8b4c48210a51fc40",
           "gitTreeState": "clean", "buildDate": "2025-06-17T18:32:07Z", "goVersion": "go1.24.4", "compiler": "gc",
           "platform": "linux/amd64"}

READ_VERBS = {"get", "list", "watch"}


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, api, users, tls=None, aws_iam=None):
        self.api = api
        self.users = users  # token -> (username, groups, restricted, read_all); see rbac.py
        self.aws_iam = aws_iam or []  # (access key, secret, cluster name)
        self.tls = tls
        self.log = collections.deque(maxlen=2000)
        self.log_lock = threading.Lock()
        # Every answered request, by user agent product, method and dry run (GET /__sim/counts): the log keeps only
        # the last 2000, the counts keep all.
        self.counts = collections.Counter()
        # Connections by arrival (each request's log entry names its connection and whether its TLS session was
        # resumed): what a client's handshakes cost is counted, not timed.
        self.connections = itertools.count(1)
        # KUBESIM_PROFILE=FILE (__main__): each connection's thread runs under cProfile (CPU time); the profiles are merged
        # into FILE when the simulator stops.
        self.profiles = None
        # KUBESIM_TIMELINE=FILE (__main__): one (start, end, thread CPU seconds, method) per request, from its request
        # line read to its answer sent, written to FILE as JSON when the simulator stops: how busy it was
        # (Benchmarks/kubesim_timeline.py).
        self.timeline = None
        self.date_cache = (None, "")  # (second, Date header value)
        # Decoded query strings (most requests of a run repeat a few): raw query -> parameters; copies handed out.
        self.queries = {}
        # partial_metadata_target's answers by Accept header value
        self.accepts = {}
        super().__init__(addr, Handler)

    def profiler(self):
        # the thread's CPU time, not wall time: waits for the client, the GIL or a busy machine's CPUs are left out
        import cProfile
        return cProfile.Profile(time.thread_time)

    def dump_profile(self, path):
        import pstats
        with self.log_lock:
            profiles = list(self.profiles or [])
        if profiles:
            stats = pstats.Stats(profiles[0])
            for p in profiles[1:]:
                stats.add(p)
            stats.dump_stats(path)

    def get_request(self):
        sock, addr = super().get_request()
        # Responses go out in several writes (headers, body): without TCP_NODELAY each one after the
        # first waits for the client's delayed ACK (~40 ms), which no real API server does.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr


class Headers(http.client.HTTPMessage):
    """The request headers as http.server parses them, with `get` (a dozen calls a request) answered from an index of
    the first value of each name instead of a scan that lower-cases every name; the index is rebuilt whenever the
    header list differs from the one it was built from, so it answers as HTTPMessage.get does."""
    _indexed = None
    _first = None
    _no_impersonation = False

    def impersonation_free(self):
        """True when no header name starts with Impersonate- (as rbac.impersonation_requests compares them): known
        for a block parse_headers split itself, while the header list is the one it split."""
        return self._no_impersonation and self._indexed == self._headers

    def get(self, name, failobj=None):
        if self._indexed != self._headers:
            first = {}
            for k, v in self._headers:
                lk = k.lower()
                if lk not in first:
                    # what HTTPMessage.get returns for it (header_fetch_parse is a function of name and value)
                    first[lk] = self.policy.header_fetch_parse(k, v)
            self._indexed, self._first = list(self._headers), first
        v = self._first.get(name.lower())
        return failobj if v is None else v


def split_simple_headers(body):
    """[(name, value)] of a block of header lines (each ending in LF) as email's compat32 policy splits them
    (header_source_parse: the name before the first colon; the value after it without the spaces and tabs that lead
    it and without the line end), when every line is simple: a name of printable ASCII without space (a token, and
    no colon: it is before the first one), a colon, a value without CR but for one before the LF (no continuation
    lines, no bare CR); else None."""
    if body and body[-1] != "\n":
        return None
    out = []
    for line in body.split("\n")[:-1]:
        name, colon, value = line.partition(":")
        if not colon or not name or not name.isascii() or not name.isprintable() or " " in name:
            return None
        if value[-1:] == "\r":
            value = value[:-1]
        if "\r" in value:
            return None
        out.append((name, value.lstrip(" \t")))
    return out


def parse_headers(fp, _class=http.client.HTTPMessage):
    """http.client.parse_headers, which http.server's parse_request calls: for Headers, a block of simple lines is
    split here, name and value as email's compat32 policy splits them (header_source_parse), instead of by the email
    package's feed parser (a quarter of the simulator's time per request); any other block, and any other class,
    goes to the parser."""
    if _class is not Headers:
        return _stdlib_parse_headers(fp, _class)
    block = buffered_header_block(fp)
    if block is not None:
        body, last = block
    else:
        lines = http.client._read_headers(fp)
        if not lines or lines[-1] not in (b"\r\n", b"\n"):
            return email.parser.Parser(_class=_class).parsestr(b"".join(lines).decode("iso-8859-1"))
        body, last = b"".join(lines[:-1]).decode("iso-8859-1"), lines[-1].decode("iso-8859-1")
    pairs = split_simple_headers(body)
    if pairs is None:
        return email.parser.Parser(_class=_class).parsestr(body + last)
    msg = _class()
    # what set_raw appends, one (name, value) per line, in order
    headers = msg._headers
    headers.extend(pairs)
    # Headers.get's index, built here: the first value of each name as HTTPMessage.get returns it. compat32's
    # header_fetch_parse returns a value unchanged unless it holds surrogates, which text decoded from ISO-8859-1
    # (code points up to U+00FF) never does.
    first = {}
    for k, v in headers:
        first.setdefault(k.lower(), v)
    msg._indexed, msg._first = list(headers), first
    # the names are ASCII tokens: k[:12].lower(), what rbac.impersonation_requests compares, is k.lower()[:12]
    # (no name holds a line feed: one search of the names joined by line feeds finds one that starts so)
    msg._no_impersonation = "\nimpersonate-" not in "\n" + "\n".join(first)
    # email's get_content_maintype without its header scans: the first Content-Type's type before any ';', lower-cased;
    # none or not one '/' is text/plain
    ctype = first.get("content-type")
    ctype = "text/plain" if ctype is None else ctype.partition(";")[0].strip().lower()
    if ctype.count("/") == 1 and ctype.split("/")[0] in ("multipart", "message"):
        return email.parser.Parser(_class=_class).parsestr(body + last)
    msg.set_payload("")
    return msg


# The end of a header block: a line that is CRLF or LF alone after the line before it (http.client._read_headers).
HEAD_END = re.compile(rb"\n\r?\n")


def buffered_header_block(fp):
    """(the header lines, the blank line) as text, read from fp, when fp's buffer already holds the whole block of at
    most 100 lines with the blank one (what _read_headers reads line by line; no line of it can pass _read_headers's
    64 KiB limit in a buffer this size); else None, with nothing read."""
    peek = getattr(fp, "peek", None)
    if peek is None:
        return None
    data = peek()
    if data[:1] == b"\n":
        end, start = 1, 0
    elif data[:2] == b"\r\n":
        end, start = 2, 0
    else:
        m = HEAD_END.search(data)
        if m is None:
            return None
        start, end = m.start() + 1, m.end()
    if data.count(b"\n", 0, end) > 100 or end > 65536:
        return None
    text = fp.read(end).decode("iso-8859-1")
    return text[:start], text[start:]


_stdlib_parse_headers = http.client.parse_headers
http.client.parse_headers = parse_headers

# json.dumps(obj, separators=(",", ":")) without a new encoder per call (json.dumps makes one for any non-default
# argument); an encoder keeps no state between encode calls.
COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))

# What a request target that urlsplit would only split at its '?' does not hold (see dispatch).
PLAIN_TARGET_EXCLUDED = re.compile(r"[\x00-\x20\x7f#]")

# A request line as every client here writes it: an upper-case method, a path of printable ASCII without spaces that
# starts with one '/', HTTP/1.1, CRLF or LF. str.split() finds the same three words in it (none of its characters is
# whitespace), and the path is not one parse_request rewrites ('//' at its start).
REQUEST_LINE = re.compile(rb"([A-Z]+) (/(?!/)[!-~]*) HTTP/1\.1\r?\n")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kubesim"
    MessageClass = Headers

    def log_message(self, fmt, *args):
        pass

    def date_time_string(self, timestamp=None):
        """http.server's Date value, formatted once a second (formatdate keeps whole seconds)."""
        if timestamp is not None:
            return super().date_time_string(timestamp)
        second = int(time.time())
        cached = self.server.date_cache
        if cached[0] != second:
            cached = (second, super().date_time_string(second))
            self.server.date_cache = cached
        return cached[1]

    # -- plumbing ------------------------------------------------------------------
    def setup(self):
        super().setup()
        self.connection_no = next(self.server.connections)
        self.tls_resumed = None
        if isinstance(self.connection, ssl.SSLSocket):
            try:
                self.connection.do_handshake()
            except (ssl.SSLError, OSError):
                self.close_connection = True
                raise
            self.tls_resumed = self.connection.session_reused

    def handle(self):
        prof = self.server.profiler() if self.server.profiles is not None else None
        if prof:
            prof.enable()
        try:
            super().handle()
        except (ConnectionError, ssl.SSLError, socket.timeout, OSError):
            pass
        finally:
            if prof:
                prof.disable()
                with self.server.log_lock:
                    self.server.profiles.append(prof)

    def parse_request(self):
        if self.server.timeline is not None:
            self.started = (time.monotonic(), time.thread_time())
        m = REQUEST_LINE.fullmatch(self.raw_requestline)
        if m is None:
            return super().parse_request()
        # What BaseHTTPRequestHandler.parse_request makes of such a line (three words, HTTP/1.1, a path that does not
        # start with '//'): HTTP/1.1 keeps the connection open unless a header says otherwise; then the same header
        # steps as there.
        self.command = m.group(1).decode("ascii")
        self.path = m.group(2).decode("ascii")
        self.request_version = "HTTP/1.1"
        self.requestline = self.raw_requestline.decode("iso-8859-1").rstrip("\r\n")
        self.close_connection = False
        try:
            self.headers = http.client.parse_headers(self.rfile, _class=self.MessageClass)
        except http.client.LineTooLong as err:
            self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Line too long", str(err))
            return False
        except http.client.HTTPException as err:
            self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Too many headers", str(err))
            return False
        conntype = self.headers.get("Connection", "")
        if conntype.lower() == "close":
            self.close_connection = True
        elif conntype.lower() == "keep-alive":
            self.close_connection = False
        expect = self.headers.get("Expect", "")
        if expect.lower() == "100-continue":
            if not self.handle_expect_100():
                return False
        return True

    def handle_one_request(self):
        self.started = None
        super().handle_one_request()
        if self.started is not None:
            t0, c0 = self.started
            # list.append is atomic: requests of several threads append without a lock
            self.server.timeline.append((t0, time.monotonic(), time.thread_time() - c0, self.command))

    def send_json(self, code, obj, headers=None):
        body = COMPACT_JSON.encode(obj).encode()
        if getattr(self, "reset_mid_body", False):
            self.reset_mid_body = False
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            self.drop()
            return
        # send_response's and send_header's bytes, written directly (log_request would log nothing: log_message)
        if not hasattr(self, "_headers_buffer"):
            self._headers_buffer = []
        self._headers_buffer.append(("%s %d %s\r\nServer: %s\r\nDate: %s\r\nContent-Type: application/json\r\n"
                                     "Content-Length: %d\r\nCache-Control: no-cache, private\r\n" % (
                                         self.protocol_version, code, self.responses[code][0] if code in self.responses else "",
                                         self.version_string(), self.date_time_string(), len(body))).encode("latin-1", "strict"))
        for k, v in (headers or {}).items():
            if isinstance(v, list):
                for x in v:
                    self.send_header(k, x)
            else:
                self.send_header(k, v)
        # The header block and the body leave in one write (one TLS record, one send) rather than two.
        self._headers_buffer.append(b"\r\n")
        if self.command != "HEAD":
            self._headers_buffer.append(body)
        self.flush_headers()
        self.record(code, len(body))

    def record(self, code, answered=0):
        agent = self.headers.get("User-Agent", "")
        with self.server.log_lock:
            self.server.log.append({"method": self.command, "path": self.path, "code": code,
                                    "userAgent": agent, "time": time.time(),
                                    "requestBytes": int(self.headers.get("Content-Length") or 0), "responseBytes": answered,
                                    "connection": getattr(self, "connection_no", 0), "tlsResumed": getattr(self, "tls_resumed", None)})
            if not self.path.startswith("/__sim"):
                self.server.counts[(agent.split("/")[0].split(" ")[0], self.command, "dryRun=All" in self.path)] += 1

    def send_error_status(self, e):
        h = dict(e.headers)
        self.send_json(e.code, e.status(), h)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            return self.rfile.read(n)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                line = self.rfile.readline().strip()
                size = int(line.split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                out += self.rfile.read(size)
                self.rfile.readline()
            return out
        return b""

    def do_GET(self):
        self.dispatch("GET")

    def do_HEAD(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_DELETE(self):
        self.dispatch("DELETE")

    # -- auth ------------------------------------------------------------------------
    def authenticate(self):
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            tok = auth[7:].strip()
            u = self.server.users.get(tok)
            if u:
                return u
            sa = self.server.api.sa_tokens.get(tok)
            if sa:
                # a bound token is valid while its ServiceAccount (the same one, by uid) exists
                o = self.server.api.store.get("", "serviceaccounts", sa[0], sa[1])
                if o is not None and o["metadata"].get("uid") == sa[2]:
                    return rbac.service_account_user(sa[0], sa[1])
                return None
            if tok.startswith(awsiam.PREFIX):
                for key, secret, cluster in self.server.aws_iam:
                    try:
                        return (awsiam.verify(tok, key, secret, cluster), ["system:masters", "system:authenticated"], False, True)
                    except ValueError:
                        continue
            return None
        if isinstance(self.connection, ssl.SSLSocket):
            try:
                cert = self.connection.getpeercert()
            except (ValueError, ssl.SSLError):
                cert = None
            if cert:
                cn = None
                for rdn in cert.get("subject", ()):
                    for k, v in rdn:
                        if k == "commonName":
                            cn = v
                for tok, u in self.server.users.items():
                    if u[0] == cn:
                        return u
        return None

    # -- dispatch ---------------------------------------------------------------------
    def dispatch(self, method):
        target = self.path
        if target.startswith("/") and not target.startswith("//") and not PLAIN_TARGET_EXCLUDED.search(target):
            # urlsplit of such a target (no scheme: it starts with '/'; no netloc: not '//'; nothing it strips or
            # removes: no space, tab, CR, LF or other control character; no fragment: no '#') is its path and the
            # query after the first '?'
            url_path, _, query = target.partition("?")
        else:
            url = urllib.parse.urlsplit(target)
            url_path, query = url.path, url.query
        params = self.server.queries.get(query)
        if params is None:
            params = {k: v[-1] for k, v in urllib.parse.parse_qs(query, keep_blank_values=True).items()}
            if len(self.server.queries) >= 512:
                self.server.queries.clear()
            self.server.queries[query] = params
        params = dict(params)
        path = url_path.rstrip("/") or "/"
        api = self.server.api
        try:
            raw = self.body() if method in ("POST", "PUT", "PATCH", "DELETE") else b""
            ctype = self.headers.get("Content-Type", "").split(";")[0].strip()
            if raw and ctype == "application/vnd.kubernetes.protobuf":
                try:
                    raw = json.dumps(proto.decode(raw)).encode()
                except proto.ProtoError as e:
                    raise ApiError(415, "UnsupportedMediaType", str(e), {})
            elif raw and ctype == "application/cbor":
                raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml", {})
            fault = None if path.startswith("/__sim") else api.take_fault(method, path, query)
            if fault:
                if fault["action"] == "hang":
                    # held for `delay` seconds (300 when unset) or until the client goes away; a request whose client
                    # went away is not served, as kube-apiserver cancels a request's context when its connection closes
                    if not self.hold(fault["delay"] or 300):
                        self.close_connection = True
                        return
                elif fault["delay"]:
                    time.sleep(fault["delay"])
                if fault["action"] == "drop":
                    self.drop()
                    return
                if fault["action"] == "reset":
                    # the request is served, then the connection is reset half-way through the response body
                    self.reset_mid_body = True
                if fault["status"]:
                    code = fault["status"]
                    reason = {429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable",
                              504: "Timeout"}.get(code, "InternalError")
                    msg = {429: "Too many requests, please try again later.",
                           503: "the server is currently unable to handle the request"}.get(code, "an error on the server (\"\") has prevented the request from succeeding")
                    headers = {}
                    details = {}
                    if fault.get("retryAfter") is not None:
                        headers["Retry-After"] = str(fault["retryAfter"])
                        details["retryAfterSeconds"] = int(fault["retryAfter"])
                    raise ApiError(code, reason, msg, details, headers)
            if path in ("/healthz", "/readyz", "/livez"):
                body = b"ok"
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(body)
                return
            if path == "/version":
                self.send_json(200, VERSION)
                return
            user = self.authenticate()
            if user is None:
                raise ApiError(401, "Unauthorized", "Unauthorized")
            # no Impersonate-* header: rbac.impersonate answers the user itself
            if not (isinstance(self.headers, Headers) and self.headers.impersonation_free()):
                try:
                    user, denied, details = rbac.impersonate(api.store, user, self.headers)
                except ValueError as e:
                    raise ApiError(500, "InternalError", "Internal error occurred: %s" % e)
                if user is None:
                    raise ApiError(403, "Forbidden", denied, details)
            if path.startswith("/__sim"):
                self.control(method, path, raw, user)
                return
            if path.startswith("/openapi/v3"):
                self.openapi(path)
                return
            if path.startswith("/openapi/v2"):
                raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
            if path == "/api":
                self.send_json(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                    {"clientCIDR": "0.0.0.0/0", "serverAddress": "%s:%d" % self.server.server_address[:2]}]})
                return
            if path == "/apis":
                self.send_json(200, self.group_list())
                return
            parts = path.strip("/").split("/")
            if parts[0] == "api" and len(parts) >= 2:
                group, version, rest = "", parts[1], parts[2:]
            elif parts[0] == "apis" and len(parts) >= 2:
                group = parts[1]
                if len(parts) == 2:
                    self.send_json(200, self.group(group))
                    return
                version, rest = parts[2], parts[3:]
            else:
                raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
            if not api.serves(group, version):
                raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
            if not rest:
                self.send_json(200, self.resource_list(group, version))
                return
            self.resource(method, group, version, rest, params, raw, user)
        except ApiError as e:
            self.send_error_status(e)
        except (ConnectionError, BrokenPipeError, ssl.SSLError):
            self.close_connection = True
        except Exception as e:  # a bug in the simulator: answer like the apiserver does
            import traceback
            traceback.print_exc()
            try:
                self.send_error_status(ApiError(500, "InternalError", "Internal error occurred: %s" % e))
            except Exception:
                self.close_connection = True

    def hold(self, seconds):
        """Waits up to `seconds`; False as soon as the client closed its connection (end of stream or reset on the raw
        socket, under TLS), True when the time passed with the client still waiting."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                data = socket.socket.recv(self.connection, 1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
                if data == b"":
                    return False
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                return False
            time.sleep(0.05)
        return True

    def drop(self):
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close_connection = True
        try:
            self.connection.close()
        except OSError:
            pass
        self.record(0)

    # -- discovery -------------------------------------------------------------------------
    def group(self, g):
        gv = self.server.api.groups()
        if g not in gv:
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        versions = [{"groupVersion": "%s/%s" % (g, v), "version": v} for v in gv[g]]
        return {"kind": "APIGroup", "apiVersion": "v1", "name": g, "versions": versions,
                "preferredVersion": self.preferred(g, gv[g])}

    def preferred(self, g, versions):
        api = self.server.api
        for rt in api.types.values():
            if rt.group == g and not rt.builtin and rt.storage_version in versions:
                return {"groupVersion": "%s/%s" % (g, rt.storage_version), "version": rt.storage_version}
        v = sorted(versions, key=version_priority)[0]
        return {"groupVersion": "%s/%s" % (g, v), "version": v}

    def group_list(self):
        gv = self.server.api.groups()
        names = [g for g in registry.GROUP_ORDER if g in gv] + sorted(g for g in gv if g and g not in registry.GROUP_ORDER)
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
            {"name": g, "versions": [{"groupVersion": "%s/%s" % (g, v), "version": v} for v in sorted(gv[g], key=version_priority)],
             "preferredVersion": self.preferred(g, gv[g])} for g in names]}

    def resource_list(self, group, version):
        out = []
        for rt in sorted(self.server.api.resources(group, version), key=lambda r: r.plural):
            e = {"name": rt.plural, "singularName": rt.singular if not rt.builtin else "", "namespaced": rt.namespaced,
                 "kind": rt.kind, "verbs": rt.verbs}
            if rt.short:
                e["shortNames"] = rt.short
            if rt.categories:
                e["categories"] = rt.categories
            e["storageVersionHash"] = hashlib.sha256(rt.group_resource.encode()).hexdigest()[:11]
            out.append(e)
            if rt.status:
                out.append({"name": rt.plural + "/status", "singularName": "", "namespaced": rt.namespaced,
                             "kind": rt.kind, "verbs": ["get", "patch", "update"]})
            if rt.scale:
                out.append({"name": rt.plural + "/scale", "singularName": "", "namespaced": rt.namespaced,
                             "group": "autoscaling", "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"]})
        gv = version if not group else "%s/%s" % (group, version)
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": out}

    def openapi(self, path):
        api = self.server.api
        gvs = sorted((g, v) for g, vs in api.groups().items() for v in vs)

        def key(g, v):
            return "api/v1" if not g else "apis/%s/%s" % (g, v)

        docs = {}
        for g, v in gvs:
            paths = {}
            for rt in api.resources(g, v):
                base = "/api/v1" if not g else "/apis/%s/%s" % (g, v)
                p = base + ("/namespaces/{namespace}" if rt.namespaced else "") + "/%s/{name}" % rt.plural
                params = [{"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
                          for n in ("dryRun", "fieldManager", "fieldValidation", "force")]
                paths[p] = {"patch": {"x-kubernetes-group-version-kind": {"group": g, "version": v, "kind": rt.kind},
                                      "x-kubernetes-action": "patch", "parameters": params,
                                      "responses": {"200": {"description": "OK"}}}}
            docs[key(g, v)] = {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": VERSION["gitVersion"]},
                               "paths": paths, "components": {"schemas": {}}}
        rel = path[len("/openapi/v3"):].strip("/")
        if not rel:
            root = {"paths": {}}
            for k, d in docs.items():
                h = hashlib.sha512(json.dumps(d, sort_keys=True).encode()).hexdigest()[:32].upper()
                root["paths"][k] = {"serverRelativeURL": "/openapi/v3/%s?hash=%s" % (k, h)}
            self.send_json(200, root)
            return
        if rel not in docs:
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        self.send_json(200, docs[rel])

    # -- control -----------------------------------------------------------------------------
    def control(self, method, path, raw, user):
        api = self.server.api
        if user[2]:
            raise ApiError(403, "Forbidden", "control endpoints need the admin user")
        body = json.loads(raw or b"{}") if raw else {}
        if path == "/__sim/faults":
            if method == "DELETE":
                with api.fault_lock:
                    api.faults.clear()
            elif method == "POST":
                api.add_fault(body)
            with api.fault_lock:
                self.send_json(200, {"faults": len(api.faults), "injected": api.faults_injected,
                                     "pending": [{"verb": f["verb"], "path": f["path"].pattern, "count": f["count"]} for f in api.faults]})
            return
        if path == "/__sim/workloads" and method == "POST":
            av = body.get("apiVersion", "apps/v1")
            g, _, v = av.rpartition("/")
            rt = next((t for t in api.types.values() if t.group == g and t.version == v and t.kind == body.get("kind")), None)
            if rt is None:
                raise ApiError(404, "NotFound", "unknown kind %s" % body.get("kind"))
            o = api.set_workload_state(rt, body.get("namespace", ""), body.get("name", ""), body.get("state", "ready"))
            self.send_json(200, o)
            return
        if path == "/__sim/config" and method == "POST":
            if "autoReady" in body:
                api.auto_ready = bool(body["autoReady"])
                if api.auto_ready:
                    for t in list(api.types.values()):
                        if t.builtin and t.kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"):
                            for o in api.store.list(t.group, t.plural):
                                api.set_workload_state(t, o["metadata"].get("namespace", ""), o["metadata"]["name"], "ready")
            self.send_json(200, {"autoReady": api.auto_ready})
            return
        if path == "/__sim/podlogs" and method == "POST":
            # {"namespace", "name", "container", "log"}: what the container wrote (kubelets would keep it)
            api.pod_logs[(body.get("namespace", ""), body.get("name", ""), body.get("container", ""))] = body.get("log", "")
            self.send_json(200, {"pods": len(api.pod_logs)})
            return
        if path == "/__sim/counts":
            # {"total": N, "counts": [{"agent": "fluxs", "method": "PATCH", "dryRun": true, "count": n}, ...]};
            # DELETE sets them to zero.
            with self.server.log_lock:
                if method == "DELETE":
                    self.server.counts.clear()
                counts = sorted(self.server.counts.items())
            self.send_json(200, {"total": sum(n for _, n in counts),
                                 "counts": [{"agent": a, "method": m, "dryRun": d, "count": n} for (a, m, d), n in counts]})
            return
        if path == "/__sim/requests":
            with self.server.log_lock:
                entries = list(self.server.log)
            if method == "DELETE":
                with self.server.log_lock:
                    self.server.log.clear()
                entries = []
            self.send_json(200, {"requests": entries})
            return
        raise ApiError(404, "NotFound", "no such control endpoint")

    def pod_log(self, pod, params):
        """GET pods/NAME/log as the kubelet answers through the apiserver: the container (required when the pod has
        several), tailLines, sinceSeconds/sinceTime (lines carry no times here, so they filter nothing), text/plain."""
        api = self.server.api
        ns, name = pod["metadata"].get("namespace", ""), pod["metadata"]["name"]
        containers = [c.get("name", "") for c in (pod.get("spec") or {}).get("containers") or []]
        container = params.get("container") or ""
        if not container:
            if len(containers) != 1:
                raise ApiError(400, "BadRequest", "a container name must be specified for pod %s, choose one of: [%s]" % (name, " ".join(containers)))
            container = containers[0]
        elif container not in containers:
            raise ApiError(400, "BadRequest", "container %s is not valid for pod %s" % (container, name))
        if params.get("sinceTime") and params.get("sinceSeconds"):
            raise ApiError(422, "Invalid", "PodLogOptions \"\" is invalid: [spec.sinceSeconds: Invalid value: \"%s\": at most one of sinceTime or sinceSeconds may be specified]" % params["sinceSeconds"])
        text = api.pod_logs.get((ns, name, container), "")
        lines = text.splitlines(True)
        if params.get("tailLines") not in (None, ""):
            n = int(params["tailLines"])
            lines = lines[-n:] if n > 0 else []
        body = "".join(lines).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    # -- resources ------------------------------------------------------------------------------
    def resource(self, method, group, version, rest, params, raw, user):
        api = self.server.api
        watch = params.get("watch") in ("1", "true")
        if rest and rest[0] == "watch":
            watch = True
            rest = rest[1:]
        ns = None
        names = api.resource_names(group, version)
        if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] in names and names[rest[2]].namespaced:
            ns = rest[1]
            rest = rest[2:]
        plural = rest[0]
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else ""
        rt = names.get(plural)
        if rt is None or len(rest) > 3:
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        if sub and not ((sub == "status" and rt.status) or (sub == "token" and rt.kind == "ServiceAccount" and rt.group == "" and method == "POST") or (sub == "finalize" and rt.kind == "Namespace") or (sub == "scale" and rt.scale)
                        or (sub == "log" and rt.kind == "Pod" and rt.group == "" and method == "GET")):
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        if rt.namespaced and ns is None and name is not None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        verb = {"GET": "get" if name else ("watch" if watch else "list"), "POST": "create", "PUT": "update",
                "PATCH": "patch", "DELETE": "delete" if name else "deletecollection"}[method]
        if verb not in rt.verbs and not (verb in ("get", "patch", "update", "create") and sub):
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {})
        self.authorize(user, verb, rt, ns, name, sub)
        manager = params.get("fieldManager") or self.headers.get("User-Agent", "").split("/")[0] or "unknown"
        accept = self.headers.get("Accept", "")
        table = "as=Table" in accept
        table_version = "meta.k8s.io/v1beta1" if "v=v1beta1" in accept and "v=v1;" not in accept else "meta.k8s.io/v1"
        if table:
            partial = None
        else:
            # a function of the header alone: kept per Accept value (a raising one is not kept, and raises each time)
            cache = self.server.accepts
            if accept in cache:
                partial = cache[accept]
            else:
                partial = partial_metadata_target(accept)
                if len(cache) >= 64:
                    cache.clear()
                cache[accept] = partial
        warnings = []
        if verb == "get":
            o = api.get_obj(rt, ns, name)
            if o is None:
                raise api.not_found(rt, name)
            if sub == "log":
                self.pod_log(o, params)
                return
            if sub == "scale":
                o = scale_of(rt, o)
            if table and not sub:
                self.send_json(200, tables.table_for(rt, [o], o["metadata"].get("resourceVersion", ""), table_version,
                                                     params.get("includeObject", "Metadata")))
            elif partial and not sub:
                kind, version = partial
                if kind != "PartialObjectMetadata":
                    raise ApiError(406, "NotAcceptable", "you requested PartialObjectMetadataList, but the requested object is not a list (*unstructured.Unstructured)", {})
                self.send_json(200, {"kind": kind, "apiVersion": version, "metadata": o["metadata"]})
            else:
                self.send_json(200, o)
            return
        if verb == "list":
            items, meta = api.list(rt, ns, params, metadata_only=bool(partial) and partial[0] == "PartialObjectMetadataList")
            if table:
                t = tables.table_for(rt, items, meta["resourceVersion"], table_version, params.get("includeObject", "Metadata"))
                t["metadata"].update({k: v for k, v in meta.items() if k != "resourceVersion"})
                self.send_json(200, t)
                return
            if partial:
                # kube-apiserver's asPartialObjectMetadataList: each item's whole metadata (managedFields too).
                kind, version = partial
                if kind != "PartialObjectMetadataList":
                    raise ApiError(406, "NotAcceptable", "you requested PartialObjectMetadata, but the requested object is a list (*unstructured.UnstructuredList)", {})
                self.send_json(200, {"kind": kind, "apiVersion": version, "metadata": meta,
                                     "items": [{"kind": "PartialObjectMetadata", "apiVersion": version, "metadata": it["metadata"]} for it in items]})
                return
            if rt.builtin:
                for it in items:
                    it.pop("apiVersion", None)
                    it.pop("kind", None)
            self.send_json(200, {"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": meta, "items": items})
            return
        if verb == "watch":
            self.watch(rt, ns, params, table, table_version)
            return
        if verb == "create" and sub == "token":
            self.token_request(api, ns, name, raw)
            return
        # Writes are atomic as etcd's transactions make them: a create of an existing name is AlreadyExists and an
        # update with a stale resourceVersion a Conflict, also when two clients race (Leases rely on it).
        # The answer is encoded and sent after the lock is released: the next write need not wait for this one's
        # response to leave.
        with api.lock:
            answer = self.write(api, rt, verb, ns, name, sub, params, raw, user, manager)
        if partial:
            answer = partial_answer(partial, answer)
        self.send_json(*answer)

    def write(self, api, rt, verb, ns, name, sub, params, raw, user, manager):
        """Does one write; returns the answer for send_json."""
        body = None
        if verb in ("create", "update"):
            try:
                body = json.loads(raw or b"null")
            except ValueError:
                try:
                    import yaml
                    body = yaml.safe_load(raw)
                except Exception:
                    raise ApiError(400, "BadRequest", "the body of the request was in an unknown format")
        if verb == "create":
            if name is not None:
                raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {})
            o, warnings = api.create(rt, ns, body, params, user, manager)
            return 201, o, self.warning_headers(warnings)
        if verb == "update":
            if sub == "finalize":
                sub = ""
            o, warnings = api.update(rt, ns, name, body, params, user, manager, sub)
            return 200, o, self.warning_headers(warnings)
        if verb == "patch":
            ctype = self.headers.get("Content-Type", "").split(";")[0].strip()
            existed = api.store.exists(rt.group, rt.plural, ns if rt.namespaced else "", name)
            o, warnings = api.patch(rt, ns, name, ctype, raw, params, user, manager, sub)
            return 201 if not existed and ctype == "application/apply-patch+yaml" else 200, o, self.warning_headers(warnings)
        if verb == "delete":
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                body = {}
            o = api.delete(rt, ns, name, params, body, user)
            return 200, o
        if verb == "deletecollection":
            items, _ = api.list(rt, ns, params)
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                body = {}
            deleted = []
            for it in items:
                try:
                    deleted.append(api.delete(rt, it["metadata"].get("namespace"), it["metadata"]["name"], params, body, user))
                except ApiError:
                    pass
            return 200, {"kind": rt.list_kind, "apiVersion": rt.api_version,
                         "metadata": {"resourceVersion": str(api.store.rv)}, "items": deleted}

    def warning_headers(self, warnings):
        if not warnings:
            return None
        return {"Warning": ['299 - "%s"' % w.replace('"', '\\"') for w in warnings]}

    def authorize(self, user, verb, rt, ns, name, sub):
        if rt.kind == "Namespace" and rt.group == "" and name:
            ns = name  # kube-apiserver's request info: /api/v1/namespaces/NAME is in the namespace NAME
        ok, reason = rbac.decide(self.server.api.store, user, verb, rt.group, rt.plural, sub,
                                 ns if (rt.namespaced or rt.kind == "Namespace") else None, name)
        if ok:
            return
        raise ApiError(403, "Forbidden", rbac.forbidden_message(user, verb, rt.group, rt.plural, sub, ns if (rt.namespaced or rt.kind == "Namespace") else None,
                                                                name, reason),
                       rbac.forbidden_details(rt.group, rt.plural, name))

    def token_request(self, api, ns, name, raw):
        """POST serviceaccounts/NAME/token (TokenRequest, what `kubectl create token` sends): a bearer token that
        authenticates as the ServiceAccount while it exists."""
        sa = api.store.get("", "serviceaccounts", ns, name)
        if sa is None:
            raise ApiError(404, "NotFound", 'serviceaccounts "%s" not found' % name, {"name": name, "kind": "serviceaccounts"})
        try:
            body = json.loads(raw or b"{}") or {}
        except ValueError:
            raise ApiError(400, "BadRequest", "the body of the request was in an unknown format")
        spec = body.get("spec") or {}
        seconds = int(spec.get("expirationSeconds") or 3600)
        if seconds < 600:
            raise ApiError(422, "Invalid", 'TokenRequest.authentication.k8s.io "%s" is invalid: spec.expirationSeconds: Invalid value: %d: may not specify a duration less than 10 minutes' % (name, seconds),
                           {"name": name, "group": "authentication.k8s.io", "kind": "TokenRequest"})
        import secrets as _secrets
        token = "kubesim-sa." + _secrets.token_urlsafe(24)
        api.sa_tokens[token] = (ns, name, sa["metadata"].get("uid"))
        exp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + seconds))
        self.send_json(201, {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
                             "metadata": {"name": name, "namespace": ns, "creationTimestamp": None},
                             "spec": {"audiences": spec.get("audiences") or ["https://kubernetes.default.svc.cluster.local"],
                                      "expirationSeconds": seconds, "boundObjectRef": spec.get("boundObjectRef")},
                             "status": {"token": token, "expirationTimestamp": exp}})

    def watch(self, rt, ns, params, table, table_version):
        api = self.server.api
        store = api.store
        try:
            lsel = selector.parse_label_selector(params.get("labelSelector"))
            fsel = selector.parse_field_selector(params.get("fieldSelector"), rt.kind)
        except selector.SelectorError as e:
            raise ApiError(400, "BadRequest", str(e))
        timeout = float(params.get("timeoutSeconds") or 1800)
        rv = params.get("resourceVersion") or ""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.record(200)

        def matches(o):
            return selector.label_match(lsel, (o.get("metadata") or {}).get("labels")) and selector.field_match(fsel, o)

        def send(evtype, o):
            # events hold the stored objects themselves: the version asked for is set on a copy of the top level
            o = api.to_version(rt, dict(o))
            if table and evtype != "ERROR":
                o = tables.table_for(rt, [o], o["metadata"].get("resourceVersion", ""), table_version,
                                     params.get("includeObject", "Metadata"))
            data = json.dumps({"type": evtype, "object": o}, separators=(",", ":")).encode() + b"\n"
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        try:
            with store.lock:
                last = store.rv
                if rv in ("", "0"):
                    initial = [o for o in store.list(rt.group, rt.plural, ns if rt.namespaced else None) if matches(o)]
                else:
                    last = int(rv)
                    initial = []
                    if last < store.oldest_rv() - 1 and store.events and store.events.maxlen == len(store.events):
                        gone = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                "message": "too old resource version: %d (%d)" % (last, store.oldest_rv()),
                                "reason": "Expired", "code": 410}
                        send("ERROR", gone)
                        initial = None
            if initial is None:
                self.wfile.write(b"0\r\n\r\n")
                return
            for o in initial:
                send("ADDED", o)
            deadline = time.time() + timeout
            while time.time() < deadline:
                with store.cond:
                    evs = store.events_since(last, rt.group, rt.plural, ns if rt.namespaced else None)
                    if not evs:
                        store.cond.wait(min(1.0, max(0.05, deadline - time.time())))
                        evs = store.events_since(last, rt.group, rt.plural, ns if rt.namespaced else None)
                for ev in evs:
                    last = ev[0]
                    if matches(ev[4]):
                        send(ev[1], ev[4])
            self.wfile.write(b"0\r\n\r\n")
        except (ConnectionError, BrokenPipeError, ssl.SSLError, OSError):
            self.close_connection = True


def partial_metadata_target(accept):
    """(kind, apiVersion) when the Accept header's first clause with an `as` parameter asks for PartialObjectMetadata
    or PartialObjectMetadataList of meta.k8s.io v1 or v1beta1 (client-go's metadata client:
    `application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1`), else None. A conversion to another group,
    version or kind is no clause kube-apiserver serves: when no clause is left, the answer is 406."""
    clauses = [c.strip() for c in accept.split(",") if c.strip()]
    plain = False
    for c in clauses:
        parts = [x.strip() for x in c.split(";")]
        params = dict(x.split("=", 1) for x in parts[1:] if "=" in x)
        if "as" not in params:
            if parts[0] in ("application/json", "application/yaml", "application/vnd.kubernetes.protobuf", "*/*", "application/*"):
                plain = True
                break
            continue
        if params.get("g") == "meta.k8s.io" and params.get("v") in ("v1", "v1beta1") and params["as"] in ("PartialObjectMetadata", "PartialObjectMetadataList") \
                and parts[0] in ("application/json", "application/yaml", "application/vnd.kubernetes.protobuf"):
            if parts[0] != "application/json":
                continue   # only JSON is answered here
            return params["as"], "meta.k8s.io/" + params["v"]
    if clauses and not plain and any("as=" in c for c in clauses):
        raise ApiError(406, "NotAcceptable", "only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf", {})
    return None


def partial_answer(partial, answer):
    """A write's answer as kube-apiserver's transformResponseObject makes it for an Accept asking for metadata (the
    PATCH, PUT, POST and DELETE handlers end with it, after the write): a Status as it is, an object as a
    PartialObjectMetadata of its whole metadata; PartialObjectMetadataList for one object is 406 (the write stays)."""
    code, o = answer[0], answer[1]
    if not isinstance(o, dict) or o.get("kind") == "Status":
        return answer
    kind, version = partial
    if isinstance(o.get("items"), list):   # a deletecollection's list
        if kind != "PartialObjectMetadataList":
            raise ApiError(406, "NotAcceptable", "you requested PartialObjectMetadata, but the requested object is a list (*unstructured.UnstructuredList)", {})
        return (code, {"kind": kind, "apiVersion": version, "metadata": o.get("metadata", {}),
                       "items": [{"kind": "PartialObjectMetadata", "apiVersion": version, "metadata": it.get("metadata", {})} for it in o["items"]]}) + tuple(answer[2:])
    if kind != "PartialObjectMetadata":
        raise ApiError(406, "NotAcceptable", "you requested PartialObjectMetadataList, but the requested object is not a list (*unstructured.Unstructured)", {})
    return (code, {"kind": kind, "apiVersion": version, "metadata": o.get("metadata", {})}) + tuple(answer[2:])


def scale_of(rt, o):
    spec = o.get("spec") or {}
    sel = (spec.get("selector") or {}).get("matchLabels") or {}
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: o["metadata"][k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in o["metadata"]},
            "spec": {"replicas": spec.get("replicas", 0)},
            "status": {"replicas": (o.get("status") or {}).get("replicas", 0),
                       "selector": ",".join("%s=%s" % kv for kv in sorted(sel.items()))}}


def version_priority(v):
    import re
    m = re.match(r"^v(\d+)(?:(alpha|beta)(\d+))?$", v)
    if not m:
        return (3, v)
    major = int(m.group(1))
    if not m.group(2):
        return (0, -major, 0)
    return (1 if m.group(2) == "beta" else 2, -major, -int(m.group(3)))
