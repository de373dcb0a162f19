import FluxsYAML

// source.extensions.fluxcd.io/v1beta1 ArtifactGenerator (source-watcher): composes ExternalArtifacts from sources.

public struct ArtifactGeneratorSourceReference: APIObject {
    @Field("Alias of the source within the generator, unique per ArtifactGenerator.", required: true,
           pattern: "^[a-z0-9]([a-z0-9_-]*[a-z0-9])?$", maxLength: 63)
    public var alias: String = ""
    @Field("Name of the source.", required: true, pattern: "^[a-z0-9]([a-z0-9-]*[a-z0-9])?$", maxLength: 253)
    public var name: String = ""
    @Field("Namespace of the source; defaults to the ArtifactGenerator's namespace.",
           pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", minLength: 1, maxLength: 63)
    public var namespace: String = ""
    @Field("Kind of the source.", required: true, enum: ["Bucket", "GitRepository", "OCIRepository", "HelmChart", "ExternalArtifact"])
    public var kind: String = ""
    public init() {}
}

public struct ArtifactCopyOperation: APIObject {
    @Field("Source alias and glob of the files to copy: @<alias>/<glob>.", required: true,
           pattern: "^@([a-z0-9]([a-z0-9_-]*[a-z0-9])?)/(.*)$", minLength: 1, maxLength: 1024)
    public var from: String = ""
    @Field("Destination in the artifact: @artifact/<path>.", required: true, pattern: "^@(artifact)/(.*)$", minLength: 1, maxLength: 1024)
    public var to: String = ""
    @Field("Glob patterns of files and directories matched by from to leave out.", maxItems: 100) public var exclude: [String] = []
    @Field("How files are copied: overwrite, merge YAML values, or extract tarballs.", enum: ["Overwrite", "Merge", "Extract"])
    public var strategy: String = ""
    public init() {}
}

public struct OutputArtifact: APIObject {
    @Field("Name of the generated ExternalArtifact (may use pathPattern captures).", required: true, minLength: 1, maxLength: 253)
    public var name: String = ""
    @Field("Source alias whose revision the artifact takes (@<alias>); default the content digest.",
           pattern: "^@([a-z0-9]([a-z0-9_-]*[a-z0-9])?)$", maxLength: 64)
    public var revision: String = ""
    @Field("Source alias whose origin revision is recorded (@<alias>).", pattern: "^@([a-z0-9]([a-z0-9_-]*[a-z0-9])?)$", maxLength: 64)
    public var originRevision: String = ""
    @Field("Copy operations, in order; later ones overwrite earlier ones.", required: true, minItems: 1)
    public var copy: [ArtifactCopyOperation] = []
    public init() {}
}

public struct ArtifactGeneratorSpec: APIObject {
    @Field("Labels and annotations added to the generated objects.") public var commonMetadata: CommonMetadata? = nil
    @Field("The sources the artifacts are generated from.", required: true, minItems: 1, maxItems: 1000)
    public var sources: [ArtifactGeneratorSourceReference] = []
    @Field("Directory pattern matched in the sources (@<alias>/<pattern>); named captures can be used in the artifacts.",
           pattern: "^@([a-z0-9]([a-z0-9_-]*[a-z0-9])?)/(.*)$", maxLength: 1024)
    public var pathPattern: String = ""
    @Field("The artifacts to generate.", required: true, minItems: 1, maxItems: 1000)
    public var artifacts: [OutputArtifact] = []
    public init() {}
    public static func refine(_ s: inout Schema) {
        s.validations = [("has(self.pathPattern) && size(self.pathPattern) > 0 || self.artifacts.all(a, a.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'))",
                          "artifact names must be valid Kubernetes object names when pathPattern is not set")]
    }
}

public struct ExternalArtifactReference: APIObject {
    @Field("Name of the ExternalArtifact.", required: true) public var name: String = ""
    @Field("Namespace of the ExternalArtifact.", required: true) public var namespace: String = ""
    @Field("Digest of the artifact.", required: true) public var digest: String = ""
    @Field("File name of the artifact.", required: true) public var filename: String = ""
    public init() {}
}

public struct ArtifactGeneratorStatus: APIObject {
    @Field(lastHandledDescription) public var lastHandledReconcileAt: String = ""
    @Field(conditionsDescription) public var conditions: [Condition] = []
    @Field("The generated ExternalArtifacts.") public var inventory: [ExternalArtifactReference] = []
    @Field("Digest of the state of every referenced source.") public var observedSourcesDigest: String = ""
    public init() {}
}

public struct ArtifactGenerator: FluxObject {
    @Field(apiVersionHelp) public var apiVersion: String = ""
    @Field(kindHelp) public var kind: String = ""
    @Field public var metadata = ObjectMeta()
    @Field public var spec = ArtifactGeneratorSpec()
    @Field public var status: ArtifactGeneratorStatus? = nil
    public init() {}
    public static let fluxKind = FluxKinds.artifactGenerator
    public static var apiDescription: String { "ArtifactGenerator composes ExternalArtifacts from the artifacts of Flux sources." }
    public static var shortNames: [String] { ["ag"] }
    public static var categories: [String] { ["all", "fluxcd", "fluxcd-sources"] }
    public static var statusSchema: Schema? { ArtifactGeneratorStatus.apiSchema }
    public static var printerColumns: [PrinterColumn] { [.age, .ready, .status] }
}
