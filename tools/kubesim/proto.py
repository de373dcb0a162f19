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


def message(b, shape):
    """The JSON-shaped object of a message whose fields `shape` describes: field number -> (JSON name, how), how one
    of "str" (always set), "name" (set when not empty), "bool", "int", "strs" (repeated string), "map" (string
    values), "map64" (bytes values, base64 as JSON writes []byte), or a shape of its own (a nested message); a field
    the shape lacks is skipped."""
    o = {}
    for num, _, v in fields(b):
        f = shape.get(num)
        if f is None:
            continue
        key, how = f
        if how == "str":
            o[key] = v.decode()
        elif how == "name":
            if v:
                o[key] = v.decode()
        elif how == "bool":
            o[key] = bool(v)
        elif how == "int":
            o[key] = v
        elif how == "strs":
            o.setdefault(key, []).append(v.decode())
        elif how == "map":
            k, val = _map_entry(v)
            o.setdefault(key, {})[k] = val.decode()
        elif how == "map64":
            k, val = _map_entry(v)
            o.setdefault(key, {})[k] = base64.b64encode(val).decode()
        else:
            o[key] = message(v, how)
    return o


OBJECT_META = {1: ("name", "name"), 2: ("generateName", "name"), 3: ("namespace", "name"), 11: ("labels", "map"),
               12: ("annotations", "map"), 14: ("finalizers", "strs")}


# The fields kubesim reads of each kind's message (k8s.io/api's generated.proto numbers).
SHAPES = {
    "Namespace": {1: ("metadata", OBJECT_META), 2: ("spec", {1: ("finalizers", "strs")})},
    "ConfigMap": {1: ("metadata", OBJECT_META), 2: ("data", "map"), 3: ("binaryData", "map64"), 4: ("immutable", "bool")},
    "Secret": {1: ("metadata", OBJECT_META), 2: ("data", "map64"), 3: ("type", "str"), 4: ("stringData", "map"),
               5: ("immutable", "bool")},
    "ServiceAccount": {1: ("metadata", OBJECT_META), 4: ("automountServiceAccountToken", "bool")},
    # authentication/v1 TokenRequest (`kubectl create token`): spec audiences (1), boundObjectRef (3), expirationSeconds (4)
    "TokenRequest": {1: ("metadata", OBJECT_META), 2: ("spec", {
        1: ("audiences", "strs"),
        3: ("boundObjectRef", {1: ("kind", "name"), 2: ("apiVersion", "name"), 3: ("name", "name"), 4: ("uid", "name")}),
        4: ("expirationSeconds", "int")})},
}


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
    shape = SHAPES.get(kind)
    if shape is None:
        raise ProtoError("protobuf bodies of kind %s are not supported by the simulator" % kind)
    obj = {"apiVersion": api_version, "kind": kind}
    obj.update(message(payload, shape))
    return obj
