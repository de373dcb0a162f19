import FluxsAPI
import FluxsCore
import FluxsKube
import FluxsYAML

/// `fluxs trigger receiver NAME`: with --url, the request flux sends to notification-controller's webhook (path from
/// the token, name and namespace; HMAC signature for generic-hmac; retries); without --url, what notification-controller
/// does when a valid request arrives, done here: each resource of the Receiver is annotated for reconciliation and
/// reconciled in this process (or left to its controller when that runs).
enum TriggerCommand {
    static let types = ["generic", "generic-hmac", "generic-oidc"]

    static func make() -> Command {
        let receiver = Command(
            name: "receiver", summary: "Trigger the webhook of a Receiver",
            long: "The trigger receiver command sends a request to the incoming webhook of a Receiver.\n\nThe command computes the webhook path from the Receiver name, namespace and token,\nappends it to the base URL and sends an HTTP POST request with the given payload.\nIt does not require access to the Kubernetes cluster.\n\nWithout --url, fluxs does what notification-controller does on a valid request: it reads the Receiver from the cluster and reconciles each of its resources (in this process where fluxs can).",
            examples: """
              # Trigger a generic Receiver
              fluxs trigger receiver my-receiver \\
                --token=my-token \\
                --url=https://flux-webhook.example.com

              # Trigger a generic-hmac Receiver
              fluxs trigger receiver my-receiver \\
                --type=generic-hmac \\
                --token=my-token \\
                --url=https://flux-webhook.example.com \\
                --payload='{"image":"ghcr.io/org/app:v1.0.0"}'

              # Reconcile the resources of a Receiver here, without notification-controller (fluxs)
              fluxs trigger receiver my-receiver -n apps
            """,
            flags: [
                .string("token", nil, "the Receiver token, required for all types except generic-oidc where it must not be set"),
                .string("url", nil, "the base URL of the notification-controller webhook receiver, may contain a base path"),
                .string("type", nil, "the Receiver type, one of: generic, generic-hmac, generic-oidc", default: "generic"),
                .string("oidc-token", nil, "the OIDC token to authenticate the request (generic-oidc only); defaults to the FLUX_TRIGGER_RECEIVER_OIDC_TOKEN environment variable"),
                .string("oidc-provider", nil, "the OIDC provider to fetch the token from, one of: github, forgejo (generic-oidc only, mutually exclusive with --oidc-token)"),
                .string("oidc-audience", nil, "the audience of the OIDC token to fetch (requires --oidc-provider); defaults to \"notification-controller\""),
                .string("payload", nil, "the JSON payload to send in the request body", default: "{}"),
                .int("retries", "the number of times to retry on connection errors or retryable HTTP status codes (404, 408, 429, 5xx); set to 0 to disable", default: 10),
                .duration("retry-delay", "the delay between retries", default: "10s"),
                .bool("local", nil, "reconcile in this process even when the Flux controller runs in the cluster (fluxs)"),
                .string("storage-path", nil, "where artifacts and Git mirrors are kept (fluxs; default $FLUXS_STORAGE_PATH or ~/.cache/fluxs/storage)", completion: .directories),
            ],
            args: .names(kind: "Receiver", many: false), handler: run,
            note: "with --url: flux's webhook request (path, HMAC signature, retries); without --url (fluxs): the Receiver's resources are annotated and reconciled in this process")
        return Command(name: "trigger", summary: "Trigger Flux resources from outside the cluster",
                       long: "The trigger sub-commands trigger Flux resources from outside the cluster.", subcommands: [receiver])
    }

    static func run(_ inv: Invocation) throws -> Int32 {
        guard inv.args.count == 1 else { throw CLIError("accepts 1 arg(s), received \(inv.args.count)") }
        let name = inv.args[0]
        let ns = try inv.namespace()
        if inv.flags.string("url").isEmpty { return try reconcileHere(inv, name: name, ns: ns) }
        return try send(inv, name: name, ns: ns)
    }

    static func validate(_ f: FlagValues) throws {
        let type = f.string("type")
        guard types.contains(type) else { throw CLIError("invalid --type \(GoQuote.quote(type)), must be one of: generic, generic-hmac, generic-oidc") }
        if type != "generic-oidc" {
            if f.string("token").isEmpty { throw CLIError("--token is required for --type=\(type)") }
            if !f.string("oidc-provider").isEmpty || !f.string("oidc-token").isEmpty || !f.string("oidc-audience").isEmpty {
                throw CLIError("--oidc-provider, --oidc-token and --oidc-audience can only be set for --type=generic-oidc")
            }
            return
        }
        if !f.string("token").isEmpty { throw CLIError("--token must not be set for --type=generic-oidc, the Receiver of this type has no secret") }
        if !f.string("oidc-provider").isEmpty && !f.string("oidc-token").isEmpty { throw CLIError("--oidc-provider and --oidc-token are mutually exclusive") }
        if !f.string("oidc-provider").isEmpty { throw CLIError("--oidc-provider is not supported by fluxs: pass the OIDC token with --oidc-token or FLUX_TRIGGER_RECEIVER_OIDC_TOKEN") }
        if !f.string("oidc-audience").isEmpty { throw CLIError("--oidc-audience can only be set together with --oidc-provider") }
    }

    /// flux's request: POST <url>/hook/<sha256(token+name+namespace)>, retried on connection errors and 404/408/429/5xx.
    static func send(_ inv: Invocation, name: String, ns: String) throws -> Int32 {
        let f = inv.flags
        try validate(f)
        let type = f.string("type")
        var url = f.string("url")
        while url.hasSuffix("/") { url.removeLast() }
        let pathToken = type == "generic-oidc" ? "" : f.string("token")
        let webhook = url + "/hook/" + Hashing.sha256Hex(Array((pathToken + name + ns).utf8))
        let payload = Array(f.string("payload").utf8)
        var headers: [(String, String)] = [("Content-Type", "application/json"), ("User-Agent", "fluxs/\(BuildInfo.version)")]
        switch type {
        case "generic-hmac": headers.append(("X-Signature", "sha256=" + hexString(Hashing.hmacSHA256(key: Array(f.string("token").utf8), message: payload))))
        case "generic-oidc":
            let token = f.string("oidc-token").isEmpty ? (inv.env["FLUX_TRIGGER_RECEIVER_OIDC_TOKEN"] ?? "") : f.string("oidc-token")
            if token.isEmpty { throw CLIError("no OIDC token provided: set --oidc-provider, --oidc-token or the FLUX_TRIGGER_RECEIVER_OIDC_TOKEN environment variable") }
            headers.append(("Authorization", "Bearer " + token))
        default: break
        }
        inv.out.action("triggering Receiver \(ns)/\(name)")
        let deadline = monotonicSeconds() + inv.timeout
        var attempt = 0
        while true {
            var retryable = true
            var failure = ""
            do {
                let resp = try HTTPClient().perform(HTTPRequest(method: "POST", url: webhook, headers: headers, body: payload,
                                                                timeout: max(1, deadline - monotonicSeconds())), tls: TLSSettings())
                if resp.status >= 200 && resp.status < 300 {
                    inv.out.success("Receiver \(ns)/\(name) triggered")
                    return 0
                }
                let body = String(decoding: resp.body, as: UTF8.self).trimmingSpaces()
                failure = "request to \(webhook) failed with status \(statusLine(resp.status))" + (body.isEmpty ? "" : ": \(body)")
                retryable = [404, 408, 429, 500, 502, 503, 504].contains(resp.status)
            } catch {
                failure = "request to \(webhook) failed: \(error)"
            }
            let delay = f.duration("retry-delay")
            if !retryable || attempt >= f.int("retries") || monotonicSeconds() + delay > deadline { throw CLIError(failure) }
            attempt += 1
            inv.out.waiting("\(failure); retrying in \(GoDuration.format(delay)) (\(attempt)/\(f.int("retries")))")
            sleepSeconds(delay)
        }
    }

    /// Go's http.Response.Status for the codes a webhook answers.
    static func statusLine(_ code: Int) -> String {
        let texts = [400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
                     408: "Request Timeout", 429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
                     503: "Service Unavailable", 504: "Gateway Timeout"]
        return texts[code].map { "\(code) \($0)" } ?? String(code)
    }

    /// What notification-controller does for a valid request, done here: every resource of the Receiver (a `*` name
    /// with matchLabels selects several) gets `reconcile.fluxcd.io/requestedAt` and is reconciled.
    static func reconcileHere(_ inv: Invocation, name: String, ns: String) throws -> Int32 {
        let kube = try inv.kube()
        let receiver: Node
        do { receiver = try kube.get(FluxKinds.receiver.resource, namespace: ns, name: name) } catch let e as KubeError { throw CLIError(e.message) }
        if receiver["spec"]?["suspend"]?.bool == true { throw CLIError("Receiver \(ns)/\(name) is suspended") }
        inv.out.action("triggering Receiver \(ns)/\(name) in this process (as notification-controller would on a valid request)")
        var failures = 0
        for res in receiver["spec"]?["resources"]?.array ?? [] {
            let kind = res["kind"]?.string ?? "", resName = res["name"]?.string ?? ""
            let resNS = res["namespace"]?.string.flatMap { $0.isEmpty ? nil : $0 } ?? ns
            guard let a = Adapters.all.first(where: { $0.kind.kind == kind }) else {
                inv.out.failure("unsupported resource kind \(kind) in Receiver \(ns)/\(name)")
                failures += 1
                continue
            }
            var targets: [Node] = []
            if resName == "*" {
                let selector = (res["matchLabels"]?.map?.entries ?? []).map { "\($0.0)=\($0.1.text ?? "")" }.joined(separator: ",")
                targets = try kube.list(a.resource, namespace: resNS, labelSelector: selector).items
            } else if let o = try kube.getIfExists(a.resource, namespace: resNS, name: resName) {
                targets = [o]
            } else {
                inv.out.failure("\(kind) \(resNS)/\(resName) not found")
                failures += 1
                continue
            }
            for o in targets {
                let n = o["metadata"]?["name"]?.string ?? ""
                inv.out.action("annotating \(kind) \(n) in \(resNS) namespace")
                let patch: Node = ["metadata": ["annotations": ["reconcile.fluxcd.io/requestedAt": .string(Clock.rfc3339NanoLocal())]]]
                let mode = Reconciliation.mode(inv, a, kube: kube)
                if case .local = mode {} else { _ = try kube.patch(a.resource, namespace: resNS, name: n, type: .merge, patch: patch) }
                switch mode {
                case .local(let r):
                    // Annotated once the Lease is held: the answer is the object the run starts from.
                    let done = try Reconciliation.runLocal(inv, r, kind: kind, namespace: resNS, name: n) {
                        try $0.patch(a.resource, namespace: resNS, name: n, type: .merge, patch: patch)
                    }
                    if let m = Reconciliation.failure(done) {
                        inv.out.failure("\(kind) \(resNS)/\(n) reconciliation failed: \(m)")
                        failures += 1
                    } else {
                        inv.out.success(a.success(done))
                    }
                case .controller:
                    inv.out.success("\(kind) annotated; its controller reconciles it")
                case .unavailable(let component, let fluxNS):
                    inv.out.warning("\(kind) \(n) annotated but not reconciled: fluxs cannot reconcile \(kind) objects on demand yet, and no \(component) runs in the \(fluxNS) namespace")
                }
            }
        }
        if failures > 0 { throw CLIError("Receiver \(ns)/\(name): \(failures) resource(s) failed") }
        inv.out.success("Receiver \(ns)/\(name) triggered")
        return 0
    }
}
