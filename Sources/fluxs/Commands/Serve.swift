import FluxsAPI
import FluxsCore
import FluxsKube
import FluxsYAML
#if canImport(Glibc)
import Glibc
#endif

/// `fluxs serve receivers`: notification-controller's webhook receiver in one long-lived process. Each Receiver
/// gets its status (webhookPath `/hook/<sha256(token+name+namespace)>`, Ready) as the Receiver reconciler writes
/// it; a request on that path is checked as notification-controller checks it for the Receiver's type, its
/// resources are annotated with `reconcile.fluxcd.io/requestedAt` and then reconciled here (or left to their
/// controller when it runs), at most --concurrent at a time. SIGTERM/SIGINT stop it cleanly.
enum ServeCommand {
    static func make() -> Command {
        let receivers = Command(
            name: "receivers", summary: "Serve the webhooks of Receivers and reconcile their resources",
            long: "The serve receivers command serves the webhook of every Receiver, as notification-controller's receiver server does.\n\nIt writes each Receiver's status.webhookPath and Ready condition, checks every request as the controller checks it for the Receiver type (signatures, tokens, event filters), annotates the Receiver's resources for reconciliation and reconciles them in this process (or leaves them to their controller when it runs). A request with a bad signature or token gets 401. SIGTERM or SIGINT stop the server after the requests and reconciles under way.",
            examples: """
              # Serve the Receivers of the flux-system namespace on port 9292
              fluxs serve receivers --listen :9292

              # Serve the Receivers of every namespace on the loopback interface, two reconciles at a time
              fluxs serve receivers -A --listen 127.0.0.1:9292 --concurrent 2
            """,
            flags: [
                .string("listen", nil, "the address to listen on, [host]:port", default: ":9292"),
                .bool("all-namespaces", "A", "serve the Receivers of all namespaces"),
                .int("concurrent", "the number of reconciles run at the same time", default: 4),
                .bool("local", nil, "reconcile in this process even when the Flux controller runs in the cluster"),
                .string("storage-path", nil, "where artifacts and Git mirrors are kept (default $FLUXS_STORAGE_PATH or ~/.cache/fluxs/storage)", completion: .directories),
            ],
            handler: run, note: "a fluxs addition: notification-controller's receiver server in one process (no OIDC or GCR token validation)", fluxsOnly: true)
        return Command(name: "serve", summary: "Serve webhooks for Flux objects (fluxs)",
                       long: "The serve sub-commands run long-lived servers for Flux objects (a fluxs addition).",
                       subcommands: [receivers], fluxsOnly: true)
    }

    static func run(_ inv: Invocation) throws -> Int32 {
        guard inv.args.isEmpty else { throw CLIError("unknown command \"\(inv.args[0])\" for \"fluxs serve receivers\"") }
        let concurrent = inv.flags.int("concurrent")
        guard concurrent >= 1 else { throw CLIError("--concurrent must be at least 1") }
        let namespace: String? = inv.flags.bool("all-namespaces") ? nil : try inv.namespace()
        let (host, port) = try listenAddress(inv.flags.string("listen"))
        let kube = try inv.newKube()
        // Refuse to start when the API cannot be read (wrong context, no Receiver CRD).
        do { _ = try kube.list(FluxKinds.receiver.resource, namespace: namespace) } catch let e as KubeError {
            throw CLIError("cannot list Receivers: \(e.message)")
        }
        let listener = try Listener(host: host, port: port)
        inv.signals?.takeOver()
        let server = ReceiverServer(inv: inv, namespace: namespace, concurrent: concurrent)
        server.refresh(log: true)
        inv.out.success("serving Receivers \(namespace.map { "of the \($0) namespace" } ?? "of all namespaces") on \(listener.description)")
        let stop = StopPipe()
        let waiter = Thread.start { [stop] in
            let sig = SignalCleanup.waitForTermination()
            stop.signal(sig)
        }
        _ = waiter
        server.start()
        listener.serve(until: stop) { fd in server.accept(fd) }
        inv.out.action("stopping: \(stop.received == SIGINT ? "SIGINT" : "SIGTERM") received, finishing the requests and reconciles under way")
        server.shutdown()
        SignalCleanup.removeTemporaries(pid: getpid())
        inv.out.success("stopped")
        return 0
    }

    /// `[host]:port`, `host:port` or `[v6]:port`; an empty host listens on every address.
    static func listenAddress(_ s: String) throws -> (String?, String) {
        var host: String?, port: String
        if s.hasPrefix("["), let close = s.firstIndex(of: "]") {
            host = String(s[s.index(after: s.startIndex)..<close])
            port = String(s[s.index(after: close)...].dropFirst())
        } else if let colon = s.lastIndex(of: ":") {
            host = String(s[..<colon])
            port = String(s[s.index(after: colon)...])
        } else {
            throw CLIError("invalid --listen address \"\(s)\": want [host]:port")
        }
        if host?.isEmpty == true { host = nil }
        guard let p = Int(port), (0...65535).contains(p) else { throw CLIError("invalid --listen address \"\(s)\": bad port") }
        return (host, port)
    }
}

// MARK: the receiver server

/// One parsed HTTP request.
struct WebhookRequest {
    var method: String
    var target: String
    var headers: [(String, String)]
    var body: [UInt8]

    func header(_ name: String) -> String? {
        let l = name.lowercased()
        return headers.first { $0.0.lowercased() == l }?.1
    }
}

/// Why a request is refused: the status and the line logged (never a token or signature).
struct Refusal: Error {
    var status: Int
    var message: String
}

final class ReceiverServer: @unchecked Sendable {
    let inv: Invocation
    let namespace: String?
    let concurrent: Int
    let requests = BlockingQueue<Int32>(limit: 64)
    let reconciles = ReconcileQueue()
    private var threads: [Thread] = []
    private let logLock = Mutex()

    init(inv: Invocation, namespace: String?, concurrent: Int) {
        self.inv = inv
        self.namespace = namespace
        self.concurrent = concurrent
    }

    func log(_ f: (Output) -> Void) { logLock.locked { f(inv.out) } }

    func start() {
        // Requests are checked and answered by their own threads, so that a webhook is answered while
        // reconciles run; the reconciles are bounded by --concurrent.
        for _ in 0..<2 { threads.append(Thread.start { [self] in while let fd = requests.pop() { handle(fd) } }) }
        for _ in 0..<concurrent { threads.append(Thread.start { [self] in while let job = reconciles.pop() { reconcile(job); reconciles.done(job) } }) }
    }

    func accept(_ fd: Int32) {
        if !requests.push(fd) {
            HTTPConnection(fd: fd).respond(503)
            Glibc.close(fd)
        }
    }

    func shutdown() {
        requests.close()
        reconciles.close()
        for t in threads { t.join() }
        let dropped = reconciles.dropped
        if dropped > 0 { log { $0.warning("\(dropped) queued reconcile(s) not started") } }
    }

    // MARK: Receiver status

    /// The Receiver reconciler's work: the token from the Secret, the webhook path and Ready in the status.
    /// Returns the Receivers as written.
    @discardableResult
    func refresh(log announce: Bool = false) -> [Node] {
        guard let kube = try? inv.newKube(), let list = try? kube.list(FluxKinds.receiver.resource, namespace: namespace).items else { return [] }
        var out: [Node] = []
        for o in list {
            guard let r = try? APICoding.decode(Receiver.self, from: o) else { continue }
            let ns = r.metadata.namespace, name = r.metadata.name
            if r.spec.suspend { out.append(o); continue }
            var status = r.status ?? ReceiverStatus()
            let now = Clock.rfc3339()
            let gen = o["metadata"]?["generation"]?.int ?? 0
            var token = ""
            var problem: String?
            if let ref = r.spec.secretRef {
                let secretName = "\(ns)/\(ref.name)"
                do {
                    guard let data = try kube.stringData(of: .secrets, namespace: ns, name: ref.name) else {
                        throw Refusal(status: 0, message: "unable to read token from secret '\(secretName)' error: secrets \"\(ref.name)\" not found")
                    }
                    guard let t = data["token"] else { throw Refusal(status: 0, message: "invalid '\(secretName)' secret data: required fields 'token'") }
                    token = t
                } catch let e as Refusal {
                    problem = e.message
                } catch {
                    problem = "unable to read token from secret '\(secretName)' error: \(error)"
                }
            }
            let path = "/hook/" + Hashing.sha256Hex(token + name + ns)
            if let problem {
                status.conditions.set(ConditionType.ready, false, reason: "TokenNotFound", message: problem, generation: gen, now: now)
                status.webhookPath = ""
                if announce { self.log { $0.warning("Receiver \(ns)/\(name): \(problem)") } }
            } else {
                status.conditions.set(ConditionType.ready, true, reason: "Succeeded", message: "Receiver initialized for path: \(path)", generation: gen, now: now)
                status.conditions.delete(ConditionType.reconciling)
                status.conditions.delete(ConditionType.stalled)
                status.webhookPath = path
                status.observedGeneration = gen
                if announce { self.log { $0.action("Receiver \(ns)/\(name) (\(r.spec.type)) on \(path)") } }
            }
            if let requested = ReconcileRequest.value(o) { status.lastHandledReconcileAt = requested }
            do {
                let body: Node = ["status": try APICoding.node(status)]
                out.append(try kube.patch(FluxKinds.receiver.resource, namespace: ns, name: name, type: .merge, patch: body,
                                          subresource: "status", fieldManager: "notification-controller"))
            } catch {
                self.log { $0.warning("Receiver \(ns)/\(name): status update failed: \(error)") }
                out.append(o)
            }
        }
        return out
    }

    // MARK: requests

    func handle(_ fd: Int32) {
        defer { Glibc.close(fd) }
        let conn = HTTPConnection(fd: fd)
        let req: WebhookRequest
        do { req = try conn.read() } catch let r as Refusal {
            conn.respond(r.status)
            return
        } catch {
            conn.respond(400)
            return
        }
        let (status, after) = process(req)
        conn.respond(status)
        after()
    }

    /// The answer to a request and what to do once it was sent (queue the reconciles).
    func process(_ req: WebhookRequest) -> (Int, () -> Void) {
        guard req.target.hasPrefix("/hook/") else { return (404, {}) }
        // The Receiver whose status has this path (as the controller's index), refreshed once when none has.
        func find(_ items: [Node]) -> Node? { items.first { $0["status"]?["webhookPath"]?.string == req.target } }
        let listed = (try? inv.newKube().list(FluxKinds.receiver.resource, namespace: namespace).items) ?? []
        guard let o = find(listed) ?? find(refresh()), let receiver = try? APICoding.decode(Receiver.self, from: o) else {
            log { $0.failure("request on an unknown webhook path: 404") }
            return (404, {})
        }
        let id = "Receiver \(receiver.metadata.namespace)/\(receiver.metadata.name)"
        if receiver.spec.suspend || Obj.condition(o, "Ready")?["status"]?.string != "True" {
            log { $0.failure("\(id): unable to process request: receiver is \(receiver.spec.suspend ? "suspended" : "not ready") (503)") }
            return (503, {})
        }
        do {
            let kube = try inv.newKube()
            let what = try ReceiverValidation.validate(receiver, req, kube: kube)
            log { $0.action("\(id): \(what)") }
            guard receiver.spec.resourceFilter.isEmpty, receiver.spec.resources.allSatisfy({ $0.filter.isEmpty }) else {
                throw Refusal(status: 500, message: "resource filters (CEL) are not supported by fluxs")
            }
            var jobs: [ReconcileJob] = []
            var failed = false
            for res in receiver.spec.resources {
                do { jobs += try annotate(res, receiverNamespace: receiver.metadata.namespace, kube: kube, id: id) } catch let r as Refusal {
                    log { $0.failure("\(id): unable to request reconciliation: \(r.message)") }
                    failed = true
                }
            }
            return (failed ? 500 : 200, { [self] in for j in jobs { reconciles.push(j) } })
        } catch let r as Refusal {
            log { $0.failure("\(id): \(r.message) (\(r.status))") }
            return (r.status, {})
        } catch {
            log { $0.failure("\(id): \(error) (500)") }
            return (500, {})
        }
    }

    /// notification-controller's requestReconciliation: the object (or, for `*`, the objects with the labels)
    /// get `reconcile.fluxcd.io/requestedAt`.
    func annotate(_ res: ReceiverResource, receiverNamespace: String, kube: KubeClient, id: String) throws -> [ReconcileJob] {
        let ns = res.namespace.isEmpty ? receiverNamespace : res.namespace
        guard let adapter = Adapters.all.first(where: { $0.kind.kind == res.kind }) else {
            throw Refusal(status: 500, message: "apiVersion must be specified for kind \"\(res.kind)\"")
        }
        var ref = adapter.resource
        if !res.apiVersion.isEmpty { ref = try kube.resource(apiVersion: res.apiVersion, kind: res.kind) }
        var names: [String] = []
        if res.name == "*" {
            guard !res.matchLabels.isEmpty else { throw Refusal(status: 500, message: "matchLabels field not set when using wildcard '*' as name") }
            let selector = res.matchLabels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
            names = try kube.list(ref, namespace: ns, labelSelector: selector).items.compactMap { $0["metadata"]?["name"]?.string }
            if names.isEmpty { log { $0.warning("\(id): no \"\(res.kind)\" resources found with matching labels in \"\(ns)\" namespace") } }
        } else {
            names = [res.name]
        }
        var jobs: [ReconcileJob] = []
        for n in names {
            let patch: Node = .map([("metadata", .map([("annotations", .map([(ReconcileRequest.annotation, .string(Clock.rfc3339NanoLocal()))]))]))])
            do {
                _ = try kube.patch(ref, namespace: ns, name: n, type: .merge, patch: patch)
            } catch let e as KubeError {
                throw Refusal(status: 500, message: "unable to annotate \(res.kind) \"\(ns)/\(n)\" error: \(e.message)")
            }
            log { $0.success("\(res.kind) \(ns)/\(n) annotated") }
            jobs.append(ReconcileJob(adapter: adapter, resource: ref, namespace: ns, name: n))
        }
        return jobs
    }

    // MARK: reconciles

    func reconcile(_ job: ReconcileJob) {
        let label = "\(job.adapter.kind.kind) \(job.namespace)/\(job.name)"
        do {
            let kube = try inv.newKube()
            switch Reconciliation.mode(inv, job.adapter, kube: kube) {
            case .controller:
                return
            case .unavailable(let component, let fluxNS):
                log { $0.warning("\(label) annotated but not reconciled: fluxs cannot reconcile \(job.adapter.kind.kind) objects on demand yet, and no \(component) runs in the \(fluxNS) namespace") }
                return
            case .local(let r):
                guard let live = try kube.getIfExists(job.resource, namespace: job.namespace, name: job.name) else {
                    log { $0.failure("\(label) not found") }
                    return
                }
                var env = ReconcileEnv(kube: kube, storage: Reconciliation.storage(inv),
                                       log: { [self] line in if inv.verbose { log { $0.stderr(line) } } },
                                       warn: { [self] w in log { $0.warning(w) } })
                env.logs = inv.verbose
                let done = try r.reconcile(live, env: env)
                if let m = Reconciliation.failure(done) {
                    log { $0.failure("\(label) reconciliation failed: \(m)") }
                } else {
                    log { $0.success("\(label): \(job.adapter.success(done))") }
                }
            }
        } catch {
            log { $0.failure("\(label) reconciliation failed: \(error)") }
        }
    }
}

struct ReconcileJob {
    var adapter: KindAdapter
    var resource: ResourceRef
    var namespace: String
    var name: String
    var key: String { "\(adapter.kind.kind)/\(namespace)/\(name)" }
}

// MARK: validation per Receiver type

enum ReceiverValidation {
    /// notification-controller's validate, per type. Returns what was handled (for the log).
    static func validate(_ r: Receiver, _ req: WebhookRequest, kube: KubeClient) throws -> String {
        var token = ""
        if let ref = r.spec.secretRef {
            guard let data = try kube.stringData(of: .secrets, namespace: r.metadata.namespace, name: ref.name) else {
                throw Refusal(status: 400, message: "unable to read secret, error: secrets \"\(ref.name)\" not found")
            }
            guard let t = data["token"] else {
                throw Refusal(status: 400, message: "invalid \"\(r.metadata.namespace)/\(ref.name)\" secret data: required field 'token'")
            }
            token = t
        }
        let key = Array(token.utf8)
        func allowed(_ event: String, _ what: String) throws {
            if !r.spec.events.isEmpty && !r.spec.events.contains(where: { $0.lowercased() == event.lowercased() }) {
                throw Refusal(status: 400, message: "the \(what) \"\(event)\" is not authorised")
            }
        }
        func json() throws -> Node {
            guard let n = try? JSON.decode(bytes: req.body) else { throw Refusal(status: 400, message: "cannot decode the \(r.spec.type) webhook payload") }
            return n
        }
        switch r.spec.type {
        case "generic":
            return "handling generic request"
        case "generic-hmac":
            guard checkSignature(req.header("X-Signature") ?? "", body: req.body, key: key) else {
                throw Refusal(status: 401, message: "unable to validate HMAC signature")
            }
            return "handling generic-hmac request"
        case "github":
            try gitHubPayload(req, key: key, what: "GitHub signature header")
            let event = req.header("X-GitHub-Event") ?? ""
            try allowed(event, "GitHub event")
            return "handling GitHub event: \(event)"
        case "bitbucket":
            try gitHubPayload(req, key: key, what: "Bitbucket server signature header")
            let event = req.header("X-Event-Key") ?? ""
            try allowed(event, "Bitbucket server event")
            return "handling Bitbucket server event: \(event)"
        case "gitlab":
            guard Hashing.constantTimeEqual(Array((req.header("X-Gitlab-Token") ?? "").utf8), key) else {
                throw Refusal(status: 401, message: "the X-Gitlab-Token header value does not match the receiver token")
            }
            let event = req.header("X-Gitlab-Event") ?? ""
            try allowed(event, "GitLab event")
            return "handling GitLab event: \(event)"
        case "harbor":
            guard Hashing.constantTimeEqual(Array((req.header("Authorization") ?? "").utf8), key) else {
                throw Refusal(status: 401, message: "the Harbor Authorization header value does not match the receiver token")
            }
            return "handling Harbor event"
        case "dockerhub":
            let p = try json()
            return "handling DockerHub event from \(p["repository"]?["repo_url"]?.string ?? "") for tag \(p["push_data"]?["tag"]?.string ?? "")"
        case "quay":
            return "handling Quay event from \(try json()["docker_url"]?.string ?? "")"
        case "acr":
            let p = try json()
            return "handling ACR event from \(p["target"]?["repository"]?.string ?? "") for tag \(p["target"]?["tag"]?.string ?? "")"
        case "nexus":
            guard let sig = req.header("X-Nexus-Webhook-Signature"), !sig.isEmpty else {
                throw Refusal(status: 401, message: "the Nexus signature is missing from header")
            }
            guard let given = hexBytes(sig), Hashing.constantTimeEqual(given, Hashing.hmacSHA1(key: key, message: req.body)) else {
                throw Refusal(status: 401, message: "invalid Nexus signature")
            }
            return "handling Nexus event from \(try json()["repositoryName"]?.string ?? "")"
        case "cdevents":
            let event = req.header("Ce-Type") ?? ""
            let p = try json()
            guard p["context"]?["type"]?.string != nil, p["subject"] != nil else {
                throw Refusal(status: 400, message: "unable to validate CDEvent event: context.type and subject are required")
            }
            try allowed(event, "CDEvent")
            return "handling CDEvent: \(event)"
        case "gcr":
            throw Refusal(status: 400, message: "cannot authenticate GCR request: Google ID token validation is not supported by fluxs")
        case "generic-oidc":
            throw Refusal(status: 400, message: "generic-oidc receivers (OIDC token validation) are not supported by fluxs")
        default:
            throw Refusal(status: 400, message: "receiver type \"\(r.spec.type)\" not supported")
        }
    }

    /// go-github's ValidatePayload: X-Hub-Signature-256 (or X-Hub-Signature) over the raw body, JSON or form
    /// bodies; no check without a token.
    static func gitHubPayload(_ req: WebhookRequest, key: [UInt8], what: String) throws {
        let ct = (req.header("Content-Type") ?? "").split(separator: ";").first.map { trim(String($0)) } ?? ""
        guard ct == "application/json" || ct == "application/x-www-form-urlencoded" else {
            throw Refusal(status: 400, message: "the \(what) is invalid, err: webhook request has unsupported Content-Type \"\(ct)\"")
        }
        guard !key.isEmpty else { return }
        let sig = req.header("X-Hub-Signature-256") ?? req.header("X-Hub-Signature") ?? ""
        guard !sig.isEmpty else { throw Refusal(status: 401, message: "the \(what) is invalid, err: missing signature") }
        guard checkSignature(sig, body: req.body, key: key) else {
            throw Refusal(status: 401, message: "the \(what) is invalid, err: payload signature check failed")
        }
    }

    /// `sha1=`, `sha256=` or `sha512=` and the hex HMAC of the body (go-github's ValidateSignature).
    static func checkSignature(_ header: String, body: [UInt8], key: [UInt8]) -> Bool {
        guard let eq = header.firstIndex(of: "=") else { return false }
        let algo = header[..<eq], hex = String(header[header.index(after: eq)...])
        guard let given = hexBytes(hex) else { return false }
        let mac: [UInt8]
        switch algo {
        case "sha1": mac = Hashing.hmacSHA1(key: key, message: body)
        case "sha256": mac = Hashing.hmacSHA256(key: key, message: body)
        case "sha512": mac = Hashing.hmacSHA512(key: key, message: body)
        default: return false
        }
        return Hashing.constantTimeEqual(given, mac)
    }

    static func hexBytes(_ s: String) -> [UInt8]? {
        let u = Array(s.utf8)
        guard u.count % 2 == 0 else { return nil }
        func v(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            case 65...70: return c - 55
            default: return nil
            }
        }
        var out: [UInt8] = []
        var i = 0
        while i < u.count {
            guard let a = v(u[i]), let b = v(u[i + 1]) else { return nil }
            out.append(a << 4 | b)
            i += 2
        }
        return out
    }

    static func trim(_ s: String) -> String {
        var sub = Substring(s)
        while sub.first?.isWhitespace == true { sub.removeFirst() }
        while sub.last?.isWhitespace == true { sub.removeLast() }
        return String(sub)
    }
}

// MARK: sockets, threads, queues

/// A listening TCP socket; `serve` accepts until the stop pipe is signalled.
final class Listener: CustomStringConvertible {
    let fd: Int32
    let description: String

    init(host: String?, port: String) throws {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = host == nil ? AF_INET6 : AF_UNSPEC
        hints.ai_flags = AI_PASSIVE
        var res: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, port, &hints, &res) == 0, let a = res else {
            throw CLIError("cannot listen on \(host ?? ""):\(port): cannot resolve the address")
        }
        defer { freeaddrinfo(a) }
        let s = socket(a.pointee.ai_family, a.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), a.pointee.ai_protocol)
        guard s >= 0 else { throw CLIError("cannot listen on \(host ?? ""):\(port): \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if a.pointee.ai_family == AF_INET6 && host == nil {
            var zero: Int32 = 0
            setsockopt(s, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &zero, socklen_t(MemoryLayout<Int32>.size))
        }
        guard bind(s, a.pointee.ai_addr, a.pointee.ai_addrlen) == 0, Glibc.listen(s, 128) == 0 else {
            let why = String(cString: strerror(errno))
            Glibc.close(s)
            throw CLIError("cannot listen on \(host ?? ""):\(port): \(why)")
        }
        fd = s
        var addr = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        var bound = port
        withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sp in
                if getsockname(s, sp, &len) == 0 {
                    var hostBuf = [CChar](repeating: 0, count: 64), portBuf = [CChar](repeating: 0, count: 16)
                    if getnameinfo(sp, len, &hostBuf, 64, &portBuf, 16, NI_NUMERICSERV | NI_NUMERICHOST) == 0 {
                        bound = String(cString: portBuf)
                    }
                }
            }
        }
        description = "\(host.map { $0.contains(":") ? "[\($0)]" : $0 } ?? ""):\(bound)"
    }

    deinit { Glibc.close(fd) }

    func serve(until stop: StopPipe, _ accepted: (Int32) -> Void) {
        while true {
            var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: stop.readFD, events: Int16(POLLIN), revents: 0)]
            let n = poll(&fds, 2, -1)
            if n < 0 { if errno == EINTR { continue }; return }
            if fds[1].revents != 0 { return }
            if fds[0].revents & Int16(POLLIN) != 0 {
                let c = Glibc.accept(fd, nil, nil)
                if c >= 0 {
                    _ = fcntl(c, F_SETFD, FD_CLOEXEC)
                    accepted(c)
                }
            }
        }
    }
}

/// The signal thread's word to the accept loop.
final class StopPipe: @unchecked Sendable {
    let readFD: Int32
    let writeFD: Int32
    private let lock = Mutex()
    private var sig: Int32 = 0

    init() {
        var fds: [Int32] = [-1, -1]
        _ = pipe(&fds)
        for f in fds { _ = fcntl(f, F_SETFD, FD_CLOEXEC) }
        readFD = fds[0]
        writeFD = fds[1]
    }

    func signal(_ s: Int32) {
        lock.locked { sig = s }
        var b: UInt8 = 1
        _ = Glibc.write(writeFD, &b, 1)
    }

    var received: Int32 { lock.locked { sig } }
}

/// One accepted connection: a request read with notification-controller's limits (256 KiB of headers within 10 s,
/// 3 MiB of body, 30 s in all), one answer, then closed.
struct HTTPConnection {
    let fd: Int32
    static let maxHeader = 256 << 10
    static let maxBody = 3 << 20

    func read() throws -> WebhookRequest {
        let start = monotonicNow()
        var buf: [UInt8] = []
        var headerEnd: Int?
        func fill(deadline: Double) throws {
            let left = Int32(max(0, (deadline - monotonicNow()) * 1000))
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, left) == 1 else { throw Refusal(status: 408, message: "timed out") }
            var chunk = [UInt8](repeating: 0, count: 16 << 10)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { throw Refusal(status: 400, message: "connection closed") }
            buf += chunk[..<n]
        }
        while headerEnd == nil {
            if let r = find(buf, [13, 10, 13, 10]) { headerEnd = r; break }
            guard buf.count <= Self.maxHeader else { throw Refusal(status: 431, message: "headers too large") }
            try fill(deadline: start + 10)
        }
        let head = String(decoding: buf[..<headerEnd!], as: UTF8.self)
        var lines = head.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        let requestLine = lines.removeFirst().split(separator: " ")
        guard requestLine.count == 3 else { throw Refusal(status: 400, message: "bad request line") }
        var headers: [(String, String)] = []
        for l in lines where !l.isEmpty {
            guard let c = l.firstIndex(of: ":") else { throw Refusal(status: 400, message: "bad header") }
            headers.append((String(l[..<c]), ReceiverValidation.trim(String(l[l.index(after: c)...]))))
        }
        var req = WebhookRequest(method: String(requestLine[0]), target: String(requestLine[1]), headers: headers, body: [])
        if let te = req.header("Transfer-Encoding"), te.lowercased() != "identity" {
            throw Refusal(status: 411, message: "chunked bodies are not accepted")
        }
        let length = Int(req.header("Content-Length") ?? "0") ?? -1
        guard length >= 0 else { throw Refusal(status: 400, message: "bad Content-Length") }
        guard length <= Self.maxBody else { throw Refusal(status: 413, message: "body too large") }
        let bodyStart = headerEnd! + 4
        while buf.count - bodyStart < length { try fill(deadline: start + 30) }
        req.body = Array(buf[bodyStart..<(bodyStart + length)])
        return req
    }

    func respond(_ status: Int) {
        let texts = [200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 408: "Request Timeout", 411: "Length Required",
                     413: "Request Entity Too Large", 431: "Request Header Fields Too Large", 500: "Internal Server Error", 503: "Service Unavailable"]
        let bytes = Array("HTTP/1.1 \(status) \(texts[status] ?? "")\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8)
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    private func find(_ hay: [UInt8], _ needle: [UInt8]) -> Int? {
        guard hay.count >= needle.count else { return nil }
        for i in 0...(hay.count - needle.count) where hay[i] == needle[0] && Array(hay[i..<(i + needle.count)]) == needle { return i }
        return nil
    }
}

func monotonicNow() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

final class Mutex: @unchecked Sendable {
    private var m = pthread_mutex_t()
    init() { pthread_mutex_init(&m, nil) }
    deinit { pthread_mutex_destroy(&m) }
    func locked<T>(_ f: () throws -> T) rethrows -> T {
        pthread_mutex_lock(&m)
        defer { pthread_mutex_unlock(&m) }
        return try f()
    }
    fileprivate func lock() { pthread_mutex_lock(&m) }
    fileprivate func unlock() { pthread_mutex_unlock(&m) }
    fileprivate func wait(_ c: inout pthread_cond_t) { pthread_cond_wait(&c, &m) }
}

/// A joinable thread running a closure (with SIGPIPE blocked, as the Git thread).
final class Thread: @unchecked Sendable {
    private var handle = pthread_t()
    private final class Box { let f: () -> Void; init(_ f: @escaping () -> Void) { self.f = f } }

    static func start(_ f: @escaping () -> Void) -> Thread {
        let t = Thread()
        let ctx = Unmanaged.passRetained(Box(f)).toOpaque()
        if pthread_create(&t.handle, nil, { raw in
            var pipe = sigset_t()
            sigemptyset(&pipe)
            sigaddset(&pipe, SIGPIPE)
            pthread_sigmask(SIG_BLOCK, &pipe, nil)
            Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().f()
            return nil
        }, ctx) != 0 {
            Unmanaged<Box>.fromOpaque(ctx).takeRetainedValue().f()
        }
        return t
    }

    func join() { pthread_join(handle, nil) }
}

/// A bounded queue: push fails when full or closed; pop waits, nil once closed and empty.
final class BlockingQueue<T>: @unchecked Sendable {
    private let mutex = Mutex()
    private var cond = pthread_cond_t()
    private var items: [T] = []
    private var closed = false
    let limit: Int

    init(limit: Int) {
        self.limit = limit
        pthread_cond_init(&cond, nil)
    }

    func push(_ x: T) -> Bool {
        mutex.lock()
        defer { mutex.unlock() }
        guard !closed, items.count < limit else { return false }
        items.append(x)
        pthread_cond_signal(&cond)
        return true
    }

    func pop() -> T? {
        mutex.lock()
        defer { mutex.unlock() }
        while items.isEmpty && !closed { mutex.wait(&cond) }
        return items.isEmpty ? nil : items.removeFirst()
    }

    func close() {
        mutex.lock()
        closed = true
        pthread_cond_broadcast(&cond)
        mutex.unlock()
    }
}

/// Reconciles waiting to run: one entry per object (a request for an object already waiting adds nothing, one for
/// an object being reconciled runs it once more after). Closing drops what has not started.
final class ReconcileQueue: @unchecked Sendable {
    private let mutex = Mutex()
    private var cond = pthread_cond_t()
    private var waiting: [ReconcileJob] = []
    private var running: Set<String> = []
    private var again: [String: ReconcileJob] = [:]
    private var closed = false
    private(set) var dropped = 0

    init() { pthread_cond_init(&cond, nil) }

    func push(_ j: ReconcileJob) {
        mutex.lock()
        defer { mutex.unlock() }
        guard !closed else { dropped += 1; return }
        if running.contains(j.key) { again[j.key] = j; return }
        if waiting.contains(where: { $0.key == j.key }) { return }
        waiting.append(j)
        pthread_cond_signal(&cond)
    }

    func pop() -> ReconcileJob? {
        mutex.lock()
        defer { mutex.unlock() }
        while true {
            if closed { dropped += waiting.count + again.count; waiting = []; again = [:]; return nil }
            if let i = waiting.firstIndex(where: { !running.contains($0.key) }) {
                let j = waiting.remove(at: i)
                running.insert(j.key)
                return j
            }
            mutex.wait(&cond)
        }
    }

    func done(_ j: ReconcileJob) {
        mutex.lock()
        defer { mutex.unlock() }
        running.remove(j.key)
        if let next = again.removeValue(forKey: j.key) { waiting.append(next) }
        pthread_cond_broadcast(&cond)
    }

    func close() {
        mutex.lock()
        closed = true
        pthread_cond_broadcast(&cond)
        mutex.unlock()
    }
}
