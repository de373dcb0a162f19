"""kubesim's server-side apply of a new object (tools/kubesim/ssa.py: the create path of apply, fields_v1_of)
against the general path (field_set, to_fields_v1, Entries) on objects built here at random, with the list and map
semantics of built-in kinds and of a CRD schema. Needs no test environment:

    python3 -m unittest discover -s tools/kubesim/tests -p test_ssa_create.py
"""

import json
import os
import random
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import registry  # noqa: E402
import ssa  # noqa: E402

CRD_SCHEMA = {"type": "object", "properties": {
    "spec": {"type": "object", "properties": {
        "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["port", "protocol"],
                  "items": {"type": "object"}},
        "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
        "blob": {"type": "object", "x-kubernetes-map-type": "atomic"},
        "plain": {"type": "array", "items": {"type": "object"}}}},
    "status": {"type": "object"}}}

KEYS = ["a", "b", "name", "port", "protocol", "tags", "ports", "blob", "plain", "containers", "env", "value", "*", "."]


def value(rng, depth):
    r = rng.random()
    if depth > 3 or r < 0.35:
        return rng.choice(["x", "", 0, 1, True, None, 2.5, "y"])
    if r < 0.7:
        return {rng.choice(KEYS): value(rng, depth + 1) for _ in range(rng.randrange(0, 4))}
    return [value(rng, depth + 1) if rng.random() < 0.5 else
            {"name": rng.choice(["n1", "n2", "n3"]), "port": rng.choice([80, 443]), "protocol": rng.choice(["TCP", "UDP"]),
             "value": value(rng, depth + 2)} for _ in range(rng.randrange(0, 4))]


def obj(rng, kind):
    o = {"apiVersion": "v1", "kind": kind, "metadata": {"name": "o", "namespace": "ns"}}
    if rng.random() < 0.7:
        o["metadata"]["labels"] = {"l%d" % i: "v" for i in range(rng.randrange(0, 3))}
    if rng.random() < 0.3:
        o["metadata"]["finalizers"] = rng.choice([["a"], ["a", "b"], []])
    if rng.random() < 0.2:
        o["metadata"] = rng.choice([{"name": "o"}, {}, {"uid": "u", "resourceVersion": "1"}])
    for k in ("spec", "data", "status", "extra"):
        if rng.random() < 0.6:
            o[k] = value(rng, 0)
    if kind == "Widget" and isinstance(o.get("spec"), dict):
        o["spec"]["ports"] = [{"port": p, "protocol": "TCP", "name": "p%d" % p} for p in rng.sample([80, 443, 8080], rng.randrange(0, 3))]
        o["spec"]["tags"] = rng.sample(["t1", "t2", "t3"], rng.randrange(0, 3))
        o["spec"]["blob"] = {"k": value(rng, 2)}
    if kind == "Deployment":
        o["spec"] = {"template": {"spec": {"containers": [
            {"name": "c%d" % i, "image": "i", "ports": [{"containerPort": 80, "protocol": "TCP"}],
             "env": [{"name": "E", "value": "1"}]} for i in range(rng.randrange(0, 3))]}}}
    return o


def semantics(kind):
    if kind == "Widget":
        return ssa.Semantics(lists={("metadata", "finalizers"): ("set", None),
                                    ("metadata", "ownerReferences"): ("map", ["uid"])}, crd_schema=CRD_SCHEMA)
    return ssa.Semantics(lists=registry.list_semantics(kind))


def general_create(applied, manager, sem, api_version, status_mode, subresource):
    """apply()'s general steps for an object that does not exist, as they were before the create path."""
    entries = ssa.Entries(None)
    applied_set = ssa.field_set(applied, sem, status_mode)
    mine = entries.ensure(manager, "Apply", subresource, api_version)
    mine[1] = set(applied_set)
    present = applied_set if status_mode != "status" else ssa.field_set(applied, sem)
    applied.setdefault("metadata", {})["managedFields"] = entries.serialize(present)
    if not applied["metadata"]["managedFields"]:
        del applied["metadata"]["managedFields"]
    return applied


class CreatePath(unittest.TestCase):
    def test_fields_v1_of_is_to_fields_v1_of_field_set(self):
        rng = random.Random(11)
        for i in range(4000):
            kind = rng.choice(["ConfigMap", "Deployment", "Service", "Widget", "Pod"])
            o = obj(rng, kind)
            sem = semantics(kind)
            for mode in (None, "main", "status"):
                self.assertEqual(json.dumps(ssa.fields_v1_of(o, sem, mode)),
                                 json.dumps(ssa.to_fields_v1(ssa.field_set(o, sem, mode))), (mode, o))

    def test_apply_of_a_new_object_as_the_general_steps_make_it(self):
        rng = random.Random(5)
        for i in range(3000):
            kind = rng.choice(["ConfigMap", "Deployment", "Widget"])
            o = obj(rng, kind)
            sem = semantics(kind)
            mode = rng.choice([None, "main", "status"])
            sub = "status" if mode == "status" else ""
            try:
                want = general_create(ssa.drop_nulls(o), "m", sem, "v1", mode, sub)
                ssa.check_duplicates(ssa.drop_nulls(o), sem)
            except ssa.ApplyError as e:
                with self.assertRaises(ssa.ApplyError) as got:
                    ssa.apply(None, o, "m", False, sem, "v1", mode, sub)
                self.assertEqual(str(got.exception), str(e))
                continue
            got = ssa.apply(None, o, "m", False, sem, "v1", mode, sub)
            for mf in (got["metadata"].get("managedFields") or []) + (want["metadata"].get("managedFields") or []):
                mf["time"] = "T"
            # byte for byte, key order included (the answer is this object's JSON)
            self.assertEqual(json.dumps(got), json.dumps(want), o)


if __name__ == "__main__":
    unittest.main()
