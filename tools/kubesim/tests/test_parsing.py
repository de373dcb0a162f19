"""kubesim's own request parsing (tools/kubesim/server.py: the request line, the header block, the query split, the
uids) against what http.server, the email package, urllib.parse and uuid make of the same input, on requests built
here at random from pieces that hit each shortcut and each way out of it. Needs no test environment:

    python3 -m unittest discover -s tools/kubesim/tests -p test_parsing.py
"""

import email.parser
import http.client
import io
import os
import random
import sys
import unittest
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import server  # noqa: E402
import api  # noqa: E402

NAMES = ["Host", "User-Agent", "Accept", "Content-Type", "Content-Length", "Authorization", "Impersonate-User",
         "impersonate-group", "IMPERSONATE-EXTRA-scopes", "Connection", "Expect", "X-Odd_Name!", "Accept-Encoding"]
VALUES = ["", " ", "application/json", "  lead", "trail  ", "\tt", "a:b:c", "caf\xe9", "multipart/form-data; b=1",
          "message/rfc822", "close", "keep-alive", "100-continue", "12", "x\ty"]
ODD_LINES = [" continued", "\tcontinued", "NoColon", ": empty name", "Sp ace: v", "Bad\x7f: v", "A:\rb", "N\xe9me: v",
             "Two-CR: v\r", "Tab\tname: v", "Colon:: v"]


def random_block(rng):
    lines = []
    for _ in range(rng.randrange(0, 12)):
        if rng.random() < 0.08:
            lines.append(rng.choice(ODD_LINES))
        else:
            lines.append("%s:%s%s" % (rng.choice(NAMES), rng.choice(["", " ", "  ", "\t"]), rng.choice(VALUES)))
    eol = rng.choice(["\r\n", "\n"])
    return "".join(line + (eol if rng.random() < 0.9 else rng.choice(["\r\n", "\n"])) for line in lines) + eol


class _Plain(BaseHTTPRequestHandler):
    """http.server's own parse_request, on the stdlib's header parser and message class."""
    MessageClass = http.client.HTTPMessage
    protocol_version = "HTTP/1.1"

    def __init__(self, raw):
        self.rfile = io.BufferedReader(io.BytesIO(raw), 8192)
        self.wfile = io.BytesIO()
        self.raw_requestline = self.rfile.readline(65537)
        self.client_address = ("127.0.0.1", 0)
        self.request_version = "HTTP/0.9"

    def log_message(self, *a):
        pass


class _Sim(server.Handler):
    def __init__(self, raw):
        self.rfile = io.BufferedReader(io.BytesIO(raw), 8192)
        self.wfile = io.BytesIO()
        self.raw_requestline = self.rfile.readline(65537)
        self.client_address = ("127.0.0.1", 0)
        self.request_version = "HTTP/0.9"

        class S:
            timeline = None
            date_cache = (None, "")
        self.server = S()


def stdlib_headers(text):
    return email.parser.Parser(_class=http.client.HTTPMessage).parsestr(text)


class Parsing(unittest.TestCase):
    def test_header_blocks_as_the_email_parser_splits_them(self):
        rng = random.Random(13)
        for i in range(3000):
            text = random_block(rng)
            want = stdlib_headers(text)
            got = server.parse_headers(io.BufferedReader(io.BytesIO(text.encode("iso-8859-1") + b"rest"), 8192),
                                       _class=server.Headers)
            self.assertEqual(got.items(), want.items(), repr(text))
            for name in NAMES + ["content-type", "absent"]:
                self.assertEqual(got.get(name), want.get(name), (name, repr(text)))
                self.assertEqual(got.get_all(name), want.get_all(name), (name, repr(text)))
            self.assertEqual(got.get_content_maintype(), want.get_content_maintype(), repr(text))
            self.assertEqual(got.is_multipart(), want.is_multipart(), repr(text))
            if not want.is_multipart():
                self.assertEqual(got.get_payload(), want.get_payload(), repr(text))
            asks = any(k[:12].lower() == "impersonate-" for k in want.keys())
            self.assertFalse(asks and got.impersonation_free(), repr(text))

    def test_header_block_not_in_the_buffer_or_too_long(self):
        # the block longer than the reader's buffer, and more than 100 lines: read line by line, limits as before
        long_block = "".join("X-H%d: %s\r\n" % (i, "v" * 200) for i in range(60)) + "\r\n"
        got = server.parse_headers(io.BufferedReader(io.BytesIO(long_block.encode()), 8192), _class=server.Headers)
        self.assertEqual(got.items(), stdlib_headers(long_block).items())
        many = "".join("X-H%d: v\r\n" % i for i in range(101)) + "\r\n"
        with self.assertRaises(http.client.HTTPException):
            server.parse_headers(io.BufferedReader(io.BytesIO(many.encode()), 8192), _class=server.Headers)

    def test_request_lines_as_parse_request_reads_them(self):
        rng = random.Random(7)
        lines = ["GET / HTTP/1.1", "GET /api/v1?x=1 HTTP/1.1", "PATCH /a/b%20c HTTP/1.1", "get /x HTTP/1.1",
                 "GET //evil HTTP/1.1", "GET /x HTTP/1.0", "GET /x HTTP/2.0", "GET /x", "GET  /x HTTP/1.1",
                 "GET /x\xa0y HTTP/1.1", "GET /x HTTP/1.1 extra", "DELETE /caf\xe9 HTTP/1.1", "GET /x HTTP/1.01"]
        for i in range(600):
            line = rng.choice(lines) + rng.choice(["\r\n", "\n"])
            raw = (line + random_block(rng)).encode("iso-8859-1") + b"body"
            plain, sim = _Plain(raw), _Sim(raw)
            ok_plain, ok_sim = plain.parse_request(), sim.parse_request()
            self.assertEqual(ok_sim, ok_plain, repr(raw))
            for attr in ("command", "path", "request_version", "requestline", "close_connection"):
                self.assertEqual(getattr(sim, attr, None), getattr(plain, attr, None), (attr, repr(raw)))
            if ok_plain:
                self.assertEqual(sim.headers.items(), plain.headers.items(), repr(raw))
            self.assertEqual(sim.rfile.read(), plain.rfile.read(), repr(raw))
            self.assertEqual(sim.wfile.getvalue()[:12], plain.wfile.getvalue()[:12], repr(raw))

    def test_query_split_as_urlsplit(self):
        targets = ["/", "/api/v1", "/api/v1?", "/a?b=1&c=2?d", "/a#frag?x", "/a?x#f", "/a b?c", "/a\tb?c", "//h/p?q",
                   "http://h/p?q", "/caf\xe9?x=\xe9", "/a:b?c"]
        for t in targets:
            url = urllib.parse.urlsplit(t)
            if t.startswith("/") and not t.startswith("//") and not server.PLAIN_TARGET_EXCLUDED.search(t):
                path, _, query = t.partition("?")
                self.assertEqual((path, query), (url.path, url.query), t)

    def test_uids_as_uuid4_makes_them(self):
        a = api.API.__new__(api.API)
        a.uid_random = random.Random(3)
        twin = random.Random(3)
        for _ in range(2000):
            self.assertEqual(a.new_uid(), str(uuid.UUID(int=twin.getrandbits(128), version=4)))


if __name__ == "__main__":
    unittest.main()
