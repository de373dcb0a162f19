"""A throwaway certificate authority made with the openssl command (P-256 keys):
server certificates for localhost and 127.0.0.1, client certificates by CN."""

import os
import subprocess


def _run(args, cwd):
    subprocess.run(args, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def ensure_ca(d):
    os.makedirs(d, exist_ok=True)
    if not os.path.exists(os.path.join(d, "ca.crt")):
        _run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
              "-keyout", "ca.key", "-out", "ca.crt", "-days", "3650", "-subj", "/CN=fluxs-test-ca"], d)
        os.chmod(os.path.join(d, "ca.key"), 0o600)
    return os.path.join(d, "ca.crt")


def issue(d, name, cn, org=None, server=False):
    """Writes NAME.crt and NAME.key signed by the CA in d; returns their paths."""
    ensure_ca(d)
    crt, key = os.path.join(d, name + ".crt"), os.path.join(d, name + ".key")
    if os.path.exists(crt) and os.path.exists(key):
        return crt, key
    subj = "/CN=%s" % cn + ("/O=%s" % org if org else "")
    _run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
          "-keyout", name + ".key", "-out", name + ".csr", "-subj", subj], d)
    ext = os.path.join(d, name + ".ext")
    with open(ext, "w") as f:
        if server:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
        else:
            f.write("extendedKeyUsage=clientAuth\n")
    _run(["openssl", "x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
          "-out", name + ".crt", "-days", "3650", "-extfile", ext], d)
    os.chmod(key, 0o600)
    for f in (name + ".csr", name + ".ext"):
        os.remove(os.path.join(d, f))
    return crt, key
