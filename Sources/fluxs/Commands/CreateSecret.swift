import FluxsAPI
import FluxsCore
import FluxsKube
import FluxsYAML

/// `fluxs create secret tls|helm|oci|proxy|notation|githubapp|receiver`: the Secrets flux's sourcesecret generators
/// (and fluxcd/pkg runtime/secrets) make, printed with --export or applied server-side (never printed otherwise).
enum CreateSecret {
    /// A generated Secret: its string data, type (nil: none) and annotations.
    struct Generated {
        var data: [(String, String)]
        var type: String?
        var annotations: [(String, String)] = []
    }

    /// The flow every generator shares: name, labels, --export (tls prints without the trailing newline flux's
    /// `Print` leaves out) or server-side apply and `► <what> secret '<name>' created in '<ns>' namespace`.
    static func command(_ name: String, summary: String, long: String, examples: String, flags: [Flag], what: String,
                        exportNewline: Bool = true, generate: @escaping (Invocation, String, String) throws -> Generated) -> Command {
        Command(name: name, summary: summary, long: long, examples: examples, flags: flags, args: .any("[name]"), handler: { inv in
            let secretName = try CreateSupport.name(inv)
            let ns = CreateSupport.namespace(inv)
            let labels = try CreateSupport.labels(inv)
            let g = try generate(inv, secretName, ns)
            var secret = CreateSupport.secretNode(name: secretName, namespace: ns, labels: labels,
                                                  stringData: g.data.sorted { $0.0 < $1.0 }, type: g.type)
            if !g.annotations.isEmpty { secret.set(["metadata", "annotations"], .map(g.annotations.map { ($0.0, .string($0.1)) })) }
            if inv.flags.bool("export") {
                inv.out.print("---")
                inv.out.write(try secret.yamlString())
                if exportNewline { inv.out.print("") }
                return 0
            }
            try CreateSupport.applySecret(inv, secret)
            inv.out.action("\(what) secret '\(secretName)' created in '\(ns)' namespace")
            return 0
        })
    }

    static func read(_ path: String, _ what: String) throws -> String {
        do { return try Files.readText(path) } catch { throw CLIError("\(what): open \(path): no such file or directory") }
    }

    static func make() -> [Command] { [tls(), helm(), oci(), proxy(), notation(), githubApp(), receiver()] }

    // MARK: tls and helm (fluxcd/pkg runtime/secrets MakeTLSSecret, MakeBasicAuthSecret)

    static let tlsFlags: [Flag] = [
        .string("tls-crt-file", nil, "TLS authentication cert file path", completion: .files),
        .string("tls-key-file", nil, "TLS authentication key file path", completion: .files),
        .string("ca-crt-file", nil, "TLS authentication CA file path", completion: .files),
    ]

    struct TLSFiles {
        var cert = "", key = "", ca = ""
        init(_ inv: Invocation) throws {
            let f = inv.flags
            if !f.string("ca-crt-file").isEmpty { ca = try CreateSecret.read(f.string("ca-crt-file"), "unable to read TLS CA file") }
            if !f.string("tls-crt-file").isEmpty { cert = try CreateSecret.read(f.string("tls-crt-file"), "failed to read cert file") }
            if !f.string("tls-key-file").isEmpty { key = try CreateSecret.read(f.string("tls-key-file"), "failed to read key file") }
        }

        /// The checks of MakeTLSSecret: a pair or a CA, and a pair that is PEM (Go's tls.X509KeyPair errors).
        func tlsSecret() throws -> Generated {
            if cert.isEmpty != key.isEmpty {
                throw CLIError(cert.isEmpty ? "found private key but missing certificate" : "found certificate but missing private key")
            }
            if cert.isEmpty && ca.isEmpty { throw CLIError("no CA certificate or client certificate pair found") }
            var data: [(String, String)] = []
            if !cert.isEmpty {
                guard cert.contains("-----BEGIN CERTIFICATE-----") else {
                    throw CLIError("invalid TLS certificate and key pair: tls: failed to find any PEM data in certificate input")
                }
                guard key.contains("-----BEGIN") && key.contains("PRIVATE KEY-----") else {
                    throw CLIError("invalid TLS certificate and key pair: tls: failed to find any PEM data in key input")
                }
                data += [("tls.crt", cert), ("tls.key", key)]
            }
            if !ca.isEmpty { data.append(("ca.crt", ca)) }
            return Generated(data: data, type: cert.isEmpty ? "Opaque" : "kubernetes.io/tls")
        }
    }

    static func tls() -> Command {
        command("tls", summary: "Create or update a Kubernetes secret with TLS certificates",
                long: "The create secret tls command generates a Kubernetes secret with certificates for use with TLS.",
                examples: """
                 # Create a TLS secret on disk and encrypt it with SOPS.
                  # Files are expected to be PEM-encoded.
                  fluxs create secret tls certs \\
                    --namespace=my-namespace \\
                    --tls-crt-file=./client.crt \\
                    --tls-key-file=./client.key \\
                    --ca-crt-file=./ca.crt \\
                    --export > certs.yaml
                """, flags: tlsFlags, what: "tls", exportNewline: false) { inv, _, _ in try TLSFiles(inv).tlsSecret() }
    }

    static func helm() -> Command {
        command("helm", summary: "Create or update a Kubernetes secret for Helm repository authentication",
                long: "The create secret helm command generates a Kubernetes secret with basic authentication credentials.",
                examples: """
                 # Create a Helm authentication secret on disk and encrypt it with Mozilla SOPS
                  fluxs create secret helm repo-auth \\
                    --namespace=my-namespace \\
                    --username=my-username \\
                    --password=my-password \\
                    --export > repo-auth.yaml
                """,
                flags: [.string("username", "u", "basic authentication username"), .string("password", "p", "basic authentication password")] + tlsFlags,
                what: "helm") { inv, _, _ in
            let files = try TLSFiles(inv)
            let user = inv.flags.string("username"), pass = inv.flags.string("password")
            // flux's GenerateHelm: a client certificate first, then basic auth (with the CA), then a CA alone, else empty.
            if !files.cert.isEmpty || !files.key.isEmpty { return try files.tlsSecret() }
            if !user.isEmpty || !pass.isEmpty {
                if user.isEmpty { throw CLIError("username is required") }
                if pass.isEmpty { throw CLIError("password is required") }
                var data = [("username", user), ("password", pass)]
                if !files.ca.isEmpty { data.append(("ca.crt", files.ca)) }
                return Generated(data: data, type: "kubernetes.io/basic-auth")
            }
            if !files.ca.isEmpty { return try files.tlsSecret() }
            return Generated(data: [], type: nil)
        }
    }

    // MARK: oci (MakeRegistrySecret)

    static func oci() -> Command {
        command("oci", summary: "Create or update a Kubernetes image pull secret",
                long: "The create secret oci command generates a Kubernetes secret that can be used for OCIRepository authentication",
                examples: """
                  # Create an OCI authentication secret on disk and encrypt it with Mozilla SOPS
                  fluxs create secret oci podinfo-auth \\
                    --url=ghcr.io \\
                    --username=username \\
                    --password=password \\
                    --export > repo-auth.yaml
                """,
                flags: [.string("url", nil, "oci repository address e.g ghcr.io/stefanprodan/charts"),
                        .string("username", "u", "basic authentication username"), .string("password", "p", "basic authentication password")],
                what: "oci") { inv, _, _ in
            let f = inv.flags
            let url = f.string("url"), user = f.string("username"), pass = f.string("password")
            if url.isEmpty { throw CLIError("--url is required") }
            if user.isEmpty { throw CLIError("--username is required") }
            if pass.isEmpty { throw CLIError("--password is required") }
            guard url.allSatisfy({ !$0.isWhitespace }), !url.contains("://") else {
                throw CLIError("error parsing url: 'could not parse reference: \(url)'")
            }
            // json.MarshalIndent of {"auths": {url: {username, password, auth}}} with two-space indent
            func q(_ s: String) -> String { (try? JSON.encode(.string(s))) ?? "\"\"" }
            let auth = Base64.encode("\(user):\(pass)")
            let config = "{\n  \"auths\": {\n    \(q(url)): {\n      \"username\": \(q(user)),\n      \"password\": \(q(pass)),\n      \"auth\": \(q(auth))\n    }\n  }\n}"
            return Generated(data: [(".dockerconfigjson", config)], type: "kubernetes.io/dockerconfigjson")
        }
    }

    // MARK: proxy (MakeProxySecret)

    static func proxy() -> Command {
        command("proxy", summary: "Create or update a Kubernetes secret for proxy authentication",
                long: "The create secret proxy command generates a Kubernetes secret with the\nproxy address and the basic authentication credentials.",
                examples: """
                 # Create a proxy secret on disk and encrypt it with SOPS
                  fluxs create secret proxy my-proxy \\
                    --namespace=my-namespace \\
                    --address=https://my-proxy.com \\
                    --username=my-username \\
                    --password=my-password \\
                    --export > proxy.yaml
                """,
                flags: [.string("address", nil, "proxy address"), .string("username", "u", "basic authentication username"),
                        .string("password", "p", "basic authentication password")],
                what: "proxy") { inv, _, _ in
            let f = inv.flags
            if f.string("address").isEmpty { throw CLIError("address is required") }
            var data = [("address", f.string("address"))]
            if !f.string("username").isEmpty { data.append(("username", f.string("username"))) }
            if !f.string("password").isEmpty { data.append(("password", f.string("password"))) }
            return Generated(data: data, type: "Opaque")
        }
    }

    // MARK: githubapp (MakeGitHubAppSecret)

    static func githubApp() -> Command {
        command("githubapp", summary: "Create or update a github app secret",
                long: "The create secret githubapp command generates a Kubernetes secret that can be used for GitRepository authentication with github app",
                examples: """
                  # Create a githubapp authentication secret on disk and encrypt it with Mozilla SOPS
                  fluxs create secret githubapp podinfo-auth \\
                    --app-id="1" \\
                    --app-installation-id="2" \\
                    --app-private-key=./private-key-file.pem \\
                    --export > githubapp-auth.yaml
                """,
                flags: [.string("app-id", nil, "github app ID"),
                        .string("app-installation-owner", nil, "github app installation owner (user or organization)"),
                        .string("app-installation-id", nil, "github app installation ID"),
                        .string("app-private-key", nil, "github app private key file path", completion: .files),
                        .string("app-base-url", nil, "github app base URL")],
                what: "githubapp") { inv, _, _ in
            let f = inv.flags
            let key = try read(f.string("app-private-key"), "unable to read private key file")
            if f.string("app-id").isEmpty { throw CLIError("githubAppID is required") }
            if key.isEmpty { throw CLIError("githubAppPrivateKey is required") }
            var data = [("githubAppID", f.string("app-id")), ("githubAppPrivateKey", key)]
            let owner = f.string("app-installation-owner"), id = f.string("app-installation-id")
            if !owner.isEmpty { data.append(("githubAppInstallationOwner", owner)) }
            if !id.isEmpty { data.append(("githubAppInstallationID", id)) }
            if !f.string("app-base-url").isEmpty { data.append(("githubAppBaseURL", f.string("app-base-url"))) }
            if owner.isEmpty == id.isEmpty {
                throw CLIError("exactly one of githubAppInstallationOwner or githubAppInstallationID must be provided")
            }
            return Generated(data: data, type: "Opaque")
        }
    }

    // MARK: receiver (sourcesecret.GenerateReceiver)

    static func receiver() -> Command {
        command("receiver", summary: "Create or update a Kubernetes secret for a Receiver webhook",
                long: "The create secret receiver command generates a Kubernetes secret with\nthe token used for webhook payload validation and an annotation with the\ncomputed webhook URL.",
                examples: """
                  # Create a receiver secret for a GitHub webhook
                  fluxs create secret receiver github-receiver \\
                    --namespace=my-namespace \\
                    --type=github \\
                    --hostname=flux.example.com \\
                    --export
                """,
                flags: [.string("type", nil, "the receiver type, available options are: (\(CreateNotification.receiverTypes.joined(separator: ", ")))"),
                        .string("token", nil, "webhook token used for payload validation and URL computation, auto-generated if not specified"),
                        .string("hostname", nil, "hostname for the webhook URL e.g. flux.example.com"),
                        .string("email-claim", nil, "IAM service account email, required for gcr type"),
                        .string("audience-claim", nil, "custom OIDC token audience for gcr type, defaults to the webhook URL")],
                what: "receiver") { inv, name, ns in
            let f = inv.flags
            let type = f.string("type")
            if f.isSet("type"), !CreateNotification.receiverTypes.contains(type) {
                throw CLIError("invalid argument \"\(type)\" for \"--type\" flag: receiver type '\(type)' is not supported, must be one of: \(CreateNotification.receiverTypes.joined(separator: ", "))")
            }
            if type.isEmpty { throw CLIError("--type is required") }
            let hostname = f.string("hostname")
            if hostname.isEmpty { throw CLIError("--hostname is required") }
            if type == "gcr" && f.string("email-claim").isEmpty { throw CLIError("--email-claim is required for gcr receiver type") }
            var token = f.string("token")
            if token.isEmpty {
                // SystemRandomNumberGenerator reads the kernel's CSPRNG (getrandom)
                token = hexString((0..<32).map { _ in UInt8.random(in: 0...255) })
            }
            // notification-controller's Receiver.GetWebhookPath
            let url = "https://\(hostname)/hook/" + Hashing.sha256Hex(Array((token + name + ns).utf8))
            var data = [("token", token)]
            if type == "gcr" {
                data.append(("email", f.string("email-claim")))
                data.append(("audience", f.string("audience-claim").isEmpty ? url : f.string("audience-claim")))
            }
            return Generated(data: data, type: nil, annotations: [("notification.toolkit.fluxcd.io/webhook", url)])
        }
    }

    // MARK: notation

    static func notation() -> Command {
        command("notation", summary: "Create or update a Kubernetes secret for verifications of artifacts signed by Notation",
                long: "The create secret notation command generates a Kubernetes secret with root ca certificates and trust policy.",
                examples: """
                 # Create a Notation configuration secret on disk and encrypt it with Mozilla SOPS
                  fluxs create secret notation my-notation-cert \\
                    --namespace=my-namespace \\
                    --trust-policy-file=./my-trust-policy.json \\
                    --ca-cert-file=./my-cert.crt \\
                    --export > my-notation-cert.yaml
                """,
                flags: [.string("trust-policy-file", nil, "notation trust policy file path", completion: .files),
                        .strings("ca-cert-file", nil, "root ca cert file path", completion: .files)],
                what: "notation configuration") { inv, _, _ in
            let f = inv.flags
            if f.strings("ca-cert-file").isEmpty { throw CLIError("--ca-cert-file is required") }
            let policyFile = f.string("trust-policy-file")
            if policyFile.isEmpty { throw CLIError("--trust-policy-file is required") }
            let policy = try read(policyFile, "unable to read trust policy file")
            try NotationTrustPolicy.validate(policy, file: policyFile)
            var errors: [String] = []
            var data: [(String, String)] = []
            for path in f.strings("ca-cert-file") {
                let base = String(path.split(separator: "/").last ?? "")
                guard base.hasSuffix(".crt") || base.hasSuffix(".pem") else { errors.append("\(base) must end with either .crt or .pem"); continue }
                do { data.append((base, try Files.readText(path))) } catch { errors.append("unable to read TLS CA file: open \(path): no such file or directory") }
            }
            if !errors.isEmpty { throw CLIError(errors.joined(separator: "\n")) }
            if data.isEmpty { throw CLIError("no CA certs found") }
            data.append(("trustpolicy.json", policy))
            return Generated(data: data, type: nil)
        }
    }
}

/// The checks notation-go's trustpolicy.Document.Validate makes (v1 rules), with its messages.
enum NotationTrustPolicy {
    static func q(_ s: String) -> String { GoQuote.quote(s) }

    static func validate(_ text: String, file: String) throws {
        let doc: Node
        do { doc = try JSON.decode(text) } catch { throw CLIError("failed to unmarshal trust policy \(file): \(error)") }
        guard case .mapping = doc else {
            let type: String
            switch doc {
            case .sequence: type = "array"
            case .scalar(let s): type = s.tag == .string ? "string" : s.tag == .bool ? "bool" : s.tag == .null ? "null" : "number"
            default: type = "object"
            }
            throw CLIError("failed to unmarshal trust policy \(file): json: cannot unmarshal \(type) into Go value of type trustpolicy.Document")
        }
        func invalid(_ m: String) -> CLIError { CLIError("invalid trust policy: \(m)") }
        let version = doc["version"]?.string ?? ""
        if version.isEmpty { throw invalid("trust policy document has empty version, version must be specified") }
        guard version == "1.0" else { throw invalid("trust policy document uses unsupported version \(q(version))") }
        let statements = doc["trustPolicies"]?.array ?? []
        if statements.isEmpty { throw invalid("trust policy document can not have zero trust policy statements") }
        var names = Set<String>()
        for st in statements {
            let name = st["name"]?.string ?? ""
            if names.contains(name) { throw invalid("multiple trust policy statements use the same name \(q(name)), statement names must be unique") }
            if name.isEmpty { throw invalid("trust policy: a trust policy statement is missing a name, every statement requires a name") }
            let level = st["signatureVerification"]?["level"]?.string ?? ""
            if level.isEmpty {
                throw invalid("trust policy: trust policy statement \(q(name)) has invalid signatureVerification: signature verification level is empty or missing in the trust policy statement")
            }
            guard ["strict", "permissive", "audit", "skip"].contains(level) else {
                throw invalid("trust policy: trust policy statement \(q(name)) has invalid signatureVerification: invalid signature verification level \(q(level))")
            }
            let stores = (st["trustStores"]?.array ?? []).compactMap(\.string)
            let identities = (st["trustedIdentities"]?.array ?? []).compactMap(\.string)
            if level == "skip" {
                if !stores.isEmpty || !identities.isEmpty {
                    throw invalid("trust policy: trust policy statement \(q(name)) is set to skip signature verification but configured with trust stores and/or trusted identities, remove them if signature verification needs to be skipped")
                }
            } else {
                if stores.isEmpty || identities.isEmpty {
                    throw invalid("trust policy: trust policy statement \(q(name)) is either missing trust stores or trusted identities, both must be specified")
                }
                for s in stores {
                    guard let colon = s.firstIndex(of: ":") else {
                        throw invalid("trust policy statement \(q(name)) has malformed trust store value \(q(s)). The required format is <TrustStoreType>:<TrustStoreName>")
                    }
                    let type = String(s[..<colon]), store = String(s[s.index(after: colon)...])
                    guard ["ca", "signingAuthority", "tsa"].contains(type) else {
                        throw invalid("trust policy statement \(q(name)) uses an unsupported trust store type \(q(type)) in trust store value \(q(s))")
                    }
                    guard !store.isEmpty, store.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "_.-".contains($0)) }) else {
                        throw invalid("trust policy statement \(q(name)) uses an unsupported trust store name \(q(store)) in trust store value \(q(s)). Named store name needs to follow [a-zA-Z0-9_.-]+ format")
                    }
                }
                if identities.count > 1 && identities.contains("*") {
                    throw invalid("trust policy statement \(q(name)) uses a wildcard trusted identity '*', a wildcard identity cannot be used in conjunction with other values")
                }
                for i in identities where i != "*" {
                    if i.isEmpty { throw invalid("trust policy statement \(q(name)) has an empty trusted identity") }
                    guard i.contains(":") else { throw invalid("trust policy statement \(q(name)) has trusted identity \(q(i)) missing separator") }
                }
            }
            let scopes = (st["registryScopes"]?.array ?? []).compactMap(\.string)
            if scopes.isEmpty {
                throw invalid("trust policy statement \(q(name)) has zero registry scopes, it must specify registry scopes with at least one value")
            }
            if scopes.count > 1 && scopes.contains("*") {
                throw invalid("trust policy statement \(q(name)) uses wildcard registry scope '*', a wildcard scope cannot be used in conjunction with other scope values")
            }
            names.insert(name)
        }
    }
}
