import FluxsYAML

// helm.toolkit.fluxcd.io/v2 HelmRelease. fluxs does not reconcile Helm releases; the
// type carries the top-level fields, and the deep option trees (install, upgrade,
// test, rollback, uninstall, driftDetection, postRenderers, chart template,
// history) are kept as they are written (preserve-unknown), so objects written by
// helm-controller are never pruned by this schema.

public struct HelmChartRef: APIObject {
    @Field("API version of the chart source.") public var apiVersion: String = ""
    @Field("Kind of the chart source.", required: true, enum: ["OCIRepository", "HelmChart", "ExternalArtifact"]) public var kind: String = ""
    @Field("Name of the chart source.", required: true) public var name: String = ""
    @Field("Namespace of the chart source.") public var namespace: String = ""
    public init() {}
}

public struct ValuesReference: APIObject {
    @Field("Kind of the values source.", required: true, enum: ["Secret", "ConfigMap"]) public var kind: String = ""
    @Field("Name of the values source.", required: true) public var name: String = ""
    @Field("Key in the source holding the values; values.yaml when empty.") public var valuesKey: String = ""
    @Field("Path in the values where the data are placed.") public var targetPath: String = ""
    @Field("Do not fail when the source is missing.") public var optional: Bool = false
    @Field("Use the data as a literal string value.") public var literal: Bool = false
    public init() {}
}

public struct WaitStrategy: APIObject {
    @Field("How helm-controller waits for the release's objects.", required: true, enum: ["poller", "legacy"]) public var name: String = ""
    public init() {}
}

public struct HelmChartTemplateSpec: APIObject {
    @Field("Name or path of the chart in the source.", required: true, minLength: 1, maxLength: 2048) public var chart: String = ""
    @Field("SemVer range of the chart version.", default: "*") public var version: String = ""
    @Field("The source of the chart.", required: true) public var sourceRef = HelmChartSourceReference()
    @Field("How often the source is checked for a new chart.") public var interval: Duration? = nil
    @Field("When to build a new chart.", default: "ChartVersion", enum: ["ChartVersion", "Revision"]) public var reconcileStrategy: String = ""
    @Field("Values files to merge into the chart's values.yaml.") public var valuesFiles: [String] = []
    @Field("Do not fail on missing values files.") public var ignoreMissingValuesFiles: Bool = false
    @Field("Verification of the chart's signature.") public var verify: JSONValue? = nil
    public init() {}
}

public struct HelmChartSourceReference: APIObject {
    @Field("API version of the source.") public var apiVersion: String = ""
    @Field("Kind of the source.", required: true, enum: ["HelmRepository", "GitRepository", "Bucket"]) public var kind: String = ""
    @Field("Name of the source.", required: true, minLength: 1, maxLength: 253) public var name: String = ""
    @Field("Namespace of the source.", minLength: 1, maxLength: 63) public var namespace: String = ""
    public init() {}
}

public struct HelmChartTemplate: APIObject {
    @Field("Labels and annotations of the HelmChart.") public var metadata: CommonMetadata? = nil
    @Field("Spec of the HelmChart.", required: true) public var spec = HelmChartTemplateSpec()
    public init() {}
}

public struct HelmReleaseSpec: APIObject {
    @Field("Template of the HelmChart to create for this release.") public var chart: HelmChartTemplate? = nil
    @Field("Reference to an existing chart source (OCIRepository or HelmChart).") public var chartRef: HelmChartRef? = nil
    @Field("How often the release is reconciled.", required: true) public var interval = Duration("5m0s")
    @Field("Kubeconfig of a remote cluster.") public var kubeConfig: KubeConfigReference? = nil
    @Field("Stop reconciling the object.") public var suspend: Bool = false
    @Field("Name of the Helm release; defaults to <targetNamespace>-<name>.", minLength: 1, maxLength: 53) public var releaseName: String = ""
    @Field("Namespace the release is installed to.", minLength: 1, maxLength: 63) public var targetNamespace: String = ""
    @Field("Namespace of the Helm storage.", minLength: 1, maxLength: 63) public var storageNamespace: String = ""
    @Field("Other HelmReleases that must be ready first.") public var dependsOn: [DependencyReference] = []
    @Field("Timeout of Helm actions.") public var timeout: Duration? = nil
    @Field("How many release revisions are kept.") public var maxHistory: Int? = nil
    @Field("Service account the Helm actions impersonate.", minLength: 1, maxLength: 253) public var serviceAccountName: String = ""
    @Field("Keep one Kubernetes client for the release.") public var persistentClient: Bool? = nil
    @Field("Drift detection settings.") public var driftDetection: JSONValue? = nil
    @Field("Install settings.") public var install: JSONValue? = nil
    @Field("Upgrade settings.") public var upgrade: JSONValue? = nil
    @Field("Test settings.") public var test: JSONValue? = nil
    @Field("Rollback settings.") public var rollback: JSONValue? = nil
    @Field("Uninstall settings.") public var uninstall: JSONValue? = nil
    @Field("Sources of values merged into the release's values.") public var valuesFrom: [ValuesReference] = []
    @Field("Values of the release.") public var values: JSONValue? = nil
    @Field("Labels and annotations added to the release's objects.") public var commonMetadata: CommonMetadata? = nil
    @Field("Post renderers applied to the rendered manifests.") public var postRenderers: [JSONValue] = []
    @Field("How post renderers apply to hooks.", enum: ["nohooks", "combined", "separate"]) public var postRenderStrategy: String = ""
    @Field("How helm-controller waits for the release.") public var waitStrategy: WaitStrategy? = nil
    @Field("CEL health checks per kind.") public var healthCheckExprs: [CustomHealthCheck] = []
    public init() {}
    public static func refine(_ s: inout Schema) {
        if let i = s.properties.firstIndex(where: { $0.0 == "values" }) { s.properties[i].1 = { var v = Schema.anyValue; v.description = "Values of the release."; return v }() }
        s.validations = [("(has(self.chart) && !has(self.chartRef)) || (!has(self.chart) && has(self.chartRef))", "either chart or chartRef must be set")]
    }
}

public struct HelmReleaseStatus: FluxStatus {
    @Field("The last metadata.generation reconciled.") public var observedGeneration: Int = 0
    @Field(conditionsDescription) public var conditions: [Condition] = []
    @Field(lastHandledDescription) public var lastHandledReconcileAt: String = ""
    @Field("The last reconcile.fluxcd.io/forceAt value handled.") public var lastHandledForceAt: String = ""
    @Field("The last reconcile.fluxcd.io/resetAt value handled.") public var lastHandledResetAt: String = ""
    @Field("The HelmChart of the release (<namespace>/<name>).") public var helmChart: String = ""
    @Field("Namespace of the Helm storage.", minLength: 1, maxLength: 63) public var storageNamespace: String = ""
    @Field("Release snapshots, newest first.") public var history: [JSONValue] = []
    @Field("Generation of the last attempt.") public var lastAttemptedGeneration: Int = 0
    @Field("Chart version of the last attempt.") public var lastAttemptedRevision: String = ""
    @Field("Digest of the chart of the last attempt.") public var lastAttemptedRevisionDigest: String = ""
    @Field("Checksum of the values of the last attempt (deprecated).") public var lastAttemptedValuesChecksum: String = ""
    @Field("Digest of the values of the last attempt.") public var lastAttemptedConfigDigest: String = ""
    @Field("Action of the last attempt.", enum: ["install", "upgrade"]) public var lastAttemptedReleaseAction: String = ""
    @Field("Duration of the last attempt's action.") public var lastAttemptedReleaseActionDuration: String = ""
    @Field("Revision of the last release.") public var lastReleaseRevision: Int = 0
    @Field("Failures since the last success.") public var failures: Int = 0
    @Field("Install failures since the last success.") public var installFailures: Int = 0
    @Field("Upgrade failures since the last success.") public var upgradeFailures: Int = 0
    @Field("Digest of the post renderers of the last release.") public var observedPostRenderersDigest: String = ""
    @Field("Digest of the common metadata of the last release.") public var observedCommonMetadataDigest: String = ""
    @Field("Objects of the last release.") public var inventory: ResourceInventory? = nil
    public init() {}
    public static func refine(_ s: inout Schema) { statusDefault(&s) }
}

public struct HelmRelease: FluxObject {
    @Field(apiVersionHelp) public var apiVersion: String = ""
    @Field(kindHelp) public var kind: String = ""
    @Field public var metadata = ObjectMeta()
    @Field public var spec = HelmReleaseSpec()
    @Field public var status: HelmReleaseStatus? = nil
    public init() {}
    public static let fluxKind = FluxKinds.helmRelease
    public static var apiDescription: String { "HelmRelease installs and upgrades a Helm chart release." }
    public static var shortNames: [String] { ["hr"] }
    public static var categories: [String] { ["all", "fluxcd", "fluxcd-appliers"] }
    public static var statusSchema: Schema? { HelmReleaseStatus.apiSchema }
    public static var printerColumns: [PrinterColumn] { [.age, .ready, .status] }
}
