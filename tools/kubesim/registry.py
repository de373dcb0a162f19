"""Built-in API resources the simulator serves, with the facts kube-apiserver
exposes about them: discovery entries, whether generation is tracked, the
list semantics structured-merge-diff and strategic merge patch use, and the
defaults the API server fills in."""

import copy

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
CRD_VERBS = ["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"]


class ResourceType:
    def __init__(self, group, version, plural, kind, namespaced=True, short=(), categories=(),
                 verbs=VERBS, status=False, generation=False, singular=None, builtin=True,
                 schema=None, crd=None, storage_version=None, printer_columns=None, scale=False):
        self.group = group
        self.version = version
        self.plural = plural
        self.kind = kind
        self.namespaced = namespaced
        self.short = list(short)
        self.categories = list(categories)
        self.verbs = list(verbs)
        self.status = status          # has a status subresource
        self.generation = generation  # metadata.generation is tracked
        self.singular = singular or kind.lower()
        self.builtin = builtin
        self.schema = schema          # structural schema (CRDs) or None
        self.crd = crd                # name of the defining CRD
        self.storage_version = storage_version or version
        self.printer_columns = printer_columns
        self.scale = scale
        self.ssa_semantics = None     # API.semantics(self), made at its first use

    @property
    def api_version(self):
        return self.version if not self.group else "%s/%s" % (self.group, self.version)

    @property
    def group_resource(self):
        return self.plural if not self.group else "%s.%s" % (self.plural, self.group)

    @property
    def list_kind(self):
        return self.kind + "List"


def _builtins():
    R = ResourceType
    core = [
        R("", "v1", "bindings", "Binding", verbs=["create"]),
        R("", "v1", "componentstatuses", "ComponentStatus", namespaced=False, short=["cs"], verbs=["get", "list"]),
        R("", "v1", "configmaps", "ConfigMap", short=["cm"]),
        R("", "v1", "endpoints", "Endpoints", short=["ep"]),
        R("", "v1", "events", "Event", short=["ev"]),
        R("", "v1", "limitranges", "LimitRange", short=["limits"]),
        R("", "v1", "namespaces", "Namespace", namespaced=False, short=["ns"], status=True,
          verbs=["create", "delete", "get", "list", "patch", "update", "watch"]),
        R("", "v1", "nodes", "Node", namespaced=False, short=["no"], status=True),
        R("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", short=["pvc"], status=True),
        R("", "v1", "persistentvolumes", "PersistentVolume", namespaced=False, short=["pv"], status=True),
        R("", "v1", "pods", "Pod", short=["po"], categories=["all"], status=True),
        R("", "v1", "podtemplates", "PodTemplate"),
        R("", "v1", "replicationcontrollers", "ReplicationController", short=["rc"], categories=["all"],
          status=True, generation=True, scale=True),
        R("", "v1", "resourcequotas", "ResourceQuota", short=["quota"], status=True),
        R("", "v1", "secrets", "Secret"),
        R("", "v1", "serviceaccounts", "ServiceAccount", short=["sa"]),
        R("", "v1", "services", "Service", short=["svc"], categories=["all"], status=True),
    ]
    apps = [
        R("apps", "v1", "controllerrevisions", "ControllerRevision"),
        R("apps", "v1", "daemonsets", "DaemonSet", short=["ds"], categories=["all"], status=True, generation=True),
        R("apps", "v1", "deployments", "Deployment", short=["deploy"], categories=["all"], status=True,
          generation=True, scale=True),
        R("apps", "v1", "replicasets", "ReplicaSet", short=["rs"], categories=["all"], status=True,
          generation=True, scale=True),
        R("apps", "v1", "statefulsets", "StatefulSet", short=["sts"], categories=["all"], status=True,
          generation=True, scale=True),
    ]
    others = [
        R("batch", "v1", "jobs", "Job", categories=["all"], status=True, generation=True),
        R("batch", "v1", "cronjobs", "CronJob", short=["cj"], categories=["all"], status=True, generation=True),
        R("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", short=["hpa"],
          categories=["all"], status=True, generation=True),
        R("networking.k8s.io", "v1", "ingresses", "Ingress", short=["ing"], status=True, generation=True),
        R("networking.k8s.io", "v1", "ingressclasses", "IngressClass", namespaced=False),
        R("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", short=["netpol"], generation=True),
        R("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", short=["pdb"], status=True, generation=True),
        R("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", namespaced=False),
        R("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced=False),
        R("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
        R("rbac.authorization.k8s.io", "v1", "roles", "Role"),
        R("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
          namespaced=False, short=["crd", "crds"], categories=["api-extensions"], status=True, generation=True),
        R("coordination.k8s.io", "v1", "leases", "Lease"),
        R("events.k8s.io", "v1", "events", "Event", short=["ev"]),
        R("storage.k8s.io", "v1", "storageclasses", "StorageClass", namespaced=False, short=["sc"]),
        R("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", namespaced=False, short=["pc"]),
        R("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations", "MutatingWebhookConfiguration",
          namespaced=False, categories=["api-extensions"], generation=True),
        R("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations", "ValidatingWebhookConfiguration",
          namespaced=False, categories=["api-extensions"], generation=True),
    ]
    return core + apps + others


BUILTINS = _builtins()

# Preferred group order in /apis, as kube-apiserver lists them.
GROUP_ORDER = ["apiregistration.k8s.io", "apps", "events.k8s.io", "authentication.k8s.io",
               "authorization.k8s.io", "autoscaling", "batch", "certificates.k8s.io", "networking.k8s.io",
               "policy", "rbac.authorization.k8s.io", "storage.k8s.io", "admissionregistration.k8s.io",
               "apiextensions.k8s.io", "scheduling.k8s.io", "coordination.k8s.io", "node.k8s.io",
               "discovery.k8s.io", "flowcontrol.apiserver.k8s.io"]


# ---------------------------------------------------------------------------
# List semantics of built-in types (structured-merge-diff and strategic merge).
# Paths are field names from the object root; "*" matches any list item.
# Each entry: (listType, keys). listType is "map" (associative, by keys),
# "set" (merge of primitive values) or "atomic". Lists not named are atomic.

POD_SPEC_LISTS = {
    ("containers",): ("map", ["name"]),
    ("initContainers",): ("map", ["name"]),
    ("ephemeralContainers",): ("map", ["name"]),
    ("volumes",): ("map", ["name"]),
    ("imagePullSecrets",): ("map", ["name"]),
    ("hostAliases",): ("map", ["ip"]),
    ("topologySpreadConstraints",): ("map", ["topologyKey", "whenUnsatisfiable"]),
    ("resourceClaims",): ("map", ["name"]),
    ("schedulingGates",): ("map", ["name"]),
    ("readinessGates",): ("atomic", None),
    ("tolerations",): ("atomic", None),
}
CONTAINER_LISTS = {
    ("ports",): ("map", ["containerPort", "protocol"]),
    ("env",): ("map", ["name"]),
    ("volumeMounts",): ("map", ["mountPath"]),
    ("volumeDevices",): ("map", ["devicePath"]),
    ("resizePolicy",): ("atomic", None),
}
META_LISTS = {
    ("finalizers",): ("set", None),
    ("ownerReferences",): ("map", ["uid"]),
}
# strategic merge patch keys differ for a few lists (single patchMergeKey)
SMP_KEYS = {"ports": "containerPort"}


def _pod_template(prefix):
    out = {}
    for path, v in POD_SPEC_LISTS.items():
        out[prefix + ("spec",) + path] = v
    for c in ("containers", "initContainers", "ephemeralContainers"):
        for path, v in CONTAINER_LISTS.items():
            out[prefix + ("spec", c, "*") + path] = v
    for path, v in META_LISTS.items():
        out[prefix + ("metadata",) + path] = v
    return out


def list_semantics(kind):
    """Map from field path to (listType, keys) for a built-in kind."""
    m = {("metadata",) + p: v for p, v in META_LISTS.items()}
    if kind == "Pod":
        m.update(_pod_template(()))
        m[("status", "conditions")] = ("map", ["type"])
    elif kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "ReplicationController"):
        m.update(_pod_template(("spec", "template")))
        m[("status", "conditions")] = ("map", ["type"])
        if kind == "StatefulSet":
            m[("spec", "volumeClaimTemplates")] = ("atomic", None)
    elif kind == "CronJob":
        m.update(_pod_template(("spec", "jobTemplate", "spec", "template")))
    elif kind == "PodTemplate":
        m.update(_pod_template(("template",)))
    elif kind == "Service":
        m[("spec", "ports")] = ("map", ["port", "protocol"])
        m[("status", "conditions")] = ("map", ["type"])
    elif kind == "Node":
        m[("status", "conditions")] = ("map", ["type"])
        m[("status", "addresses")] = ("map", ["type"])
    elif kind == "CustomResourceDefinition":
        m[("spec", "versions")] = ("map", ["name"])
        m[("status", "conditions")] = ("map", ["type"])
    elif kind == "Namespace":
        m[("spec", "finalizers")] = ("set", None)
        m[("status", "conditions")] = ("map", ["type"])
    elif kind in ("Ingress",):
        pass
    return m


def smp_key(kind, path):
    """Strategic-merge key for a list at path (None: replace the list)."""
    sem = lookup_list(list_semantics(kind), path)
    if not sem or sem[0] == "atomic":
        return None
    if sem[0] == "set":
        return "$set"
    if path and path[-1] in SMP_KEYS and kind != "Service":
        return SMP_KEYS[path[-1]]
    return sem[1][0]


def lookup_list(sem, path):
    """Find the list semantics for a concrete path (list indexes replaced by '*')."""
    return sem.get(tuple(path))


# ---------------------------------------------------------------------------
# Defaults filled in by the API server for built-in kinds.

def _default_container(c):
    img = c.get("image", "")
    if "imagePullPolicy" not in c:
        tag = img.rsplit("/", 1)[-1]
        c["imagePullPolicy"] = "Always" if (":" not in tag and "@" not in img) or tag.endswith(":latest") else "IfNotPresent"
    c.setdefault("resources", {})
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    for p in c.get("ports") or []:
        p.setdefault("protocol", "TCP")
    for e in c.get("env") or []:
        vf = e.get("valueFrom")
        if isinstance(vf, dict) and isinstance(vf.get("fieldRef"), dict):
            vf["fieldRef"].setdefault("apiVersion", "v1")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        pr = c.get(probe)
        if isinstance(pr, dict):
            pr.setdefault("failureThreshold", 3)
            pr.setdefault("periodSeconds", 10)
            pr.setdefault("successThreshold", 1)
            pr.setdefault("timeoutSeconds", 1)
            if isinstance(pr.get("httpGet"), dict):
                pr["httpGet"].setdefault("scheme", "HTTP")
                pr["httpGet"].setdefault("path", "/")


def default_pod_spec(spec):
    if not isinstance(spec, dict):
        return
    for key in ("containers", "initContainers"):
        for c in spec.get(key) or []:
            if isinstance(c, dict):
                _default_container(c)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    spec.setdefault("terminationGracePeriodSeconds", 30)
    for v in spec.get("volumes") or []:
        if isinstance(v, dict):
            for src in ("secret", "configMap"):
                if isinstance(v.get(src), dict):
                    v[src].setdefault("defaultMode", 420)
            if isinstance(v.get("projected"), dict):
                v["projected"].setdefault("defaultMode", 420)


def _default_template(tpl):
    if not isinstance(tpl, dict):
        return
    md = tpl.setdefault("metadata", {})
    if isinstance(md, dict) and "creationTimestamp" not in md:
        md["creationTimestamp"] = None
    default_pod_spec(tpl.get("spec"))


def apply_defaults(kind, obj, allocate_ip=None):
    spec = obj.get("spec")
    if kind == "Deployment" and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        st = spec.setdefault("strategy", {})
        if isinstance(st, dict):
            st.setdefault("type", "RollingUpdate")
            if st["type"] == "RollingUpdate":
                ru = st.setdefault("rollingUpdate", {})
                ru.setdefault("maxSurge", "25%")
                ru.setdefault("maxUnavailable", "25%")
        _default_template(spec.get("template"))
    elif kind == "StatefulSet" and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("podManagementPolicy", "OrderedReady")
        us = spec.setdefault("updateStrategy", {})
        if isinstance(us, dict):
            us.setdefault("type", "RollingUpdate")
            if us["type"] == "RollingUpdate":
                us.setdefault("rollingUpdate", {}).setdefault("partition", 0)
        spec.setdefault("persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Retain", "whenScaled": "Retain"})
        _default_template(spec.get("template"))
    elif kind == "DaemonSet" and isinstance(spec, dict):
        spec.setdefault("revisionHistoryLimit", 10)
        us = spec.setdefault("updateStrategy", {})
        if isinstance(us, dict):
            us.setdefault("type", "RollingUpdate")
            if us["type"] == "RollingUpdate":
                ru = us.setdefault("rollingUpdate", {})
                ru.setdefault("maxSurge", 0)
                ru.setdefault("maxUnavailable", 1)
        _default_template(spec.get("template"))
    elif kind == "ReplicaSet" and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        _default_template(spec.get("template"))
    elif kind == "Job" and isinstance(spec, dict):
        spec.setdefault("backoffLimit", 6)
        spec.setdefault("completionMode", "NonIndexed")
        spec.setdefault("completions", 1)
        spec.setdefault("parallelism", 1)
        spec.setdefault("suspend", False)
        tpl = spec.get("template")
        if isinstance(tpl, dict):
            tpl.setdefault("spec", {}).setdefault("restartPolicy", "Never")
        _default_template(tpl)
    elif kind == "CronJob" and isinstance(spec, dict):
        spec.setdefault("concurrencyPolicy", "Allow")
        spec.setdefault("failedJobsHistoryLimit", 1)
        spec.setdefault("successfulJobsHistoryLimit", 3)
        spec.setdefault("suspend", False)
        jt = spec.get("jobTemplate")
        if isinstance(jt, dict) and isinstance(jt.get("spec"), dict):
            _default_template(jt["spec"].get("template"))
    elif kind == "Pod":
        default_pod_spec(spec)
        obj.setdefault("status", {"phase": "Pending", "qosClass": "BestEffort"})
    elif kind == "Service" and isinstance(spec, dict):
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        for p in spec.get("ports") or []:
            if isinstance(p, dict):
                p.setdefault("protocol", "TCP")
                if "targetPort" not in p and "port" in p:
                    p["targetPort"] = p["port"]
        if spec["type"] != "ExternalName":
            if "clusterIP" not in spec and allocate_ip:
                spec["clusterIP"] = allocate_ip()
            if "clusterIP" in spec:
                spec.setdefault("clusterIPs", [spec["clusterIP"]])
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
            spec.setdefault("internalTrafficPolicy", "Cluster")
        if spec["type"] in ("NodePort", "LoadBalancer"):
            spec.setdefault("externalTrafficPolicy", "Cluster")
        obj.setdefault("status", {"loadBalancer": {}})
    elif kind == "Namespace":
        sp = obj.setdefault("spec", {})
        if isinstance(sp, dict):
            sp.setdefault("finalizers", ["kubernetes"])
        obj.setdefault("status", {"phase": "Active"})
        md = obj.setdefault("metadata", {})
        md.setdefault("labels", {})["kubernetes.io/metadata.name"] = md.get("name", "")
    elif kind == "Secret":
        obj.setdefault("type", "Opaque")
    elif kind == "PersistentVolumeClaim" and isinstance(spec, dict):
        spec.setdefault("volumeMode", "Filesystem")
        obj.setdefault("status", {"phase": "Pending"})
    elif kind == "CustomResourceDefinition" and isinstance(spec, dict):
        spec.setdefault("conversion", {"strategy": "None"})
    elif kind == "Ingress" and isinstance(spec, dict):
        for rule in spec.get("rules") or []:
            for p in ((rule.get("http") or {}).get("paths") or []):
                p.setdefault("pathType", "ImplementationSpecific")
        obj.setdefault("status", {"loadBalancer": {}})
    elif kind == "NetworkPolicy" and isinstance(spec, dict):
        if "policyTypes" not in spec:
            types = ["Ingress"]
            if spec.get("egress"):
                types.append("Egress")
            spec["policyTypes"] = types
        for rule in (spec.get("ingress") or []) + (spec.get("egress") or []):
            for p in rule.get("ports") or []:
                if isinstance(p, dict):
                    p.setdefault("protocol", "TCP")
    elif kind == "HorizontalPodAutoscaler" and isinstance(spec, dict):
        spec.setdefault("minReplicas", 1)
    elif kind == "PodDisruptionBudget":
        pass
    return obj


def deepcopy(o):
    return copy.deepcopy(o)
