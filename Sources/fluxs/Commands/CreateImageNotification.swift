import FluxsAPI
import FluxsKube
import FluxsYAML

// MARK: create image repository|policy|update

enum CreateImage {
    static func make() -> Command {
        Command(name: "image", summary: "Create or update resources dealing with image automation",
                long: "The create image sub-commands work with image automation objects; that is,\nobject controlling updates to git based on e.g., new container images\nbeing available.",
                subcommands: [repository(), policy(), update()])
    }

    /// A completion message for the create-or-update helper flux uses for image objects.
    static func finish(_ inv: Invocation, _ a: KindAdapter, _ object: Node) throws -> Int32 {
        inv.out.generate("generating \(a.kind.kind)")
        inv.out.action("applying \(a.kind.kind)")
        let applied = try CreateSupport.upsert(inv, object, label: a.kind.kind, quietWhenUnchanged: true)
        inv.out.waiting("waiting for \(a.kind.kind) reconciliation")
        if case .ready = try CreateSupport.wait(inv, a, applied) { inv.out.success("\(a.kind.kind) reconciliation completed") }
        return 0
    }

    static func repository() -> Command {
        Command(name: "repository", summary: "Create or update an ImageRepository object",
                long: "The create image repository command generates an ImageRepository resource.\nAn ImageRepository object specifies an image repository to scan.",
                examples: """
                  # Create an ImageRepository object to scan the alpine image repository:
                  fluxs create image repository alpine-repo --image alpine --interval 20m

                  # Create an image repository that uses an image pull secret (assumed to
                  # have been created already):
                  fluxs create image repository myapp-repo \\
                    --secret-ref image-pull \\
                    --image ghcr.io/example.com/myapp --interval 5m
                """,
                flags: [
                    .string("image", nil, "the image repository to scan; e.g., library/alpine"),
                    .string("secret-ref", nil, "the name of a docker-registry secret to use for credentials"),
                    .string("cert-ref", nil, "the name of a secret to use for TLS certificates"),
                    .duration("scan-timeout", "a timeout for scanning; this defaults to the interval if not set", default: "0s"),
                ],
                args: .any("[name]"),
                handler: { inv in
                    let name = try CreateSupport.name(inv)
                    let f = inv.flags
                    let image = f.string("image")
                    if image.isEmpty { throw CLIError("an image repository (--image) is required") }
                    if let e = imageRepositoryError(image) { throw CLIError("unable to parse image value: \(e)") }
                    var repo = ImageRepository.new(name: name, namespace: CreateSupport.namespace(inv))
                    repo.metadata.labels = try CreateSupport.labels(inv)
                    repo.spec.image = image
                    repo.spec.interval = Duration(seconds: f.duration("interval"))
                    if f.duration("scan-timeout") != 0 { repo.spec.timeout = TimeoutDuration(GoDuration.format(f.duration("scan-timeout"))) }
                    if !f.string("secret-ref").isEmpty { repo.spec.secretRef = LocalObjectReference(f.string("secret-ref")) }
                    if !f.string("cert-ref").isEmpty { repo.spec.certSecretRef = LocalObjectReference(f.string("cert-ref")) }
                    if f.bool("export") { try CreateSupport.export(inv, try repo.node()); return 0 }
                    return try finish(inv, Adapters.imageRepository, try repo.node())
                })
    }

    /// go-containerregistry's repository name rules, as far as they are visible to users.
    static func imageRepositoryError(_ s: String) -> String? {
        if s.contains(":") && !s.split(separator: "/").first!.contains(".") && !s.hasPrefix("localhost") && s.split(separator: "/").count == 1 {
            return "repository can only contain the characters `abcdefghijklmnopqrstuvwxyz0123456789_-./`: \(s)"
        }
        let path = s.split(separator: "/", maxSplits: 1)
        let repoPart = path.count == 2 && (path[0].contains(".") || path[0].contains(":") || path[0] == "localhost") ? String(path[1]) : s
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789_-./")
        if repoPart.isEmpty || !repoPart.allSatisfy({ allowed.contains($0) }) {
            return "repository can only contain the characters `abcdefghijklmnopqrstuvwxyz0123456789_-./`: \(repoPart)"
        }
        return nil
    }

    static func policy() -> Command {
        Command(name: "policy", summary: "Create or update an ImagePolicy object",
                long: "The create image policy command generates an ImagePolicy resource.\nAn ImagePolicy object calculates a \"latest image\" given an image\nrepository and a policy, e.g., semver.\n\nThe image that sorts highest according to the policy is recorded in\nthe status of the object.",
                examples: """
                  # Create an ImagePolicy to select the latest stable release
                  fluxs create image policy podinfo \\
                    --image-ref=podinfo \\
                    --select-semver=">=1.0.0"

                  # Create an ImagePolicy to select the latest main branch build tagged as "${GIT_BRANCH}-${GIT_SHA:0:7}-$(date +%s)"
                  fluxs create image policy podinfo \\
                    --image-ref=podinfo \\
                    --select-numeric=asc \\
                    --filter-regex='^main-[a-f0-9]+-(?P<ts>[0-9]+)' \\
                    --filter-extract='$ts'
                """,
                flags: [
                    .string("image-ref", nil, "the name of an image repository object"),
                    .string("select-semver", nil, "a semver range to apply to tags; e.g., '1.x'"),
                    .string("select-alpha", nil, "use alphabetical sorting to select image; either \"asc\" meaning select the last, or \"desc\" meaning select the first"),
                    .string("select-numeric", nil, "use numeric sorting to select image; either \"asc\" meaning select the last, or \"desc\" meaning select the first"),
                    .string("filter-regex", nil, "regular expression pattern used to filter the image tags"),
                    .string("filter-extract", nil, "replacement pattern (using capture groups from --filter-regex) to use for sorting"),
                    .string("reflect-digest", nil, "the digest reflection policy to use when observing latest image tags (one of 'Never', 'IfNotPresent', 'Always')"),
                    .duration("interval", "the interval at which to check for new image digests when the policy is set to 'Always'", default: "0s"),
                ],
                args: .any("[name]"),
                handler: runPolicy)
    }

    static func runPolicy(_ inv: Invocation) throws -> Int32 {
        let name = try CreateSupport.name(inv)
        let f = inv.flags
        let ref = f.string("image-ref")
        if ref.isEmpty { throw CLIError("the name of an ImageRepository in the namespace is required (--image-ref)") }
        var p = ImagePolicy.new(name: name, namespace: CreateSupport.namespace(inv))
        p.metadata.labels = try CreateSupport.labels(inv)
        p.spec.imageRepositoryRef.name = ref
        let semver = f.string("select-semver"), alpha = f.string("select-alpha"), numeric = f.string("select-numeric")
        if [semver, alpha, numeric].filter({ !$0.isEmpty }).count > 1 {
            throw CLIError("only one of --select-semver, --select-alpha or --select-numeric can be specified")
        }
        if !semver.isEmpty {
            var s = SemVerPolicy()
            s.range = semver
            p.spec.policy.semver = s
        } else if !alpha.isEmpty {
            guard alpha == "asc" || alpha == "desc" else { throw CLIError("--select-alpha must be one of [\"asc\", \"desc\"]") }
            var o = OrderPolicy()
            o.order = alpha
            p.spec.policy.alphabetical = o
        } else if !numeric.isEmpty {
            guard numeric == "asc" || numeric == "desc" else { throw CLIError("--select-numeric must be one of [\"asc\", \"desc\"]") }
            var o = OrderPolicy()
            o.order = numeric
            p.spec.policy.numerical = o
        } else {
            throw CLIError("a policy must be provided with either --select-semver or --select-alpha")
        }
        let regex = f.string("filter-regex"), extract = f.string("filter-extract")
        if !regex.isEmpty {
            guard (try? Regex(regex)) != nil else { throw CLIError("--filter-regex is an invalid regex pattern") }
            var tf = TagFilter()
            tf.pattern = regex
            if !extract.isEmpty {
                try validateExtract(extract, captureNames(regex))
                tf.extract = extract
            }
            p.spec.filterTags = tf
        } else if !extract.isEmpty {
            throw CLIError("cannot specify --filter-extract without specifying --filter-regex")
        }
        let reflect = f.string("reflect-digest")
        if !reflect.isEmpty {
            guard ["Never", "IfNotPresent", "Always"].contains(reflect) else {
                throw CLIError("invalid value for --reflect-digest, must be one of 'Never', 'IfNotPresent', 'Always'")
            }
            p.spec.digestReflectionPolicy = reflect
        }
        if f.duration("interval") != 0 {
            guard reflect == "Always" else {
                throw CLIError("the --interval flag can only be used with the 'Always' digest reflection policy, use --reflect-digest=Always")
            }
            p.spec.interval = Duration(seconds: f.duration("interval"))
        }
        if f.bool("export") { try CreateSupport.export(inv, try p.node()); return 0 }
        return try finish(inv, Adapters.imagePolicy, try p.node())
    }

    static func captureNames(_ regex: String) -> [String] {
        var names: [String] = []
        var rest = Substring(regex)
        while let r = rest.firstRange(of: "(?") {
            var after = rest[r.upperBound...]
            if after.hasPrefix("P<") { after = after.dropFirst(2) } else if after.hasPrefix("<") && !after.hasPrefix("<=") && !after.hasPrefix("<!") {
                after = after.dropFirst()
            } else { rest = after; continue }
            let n = after.prefix { $0 != ">" }
            names.append(String(n))
            rest = after.dropFirst(n.count)
        }
        return names
    }

    /// `$name` and `${name}` in the replacement must name capture groups of the regex.
    static func validateExtract(_ s: String, _ names: [String]) throws {
        var chars = Array(s)[...]
        while let i = chars.firstIndex(of: "$") {
            chars = chars[(i + 1)...]
            guard let c = chars.first else { throw CLIError("--filter-extract is malformed") }
            var name = ""
            if c == "{" {
                guard let end = chars.firstIndex(of: "}") else { throw CLIError("--filter-extract is malformed") }
                name = String(chars[(chars.startIndex + 1)..<end])
                chars = chars[(end + 1)...]
            } else if c == "$" {
                chars = chars.dropFirst()
                continue
            } else {
                let n = chars.prefix { $0.isLetter || $0.isNumber || $0 == "_" }
                name = String(n)
                chars = chars.dropFirst(n.count)
            }
            if name.isEmpty { throw CLIError("--filter-extract is malformed") }
            if Int(name) == nil && !names.contains(name) {
                throw CLIError("capture group $\(name) used in --filter-extract not found in --filter-regex")
            }
        }
    }

    static func update() -> Command {
        Command(name: "update", summary: "Create or update an ImageUpdateAutomation object",
                long: "The create image update command generates an ImageUpdateAutomation resource.\nAn ImageUpdateAutomation object specifies an automated update to images\nmentioned in YAMLs in a git repository.",
                examples: """
                  # Configure image updates for the main repository created by flux bootstrap
                  fluxs create image update flux-system \\
                    --git-repo-ref=flux-system \\
                    --git-repo-path="./clusters/my-cluster" \\
                    --checkout-branch=main \\
                    --author-name=flux \\
                    --author-email=flux@example.com \\
                    --commit-template="{{range .Updated.Images}}{{println .}}{{end}}"
                """,
                flags: [
                    .string("git-repo-ref", nil, "the name of a GitRepository resource with details of the upstream Git repository"),
                    .string("git-repo-namespace", nil, "the namespace of the GitRepository resource, defaults to the ImageUpdateAutomation namespace"),
                    .string("git-repo-path", nil, "path to the directory containing the manifests to be updated, defaults to the repository root"),
                    .string("checkout-branch", nil, "the branch to checkout"),
                    .string("push-branch", nil, "the branch to push commits to, defaults to the checkout branch if not specified"),
                    .string("commit-template", nil, "a template for commit messages"),
                    .string("author-name", nil, "the name to use for commit author"),
                    .string("author-email", nil, "the email to use for commit author"),
                    .string("signing-key-secret", nil, "the name of a Secret containing a key for signing commits"),
                    .string("signing-key-type", nil, "the type of the signing key (gpg or ssh), defaults to gpg"),
                ],
                args: .any("[name]"),
                handler: runUpdate)
    }

    static func runUpdate(_ inv: Invocation) throws -> Int32 {
        let name = try CreateSupport.name(inv)
        let f = inv.flags
        if f.string("git-repo-ref").isEmpty { throw CLIError("a reference to a GitRepository is required (--git-repo-ref)") }
        if f.string("checkout-branch").isEmpty { throw CLIError("the Git repository branch is required (--checkout-branch)") }
        if f.string("author-name").isEmpty { throw CLIError("the author name is required (--author-name)") }
        if f.string("author-email").isEmpty { throw CLIError("the author email is required (--author-email)") }
        let keyType = f.string("signing-key-type")
        if !keyType.isEmpty {
            if f.string("signing-key-secret").isEmpty { throw CLIError("--signing-key-type requires --signing-key-secret") }
            if keyType != "gpg" && keyType != "ssh" { throw CLIError("--signing-key-type must be one of: gpg, ssh") }
        }
        var u = ImageUpdateAutomation.new(name: name, namespace: CreateSupport.namespace(inv))
        u.metadata.labels = try CreateSupport.labels(inv)
        u.spec.sourceRef.name = f.string("git-repo-ref")
        u.spec.sourceRef.namespace = f.string("git-repo-namespace")
        var git = GitSpec()
        var checkout = GitCheckoutSpec()
        checkout.ref.branch = f.string("checkout-branch")
        git.checkout = checkout
        git.commit.author.name = f.string("author-name")
        git.commit.author.email = f.string("author-email")
        git.commit.messageTemplate = f.string("commit-template")
        if !f.string("signing-key-secret").isEmpty {
            var k = SigningKey()
            k.secretRef = LocalObjectReference(f.string("signing-key-secret"))
            k.type = keyType
            git.commit.signingKey = k
        }
        if !f.string("push-branch").isEmpty {
            var p = PushSpec()
            p.branch = f.string("push-branch")
            git.push = p
        }
        u.spec.git = git
        u.spec.interval = Duration(seconds: f.duration("interval"))
        if !f.string("git-repo-path").isEmpty {
            var up = UpdateStrategy()
            up.path = f.string("git-repo-path")
            u.spec.update = up
        }
        if f.bool("export") { try CreateSupport.export(inv, try u.node()); return 0 }
        return try finish(inv, Adapters.imageUpdateAutomation, try u.node())
    }
}

// MARK: create alert-provider|alert|receiver

enum CreateNotification {
    /// The receiver types flux's CLI accepts (flags.ReceiverType).
    static let receiverTypes = ["generic", "generic-hmac", "github", "gitlab", "bitbucket", "harbor", "dockerhub", "quay", "gcr", "nexus", "acr", "cdevents"]

    static func alertProvider() -> Command {
        Command(name: "alert-provider", summary: "Create or update a Provider resource",
                long: "The create alert-provider command generates a Provider resource.",
                examples: """
                  # Create a Provider for a Slack channel
                  fluxs create alert-provider slack \\
                    --type slack \\
                    --channel general \\
                    --address https://hooks.slack.com/services/T0JQ/B0JQ/XXXX \\
                    --secret-ref webhook-url

                  # Create a Provider for a Github repository
                  fluxs create alert-provider github-podinfo \\
                    --type github \\
                    --address https://github.com/stefanprodan/podinfo \\
                    --secret-ref github-token
                """,
                flags: [
                    .string("type", nil, "type of provider"), .string("channel", nil, "channel to send messages to in the case of a chat provider"),
                    .string("username", nil, "bot username used by the provider"), .string("address", nil, "path to either the git repository, chat provider or webhook"),
                    .string("secret-ref", nil, "name of secret containing authentication token"),
                ],
                args: .any("[name]"),
                handler: { inv in
                    let name = try CreateSupport.name(inv)
                    let f = inv.flags
                    if f.string("type").isEmpty { throw CLIError("Provider type is required") }
                    var p = Provider.new(name: name, namespace: CreateSupport.namespace(inv))
                    p.metadata.labels = try CreateSupport.labels(inv)
                    p.spec.type = f.string("type")
                    p.spec.channel = f.string("channel")
                    p.spec.username = f.string("username")
                    p.spec.address = f.string("address")
                    if !f.string("secret-ref").isEmpty { p.spec.secretRef = LocalObjectReference(f.string("secret-ref")) }
                    if f.bool("export") { try CreateSupport.export(inv, try p.node()); return 0 }
                    return try CreateCommand.applyAndWait(inv, Adapters.provider, try p.node()) { _ in ["Provider \(name) is ready"] }
                })
    }

    /// `<Kind>/<name>[.<namespace>]`
    static func parseEventSource(_ s: String) throws -> CrossNamespaceObjectReference {
        let parts = s.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 else { throw CLIError("invalid event source '\(s)', must be in format <kind>/<name>") }
        var name = parts[1], ns = ""
        let dots = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        if dots.count > 1 { name = dots.dropLast().joined(separator: "."); ns = dots.last! }
        return CrossNamespaceObjectReference(kind: parts[0], name: name, namespace: ns)
    }

    static func alert() -> Command {
        Command(name: "alert", summary: "Create or update a Alert resource",
                long: "The create alert command generates a Alert resource.",
                examples: """
                  # Create an Alert for kustomization events
                  fluxs create alert \\
                  --event-severity info \\
                  --event-source Kustomization/flux-system \\
                  --provider-ref slack \\
                  flux-system
                """,
                flags: [
                    .string("provider-ref", nil, "reference to provider"),
                    .string("event-severity", nil, "severity of events to send alerts for"),
                    .strings("event-source", nil, "sources that should generate alerts (<kind>/<name>), also accepts comma-separated values"),
                ],
                args: .any("[name]"),
                handler: { inv in
                    let name = try CreateSupport.name(inv)
                    let f = inv.flags
                    if f.string("provider-ref").isEmpty { throw CLIError("provider ref is required") }
                    var a = Alert.new(name: name, namespace: CreateSupport.namespace(inv))
                    a.metadata.labels = try CreateSupport.labels(inv)
                    a.spec.providerRef = LocalObjectReference(f.string("provider-ref"))
                    a.spec.eventSeverity = f.string("event-severity")
                    a.spec.eventSources = try f.strings("event-source").map(parseEventSource)
                    if a.spec.eventSources.isEmpty { throw CLIError("at least one event source is required") }
                    if f.bool("export") { try CreateSupport.export(inv, try a.node()); return 0 }
                    return try CreateCommand.applyAndWait(inv, Adapters.alert, try a.node()) { _ in ["Alert \(name) is ready"] }
                })
    }

    static func receiver() -> Command {
        Command(name: "receiver", summary: "Create or update a Receiver resource",
                long: "The create receiver command generates a Receiver resource.",
                examples: """
                  # Create a Receiver
                  fluxs create receiver github-receiver \\
                  --type github \\
                  --event ping \\
                  --event push \\
                  --secret-ref webhook-token \\
                  --resource GitRepository/webapp \\
                  --resource HelmRepository/webapp
                """,
                flags: [
                    .string("type", nil, "type of receiver"), .string("secret-ref", nil, "name of secret containing authentication token"),
                    .strings("event", nil, "also accepts comma-separated values"), .strings("resource", nil, "also accepts comma-separated values"),
                ],
                args: .any("[name]"),
                handler: { inv in
                    let name = try CreateSupport.name(inv)
                    let f = inv.flags
                    let type = f.string("type")
                    if type.isEmpty { throw CLIError("Receiver type is required") }
                    let allowed = receiverTypes
                    guard allowed.contains(type) else {
                        throw CLIError("receiver type '\(type)' is not supported, must be one of: \(allowed.joined(separator: ", "))")
                    }
                    if f.string("secret-ref").isEmpty { throw CLIError("secret ref is required") }
                    var r = Receiver.new(name: name, namespace: CreateSupport.namespace(inv))
                    r.metadata.labels = try CreateSupport.labels(inv)
                    r.spec.type = type
                    r.spec.events = f.strings("event")
                    r.spec.secretRef = LocalObjectReference(f.string("secret-ref"))
                    for res in f.strings("resource") {
                        let p = res.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
                        guard p.count == 2 else { throw CLIError("invalid event source '\(res)', must be in format <kind>/<name>") }
                        var rr = ReceiverResource()
                        rr.kind = p[0]
                        rr.name = p[1]
                        r.spec.resources.append(rr)
                    }
                    if r.spec.resources.isEmpty { throw CLIError("atleast one resource is required") }
                    if f.bool("export") { try CreateSupport.export(inv, try r.node()); return 0 }
                    return try CreateCommand.applyAndWait(inv, Adapters.receiver, try r.node()) { live in
                        ["Receiver \(name) is ready", "generated webhook URL \(live["status"]?["webhookPath"]?.string ?? "")"]
                    }
                })
    }
}
