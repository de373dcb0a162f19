"""Decoding of the Kubernetes protobuf wire format for the few built-in kinds
kubectl's typed `create` commands send as protobuf (Namespace, ConfigMap,
Secret, ServiceAccount, and the TokenRequest of `kubectl create token`). Anything else is answered with 415."""

import base64

MAGIC = b"k8s\x00"


class ProtoError(Exception):
    pass


def _varint(b, i):
    shift = 0
    v = 0
    while True:
        if i >= len(b):
            raise ProtoError("truncated varint")
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        if not c & 0x80:
            return v, i
        shift += 7


def fields(b):
    """Yields (field number, wire type, value) for a message."""
    i = 0
    while i < len(b):
        key, i = _varint(b, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(b, i)
        elif wt == 2:
            n, i = _varint(b, i)
            v = b[i:i + n]
            i += n
        elif wt == 1:
            v = b[i:i + 8]
            i += 8
        elif wt == 5:
            v = b[i:i + 4]
            i += 4
        else:
            raise ProtoError("unsupported wire type %d" % wt)
        yield num, wt, v


def _map_entry(b):
    k = v = None
    for num, _, val in fields(b):
        if num == 1:
            k = val
        elif num == 2:
            v = val
    return (k or b"").decode(), (v if v is not None else b"")


def object_meta(b):
    md = {}
    for num, _, v in fields(b):
        if num == 1 and v:
            md["name"] = v.decode()
        elif num == 2 and v:
            md["generateName"] = v.decode()
        elif num == 3 and v:
            md["namespace"] = v.decode()
        elif num == 11:
            k, val = _map_entry(v)
            md.setdefault("labels", {})[k] = val.decode()
        elif num == 12:
            k, val = _map_entry(v)
            md.setdefault("annotations", {})[k] = val.decode()
        elif num == 14:
            md.setdefault("finalizers", []).append(v.decode())
    return md


def _namespace(b):
    o = {}
    for num, _, v in fields(b):
        if num == 1:
            o["metadata"] = object_meta(v)
        elif num == 2:
            fin = [x.decode() for n, _, x in fields(v) if n == 1]
            o["spec"] = {"finalizers": fin} if fin else {}
    return o


def _configmap(b):
    o = {}
    for num, wt, v in fields(b):
        if num == 1:
            o["metadata"] = object_meta(v)
        elif num == 2:
            k, val = _map_entry(v)
            o.setdefault("data", {})[k] = val.decode()
        elif num == 3:
            k, val = _map_entry(v)
            o.setdefault("binaryData", {})[k] = base64.b64encode(val).decode()
        elif num == 4:
            o["immutable"] = bool(v)
    return o


def _secret(b):
    o = {}
    for num, wt, v in fields(b):
        if num == 1:
            o["metadata"] = object_meta(v)
        elif num == 2:
            k, val = _map_entry(v)
            o.setdefault("data", {})[k] = base64.b64encode(val).decode()
        elif num == 3:
            o["type"] = v.decode()
        elif num == 4:
            k, val = _map_entry(v)
            o.setdefault("stringData", {})[k] = val.decode()
        elif num == 5:
            o["immutable"] = bool(v)
    return o


def _serviceaccount(b):
    o = {}
    for num, wt, v in fields(b):
        if num == 1:
            o["metadata"] = object_meta(v)
        elif num == 4:
            o["automountServiceAccountToken"] = bool(v)
    return o


def _token_request(b):
    """authentication/v1 TokenRequest (`kubectl create token`): spec audiences (1), boundObjectRef (3),
    expirationSeconds (4)."""
    o = {}
    for num, wt, v in fields(b):
        if num == 1:
            o["metadata"] = object_meta(v)
        elif num == 2:
            spec = {}
            for n2, _, v2 in fields(v):
                if n2 == 1:
                    spec.setdefault("audiences", []).append(v2.decode())
                elif n2 == 3:
                    ref = {}
                    for n3, _, v3 in fields(v2):
                        key = {1: "kind", 2: "apiVersion", 3: "name", 4: "uid"}.get(n3)
                        if key and v3:
                            ref[key] = v3.decode()
                    spec["boundObjectRef"] = ref
                elif n2 == 4:
                    spec["expirationSeconds"] = v2
            o["spec"] = spec
    return o


DECODERS = {"TokenRequest": _token_request, "Namespace": _namespace, "ConfigMap": _configmap, "Secret": _secret, "ServiceAccount": _serviceaccount}


def decode(raw):
    """The JSON-shaped object of a protobuf request body; ProtoError when unsupported."""
    if not raw.startswith(MAGIC):
        raise ProtoError("missing protobuf magic")
    api_version = kind = ""
    payload = b""
    for num, _, v in fields(raw[len(MAGIC):]):
        if num == 1:
            for n2, _, v2 in fields(v):
                if n2 == 1:
                    api_version = v2.decode()
                elif n2 == 2:
                    kind = v2.decode()
        elif num == 2:
            payload = v
    dec = DECODERS.get(kind)
    if dec is None:
        raise ProtoError("protobuf bodies of kind %s are not supported by the simulator" % kind)
    obj = {"apiVersion": api_version, "kind": kind}
    obj.update(dec(payload))
    return obj
