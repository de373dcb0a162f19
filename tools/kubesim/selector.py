"""Label and field selectors with kube-apiserver's syntax and error messages."""

import re


class SelectorError(Exception):
    pass


_KEY = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def _tokenize(s):
    tokens = []
    i = 0
    while i < len(s):
        c = s[i]
        if c.isspace():
            i += 1
            continue
        if s.startswith("!=", i) or s.startswith("==", i):
            tokens.append(s[i:i + 2])
            i += 2
            continue
        if c in "=!(),":
            tokens.append(c)
            i += 1
            continue
        j = i
        while j < len(s) and not s[j].isspace() and s[j] not in "=!(),":
            j += 1
        tokens.append(s[i:j])
        i = j
    return tokens


def parse_label_selector(s):
    """Returns a list of (key, op, values). ops: in, notin, exists, !exists, =, !=."""
    s = (s or "").strip()
    if not s:
        return []
    toks = _tokenize(s)
    reqs = []
    i = 0

    def err(msg):
        raise SelectorError("unable to parse requirement: %s" % msg)

    while i < len(toks):
        t = toks[i]
        if t == "!":
            i += 1
            if i >= len(toks):
                err("found '', expected: identifier")
            key = toks[i]
            _check_key(key)
            reqs.append((key, "!exists", []))
            i += 1
        else:
            key = t
            _check_key(key)
            i += 1
            if i >= len(toks) or toks[i] == ",":
                reqs.append((key, "exists", []))
            else:
                op = toks[i]
                i += 1
                if op in ("=", "==", "!="):
                    val = ""
                    if i < len(toks) and toks[i] not in (",",):
                        val = toks[i]
                        i += 1
                    _check_value(val)
                    reqs.append((key, "!=" if op == "!=" else "=", [val]))
                elif op in ("in", "notin"):
                    if i >= len(toks) or toks[i] != "(":
                        err("found '%s', expected: '('" % (toks[i] if i < len(toks) else ""))
                    i += 1
                    vals = []
                    while i < len(toks) and toks[i] != ")":
                        if toks[i] != ",":
                            _check_value(toks[i])
                            vals.append(toks[i])
                        i += 1
                    if i >= len(toks):
                        err("found '', expected: ')'")
                    i += 1
                    reqs.append((key, op, vals))
                else:
                    err("found '%s', expected: in, notin, =, ==, !=, gt, lt" % op)
        if i < len(toks):
            if toks[i] != ",":
                err("found '%s', expected: ',' or 'end of string'" % toks[i])
            i += 1
    return reqs


def _check_key(k):
    if not _KEY.match(k) or len(k.split("/")[-1]) > 63:
        raise SelectorError("unable to parse requirement: invalid label key \"%s\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')" % k)


def _check_value(v):
    if not _VALUE.match(v) or len(v) > 63:
        raise SelectorError("unable to parse requirement: values[0][%s]: Invalid value: \"%s\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')" % (v, v))


def label_match(reqs, labels):
    labels = labels or {}
    for key, op, vals in reqs:
        has = key in labels
        v = labels.get(key)
        if op == "exists" and not has:
            return False
        if op == "!exists" and has:
            return False
        if op == "=" and (not has or v != vals[0]):
            return False
        if op == "!=" and has and v == vals[0]:
            return False
        if op == "in" and (not has or v not in vals):
            return False
        if op == "notin" and has and v in vals:
            return False
    return True


# Fields each kind can be selected by, besides metadata.name and metadata.namespace.
FIELD_LABELS = {
    "Event": ["involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
              "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
              "reason", "reportingComponent", "source", "type"],
    "Secret": ["type"],
    "Namespace": ["status.phase"],
    "Pod": ["spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
            "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"],
    "Node": ["spec.unschedulable"],
    "ReplicaSet": ["status.replicas"],
    "Job": ["status.successful"],
}


def parse_field_selector(s, kind):
    s = (s or "").strip()
    if not s:
        return []
    reqs = []
    for part in s.split(","):
        part = part.strip()
        if not part:
            continue
        for op in ("!=", "==", "="):
            if op in part:
                k, v = part.split(op, 1)
                break
        else:
            raise SelectorError("invalid selector: '%s'; can't understand '%s'" % (s, part))
        k = k.strip()
        allowed = ["metadata.name", "metadata.namespace"] + FIELD_LABELS.get(kind, [])
        if k not in allowed:
            raise SelectorError('field label not supported: %s' % k)
        reqs.append((k, "!=" if op == "!=" else "=", v.strip()))
    return reqs


def field_value(obj, path):
    if path == "source":
        return (obj.get("source") or {}).get("component", "")
    cur = obj
    for p in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(p)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def field_match(reqs, obj):
    for k, op, v in reqs:
        got = field_value(obj, k)
        if op == "=" and got != v:
            return False
        if op == "!=" and got == v:
            return False
    return True
