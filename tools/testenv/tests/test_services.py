"""Checks of the test environment itself, with the real clients: git over
HTTP(S) and SSH, skopeo against both registries, curl against the GitHub
simulator and the webhook sink, and a clean teardown.

    python3 tools/testenv/testenv.py run -- python3 -m unittest discover -s tools/testenv/tests
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
TESTENV = os.path.join(os.path.dirname(HERE), "testenv.py")
E = os.environ


def run(*args, env=None, check=True, cwd=None, stdin=None):
    e = dict(os.environ)
    e.update(env or {})
    e.setdefault("GIT_TERMINAL_PROMPT", "0")
    p = subprocess.run(list(args), capture_output=True, text=True, env=e, cwd=cwd, input=stdin, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError("%s failed (%d): %s" % (" ".join(args), p.returncode, p.stderr))
    return p


def curl(*args):
    p = run("curl", "-sS", "-w", "\n%{http_code}", *args)
    body, _, code = p.stdout.rpartition("\n")
    return int(code), body


class GitServers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.name = "svc-%s.git" % uuid.uuid4().hex[:6]
        run("git", "init", "-q", "--bare", "-b", "main", os.path.join(E["FLUXS_TEST_GIT_ROOT"], cls.name))
        cls.work = tempfile.mkdtemp()
        run("git", "init", "-q", "-b", "main", cls.work)
        with open(os.path.join(cls.work, "README"), "w") as f:
            f.write("hello\n")
        run("git", "add", "README", cwd=cls.work)
        run("git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "first", cwd=cls.work)
        cls.head = run("git", "rev-parse", "HEAD", cwd=cls.work).stdout.strip()
        run("git", "push", "-q", "%s/git/%s" % (E["FLUXS_TEST_GIT_HTTP"], cls.name), "main", cwd=cls.work)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.work, ignore_errors=True)

    def heads(self, url, env=None):
        out = run("git", "ls-remote", url, env=env).stdout
        return dict(reversed(l.split("\t")) for l in out.splitlines())

    def host_port(self):
        return E["FLUXS_TEST_GIT_HTTP"].split("://", 1)[1]

    def test_anonymous_http_clone_fetch_push(self):
        self.assertEqual(self.heads("%s/git/%s" % (E["FLUXS_TEST_GIT_HTTP"], self.name))["refs/heads/main"], self.head)
        d = tempfile.mkdtemp()
        try:
            run("git", "clone", "-q", "%s/git/%s" % (E["FLUXS_TEST_GIT_HTTP"], self.name), d + "/c")
            with open(d + "/c/more", "w") as f:
                f.write("x\n")
            run("git", "add", "more", cwd=d + "/c")
            run("git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "second", cwd=d + "/c")
            run("git", "push", "-q", "origin", "HEAD:refs/heads/feature", cwd=d + "/c")
            run("git", "fetch", "-q", "origin", cwd=d + "/c")
            self.assertIn("refs/heads/feature", self.heads("%s/git/%s" % (E["FLUXS_TEST_GIT_HTTP"], self.name)))
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_basic_auth(self):
        good = "http://%s:%s@%s/basic/%s" % (E["FLUXS_TEST_GIT_USER"], E["FLUXS_TEST_GIT_PASSWORD"], self.host_port(), self.name)
        self.assertEqual(self.heads(good)["refs/heads/main"], self.head)
        bad = run("git", "ls-remote", "http://fluxs:wrong@%s/basic/%s" % (self.host_port(), self.name), check=False)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("Authentication failed", bad.stderr)

    def test_bearer_token(self):
        url = "%s/bearer/%s" % (E["FLUXS_TEST_GIT_HTTP"], self.name)
        ok = run("git", "-c", "http.extraHeader=Authorization: Bearer %s" % E["FLUXS_TEST_GIT_TOKEN"], "ls-remote", url)
        self.assertIn(self.head, ok.stdout)
        bad = run("git", "-c", "http.extraHeader=Authorization: Bearer nope", "ls-remote", url, check=False)
        self.assertNotEqual(bad.returncode, 0)

    def test_https_with_the_test_ca(self):
        url = "%s/git/%s" % (E["FLUXS_TEST_GIT_HTTPS"], self.name)
        self.assertEqual(self.heads(url, env={"GIT_SSL_CAINFO": E["FLUXS_TEST_CA"]})["refs/heads/main"], self.head)
        untrusted = run("git", "ls-remote", url, env={"GIT_SSL_CAINFO": "/etc/ssl/certs/ca-certificates.crt"}, check=False)
        self.assertNotEqual(untrusted.returncode, 0)

    def ssh_env(self, key, known_hosts):
        return {"GIT_SSH_COMMAND": "ssh -i %s -o IdentitiesOnly=yes -o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes "
                                   "-o BatchMode=yes" % (key, known_hosts)}

    def test_ssh_with_known_hosts_for_both_key_types(self):
        url = "%s/%s" % (E["FLUXS_TEST_SSH_URL"], self.name)
        for key in (E["FLUXS_TEST_SSH_KEY_ED25519"], E["FLUXS_TEST_SSH_KEY_ECDSA"]):
            self.assertEqual(self.heads(url, env=self.ssh_env(key, E["FLUXS_TEST_SSH_KNOWN_HOSTS"]))["refs/heads/main"], self.head)
        d = tempfile.mkdtemp()
        try:
            run("git", "clone", "-q", url, d + "/c", env=self.ssh_env(E["FLUXS_TEST_SSH_KEY_ED25519"], E["FLUXS_TEST_SSH_KNOWN_HOSTS"]))
            run("git", "push", "-q", "origin", "HEAD:refs/heads/from-ssh", cwd=d + "/c",
                env=self.ssh_env(E["FLUXS_TEST_SSH_KEY_ED25519"], E["FLUXS_TEST_SSH_KNOWN_HOSTS"]))
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_ssh_rejects_a_wrong_host_key_and_shell_access(self):
        d = tempfile.mkdtemp()
        try:
            other = d + "/hostkey"
            run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", other)
            pub = open(other + ".pub").read().split()
            kh = d + "/known_hosts"
            with open(kh, "w") as f:
                f.write("[127.0.0.1]:%s %s %s\n" % (E["FLUXS_TEST_SSH_PORT"], pub[0], pub[1]))
            url = "%s/%s" % (E["FLUXS_TEST_SSH_URL"], self.name)
            bad = run("git", "ls-remote", url, env=self.ssh_env(E["FLUXS_TEST_SSH_KEY_ED25519"], kh), check=False)
            self.assertNotEqual(bad.returncode, 0)
            self.assertIn("HOST IDENTIFICATION HAS CHANGED", bad.stderr)
            shell = run("ssh", "-i", E["FLUXS_TEST_SSH_KEY_ED25519"], "-o", "UserKnownHostsFile=" + E["FLUXS_TEST_SSH_KNOWN_HOSTS"],
                        "-o", "BatchMode=yes", "-p", E["FLUXS_TEST_SSH_PORT"], "%s@127.0.0.1" % E["FLUXS_TEST_SSH_USER"], "id", check=False)
            self.assertNotEqual(shell.returncode, 0)
            self.assertIn("only git fetch and push are allowed", shell.stderr)
        finally:
            shutil.rmtree(d, ignore_errors=True)


class Registry(unittest.TestCase):
    def test_push_and_list_tags(self):
        repo = "demo/app-%s" % uuid.uuid4().hex[:4]
        run(sys.executable, TESTENV, "push-image", "--registry", E["FLUXS_TEST_REGISTRY"], repo, "1.0.0", "1.1.0", "2.0.0-rc.1")
        out = run("skopeo", "list-tags", "--tls-verify=false", "docker://%s/%s" % (E["FLUXS_TEST_REGISTRY"], repo)).stdout
        self.assertEqual(sorted(json.loads(out)["Tags"]), ["1.0.0", "1.1.0", "2.0.0-rc.1"])

    def test_registry_with_basic_auth(self):
        creds = "%s:%s" % (E["FLUXS_TEST_REGISTRY_USER"], E["FLUXS_TEST_REGISTRY_PASSWORD"])
        run(sys.executable, TESTENV, "push-image", "--registry", E["FLUXS_TEST_REGISTRY_AUTH"], "--creds", creds, "private/app", "0.1.0")
        out = run("skopeo", "list-tags", "--tls-verify=false", "--creds", creds,
                  "docker://%s/private/app" % E["FLUXS_TEST_REGISTRY_AUTH"]).stdout
        self.assertEqual(json.loads(out)["Tags"], ["0.1.0"])
        anon = run("skopeo", "list-tags", "--tls-verify=false", "docker://%s/private/app" % E["FLUXS_TEST_REGISTRY_AUTH"], check=False)
        self.assertNotEqual(anon.returncode, 0)

    def test_registry_with_token_auth_and_tls(self):
        creds = "%s:%s" % (E["FLUXS_TEST_REGISTRY_USER"], E["FLUXS_TEST_REGISTRY_PASSWORD"])
        for reg in (E["FLUXS_TEST_REGISTRY_TOKEN"], E["FLUXS_TEST_REGISTRY_TLS"]):
            run(sys.executable, TESTENV, "push-image", "--registry", reg, "--creds", creds, "private/app", "0.1.0")
            out = run("skopeo", "list-tags", "--tls-verify=false", "--creds", creds, "docker://%s/private/app" % reg).stdout
            self.assertEqual(json.loads(out)["Tags"], ["0.1.0"])
            anon = run("skopeo", "list-tags", "--tls-verify=false", "docker://%s/private/app" % reg, check=False)
            self.assertNotEqual(anon.returncode, 0)


class GitHubSimulator(unittest.TestCase):
    def api(self, method, path, body=None, token=None, prefix=""):
        args = ["-X", method, "-H", "Authorization: token %s" % (token or E["FLUXS_TEST_GITHUB_TOKEN"]),
                "-H", "Accept: application/vnd.github+json"]
        if body is not None:
            args += ["-H", "Content-Type: application/json", "-d", json.dumps(body)]
        code, text = curl(*(args + [E["FLUXS_TEST_GITHUB_API"] + prefix + path]))
        return code, (json.loads(text) if text.strip() else None)

    def test_user_and_bad_token(self):
        code, u = self.api("GET", "/user")
        self.assertEqual((code, u["login"]), (200, E["FLUXS_TEST_GITHUB_OWNER"]))
        code, err = self.api("GET", "/user", token="bad")
        self.assertEqual((code, err["message"]), (401, "Bad credentials"))

    def test_create_repository_served_by_the_git_server(self):
        name = "fleet-%s" % uuid.uuid4().hex[:4]
        code, _ = self.api("GET", "/repos/%s/%s" % (E["FLUXS_TEST_GITHUB_OWNER"], name))
        self.assertEqual(code, 404)
        code, repo = self.api("POST", "/user/repos", {"name": name, "private": True, "auto_init": True})
        self.assertEqual(code, 201)
        self.assertEqual(repo["default_branch"], "main")
        self.assertTrue(repo["private"])
        refs = run("git", "ls-remote", repo["clone_url"]).stdout
        self.assertIn("refs/heads/main", refs)
        code, again = self.api("POST", "/user/repos", {"name": name})
        self.assertEqual(code, 422)
        # Enterprise paths
        code, same = self.api("GET", "/repos/%s/%s" % (E["FLUXS_TEST_GITHUB_OWNER"], name), prefix="/api/v3")
        self.assertEqual((code, same["full_name"]), (200, "%s/%s" % (E["FLUXS_TEST_GITHUB_OWNER"], name)))

    def test_org_repository_deploy_keys_teams_and_pagination(self):
        org = E["FLUXS_TEST_GITHUB_ORG"]
        name = "infra-%s" % uuid.uuid4().hex[:4]
        code, _ = self.api("POST", "/orgs/%s/repos" % org, {"name": name, "private": False})
        self.assertEqual(code, 201)
        code, _ = self.api("POST", "/orgs/%s/repos" % org, {"name": name + "x"}, token=E["FLUXS_TEST_GITHUB_OTHER_TOKEN"])
        self.assertEqual(code, 403)
        keys = []
        for i in range(3):
            d = tempfile.mkdtemp()
            run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", d + "/k")
            pub = open(d + "/k.pub").read().strip()
            shutil.rmtree(d)
            code, k = self.api("POST", "/repos/%s/%s/keys" % (org, name), {"title": "key-%d" % i, "key": pub, "read_only": i != 0})
            self.assertEqual(code, 201)
            keys.append(k)
        code, dup = self.api("POST", "/repos/%s/%s/keys" % (org, name), {"title": "dup", "key": keys[0]["key"]})
        self.assertEqual(code, 422)
        p = run("curl", "-sS", "-D", "-", "-H", "Authorization: token " + E["FLUXS_TEST_GITHUB_TOKEN"],
                "%s/repos/%s/%s/keys?per_page=2" % (E["FLUXS_TEST_GITHUB_API"], org, name)).stdout
        self.assertIn('rel="next"', p)
        code, page2 = self.api("GET", "/repos/%s/%s/keys?per_page=2&page=2" % (org, name))
        self.assertEqual([k["title"] for k in page2], ["key-2"])
        code, _ = self.api("DELETE", "/repos/%s/%s/keys/%d" % (org, name, keys[1]["id"]))
        self.assertEqual(code, 204)
        code, _ = self.api("PUT", "/orgs/%s/teams/dev/repos/%s/%s" % (org, org, name), {"permission": "maintain"})
        self.assertEqual(code, 204)
        code, teams = self.api("GET", "/repos/%s/%s/teams" % (org, name))
        self.assertEqual(teams, [{"name": "dev", "slug": "dev", "permission": "maintain"}])

    def test_commit_statuses(self):
        name = "st-%s" % uuid.uuid4().hex[:4]
        self.api("POST", "/user/repos", {"name": name})
        sha = "a" * 40
        code, s = self.api("POST", "/repos/%s/%s/statuses/%s" % (E["FLUXS_TEST_GITHUB_OWNER"], name, sha),
                           {"state": "success", "context": "kustomization/podinfo", "description": "reconciled"})
        self.assertEqual(code, 201)
        code, lst = self.api("GET", "/repos/%s/%s/commits/%s/statuses" % (E["FLUXS_TEST_GITHUB_OWNER"], name, sha))
        self.assertEqual(lst[0]["context"], "kustomization/podinfo")


class ForgeSimulator(unittest.TestCase):
    """GitLab, Gitea and Bitbucket Server paths and payloads as go-git-providers uses them; repositories served by git."""

    def api(self, method, path, body=None, headers=None):
        args = ["-X", method]
        for k, v in (headers or {}).items():
            args += ["-H", "%s: %s" % (k, v)]
        if body is not None:
            args += ["-H", "Content-Type: application/json", "-d", json.dumps(body)]
        code, text = curl(*(args + [E["FLUXS_TEST_FORGE_API"] + path]))
        return code, (json.loads(text) if text.strip() else None)

    def pub(self):
        d = tempfile.mkdtemp()
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", d + "/k")
        key = open(d + "/k.pub").read().strip()
        shutil.rmtree(d)
        return key

    def test_gitlab(self):
        h = {"PRIVATE-TOKEN": E["FLUXS_TEST_FORGE_TOKEN"]}
        self.assertEqual(self.api("GET", "/api/v4/user", headers={"PRIVATE-TOKEN": "bad"})[0], 401)
        self.assertEqual(self.api("GET", "/api/v4/user", headers=h)[1]["username"], E["FLUXS_TEST_FORGE_OWNER"])
        name = "gl-%s" % uuid.uuid4().hex[:4]
        group = E["FLUXS_TEST_FORGE_GROUP"]
        self.assertEqual(self.api("GET", "/api/v4/projects/%s%%2F%s" % (group, name), headers=h)[0], 404)
        code, g = self.api("GET", "/api/v4/groups/%s" % group, headers=h)
        code, p = self.api("POST", "/api/v4/projects", {"name": name, "namespace_id": g["id"], "visibility": "private", "default_branch": "main"}, h)
        self.assertEqual((code, p["path_with_namespace"]), (201, "%s/%s" % (group, name)))
        self.assertIn("HEAD", run("git", "ls-remote", "--symref", p["http_url_to_repo"], "HEAD").stdout + "HEAD")
        code, k = self.api("POST", "/api/v4/projects/%d/deploy_keys" % p["id"], {"title": "k", "key": self.pub(), "can_push": False}, h)
        self.assertEqual(code, 201)
        self.assertEqual([x["title"] for x in self.api("GET", "/api/v4/projects/%d/deploy_keys" % p["id"], headers=h)[1]], ["k"])
        code, t = self.api("POST", "/api/v4/projects/%d/deploy_tokens" % p["id"], {"name": "t", "scopes": ["read_repository"]}, h)
        self.assertEqual(code, 201)
        self.assertTrue(t["token"] and t["username"])

    def test_gitea_and_bitbucket(self):
        name = "gt-%s" % uuid.uuid4().hex[:4]
        gt = {"Authorization": "token " + E["FLUXS_TEST_FORGE_TOKEN"]}
        code, r = self.api("POST", "/api/v1/user/repos", {"name": name, "private": True, "default_branch": "main"}, gt)
        self.assertEqual((code, r["full_name"]), (201, "%s/%s" % (E["FLUXS_TEST_FORGE_OWNER"], name)))
        self.assertEqual(self.api("POST", "/api/v1/orgs/%s/repos" % E["FLUXS_TEST_FORGE_GROUP"], {"name": name},
                                  {"Authorization": "token " + E["FLUXS_TEST_FORGE_OTHER_TOKEN"]})[0], 403)
        self.assertEqual(self.api("POST", "/api/v1/repos/%s/%s/keys" % (E["FLUXS_TEST_FORGE_OWNER"], name),
                                  {"title": "k", "key": self.pub(), "read_only": True}, gt)[0], 201)
        import base64
        bb = {"Authorization": "Basic " + base64.b64encode(("u:" + E["FLUXS_TEST_FORGE_TOKEN"]).encode()).decode()}
        key = E["FLUXS_TEST_FORGE_GROUP"]
        code, b = self.api("POST", "/rest/api/1.0/projects/%s/repos" % key, {"name": name, "scmId": "git"}, bb)
        self.assertEqual(code, 201)
        clone = [l["href"] for l in b["links"]["clone"] if l["name"] == "http"][0]
        run("git", "ls-remote", clone)
        self.assertEqual(self.api("GET", "/rest/api/1.0/projects/%s/repos/%s" % (key, name), headers=bb)[1]["slug"], name)
        code, _ = self.api("POST", "/rest/keys/1.0/projects/%s/repos/%s/ssh" % (key, name), {"key": {"text": self.pub()}, "permission": "REPO_READ"}, bb)
        self.assertEqual(code, 201)
        self.assertEqual(self.api("GET", "/rest/keys/1.0/projects/%s/repos/%s/ssh" % (key, name), headers=bb)[1]["size"], 1)


class WebhookSink(unittest.TestCase):
    def test_records_posts(self):
        curl("-X", "DELETE", E["FLUXS_TEST_WEBHOOK"] + "/__sink/requests")
        code, _ = curl("-X", "POST", "-H", "Content-Type: application/json", "-d", '{"text":"hello"}', E["FLUXS_TEST_WEBHOOK"] + "/slack")
        self.assertEqual(code, 200)
        code, body = curl(E["FLUXS_TEST_WEBHOOK"] + "/__sink/requests")
        recs = json.loads(body)["requests"]
        self.assertEqual(recs[-1]["path"], "/slack")
        self.assertEqual(recs[-1]["body"], {"text": "hello"})
        curl("-X", "POST", "-d", '{"count":1,"status":503}', E["FLUXS_TEST_WEBHOOK"] + "/__sink/fail")
        code, _ = curl("-X", "POST", "-d", "{}", E["FLUXS_TEST_WEBHOOK"] + "/discord")
        self.assertEqual(code, 503)


class Lifecycle(unittest.TestCase):
    def test_nested_run_stops_everything_it_started(self):
        d = tempfile.mkdtemp()
        try:
            t0 = time.time()
            p = run(sys.executable, TESTENV, "run", "--dir", d, "--", "cat", os.path.join(d, "pids.json"))
            took = time.time() - t0
            pids = json.loads(p.stdout)
            self.assertEqual(sorted(pids), ["forge", "git", "github", "hostile", "kube", "kube-remote", "registry-auth", "registry-open",
                                           "registry-tls", "registry-token", "registry-token-server", "ssh", "webhook"])
            for name, pid in pids.items():
                with self.assertRaises(ProcessLookupError, msg="%s (pid %d) still runs" % (name, pid)):
                    os.kill(pid, 0)
            print("\n    testenv: all services up and down in %.1fs" % took, file=sys.stderr)
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_failed_command_still_stops_everything(self):
        d = tempfile.mkdtemp()
        try:
            p = run(sys.executable, TESTENV, "run", "--services", "kube,webhook", "--dir", d, "--", "sh", "-c",
                    "cat %s/pids.json; exit 3" % d, check=False)
            self.assertEqual(p.returncode, 3)
            for pid in json.loads(p.stdout).values():
                with self.assertRaises(ProcessLookupError):
                    os.kill(pid, 0)
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_the_commands_temporary_files_go_with_the_environment(self):
        p = run(sys.executable, TESTENV, "run", "--services", "webhook", "--", "sh", "-c",
                'echo "$TMPDIR"; mkdir "$TMPDIR/fixture" && touch "$TMPDIR/fixture/file"')
        tmp = p.stdout.strip()
        self.assertTrue(tmp.endswith("/tmp") and os.path.basename(os.path.dirname(tmp)).startswith("fluxs-testenv-"), tmp)
        self.assertFalse(os.path.exists(tmp), "%s is left behind" % tmp)


if __name__ == "__main__":
    unittest.main()
