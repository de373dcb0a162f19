import FluxsYAML

// kustomize.toolkit.fluxcd.io/v1 Kustomization.

public struct CrossNamespaceSourceReference: APIObject {
    @Field("API version of the source.") public var apiVersion: String = ""
    @Field("Kind of the source.", required: true, enum: ["OCIRepository", "GitRepository", "Bucket", "ExternalArtifact"])
    public var kind: String = ""
    @Field("Name of the source.", required: true) public var name: String = ""
    @Field("Namespace of the source; defaults to the Kustomization's namespace.") public var namespace: String = ""
    public init() {}
    public init(kind: String, name: String, namespace: String = "") {
        self.kind = kind
        self.name = name
        self.namespace = namespace
    }
}

public struct Decryption: APIObject {
    @Field("Decryption provider.", required: true, enum: ["sops"]) public var provider: String = ""
    @Field("Secret with the decryption keys.") public var secretRef: LocalObjectReference? = nil
    @Field("Service account for KMS workload identity.") public var serviceAccountName: String = ""
    public init() {}
}

public struct Selector: APIObject {
    @Field("API group of the target.") public var group: String = ""
    @Field("API version of the target.") public var version: String = ""
    @Field("Kind of the target.") public var kind: String = ""
    @Field("Name of the target (a regular expression).") public var name: String = ""
    @Field("Namespace of the target (a regular expression).") public var namespace: String = ""
    @Field("Annotation selector of the targets.") public var annotationSelector: String = ""
    @Field("Label selector of the targets.") public var labelSelector: String = ""
    public init() {}
}

public struct KustomizePatch: APIObject {
    @Field("Strategic merge or JSON 6902 patch, inline.", required: true) public var patch: String = ""
    @Field("The objects the patch applies to.") public var target: Selector? = nil
    public init() {}
}

public struct KustomizeImage: APIObject {
    @Field("Image name to match.", required: true) public var name: String = ""
    @Field("New image name.") public var newName: String = ""
    @Field("New image tag.") public var newTag: String = ""
    @Field("Image digest; replaces the tag.") public var digest: String = ""
    public init() {}
}

public struct SubstituteReference: APIObject {
    @Field("Kind of the values source.", required: true, enum: ["Secret", "ConfigMap"]) public var kind: String = ""
    @Field("Name of the values source, in the Kustomization's namespace.", required: true, minLength: 1, maxLength: 253)
    public var name: String = ""
    @Field("Do not fail when the source is missing.", default: false) public var optional: Bool = false
    public init() {}
}

public struct PostBuild: APIObject {
    @Field("Variables substituted in the built manifests (${var}).") public var substitute: [String: String] = [:]
    @Field("ConfigMaps and Secrets whose data are substitution variables.") public var substituteFrom: [SubstituteReference] = []
    @Field("Substitute only when variables are defined (WithVariables) or always.", enum: ["WithVariables", "Always"])
    public var substituteStrategy: String = ""
    public init() {}
}

public struct CommonMetadata: APIObject {
    @Field("Annotations added to every applied object.") public var annotations: [String: String] = [:]
    @Field("Labels added to every applied object.") public var labels: [String: String] = [:]
    public init() {}
}

public struct IgnoreRule: APIObject {
    @Field("JSON pointers of the fields whose drift is ignored.", required: true) public var paths: [String] = []
    @Field("The objects the rule applies to.") public var target: Selector? = nil
    public init() {}
}

public struct KustomizationSpec: APIObject {
    @Field("Other Kustomizations that must be ready first.") public var dependsOn: [DependencyReference] = []
    @Field("How often the Kustomization is reconciled.", required: true) public var interval = Duration("1m0s")
    @Field("How long to wait before retrying a failed reconciliation; defaults to interval.") public var retryInterval: Duration? = nil
    @Field("Kubeconfig of a remote cluster to apply to.") public var kubeConfig: KubeConfigReference? = nil
    @Field("Path of the kustomization directory in the source; defaults to its root.") public var path: String = ""
    @Field("Delete objects removed from the source.", required: true) public var prune: Bool = false
    @Field("What happens to the applied objects when the Kustomization is deleted.", enum: ["MirrorPrune", "Delete", "WaitForTermination", "Orphan"])
    public var deletionPolicy: String = ""
    @Field("Health checks of applied objects.") public var healthChecks: [NamespacedObjectKindReference] = []
    @Field("CEL health checks per kind.") public var healthCheckExprs: [CustomHealthCheck] = []
    @Field("Prefix added to the names of all objects.", minLength: 1, maxLength: 200) public var namePrefix: String = ""
    @Field("Suffix added to the names of all objects.", minLength: 1, maxLength: 200) public var nameSuffix: String = ""
    @Field("Patches applied to the built objects.") public var patches: [KustomizePatch] = []
    @Field("Image overrides.") public var images: [KustomizeImage] = []
    @Field("Service account the apply impersonates.") public var serviceAccountName: String = ""
    @Field("The source of the manifests.", required: true) public var sourceRef = CrossNamespaceSourceReference()
    @Field("Stop reconciling the object.") public var suspend: Bool = false
    @Field("Namespace set on all namespaced objects.", minLength: 1, maxLength: 63) public var targetNamespace: String = ""
    @Field("Timeout of the build, apply and health checks.") public var timeout: Duration? = nil
    @Field("Recreate objects whose immutable fields changed.", default: false) public var force: Bool = false
    @Field("Wait for all applied objects to become ready (healthChecks are then ignored).") public var wait: Bool = false
    @Field("Decryption of SOPS-encrypted Secrets.") public var decryption: Decryption? = nil
    @Field("Variable substitution after the build.") public var postBuild: PostBuild? = nil
    @Field("Kustomize components to include.") public var components: [String] = []
    @Field("Skip components that do not exist.") public var ignoreMissingComponents: Bool = false
    @Field("Labels and annotations added to all applied objects.") public var commonMetadata: CommonMetadata? = nil
    @Field("Drift-detection rules: fields to ignore.") public var ignore: [IgnoreRule] = []
    @Field("Build metadata added to the objects.", itemEnum: ["originAnnotations", "transformerAnnotations"])
    public var buildMetadata: [String] = []
    public init() {}
}

public struct HistoryEntry: APIObject {
    @Field("Digest of the applied objects.", required: true) public var digest: String = ""
    @Field("First reconciliation of this snapshot.", required: true) public var firstReconciled: Time = Time("")
    @Field("Last reconciliation of this snapshot.", required: true) public var lastReconciled: Time = Time("")
    @Field("Duration of the last reconciliation.", required: true) public var lastReconciledDuration: String = ""
    @Field("Result of the last reconciliation.", required: true) public var lastReconciledStatus: String = ""
    @Field("How many reconciliations produced this snapshot.", required: true) public var totalReconciliations: Int = 0
    @Field("Metadata of the snapshot (revision, ...).") public var metadata: [String: String] = [:]
    public init() {}
}

public struct KustomizationStatus: FluxStatus {
    @Field("The last metadata.generation reconciled.") public var observedGeneration: Int = 0
    @Field(conditionsDescription) public var conditions: [Condition] = []
    @Field("The last source revision applied successfully.") public var lastAppliedRevision: String = ""
    @Field("The origin revision of the last applied source, when it has one.") public var lastAppliedOriginRevision: String = ""
    @Field("The last source revision an apply was attempted for.") public var lastAttemptedRevision: String = ""
    @Field(lastHandledDescription) public var lastHandledReconcileAt: String = ""
    @Field("The objects applied by the last successful reconciliation.") public var inventory: ResourceInventory? = nil
    @Field("Snapshots of recent reconciliations, newest first.") public var history: [HistoryEntry] = []
    public init() {}
    public static func refine(_ s: inout Schema) { statusDefault(&s) }
}

public struct Kustomization: FluxObject {
    @Field(apiVersionHelp) public var apiVersion: String = ""
    @Field(kindHelp) public var kind: String = ""
    @Field public var metadata = ObjectMeta()
    @Field public var spec = KustomizationSpec()
    @Field public var status: KustomizationStatus? = nil
    public init() {}
    public static let fluxKind = FluxKinds.kustomization
    public static var apiDescription: String { "Kustomization builds manifests from a source with kustomize and applies them." }
    public static var shortNames: [String] { ["ks"] }
    public static var categories: [String] { ["all", "fluxcd", "fluxcd-appliers"] }
    public static var statusSchema: Schema? { KustomizationStatus.apiSchema }
    public static var printerColumns: [PrinterColumn] { [.age, .ready, .status] }
}
