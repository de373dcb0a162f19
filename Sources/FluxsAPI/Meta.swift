import FluxsYAML

/// The object metadata fluxs sets when it writes objects (the API server owns the rest).
public struct ObjectMeta: APIObject {
    @Field("Name of the object, unique within its namespace.") public var name: String = ""
    @Field("Namespace of the object.") public var namespace: String = ""
    @Field("Labels of the object.") public var labels: [String: String] = [:]
    @Field("Annotations of the object.") public var annotations: [String: String] = [:]
    public init() {}
    public init(name: String, namespace: String = "") {
        self.name = name
        self.namespace = namespace
    }
    /// CRDs describe metadata as a plain object; the API server validates it.
    public static var apiSchema: Schema { .object }
}

/// metav1.Condition.
public struct Condition: APIObject, Equatable {
    @Field("Type of the condition (Ready, Reconciling, Stalled, ...).", required: true, pattern: #"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"#, maxLength: 316)
    public var type: String = ""
    @Field("Status of the condition: True, False or Unknown.", required: true, enum: ["True", "False", "Unknown"])
    public var status: String = ""
    @Field("The metadata.generation the condition was set for.", minimum: 0)
    public var observedGeneration: Int = 0
    @Field("When the condition last changed status.", required: true, format: "date-time")
    public var lastTransitionTime: String = ""
    @Field("A CamelCase reason for the last transition.", required: true, pattern: "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$", minLength: 1, maxLength: 1024)
    public var reason: String = ""
    @Field("A human readable message about the transition.", required: true, maxLength: 32768)
    public var message: String = ""

    public init() {}
    public init(type: String, status: String, reason: String, message: String, observedGeneration: Int = 0, time: String) {
        self.type = type
        self.status = status
        self.reason = reason
        self.message = message
        self.observedGeneration = observedGeneration
        self.lastTransitionTime = time
    }

    public static func == (a: Condition, b: Condition) -> Bool {
        a.type == b.type && a.status == b.status && a.reason == b.reason && a.message == b.message &&
            a.observedGeneration == b.observedGeneration && a.lastTransitionTime == b.lastTransitionTime
    }
}

/// The list of conditions every Flux status carries (a map list keyed by type).
public typealias Conditions = [Condition]

/// meta.Artifact: the output of a source.
public struct Artifact: APIObject {
    @Field("Path of the artifact in the storage, relative to its root.", required: true) public var path: String = ""
    @Field("Where the artifact can be downloaded.", required: true) public var url: String = ""
    @Field("Revision of the source the artifact was built from (e.g. main@sha1:<hash>).", required: true) public var revision: String = ""
    @Field("Digest of the artifact file (<algorithm>:<hex>).", required: true, pattern: "^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
    public var digest: String = ""
    @Field("When the artifact was last updated.", required: true) public var lastUpdateTime: Time = Time("")
    @Field("Size of the artifact file in bytes.") public var size: Int? = nil
    @Field("Metadata of the artifact (for OCI artifacts, their annotations).") public var metadata: [String: String] = [:]
    public init() {}
}

public struct LocalObjectReference: APIObject, Equatable {
    @Field("Name of the referent.", required: true) public var name: String = ""
    public init() {}
    public init(_ name: String) { self.name = name }
    public static func == (a: Self, b: Self) -> Bool { a.name == b.name }
}

public struct SecretKeyReference: APIObject {
    @Field("Name of the Secret.", required: true) public var name: String = ""
    @Field("Key in the Secret; defaults to the kind's usual key.") public var key: String = ""
    public init() {}
}

public struct NamespacedObjectReference: APIObject {
    @Field("Name of the referent.", required: true) public var name: String = ""
    @Field("Namespace of the referent; defaults to the referrer's namespace.") public var namespace: String = ""
    public init() {}
}

public struct NamespacedObjectKindReference: APIObject {
    @Field("API version of the referent.") public var apiVersion: String = ""
    @Field("Kind of the referent.", required: true) public var kind: String = ""
    @Field("Name of the referent.", required: true) public var name: String = ""
    @Field("Namespace of the referent; defaults to the referrer's namespace.") public var namespace: String = ""
    public init() {}
}

public struct KubeConfigReference: APIObject {
    public struct ConfigMapRef: APIObject {
        @Field("Name of the ConfigMap.", required: true) public var name: String = ""
        public init() {}
    }
    @Field("Secret holding a kubeconfig (key value or value.yaml).") public var secretRef: SecretKeyReference? = nil
    @Field("ConfigMap with the settings of a kubeconfig built from a workload identity provider.") public var configMapRef: ConfigMapRef? = nil
    public init() {}
    public static func refine(_ s: inout Schema) {
        s.validations = [("has(self.configMapRef) || has(self.secretRef)", "exactly one of spec.kubeConfig.configMapRef or spec.kubeConfig.secretRef must be specified"),
                         ("!has(self.configMapRef) || !has(self.secretRef)", "exactly one of spec.kubeConfig.configMapRef or spec.kubeConfig.secretRef must be specified")]
    }
}

public struct DependencyReference: APIObject {
    @Field("Name of the dependency.", required: true) public var name: String = ""
    @Field("Namespace of the dependency; defaults to the dependent's namespace.") public var namespace: String = ""
    @Field("CEL expression over the dependency that must hold before the dependent is reconciled.") public var readyExpr: String = ""
    public init() {}
}

public struct CustomHealthCheck: APIObject {
    @Field("API version of the objects the check applies to.", required: true) public var apiVersion: String = ""
    @Field("Kind of the objects the check applies to.") public var kind: String = ""
    @Field("CEL expression that is true when the object is healthy.", required: true) public var current: String = ""
    @Field("CEL expression that is true while the object is progressing.") public var inProgress: String = ""
    @Field("CEL expression that is true when the object has failed.") public var failed: String = ""
    public init() {}
}

/// The inventory of objects a Kustomization applied.
public struct ResourceInventory: APIObject {
    public struct Entry: APIObject, Equatable {
        @Field("Object id: <namespace>_<name>_<group>_<kind>.", required: true) public var id: String = ""
        @Field("Version of the object's API.", required: true) public var v: String = ""
        public init() {}
        public init(id: String, v: String) { self.id = id; self.v = v }
        /// As Codable decodes one (NodeDecoder.inventory): its fields carry a decoded field's options.
        init(decodedID id: String, v: String) { _id = Field(decoded: id); _v = Field(decoded: v) }
        public static func == (a: Self, b: Self) -> Bool { a.id == b.id && a.v == b.v }
    }
    @Field("The applied objects.", required: true) public var entries: [Entry] = []
    public init() {}
    /// As Codable decodes one (NodeDecoder.inventory).
    init(decodedEntries entries: [Entry]) { _entries = Field(decoded: entries) }

    /// The inventory as `APICoding.node` encodes it (`{"entries": [{"id", "v"}]}`), built directly: a status write
    /// of thousands of entries costs no JSONEncoder round trip.
    public var node: Node {
        .map([("entries", .sequence(entries.map { .map([("id", .string($0.id)), ("v", .string($0.v))]) }))])
    }
}

public struct AccessFrom: APIObject {
    public struct NamespaceSelector: APIObject {
        @Field("Namespaces whose labels match these are allowed.") public var matchLabels: [String: String] = [:]
        public init() {}
    }
    @Field("Selectors of the namespaces allowed to refer to this object.", required: true)
    public var namespaceSelectors: [NamespaceSelector] = []
    public init() {}
}

/// The status common to every reconciled Flux object.
public protocol FluxStatus: APIObject {
    var observedGeneration: Int { get set }
    var conditions: [Condition] { get set }
}

/// The status object of a Flux kind defaults to observedGeneration -1, as upstream.
func statusDefault(_ s: inout Schema) {
    s.defaultValue = .map([("observedGeneration", .int(-1))])
}

let conditionsDescription = "The state of the object as conditions (Ready, Reconciling, Stalled, ...)."
let lastHandledDescription = "The last reconcile.fluxcd.io/requestedAt annotation value that was handled."
