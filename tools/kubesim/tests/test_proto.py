"""kubesim's protobuf body decoding (tools/kubesim/proto.py) on bodies built here field by field as Go's generated
marshallers write them (every string field written, also when empty; map entries as key 1 / value 2 messages).
Needs no test environment:

    python3 -m unittest discover -s tools/kubesim/tests -p test_proto.py
"""

import base64
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import proto  # noqa: E402


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(num, value):
    """A length-delimited field for bytes/str values, a varint field for ints and booleans."""
    if isinstance(value, (bool, int)):
        return varint(num << 3) + varint(int(value))
    if isinstance(value, str):
        value = value.encode()
    return varint(num << 3 | 2) + varint(len(value)) + value


def entry(num, k, v):
    return field(num, field(1, k) + field(2, v))


def meta(name="", namespace="", labels=(), annotations=(), finalizers=(), generate=""):
    b = field(1, name) + field(2, generate) + field(3, namespace)
    b += b"".join(entry(11, k, v) for k, v in labels)
    b += b"".join(entry(12, k, v) for k, v in annotations)
    b += b"".join(field(14, f) for f in finalizers)
    return b


def body(api_version, kind, payload):
    return proto.MAGIC + field(1, field(1, api_version) + field(2, kind)) + field(2, payload)


class ProtoTest(unittest.TestCase):
    def test_configmap(self):
        m = meta("cm", "ns", labels=[("a", "1"), ("b", "")], annotations=[("x/y", "z")])
        raw = body("v1", "ConfigMap", field(1, m) + entry(2, "k", "v") + entry(2, "e", "") + entry(3, "bin", b"\x00\xff")
                   + field(4, True))
        self.assertEqual(proto.decode(raw), {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cm", "namespace": "ns", "labels": {"a": "1", "b": ""}, "annotations": {"x/y": "z"}},
            "data": {"k": "v", "e": ""}, "binaryData": {"bin": base64.b64encode(b"\x00\xff").decode()}, "immutable": True})

    def test_configmap_without_data_and_immutable_false(self):
        raw = body("v1", "ConfigMap", field(1, meta("cm")) + field(4, False))
        self.assertEqual(proto.decode(raw), {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "immutable": False})

    def test_secret(self):
        raw = body("v1", "Secret", field(1, meta("s", "ns", finalizers=["f1", "f2"])) + entry(2, "k", b"\x01secret")
                   + field(3, "kubernetes.io/tls") + entry(4, "plain", "text") + field(5, True))
        self.assertEqual(proto.decode(raw), {
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "ns", "finalizers": ["f1", "f2"]},
            "data": {"k": base64.b64encode(b"\x01secret").decode()}, "type": "kubernetes.io/tls",
            "stringData": {"plain": "text"}, "immutable": True})

    def test_secret_empty_type_is_kept(self):
        raw = body("v1", "Secret", field(1, meta("s")) + field(3, ""))
        self.assertEqual(proto.decode(raw), {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "type": ""})

    def test_namespace(self):
        self.assertEqual(proto.decode(body("v1", "Namespace", field(1, meta("n")) + field(2, field(1, "kubernetes")))),
                         {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}, "spec": {"finalizers": ["kubernetes"]}})
        self.assertEqual(proto.decode(body("v1", "Namespace", field(1, meta(generate="n-")) + field(2, b""))),
                         {"apiVersion": "v1", "kind": "Namespace", "metadata": {"generateName": "n-"}, "spec": {}})

    def test_serviceaccount(self):
        raw = body("v1", "ServiceAccount", field(1, meta("sa", "ns")) + field(2, field(3, "ignored")) + field(4, False))
        self.assertEqual(proto.decode(raw), {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa", "namespace": "ns"},
                                             "automountServiceAccountToken": False})

    def test_token_request(self):
        ref = field(1, "Pod") + field(2, "v1") + field(3, "p") + field(4, "")
        raw = body("authentication.k8s.io/v1", "TokenRequest", field(1, meta()) + field(2, field(1, "a1") + field(1, "a2") + field(3, ref) + field(4, 3600)))
        self.assertEqual(proto.decode(raw), {
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "metadata": {},
            "spec": {"audiences": ["a1", "a2"], "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p"}, "expirationSeconds": 3600}})

    def test_unsupported(self):
        with self.assertRaises(proto.ProtoError):
            proto.decode(body("apps/v1", "Deployment", field(1, meta("d"))))
        with self.assertRaises(proto.ProtoError):
            proto.decode(b"{}")
        with self.assertRaises(proto.ProtoError):
            proto.decode(proto.MAGIC + b"\x0a\xff")


if __name__ == "__main__":
    unittest.main()
