"""Object storage with one resourceVersion counter, an event log for watches,
and optional persistence to a data directory."""

import collections
import copy
import json
import os
import threading
import time

_ATOMIC = frozenset((str, int, float, bool, type(None)))


def clone(v):
    """A deep copy of a JSON value (dicts, lists, strings, numbers, booleans, None) several times faster than
    copy.deepcopy, which the simulator spent most of its time in; anything else (a YAML body's dates) goes to
    copy.deepcopy. Unlike copy.deepcopy it does not keep one sub-object shared between two places of the value as
    shared: objects are trees (they come from JSON or YAML documents), so there is no such sharing to keep."""
    t = type(v)
    if t is dict:
        return {k: (x if type(x) in _ATOMIC else clone(x)) for k, x in v.items()}
    if t is list:
        return [x if type(x) in _ATOMIC else clone(x) for x in v]
    if t in _ATOMIC:
        return v
    return copy.deepcopy(v)


def shallow(o):
    """A copy of an object's top level and its metadata mapping; everything below them is shared."""
    c = dict(o)
    if isinstance(c.get("metadata"), dict):
        c["metadata"] = dict(c["metadata"])
    return c


class Store:
    def __init__(self, data_dir=None, history=20000):
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.rv = 100
        self.objects = {}  # (group, plural, ns, name) -> obj
        # the same objects by resource, as etcd keeps them under one key prefix per resource: a LIST reads its
        # resource's objects alone, not every object of every kind
        self.by_resource = collections.defaultdict(dict)  # (group, plural) -> {(group, plural, ns, name): obj}
        self.events = collections.deque(maxlen=history)  # (rv, type, (group, plural), ns, obj)
        self.data_dir = data_dir
        self.dirty = False
        self.ip_counter = 10
        # the last paged LIST's sorted matches: (resourceVersion, (group, plural, namespace, selector), objects)
        self.matches = None
        if data_dir:
            self._load()
            t = threading.Thread(target=self._flusher, daemon=True)
            t.start()

    # -- persistence --------------------------------------------------------
    def _path(self):
        return os.path.join(self.data_dir, "store.json")

    def _load(self):
        os.makedirs(self.data_dir, exist_ok=True)
        try:
            with open(self._path()) as f:
                d = json.load(f)
        except (OSError, ValueError):
            return
        self.rv = d.get("rv", 100)
        self.ip_counter = d.get("ip_counter", 10)
        for o in d.get("objects", []):
            key = tuple(o["key"])
            self.objects[key] = o["obj"]
            self.by_resource[key[:2]][key] = o["obj"]

    def _flusher(self):
        while True:
            time.sleep(0.3)
            self.flush()

    def flush(self):
        if not self.data_dir:
            return
        with self.lock:
            if not self.dirty:
                return
            d = {"rv": self.rv, "ip_counter": self.ip_counter,
                 "objects": [{"key": list(k), "obj": v} for k, v in self.objects.items()]}
            self.dirty = False
        tmp = self._path() + ".tmp"
        with open(tmp, "w") as f:
            json.dump(d, f)
        os.replace(tmp, self._path())

    # -- objects -------------------------------------------------------------
    def next_rv(self):
        self.rv += 1
        return self.rv

    def allocate_ip(self):
        with self.lock:
            self.ip_counter += 1
            n = self.ip_counter
            return "10.96.%d.%d" % (n // 250, n % 250 + 1)

    def get(self, group, plural, ns, name):
        with self.lock:
            o = self.objects.get((group, plural, ns or "", name))
            return clone(o) if o is not None else None

    def peek(self, group, plural, ns, name):
        """The stored object itself, not a copy, or None: for reading alone (it must not be changed or kept)."""
        with self.lock:
            return self.objects.get((group, plural, ns or "", name))

    def exists(self, group, plural, ns, name):
        with self.lock:
            return (group, plural, ns or "", name) in self.objects

    def list(self, group, plural, ns=None):
        return self.page(group, plural, ns)[0]

    def page(self, group, plural, ns=None, match=None, start=0, limit=0, match_key=None, copy=clone):
        """Copies of the objects (sorted by namespace and name) the stored object passes `match` for, from `start`,
        at most `limit` (0: all), and how many matched in all. Only the page is copied: a paged LIST of many objects
        costs each page its own objects, as kube-apiserver's does, not a copy of every object per page. `copy` makes
        each item's copy (a metadata-only LIST copies the metadata alone).
        With `match_key` (what `match` selects by, e.g. the label selector's text), the sorted matches are kept
        until the next write (any put or remove moves the resourceVersion the entry is for): the later pages of a
        paged LIST, which follow one another with no write between, neither scan nor sort the objects again."""
        with self.lock:
            ck = (group, plural, ns, match_key)
            hit = self.matches if match_key is not None else None
            if hit is not None and hit[0] == self.rv and hit[1] == ck:
                found = hit[2]
            else:
                found = [v for (_, _, n, _), v in self.by_resource.get((group, plural), {}).items()
                         if (ns is None or n == ns) and (match is None or match(v))]
                found.sort(key=lambda o: ((o["metadata"].get("namespace") or ""), o["metadata"]["name"]))
                if match_key is not None:
                    self.matches = (self.rv, ck, found)
            page = found[start:start + limit] if limit > 0 else found[start:]
            return [copy(v) for v in page], len(found)

    def put(self, group, plural, obj, event_type, owned=False):
        """Store obj with a new resourceVersion and log a watch event; returns a copy of the stored object. With
        owned, obj itself is stored (the caller made it for this and keeps no reference), else a copy.
        A stored object is never changed afterwards (a write stores a new one; remove copies before it stamps the
        deletion's resourceVersion), so the watch event holds the stored object itself, not a copy, and the copy
        returned is of its top level and metadata (what callers change: apiVersion and kind for the version asked
        for), the rest shared."""
        with self.lock:
            rv = self.next_rv()
            stored = obj if owned else clone(obj)
            stored["metadata"]["resourceVersion"] = str(rv)
            key = (group, plural, stored["metadata"].get("namespace") or "", stored["metadata"]["name"])
            self.objects[key] = stored
            self.by_resource[key[:2]][key] = stored
            self.events.append((rv, event_type, (group, plural), key[2], stored))
            self.dirty = True
            self.cond.notify_all()
            return shallow(stored)

    def remove(self, group, plural, ns, name):
        with self.lock:
            key = (group, plural, ns or "", name)
            obj = self.objects.pop(key, None)
            if obj is None:
                return None
            self.by_resource[key[:2]].pop(key, None)
            rv = self.next_rv()
            # the stored object is also an earlier event's: stamped on a copy of its top level and metadata
            obj = shallow(obj)
            obj["metadata"]["resourceVersion"] = str(rv)
            self.events.append((rv, "DELETED", (group, plural), key[2], obj))
            self.dirty = True
            self.cond.notify_all()
            return shallow(obj)

    def oldest_rv(self):
        with self.lock:
            return self.events[0][0] if self.events else self.rv

    def events_since(self, rv, group, plural, ns):
        with self.lock:
            return [e for e in self.events if e[0] > rv and e[2] == (group, plural) and (ns is None or e[3] == ns)]
