"""Verification of EKS-style bearer tokens (`aws eks get-token`): the token is a
presigned STS GetCallerIdentity URL; like aws-iam-authenticator, the simulator
checks its form, its age and the x-k8s-aws-id cluster header, and verifies the
SigV4 signature with the credentials it was started with (the authenticator
asks STS to do that; there is no STS here)."""

import base64
import hashlib
import hmac
import time
import urllib.parse

PREFIX = "k8s-aws-v1."


def _quote(s):
    return urllib.parse.quote(s, safe="-_.~")


def _sign(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def verify(token, access_key, secret_key, cluster):
    """Returns the caller (an ARN-like name) or raises ValueError with the reason."""
    if not token.startswith(PREFIX):
        raise ValueError("not an EKS token")
    raw = token[len(PREFIX):]
    url = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
    u = urllib.parse.urlsplit(url)
    if u.scheme != "https" or not (u.hostname == "sts.amazonaws.com" or
                                   (u.hostname or "").startswith("sts.") and u.hostname.endswith(".amazonaws.com")):
        raise ValueError("unexpected host %s" % u.hostname)
    q = urllib.parse.parse_qs(u.query, keep_blank_values=True)
    p = {k: v[0] for k, v in q.items()}
    if p.get("Action") != "GetCallerIdentity":
        raise ValueError("unexpected action")
    signed = p.get("X-Amz-SignedHeaders", "").split(";")
    if "x-k8s-aws-id" not in signed:
        raise ValueError("x-k8s-aws-id is not signed")
    cred = p.get("X-Amz-Credential", "").split("/")
    if len(cred) != 5 or cred[0] != access_key:
        raise ValueError("unknown access key")
    amz_date = p.get("X-Amz-Date", "")
    t = time.mktime(time.strptime(amz_date, "%Y%m%dT%H%M%SZ")) - time.timezone
    if abs(time.time() - t) > 15 * 60:
        raise ValueError("token expired")
    headers = {"host": u.hostname, "x-k8s-aws-id": cluster}
    canon_q = "&".join("%s=%s" % (_quote(k), _quote(v)) for k, v in sorted(p.items()) if k != "X-Amz-Signature")
    canon_h = "".join("%s:%s\n" % (h, headers[h]) for h in signed)
    scope = "/".join(cred[1:])
    for payload in (hashlib.sha256(b"").hexdigest(), "UNSIGNED-PAYLOAD"):
        creq = "\n".join(["GET", u.path or "/", canon_q, canon_h, ";".join(signed), payload])
        sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(creq.encode()).hexdigest()])
        k = _sign(("AWS4" + secret_key).encode(), cred[1])
        k = _sign(k, cred[2])
        k = _sign(k, cred[3])
        k = _sign(k, cred[4])
        if hmac.compare_digest(hmac.new(k, sts.encode(), hashlib.sha256).hexdigest(), p.get("X-Amz-Signature", "")):
            return "arn:aws:iam::000000000000:user/%s" % access_key
    raise ValueError("signature does not match (wrong credentials or cluster name)")
