"""Structural schemas of CustomResourceDefinitions: pruning, defaulting and
validation with kube-apiserver's field error texts."""

import copy
import json
import re

ROOT_KEEP = ("apiVersion", "kind", "metadata")
META_FIELDS = {"name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
               "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations",
               "ownerReferences", "finalizers", "managedFields"}


class FieldError:
    def __init__(self, kind, field, value=None, detail="", supported=None):
        self.kind = kind
        self.field = field
        self.value = value
        self.detail = detail
        self.supported = supported

    def body(self):
        if self.kind == "Required":
            return "Required value" + (": " + self.detail if self.detail else "")
        if self.kind == "NotSupported":
            return "Unsupported value: %s: supported values: %s" % (fmt_value(self.value), ", ".join('"%s"' % s for s in self.supported))
        if self.kind == "TooMany":
            return "Too many: %s: %s" % (fmt_value(self.value), self.detail)
        if self.kind == "TooLong":
            return "Too long: %s" % self.detail
        if self.kind == "Forbidden":
            return "Forbidden: %s" % self.detail
        if self.kind == "Duplicate":
            return "Duplicate value: %s" % fmt_value(self.value)
        return "Invalid value: %s: %s" % (fmt_value(self.value), self.detail)

    @property
    def cause_type(self):
        return {"Required": "FieldValueRequired", "NotSupported": "FieldValueNotSupported", "TooMany": "FieldValueTooMany",
                "TooLong": "FieldValueTooLong", "Forbidden": "FieldValueForbidden", "Duplicate": "FieldValueDuplicate"
                }.get(self.kind, "FieldValueInvalid")

    def __str__(self):
        return "%s: %s" % (self.field, self.body())


def fmt_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (int, float)):
        return json.dumps(v)
    if v is None:
        return "null"
    if isinstance(v, dict):
        return '"object"'
    if isinstance(v, list):
        return '"array"'
    return str(v)


def prune(obj, schema, root=True):
    """Drop fields the schema does not declare (in place). Returns the pruned paths."""
    pruned = []
    _prune(obj, schema, "", pruned, root)
    return pruned


def _nothing_to_prune(v, props):
    """True when _prune would leave mapping `v` as it is without looking further: every key is a declared property and
    no value is a mapping or list (a scalar under a declared property is never pruned, whatever its schema; ROOT_KEEP
    keys are kept either way). An inventory of thousands of entries is then checked at C speed, with no path built."""
    if type(props) is not dict or not v.keys() <= props.keys():
        return False
    for x in v.values():
        if isinstance(x, (dict, list)):
            return False
    return True


def _prune(v, s, path, pruned, root=False):
    if not isinstance(s, dict):
        return
    if isinstance(v, dict):
        props = s.get("properties")
        if _nothing_to_prune(v, props):
            return
        addl = s.get("additionalProperties")
        preserve = s.get("x-kubernetes-preserve-unknown-fields") is True
        embedded = s.get("x-kubernetes-embedded-resource") is True
        for k in list(v.keys()):
            sub = path + "." + k if path else k
            if (root or embedded) and k in ROOT_KEEP:
                if k == "metadata" and isinstance(v[k], dict):
                    for mk in list(v[k].keys()):
                        if mk not in META_FIELDS:
                            pruned.append(sub + "." + mk)
                            del v[k][mk]
                continue
            if props is not None and k in props:
                if isinstance(v[k], (dict, list)):
                    _prune(v[k], props[k], sub, pruned)
            elif isinstance(addl, dict):
                if isinstance(v[k], (dict, list)):
                    _prune(v[k], addl, sub, pruned)
            elif addl is True or preserve:
                continue
            else:
                pruned.append(sub)
                del v[k]
    elif isinstance(v, list) and isinstance(s.get("items"), dict):
        items = s["items"]
        props = items.get("properties")
        for i, it in enumerate(v):
            if isinstance(it, dict) and _nothing_to_prune(it, props):
                continue   # what _prune(it, ...) would find: nothing (and no "[i]" path built for it)
            if isinstance(it, (dict, list)):   # nothing to prune in a scalar
                _prune(it, items, "%s[%d]" % (path, i), pruned)


# id(schema) -> (schema, whether it or a schema below it has a default). The schema is kept with its answer, so
# its id cannot be reused by another dict while the entry exists.
_defaults_below = {}


def has_defaults(s):
    """Whether defaulting could change a value of schema `s` (a `default` at or below it)."""
    if not isinstance(s, dict):
        return False
    hit = _defaults_below.get(id(s))
    if hit is not None and hit[0] is s:
        return hit[1]
    found = "default" in s or any(has_defaults(ps) for ps in (s.get("properties") or {}).values()) \
        or has_defaults(s.get("additionalProperties")) or has_defaults(s.get("items"))
    _defaults_below[id(s)] = (s, found)
    return found


def apply_defaults(v, s):
    # A subtree whose schema has no default anywhere below is left alone (an inventory of thousands of entries is
    # not walked on every read).
    if not isinstance(s, dict) or not has_defaults(s):
        return
    if isinstance(v, dict):
        props = s.get("properties") or {}
        for k, ps in props.items():
            if k not in v and isinstance(ps, dict) and "default" in ps:
                v[k] = copy.deepcopy(ps["default"])
        for k, cv in v.items():
            if k in props:
                apply_defaults(cv, props[k])
            elif isinstance(s.get("additionalProperties"), dict):
                apply_defaults(cv, s["additionalProperties"])
    elif isinstance(v, list) and isinstance(s.get("items"), dict):
        for it in v:
            apply_defaults(it, s["items"])


def _type_ok(v, t, s):
    if s.get("x-kubernetes-int-or-string"):
        return isinstance(v, (int, str)) and not isinstance(v, bool)
    if t == "object":
        return isinstance(v, dict)
    if t == "array":
        return isinstance(v, list)
    if t == "string":
        return isinstance(v, str)
    if t == "integer":
        return isinstance(v, int) and not isinstance(v, bool) or (isinstance(v, float) and v.is_integer())
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if t == "boolean":
        return isinstance(v, bool)
    return True


# Keys validate() reads besides type and nullable: a schema with none of them checks the type alone.
_CONSTRAINTS = ("enum", "maximum", "minimum", "multipleOf", "maxLength", "minLength", "pattern", "maxItems", "minItems",
                "items", "properties", "required", "additionalProperties", "maxProperties", "x-kubernetes-int-or-string")
# id(schema) -> (schema, check or None), as _defaults_below: the schema is kept with its answer.
_fast_checks = {}


def _leaf_ok(v, s):
    if v is None:
        return bool(s.get("nullable")) or not s.get("type")
    t = s.get("type")
    return not t or _type_ok(v, t, s)


def fast_check(s):
    """A function that tells, without building any path, that a value passes validate() against schema `s` with no
    error (False: validate() must look, and report what it finds), or None when `s` is not simple enough: `s` checks
    only its type, or is an object of such properties with required keys and nothing else (an inventory entry)."""
    hit = _fast_checks.get(id(s))
    if hit is not None and hit[0] is s:
        return hit[1]
    check = None
    if isinstance(s, dict):
        if not any(k in s for k in _CONSTRAINTS) and s.get("type") in (None, "string", "integer", "number", "boolean"):
            # _leaf_ok(v, s) with the schema's answers read once: a string leaf (most of an inventory) is one
            # isinstance call; the other types keep the general test
            nullable = bool(s.get("nullable"))
            if s.get("type") == "string":
                check = lambda v: isinstance(v, str) or (v is None and nullable)
            else:
                check = lambda v: _leaf_ok(v, s)
        elif s.get("type") == "object" and not any(k in s for k in _CONSTRAINTS if k not in ("properties", "required")) \
                and not s.get("nullable") and isinstance(s.get("properties"), dict):
            props = {k: fast_check(ps) for k, ps in s["properties"].items()}
            if all(c is not None for c in props.values()):
                required = tuple(s.get("required") or ())

                def check(v):
                    if type(v) is not dict:
                        return False
                    for r in required:
                        if r not in v:
                            return False
                    for k, cv in v.items():
                        c = props.get(k)
                        if c is not None and not c(cv):
                            return False
                    return True
    _fast_checks[id(s)] = (s, check)
    return check


def validate(v, s, path, errs):
    if not isinstance(s, dict):
        return
    fast = fast_check(s)
    if fast is not None and fast(v):
        return
    if v is None:
        if s.get("nullable"):
            return
        if s.get("type"):
            errs.append(FieldError("Invalid", path, v, '%s in body must be of type %s: "null"' % (path, s["type"])))
        return
    t = s.get("type")
    if t and not _type_ok(v, t, s):
        got = type_name(v)
        errs.append(FieldError("Invalid", path, got, '%s in body must be of type %s: "%s"' % (path, t, got)))
        return
    if "enum" in s and v not in s["enum"]:
        errs.append(FieldError("NotSupported", path, v, supported=[str(x) for x in s["enum"]]))
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if "maximum" in s:
            if s.get("exclusiveMaximum") and v >= s["maximum"]:
                errs.append(FieldError("Invalid", path, v, "%s in body should be less than %s" % (path, num(s["maximum"]))))
            elif v > s["maximum"]:
                errs.append(FieldError("Invalid", path, v, "%s in body should be less than or equal to %s" % (path, num(s["maximum"]))))
        if "minimum" in s:
            if s.get("exclusiveMinimum") and v <= s["minimum"]:
                errs.append(FieldError("Invalid", path, v, "%s in body should be greater than %s" % (path, num(s["minimum"]))))
            elif v < s["minimum"]:
                errs.append(FieldError("Invalid", path, v, "%s in body should be greater than or equal to %s" % (path, num(s["minimum"]))))
        if s.get("multipleOf") and (v / s["multipleOf"]) != int(v / s["multipleOf"]):
            errs.append(FieldError("Invalid", path, v, "%s in body should be a multiple of %s" % (path, num(s["multipleOf"]))))
    if isinstance(v, str):
        if "maxLength" in s and len(v) > s["maxLength"]:
            errs.append(FieldError("TooLong", path, v, "may not be longer than %d" % s["maxLength"]))
        if "minLength" in s and len(v) < s["minLength"]:
            errs.append(FieldError("Invalid", path, v, "%s in body should be at least %d chars long" % (path, s["minLength"])))
        if "pattern" in s:
            try:
                if not re.search(s["pattern"], v):
                    errs.append(FieldError("Invalid", path, v, "%s in body should match '%s'" % (path, s["pattern"])))
            except re.error:
                pass
    if isinstance(v, list):
        if "maxItems" in s and len(v) > s["maxItems"]:
            errs.append(FieldError("TooMany", path, len(v), "must have at most %d items" % s["maxItems"]))
        if "minItems" in s and len(v) < s["minItems"]:
            errs.append(FieldError("Invalid", path, len(v), "%s in body should have at least %d items" % (path, s["minItems"])))
        if isinstance(s.get("items"), dict):
            items = s["items"]
            fast = fast_check(items)
            for i, it in enumerate(v):
                if fast is None or not fast(it):
                    validate(it, items, "%s[%d]" % (path, i), errs)
    if isinstance(v, dict):
        props = s.get("properties") or {}
        for r in s.get("required") or []:
            if r not in v:
                errs.append(FieldError("Required", (path + "." if path else "") + r))
        for k, cv in v.items():
            sub = (path + "." if path else "") + k
            if k in props:
                validate(cv, props[k], sub, errs)
            elif isinstance(s.get("additionalProperties"), dict):
                validate(cv, s["additionalProperties"], sub, errs)
        if "maxProperties" in s and len(v) > s["maxProperties"]:
            errs.append(FieldError("TooMany", path, len(v), "must have at most %d items" % s["maxProperties"]))


def num(x):
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    return str(x)


def type_name(v):
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "null"


def validate_object(obj, schema):
    """Field errors for a custom resource (metadata and apiVersion/kind excluded)."""
    errs = []
    if not isinstance(schema, dict):
        return errs
    top = {k: v for k, v in obj.items() if k not in ROOT_KEEP}
    s = dict(schema)
    s["properties"] = {k: v for k, v in (schema.get("properties") or {}).items() if k not in ROOT_KEEP}
    s["required"] = [r for r in schema.get("required") or [] if r not in ROOT_KEEP]
    validate(top, s, "", errs)
    return errs


def unknown_fields(obj, schema):
    """Paths of fields the schema would prune (for strict field validation)."""
    probe = copy.deepcopy(obj)
    return prune(probe, schema)
