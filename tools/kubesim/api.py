"""The API semantics: types (built-in and CRD-defined), create, update, patch,
apply, delete, list and watch, with kube-apiserver's errors."""

import base64
import functools
import hashlib
import json
import random
import re
import threading
import time
import uuid

import lease as leaselib
import patch as patchlib
import registry
import schema as schemalib
import selector
import ssa
from store import clone, shallow
from registry import ResourceType


class ApiError(Exception):
    def __init__(self, code, reason, message, details=None, headers=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self):
        s = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
             "message": self.message, "reason": self.reason, "code": self.code}
        if self.details is not None:
            s["details"] = self.details
        if not self.reason:
            del s["reason"]
        return s


def now():
    # time.gmtime() is of the whole seconds of time.time(): the text is made once a second
    return _rfc3339(int(time.time()))


@functools.lru_cache(maxsize=4)
def _rfc3339(second):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))


DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                 "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                 "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
             "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
             "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
LABEL_NAMED = {"Namespace", "Service"}
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def qualified_kind(rt):
    return rt.kind if not rt.group else "%s.%s" % (rt.kind, rt.group)


class API:
    def __init__(self, store):
        self.store = store
        self.types = {}  # (group, version, plural) -> ResourceType
        self.lock = threading.RLock()
        self.faults = []
        self.faults_injected = 0
        self.fault_lock = threading.Lock()
        self.auto_ready = False
        # container logs of pods (there are no kubelets): (namespace, pod, container) -> text, set by /__sim/podlogs
        self.pod_logs = {}
        self.sa_tokens = {}  # TokenRequest tokens: token -> (namespace, service account name, uid)
        # Objects' uids: random version 4 UUIDs as uuid.uuid4 makes them, from a generator seeded by os.urandom
        # (uuid4 reads os.urandom each time, which lets another thread take the interpreter in the middle of a write).
        self.uid_random = random.Random()
        # Answers derived from self.types (which group versions are served, the resources of one): kept with the
        # types_generation they were made at, which every change to self.types moves on.
        self.types_generation = 0
        self.by_group_version = {}
        for rt in registry.BUILTINS:
            self.types[(rt.group, rt.version, rt.plural)] = rt
        for crd in store.list("apiextensions.k8s.io", "customresourcedefinitions"):
            self.register_crd(crd)
        if not store.objects:
            # what a new cluster has
            for ns in ("default", "kube-node-lease", "kube-public", "kube-system"):
                self.create(self.types[("", "v1", "namespaces")], None, {"apiVersion": "v1", "kind": "Namespace",
                                                                         "metadata": {"name": ns}}, {}, None, "kube-apiserver")

    # -- type registry -------------------------------------------------------
    def groups(self):
        gv = {}
        for (g, v, _), rt in self.types.items():
            gv.setdefault(g, [])
            if v not in gv[g]:
                gv[g].append(v)
        return gv

    def resources(self, group, version):
        return [rt for (g, v, _), rt in self.types.items() if g == group and v == version]

    def resource_names(self, group, version):
        """{plural: ResourceType} of the group version's resources, as resources() lists them (shared: not to be
        changed)."""
        return self._group_version(group, version)[1]

    def serves(self, group, version):
        """Whether any type is of this group and version."""
        return self._group_version(group, version)[0]

    def _group_version(self, group, version):
        key = (group, version)
        hit = self.by_group_version.get(key)
        generation = self.types_generation
        if hit is not None and hit[0] == generation:
            return hit[1]
        # made from the types as they are at `generation` or later: a change after it moves the generation on, so the
        # answer is not used again
        names = {rt.plural: rt for rt in self.resources(group, version)}
        answer = (any(g == group and v == version for g, v, _ in list(self.types)), names)
        self.by_group_version[key] = (generation, answer)
        return answer

    def new_uid(self):
        """str(uuid.uuid4()) of 128 random bits: the version (4) and variant (RFC 4122) bits set as UUID(version=4)
        sets them."""
        n = self.uid_random.getrandbits(128)
        n = (n & ~(0xc000 << 48)) | (0x8000 << 48)
        n = (n & ~(0xf000 << 64)) | (4 << 76)
        h = "%032x" % n
        return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])

    def find_type(self, group, version, plural):
        return self.types.get((group, version, plural))

    def crd_types(self, crd):
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        storage = next((v["name"] for v in spec.get("versions") or [] if v.get("storage")), None)
        out = []
        for v in spec.get("versions") or []:
            if not v.get("served", True):
                continue
            sch = ((v.get("schema") or {}).get("openAPIV3Schema")) or {}
            pcs = v.get("additionalPrinterColumns")
            if pcs is None:
                pcs = [{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]
            rt = ResourceType(spec.get("group", ""), v["name"], names.get("plural", ""), names.get("kind", ""),
                              namespaced=spec.get("scope") == "Namespaced", short=names.get("shortNames") or [],
                              categories=names.get("categories") or [], verbs=registry.CRD_VERBS,
                              status="status" in (v.get("subresources") or {}), generation=True,
                              singular=names.get("singular") or names.get("kind", "").lower(), builtin=False,
                              schema=sch, crd=crd["metadata"]["name"], storage_version=storage,
                              printer_columns=pcs, scale="scale" in (v.get("subresources") or {}))
            out.append(rt)
        return out

    def register_crd(self, crd):
        with self.lock:
            self.unregister_crd(crd["metadata"]["name"])
            for rt in self.crd_types(crd):
                self.types[(rt.group, rt.version, rt.plural)] = rt
            self.types_generation += 1

    def unregister_crd(self, name):
        with self.lock:
            for k in [k for k, rt in self.types.items() if rt.crd == name]:
                del self.types[k]
            self.types_generation += 1

    def semantics(self, rt):
        # a function of the type (its kind, or its schema), which does not change, and read only: made once per type
        sem = rt.ssa_semantics
        if sem is None:
            if rt.builtin:
                sem = ssa.Semantics(lists=registry.list_semantics(rt.kind))
            else:
                sem = ssa.Semantics(lists={("metadata", "finalizers"): ("set", None),
                                           ("metadata", "ownerReferences"): ("map", ["uid"])}, crd_schema=rt.schema)
            rt.ssa_semantics = sem
        return sem

    # -- errors ----------------------------------------------------------------
    def not_found(self, rt, name):
        return ApiError(404, "NotFound", '%s "%s" not found' % (rt.group_resource, name),
                        {"name": name, "group": rt.group, "kind": rt.plural} if rt.group else {"name": name, "kind": rt.plural})

    def conflict(self, rt, name):
        return ApiError(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": the object has been modified; '
                        'please apply your changes to the latest version and try again' % (rt.group_resource, name),
                        self._details(rt, name))

    def _details(self, rt, name):
        d = {"name": name, "kind": rt.plural}
        if rt.group:
            d["group"] = rt.group
        return d

    def invalid(self, rt, name, errs):
        causes = [{"reason": e.cause_type, "message": e.body(), "field": e.field} for e in errs]
        agg = str(errs[0]) if len(errs) == 1 else "[" + ", ".join(str(e) for e in errs) + "]"
        d = {"name": name, "kind": rt.kind, "causes": causes}
        if rt.group:
            d["group"] = rt.group
        return ApiError(422, "Invalid", '%s "%s" is invalid: %s' % (qualified_kind(rt), name, agg), d)

    # -- helpers ---------------------------------------------------------------
    def storage_key(self, rt):
        return rt.group, rt.plural

    def to_version(self, rt, obj):
        if obj is not None:
            obj["apiVersion"] = rt.api_version
            obj["kind"] = rt.kind
        return obj

    def get_obj(self, rt, ns, name):
        o = self.store.get(rt.group, rt.plural, ns if rt.namespaced else "", name)
        if o is not None and not rt.builtin and rt.schema:
            schemalib.apply_defaults(o, rt.schema)
        return self.to_version(rt, o)

    def check_namespace(self, rt, ns, creating=True):
        if not rt.namespaced:
            return
        nso = self.store.peek("", "namespaces", "", ns)
        if nso is None:
            raise ApiError(404, "NotFound", 'namespaces "%s" not found' % ns, {"name": ns, "kind": "namespaces"})
        if creating and (nso.get("metadata") or {}).get("deletionTimestamp"):
            raise ApiError(403, "Forbidden", "%s \"%s\" is forbidden: unable to create new content in namespace %s because it is being terminated"
                           % (rt.group_resource, "", ns), {"kind": rt.plural, "causes": [{"reason": "NamespaceTerminating", "message": "namespace %s is being terminated" % ns, "field": "metadata.namespace"}]})

    def validate_meta(self, rt, obj, errs):
        md = obj.get("metadata") or {}
        name = md.get("name", "")
        if not name:
            errs.append(schemalib.FieldError("Required", "metadata.name", detail="name or generateName is required"))
        elif rt.kind in LABEL_NAMED:
            if not DNS1123_LABEL.match(name) or len(name) > 63:
                errs.append(schemalib.FieldError("Invalid", "metadata.name", name, LABEL_MSG))
        elif rt.kind in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"):
            if "/" in name or name in (".", ".."):
                errs.append(schemalib.FieldError("Invalid", "metadata.name", name, "may not contain '/'"))
        elif not DNS1123_SUBDOMAIN.match(name) or len(name) > 253:
            errs.append(schemalib.FieldError("Invalid", "metadata.name", name, SUBDOMAIN_MSG))
        for field in ("labels", "annotations"):
            v = md.get(field)
            if v is not None and not isinstance(v, dict):
                errs.append(schemalib.FieldError("Invalid", "metadata." + field, v, "must be a map"))
            for k, val in (v or {}).items():
                if not isinstance(val, str):
                    raise ApiError(400, "BadRequest", "json: cannot unmarshal %s into Go struct field ObjectMeta.metadata.%s of type string" % (schemalib.type_name(val), field))
        for k, val in (md.get("labels") or {}).items():
            if not LABEL_VALUE.match(val) or len(val) > 63:
                errs.append(schemalib.FieldError("Invalid", "metadata.labels", val,
                            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"))

    def validate_builtin(self, rt, obj, errs):
        spec = obj.get("spec")
        if rt.kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"):
            if not isinstance(spec, dict):
                errs.append(schemalib.FieldError("Required", "spec.selector"))
                return
            sel = spec.get("selector")
            if not sel:
                errs.append(schemalib.FieldError("Required", "spec.selector"))
            tpl_labels = (((spec.get("template") or {}).get("metadata") or {}).get("labels")) or {}
            ml = (sel or {}).get("matchLabels") or {}
            if sel and any(tpl_labels.get(k) != v for k, v in ml.items()):
                errs.append(schemalib.FieldError("Invalid", "spec.template.metadata.labels", tpl_labels,
                                                 "`selector` does not match template `labels`"))
            containers = ((spec.get("template") or {}).get("spec") or {}).get("containers")
            if not containers:
                errs.append(schemalib.FieldError("Required", "spec.template.spec.containers"))
            for i, c in enumerate(containers or []):
                if not c.get("image"):
                    errs.append(schemalib.FieldError("Required", "spec.template.spec.containers[%d].image" % i))
                if not c.get("name"):
                    errs.append(schemalib.FieldError("Required", "spec.template.spec.containers[%d].name" % i))
        elif rt.kind == "Service" and isinstance(spec, dict):
            if not spec.get("ports") and spec.get("type") != "ExternalName" and spec.get("clusterIP") != "None":
                errs.append(schemalib.FieldError("Required", "spec.ports"))
        elif rt.kind == "ConfigMap":
            for k, v in (obj.get("data") or {}).items():
                if not isinstance(v, str):
                    raise ApiError(400, "BadRequest", "json: cannot unmarshal %s into Go struct field ConfigMap.data of type string" % schemalib.type_name(v))
        elif rt.kind == "CustomResourceDefinition":
            self.validate_crd(obj, errs)
        elif rt.kind == "Lease" and rt.group == "coordination.k8s.io":
            try:
                leaselib.prepare(obj, errs)
            except leaselib.DecodeError as e:
                raise ApiError(400, "BadRequest", 'Lease in version "v1" cannot be handled as a Lease: %s' % e)

    def validate_crd(self, crd, errs):
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        group = spec.get("group", "")
        if not names.get("plural"):
            errs.append(schemalib.FieldError("Required", "spec.names.plural"))
        if not names.get("kind"):
            errs.append(schemalib.FieldError("Required", "spec.names.kind"))
        expected = "%s.%s" % (names.get("plural", ""), group)
        if crd["metadata"].get("name") != expected:
            errs.append(schemalib.FieldError("Invalid", "metadata.name", crd["metadata"].get("name"),
                                             'must be spec.names.plural+"."+spec.group'))
        if spec.get("scope") not in ("Namespaced", "Cluster"):
            errs.append(schemalib.FieldError("NotSupported", "spec.scope", spec.get("scope"), supported=["Cluster", "Namespaced"]))
        versions = spec.get("versions") or []
        if not versions:
            errs.append(schemalib.FieldError("Invalid", "spec.versions", versions, "must have exactly one version marked as storage version"))
        elif sum(1 for v in versions if v.get("storage")) != 1:
            errs.append(schemalib.FieldError("Invalid", "spec.versions", versions, "must have exactly one version marked as storage version"))
        for i, v in enumerate(versions):
            if not (v.get("schema") or {}).get("openAPIV3Schema"):
                errs.append(schemalib.FieldError("Required", "spec.versions[%d].schema.openAPIV3Schema" % i, detail="schemas are required"))

    # -- lifecycle ---------------------------------------------------------------
    def prepare_custom(self, rt, obj, validation, name, old=None):
        """Prune, default and validate a custom resource; returns warnings."""
        warnings = []
        if not rt.schema:
            return warnings
        # The fields pruning drops are the unknown ones (unknown_fields prunes a copy): pruned once, in place (the
        # object is this request's own; a strict failure discards it).
        unknown = schemalib.prune(obj, rt.schema)
        if unknown and validation == "Strict":
            msgs = ['unknown field "%s"' % u for u in unknown]
            raise ApiError(400, "BadRequest", "strict decoding error: " + ", ".join(msgs))
        if unknown and validation in ("Warn", None, ""):
            warnings.extend('unknown field "%s"' % u for u in unknown)
        schemalib.apply_defaults(obj, rt.schema)
        errs = schemalib.validate_object(obj, rt.schema)
        if errs:
            raise self.invalid(rt, name, errs)
        return warnings

    def finish_object(self, rt, obj, old, validation):
        """Defaults, validation and derived fields shared by create and update."""
        name = obj["metadata"].get("name", "")
        errs = []
        self.validate_meta(rt, obj, errs)
        if rt.kind == "Secret" and rt.builtin:
            sd = obj.pop("stringData", None)
            if isinstance(sd, dict):
                data = obj.setdefault("data", {}) or {}
                obj["data"] = data
                for k, v in sd.items():
                    data[k] = base64.b64encode(str(v).encode()).decode()
            for k, v in (obj.get("data") or {}).items():
                try:
                    base64.b64decode(v, validate=True)
                except Exception:
                    raise ApiError(400, "BadRequest", "illegal base64 data at input byte 0")
        warnings = []
        if rt.builtin:
            registry.apply_defaults(rt.kind, obj, self.store.allocate_ip if old is None or not ((old.get("spec") or {}).get("clusterIP")) else None)
            if rt.kind == "Service" and old is not None:
                osp, nsp = old.get("spec") or {}, obj.get("spec") or {}
                if "clusterIP" in osp and "clusterIP" not in nsp:
                    nsp["clusterIP"] = osp["clusterIP"]
                    nsp.setdefault("clusterIPs", osp.get("clusterIPs") or [osp["clusterIP"]])
            self.validate_builtin(rt, obj, errs)
            if errs:
                raise self.invalid(rt, name, errs)
        else:
            if errs:
                raise self.invalid(rt, name, errs)
            warnings = self.prepare_custom(rt, obj, validation, name, old)
        return warnings

    def create(self, rt, ns, body, params, user, manager, subresource="", apply_mf=None):
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the body of the request was in an unknown format")
        self.check_kind(rt, body)
        # an apply's merged object (apply_mf given) is this call's own: changed in place, not copied
        obj = body if apply_mf is not None else clone(body)
        md = obj.setdefault("metadata", {})
        if not isinstance(md, dict):
            raise ApiError(400, "BadRequest", "metadata must be an object")
        if rt.namespaced:
            if md.get("namespace") and md["namespace"] != ns:
                raise ApiError(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request")
            md["namespace"] = ns
            self.check_namespace(rt, ns)
        else:
            md.pop("namespace", None)
        if not md.get("name") and md.get("generateName"):
            md["name"] = md["generateName"] + uuid.uuid4().hex[:5]
        name = md.get("name", "")
        for f in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "generation", "managedFields", "selfLink"):
            md.pop(f, None)
        if rt.status and not (rt.builtin and rt.kind in ("CustomResourceDefinition",)):
            obj.pop("status", None)
        if name and self.store.exists(rt.group, rt.plural, ns if rt.namespaced else "", name):
            raise ApiError(409, "AlreadyExists", '%s "%s" already exists' % (rt.group_resource, name), self._details(rt, name))
        warnings = self.finish_object(rt, obj, None, params.get("fieldValidation"))
        md["uid"] = self.new_uid()
        md["creationTimestamp"] = now()
        if rt.generation:
            md["generation"] = 1
        if rt.kind == "CustomResourceDefinition":
            self.crd_status(obj)
        if apply_mf is None:
            self.record(rt, None, obj, manager, "", "")
        elif apply_mf:
            md["managedFields"] = apply_mf
        dry = params.get("dryRun") == "All"
        if dry:
            obj = self.to_version(rt, obj)
            return obj, warnings
        # obj is this call's own and not used again: stored as it is
        stored = self.store.put(rt.group, rt.plural, self.to_storage(rt, obj, in_place=True), "ADDED", owned=True)
        if rt.kind == "CustomResourceDefinition":
            self.register_crd(stored)
        self.after_write(rt, stored)
        return self.to_version(rt, stored), warnings

    def to_storage(self, rt, obj, in_place=False):
        o = obj if in_place else clone(obj)
        if not rt.builtin:
            o["apiVersion"] = "%s/%s" % (rt.group, rt.storage_version)
        return o

    def check_kind(self, rt, body):
        kind = body.get("kind")
        av = body.get("apiVersion")
        if kind and kind != rt.kind:
            raise ApiError(400, "BadRequest", "the API version in the data (%s) does not match the expected API version (%s)" % (av, rt.api_version)
                           if av and av != rt.api_version else 'Kind "%s" does not match expected kind "%s"' % (kind, rt.kind))
        if av and av != rt.api_version:
            raise ApiError(400, "BadRequest", "the API version in the data (%s) does not match the expected API version (%s)" % (av, rt.api_version))

    def record(self, rt, old, new, manager, subresource, status_mode):
        sem = self.semantics(rt)
        mode = status_mode or ("main" if rt.status and subresource != "status" else None)
        if subresource == "status":
            mode = "status"
        ssa.record_update(old, new, manager or "unknown", sem, rt.api_version, mode, subresource)

    def crd_status(self, crd):
        spec = crd.get("spec") or {}
        names = clone(spec.get("names") or {})
        names.setdefault("singular", names.get("kind", "").lower())
        names.setdefault("listKind", names.get("kind", "") + "List")
        t = now()
        storage = [v["name"] for v in spec.get("versions") or [] if v.get("storage")]
        old = (crd.get("status") or {}).get("storedVersions") or []
        crd["status"] = {
            "acceptedNames": names,
            "conditions": [
                {"type": "NamesAccepted", "status": "True", "lastTransitionTime": t, "reason": "NoConflicts",
                 "message": "no conflicts found"},
                {"type": "Established", "status": "True", "lastTransitionTime": t, "reason": "InitialNamesAccepted",
                 "message": "the initial names have been accepted"},
            ],
            "storedVersions": old + [s for s in storage if s not in old],
        }

    def spec_changed(self, rt, old, new):
        def strip(o):
            o = {k: v for k, v in o.items() if k not in ("metadata", "apiVersion", "kind")}
            if rt.status:
                o.pop("status", None)
            return o
        return strip(old) != strip(new)

    def update(self, rt, ns, name, body, params, user, manager, subresource="", precheck_rv=True, apply_op=None,
               old=None, owned=False):
        """PUT semantics; also the tail of every patch. A patch or an apply passes the object it read (`old`: under
        the API lock, so still the stored one, and not changed here) and, with `owned`, a body made for this call
        alone (changed in place, not copied)."""
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the body of the request was in an unknown format")
        self.check_kind(rt, body)
        if old is None:
            old = self.get_obj(rt, ns, name)
        bmd = body.get("metadata") or {}
        if bmd.get("name") and bmd["name"] != name:
            raise ApiError(400, "BadRequest", "the name of the object (%s) does not match the name on the URL (%s)" % (bmd["name"], name))
        if old is None:
            raise self.not_found(rt, name)
        if precheck_rv:
            rv = bmd.get("resourceVersion")
            if rv and rv != old["metadata"]["resourceVersion"]:
                raise self.conflict(rt, name)
            if not rv and not rt.builtin:
                raise self.invalid(rt, name, [schemalib.FieldError("Invalid", "metadata.resourceVersion", 0, "must be specified for an update")])
        # an apply's merged object (apply_op given) and a patch's result are this call's own: changed in place
        new = body if apply_op is not None or owned else clone(body)
        new["apiVersion"] = rt.api_version
        new["kind"] = rt.kind
        nmd = new.setdefault("metadata", {})
        omd = old["metadata"]
        for f in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation", "name", "namespace"):
            if f in omd:
                nmd[f] = omd[f]
            else:
                nmd.pop(f, None)
        nmd["managedFields"] = omd.get("managedFields") or []
        if subresource == "status":
            # all of old but its status (not copied: replaced by the request's)
            keep = {k: (v if type(v) in (str, int, float, bool, type(None)) else clone(v)) for k, v in old.items() if k != "status"}
            if new.get("status") is not None:
                keep["status"] = new["status"]
            new = keep
        elif rt.status:
            if "status" in old:
                new["status"] = clone(old["status"])
            else:
                new.pop("status", None)
        warnings = self.finish_object(rt, new, old, params.get("fieldValidation"))
        if rt.generation and subresource != "status" and self.spec_changed(rt, old, new):
            nmd["generation"] = omd.get("generation", 1) + 1
        if rt.kind == "CustomResourceDefinition" and subresource != "status":
            self.crd_status(new)
            new["status"]["conditions"] = (old.get("status") or {}).get("conditions") or new["status"]["conditions"]
        if apply_op is None:
            self.record(rt, old, new, manager, subresource, None)
        else:
            new["metadata"]["managedFields"] = apply_op
        dry = params.get("dryRun") == "All"
        # no-op writes keep the resourceVersion
        if same_but_versions(old, new):
            return old, warnings
        new["metadata"]["resourceVersion"] = omd["resourceVersion"]
        if dry:
            return new, warnings
        if nmd.get("deletionTimestamp") and not nmd.get("finalizers"):
            gone = self.store.remove(rt.group, rt.plural, ns if rt.namespaced else "", name)
            self.after_delete(rt, gone, "Background")
            return self.to_version(rt, new), warnings
        # new is this call's own (its managedFields list comes from old, a copy) and not used again: stored as it is
        stored = self.store.put(rt.group, rt.plural, self.to_storage(rt, new, in_place=True), "MODIFIED", owned=True)
        if rt.kind == "CustomResourceDefinition":
            self.register_crd(stored)
        self.after_write(rt, stored)
        return self.to_version(rt, stored), warnings

    def patch(self, rt, ns, name, ptype, raw, params, user, manager, subresource=""):
        if ptype == "application/apply-patch+yaml":
            return self.apply(rt, ns, name, raw, params, user, manager, subresource)
        old = self.get_obj(rt, ns, name)
        if old is None:
            raise self.not_found(rt, name)
        try:
            doc = json.loads(raw or b"null")
        except ValueError as e:
            raise ApiError(400, "BadRequest", "error decoding patch: %s" % e)
        # old is this request's own copy (get_obj); a merge patch builds new maps along the patched paths and shares
        # the rest with old, which update reads alongside (equal values): no copy. The other patch types change
        # their target in place: a copy.
        base = old if ptype == "application/merge-patch+json" else clone(old)
        try:
            if ptype == "application/merge-patch+json":
                if not isinstance(doc, dict):
                    raise ApiError(400, "BadRequest", "error decoding patch: json: cannot unmarshal into object")
                new = patchlib.merge_patch(base, doc)
            elif ptype == "application/json-patch+json":
                new = patchlib.json_patch(base, doc)
            elif ptype == "application/strategic-merge-patch+json":
                if not rt.builtin:
                    raise ApiError(415, "UnsupportedMediaType",
                                   "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")
                kind = rt.kind
                new = patchlib.strategic_merge(base, doc, lambda p: registry.smp_key(kind, p))
            else:
                raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json")
        except patchlib.PatchError as e:
            if e.code == 422:
                raise ApiError(422, "Invalid", "the server rejected our request due to an error in our request", {})
            raise ApiError(400, "BadRequest", str(e))
        if not isinstance(new, dict):
            raise ApiError(400, "BadRequest", "patched object is not an object")
        if isinstance(new.get("metadata"), dict) and new["metadata"] is old.get("metadata"):
            new["metadata"] = dict(new["metadata"])   # update writes the new metadata's fields: not old's
        if (new.get("metadata") or {}).get("resourceVersion") == old["metadata"]["resourceVersion"]:
            pass
        elif (new.get("metadata") or {}).get("resourceVersion"):
            raise self.conflict(rt, name)
        new.setdefault("metadata", {})["resourceVersion"] = old["metadata"]["resourceVersion"]
        # new was made from a copy of old for this request: owned; old is still what the store holds (API lock)
        return self.update(rt, ns, name, new, params, user, manager, subresource, precheck_rv=False, old=old, owned=True)

    def apply(self, rt, ns, name, raw, params, user, manager, subresource=""):
        try:
            cfg = json.loads(raw)
        except ValueError:
            try:
                import yaml
                cfg = yaml.safe_load(raw)
            except Exception as e:
                raise ApiError(400, "BadRequest", "error decoding YAML: %s" % e)
        if not isinstance(cfg, dict):
            raise ApiError(400, "BadRequest", "the body of the request was in an unknown format")
        if not manager:
            raise ApiError(400, "BadRequest", "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch")
        force = params.get("force") in ("true", "1")
        cmd = cfg.get("metadata") or {}
        if cmd.get("name") and cmd["name"] != name:
            raise ApiError(400, "BadRequest", "the name of the object (%s) does not match the name on the URL (%s)" % (cmd["name"], name))
        if rt.namespaced and cmd.get("namespace") and cmd["namespace"] != ns:
            raise ApiError(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request")
        if not cfg.get("apiVersion") or not cfg.get("kind"):
            raise ApiError(400, "BadRequest", "invalid object type: /, Kind=" if not cfg.get("apiVersion") else "Object 'Kind' is missing in '%s'" % json.dumps(cfg))
        self.check_kind(rt, cfg)
        if not rt.builtin and rt.schema:
            unknown = schemalib.unknown_fields(cfg, rt.schema)
            if unknown:
                first = unknown[0]
                raise ApiError(500, "", "failed to create typed patch object (%s%s; %s, Kind=%s): .%s: field not declared in schema"
                               % (ns + "/" if rt.namespaced else "", name, rt.api_version, rt.kind, first))
        sem = self.semantics(rt)
        status_mode = "status" if subresource == "status" else ("main" if rt.status else None)
        applied = cfg   # decoded for this request alone: changed in place
        if status_mode == "main":
            applied.pop("status", None)
        elif status_mode == "status":
            applied = {k: v for k, v in applied.items() if k in ("apiVersion", "kind", "metadata", "status")}
            applied["metadata"] = {k: v for k, v in (applied.get("metadata") or {}).items() if k in ("name", "namespace")}
        if rt.builtin and rt.kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Pod", "Job"):
            # list keys that carry defaults (container port protocol) are defaulted before merging
            for c in _containers(applied):
                for p in c.get("ports") or []:
                    if isinstance(p, dict):
                        p.setdefault("protocol", "TCP")
        if rt.builtin and rt.kind == "Service":
            for p in ((applied.get("spec") or {}).get("ports") or []):
                if isinstance(p, dict):
                    p.setdefault("protocol", "TCP")
        old = self.get_obj(rt, ns, name)
        try:
            merged = ssa.apply(old, applied, manager, force, sem, rt.api_version, status_mode, subresource)
        except ssa.ApplyError as e:
            raise ApiError(500, "", "failed to create typed patch object (%s%s; %s, Kind=%s): %s"
                           % (ns + "/" if rt.namespaced else "", name, rt.api_version, rt.kind, e))
        except ssa.Conflict as c:
            raise self.apply_conflict(c.conflicts)
        mf = merged["metadata"].get("managedFields") or []
        merged["metadata"].setdefault("name", name)
        if old is None:
            if subresource == "status":
                raise self.not_found(rt, name)
            merged["metadata"].pop("managedFields", None)
            return self.create(rt, ns, merged, params, user, manager, apply_mf=mf)
        merged["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        return self.update(rt, ns, name, merged, params, user, manager, subresource, precheck_rv=False, apply_op=mf, old=old)

    def apply_conflict(self, conflicts):
        def mgr(e):
            if e.get("operation") == "Update":
                return '"%s" using %s' % (e.get("manager"), e.get("apiVersion"))
            return '"%s"' % e.get("manager")
        causes = [{"reason": "FieldManagerConflict", "message": "conflict with %s" % mgr(e), "field": ssa.path_string(p)}
                  for e, p in conflicts]
        if len(conflicts) == 1:
            e, p = conflicts[0]
            msg = "Apply failed with 1 conflict: conflict with %s: %s" % (mgr(e), ssa.path_string(p))
        else:
            by = {}
            for e, p in conflicts:
                by.setdefault(mgr(e), []).append(ssa.path_string(p))
            lines = []
            for m in sorted(by):
                lines.append("conflicts with %s:" % m)
                lines.extend("- %s" % p for p in by[m])
            msg = "Apply failed with %d conflicts: %s" % (len(conflicts), "\n".join(lines))
        return ApiError(409, "Conflict", msg, {"causes": causes})

    def delete(self, rt, ns, name, params, body, user, recursing=False):
        old = self.get_obj(rt, ns, name)
        if old is None:
            raise self.not_found(rt, name)
        opts = body if isinstance(body, dict) else {}
        pre = opts.get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != old["metadata"].get("uid"):
            raise ApiError(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": Precondition failed: UID in precondition: %s, UID in object meta: %s'
                           % (rt.group_resource, name, pre["uid"], old["metadata"].get("uid")))
        if pre.get("resourceVersion") and pre["resourceVersion"] != old["metadata"].get("resourceVersion"):
            raise self.conflict(rt, name)
        policy = opts.get("propagationPolicy") or params.get("propagationPolicy") or (
            "Orphan" if opts.get("orphanDependents") else "Background")
        dry = params.get("dryRun") == "All" or "All" in (opts.get("dryRun") or [])
        md = old["metadata"]
        finalizers = list(md.get("finalizers") or [])
        if rt.kind == "Namespace" and rt.builtin:
            if dry:
                return old
            if not md.get("deletionTimestamp"):
                md["deletionTimestamp"] = now()
                old.setdefault("status", {})["phase"] = "Terminating"
                self.store.put("", "namespaces", old, "MODIFIED")
            self.purge_namespace(name)
            gone = self.store.remove("", "namespaces", "", name)
            return self.to_version(rt, gone or old)
        if policy == "Foreground" and "foregroundDeletion" not in finalizers:
            pass  # dependents are deleted right away below
        if finalizers:
            if dry:
                old["metadata"]["deletionTimestamp"] = md.get("deletionTimestamp") or now()
                return old
            if not md.get("deletionTimestamp"):
                md["deletionTimestamp"] = now()
                md["deletionGracePeriodSeconds"] = 0
                stored = self.store.put(rt.group, rt.plural, self.to_storage(rt, old), "MODIFIED")
                return self.to_version(rt, stored)
            return old
        if dry:
            return old
        gone = self.store.remove(rt.group, rt.plural, ns if rt.namespaced else "", name)
        self.after_delete(rt, gone, policy)
        return self.to_version(rt, gone)

    def after_delete(self, rt, gone, policy):
        if gone is None:
            return
        if rt.kind == "CustomResourceDefinition" and rt.builtin:
            spec = gone.get("spec") or {}
            for (g, p, n, nm), _ in list(self.store.objects.items()):
                if g == spec.get("group") and p == (spec.get("names") or {}).get("plural"):
                    self.store.remove(g, p, n, nm)
            self.unregister_crd(gone["metadata"]["name"])
        uid = gone["metadata"].get("uid")
        for (g, p, n, nm), o in list(self.store.objects.items()):
            refs = (o.get("metadata") or {}).get("ownerReferences") or []
            if any(r.get("uid") == uid for r in refs):
                if policy == "Orphan":
                    o2 = clone(o)
                    o2["metadata"]["ownerReferences"] = [r for r in refs if r.get("uid") != uid]
                    if not o2["metadata"]["ownerReferences"]:
                        del o2["metadata"]["ownerReferences"]
                    self.store.put(g, p, o2, "MODIFIED")
                else:
                    drt = next((t for t in self.types.values() if t.group == g and t.plural == p), None)
                    if drt:
                        try:
                            self.delete(drt, n, nm, {}, {"propagationPolicy": policy}, None, recursing=True)
                        except ApiError:
                            pass

    def purge_namespace(self, ns):
        for (g, p, n, nm), o in list(self.store.objects.items()):
            if n == ns and not (g == "" and p == "namespaces"):
                self.store.remove(g, p, n, nm)

    # -- list / watch ------------------------------------------------------------
    def list(self, rt, ns, params, metadata_only=False):
        """The objects of a LIST and its list metadata. With metadata_only (a PartialObjectMetadataList), each item
        is a copy of the object's metadata with its apiVersion and kind, the rest neither copied nor defaulted."""
        try:
            lsel = selector.parse_label_selector(params.get("labelSelector"))
            fsel = selector.parse_field_selector(params.get("fieldSelector"), rt.kind)
        except selector.SelectorError as e:
            raise ApiError(400, "BadRequest", str(e))
        rv = str(self.store.rv)
        cont = params.get("continue")
        start = 0
        if cont:
            try:
                tok = json.loads(base64.b64decode(cont))
                start = tok["start"]
                rv = tok["rv"]
            except Exception:
                raise ApiError(400, "BadRequest", "continue key is not valid: illegal base64 data at input byte 0")
        limit = int(params.get("limit") or 0)

        def prepared(o):
            if not rt.builtin and rt.schema:
                schemalib.apply_defaults(o, rt.schema)
            return self.to_version(rt, o)
        where = ns if rt.namespaced else None
        if fsel:
            # Field selectors may name defaulted fields: every object is prepared before it is matched.
            objs = self.store.list(rt.group, rt.plural, where)
            out = [o for o in map(prepared, objs)
                   if selector.label_match(lsel, o["metadata"].get("labels")) and selector.field_match(fsel, o)]
            total = len(out)
            items = out[start:start + limit] if limit > 0 else out[start:]
        else:
            # Labels are neither defaulted nor converted: matched on the stored objects, only the page is copied.
            items, total = self.store.page(rt.group, rt.plural, where,
                                           match=lambda o: selector.label_match(lsel, o["metadata"].get("labels")),
                                           start=start, limit=limit, match_key=params.get("labelSelector") or "",
                                           copy=metadata_copy if metadata_only else self.list_copy(rt))
            items = [self.to_version(rt, o) for o in items] if metadata_only else [prepared(o) for o in items]
        meta = {"resourceVersion": rv}
        if limit > 0 and total - start > limit:
            meta["continue"] = base64.b64encode(json.dumps({"start": start + limit, "rv": rv}).encode()).decode()
            meta["remainingItemCount"] = total - start - limit
        return items, meta

    def list_copy(self, rt):
        """How a LIST copies each stored object: of the top level and metadata alone (what the answer changes:
        apiVersion and kind) when no schema default can change the object, else whole (defaulting changes it below)."""
        if rt.builtin or not rt.schema or not schemalib.has_defaults(rt.schema):
            return shallow
        return clone

    def after_write(self, rt, obj):
        if self.auto_ready and rt.builtin and rt.kind in ("Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"):
            self.set_workload_state(rt, obj["metadata"].get("namespace", ""), obj["metadata"]["name"], "ready")

    def set_workload_state(self, rt, ns, name, state):
        o = self.store.get(rt.group, rt.plural, ns, name)
        if o is None:
            raise self.not_found(rt, name)
        spec = o.get("spec") or {}
        gen = o["metadata"].get("generation", 1)
        t = now()
        replicas = spec.get("replicas", 1)
        ready = state == "ready"
        if rt.kind == "Deployment":
            o["status"] = {
                "observedGeneration": gen, "replicas": replicas, "updatedReplicas": replicas,
                "readyReplicas": replicas if ready else 0, "availableReplicas": replicas if ready else 0,
                "conditions": [
                    {"type": "Available", "status": "True" if ready else "False",
                     "reason": "MinimumReplicasAvailable" if ready else "MinimumReplicasUnavailable",
                     "message": "Deployment has minimum availability." if ready else "Deployment does not have minimum availability.",
                     "lastUpdateTime": t, "lastTransitionTime": t},
                    {"type": "Progressing", "status": "False" if state == "failed" else "True",
                     "reason": "ProgressDeadlineExceeded" if state == "failed" else ("NewReplicaSetAvailable" if ready else "ReplicaSetUpdated"),
                     "message": ('ReplicaSet "%s" has timed out progressing.' % name) if state == "failed" else
                                ('ReplicaSet "%s" has successfully progressed.' % name if ready else 'ReplicaSet "%s" is progressing.' % name),
                     "lastUpdateTime": t, "lastTransitionTime": t},
                ]}
            if not ready:
                o["status"].pop("readyReplicas")
                o["status"]["unavailableReplicas"] = replicas
        elif rt.kind == "StatefulSet":
            o["status"] = {"observedGeneration": gen, "replicas": replicas, "readyReplicas": replicas if ready else 0,
                           "currentReplicas": replicas, "updatedReplicas": replicas, "availableReplicas": replicas if ready else 0,
                           "currentRevision": name + "-1", "updateRevision": name + "-1"}
        elif rt.kind == "DaemonSet":
            n = 1
            o["status"] = {"observedGeneration": gen, "desiredNumberScheduled": n, "currentNumberScheduled": n,
                           "numberReady": n if ready else 0, "updatedNumberScheduled": n, "numberAvailable": n if ready else 0,
                           "numberMisscheduled": 0}
        elif rt.kind == "ReplicaSet":
            o["status"] = {"observedGeneration": gen, "replicas": replicas, "readyReplicas": replicas if ready else 0,
                           "availableReplicas": replicas if ready else 0, "fullyLabeledReplicas": replicas}
        elif rt.kind == "Job":
            if state == "ready":
                o["status"] = {"succeeded": 1, "startTime": t, "completionTime": t,
                               "conditions": [{"type": "Complete", "status": "True", "lastProbeTime": t, "lastTransitionTime": t}]}
            elif state == "failed":
                o["status"] = {"failed": 1, "startTime": t, "conditions": [
                    {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                     "message": "Job has reached the specified backoff limit", "lastProbeTime": t, "lastTransitionTime": t}]}
            else:
                o["status"] = {"active": 1, "startTime": t}
        else:
            raise ApiError(400, "BadRequest", "kind %s has no workload state" % rt.kind)
        return self.store.put(rt.group, rt.plural, o, "MODIFIED")

    # -- faults ------------------------------------------------------------------
    def add_fault(self, spec):
        action = spec.get("action") or "status"
        if action not in ("status", "drop", "reset", "hang"):
            raise ApiError(400, "BadRequest", 'fault action must be "status", "drop", "reset" or "hang"')
        with self.fault_lock:
            self.faults.append({"verb": (spec.get("verb") or "*").upper(), "path": re.compile(spec.get("path") or ".*"),
                                "query": re.compile(spec.get("query") or ""),
                                "status": int(spec.get("status") or 0), "retryAfter": spec.get("retryAfter"),
                                "count": int(spec.get("count") or 1), "action": action,
                                "delay": float(spec.get("delay") or 0)})

    def take_fault(self, verb, path, query=""):
        if not self.faults:
            # none pending (a fault added while this request is under way may or may not be taken by it, with the
            # lock too)
            return None
        with self.fault_lock:
            for f in self.faults:
                if f["count"] > 0 and (f["verb"] in ("*", verb)) and f["path"].search(path) and f["query"].search(query):
                    f["count"] -= 1
                    self.faults_injected += 1
                    if f["count"] == 0:
                        self.faults.remove(f)
                    return f
        return None


def metadata_copy(o):
    """What a PartialObjectMetadata answer needs of a stored object: its metadata, not copied (a stored object is
    never changed, store.put; the answer only encodes it)."""
    return {"metadata": o["metadata"]}


def same_but_versions(a, b):
    """a == b but for metadata.resourceVersion and the managedFields times (a no-op write), compared in place."""
    am, bm = a["metadata"], b["metadata"]
    if len(a) != len(b) or any(k not in b or (k != "metadata" and v != b[k]) for k, v in a.items()):
        return False
    skip = ("resourceVersion", "managedFields")
    if {k: v for k, v in am.items() if k not in skip} != {k: v for k, v in bm.items() if k not in skip}:
        return False

    def untimed(mf):
        return [{k: v for k, v in e.items() if k != "time"} for e in mf] if mf else mf
    return untimed(am.get("managedFields")) == untimed(bm.get("managedFields"))


def _containers(obj):
    spec = obj.get("spec") or {}
    pod = spec
    if "template" in spec:
        pod = (spec.get("template") or {}).get("spec") or {}
    out = []
    for k in ("containers", "initContainers"):
        out.extend(c for c in (pod.get(k) or []) if isinstance(c, dict))
    return out


def hash_of(obj):
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16].upper()
