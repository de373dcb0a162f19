"""kubesim: a Kubernetes API server simulator for fluxs's tests and demo.

usage: python3 tools/kubesim --state-dir DIR [--port N] [--http-port N] [--data-dir DIR]

Writes DIR/kubeconfig (contexts: kubesim = admin token, kubesim-viewer = read-only
token, kubesim-cert = admin client certificate) and DIR/info.json, then serves
until terminated. With --data-dir the objects survive a restart.
"""

import argparse
import json
import os
import secrets
import signal
import ssl
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pki  # noqa: E402
from api import API  # noqa: E402
from server import Server  # noqa: E402
from store import Store  # noqa: E402


def load_tokens(state):
    path = os.path.join(state, "tokens.json")
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        t = {"admin": secrets.token_hex(16), "viewer": secrets.token_hex(16)}
        with open(path, "w") as f:
            json.dump(t, f)
        os.chmod(path, 0o600)
        return t


def write_kubeconfig(state, https_port, tokens, ca, client_crt, client_key, aws_iam):
    server = "https://127.0.0.1:%d" % https_port
    text = """apiVersion: v1
kind: Config
clusters:
- name: kubesim
  cluster:
    server: %(server)s
    certificate-authority: %(ca)s
users:
- name: admin
  user:
    token: %(admin)s
- name: viewer
  user:
    token: %(viewer)s
- name: admin-cert
  user:
    client-certificate: %(crt)s
    client-key: %(key)s
%(eks_user)scontexts:
- name: kubesim
  context:
    cluster: kubesim
    user: admin
- name: kubesim-viewer
  context:
    cluster: kubesim
    user: viewer
- name: kubesim-cert
  context:
    cluster: kubesim
    user: admin-cert
%(eks_ctx)scurrent-context: kubesim
""" % {"server": server, "ca": ca, "admin": tokens["admin"], "viewer": tokens["viewer"], "crt": client_crt, "key": client_key,
       "eks_user": eks_user(aws_iam), "eks_ctx": eks_ctx(aws_iam)}
    path = os.path.join(state, "kubeconfig")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def eks_user(aws_iam):
    """A user as `aws eks update-kubeconfig` writes it, with the test credentials in env."""
    if not aws_iam:
        return ""
    key, secret, cluster = aws_iam[0]
    return """- name: eks
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: aws
      args: [--region, us-east-1, eks, get-token, --cluster-name, %s, --output, json]
      env:
      - {name: AWS_ACCESS_KEY_ID, value: %s}
      - {name: AWS_SECRET_ACCESS_KEY, value: %s}
      - {name: AWS_DEFAULT_REGION, value: us-east-1}
      interactiveMode: Never
""" % (cluster, key, secret)


def eks_ctx(aws_iam):
    if not aws_iam:
        return ""
    return "- name: kubesim-eks\n  context:\n    cluster: kubesim\n    user: eks\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--data-dir")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--http-port", type=int, default=None, help="also serve plain HTTP (0 = any free port)")
    ap.add_argument("--auto-ready", action="store_true", help="workloads become ready as soon as they are written")
    ap.add_argument("--aws-iam", action="append", default=[], metavar="KEYID:SECRET:CLUSTER",
                    help="accept `aws eks get-token` tokens signed with these credentials for this cluster name")
    args = ap.parse_args()

    state = os.path.abspath(args.state_dir)
    os.makedirs(state, exist_ok=True)
    pki_dir = os.path.join(state, "pki")
    ca = pki.ensure_ca(pki_dir)
    srv_crt, srv_key = pki.issue(pki_dir, "apiserver", "kubesim", server=True)
    cli_crt, cli_key = pki.issue(pki_dir, "admin", "admin", org="system:masters")
    tokens = load_tokens(state)
    users = {tokens["admin"]: ("admin", ["system:masters", "system:authenticated"], False, True),
             tokens["viewer"]: ("viewer", ["system:authenticated"], True, True)}

    store = Store(args.data_dir)
    api = API(store)
    api.auto_ready = args.auto_ready

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(srv_crt, srv_key)
    ctx.load_verify_locations(ca)
    ctx.verify_mode = ssl.CERT_OPTIONAL
    aws_iam = [tuple(a.split(":", 2)) for a in args.aws_iam]
    https = Server((args.host, args.port), api, users, tls=ctx, aws_iam=aws_iam)
    servers = [https]
    timeline = os.environ.get("KUBESIM_TIMELINE")
    if timeline:
        https.timeline = []
    profile = os.environ.get("KUBESIM_PROFILE")
    if profile:
        https.profiles = []
    http_port = None
    if args.http_port is not None:
        http = Server((args.host, args.http_port), api, users, aws_iam=aws_iam)
        servers.append(http)
        http_port = http.server_address[1]
    kubeconfig = write_kubeconfig(state, https.server_address[1], tokens, ca, cli_crt, cli_key, aws_iam)
    info = {"pid": os.getpid(), "https": "https://127.0.0.1:%d" % https.server_address[1],
            "http": "http://127.0.0.1:%d" % http_port if http_port else None, "kubeconfig": kubeconfig, "ca": ca,
            "adminToken": tokens["admin"], "viewerToken": tokens["viewer"], "clientCert": cli_crt, "clientKey": cli_key}
    with open(os.path.join(state, "info.json.tmp"), "w") as f:
        json.dump(info, f, indent=1)
    os.replace(os.path.join(state, "info.json.tmp"), os.path.join(state, "info.json"))

    def stop(*_):
        store.flush()
        for s in servers:
            threading.Thread(target=s.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for s in servers[1:]:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    print(json.dumps({"ready": True, "https": info["https"], "kubeconfig": kubeconfig}), flush=True)
    https.serve_forever(poll_interval=0.2)
    store.flush()
    if profile:
        https.dump_profile(profile)
    if timeline:
        with open(timeline, "w") as f:
            json.dump(https.timeline, f)


if __name__ == "__main__":
    main()
