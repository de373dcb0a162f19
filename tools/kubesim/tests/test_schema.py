"""kubesim's structural-schema pruning and validation (schema.py) against the plain rules on generated input: the
short cuts (mappings with nothing to prune, string leaves checked by one isinstance) must give what the full walk
gives, pruned paths, pruned objects and field errors alike, on seeded random schemas and objects (unknown keys,
nested and embedded objects, additionalProperties, preserve-unknown-fields, lists, nulls, wrong types)."""

import copy
import os
import random
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import schema  # noqa: E402


def reference_prune(v, s, path, pruned, root=False):
    """_prune as it reads without short cuts: every key of every mapping looked at, every list item visited."""
    if not isinstance(s, dict):
        return
    if isinstance(v, dict):
        props = s.get("properties")
        addl = s.get("additionalProperties")
        preserve = s.get("x-kubernetes-preserve-unknown-fields") is True
        embedded = s.get("x-kubernetes-embedded-resource") is True
        for k in list(v.keys()):
            sub = path + "." + k if path else k
            if (root or embedded) and k in schema.ROOT_KEEP:
                if k == "metadata" and isinstance(v[k], dict):
                    for mk in list(v[k].keys()):
                        if mk not in schema.META_FIELDS:
                            pruned.append(sub + "." + mk)
                            del v[k][mk]
                continue
            if props is not None and k in props:
                if isinstance(v[k], (dict, list)):
                    reference_prune(v[k], props[k], sub, pruned)
            elif isinstance(addl, dict):
                if isinstance(v[k], (dict, list)):
                    reference_prune(v[k], addl, sub, pruned)
            elif addl is True or preserve:
                continue
            else:
                pruned.append(sub)
                del v[k]
    elif isinstance(v, list) and isinstance(s.get("items"), dict):
        for i, it in enumerate(v):
            if isinstance(it, (dict, list)):
                reference_prune(it, s["items"], "%s[%d]" % (path, i), pruned)


KEYS = ["a", "b", "c", "id", "v", "kind", "apiVersion", "metadata", "name"]
LEAVES = ["string", "integer", "number", "boolean", None]


def gen_schema(rng, depth=0):
    r = rng.random()
    if depth > 3 or r < 0.35:
        s = {}
        t = rng.choice(LEAVES)
        if t:
            s["type"] = t
        if rng.random() < 0.2:
            s["nullable"] = True
        return s
    if r < 0.55:
        return {"type": "array", "items": gen_schema(rng, depth + 1)}
    s = {"type": "object", "properties": {k: gen_schema(rng, depth + 1) for k in rng.sample(KEYS, rng.randint(0, 4))}}
    x = rng.random()
    if x < 0.15:
        s["additionalProperties"] = gen_schema(rng, depth + 1)
    elif x < 0.2:
        s["additionalProperties"] = True
    elif x < 0.25:
        s["x-kubernetes-preserve-unknown-fields"] = True
    if rng.random() < 0.1:
        s["x-kubernetes-embedded-resource"] = True
    if s["properties"] and rng.random() < 0.3:
        s["required"] = rng.sample(sorted(s["properties"]), 1)
    return s


def gen_value(rng, s, depth=0):
    """Mostly shaped like `s`, sometimes not (a wrong type, an unknown key, a null)."""
    r = rng.random()
    if r < 0.05:
        return None
    if depth > 4 or r < 0.12:
        return rng.choice(["x", 3, 2.5, True, {"z": 1}, ["q"]])
    t = s.get("type") if isinstance(s, dict) else None
    if t == "array":
        return [gen_value(rng, s.get("items") or {}, depth + 1) for _ in range(rng.randint(0, 4))]
    if t == "object":
        out = {}
        for k, ps in (s.get("properties") or {}).items():
            if rng.random() < 0.8:
                out[k] = gen_value(rng, ps, depth + 1)
        for _ in range(rng.choice([0, 0, 0, 1, 2])):
            out[rng.choice(KEYS + ["extra", "other"])] = gen_value(rng, s.get("additionalProperties") if isinstance(s.get("additionalProperties"), dict) else {}, depth + 1)
        if "metadata" in out and rng.random() < 0.5:
            out["metadata"] = {"name": "n", "labels": {"a": "b"}, "bogus": 1}
        return out
    return {"string": "s", "integer": 7, "number": 1.5, "boolean": False}.get(t, rng.choice(["s", 1, None]))


class SchemaShortCuts(unittest.TestCase):
    def test_prune_matches_the_full_walk(self):
        rng = random.Random(int(os.environ.get("KUBESIM_SCHEMA_SEED", "20261203")))
        for n in range(3000):
            s = gen_schema(rng)
            v = gen_value(rng, s)
            for root in (False, True):
                a, b = copy.deepcopy(v), copy.deepcopy(v)
                pa, pb = [], []
                schema._prune(a, s, "", pa, root)
                reference_prune(b, s, "", pb, root)
                self.assertEqual((pa, a), (pb, b), "case %d root=%s schema=%r value=%r" % (n, root, s, v))

    def test_an_inventory_prunes_unknown_keys_only(self):
        s = {"type": "object", "properties": {"entries": {"type": "array", "items": {
            "type": "object", "required": ["id", "v"], "properties": {"id": {"type": "string"}, "v": {"type": "string"}}}}}}
        v = {"entries": [{"id": "a", "v": "1"}, {"id": "b", "v": "1", "x": "y"}, {"id": "c", "v": {"deep": 1}}]}
        pruned = schema.prune(v, s, root=False)
        # a mapping under a string leaf is walked like any other (its keys are undeclared) and then fails validation
        self.assertEqual(pruned, ["entries[1].x", "entries[2].v.deep"])
        self.assertEqual(v["entries"][1], {"id": "b", "v": "1"})
        errs = []
        schema.validate(v, s, "", errs)
        self.assertEqual([str(e) for e in errs], ['entries[2].v: Invalid value: "object": entries[2].v in body must be of type string: "object"'])

    def test_string_leaf_check_matches_the_general_one(self):
        for s in ({"type": "string"}, {"type": "string", "nullable": True}, {"type": "integer"}, {}, {"type": "boolean", "nullable": True}):
            check = schema.fast_check(s)
            for v in ("s", "", 1, 1.0, 2.5, True, None, [], {}):
                self.assertEqual(check(v), schema._leaf_ok(v, s), (s, v))
                errs = []
                schema.validate(v, s, "f", errs)
                self.assertEqual(check(v), not errs, (s, v, [str(e) for e in errs]))


if __name__ == "__main__":
    unittest.main()
