"""GitLab, Gitea and Bitbucket Server REST API simulator for `bootstrap gitlab|gitea|bitbucket-server`.

One server answers the three APIs on their real paths: GitLab `/api/v4/...`, Gitea `/api/v1/...`, Bitbucket
Server `/rest/api/1.0/...` and `/rest/keys/1.0/...`, with the JSON shapes go-git-providers reads (projects and
repositories with their clone URLs, current user, groups/organizations/projects, deploy keys, GitLab deploy
tokens). Repositories it creates are real bare git repositories under --git-root/<forge>/<owner>/, so the test
git servers serve them. GET /__sim/state shows what was created and every request.

usage: forgesim.py --port N --git-root DIR --git-http URL --ssh-url-base URL --user LOGIN:TOKEN [--user ...]
                   [--group NAME:MEMBER,...]
"""

import json
import os
import re
import subprocess
import threading
import time
import urllib.parse

from simbase import JSONHandler, serve

NOW = lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())  # noqa: E731
FORGES = ("gitlab", "gitea", "bitbucket")


class State:
    def __init__(self, git_root, git_http, ssh_base, users, groups):
        self.lock = threading.Lock()
        self.git_root, self.git_http, self.ssh_base = git_root, git_http.rstrip("/"), ssh_base.rstrip("/")
        self.users = users      # token -> login
        self.groups = groups    # group -> set(member logins)
        self.repos = {}         # (forge, owner, name) -> dict
        self.next_id = 100
        self.requests = []

    def nid(self):
        self.next_id += 1
        return self.next_id


def init_bare(path, branch):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    subprocess.run(["git", "init", "--bare", "-q", "-b", branch, path], check=True)
    subprocess.run(["git", "--git-dir", path, "config", "http.receivepack", "true"], check=True)


class Handler(JSONHandler):
    server_version = "forgesim"

    def login(self):
        token = self.headers.get("PRIVATE-TOKEN", "")
        auth = self.headers.get("Authorization", "")
        for prefix in ("token ", "Bearer ", "bearer "):
            if auth.startswith(prefix):
                token = auth[len(prefix):].strip()
        if auth.startswith("Basic "):
            import base64
            try:
                token = base64.b64decode(auth[6:].strip()).decode().split(":", 1)[1]
            except Exception:
                token = ""
        return self.st.users.get(token)

    def route(self, method):
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)
        data = self.body() if method in ("POST", "PUT") else {}
        with self.st.lock:
            self.st.requests.append({"method": method, "path": path, "body": data, "time": time.time()})
        if path == "/__sim/state":
            with self.st.lock:
                self.reply(200, {"repos": [dict(r) for r in self.st.repos.values()], "requests": self.st.requests})
            return
        if data is None:
            self.reply(400, {"message": "invalid JSON"})
            return
        login = self.login()
        with self.st.lock:
            if path.startswith("/api/v4/"):
                self.gitlab(method, path[len("/api/v4"):], data, login)
            elif path.startswith("/api/v1/"):
                self.gitea(method, path[len("/api/v1"):], data, login)
            elif path.startswith("/rest/"):
                self.bitbucket(method, path, data, login)
            else:
                self.reply(404, {"message": "404 Not Found"})

    # -- shared ------------------------------------------------------------------------------
    def create(self, forge, owner, name, branch, private):
        r = {"id": self.st.nid(), "forge": forge, "owner": owner, "name": name, "private": bool(private),
             "default_branch": branch or "main", "created_at": NOW(), "keys": [], "tokens": []}
        init_bare(os.path.join(self.st.git_root, forge, owner, name + ".git"), r["default_branch"])
        self.st.repos[(forge, owner, name)] = r
        return r

    def clone(self, r):
        return "%s/git/%s/%s/%s.git" % (self.st.git_http, r["forge"], r["owner"], r["name"])

    def ssh(self, r):
        return "%s/%s/%s/%s.git" % (self.st.ssh_base, r["forge"], r["owner"], r["name"])

    def may_create(self, owner, login):
        return owner == login or login in self.st.groups.get(owner, set())

    def add_key(self, r, title, key, read_only):
        parts = (key or "").split()
        if len(parts) < 2 or not parts[0].startswith(("ssh-", "ecdsa-", "sk-")):
            return None, "key is invalid"
        if any(k["key"].split()[:2] == parts[:2] for k in r["keys"]):
            return None, "key has already been taken"
        k = {"id": self.st.nid(), "title": title, "key": " ".join(parts[:2]), "read_only": bool(read_only), "created_at": NOW()}
        r["keys"].append(k)
        return k, None

    # -- GitLab v4 -----------------------------------------------------------------------------
    def gl_project(self, r):
        kind = "user" if r["owner"] in self.st.users.values() else "group"
        return {"id": r["id"], "name": r["name"], "path": r["name"], "path_with_namespace": "%s/%s" % (r["owner"], r["name"]),
                "description": "", "default_branch": r["default_branch"], "visibility": "private" if r["private"] else "public",
                "http_url_to_repo": self.clone(r), "ssh_url_to_repo": self.ssh(r),
                "web_url": "http://%s:%d/%s/%s" % (self.server.server_address[0], self.server.server_address[1], r["owner"], r["name"]),
                "namespace": {"id": abs(hash(r["owner"])) % 10000, "name": r["owner"], "path": r["owner"], "kind": kind, "full_path": r["owner"]},
                "created_at": r["created_at"]}

    def gitlab(self, method, path, data, login):
        st = self.st
        if login is None:
            self.reply(401, {"message": "401 Unauthorized"})
            return
        if path == "/user" and method == "GET":
            self.reply(200, {"id": abs(hash(login)) % 10000, "username": login, "name": login, "state": "active"})
            return
        m = re.fullmatch(r"/groups/([^/]+)", path)
        if m and method == "GET":
            g = m.group(1)
            if g not in st.groups:
                self.reply(404, {"message": "404 Group Not Found"})
                return
            self.reply(200, {"id": abs(hash(g)) % 10000, "name": g, "path": g, "full_path": g, "visibility": "private"})
            return
        if path == "/projects" and method == "POST":
            owner = login
            nsid = data.get("namespace_id")
            if nsid:
                owner = next((g for g in st.groups if abs(hash(g)) % 10000 == nsid), None)
                if owner is None:
                    self.reply(404, {"message": "404 Namespace Not Found"})
                    return
                if login not in st.groups[owner]:
                    self.reply(403, {"message": "403 Forbidden"})
                    return
            name = data.get("name") or data.get("path")
            if (("gitlab", owner, name)) in st.repos:
                self.reply(400, {"message": {"name": ["has already been taken"]}})
                return
            r = self.create("gitlab", owner, name, data.get("default_branch"), data.get("visibility", "private") != "public")
            self.reply(201, self.gl_project(r))
            return
        m = re.fullmatch(r"/projects/(\d+)(/.*)?", path) or re.fullmatch(r"/projects/([^/]+/[^/]+)(/(?:deploy_keys|deploy_tokens).*)?", path)
        if m:
            if m.group(1).isdigit():
                r = next((x for x in st.repos.values() if x["forge"] == "gitlab" and str(x["id"]) == m.group(1)), None)
            else:
                owner, name = m.group(1).split("/", 1)
                r = st.repos.get(("gitlab", owner, name))
            if r is None:
                self.reply(404, {"message": "404 Project Not Found"})
                return
            rest = m.group(2) or ""
            if rest == "" and method == "GET":
                self.reply(200, self.gl_project(r))
                return
            if rest == "/deploy_keys" and method == "GET":
                self.reply(200, [{"id": k["id"], "title": k["title"], "key": k["key"], "can_push": not k["read_only"],
                                  "created_at": k["created_at"]} for k in r["keys"]])
                return
            if rest == "/deploy_keys" and method == "POST":
                k, err = self.add_key(r, data.get("title"), data.get("key"), not data.get("can_push", False))
                if err:
                    self.reply(400, {"message": {"key": [err]}})
                    return
                self.reply(201, {"id": k["id"], "title": k["title"], "key": k["key"], "can_push": not k["read_only"], "created_at": k["created_at"]})
                return
            if rest == "/deploy_tokens" and method == "GET":
                self.reply(200, [{k: v for k, v in t.items() if k != "token"} for t in r["tokens"]])
                return
            if rest == "/deploy_tokens" and method == "POST":
                t = {"id": st.nid(), "name": data.get("name"), "username": "gitlab+deploy-token-%d" % st.next_id,
                     "token": "gldt-%032x" % (st.next_id * 7919), "scopes": data.get("scopes") or [], "expired": False, "revoked": False}
                r["tokens"].append(t)
                st.users[t["token"]] = t["username"]
                self.reply(201, t)
                return
        self.reply(404, {"message": "404 Not Found"})

    # -- Gitea v1 ------------------------------------------------------------------------------
    def gt_repo(self, r):
        return {"id": r["id"], "name": r["name"], "full_name": "%s/%s" % (r["owner"], r["name"]), "private": r["private"],
                "owner": {"login": r["owner"], "username": r["owner"]}, "default_branch": r["default_branch"],
                "clone_url": self.clone(r), "ssh_url": self.ssh(r), "html_url": "", "created_at": r["created_at"]}

    def gitea(self, method, path, data, login):
        st = self.st
        if login is None:
            self.reply(401, {"message": "token is required"})
            return
        if path == "/user" and method == "GET":
            self.reply(200, {"id": abs(hash(login)) % 10000, "login": login, "username": login})
            return
        m = re.fullmatch(r"/orgs/([^/]+)", path)
        if m and method == "GET":
            if m.group(1) not in st.groups:
                self.reply(404, {"message": "The target couldn't be found."})
                return
            self.reply(200, {"id": abs(hash(m.group(1))) % 10000, "username": m.group(1), "name": m.group(1)})
            return
        m = re.fullmatch(r"/(user|orgs/([^/]+))/repos", path)
        if m and method == "POST":
            owner = m.group(2) or login
            if not self.may_create(owner, login):
                self.reply(403, {"message": "forbidden"})
                return
            name = data.get("name")
            if ("gitea", owner, name) in st.repos:
                self.reply(409, {"message": "The repository with the same name already exists."})
                return
            r = self.create("gitea", owner, name, data.get("default_branch"), data.get("private", False))
            self.reply(201, self.gt_repo(r))
            return
        m = re.fullmatch(r"/repos/([^/]+)/([^/]+)(/.*)?", path)
        if m:
            r = st.repos.get(("gitea", m.group(1), m.group(2)))
            if r is None:
                self.reply(404, {"message": "The target couldn't be found."})
                return
            rest = m.group(3) or ""
            if rest == "" and method == "GET":
                self.reply(200, self.gt_repo(r))
                return
            if rest == "/keys" and method == "GET":
                self.reply(200, [dict(k, fingerprint="") for k in r["keys"]])
                return
            if rest == "/keys" and method == "POST":
                k, err = self.add_key(r, data.get("title"), data.get("key"), data.get("read_only", True))
                if err:
                    self.reply(422, {"message": err})
                    return
                self.reply(201, k)
                return
        self.reply(404, {"message": "The target couldn't be found."})

    # -- Bitbucket Server (rest/api/1.0, rest/keys/1.0) ----------------------------------------
    def bb_repo(self, r):
        key = r["owner"]
        return {"id": r["id"], "slug": r["name"], "name": r["name"], "scmId": "git", "public": not r["private"],
                "project": {"key": key, "name": key, "type": "PERSONAL" if key.startswith("~") else "NORMAL"},
                "links": {"clone": [{"href": self.clone(r), "name": "http"}, {"href": self.ssh(r), "name": "ssh"}]}}

    def bitbucket(self, method, path, data, login):
        st = self.st
        if login is None:
            self.reply(401, {"errors": [{"message": "Authentication failed. Please check your credentials and try again."}]})
            return
        m = re.fullmatch(r"/rest/api/1\.0/users/([^/]+)", path)
        if m and method == "GET":
            u = m.group(1)
            if u not in st.users.values():
                self.reply(404, {"errors": [{"message": "User %s does not exist." % u}]})
                return
            self.reply(200, {"name": u, "slug": u, "id": abs(hash(u)) % 10000, "active": True, "type": "NORMAL"})
            return
        m = re.fullmatch(r"/rest/api/1\.0/projects/([^/]+)", path)
        if m and method == "GET":
            key = m.group(1)
            if key.lstrip("~") not in st.groups and key.lstrip("~") not in st.users.values():
                self.reply(404, {"errors": [{"message": "Project %s does not exist." % key}]})
                return
            self.reply(200, {"key": key, "name": key, "id": abs(hash(key)) % 10000})
            return
        m = re.fullmatch(r"/rest/api/1\.0/projects/([^/]+)/repos", path)
        if m and method == "POST":
            key = m.group(1)
            if not self.may_create(key.lstrip("~"), login):
                self.reply(401, {"errors": [{"message": "You are not permitted to create repositories in project %s." % key}]})
                return
            name = data.get("name")
            if ("bitbucket", key, name) in st.repos:
                self.reply(409, {"errors": [{"message": "This repository URL is already taken."}]})
                return
            r = self.create("bitbucket", key, name, data.get("defaultBranch"), not data.get("public", False))
            self.reply(201, self.bb_repo(r))
            return
        m = re.fullmatch(r"/rest/(api|keys)/1\.0/(projects|users)/([^/]+)/repos/([^/]+)(/.*)?", path)
        if m:
            key = m.group(3) if m.group(2) == "projects" else "~" + m.group(3)
            r = st.repos.get(("bitbucket", key, m.group(4)))
            if r is None:
                self.reply(404, {"errors": [{"message": "Repository %s/%s does not exist." % (key, m.group(4))}]})
                return
            rest = m.group(5) or ""
            if m.group(1) == "api" and rest == "" and method == "GET":
                self.reply(200, self.bb_repo(r))
                return
            if m.group(1) == "keys" and rest == "/ssh" and method == "GET":
                values = [{"key": {"id": k["id"], "text": k["key"], "label": k["title"]}, "repository": self.bb_repo(r),
                           "permission": "REPO_READ" if k["read_only"] else "REPO_WRITE"} for k in r["keys"]]
                self.reply(200, {"size": len(values), "limit": 25, "isLastPage": True, "start": 0, "values": values})
                return
            if m.group(1) == "keys" and rest == "/ssh" and method == "POST":
                key_obj = data.get("key") or {}
                k, err = self.add_key(r, key_obj.get("label"), key_obj.get("text"), data.get("permission", "REPO_READ") == "REPO_READ")
                if err:
                    self.reply(400, {"errors": [{"message": err}]})
                    return
                self.reply(201, {"key": {"id": k["id"], "text": k["key"], "label": k["title"]}, "repository": self.bb_repo(r),
                                 "permission": "REPO_READ" if k["read_only"] else "REPO_WRITE"})
                return
        self.reply(404, {"errors": [{"message": "not found"}]})



if __name__ == "__main__":
    serve(__doc__, Handler, State, "group")
