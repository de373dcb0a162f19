import FluxsYAML

// notification.toolkit.fluxcd.io: Provider and Alert (v1beta3, no status), Receiver (v1).

public let providerTypes = ["slack", "discord", "msteams", "rocket", "generic", "generic-hmac", "github", "gitlab", "gitea",
                            "giteapullrequestcomment", "bitbucketserver", "bitbucket", "azuredevops", "googlechat", "googlepubsub",
                            "webex", "sentry", "azureeventhub", "telegram", "lark", "matrix", "opsgenie", "alertmanager", "grafana",
                            "githubdispatch", "githubpullrequestcomment", "gitlabmergerequestcomment", "pagerduty", "datadog", "nats",
                            "zulip", "otel", "zoom", "incident.io"]

public let receiverTypes = ["generic", "generic-hmac", "generic-oidc", "github", "gitlab", "bitbucket", "harbor", "dockerhub",
                            "quay", "gcr", "nexus", "acr", "cdevents"]

public let eventSourceKinds = ["Bucket", "GitRepository", "Kustomization", "HelmRelease", "HelmChart", "HelmRepository",
                               "ImageRepository", "ImagePolicy", "ImageUpdateAutomation", "OCIRepository", "ArtifactGenerator",
                               "ExternalArtifact"]

public struct ProviderSpec: APIObject {
    @Field("Type of the provider.", required: true, enum: providerTypes) public var type: String = ""
    @Field("How often the provider is checked (unused, kept for compatibility).") public var interval: Duration? = nil
    @Field("Channel (or topic, room) to post to.", maxLength: 2048) public var channel: String = ""
    @Field("Name of the bot posting.", maxLength: 2048) public var username: String = ""
    @Field("Address of the webhook or API.", maxLength: 2048) public var address: String = ""
    @Field("Timeout of the requests.") public var timeout: TimeoutDuration? = nil
    @Field("HTTP(S) proxy for the requests (deprecated: use proxySecretRef).", pattern: "^(http|https)://.*$", maxLength: 2048)
    public var proxy: String = ""
    @Field("Secret with the proxy address and credentials.") public var proxySecretRef: LocalObjectReference? = nil
    @Field("Secret with the address, token or credentials of the provider.") public var secretRef: LocalObjectReference? = nil
    @Field("Service account for workload identity.") public var serviceAccountName: String = ""
    @Field("Secret with TLS certificates.") public var certSecretRef: LocalObjectReference? = nil
    @Field("Stop sending notifications.") public var suspend: Bool = false
    @Field("CEL expression giving the commit status name (git providers).") public var commitStatusExpr: String = ""
    public init() {}
    public static func refine(_ s: inout Schema) {
        s.validations = [("self.type == 'github' || self.type == 'gitlab' || self.type == 'gitea' || self.type == 'bitbucketserver' || self.type == 'bitbucket' || self.type == 'azuredevops' || !has(self.commitStatusExpr)",
                          "spec.commitStatusExpr is only supported for the 'github', 'gitlab', 'gitea', 'bitbucketserver', 'bitbucket', 'azuredevops' provider types")]
    }
}

public struct Provider: FluxObject {
    @Field(apiVersionHelp) public var apiVersion: String = ""
    @Field(kindHelp) public var kind: String = ""
    @Field public var metadata = ObjectMeta()
    @Field public var spec = ProviderSpec()
    public init() {}
    public static let fluxKind = FluxKinds.provider
    public static var apiDescription: String { "Provider is a destination of notifications (chat, git commit status, webhook)." }
    public static var categories: [String] { ["all", "fluxcd", "fluxcd-notifications"] }
    public static var statusSchema: Schema? { nil }
    public static var printerColumns: [PrinterColumn] { [.age] }
}

public struct CrossNamespaceObjectReference: APIObject {
    @Field("API version of the object.") public var apiVersion: String = ""
    @Field("Kind of the object.", required: true, enum: eventSourceKinds) public var kind: String = ""
    @Field("Name of the object ('*' for all).", required: true, minLength: 1, maxLength: 253) public var name: String = ""
    @Field("Namespace of the object.", minLength: 1, maxLength: 253) public var namespace: String = ""
    @Field("Labels the objects must have (with name '*').") public var matchLabels: [String: String] = [:]
    public init() {}
    public init(kind: String, name: String, namespace: String = "") {
        self.kind = kind
        self.name = name
        self.namespace = namespace
    }
}

public struct AlertSpec: APIObject {
    @Field("The Provider to send to.", required: true) public var providerRef = LocalObjectReference()
    @Field("Lowest severity sent: info or error.", default: "info", enum: ["info", "error"]) public var eventSeverity: String = ""
    @Field("The objects whose events are sent.", required: true) public var eventSources: [CrossNamespaceObjectReference] = []
    @Field("Regular expressions an event message must match to be sent.") public var inclusionList: [String] = []
    @Field("Metadata added to every event.") public var eventMetadata: [String: String] = [:]
    @Field("Regular expressions of event messages that are not sent.") public var exclusionList: [String] = []
    @Field("Short description added to the events (deprecated: use eventMetadata).", maxLength: 255) public var summary: String = ""
    @Field("Stop sending.") public var suspend: Bool = false
    public init() {}
}

public struct Alert: FluxObject {
    @Field(apiVersionHelp) public var apiVersion: String = ""
    @Field(kindHelp) public var kind: String = ""
    @Field public var metadata = ObjectMeta()
    @Field public var spec = AlertSpec()
    public init() {}
    public static let fluxKind = FluxKinds.alert
    public static var apiDescription: String { "Alert selects the events of Flux objects that are sent to a Provider." }
    public static var categories: [String] { ["all", "fluxcd", "fluxcd-notifications"] }
    public static var statusSchema: Schema? { nil }
    public static var printerColumns: [PrinterColumn] { [.age] }
}

public struct ReceiverResource: APIObject {
    @Field("API version of the object.") public var apiVersion: String = ""
    @Field("Kind of the object.", required: true, enum: eventSourceKinds) public var kind: String = ""
    @Field("Name of the object ('*' for all).", required: true, minLength: 1, maxLength: 253) public var name: String = ""
    @Field("Namespace of the object.", minLength: 1, maxLength: 253) public var namespace: String = ""
    @Field("Labels the objects must have (with name '*').") public var matchLabels: [String: String] = [:]
    @Field("CEL expression over the request that selects the objects.") public var filter: String = ""
    public init() {}
}

public struct OIDCValidation: APIObject {
    @Field("CEL expression over the token claims.", required: true) public var expression: String = ""
    @Field("Message when the expression is false.", required: true) public var message: String = ""
    public init() {}
}

public struct OIDCVariable: APIObject {
    @Field("Variable name.", required: true) public var name: String = ""
    @Field("CEL expression giving the value.", required: true) public var expression: String = ""
    public init() {}
}

public struct OIDCProvider: APIObject {
    @Field("Issuer URL.", required: true, pattern: "^https?://") public var issuerURL: String = ""
    @Field("Expected audience.") public var audience: String = ""
    @Field("Validations of the token claims.", required: true, minItems: 1) public var validations: [OIDCValidation] = []
    @Field("Variables computed from the claims.") public var variables: [OIDCVariable] = []
    public init() {}
}

public struct ReceiverSpec: APIObject {
    @Field("Type of the webhook sender.", required: true, enum: receiverTypes) public var type: String = ""
    @Field("How often the receiver is reconciled.", default: "10m") public var interval: Duration? = nil
    @Field("Events that trigger a reconciliation (type specific).") public var events: [String] = []
    @Field("Objects to reconcile when a webhook arrives.", required: true) public var resources: [ReceiverResource] = []
    @Field("CEL expression filtering the resources.") public var resourceFilter: String = ""
    @Field("Secret with the webhook token (key token).") public var secretRef: LocalObjectReference? = nil
    @Field("OIDC providers trusted by generic-oidc receivers.", listType: "map", listMapKeys: ["issuerURL"]) public var oidcProviders: [OIDCProvider] = []
    @Field("Stop handling webhooks.") public var suspend: Bool = false
    public init() {}
    public static func refine(_ s: inout Schema) {
        s.validations = [
            ("self.type != 'generic-oidc' || (has(self.oidcProviders) && size(self.oidcProviders) > 0)", "oidcProviders is required for type generic-oidc"),
            ("self.type == 'generic-oidc' || !has(self.oidcProviders) || size(self.oidcProviders) == 0", "oidcProviders is only supported for type generic-oidc"),
            ("self.type != 'generic-oidc' || !has(self.secretRef)", "secretRef is not supported for type generic-oidc"),
            ("self.type == 'generic-oidc' || has(self.secretRef)", "secretRef is required"),
        ]
    }
}

public struct ReceiverStatus: FluxStatus {
    @Field("The last metadata.generation reconciled.") public var observedGeneration: Int = 0
    @Field(conditionsDescription) public var conditions: [Condition] = []
    @Field("Path of the webhook: /hook/<sha256 of token+name+namespace>.") public var webhookPath: String = ""
    @Field(lastHandledDescription) public var lastHandledReconcileAt: String = ""
    public init() {}
    public static func refine(_ s: inout Schema) { statusDefault(&s) }
}

public struct Receiver: FluxObject {
    @Field(apiVersionHelp) public var apiVersion: String = ""
    @Field(kindHelp) public var kind: String = ""
    @Field public var metadata = ObjectMeta()
    @Field public var spec = ReceiverSpec()
    @Field public var status: ReceiverStatus? = nil
    public init() {}
    public static let fluxKind = FluxKinds.receiver
    public static var apiDescription: String { "Receiver turns webhooks into reconciliations of Flux objects." }
    public static var categories: [String] { ["all", "fluxcd", "fluxcd-notifications"] }
    public static var statusSchema: Schema? { ReceiverStatus.apiSchema }
    public static var printerColumns: [PrinterColumn] { [.age, .ready, .status] }
}
