"""GitHub REST API simulator for `bootstrap github` and commit statuses.

Serves the endpoints and JSON shapes flux's bootstrap uses (via
go-git-providers) on "/" like api.github.com and on "/api/v3" like GitHub
Enterprise. Repositories it creates are real bare git repositories under
--git-root, so the test git servers serve them.

usage: githubsim.py --port N --git-root DIR --git-http URL --ssh-url-base URL
                    --user LOGIN:TOKEN [--user ...] [--org NAME:MEMBER,...]
"""

import json
import os
import re
import subprocess
import tempfile
import threading
import time
import urllib.parse

from simbase import JSONHandler, serve

NOW = lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())  # noqa: E731


class State:
    def __init__(self, git_root, git_http, ssh_base, users, orgs):
        self.lock = threading.Lock()
        self.git_root = git_root
        self.git_http = git_http.rstrip("/")
        self.ssh_base = ssh_base.rstrip("/")
        self.users = users          # token -> login
        self.orgs = orgs            # org -> set(member logins)
        self.repos = {}             # (owner, name) -> dict
        self.next_id = 1000
        self.requests = []

    def nid(self):
        self.next_id += 1
        return self.next_id


def git(*args, cwd=None, env=None):
    e = dict(os.environ)
    e.update({"GIT_AUTHOR_NAME": "GitHub", "GIT_AUTHOR_EMAIL": "noreply@github.com",
              "GIT_COMMITTER_NAME": "GitHub", "GIT_COMMITTER_EMAIL": "noreply@github.com"})
    if env:
        e.update(env)
    return subprocess.run(["git"] + list(args), cwd=cwd, env=e, check=True, capture_output=True, text=True).stdout


def init_repo(path, branch, auto_init, name, description):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    git("init", "--bare", "-q", "-b", branch, path)
    git("--git-dir", path, "config", "http.receivepack", "true")
    if auto_init:
        with tempfile.TemporaryDirectory() as tmp:
            git("clone", "-q", path, tmp + "/w")
            with open(tmp + "/w/README.md", "w") as f:
                f.write("# %s\n%s\n" % (name, description or ""))
            git("checkout", "-q", "-b", branch, cwd=tmp + "/w")
            git("add", "README.md", cwd=tmp + "/w")
            git("commit", "-q", "-m", "Initial commit", cwd=tmp + "/w")
            git("push", "-q", "origin", branch, cwd=tmp + "/w")


class Handler(JSONHandler):
    server_version = "githubsim"
    content_type = "application/json; charset=utf-8"
    extra_headers = {"X-GitHub-Media-Type": "github.v3; format=json"}

    def error(self, code, message, errors=None):
        obj = {"message": message, "documentation_url": "https://docs.github.com/rest"}
        if errors:
            obj["errors"] = errors
        self.reply(code, obj)

    def user(self):
        auth = self.headers.get("Authorization", "")
        for prefix in ("token ", "Bearer ", "bearer "):
            if auth.startswith(prefix):
                return self.st.users.get(auth[len(prefix):].strip())
        return None

    def repo_json(self, r):
        owner_type = "Organization" if r["owner"] in self.st.orgs else "User"
        base = "http://%s:%d" % self.server.server_address[:2]
        return {
            "id": r["id"], "node_id": "R_%d" % r["id"], "name": r["name"], "full_name": "%s/%s" % (r["owner"], r["name"]),
            "private": r["private"], "visibility": "private" if r["private"] else "public",
            "owner": {"login": r["owner"], "id": abs(hash(r["owner"])) % 100000, "type": owner_type},
            "html_url": "%s/%s/%s" % (base, r["owner"], r["name"]),
            "description": r.get("description") or None,
            "clone_url": "%s/git/%s/%s.git" % (self.st.git_http, r["owner"], r["name"]),
            "git_url": "%s/git/%s/%s.git" % (self.st.git_http, r["owner"], r["name"]),
            "ssh_url": "%s/%s/%s.git" % (self.st.ssh_base, r["owner"], r["name"]),
            "default_branch": r["default_branch"], "created_at": r["created_at"], "updated_at": r["created_at"],
            "permissions": {"admin": True, "maintain": True, "push": True, "triage": True, "pull": True},
        }

    def paginate(self, items, query):
        per = int(query.get("per_page", ["30"])[0])
        page = int(query.get("page", ["1"])[0])
        start = (page - 1) * per
        chunk = items[start:start + per]
        last = max(1, (len(items) + per - 1) // per)
        links = []
        base = self.path.split("?")[0]
        def url(p):
            q = dict((k, v[0]) for k, v in query.items())
            q["page"] = str(p)
            q["per_page"] = str(per)
            return "<http://%s:%d%s?%s>" % (self.server.server_address[0], self.server.server_address[1], base, urllib.parse.urlencode(q))
        if page < last:
            links.append('%s; rel="next"' % url(page + 1))
            links.append('%s; rel="last"' % url(last))
        if page > 1:
            links.append('%s; rel="prev"' % url(page - 1))
            links.append('%s; rel="first"' % url(1))
        return chunk, ({"Link": ", ".join(links)} if links else {})

    def route(self, method):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        path = url.path
        if path.startswith("/api/v3"):
            path = path[len("/api/v3"):] or "/"
        data = self.body() if method in ("POST", "PUT", "PATCH") else {}
        with self.st.lock:
            self.st.requests.append({"method": method, "path": path, "body": data, "time": time.time()})
        if path == "/__sim/state":
            with self.st.lock:
                self.reply(200, {"repos": [dict(r, keys=r["keys"]) for r in self.st.repos.values()],
                                 "requests": self.st.requests})
            return
        if data is None:
            self.error(400, "Problems parsing JSON")
            return
        login = self.user()
        if login is None:
            self.error(401, "Bad credentials")
            return
        with self.st.lock:
            self.dispatch(method, path, query, data, login)

    def dispatch(self, method, path, query, data, login):
        st = self.st
        m = re.fullmatch(r"/user", path)
        if m and method == "GET":
            self.reply(200, {"login": login, "id": abs(hash(login)) % 100000, "type": "User", "name": login,
                             "email": "%s@example.com" % login})
            return
        m = re.fullmatch(r"/users/([^/]+)", path)
        if m and method == "GET":
            u = m.group(1)
            if u not in st.users.values():
                self.error(404, "Not Found")
                return
            self.reply(200, {"login": u, "id": abs(hash(u)) % 100000, "type": "User"})
            return
        m = re.fullmatch(r"/orgs/([^/]+)", path)
        if m and method == "GET":
            o = m.group(1)
            if o not in st.orgs:
                self.error(404, "Not Found")
                return
            self.reply(200, {"login": o, "id": abs(hash(o)) % 100000, "type": "Organization"})
            return
        m = re.fullmatch(r"/(user|orgs/([^/]+))/repos", path)
        if m and method == "POST":
            owner = m.group(2) or login
            if m.group(2):
                if owner not in st.orgs:
                    self.error(404, "Not Found")
                    return
                if login not in st.orgs[owner]:
                    self.error(403, "You need admin access to the organization before adding a repository to it.")
                    return
            name = data.get("name")
            if not name:
                self.error(422, "Validation Failed", [{"resource": "Repository", "code": "missing_field", "field": "name"}])
                return
            if (owner, name) in st.repos:
                self.error(422, "Repository creation failed.", [{"resource": "Repository", "code": "custom", "field": "name",
                                                                  "message": "name already exists on this account"}])
                return
            branch = data.get("default_branch") or "main"
            r = {"id": st.nid(), "owner": owner, "name": name, "private": bool(data.get("private", False)),
                 "description": data.get("description", ""), "default_branch": branch, "created_at": NOW(),
                 "keys": [], "teams": {}, "statuses": {}}
            init_repo(os.path.join(st.git_root, owner, name + ".git"), branch, bool(data.get("auto_init")), name, r["description"])
            st.repos[(owner, name)] = r
            self.reply(201, self.repo_json(r))
            return
        m = re.fullmatch(r"/repos/([^/]+)/([^/]+)(/.*)?", path)
        if m:
            owner, name, rest = m.group(1), m.group(2), m.group(3) or ""
            r = st.repos.get((owner, name))
            if r is None:
                self.error(404, "Not Found")
                return
            self.repo_routes(method, r, rest, query, data)
            return
        m = re.fullmatch(r"/orgs/([^/]+)/teams/([^/]+)(/repos/([^/]+)/([^/]+))?", path)
        if m:
            org, slug = m.group(1), m.group(2)
            if org not in st.orgs:
                self.error(404, "Not Found")
                return
            if not m.group(3):
                if method == "GET":
                    self.reply(200, {"name": slug, "slug": slug, "id": abs(hash(slug)) % 100000})
                    return
            else:
                r = st.repos.get((m.group(4), m.group(5)))
                if r is None:
                    self.error(404, "Not Found")
                    return
                if method == "PUT":
                    r["teams"][slug] = data.get("permission", "push")
                    self.reply(204)
                    return
                if method == "GET":
                    if slug not in r["teams"]:
                        self.error(404, "Not Found")
                        return
                    self.reply(200, dict(self.repo_json(r), permissions={r["teams"][slug]: True}))
                    return
                if method == "DELETE":
                    r["teams"].pop(slug, None)
                    self.reply(204)
                    return
        self.error(404, "Not Found")

    def repo_routes(self, method, r, rest, query, data):
        st = self.st
        if rest == "" and method == "GET":
            self.reply(200, self.repo_json(r))
            return
        if rest == "" and method == "PATCH":
            for k in ("private", "description", "default_branch"):
                if k in data:
                    r[k] = data[k]
            if "visibility" in data:
                r["private"] = data["visibility"] == "private"
            self.reply(200, self.repo_json(r))
            return
        if rest == "" and method == "DELETE":
            del st.repos[(r["owner"], r["name"])]
            self.reply(204)
            return
        if rest == "/keys" and method == "GET":
            chunk, headers = self.paginate(r["keys"], query)
            self.reply(200, chunk, headers)
            return
        if rest == "/keys" and method == "POST":
            key = (data.get("key") or "").strip()
            parts = key.split()
            if len(parts) < 2 or not parts[0].startswith(("ssh-", "ecdsa-", "sk-")):
                self.error(422, "Validation Failed", [{"resource": "PublicKey", "code": "custom", "field": "key",
                                                        "message": "key is invalid. You must supply a key in OpenSSH public key format"}])
                return
            if any(k["key"].split()[:2] == parts[:2] for k in r["keys"]):
                self.error(422, "Validation Failed", [{"resource": "PublicKey", "code": "custom", "field": "key",
                                                        "message": "key is already in use"}])
                return
            kid = st.nid()
            k = {"id": kid, "key": " ".join(parts[:2]), "title": data.get("title", ""), "read_only": bool(data.get("read_only", False)),
                 "verified": True, "created_at": NOW(), "url": "/repos/%s/%s/keys/%d" % (r["owner"], r["name"], kid)}
            r["keys"].append(k)
            self.reply(201, k)
            return
        m = re.fullmatch(r"/keys/(\d+)", rest)
        if m:
            k = next((k for k in r["keys"] if k["id"] == int(m.group(1))), None)
            if k is None:
                self.error(404, "Not Found")
                return
            if method == "GET":
                self.reply(200, k)
                return
            if method == "DELETE":
                r["keys"].remove(k)
                self.reply(204)
                return
        if rest == "/teams" and method == "GET":
            teams = [{"name": s, "slug": s, "permission": p} for s, p in sorted(r["teams"].items())]
            chunk, headers = self.paginate(teams, query)
            self.reply(200, chunk, headers)
            return
        m = re.fullmatch(r"/statuses/([0-9a-f]{40})", rest)
        if m and method == "POST":
            state = data.get("state")
            if state not in ("error", "failure", "pending", "success"):
                self.error(422, "Validation Failed", [{"resource": "Status", "code": "custom", "field": "state",
                                                        "message": "state is not included in the list"}])
                return
            s = {"id": st.nid(), "state": state, "target_url": data.get("target_url"), "description": data.get("description"),
                 "context": data.get("context", "default"), "created_at": NOW(), "updated_at": NOW()}
            r["statuses"].setdefault(m.group(1), []).insert(0, s)
            self.reply(201, s)
            return
        m = re.fullmatch(r"/commits/([^/]+)/statuses", rest)
        if m and method == "GET":
            chunk, headers = self.paginate(r["statuses"].get(m.group(1), []), query)
            self.reply(200, chunk, headers)
            return
        self.error(404, "Not Found")



if __name__ == "__main__":
    serve(__doc__, Handler, State, "org")
