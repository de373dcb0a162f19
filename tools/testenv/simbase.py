"""What the forge simulators (githubsim.py, forgesim.py) share: a JSON request handler and the command line
that starts one on 127.0.0.1 with its users (LOGIN:TOKEN) and organisations or groups (NAME:MEMBER,MEMBER)."""
import argparse
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class JSONHandler(BaseHTTPRequestHandler):
    """Routes every method to self.route(method); replies JSON with the forge's content type and headers."""
    protocol_version = "HTTP/1.1"
    content_type = "application/json"
    extra_headers = {}

    def log_message(self, *a):
        pass

    @property
    def st(self):
        return self.server.state

    def reply(self, code, obj=None, headers=None):
        body = b"" if obj is None else json.dumps(obj, indent=1).encode()
        self.send_response(code)
        if obj is not None:
            self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in {**self.extra_headers, **(headers or {})}.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        """The request's JSON body, {} when empty, None when it is not JSON."""
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            return json.loads(raw) if raw else {}
        except ValueError:
            return None

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def do_PUT(self):
        self.route("PUT")

    def do_PATCH(self):
        self.route("PATCH")

    def do_DELETE(self):
        self.route("DELETE")


def serve(doc, handler, make_state, members_flag):
    """Parses the simulator's flags and serves until killed; make_state(git_root, git_http, ssh_base, users, members)."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--git-root", required=True)
    ap.add_argument("--git-http", required=True)
    ap.add_argument("--ssh-url-base", required=True)
    ap.add_argument("--user", action="append", default=[], help="LOGIN:TOKEN")
    ap.add_argument("--" + members_flag, action="append", default=[], help=members_flag.upper() + ":MEMBER,MEMBER")
    a = ap.parse_args()
    users = {}
    for u in a.user:
        login, token = u.split(":", 1)
        users[token] = login
    members = {}
    for o in getattr(a, members_flag):
        name, _, logins = o.partition(":")
        members[name] = set(m for m in logins.split(",") if m)
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), handler)
    srv.daemon_threads = True
    srv.state = make_state(a.git_root, a.git_http, a.ssh_url_base, users, members)
    srv.serve_forever()
