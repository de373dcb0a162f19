import FluxsYAML

// image.toolkit.fluxcd.io/v1: ImageRepository, ImagePolicy, ImageUpdateAutomation.

public struct ImageRepositorySpec: APIObject {
    @Field("The image repository to scan (registry/path, no tag).", required: true) public var image: String = ""
    @Field("How often the repository is scanned.", required: true) public var interval = Duration("1m0s")
    @Field("Timeout of a scan; defaults to the interval.") public var timeout: TimeoutDuration? = nil
    @Field("Secret with registry credentials (dockerconfigjson).") public var secretRef: LocalObjectReference? = nil
    @Field("Secret with the proxy address and credentials.") public var proxySecretRef: LocalObjectReference? = nil
    @Field("Service account whose image pull secrets are used.", maxLength: 253) public var serviceAccountName: String = ""
    @Field("Secret with TLS certificates.") public var certSecretRef: LocalObjectReference? = nil
    @Field("Stop reconciling the object.") public var suspend: Bool = false
    @Field("Namespaces allowed to refer to this repository.") public var accessFrom: AccessFrom? = nil
    @Field("Regular expressions of tags to leave out.", default: ["^.*\\.sig$"], maxItems: 25) public var exclusionList: [String] = []
    @Field("Provider of registry credentials.", default: "generic", enum: ["generic", "aws", "azure", "gcp"]) public var provider: String = ""
    @Field("Allow plain HTTP to the registry.") public var insecure: Bool = false
    public init() {}
}

public struct ScanResult: APIObject {
    @Field("Digest of the scanned tag list.") public var revision: String = ""
    @Field("Number of tags found.", required: true) public var tagCount: Int = 0
    @Field("When the scan happened.") public var scanTime: Time = Time("")
    @Field("The most recent tags found.") public var latestTags: [String] = []
    public init() {}
    public static func refine(_ s: inout Schema) {
        if let i = s.properties.firstIndex(where: { $0.0 == "tagCount" }) { s.properties[i].1.format = nil }
    }
}

public struct ImageRepositoryStatus: FluxStatus {
    @Field("The last metadata.generation reconciled.") public var observedGeneration: Int = 0
    @Field(conditionsDescription) public var conditions: [Condition] = []
    @Field("The image name in canonical form.") public var canonicalImageName: String = ""
    @Field("The result of the last scan.") public var lastScanResult: ScanResult? = nil
    @Field("The exclusion list of the last scan.") public var observedExclusionList: [String] = []
    @Field(lastHandledDescription) public var lastHandledReconcileAt: String = ""
    public init() {}
    public static func refine(_ s: inout Schema) { statusDefault(&s) }
}

public struct ImageRepository: FluxObject {
    @Field(apiVersionHelp) public var apiVersion: String = ""
    @Field(kindHelp) public var kind: String = ""
    @Field public var metadata = ObjectMeta()
    @Field public var spec = ImageRepositorySpec()
    @Field public var status: ImageRepositoryStatus? = nil
    public init() {}
    public static let fluxKind = FluxKinds.imageRepository
    public static var apiDescription: String { "ImageRepository scans a container image repository for tags." }
    public static var shortNames: [String] { ["imgrepo", "imagerepo"] }
    public static var categories: [String] { ["all", "fluxcd", "fluxcd-images"] }
    public static var statusSchema: Schema? { ImageRepositoryStatus.apiSchema }
    public static var printerColumns: [PrinterColumn] {
        [PrinterColumn(name: "Image", type: "string", jsonPath: ".spec.image"),
         PrinterColumn(name: "Tags", type: "string", jsonPath: ".status.lastScanResult.tagCount"), .ready, .status,
         PrinterColumn(name: "Last scan", type: "string", jsonPath: ".status.lastScanResult.scanTime", priority: 1), .age]
    }
}

public struct SemVerPolicy: APIObject {
    @Field("SemVer range the selected tag must satisfy.", required: true) public var range: String = ""
    public init() {}
}

public struct OrderPolicy: APIObject {
    @Field("Sort order: asc selects the last, desc the first.", default: "asc", enum: ["asc", "desc"]) public var order: String = ""
    public init() {}
}

public struct ImagePolicyChoice: APIObject {
    @Field("Select the highest tag in a SemVer range.") public var semver: SemVerPolicy? = nil
    @Field("Select by alphabetical order.") public var alphabetical: OrderPolicy? = nil
    @Field("Select by numerical order.") public var numerical: OrderPolicy? = nil
    public init() {}
}

public struct TagFilter: APIObject {
    @Field("Regular expression the tags must match.") public var pattern: String = ""
    @Field("Replacement (with $name capture groups) giving the value the policy orders by.") public var extract: String = ""
    public init() {}
}

public struct ImageRef: APIObject, Equatable {
    @Field("Image name.", required: true) public var name: String = ""
    @Field("Image tag.", required: true) public var tag: String = ""
    @Field("Image digest.") public var digest: String = ""
    public init() {}
    public init(name: String, tag: String, digest: String = "") {
        self.name = name
        self.tag = tag
        self.digest = digest
    }
    public static func == (a: Self, b: Self) -> Bool { a.name == b.name && a.tag == b.tag && a.digest == b.digest }
    /// name:tag[@digest]
    public var string: String { "\(name):\(tag)" + (digest.isEmpty ? "" : "@\(digest)") }
}

public struct ImagePolicySpec: APIObject {
    @Field("The ImageRepository whose tags are selected from.", required: true) public var imageRepositoryRef = NamespacedObjectReference()
    @Field("How the latest tag is selected.", required: true) public var policy = ImagePolicyChoice()
    @Field("Which tags are considered, and what is compared.") public var filterTags: TagFilter? = nil
    @Field("When the digest of the selected tag is looked up.", default: "Never", enum: ["Always", "IfNotPresent", "Never"])
    public var digestReflectionPolicy: String = ""
    @Field("How often the digest is looked up (only with Always).") public var interval: Duration? = nil
    @Field("Stop reconciling the object.") public var suspend: Bool = false
    public init() {}
    public static func refine(_ s: inout Schema) {
        s.validations = [
            ("!has(self.interval) || (has(self.digestReflectionPolicy) && self.digestReflectionPolicy == 'Always')",
             "spec.interval is only accepted when spec.digestReflectionPolicy is set to 'Always'"),
            ("has(self.interval) || !has(self.digestReflectionPolicy) || self.digestReflectionPolicy != 'Always'",
             "spec.interval must be set when spec.digestReflectionPolicy is set to 'Always'"),
        ]
    }
}

public struct ImagePolicyStatus: FluxStatus {
    @Field("The last metadata.generation reconciled.") public var observedGeneration: Int = 0
    @Field(conditionsDescription) public var conditions: [Condition] = []
    @Field("The selected image.") public var latestRef: ImageRef? = nil
    @Field("The image selected before the last change.") public var observedPreviousRef: ImageRef? = nil
    @Field(lastHandledDescription) public var lastHandledReconcileAt: String = ""
    public init() {}
    public static func refine(_ s: inout Schema) { statusDefault(&s) }
}

public struct ImagePolicy: FluxObject {
    @Field(apiVersionHelp) public var apiVersion: String = ""
    @Field(kindHelp) public var kind: String = ""
    @Field public var metadata = ObjectMeta()
    @Field public var spec = ImagePolicySpec()
    @Field public var status: ImagePolicyStatus? = nil
    public init() {}
    public static let fluxKind = FluxKinds.imagePolicy
    public static var apiDescription: String { "ImagePolicy selects the latest image of an ImageRepository." }
    public static var shortNames: [String] { ["imgpol", "imagepol"] }
    public static var categories: [String] { ["all", "fluxcd", "fluxcd-images"] }
    public static var statusSchema: Schema? { ImagePolicyStatus.apiSchema }
    public static var printerColumns: [PrinterColumn] {
        [PrinterColumn(name: "Image", type: "string", jsonPath: ".status.latestRef.name"),
         PrinterColumn(name: "Tag", type: "string", jsonPath: ".status.latestRef.tag"), .ready, .status, .age]
    }
}

public struct CommitUser: APIObject {
    @Field("Name of the commit author.") public var name: String = ""
    @Field("Email of the commit author.", required: true) public var email: String = ""
    public init() {}
}

public struct SigningKey: APIObject {
    @Field("Secret with the signing key.", required: true) public var secretRef = LocalObjectReference()
    @Field("Kind of key.", enum: ["gpg", "ssh"]) public var type: String = ""
    public init() {}
}

public struct CommitSpec: APIObject {
    @Field("Author of the commits.", required: true) public var author = CommitUser()
    @Field("Key to sign the commits with.") public var signingKey: SigningKey? = nil
    @Field("Go template of the commit message.") public var messageTemplate: String = ""
    @Field("Values available to the message template.") public var messageTemplateValues: [String: String] = [:]
    public init() {}
}

public struct PushSpec: APIObject {
    @Field("Branch to push to; defaults to the checked out branch.") public var branch: String = ""
    @Field("Refspec to push.") public var refspec: String = ""
    @Field("Git push options.") public var options: [String: String] = [:]
    public init() {}
}

public struct GitCheckoutSpec: APIObject {
    @Field("The reference to check out.", required: true) public var ref = GitRepositoryRef()
    public init() {}
}

public struct GitSpec: APIObject {
    @Field("What to check out; defaults to the GitRepository's ref.") public var checkout: GitCheckoutSpec? = nil
    @Field("How to commit.", required: true) public var commit = CommitSpec()
    @Field("Where to push.") public var push: PushSpec? = nil
    public init() {}
}

public struct UpdateStrategy: APIObject {
    @Field("Path in the repository to update; defaults to its root.") public var path: String = ""
    @Field("How images are updated: Setters (# {\"$imagepolicy\": ...} markers).", default: "Setters", enum: ["Setters"])
    public var strategy: String = "Setters"
    public init() {}
}

public struct LabelSelector: APIObject {
    public struct Requirement: APIObject {
        @Field("Label key.", required: true) public var key: String = ""
        @Field("In, NotIn, Exists or DoesNotExist.", required: true) public var `operator`: String = ""
        @Field("Label values.", listType: "atomic") public var values: [String] = []
        public init() {}
    }
    @Field("Requirements ANDed together.", listType: "atomic") public var matchExpressions: [Requirement] = []
    @Field("Labels that must all match.") public var matchLabels: [String: String] = [:]
    public init() {}
    public static func refine(_ s: inout Schema) { s.mapType = "atomic" }
}

public struct ImageUpdateSourceReference: APIObject {
    @Field("API version of the source.") public var apiVersion: String = ""
    @Field("Kind of the source.", required: true, default: "GitRepository", enum: ["GitRepository"]) public var kind: String = "GitRepository"
    @Field("Name of the source.", required: true) public var name: String = ""
    @Field("Namespace of the source.") public var namespace: String = ""
    public init() {}
}

public struct ImageUpdateAutomationSpec: APIObject {
    @Field("The GitRepository to update.", required: true) public var sourceRef = ImageUpdateSourceReference()
    @Field("How to check out, commit and push.") public var git: GitSpec? = nil
    @Field("How often the automation runs.", required: true) public var interval = Duration("1m0s")
    @Field("Which ImagePolicies are used; all in the namespace when empty.") public var policySelector: LabelSelector? = nil
    @Field("What is updated.", default: .map([("strategy", "Setters")])) public var update: UpdateStrategy? = nil
    @Field("Stop reconciling the object.") public var suspend: Bool = false
    public init() {}
}

public struct ImageUpdateAutomationStatus: FluxStatus {
    @Field("The last metadata.generation reconciled.") public var observedGeneration: Int = 0
    @Field(conditionsDescription) public var conditions: [Condition] = []
    @Field("When the automation last ran.") public var lastAutomationRunTime: Time? = nil
    @Field("The last commit pushed.") public var lastPushCommit: String = ""
    @Field("When the last commit was pushed.") public var lastPushTime: Time? = nil
    @Field("The policies used in the last run, by name.") public var observedPolicies: [String: ImageRef] = [:]
    @Field("The source revision of the last run.") public var observedSourceRevision: String = ""
    @Field(lastHandledDescription) public var lastHandledReconcileAt: String = ""
    public init() {}
    public static func refine(_ s: inout Schema) { statusDefault(&s) }
}

public struct ImageUpdateAutomation: FluxObject {
    @Field(apiVersionHelp) public var apiVersion: String = ""
    @Field(kindHelp) public var kind: String = ""
    @Field public var metadata = ObjectMeta()
    @Field public var spec = ImageUpdateAutomationSpec()
    @Field public var status: ImageUpdateAutomationStatus? = nil
    public init() {}
    public static let fluxKind = FluxKinds.imageUpdateAutomation
    public static var apiDescription: String { "ImageUpdateAutomation commits the images selected by ImagePolicies to a Git repository." }
    public static var shortNames: [String] { ["iua", "imgupd", "imgauto"] }
    public static var categories: [String] { ["all", "fluxcd", "fluxcd-images"] }
    public static var statusSchema: Schema? { ImageUpdateAutomationStatus.apiSchema }
    public static var printerColumns: [PrinterColumn] {
        [.ready, .status, PrinterColumn(name: "Last run", type: "string", jsonPath: ".status.lastAutomationRunTime", priority: 1), .age]
    }
}
