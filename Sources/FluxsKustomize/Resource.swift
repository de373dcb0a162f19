import FluxsYAML

/// One object of a build, with what kustomize remembers about it: the names and namespaces it had
/// before prefixes, suffixes and namespace changes (for patch targets and name references), and, for
/// generated ConfigMaps and Secrets, the generator options.
public struct Resource: Sendable {
    public var node: Node
    /// Earlier ids (namespace, name, kind), oldest first (kustomize's previousNames/Namespaces/Kinds annotations).
    var previous: [(namespace: String, name: String, kind: String)] = []
    /// Names of the vars whose objref matched this object where they were declared (AppendRefVarName).
    var refVarNames: [String] = []
    var generated: GeneratorInfo?
    /// Set when a name suffix must be appended by the hash step.
    var needsHash = false
    /// Prefixes and suffixes applied so far (name references prefer referents renamed the same way).
    var prefixes: [String] = []
    /// Where the object came from, for buildMetadata: [originAnnotations] (a file, or the generator that made it).
    var origin: Node?
    var suffixes: [String] = []
    /// The builtin transformers that ran over the object (buildMetadata: [transformerAnnotations]), oldest first.
    var transformations: [Node] = []
    /// Fields that share one YAML value node in kustomize (see ValueAliases).
    var aliases = ValueAliases()

    init(_ node: Node) { self.node = node }

    public var apiVersion: String { node["apiVersion"]?.string ?? "" }
    public var kind: String { node["kind"]?.string ?? "" }
    public var name: String {
        get { node["metadata"]?["name"]?.string ?? "" }
        set { node.set(["metadata", "name"], .string(newValue)) }
    }
    public var namespace: String {
        get { node["metadata"]?["namespace"]?.string ?? "" }
        set { node.set(["metadata", "namespace"], newValue.isEmpty ? nil : .string(newValue)) }
    }
    // The slash is searched in the UTF-8 bytes, as Go's strings.Index does (a Character search cost ~1.7 k
    // instructions; the label, image and patch steps read every object's group and version).
    var group: String { Resource.splitAPIVersion(apiVersion).group }
    var version: String { Resource.splitAPIVersion(apiVersion).version }

    static func splitAPIVersion(_ av: String) -> (group: String, version: String) {
        guard let slash = av.utf8.firstIndex(of: UInt8(ascii: "/")) else { return ("", av) }
        return (String(av[..<slash]), String(av[av.utf8.index(after: slash)...]))
    }

    /// kustomize's resource id in messages (resid.ResId.String): `ConfigMap.v1.[noGrp]/name.[noNs]`.
    /// (Each field is read from the tree once and the text made in one reserved string: the namespace transformer's
    /// conflict check makes every object's id.)
    var id: String {
        let (group, version) = Resource.splitAPIVersion(apiVersion)
        func or(_ part: String, _ placeholder: String) -> String { part.isEmpty ? placeholder : part }
        return String.concat(or(kind, "[noKind]"), ".", or(version, "[noVer]"), ".", or(group, "[noGrp]"), "/",
                             or(name, "[noName]"), ".", or(namespace, "[noNs]"))
    }

    func matches(kind k: String?, name n: String?, namespace ns: String?) -> Bool {
        // resWrangler.GetMatchingResourcesByAnyId: the kind and name must be those of one id, the current one or
        // an earlier one (PrevIds carry their kinds: a patch with allowKindChange stores the old kind).
        let ids = [(name, kind)] + previous.map { ($0.name, $0.kind) }
        if !ids.contains(where: { (k == nil || $0.1 == k) && (n == nil || $0.0 == n) }) { return false }
        if let ns, !ns.isEmpty {
            let all = [namespace] + previous.map(\.namespace)
            if !all.contains(ns) && !(ns == "default" && all.contains("")) { return false }
        }
        return true
    }

    mutating func remember() { previous.append((namespace, name, kind)) }

    /// kustomize's RemoveBuildAnnotations, run on every object at the end of a build (api/resource/resource.go,
    /// kyaml setMapInMetadata): the annotations are read as a map of strings (a scalar's text as written, `~` and
    /// `0x1F` included; a mapping or sequence is "") and written back sorted as strings; none left (an empty or
    /// null `annotations:`) removes the field.
    mutating func stringifyAnnotations() {
        guard var meta = node["metadata"]?.map, let anns = meta["annotations"] else { return }
        guard let m = anns.map, !m.isEmpty else {
            if anns.isNull || anns.map != nil {
                meta["annotations"] = nil
                node.set(["metadata"], .mapping(meta))
            }
            return
        }
        var out = Mapping()
        for (k, v) in m.entries {
            if case .scalar(let s) = v { out[k] = .scalar(Scalar(s.value, tag: .string, style: s.tag == .string ? s.style : .plain)) } else { out[k] = .string("") }
        }
        meta["annotations"] = .mapping(out)
        node.set(["metadata"], .mapping(meta))
    }

    var isClusterScoped: Bool { isClusterScoped(kind: kind) }
    /// Whether an id of this object with `kind` (an earlier one keeps the current group and version, utils.PrevIds)
    /// is cluster-scoped.
    func isClusterScoped(kind k: String) -> Bool { clusterScopedTypes.contains(apiVersion + " " + k) }

    /// The current id and the earlier ones (ResId: namespace, name, kind; group and version are the current ones).
    var ids: [(namespace: String, name: String, kind: String)] { [(namespace, name, kind)] + previous }
    /// ResId.EffectiveNamespace of an id of this object: `~X` when cluster-scoped, `default` for none.
    func effectiveNamespace(_ ns: String, kind k: String) -> String { isClusterScoped(kind: k) ? "~X" : (ns.isEmpty ? "default" : ns) }

    var labels: Mapping { node["metadata"]?["labels"]?.map ?? Mapping() }
    var annotations: Mapping { node["metadata"]?["annotations"]?.map ?? Mapping() }
}

struct GeneratorInfo {
    var behavior: String
    var disableNameSuffixHash: Bool
}

/// Kinds that have no namespace (kustomize's list of cluster-scoped built-in kinds).
/// The kinds kustomize knows to be cluster-scoped, by apiVersion and kind: kyaml's precomputedIsNamespaceScoped for
/// its default built-in schema (kyaml/openapi/openapi.go). Any other type, a `ClusterIssuer` or a `ClusterRole` of
/// another API version included, is namespaced to kustomize (IsCertainlyClusterScoped: not found is not cluster-scoped).
let clusterScopedTypes: Set<String> = [
    "admissionregistration.k8s.io/v1 MutatingWebhookConfiguration", "admissionregistration.k8s.io/v1 ValidatingWebhookConfiguration",
    "admissionregistration.k8s.io/v1beta1 MutatingWebhookConfiguration", "admissionregistration.k8s.io/v1beta1 ValidatingWebhookConfiguration",
    "apiextensions.k8s.io/v1 CustomResourceDefinition", "apiextensions.k8s.io/v1beta1 CustomResourceDefinition",
    "apiregistration.k8s.io/v1 APIService", "apiregistration.k8s.io/v1beta1 APIService",
    "certificates.k8s.io/v1 CertificateSigningRequest", "certificates.k8s.io/v1beta1 CertificateSigningRequest",
    "flowcontrol.apiserver.k8s.io/v1beta1 FlowSchema", "flowcontrol.apiserver.k8s.io/v1beta1 PriorityLevelConfiguration",
    "networking.k8s.io/v1 IngressClass", "networking.k8s.io/v1beta1 IngressClass",
    "node.k8s.io/v1 RuntimeClass", "node.k8s.io/v1beta1 RuntimeClass", "policy/v1beta1 PodSecurityPolicy",
    "rbac.authorization.k8s.io/v1 ClusterRole", "rbac.authorization.k8s.io/v1 ClusterRoleBinding",
    "rbac.authorization.k8s.io/v1beta1 ClusterRole", "rbac.authorization.k8s.io/v1beta1 ClusterRoleBinding",
    "scheduling.k8s.io/v1 PriorityClass", "scheduling.k8s.io/v1beta1 PriorityClass",
    "storage.k8s.io/v1 CSIDriver", "storage.k8s.io/v1 CSINode", "storage.k8s.io/v1 StorageClass", "storage.k8s.io/v1 VolumeAttachment",
    "storage.k8s.io/v1beta1 CSIDriver", "storage.k8s.io/v1beta1 CSINode", "storage.k8s.io/v1beta1 StorageClass",
    "storage.k8s.io/v1beta1 VolumeAttachment",
    "v1 ComponentStatus", "v1 Namespace", "v1 Node", "v1 NodeProxyOptions", "v1 PersistentVolume",
]

/// A build failure in kustomize's words.
public struct KustomizeError: Error, CustomStringConvertible {
    public var description: String
    init(_ d: String) { description = d }
}

/// `to` relative to the directory `from` (both absolute), as kustomize writes origin paths.
func relativePath(from: String, to: String) -> String {
    // ASCII paths on their bytes (the Character split cost ~35 k instructions a call, one call per file read).
    if let r = asciiRelativePath(from: Array(from.utf8), to: Array(to.utf8)) { return r }
    let a = from.split(separator: "/"), b = to.split(separator: "/")
    var i = 0
    while i < a.count && i < b.count && a[i] == b[i] { i += 1 }
    let up = Array(repeating: "..", count: a.count - i)
    return (up + b[i...].map(String.init)).joined(separator: "/")
}

func generatorOrigin(configuredIn: String, kind: String) -> Node {
    .map([("configuredIn", .string(configuredIn)), ("configuredBy", .map([("apiVersion", "builtin"), ("kind", .string(kind))]))])
}

/// relativePath for ASCII paths (nil when a byte is not ASCII): the components (non-empty runs between slashes)
/// after the common ones, below one ".." per component of `from` left.
func asciiRelativePath(from a: [UInt8], to b: [UInt8]) -> String? {
    if a.contains(where: { $0 >= 0x80 }) || b.contains(where: { $0 >= 0x80 }) { return nil }
    let slash = UInt8(ascii: "/")
    func parts(_ p: [UInt8]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var i = 0
        while i < p.count {
            if p[i] == slash { i += 1; continue }
            var j = i
            while j < p.count && p[j] != slash { j += 1 }
            out.append(i..<j)
            i = j
        }
        return out
    }
    let pa = parts(a), pb = parts(b)
    var i = 0
    while i < pa.count && i < pb.count && a[pa[i]].elementsEqual(b[pb[i]]) { i += 1 }
    var out: [UInt8] = []
    for _ in i..<pa.count {
        if !out.isEmpty { out.append(slash) }
        out += [UInt8(ascii: "."), UInt8(ascii: ".")]
    }
    for r in pb[i...] {
        if !out.isEmpty { out.append(slash) }
        out += b[r]
    }
    return String(decoding: out, as: UTF8.self)
}
