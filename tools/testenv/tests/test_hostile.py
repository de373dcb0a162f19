"""Checks of the hostile server (tools/testenv/hostile.py) with real git as the oracle: the redirect rules fluxs
follows are git's, so git must behave on these routes as the fluxs tests expect fluxs to.

    python3 tools/testenv/testenv.py run -- python3 -m unittest discover -s tools/testenv/tests
"""

import json
import os
import shutil
import subprocess
import tempfile
import unittest
import urllib.request
import uuid

E = os.environ


def run(*args, check=True, cwd=None):
    e = dict(os.environ)
    e["GIT_TERMINAL_PROMPT"] = "0"
    e["GIT_ASKPASS"] = "/bin/false"
    p = subprocess.run(list(args), capture_output=True, text=True, env=e, cwd=cwd, timeout=120)
    if check and p.returncode != 0:
        raise AssertionError("%s failed (%d): %s" % (" ".join(args), p.returncode, p.stderr))
    return p


@unittest.skipUnless(E.get("FLUXS_TEST_HOSTILE"), "needs the test environment")
class HostileServer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.name = "hostile-%s" % uuid.uuid4().hex[:6]
        run("git", "init", "-q", "--bare", "-b", "main", os.path.join(E["FLUXS_TEST_GIT_ROOT"], cls.name + ".git"))
        cls.work = tempfile.mkdtemp()
        run("git", "init", "-q", "-b", "main", cls.work)
        with open(os.path.join(cls.work, "a.yaml"), "w") as f:
            f.write("a: 1\n")
        run("git", "add", "a.yaml", cwd=cls.work)
        run("git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "first", cwd=cls.work)
        run("git", "push", "-q", "%s/git/%s.git" % (E["FLUXS_TEST_GIT_HTTP"], cls.name), "main", cwd=cls.work)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.work, ignore_errors=True)

    def seen(self, marker):
        with urllib.request.urlopen(E["FLUXS_TEST_HOSTILE"] + "/__hostile/requests") as r:
            return [x for x in json.load(r)["requests"] if marker in x["path"]]

    def url(self, route, auth, creds=False):
        base = E["FLUXS_TEST_HOSTILE"]
        if creds:
            base = base.replace("://", "://%s:%s@" % (E["FLUXS_TEST_GIT_USER"], E["FLUXS_TEST_GIT_PASSWORD"]))
        return "%s/%s/%s/%s.git" % (base, route, auth, self.name)

    def test_git_follows_the_first_redirect_and_keeps_credentials_with_their_host(self):
        # Same origin (a renamed repository): git follows with the credentials.
        self.assertIn("refs/heads/main", run("git", "ls-remote", self.url("moved", "basic", creds=True)).stdout)
        # Another host: followed, but the credentials stay behind, so a password-protected repository fails.
        self.assertIn("refs/heads/main", run("git", "ls-remote", self.url("redirect", "git")).stdout)
        for route in ("redirect", "redirect-port"):
            p = run("git", "ls-remote", self.url(route, "basic", creds=True), check=False)
            self.assertNotEqual(p.returncode, 0, p.stdout)
        elsewhere = [x for x in self.seen(self.name) if x["listener"] == "elsewhere"]
        self.assertTrue(elsewhere)
        self.assertFalse([x for x in elsewhere if x["authorization"]], elsewhere)

    def test_endless_answers_and_certificates(self):
        # An endless advertisement is endless for git too (fluxs stops at its limit; git reads until it is killed).
        p = subprocess.run(["curl", "-s", "--max-filesize", "1000000", "--max-time", "5",
                            E["FLUXS_TEST_HOSTILE"] + "/endless-refs/x.git/info/refs?service=git-upload-pack"],
                           capture_output=True, timeout=30)
        self.assertGreater(len(p.stdout), 100000)
        self.assertTrue(p.stdout.startswith(b"001e# service=git-upload-pack\n0000"))
        # The other-name certificate is signed by the test CA but does not name localhost.
        p = run("git", "-c", "http.sslCAInfo=" + E["FLUXS_TEST_CA"], "ls-remote",
                E["FLUXS_TEST_HOSTILE_TLS_OTHER"] + "/real/git/%s.git" % self.name, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("localhost", p.stderr)


if __name__ == "__main__":
    unittest.main()
