"""JSON merge patch (RFC 7386), JSON patch (RFC 6902) and strategic merge patch."""

import copy
import json

from store import clone


class PatchError(Exception):
    """A patch that cannot be applied (kube-apiserver answers 422 or 400)."""

    def __init__(self, msg, code=422):
        super().__init__(msg)
        self.code = code


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return clone(patch)   # a JSON value: the same copy as copy.deepcopy's, several times faster
    if not isinstance(target, dict):
        target = {}
    out = dict(target)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def _unescape(tok):
    return tok.replace("~1", "/").replace("~0", "~")


def _split(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError("invalid JSON pointer %r" % path)
    return [_unescape(t) for t in path[1:].split("/")]


def _parent(doc, toks, path):
    cur = doc
    for t in toks[:-1]:
        if isinstance(cur, dict):
            if t not in cur:
                raise PatchError("doc is missing path: %s" % path)
            cur = cur[t]
        elif isinstance(cur, list):
            try:
                cur = cur[int(t)]
            except (ValueError, IndexError):
                raise PatchError("doc is missing path: %s" % path)
        else:
            raise PatchError("doc is missing path: %s" % path)
    return cur


def _get(doc, path):
    toks = _split(path)
    if not toks:
        return doc
    parent = _parent(doc, toks, path)
    last = toks[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError("doc is missing path: %s" % path)
        return parent[last]
    if isinstance(parent, list):
        try:
            return parent[int(last)]
        except (ValueError, IndexError):
            raise PatchError("doc is missing path: %s" % path)
    raise PatchError("doc is missing path: %s" % path)


def json_patch(doc, ops):
    if not isinstance(ops, list):
        raise PatchError("json: cannot unmarshal object into Go value of type jsonpatch.Patch", 400)
    doc = copy.deepcopy(doc)
    for op in ops:
        kind = op.get("op")
        path = op.get("path", "")
        if kind == "test":
            if _get(doc, path) != op.get("value"):
                raise PatchError("testing value %s failed: test failed" % path)
            continue
        if kind in ("remove", "replace", "add"):
            toks = _split(path)
            if not toks:
                if kind == "remove":
                    raise PatchError("unable to remove root")
                doc = copy.deepcopy(op.get("value"))
                continue
            parent = _parent(doc, toks, path)
            last = toks[-1]
            if isinstance(parent, dict):
                if kind in ("remove", "replace") and last not in parent:
                    if kind == "remove":
                        raise PatchError("Unable to remove nonexistent key: %s: missing value" % last)
                    raise PatchError("replace operation does not apply: doc is missing key: %s: missing value" % path)
                if kind == "remove":
                    del parent[last]
                else:
                    parent[last] = copy.deepcopy(op.get("value"))
            elif isinstance(parent, list):
                if last == "-" and kind == "add":
                    parent.append(copy.deepcopy(op.get("value")))
                    continue
                try:
                    idx = int(last)
                except ValueError:
                    raise PatchError("doc is missing path: %s" % path)
                if kind == "add":
                    if idx < 0 or idx > len(parent):
                        raise PatchError("add operation does not apply: doc is missing path: %s" % path)
                    parent.insert(idx, copy.deepcopy(op.get("value")))
                else:
                    if idx < 0 or idx >= len(parent):
                        raise PatchError("Unable to access invalid index: %d" % idx)
                    if kind == "remove":
                        del parent[idx]
                    else:
                        parent[idx] = copy.deepcopy(op.get("value"))
            else:
                raise PatchError("doc is missing path: %s" % path)
            continue
        if kind in ("move", "copy"):
            val = copy.deepcopy(_get(doc, op.get("from", "")))
            if kind == "move":
                doc = json_patch(doc, [{"op": "remove", "path": op.get("from", "")}])
            doc = json_patch(doc, [{"op": "add", "path": path, "value": val}])
            continue
        raise PatchError("Unexpected kind: %s" % kind)
    return doc


# ---------------------------------------------------------------------------
# Strategic merge patch for built-in types. key_for(path) returns the merge key
# of the list at path ("$set" for merged primitive lists, None to replace).

def strategic_merge(target, patch, key_for, path=()):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        out = {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
        return out
    if patch.get("$patch") == "delete":
        return None
    if not isinstance(target, dict):
        target = {}
    out = dict(target)
    retain = patch.get("$retainKeys")
    for k, v in patch.items():
        if k in ("$patch", "$retainKeys"):
            continue
        if k.startswith("$setElementOrder/"):
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            field = k.split("/", 1)[1]
            cur = out.get(field)
            if isinstance(cur, list):
                out[field] = [x for x in cur if x not in (v or [])]
            continue
        if v is None:
            out.pop(k, None)
            continue
        sub = path + (k,)
        if isinstance(v, list):
            out[k] = _merge_list(out.get(k), v, key_for, sub, patch.get("$setElementOrder/" + k))
        elif isinstance(v, dict):
            merged = strategic_merge(out.get(k), v, key_for, sub)
            if merged is None:
                out.pop(k, None)
            else:
                out[k] = merged
        else:
            out[k] = copy.deepcopy(v)
    if isinstance(retain, list):
        out = {k: v for k, v in out.items() if k in retain}
    return out


def _merge_list(cur, patch, key_for, path, order):
    key = key_for(path)
    if key is None:
        return [copy.deepcopy(x) for x in patch]
    if key == "$set":
        out = list(cur) if isinstance(cur, list) else []
        for x in patch:
            if x not in out:
                out.append(copy.deepcopy(x))
        return out
    if not isinstance(cur, list):
        cur = []
    out = [copy.deepcopy(x) for x in cur]
    for item in patch:
        if not isinstance(item, dict):
            continue
        if item.get("$patch") == "replace":
            return [copy.deepcopy({k: v for k, v in x.items() if k != "$patch"}) for x in patch if isinstance(x, dict)]
        kv = item.get(key)
        idx = next((i for i, x in enumerate(out) if isinstance(x, dict) and x.get(key) == kv), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                del out[idx]
            continue
        if idx is None:
            out.append(strategic_merge({}, item, key_for, path + ("*",)))
        else:
            out[idx] = strategic_merge(out[idx], item, key_for, path + ("*",))
    if isinstance(order, list):
        rank = {json.dumps(o.get(key) if isinstance(o, dict) else o): i for i, o in enumerate(order)}
        out.sort(key=lambda x: rank.get(json.dumps(x.get(key) if isinstance(x, dict) else x), len(rank)))
    return out
