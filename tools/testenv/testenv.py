#!/usr/bin/env python3
"""The test environment of fluxs: starts what a test needs on free 127.0.0.1
ports, waits until each answers, writes an env file, and stops exactly the
processes it started (by pid), also when the test fails or is interrupted.

Services:
  kube      the Kubernetes API simulator (tools/kubesim), HTTPS with its own CA
  git       git smart HTTP: lighttpd + `git http-backend` (anonymous, basic, bearer; HTTP and HTTPS)
  ssh       git over SSH: Debian's sshd, key-only, restricted to git-upload/receive-pack
  registry  Debian's docker-registry: open, basic auth, token auth (tools/testenv/tokenserver.py), TLS with basic auth
  github    GitHub REST API simulator (repositories are real bare repos served by `git`)
  forge     GitLab, Gitea and Bitbucket Server REST API simulator (one server, their real paths; bare repos too)
  webhook   webhook sink recording notifications
  hostile   a hostile HTTP server for security tests (tools/testenv/hostile.py): redirects, endless refs,
            headers and bodies, TLS certificates for other names

usage:
  testenv.py run [--services LIST] [--dir DIR] -- CMD [ARGS...]
        start, run CMD with the environment, stop; exits with CMD's status.
        CMD's TMPDIR is DIR/tmp, removed with DIR: a run leaves nothing in /tmp
  testenv.py up [--services LIST] --dir DIR
        start and stay up until interrupted (pids in DIR/pids.json, env in DIR/env)
  testenv.py down --dir DIR
        stop the processes recorded by `up`
  testenv.py push-image --registry HOST:PORT REPO TAG [TAG...] [--creds USER:PASS]
        push small OCI images (one file naming the tag) with skopeo

Services default to all. The environment variables written are listed in
docs/testing.md.
"""

import argparse
import atexit
import base64
import gzip
import hashlib
import io
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools", "kubesim"))
import pki  # noqa: E402

ALL = ["kube", "remote", "git", "ssh", "registry", "github", "forge", "webhook", "hostile"]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_tcp(port, what, timeout=20, proc=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("%s exited with status %s before answering" % (what, proc.returncode))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("%s did not answer on port %d within %ds" % (what, port, timeout))


class Env:
    def __init__(self, d):
        self.dir = os.path.abspath(d)
        os.makedirs(self.dir, exist_ok=True)
        self.procs = []   # (name, Popen)
        self.vars = {"FLUXS_TESTENV_DIR": self.dir}
        self.pki = os.path.join(self.dir, "pki")
        self.ca = pki.ensure_ca(self.pki)
        self.vars["FLUXS_TEST_CA"] = self.ca

    def spawn(self, name, args, log, env=None, cwd=None):
        e = dict(os.environ)
        if env:
            e.update(env)
        out = open(os.path.join(self.dir, log), "ab")
        p = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=e, cwd=cwd,
                             start_new_session=True)
        self.procs.append((name, p))
        return p

    def stop(self):
        for name, p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.time() + 5
        for name, p in self.procs:
            try:
                p.wait(max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
        self.procs = []

    # -- services ------------------------------------------------------------------
    def kube(self):
        state = os.path.join(self.dir, "kube")
        info = os.path.join(state, "info.json")
        if os.path.exists(info):
            os.remove(info)
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
        key = "AKIA" + "".join(secrets.choice(alphabet) for _ in range(16))
        secret = secrets.token_urlsafe(30)[:40]
        cluster = "fluxs-test"
        p = self.spawn("kube", [sys.executable, os.path.join(ROOT, "tools", "kubesim"), "--state-dir", state,
                                "--http-port", "0", "--aws-iam", "%s:%s:%s" % (key, secret, cluster)], "kube.log")
        self.vars.update({"FLUXS_TEST_AWS_ACCESS_KEY_ID": key, "FLUXS_TEST_AWS_SECRET_ACCESS_KEY": secret,
                          "FLUXS_TEST_EKS_CLUSTER": cluster})
        i = self.wait_kubesim(p, info, "kube")
        self.vars.update({
            "KUBECONFIG": i["kubeconfig"], "FLUXS_TEST_KUBECONFIG": i["kubeconfig"], "FLUXS_TEST_KUBE_SERVER": i["https"],
            "FLUXS_TEST_KUBE_HTTP": i["http"] or "", "FLUXS_TEST_KUBE_CA": i["ca"],
            "FLUXS_TEST_KUBE_ADMIN_TOKEN": i["adminToken"], "FLUXS_TEST_KUBE_VIEWER_TOKEN": i["viewerToken"],
            "FLUXS_TEST_KUBE_CLIENT_CERT": i["clientCert"], "FLUXS_TEST_KUBE_CLIENT_KEY": i["clientKey"],
        })

    def wait_kubesim(self, p, info, log):
        deadline = time.time() + 20
        while not os.path.exists(info):
            if p.poll() is not None:
                raise RuntimeError("kubesim exited with status %s; see %s/%s.log" % (p.returncode, self.dir, log))
            if time.time() > deadline:
                raise RuntimeError("kubesim did not start within 20s")
            time.sleep(0.05)
        with open(info) as f:
            return json.load(f)

    def remote(self):
        """A second API server with its own CA and tokens: the remote cluster of spec.kubeConfig."""
        state = os.path.join(self.dir, "kube-remote")
        info = os.path.join(state, "info.json")
        if os.path.exists(info):
            os.remove(info)
        p = self.spawn("kube-remote", [sys.executable, os.path.join(ROOT, "tools", "kubesim"), "--state-dir", state],
                       "kube-remote.log")
        i = self.wait_kubesim(p, info, "kube-remote")
        self.vars.update({
            "FLUXS_TEST_REMOTE_KUBECONFIG": i["kubeconfig"], "FLUXS_TEST_REMOTE_KUBE_SERVER": i["https"],
            "FLUXS_TEST_REMOTE_KUBE_CA": i["ca"], "FLUXS_TEST_REMOTE_KUBE_ADMIN_TOKEN": i["adminToken"],
        })

    def git_root(self):
        root = os.path.join(self.dir, "git", "repos")
        os.makedirs(root, exist_ok=True)
        self.vars["FLUXS_TEST_GIT_ROOT"] = root
        return root

    def git(self):
        root = self.git_root()
        d = os.path.join(self.dir, "git")
        www = os.path.join(d, "www")
        os.makedirs(www, exist_ok=True)
        crt, key = pki.issue(self.pki, "git-server", "localhost", server=True)
        pem = os.path.join(d, "server.pem")
        with open(pem, "w") as f:
            f.write(open(crt).read() + open(key).read())
        os.chmod(pem, 0o600)
        http, https = free_port(), free_port()
        user, password, token = "fluxs", secrets.token_hex(8), secrets.token_hex(12)
        cgi = os.path.join(HERE, "git-http-cgi.sh")
        blocks = []
        for prefix, mode in (("/git", "none"), ("/basic", "basic"), ("/bearer", "bearer")):
            blocks.append('''$HTTP["url"] =~ "^%s/" {
    cgi.assign = ("" => "")
    setenv.add-environment = ("GIT_PROJECT_ROOT" => "%s", "GIT_HTTP_EXPORT_ALL" => "1", "FLUXS_GIT_AUTH" => "%s",
                              "FLUXS_GIT_USER" => "%s", "FLUXS_GIT_PASSWORD" => "%s", "FLUXS_GIT_TOKEN" => "%s",
                              "FLUXS_GIT_REQUEST_LOG" => "%s")
}''' % (prefix, root, mode, user, password, token, os.path.join(d, "requests.log")))
        conf = '''server.modules = ("mod_alias", "mod_setenv", "mod_cgi", "mod_openssl")
server.document-root = "%(www)s"
server.bind = "127.0.0.1"
server.port = %(http)d
server.errorlog = "%(d)s/lighttpd-error.log"
server.max-request-size = 0
server.stream-request-body = 0
alias.url = ("/git/" => "%(cgi)s/", "/basic/" => "%(cgi)s/", "/bearer/" => "%(cgi)s/")
%(blocks)s
$SERVER["socket"] == "127.0.0.1:%(https)d" {
    ssl.engine = "enable"
    ssl.pemfile = "%(pem)s"
}
''' % {"www": www, "http": http, "https": https, "d": d, "cgi": cgi, "blocks": "\n".join(blocks), "pem": pem}
        cf = os.path.join(d, "lighttpd.conf")
        with open(cf, "w") as f:
            f.write(conf)
        p = self.spawn("git", ["/usr/sbin/lighttpd", "-D", "-f", cf], "git.log")
        wait_tcp(http, "lighttpd (git http)", proc=p)
        wait_tcp(https, "lighttpd (git https)", proc=p)
        self.vars.update({
            "FLUXS_TEST_GIT_HTTP": "http://127.0.0.1:%d" % http, "FLUXS_TEST_GIT_HTTPS": "https://localhost:%d" % https,
            "FLUXS_TEST_GIT_USER": user, "FLUXS_TEST_GIT_PASSWORD": password, "FLUXS_TEST_GIT_TOKEN": token,
            "FLUXS_TEST_GIT_REQUEST_LOG": os.path.join(d, "requests.log"),
        })

    def ssh(self):
        root = self.git_root()
        d = os.path.join(self.dir, "ssh")
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o700)
        for t in ("ed25519", "ecdsa", "rsa"):
            k = os.path.join(d, "ssh_host_%s_key" % t)
            if not os.path.exists(k):
                subprocess.run(["ssh-keygen", "-q", "-t", t, "-N", "", "-f", k], check=True)
        keys = {}
        for t, extra in (("ed25519", []), ("ecdsa", ["-b", "384"])):
            k = os.path.join(d, "client_%s" % t)
            if not os.path.exists(k):
                subprocess.run(["ssh-keygen", "-q", "-t", t, "-N", "", "-C", "fluxs-test", "-f", k] + extra, check=True)
            keys[t] = k
        ak = os.path.join(d, "authorized_keys")
        with open(ak, "w") as f:
            for k in keys.values():
                f.write(open(k + ".pub").read())
        port = free_port()
        user = os.environ.get("USER") or subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
        conf = os.path.join(d, "sshd_config")
        with open(conf, "w") as f:
            f.write("""Port %(port)d
ListenAddress 127.0.0.1
HostKey %(d)s/ssh_host_ed25519_key
HostKey %(d)s/ssh_host_ecdsa_key
HostKey %(d)s/ssh_host_rsa_key
PidFile %(d)s/sshd.pid
AuthorizedKeysFile %(ak)s
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin prohibit-password
AllowUsers %(user)s
AllowTcpForwarding no
X11Forwarding no
PermitTTY no
LogLevel ERROR
ForceCommand %(shell)s %(root)s
""" % {"port": port, "d": d, "ak": ak, "user": user, "shell": os.path.join(HERE, "git-ssh-shell.sh"), "root": root})
        if os.geteuid() == 0 and not os.path.isdir("/run/sshd"):
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        p = self.spawn("ssh", ["/usr/sbin/sshd", "-D", "-e", "-f", conf], "ssh.log")
        wait_tcp(port, "sshd", proc=p)
        kh = os.path.join(d, "known_hosts")
        with open(kh, "w") as f:
            for t in ("ed25519", "ecdsa", "rsa"):
                pub = open(os.path.join(d, "ssh_host_%s_key.pub" % t)).read().split()
                f.write("[127.0.0.1]:%d %s %s\n" % (port, pub[0], pub[1]))
        self.vars.update({
            "FLUXS_TEST_SSH_PORT": str(port), "FLUXS_TEST_SSH_USER": user, "FLUXS_TEST_SSH_KNOWN_HOSTS": kh,
            "FLUXS_TEST_SSH_KEY_ED25519": keys["ed25519"], "FLUXS_TEST_SSH_KEY_ECDSA": keys["ecdsa"],
            "FLUXS_TEST_SSH_AUTHORIZED_KEYS": ak, "FLUXS_TEST_SSH_URL": "ssh://%s@127.0.0.1:%d" % (user, port),
        })

    @staticmethod
    def bcrypt(password):
        """docker-registry's htpasswd wants bcrypt: libcrypt through Python's crypt module
        (present up to Python 3.12), else the htpasswd command (apache2-utils)."""
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            try:
                import crypt
                return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))
            except ImportError:
                pass
        if shutil.which("htpasswd"):
            out = subprocess.run(["htpasswd", "-nbB", "u", password], capture_output=True, text=True, check=True).stdout
            return out.strip().split(":", 1)[1]
        raise RuntimeError("cannot make a bcrypt hash: Python's crypt module is gone (3.13+); install apache2-utils")

    def registry(self):
        d = os.path.join(self.dir, "registry")
        os.makedirs(d, exist_ok=True)
        user, password = "fluxs", secrets.token_hex(8)
        htp = os.path.join(d, "htpasswd")
        with open(htp, "w") as f:
            f.write("%s:%s\n" % (user, self.bcrypt(password)))
        # The token service of the token-auth instance: an RSA key and its self-signed certificate (the registry's
        # rootcertbundle; tokens carry it in x5c).
        tkey, tcert = os.path.join(d, "token.key"), os.path.join(d, "token.crt")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", tkey, "-out", tcert, "-days", "3650",
                        "-subj", "/CN=fluxs-token"], check=True, capture_output=True)
        token_port = free_port()
        crt, key = pki.issue(self.pki, "registry-server", "localhost", server=True)
        out = {}
        for name, auth in (("open", None), ("auth", "htpasswd"), ("token", "token"), ("tls", "htpasswd")):
            port = free_port()
            conf = os.path.join(d, "%s.yml" % name)
            with open(conf, "w") as f:
                f.write("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n"
                        "    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:%d\n  secret: %s\n"
                        % (os.path.join(d, "data-" + name), port, secrets.token_hex(8)))
                if name == "tls":
                    f.write("  tls:\n    certificate: %s\n    key: %s\n" % (crt, key))
                if auth == "htpasswd":
                    f.write("auth:\n  htpasswd:\n    realm: fluxs-test\n    path: %s\n" % htp)
                elif auth == "token":
                    f.write("auth:\n  token:\n    realm: http://127.0.0.1:%d/token\n    service: fluxs-registry\n"
                            "    issuer: fluxs-token\n    rootcertbundle: %s\n" % (token_port, tcert))
            p = self.spawn("registry-" + name, ["/usr/bin/docker-registry", "serve", conf], "registry-%s.log" % name)
            wait_tcp(port, "docker-registry (%s)" % name, proc=p)
            out[name] = port
        p = self.spawn("registry-token-server", [sys.executable, os.path.join(HERE, "tokenserver.py"), "--port", str(token_port),
                                                 "--key", tkey, "--cert", tcert, "--issuer", "fluxs-token", "--service", "fluxs-registry",
                                                 "--user", "%s:%s" % (user, password)], "registry-token-server.log")
        wait_tcp(token_port, "registry token server", proc=p)
        self.vars.update({
            "FLUXS_TEST_REGISTRY": "127.0.0.1:%d" % out["open"], "FLUXS_TEST_REGISTRY_AUTH": "127.0.0.1:%d" % out["auth"],
            "FLUXS_TEST_REGISTRY_TOKEN": "127.0.0.1:%d" % out["token"], "FLUXS_TEST_REGISTRY_TOKEN_SERVER": "http://127.0.0.1:%d" % token_port,
            "FLUXS_TEST_REGISTRY_TLS": "localhost:%d" % out["tls"],
            "FLUXS_TEST_REGISTRY_USER": user, "FLUXS_TEST_REGISTRY_PASSWORD": password,
        })

    def github(self):
        root = self.git_root()
        port = free_port()
        token, other = secrets.token_hex(20), secrets.token_hex(20)
        git_http = self.vars.get("FLUXS_TEST_GIT_HTTP", "http://127.0.0.1:0")
        ssh_base = self.vars.get("FLUXS_TEST_SSH_URL", "ssh://git@127.0.0.1")
        p = self.spawn("github", [sys.executable, os.path.join(HERE, "githubsim.py"), "--port", str(port), "--git-root", root,
                                  "--git-http", git_http, "--ssh-url-base", ssh_base, "--user", "fluxs-user:" + token,
                                  "--user", "other-user:" + other, "--org", "fluxs-org:fluxs-user"], "github.log")
        wait_tcp(port, "GitHub simulator", proc=p)
        self.vars.update({
            "FLUXS_TEST_GITHUB_API": "http://127.0.0.1:%d" % port, "FLUXS_TEST_GITHUB_TOKEN": token,
            "FLUXS_TEST_GITHUB_OWNER": "fluxs-user", "FLUXS_TEST_GITHUB_ORG": "fluxs-org",
            "FLUXS_TEST_GITHUB_OTHER_TOKEN": other,
        })

    def forge(self):
        root = self.git_root()
        port = free_port()
        token, other = secrets.token_hex(20), secrets.token_hex(20)
        git_http = self.vars.get("FLUXS_TEST_GIT_HTTP", "http://127.0.0.1:0")
        ssh_base = self.vars.get("FLUXS_TEST_SSH_URL", "ssh://git@127.0.0.1")
        p = self.spawn("forge", [sys.executable, os.path.join(HERE, "forgesim.py"), "--port", str(port), "--git-root", root,
                                 "--git-http", git_http, "--ssh-url-base", ssh_base, "--user", "fluxs-user:" + token,
                                 "--user", "other-user:" + other, "--group", "fluxs-group:fluxs-user"], "forge.log")
        wait_tcp(port, "forge simulator", proc=p)
        self.vars.update({
            "FLUXS_TEST_FORGE_API": "http://127.0.0.1:%d" % port, "FLUXS_TEST_FORGE_TOKEN": token,
            "FLUXS_TEST_FORGE_OWNER": "fluxs-user", "FLUXS_TEST_FORGE_GROUP": "fluxs-group", "FLUXS_TEST_FORGE_OTHER_TOKEN": other,
        })

    def webhook(self):
        port = free_port()
        p = self.spawn("webhook", [sys.executable, os.path.join(HERE, "webhooksink.py"), "--port", str(port)], "webhook.log")
        wait_tcp(port, "webhook sink", proc=p)
        self.vars["FLUXS_TEST_WEBHOOK"] = "http://127.0.0.1:%d" % port

    # -- hostile server (security tests) ----------------------------------------------
    def hostile(self):
        d = os.path.join(self.dir, "hostile")
        os.makedirs(d, exist_ok=True)
        info = os.path.join(d, "info.json")
        git_http = self.vars.get("FLUXS_TEST_GIT_HTTP", "http://127.0.0.1:9")
        p = self.spawn("hostile", [sys.executable, os.path.join(HERE, "hostile.py"), "--pki", self.pki, "--git-http", git_http,
                                   "--kube-http", self.vars.get("FLUXS_TEST_KUBE_HTTP", ""), "--info", info], "hostile.log")
        deadline = time.time() + 20
        while not os.path.exists(info):
            if p.poll() is not None:
                raise RuntimeError("hostile.py exited with status %s; see %s/hostile.log" % (p.returncode, self.dir))
            if time.time() > deadline:
                raise RuntimeError("hostile.py did not start within 20s")
            time.sleep(0.05)
        with open(info) as f:
            ports = json.load(f)
        self.vars.update({
            "FLUXS_TEST_HOSTILE": "http://127.0.0.1:%d" % ports["origin"],
            "FLUXS_TEST_HOSTILE_ELSEWHERE": "http://localhost:%d" % ports["elsewhere"],
            "FLUXS_TEST_HOSTILE_TLS": "https://localhost:%d" % ports["tls"],
            "FLUXS_TEST_HOSTILE_TLS_OTHER": "https://localhost:%d" % ports["tlsOther"],
            "FLUXS_TEST_HOSTILE_KUBE_SNI": "https://127.0.0.1:%d" % ports["kubeSNI"] if "kubeSNI" in ports else "",
        })

    def start(self, services):
        order = [s for s in ALL if s in services]
        for s in order:
            getattr(self, s)()
        envfile = os.path.join(self.dir, "env")
        with open(envfile + ".tmp", "w") as f:
            for k, v in sorted(self.vars.items()):
                f.write("%s=%s\n" % (k, v))
        os.chmod(envfile + ".tmp", 0o600)
        os.replace(envfile + ".tmp", envfile)
        with open(os.path.join(self.dir, "pids.json"), "w") as f:
            json.dump({name: p.pid for name, p in self.procs}, f)


# -- OCI images for the registry ---------------------------------------------------

def _blob(layout, data):
    dg = hashlib.sha256(data).hexdigest()
    path = os.path.join(layout, "blobs", "sha256", dg)
    with open(path, "wb") as f:
        f.write(data)
    return "sha256:" + dg, len(data)


def make_oci_layout(layout, tag, content=None):
    os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf:
        data = (content if content is not None else "%s\n" % tag).encode()
        ti = tarfile.TarInfo("version")
        ti.size = len(data)
        ti.mtime = 0
        tf.addfile(ti, io.BytesIO(data))
    tar = raw.getvalue()
    gz = gzip.compress(tar, mtime=0)
    layer, lsize = _blob(layout, gz)
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Labels": {"org.opencontainers.image.version": tag}},
                      "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(tar).hexdigest()]}}).encode()
    cdg, csize = _blob(layout, cfg)
    man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                      "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cdg, "size": csize},
                      "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer, "size": lsize}]}).encode()
    mdg, msize = _blob(layout, man)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": mdg,
                                                     "size": msize, "annotations": {"org.opencontainers.image.ref.name": tag}}]}, f)
    return mdg


def push_image(registry, repo, tags, creds=None):
    digests = {}
    for tag in tags:
        with tempfile.TemporaryDirectory() as tmp:
            digests[tag] = make_oci_layout(tmp, tag)
            args = ["skopeo", "--insecure-policy", "copy", "-q", "--dest-tls-verify=false", "oci:%s:%s" % (tmp, tag),
                    "docker://%s/%s:%s" % (registry, repo, tag)]
            if creds:
                args[4:4] = ["--dest-creds", creds]
            subprocess.run(args, check=True, capture_output=True)
    return digests


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("run", "up"):
        p = sub.add_parser(name)
        p.add_argument("--services", default=",".join(ALL))
        p.add_argument("--dir", default=None)
        p.add_argument("--keep", action="store_true", help="keep the directory after `run`")
        if name == "run":
            p.add_argument("command", nargs=argparse.REMAINDER)
    p = sub.add_parser("down")
    p.add_argument("--dir", required=True)
    p = sub.add_parser("push-image")
    p.add_argument("--registry", required=True)
    p.add_argument("--creds")
    p.add_argument("repo")
    p.add_argument("tags", nargs="+")
    a = ap.parse_args()

    if a.cmd == "push-image":
        for tag, dg in push_image(a.registry, a.repo, a.tags, a.creds).items():
            print("%s:%s %s" % (a.repo, tag, dg))
        return 0

    if a.cmd == "down":
        path = os.path.join(a.dir, "pids.json")
        with open(path) as f:
            pids = json.load(f)
        for name, pid in pids.items():
            try:
                os.killpg(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        os.remove(path)
        return 0

    services = [s.strip() for s in a.services.split(",") if s.strip()]
    unknown = [s for s in services if s not in ALL]
    if unknown:
        ap.error("unknown service(s): %s (known: %s)" % (", ".join(unknown), ", ".join(ALL)))
    made_dir = a.dir is None
    d = a.dir or tempfile.mkdtemp(prefix="fluxs-testenv-")
    env = Env(d)

    def cleanup(*_):
        env.stop()
        if a.cmd == "run" and made_dir and not a.keep:
            shutil.rmtree(d, ignore_errors=True)

    atexit.register(cleanup)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda s, f: sys.exit(128 + s))
    t0 = time.time()
    try:
        env.start(services)
    except Exception as e:
        print("testenv: %s" % e, file=sys.stderr)
        return 1
    took = time.time() - t0
    if a.cmd == "up":
        print("testenv: %s up in %.1fs; env in %s/env (source it); Ctrl-C stops them" % (", ".join(services), took, d), flush=True)
        signal.pause()
        return 0
    cmd = [c for c in a.command if c != "--"] if a.command and a.command[0] == "--" else a.command
    if not cmd:
        ap.error("run needs a command after --")
    print("testenv: %s up in %.1fs" % (", ".join(services), took), file=sys.stderr, flush=True)
    child_env = dict(os.environ)
    child_env.update(env.vars)
    # The command's temporary files (test fixtures, fluxs's own) go under the
    # environment's directory, so a run leaves nothing behind in /tmp.
    tmp = os.path.join(d, "tmp")
    os.makedirs(tmp, mode=0o700, exist_ok=True)
    child_env["TMPDIR"] = tmp
    rc = subprocess.call(cmd if a.command[0] != "--" else a.command[1:], env=child_env)
    return rc


if __name__ == "__main__":
    sys.exit(main())
