import FluxsYAML

// source.toolkit.fluxcd.io/v1: GitRepository, OCIRepository, Bucket, HelmRepository, HelmChart, ExternalArtifact.

let artifactHelp = "The last artifact produced from the source."
let timeoutDefault: Node = "60s"

// MARK: GitRepository

public struct GitRepositoryRef: APIObject {
    @Field("Branch to check out (default master when no ref is given).") public var branch: String = ""
    @Field("Tag to check out; takes precedence over branch.") public var tag: String = ""
    @Field("SemVer range of tags to check out; takes precedence over tag.") public var semver: String = ""
    @Field("Any Git reference (refs/heads/x, refs/pull/1/head); takes precedence over semver, tag and branch.") public var name: String = ""
    @Field("Commit SHA to check out; with a branch it must be on that branch.") public var commit: String = ""
    public init() {}
}

public struct GitRepositoryVerification: APIObject {
    @Field("What to verify: the HEAD commit, the tag, or both.", default: "HEAD", enum: ["head", "HEAD", "Tag", "TagAndHEAD"])
    public var mode: String = ""
    @Field("Secret with the trusted public keys.", required: true) public var secretRef = LocalObjectReference()
    public init() {}
}

public struct GitRepositoryInclude: APIObject {
    @Field("The GitRepository to include.", required: true) public var repository = LocalObjectReference()
    @Field("Path in the included repository to copy from (default its root).") public var fromPath: String = ""
    @Field("Path in this artifact to copy to (default the included repository's name).") public var toPath: String = ""
    public init() {}
}

public struct GitRepositorySpec: APIObject {
    @Field("URL of the Git repository (http, https or ssh).", required: true, pattern: "^(http|https|ssh)://.*$")
    public var url: String = ""
    @Field("Secret with the credentials: username/password or bearerToken for HTTPS, identity/known_hosts for SSH.")
    public var secretRef: LocalObjectReference? = nil
    @Field("Provider of the credentials; generic uses the Secret.", enum: ["generic", "aws", "azure", "github"])
    public var provider: String = ""
    @Field("Service account for workload identity (azure and aws providers).") public var serviceAccountName: String = ""
    @Field("How often the repository is checked for changes.", required: true) public var interval = Duration("1m0s")
    @Field("Timeout of Git operations.", default: timeoutDefault) public var timeout: TimeoutDuration? = nil
    @Field("The Git reference to check out.") public var ref: GitRepositoryRef? = nil
    @Field("Verification of commit and tag signatures.") public var verify: GitRepositoryVerification? = nil
    @Field("Secret with the proxy address and credentials.") public var proxySecretRef: LocalObjectReference? = nil
    @Field("Patterns of files to leave out of the artifact, in .gitignore format; replaces the defaults.") public var ignore: String? = nil
    @Field("Stop reconciling the object.") public var suspend: Bool = false
    @Field("Check out Git submodules too.") public var recurseSubmodules: Bool = false
    @Field("Other GitRepositories whose artifacts are copied into this one.") public var include: [GitRepositoryInclude] = []
    @Field("Directories to check out; all when empty.") public var sparseCheckout: [String] = []
    public init() {}
    public static func refine(_ s: inout Schema) {
        s.validations = [("!has(self.serviceAccountName) || (has(self.provider) && (self.provider == 'azure' || self.provider == 'aws'))",
                          "serviceAccountName can only be set when provider is 'azure' or 'aws'")]
    }
}

public struct GitRepositoryStatus: FluxStatus {
    @Field("The last metadata.generation reconciled.") public var observedGeneration: Int = 0
    @Field(conditionsDescription) public var conditions: [Condition] = []
    @Field(artifactHelp) public var artifact: Artifact? = nil
    @Field("Artifacts of the included repositories.") public var includedArtifacts: [Artifact] = []
    @Field("The ignore patterns used for the last artifact.") public var observedIgnore: String? = nil
    @Field("Whether submodules were checked out for the last artifact.") public var observedRecurseSubmodules: Bool = false
    @Field("The includes used for the last artifact.") public var observedInclude: [GitRepositoryInclude] = []
    @Field("The sparse checkout directories of the last artifact.") public var observedSparseCheckout: [String] = []
    @Field("The verification mode applied to the last artifact.") public var sourceVerificationMode: String? = nil
    @Field(lastHandledDescription) public var lastHandledReconcileAt: String = ""
    public init() {}
    public static func refine(_ s: inout Schema) { statusDefault(&s) }
}

public struct GitRepository: FluxObject {
    @Field(apiVersionHelp) public var apiVersion: String = ""
    @Field(kindHelp) public var kind: String = ""
    @Field public var metadata = ObjectMeta()
    @Field public var spec = GitRepositorySpec()
    @Field public var status: GitRepositoryStatus? = nil
    public init() {}
    public static let fluxKind = FluxKinds.gitRepository
    public static var apiDescription: String { "GitRepository fetches a Git repository and stores its content as an artifact." }
    public static var shortNames: [String] { ["gitrepo"] }
    public static var categories: [String] { ["all", "fluxcd", "fluxcd-sources"] }
    public static var statusSchema: Schema? { GitRepositoryStatus.apiSchema }
    public static var printerColumns: [PrinterColumn] {
        [PrinterColumn(name: "URL", type: "string", jsonPath: ".spec.url"), .age, .ready, .status]
    }
}

// MARK: OCIRepository

public struct OCIRepositoryRef: APIObject {
    @Field("Image digest to pull; takes precedence over semver and tag.") public var digest: String = ""
    @Field("SemVer range of tags to pull; takes precedence over tag.") public var semver: String = ""
    @Field("Regular expression the tags must match before the semver range applies.") public var semverFilter: String = ""
    @Field("Tag to pull (default latest).") public var tag: String = ""
    public init() {}
}

public struct OCILayerSelector: APIObject {
    @Field("Media type of the layer to select (the first layer when empty).") public var mediaType: String = ""
    @Field("Extract the layer's tarball or copy it as it is.", enum: ["extract", "copy"]) public var operation: String = ""
    public init() {}
}

public struct OIDCIdentityMatch: APIObject {
    @Field("Regular expression for the OIDC issuer.", required: true) public var issuer: String = ""
    @Field("Regular expression for the OIDC subject.", required: true) public var subject: String = ""
    public init() {}
}

public struct OCIRepositoryVerification: APIObject {
    @Field("Signature verification tool.", required: true, default: "cosign", enum: ["cosign", "notation"]) public var provider: String = "cosign"
    @Field("Secret with the trusted public keys or certificates.") public var secretRef: LocalObjectReference? = nil
    @Field("Keyless identities to accept.") public var matchOIDCIdentity: [OIDCIdentityMatch] = []
    @Field("Secret with a trusted root for keyless verification.") public var trustedRootSecretRef: LocalObjectReference? = nil
    public init() {}
}

/// HelmChart's verification has no trusted root (upstream v1).
public struct HelmChartVerification: APIObject {
    @Field("Signature verification tool.", required: true, default: "cosign", enum: ["cosign", "notation"]) public var provider: String = "cosign"
    @Field("Secret with the trusted public keys or certificates.") public var secretRef: LocalObjectReference? = nil
    @Field("Keyless identities to accept.") public var matchOIDCIdentity: [OIDCIdentityMatch] = []
    public init() {}
}

public struct OCIRepositorySpec: APIObject {
    @Field("OCI repository address, oci://<host>/<path>.", required: true, pattern: "^oci://.*$") public var url: String = ""
    @Field("The OCI reference to pull.") public var ref: OCIRepositoryRef? = nil
    @Field("Which layer of the artifact to use.") public var layerSelector: OCILayerSelector? = nil
    @Field("Provider of the registry credentials.", default: "generic", enum: ["generic", "aws", "azure", "gcp"]) public var provider: String = ""
    @Field("Secret with registry credentials (dockerconfigjson).") public var secretRef: LocalObjectReference? = nil
    @Field("Verification of the artifact's signature.") public var verify: OCIRepositoryVerification? = nil
    @Field("Service account whose image pull secrets are used.") public var serviceAccountName: String = ""
    @Field("Secret with TLS client certificate and CA.") public var certSecretRef: LocalObjectReference? = nil
    @Field("Secret with the proxy address and credentials.") public var proxySecretRef: LocalObjectReference? = nil
    @Field("How often the repository is checked for changes.", required: true) public var interval = Duration("1m0s")
    @Field("Timeout of registry operations.", default: timeoutDefault) public var timeout: TimeoutDuration? = nil
    @Field("Patterns of files to leave out of the artifact, in .gitignore format.") public var ignore: String? = nil
    @Field("Allow plain HTTP to the registry.") public var insecure: Bool = false
    @Field("Stop reconciling the object.") public var suspend: Bool = false
    public init() {}
}

public struct OCIRepositoryStatus: FluxStatus {
    @Field("The last metadata.generation reconciled.") public var observedGeneration: Int = 0
    @Field(conditionsDescription) public var conditions: [Condition] = []
    @Field("The download address of the last artifact.") public var url: String = ""
    @Field(artifactHelp) public var artifact: Artifact? = nil
    @Field("The ignore patterns used for the last artifact.") public var observedIgnore: String? = nil
    @Field("The layer selector used for the last artifact.") public var observedLayerSelector: OCILayerSelector? = nil
    @Field(lastHandledDescription) public var lastHandledReconcileAt: String = ""
    public init() {}
    public static func refine(_ s: inout Schema) { statusDefault(&s) }
}

public struct OCIRepository: FluxObject {
    @Field(apiVersionHelp) public var apiVersion: String = ""
    @Field(kindHelp) public var kind: String = ""
    @Field public var metadata = ObjectMeta()
    @Field public var spec = OCIRepositorySpec()
    @Field public var status: OCIRepositoryStatus? = nil
    public init() {}
    public static let fluxKind = FluxKinds.ociRepository
    public static var apiDescription: String { "OCIRepository pulls an OCI artifact and stores its content as an artifact." }
    public static var shortNames: [String] { ["ocirepo"] }
    public static var categories: [String] { ["all", "fluxcd", "fluxcd-sources"] }
    public static var statusSchema: Schema? { OCIRepositoryStatus.apiSchema }
    public static var printerColumns: [PrinterColumn] {
        [PrinterColumn(name: "URL", type: "string", jsonPath: ".spec.url"), .ready, .status, .age]
    }
}

// MARK: Bucket

public struct BucketSTSSpec: APIObject {
    @Field("Security token service provider.", required: true, enum: ["aws", "ldap"]) public var provider: String = ""
    @Field("Address of the security token service.", required: true, pattern: "^(http|https)://.*$") public var endpoint: String = ""
    @Field("Secret with the LDAP credentials.") public var secretRef: LocalObjectReference? = nil
    @Field("Secret with the TLS certificates of the STS endpoint.") public var certSecretRef: LocalObjectReference? = nil
    public init() {}
}

public struct BucketSpec: APIObject {
    @Field("Provider of the bucket API.", default: "generic", enum: ["generic", "aws", "gcp", "azure"]) public var provider: String = ""
    @Field("Name of the bucket.", required: true) public var bucketName: String = ""
    @Field("Address of the bucket API.", required: true) public var endpoint: String = ""
    @Field("Security token service settings.") public var sts: BucketSTSSpec? = nil
    @Field("Use plain HTTP.") public var insecure: Bool = false
    @Field("Region of the bucket.") public var region: String = ""
    @Field("Only objects whose keys start with this prefix.") public var prefix: String = ""
    @Field("Secret with the bucket credentials.") public var secretRef: LocalObjectReference? = nil
    @Field("Service account for workload identity.") public var serviceAccountName: String = ""
    @Field("Secret with TLS certificates.") public var certSecretRef: LocalObjectReference? = nil
    @Field("Secret with the proxy address and credentials.") public var proxySecretRef: LocalObjectReference? = nil
    @Field("How often the bucket is checked for changes.", required: true) public var interval = Duration("1m0s")
    @Field("Timeout of bucket operations.", default: timeoutDefault) public var timeout: TimeoutDuration? = nil
    @Field("Patterns of files to leave out of the artifact, in .gitignore format.") public var ignore: String? = nil
    @Field("Stop reconciling the object.") public var suspend: Bool = false
    public init() {}
    public static func refine(_ s: inout Schema) {
        s.validations = [
            ("self.provider == 'aws' || self.provider == 'generic' || !has(self.sts)", "STS configuration is only supported for the 'aws' and 'generic' Bucket providers"),
            ("self.provider != 'aws' || !has(self.sts) || self.sts.provider == 'aws'", "'aws' is the only supported STS provider for the 'aws' Bucket provider"),
            ("self.provider != 'generic' || !has(self.sts) || self.sts.provider == 'ldap'", "'ldap' is the only supported STS provider for the 'generic' Bucket provider"),
            ("!has(self.sts) || self.sts.provider != 'aws' || !has(self.sts.secretRef)", "spec.sts.secretRef is not required for the 'aws' STS provider"),
            ("!has(self.sts) || self.sts.provider != 'aws' || !has(self.sts.certSecretRef)", "spec.sts.certSecretRef is not required for the 'aws' STS provider"),
            ("self.provider != 'generic' || !has(self.serviceAccountName)", "ServiceAccountName is not supported for the 'generic' Bucket provider"),
            ("!has(self.secretRef) || !has(self.serviceAccountName)", "cannot set both .spec.secretRef and .spec.serviceAccountName"),
        ]
    }
}

public struct BucketStatus: FluxStatus {
    @Field("The last metadata.generation reconciled.") public var observedGeneration: Int = 0
    @Field(conditionsDescription) public var conditions: [Condition] = []
    @Field("The download address of the last artifact.") public var url: String = ""
    @Field(artifactHelp) public var artifact: Artifact? = nil
    @Field("The ignore patterns used for the last artifact.") public var observedIgnore: String? = nil
    @Field(lastHandledDescription) public var lastHandledReconcileAt: String = ""
    public init() {}
    public static func refine(_ s: inout Schema) { statusDefault(&s) }
}

public struct Bucket: FluxObject {
    @Field(apiVersionHelp) public var apiVersion: String = ""
    @Field(kindHelp) public var kind: String = ""
    @Field public var metadata = ObjectMeta()
    @Field public var spec = BucketSpec()
    @Field public var status: BucketStatus? = nil
    public init() {}
    public static let fluxKind = FluxKinds.bucket
    public static var apiDescription: String { "Bucket fetches objects from an S3-compatible, GCS or Azure bucket and stores them as an artifact." }
    public static var categories: [String] { ["all", "fluxcd", "fluxcd-sources"] }
    public static var statusSchema: Schema? { BucketStatus.apiSchema }
    public static var printerColumns: [PrinterColumn] {
        [PrinterColumn(name: "Endpoint", type: "string", jsonPath: ".spec.endpoint"), .age, .ready, .status]
    }
}

// MARK: HelmRepository

public struct HelmRepositorySpec: APIObject {
    @Field("Address of the Helm repository (http, https, or oci for an OCI registry).", required: true, pattern: "^(http|https|oci)://.*$")
    public var url: String = ""
    @Field("Secret with the repository credentials.") public var secretRef: LocalObjectReference? = nil
    @Field("Secret with TLS certificates.") public var certSecretRef: LocalObjectReference? = nil
    @Field("Pass the credentials to every domain the index refers to.") public var passCredentials: Bool = false
    @Field("How often the index is downloaded.") public var interval: Duration? = nil
    @Field("Allow plain HTTP to an OCI registry.") public var insecure: Bool = false
    @Field("Timeout of index downloads.") public var timeout: TimeoutDuration? = nil
    @Field("Stop reconciling the object.") public var suspend: Bool = false
    @Field("Namespaces allowed to refer to this repository.") public var accessFrom: AccessFrom? = nil
    @Field("Repository type: a Helm index (default) or an OCI registry.", enum: ["default", "oci"]) public var type: String = ""
    @Field("Provider of OCI registry credentials.", default: "generic", enum: ["generic", "aws", "azure", "gcp"]) public var provider: String = ""
    public init() {}
}

public struct HelmRepositoryStatus: FluxStatus {
    @Field("The last metadata.generation reconciled.") public var observedGeneration: Int = 0
    @Field(conditionsDescription) public var conditions: [Condition] = []
    @Field("The download address of the last index.") public var url: String = ""
    @Field(artifactHelp) public var artifact: Artifact? = nil
    @Field(lastHandledDescription) public var lastHandledReconcileAt: String = ""
    public init() {}
    public static func refine(_ s: inout Schema) { statusDefault(&s) }
}

public struct HelmRepository: FluxObject {
    @Field(apiVersionHelp) public var apiVersion: String = ""
    @Field(kindHelp) public var kind: String = ""
    @Field public var metadata = ObjectMeta()
    @Field public var spec = HelmRepositorySpec()
    @Field public var status: HelmRepositoryStatus? = nil
    public init() {}
    public static let fluxKind = FluxKinds.helmRepository
    public static var apiDescription: String { "HelmRepository is a Helm chart repository: an index or an OCI registry." }
    public static var shortNames: [String] { ["helmrepo"] }
    public static var categories: [String] { ["all", "fluxcd", "fluxcd-sources"] }
    public static var statusSchema: Schema? { HelmRepositoryStatus.apiSchema }
    public static var printerColumns: [PrinterColumn] {
        [PrinterColumn(name: "URL", type: "string", jsonPath: ".spec.url"), .age, .ready, .status]
    }
}

// MARK: HelmChart

public struct LocalHelmChartSourceReference: APIObject {
    @Field("API version of the source.") public var apiVersion: String = ""
    @Field("Kind of the source.", required: true, enum: ["HelmRepository", "GitRepository", "Bucket"]) public var kind: String = ""
    @Field("Name of the source.", required: true) public var name: String = ""
    public init() {}
}

public struct HelmChartSpec: APIObject {
    @Field("Name or path of the chart in the source.", required: true) public var chart: String = ""
    @Field("SemVer range of the chart version (for HelmRepository sources).", default: "*") public var version: String = ""
    @Field("The source of the chart.", required: true) public var sourceRef = LocalHelmChartSourceReference()
    @Field("How often the source is checked for a new chart.", required: true) public var interval = Duration("1m0s")
    @Field("When to build a new chart: on a new chart version or on any new source revision.", default: "ChartVersion", enum: ["ChartVersion", "Revision"])
    public var reconcileStrategy: String = ""
    @Field("Values files to merge into the chart's values.yaml.") public var valuesFiles: [String] = []
    @Field("Do not fail on missing values files.") public var ignoreMissingValuesFiles: Bool = false
    @Field("Stop reconciling the object.") public var suspend: Bool = false
    @Field("Verification of the chart's signature (OCI charts).") public var verify: HelmChartVerification? = nil
    public init() {}
    public static func refine(_ s: inout Schema) {
        s.validations = [("!has(self.verify) || self.sourceRef.kind == 'HelmRepository'", "spec.verify is only supported when spec.sourceRef.kind is 'HelmRepository'")]
    }
}

public struct HelmChartStatus: FluxStatus {
    @Field("The last metadata.generation reconciled.") public var observedGeneration: Int = 0
    @Field("The source revision the last chart was built from.") public var observedSourceArtifactRevision: String = ""
    @Field("The chart name of the last build.") public var observedChartName: String = ""
    @Field("The values files of the last build.") public var observedValuesFiles: [String] = []
    @Field(conditionsDescription) public var conditions: [Condition] = []
    @Field("The download address of the last artifact.") public var url: String = ""
    @Field(artifactHelp) public var artifact: Artifact? = nil
    @Field(lastHandledDescription) public var lastHandledReconcileAt: String = ""
    public init() {}
    public static func refine(_ s: inout Schema) { statusDefault(&s) }
}

public struct HelmChart: FluxObject {
    @Field(apiVersionHelp) public var apiVersion: String = ""
    @Field(kindHelp) public var kind: String = ""
    @Field public var metadata = ObjectMeta()
    @Field public var spec = HelmChartSpec()
    @Field public var status: HelmChartStatus? = nil
    public init() {}
    public static let fluxKind = FluxKinds.helmChart
    public static var apiDescription: String { "HelmChart builds a Helm chart from a source and stores it as an artifact." }
    public static var shortNames: [String] { ["hc"] }
    public static var categories: [String] { ["all", "fluxcd", "fluxcd-sources"] }
    public static var statusSchema: Schema? { HelmChartStatus.apiSchema }
    public static var printerColumns: [PrinterColumn] {
        [PrinterColumn(name: "Chart", type: "string", jsonPath: ".spec.chart"),
         PrinterColumn(name: "Version", type: "string", jsonPath: ".spec.version"),
         PrinterColumn(name: "Source Kind", type: "string", jsonPath: ".spec.sourceRef.kind"),
         PrinterColumn(name: "Source Name", type: "string", jsonPath: ".spec.sourceRef.name"), .age, .ready, .status]
    }
}

// MARK: ExternalArtifact

public struct ExternalArtifactSpec: APIObject {
    @Field("The object that produces the artifact.") public var sourceRef: NamespacedObjectKindReference? = nil
    public init() {}
}

public struct ExternalArtifactStatus: FluxStatus {
    @Field("The last metadata.generation reconciled.") public var observedGeneration: Int = 0
    @Field(artifactHelp) public var artifact: Artifact? = nil
    @Field(conditionsDescription) public var conditions: [Condition] = []
    public init() {}
}

public struct ExternalArtifact: FluxObject {
    @Field(apiVersionHelp) public var apiVersion: String = ""
    @Field(kindHelp) public var kind: String = ""
    @Field public var metadata = ObjectMeta()
    @Field public var spec = ExternalArtifactSpec()
    @Field public var status: ExternalArtifactStatus? = nil
    public init() {}
    public static let fluxKind = FluxKinds.externalArtifact
    public static var apiDescription: String { "ExternalArtifact is an artifact produced outside source-controller." }
    public static var shortNames: [String] { ["ea"] }
    public static var categories: [String] { ["all", "fluxcd", "fluxcd-sources"] }
    public static var statusSchema: Schema? { ExternalArtifactStatus.apiSchema }
    public static var printerColumns: [PrinterColumn] {
        [.age, .ready, .status, PrinterColumn(name: "Source", type: "string", jsonPath: ".spec.sourceRef.name")]
    }
}
