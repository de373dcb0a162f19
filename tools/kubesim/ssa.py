"""Server-side apply and managed fields, after structured-merge-diff:
field sets in FieldsV1 form, apply merge, conflicts between managers, removal
of fields a manager stops applying when nobody else owns them, and the
ownership transfer of Update operations."""

import functools
import json
import time

from store import clone

MISSING = object()

# Paths never tracked in field sets.
UNTRACKED_META = {"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
                  "managedFields", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"}


class ApplyError(Exception):
    """Typed-patch failure (kube-apiserver answers 500 with no reason)."""


class Conflict(Exception):
    def __init__(self, conflicts):
        super().__init__("conflict")
        self.conflicts = conflicts  # list of (entry, path)


def key_json(item, keys):
    d = {}
    for k in keys:
        if isinstance(item, dict) and k in item:
            d[k] = item[k]
    return json.dumps(d, sort_keys=True, separators=(",", ":"))


def val_json(v):
    return json.dumps(v, sort_keys=True, separators=(",", ":"))


class Semantics:
    """List/map semantics at a schema path (tuple of field names, '*' for list items)."""

    def __init__(self, lists=None, atomic_maps=None, crd_schema=None):
        self.lists = lists or {}
        self.atomic_maps = atomic_maps or set()
        self.crd_schema = crd_schema

    def list_info(self, sp):
        if sp in self.lists:
            return self.lists[sp]
        if self.crd_schema is not None:
            s = schema_at(self.crd_schema, sp)
            if s is not None:
                lt = s.get("x-kubernetes-list-type")
                if lt == "map":
                    return ("map", s.get("x-kubernetes-list-map-keys") or [])
                if lt == "set":
                    return ("set", None)
        return ("atomic", None)

    def atomic_map(self, sp):
        if sp in self.atomic_maps:
            return True
        if self.crd_schema is not None:
            s = schema_at(self.crd_schema, sp)
            if s is not None and (s.get("x-kubernetes-map-type") == "atomic"):
                return True
        return False


def schema_at(schema, sp):
    cur = schema
    for p in sp:
        if not isinstance(cur, dict):
            return None
        if p == "*":
            cur = cur.get("items")
        else:
            props = cur.get("properties")
            if props and p in props:
                cur = props[p]
            elif isinstance(cur.get("additionalProperties"), dict):
                cur = cur["additionalProperties"]
            else:
                return None
    return cur


def field_set(obj, sem, status_mode=None):
    """All tracked paths of obj. status_mode: None (everything), 'main' (no status), 'status' (only status)."""
    out = set()
    if not isinstance(obj, dict):
        return out
    for k, v in obj.items():
        if k in ("apiVersion", "kind"):
            continue
        if status_mode == "main" and k == "status":
            continue
        if status_mode == "status" and k != "status":
            continue
        if k == "metadata" and isinstance(v, dict):
            for mk, mv in v.items():
                if mk in UNTRACKED_META:
                    continue
                _add(mv, ("metadata", mk), (("f", "metadata"), ("f", mk)), sem, out)
            continue
        _add(v, (k,), (("f", k),), sem, out)
    return out


def _add(v, sp, p, sem, out):
    if isinstance(v, dict) and v and not sem.atomic_map(sp):
        for k, cv in v.items():
            _add(cv, sp + (k,), p + (("f", k),), sem, out)
    elif isinstance(v, list) and v:
        lt, keys = sem.list_info(sp)
        if lt == "map":
            for item in v:
                kp = p + (("k", key_json(item, keys)),)
                out.add(kp)
                if isinstance(item, dict):
                    for k, cv in item.items():
                        _add(cv, sp + ("*", k), kp + (("f", k),), sem, out)
        elif lt == "set":
            for item in v:
                out.add(p + (("v", val_json(item)),))
        else:
            out.add(p)
    else:
        out.add(p)


def check_duplicates(obj, sem, sp=(), prefix=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            # a value neither a map nor a list has nothing to check: not visited
            if isinstance(v, (dict, list)):
                check_duplicates(v, sem, sp + (k,), prefix + "." + k)
    elif isinstance(obj, list):
        lt, keys = sem.list_info(sp)
        if lt == "map":
            seen = set()
            for item in obj:
                kj = key_json(item, keys)
                if kj in seen:
                    desc = ",".join('%s=%s' % (k, json.dumps(item.get(k))) for k in keys if isinstance(item, dict) and k in item)
                    raise ApplyError("%s: duplicate entries for key [%s]" % (prefix, desc))
                seen.add(kj)
        for item in obj:
            if isinstance(item, (dict, list)):
                check_duplicates(item, sem, sp + ("*",), prefix)


def value_at(obj, path, sem):
    cur = obj
    sp = ()
    for kind, val in path:
        if kind == "f":
            if not isinstance(cur, dict) or val not in cur:
                return MISSING
            cur = cur[val]
            sp = sp + (val,)
        elif kind == "k":
            if not isinstance(cur, list):
                return MISSING
            keys = sem.list_info(sp)[1] or []
            found = MISSING
            for item in cur:
                if key_json(item, keys) == val:
                    found = item
                    break
            if found is MISSING:
                return MISSING
            cur = found
            sp = sp + ("*",)
        elif kind == "v":
            if not isinstance(cur, list):
                return MISSING
            target = json.loads(val)
            return True if target in cur else MISSING
    return cur


def _leaf_value(obj, path, sem):
    v = value_at(obj, path, sem)
    if v is MISSING:
        return MISSING
    if path and path[-1][0] == "k":
        return True  # list items are compared by presence; their fields are separate paths
    return v


def remove_path(obj, path, sem):
    """Remove the field/item at path; prune maps left empty by the removal."""
    chain = []
    cur = obj
    sp = ()
    for kind, val in path[:-1]:
        chain.append(cur)
        if kind == "f":
            if not isinstance(cur, dict) or val not in cur:
                return
            cur = cur[val]
            sp = sp + (val,)
        elif kind == "k":
            if not isinstance(cur, list):
                return
            keys = sem.list_info(sp)[1] or []
            nxt = next((it for it in cur if key_json(it, keys) == val), None)
            if nxt is None:
                return
            cur = nxt
            sp = sp + ("*",)
        else:
            return
    kind, val = path[-1]
    if kind == "f" and isinstance(cur, dict):
        cur.pop(val, None)
    elif kind == "k" and isinstance(cur, list):
        keys = sem.list_info(sp)[1] or []
        cur[:] = [it for it in cur if key_json(it, keys) != val]
    elif kind == "v" and isinstance(cur, list):
        target = json.loads(val)
        cur[:] = [it for it in cur if it != target]
    # prune emptied maps on the way up (never the top level or metadata itself)
    node = cur
    for i in range(len(chain) - 1, 0, -1):
        parent = chain[i]
        pk, pv = path[i]
        if isinstance(node, dict) and not node and pk == "f" and isinstance(parent, dict) and parent.get(pv) is node:
            if len(path) >= 2 and path[0] == ("f", "metadata") and i == 1:
                break
            del parent[pv]
            node = parent
        else:
            break


def drop_nulls(v):
    """Explicit nulls in an applied configuration mean "not set" (typed conversion drops them)."""
    # drop_nulls of a value neither a map nor a list is the value: not called for those
    if isinstance(v, dict):
        return {k: drop_nulls(x) if isinstance(x, (dict, list)) else x for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [drop_nulls(x) if isinstance(x, (dict, list)) else x for x in v]
    return v


def merge_apply(live, applied, sem, sp=()):
    if isinstance(applied, dict) and isinstance(live, dict) and not sem.atomic_map(sp):
        out = dict(live)
        for k, v in applied.items():
            out[k] = merge_apply(live.get(k), v, sem, sp + (k,))
        return out
    if isinstance(applied, list) and isinstance(live, list):
        lt, keys = sem.list_info(sp)
        if lt == "map":
            live_by = {key_json(it, keys): it for it in live}
            applied_keys = set()
            out = []
            for it in applied:
                kj = key_json(it, keys)
                applied_keys.add(kj)
                out.append(merge_apply(live_by.get(kj), it, sem, sp + ("*",)) if kj in live_by else clone(it))
            for it in live:
                if key_json(it, keys) not in applied_keys:
                    out.append(clone(it))
            return out
        if lt == "set":
            out = list(live)
            for it in applied:
                if it not in out:
                    out.append(clone(it))
            return out
    return clone(applied)


# ---------------------------------------------------------------------------
# FieldsV1 <-> path sets

def _el_str(el):
    kind, val = el
    return "%s:%s" % (kind, val)


_RANK = {"f": 0, "k": 1, "v": 2, "i": 3}


def _el_order(el):
    return (_RANK.get(el[0], 9), el[1])


def to_fields_v1(paths):
    tree = {}
    for p in paths:
        node = tree
        for el in p:
            node = node.setdefault(el, {})
        node["."] = True
    return _ser(tree)


def _ser(node):
    """FieldsV1 of a path tree: {element: subtree, ".": True where a path ends}."""
    out = {}
    els = [k for k in node if k != "."]
    if not els:
        return out
    if len(els) < len(node):
        out["."] = {}
    if len(els) > 1:
        els.sort(key=_el_order)
    for el in els:
        out["%s:%s" % el] = _ser(node[el])   # _el_str
    return out


def fields_v1_of(obj, sem, status_mode=None):
    """to_fields_v1(field_set(obj, sem, status_mode)), made while walking obj instead of from a set of path tuples
    (see _fields_of). The top level's and the metadata's fields are "f:" elements, which _ser orders by name."""
    if not isinstance(obj, dict):
        return {}
    out = []
    for k, v in obj.items():
        if k in ("apiVersion", "kind"):
            continue
        if status_mode == "main" and k == "status":
            continue
        if status_mode == "status" and k != "status":
            continue
        if k == "metadata" and isinstance(v, dict):
            tracked = sorted(mk for mk in v if mk not in UNTRACKED_META)
            if tracked:
                out.append((k, {"f:" + mk: _fields_of(v[mk], ("metadata", mk), sem) for mk in tracked}))
            continue
        out.append((k, _fields_of(v, (k,), sem)))
    out.sort(key=lambda kv: kv[0])
    return {"f:" + k: f for k, f in out}


def _fields_of(v, sp, sem):
    """_ser of the path tree node _tree_add(v, sp, node, sem) makes: field_set's walk, where it adds a path the node
    at that path is marked. A map's fields are its keys ("f:" elements, ordered by name, each with one value: no two
    paths share a node below it); a list's go through the path tree (items with equal keys share a node); anything
    else is a leaf ({})."""
    if isinstance(v, dict) and v and not sem.atomic_map(sp):
        return {"f:" + k: _fields_of(v[k], sp + (k,), sem) for k in sorted(v)}
    if isinstance(v, list) and v:
        node = {}
        _tree_add(v, sp, node, sem)
        return _ser(node)
    return {}


def _tree_add(v, sp, node, sem):
    """_add(v, sp, p, sem, out) for the tree node at p."""
    if isinstance(v, dict) and v and not sem.atomic_map(sp):
        for k, cv in v.items():
            _tree_add(cv, sp + (k,), node.setdefault(("f", k), {}), sem)
    elif isinstance(v, list) and v:
        lt, keys = sem.list_info(sp)
        if lt == "map":
            for item in v:
                kn = node.setdefault(("k", key_json(item, keys)), {})
                kn["."] = True
                if isinstance(item, dict):
                    for k, cv in item.items():
                        _tree_add(cv, sp + ("*", k), kn.setdefault(("f", k), {}), sem)
        elif lt == "set":
            for item in v:
                node.setdefault(("v", val_json(item)), {})["."] = True
        else:
            node["."] = True
    else:
        node["."] = True


def from_fields_v1(fv, prefix=()):
    out = set()
    if not isinstance(fv, dict):
        return out
    for k, v in fv.items():
        if k == ".":
            out.add(prefix)
            continue
        kind, _, val = k.partition(":")
        p = prefix + ((kind, val),)
        if not v:
            out.add(p)
        else:
            out |= from_fields_v1(v, p)
    return out


def path_string(path):
    s = ""
    for kind, val in path:
        if kind == "f":
            s += "." + val
        elif kind == "k":
            d = json.loads(val)
            s += "[" + ",".join("%s=%s" % (k, json.dumps(v)) for k, v in d.items()) + "]"
        elif kind == "v":
            s += "[=%s]" % val
        else:
            s += "[%s]" % val
    return s


def now_rfc3339():
    # time.gmtime() is of the whole seconds of time.time(): the text is made once a second
    return _rfc3339(int(time.time()))


@functools.lru_cache(maxsize=4)
def _rfc3339(second):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))


class Entries:
    """The managedFields of one object as (entry dict, path set) pairs."""

    def __init__(self, managed):
        self.items = []
        for e in managed or []:
            self.items.append([dict(e), from_fields_v1(e.get("fieldsV1") or {})])

    def find(self, manager, operation, subresource):
        for it in self.items:
            e = it[0]
            if e.get("manager") == manager and e.get("operation") == operation and e.get("subresource", "") == (subresource or ""):
                return it
        return None

    def ensure(self, manager, operation, subresource, api_version):
        it = self.find(manager, operation, subresource)
        if it is None:
            e = {"manager": manager, "operation": operation, "apiVersion": api_version, "time": now_rfc3339(),
                 "fieldsType": "FieldsV1"}
            if subresource:
                e["subresource"] = subresource
            it = [e, set()]
            self.items.append(it)
        return it

    def owners(self, path, exclude=None):
        return [it for it in self.items if it is not exclude and path in it[1]]

    def serialize(self, present):
        out = []
        for e, paths in self.items:
            paths = paths & present
            if not paths:
                continue
            ne = {k: e[k] for k in ("manager", "operation", "apiVersion", "time", "fieldsType") if k in e}
            ne["fieldsV1"] = to_fields_v1(paths)
            if e.get("subresource"):
                ne["subresource"] = e["subresource"]
            out.append(ne)
        return out


def apply(live, applied, manager, force, sem, api_version, status_mode=None, subresource=""):
    """Returns the new object (managedFields set). Raises Conflict."""
    applied = drop_nulls(applied)
    check_duplicates(applied, sem)
    if not live:
        return _apply_create(applied, manager, sem, api_version, status_mode, subresource)
    entries = Entries((live or {}).get("metadata", {}).get("managedFields"))
    applied_set = field_set(applied, sem, status_mode)
    mine = entries.find(manager, "Apply", subresource)
    prev = set(mine[1]) if mine else set()
    base = clone(live) if live else {}
    if base.get("metadata"):
        base["metadata"].pop("managedFields", None)
    # a create: the merge of applied into nothing is applied itself (drop_nulls made it this call's own)
    merged = merge_apply(base, applied, sem) if live else applied
    # fields this manager stops applying: removed when nobody else owns them. A list item that goes takes its fields
    # with it; removing those one by one first could change the item's key (port, protocol) and strand the rest, so
    # paths under a removed path are left out, and the order is fixed (not the set's, which varies with the hash seed).
    gone = [p for p in prev - applied_set if not entries.owners(p, exclude=mine) and value_at(merged, p, sem) is not MISSING]
    gone_set = set(gone)
    for p in sorted(gone, key=lambda p: (-len(p), path_string(p))):
        if any(p[:i] in gone_set for i in range(1, len(p))):
            continue
        remove_path(merged, p, sem)
    # what this apply changes matters only for the fields other managers own (their conflicts): with none (a create),
    # it is not computed
    if any(it is not mine and it[1] for it in entries.items):
        changed = {p for p in applied_set if _leaf_value(base, p, sem) != _leaf_value(merged, p, sem)}
    else:
        changed = set()
    conflicts = []
    for it in entries.items:
        if it is mine:
            continue
        for p in sorted(it[1] & changed, key=path_string):
            conflicts.append((it[0], p))
    if conflicts and not force:
        raise Conflict(conflicts)
    for e, p in conflicts:
        for it in entries.items:
            if it[0] is e:
                it[1].discard(p)
    mine = entries.ensure(manager, "Apply", subresource, api_version)
    if mine[1] != applied_set or not live:
        mine[0]["time"] = now_rfc3339()
    mine[1] = set(applied_set)
    mine[0]["apiVersion"] = api_version
    # a create's fields are the applied ones (unless only the status was applied: the metadata's name counts too)
    present = applied_set if not live and status_mode != "status" else field_set(merged, sem)
    merged.setdefault("metadata", {})["managedFields"] = entries.serialize(present)
    if not merged["metadata"]["managedFields"]:
        del merged["metadata"]["managedFields"]
    return merged


def _apply_create(applied, manager, sem, api_version, status_mode, subresource):
    """apply() with no live object, where its steps come to this: there are no managedFields, so nothing is gone,
    changed or in conflict; the merge is `applied` itself; the one entry is this manager's Apply, made now, and its
    fields are the applied ones (with a status-only apply, field_set(merged) holds all of them, so the intersection
    serialize takes is the applied set again); no entry when there are none (and `metadata` is made, as setdefault
    makes it there)."""
    merged = applied
    fields = fields_v1_of(applied, sem, status_mode)
    md = merged.setdefault("metadata", {})
    if fields:
        e = {"manager": manager, "operation": "Apply", "apiVersion": api_version, "time": now_rfc3339(),
             "fieldsType": "FieldsV1", "fieldsV1": fields}
        if subresource:
            e["subresource"] = subresource
        md["managedFields"] = [e]
    return merged


def record_update(old, new, manager, sem, api_version, status_mode=None, subresource=""):
    """Ownership after a non-apply write (create, update, patch): changed fields go to manager."""
    entries = Entries((old or {}).get("metadata", {}).get("managedFields"))
    # old without its managedFields, for reading: a copy of the top level and the metadata, the rest shared
    old_clean = dict(old) if old else {}
    if isinstance(old_clean.get("metadata"), dict):
        old_clean["metadata"] = {k: v for k, v in old_clean["metadata"].items() if k != "managedFields"}
    new_set = field_set(new, sem, status_mode)
    changed = {p for p in new_set if _leaf_value(old_clean, p, sem) != _leaf_value(new, p, sem)}
    if changed:
        mine = entries.ensure(manager, "Update", subresource, api_version)
        for it in entries.items:
            if it is not mine:
                it[1] -= changed
        mine[1] |= changed
        mine[0]["time"] = now_rfc3339()
        mine[0]["apiVersion"] = api_version
    present = field_set(new, sem)
    md = new.setdefault("metadata", {})
    mf = entries.serialize(present)
    if mf:
        md["managedFields"] = mf
    else:
        md.pop("managedFields", None)
    return new
