import FluxsYAML
#if canImport(Glibc)
import Glibc
#endif

/// A resource type as discovery describes it.
public struct ResourceRef: Sendable, Hashable {
    public var group: String
    public var version: String
    public var resource: String
    public var kind: String
    public var namespaced: Bool

    public init(group: String, version: String, resource: String, kind: String, namespaced: Bool) {
        self.group = group
        self.version = version
        self.resource = resource
        self.kind = kind
        self.namespaced = namespaced
    }

    // The built-in types fluxs reads or writes by name.
    public static let secrets = ResourceRef(group: "", version: "v1", resource: "secrets", kind: "Secret", namespaced: true)
    public static let configMaps = ResourceRef(group: "", version: "v1", resource: "configmaps", kind: "ConfigMap", namespaced: true)
    public static let namespaces = ResourceRef(group: "", version: "v1", resource: "namespaces", kind: "Namespace", namespaced: false)
    public static let deployments = ResourceRef(group: "apps", version: "v1", resource: "deployments", kind: "Deployment", namespaced: true)
    public static let crds = ResourceRef(group: "apiextensions.k8s.io", version: "v1", resource: "customresourcedefinitions",
                                         kind: "CustomResourceDefinition", namespaced: false)

    public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }
    /// "plural.group" as Kubernetes names a group resource in messages.
    public var groupResource: String { group.isEmpty ? resource : "\(resource).\(group)" }
}

public enum PatchType: String, Sendable {
    case merge = "application/merge-patch+json"
    case json = "application/json-patch+json"
    case strategic = "application/strategic-merge-patch+json"
    case apply = "application/apply-patch+yaml"
}

public enum Propagation: String, Sendable {
    case background = "Background", foreground = "Foreground", orphan = "Orphan"
}

public struct WatchEvent: Sendable {
    public var type: String
    public var object: Node
}

public struct ListResult: Sendable {
    public var items: [Node]
    public var resourceVersion: String
}

/// A client for one API server: authentication (tokens, client certificates,
/// exec plugins), discovery cached for the invocation, every REST verb,
/// retries with backoff on 429/5xx and dropped connections, all bounded by a deadline.
public final class KubeClient {
    public let config: RESTConfig
    public let userAgent: String
    let http: HTTPClient
    let exec: ExecPluginRunner
    /// Monotonic time after which calls fail.
    public private(set) var deadline: Double
    /// --timeout, in seconds.
    public let timeout: Double
    let log: ((String) -> Void)?
    var credential: ExecCredential?
    var discovery: [String: [ResourceRef]] = [:]
    var missingGroupVersions: Set<String> = []
    /// --kube-api-qps/--kube-api-burst (flux's defaults: 50 and 300); nil: no client-side limit.
    public var limiter: RateLimiter? = RateLimiter(qps: 50, burst: 300)
    /// Requests callAll keeps in flight at once.
    public var parallelism = 16
    lazy var multi: HTTPMulti? = {
        let m = try? HTTPMulti(maxConnections: 8, maxInFlight: parallelism)
        m?.share = share
        return m
    }()
    /// TLS sessions shared by this client's connections (the one for single calls and callAll's) and its siblings'.
    let share: HTTPShare?

    public convenience init(config: RESTConfig, timeout: Double, userAgent: String = "fluxs", exec: ExecPluginRunner,
                            log: ((String) -> Void)? = nil) throws {
        try self.init(config: config, timeout: timeout, userAgent: userAgent, exec: exec, log: log, share: HTTPShare())
    }

    init(config: RESTConfig, timeout: Double, userAgent: String, exec: ExecPluginRunner, log: ((String) -> Void)?, share: HTTPShare?) throws {
        self.share = share
        self.config = config
        self.timeout = timeout
        self.deadline = monotonicSeconds() + timeout
        self.userAgent = userAgent
        self.exec = exec
        self.log = log
        self.http = try HTTPClient()
        http.share = share
    }

    public var remaining: Double { deadline - monotonicSeconds() }

    /// A client of its own (connection, credentials) for the same server and user, with the same deadline plus
    /// `grace`: for a thread that works next to this client's (KubeClient is not shared between threads).
    /// Where this client's `--verbose` request lines go (nil: not printed).
    public var requestLog: ((String) -> Void)? { log }

    /// Its `--verbose` request lines go to `log` when given; its rate limit is this one's (its own bucket).
    public func sibling(grace: Double = 0, log other: ((String) -> Void)? = nil) throws -> KubeClient {
        // the same server and TLS settings: its first connection resumes this one's TLS session
        let c = try KubeClient(config: config, timeout: timeout, userAgent: userAgent, exec: exec, log: log == nil ? nil : other ?? log, share: share)
        c.deadline = deadline + grace
        c.limiter = limiter.flatMap { RateLimiter(qps: $0.qps, burst: Int($0.burst)) }
        return c
    }

    /// A client for the same server and credentials that acts as another user (Impersonate-User, the groups left to
    /// the server), sharing this one's deadline: kustomize-controller's client for `spec.serviceAccountName`.
    public func impersonating(user: String) throws -> KubeClient {
        var cfg = config
        cfg.impersonateUser = user
        cfg.impersonateUID = nil
        cfg.impersonateGroups = []
        let c = try derived(cfg)
        c.credential = credential
        c.discovery = discovery
        return c
    }

    /// A client for another configuration (a remote cluster) with this one's deadline.
    public func derived(_ cfg: RESTConfig) throws -> KubeClient {
        let c = try KubeClient(config: cfg, timeout: timeout, userAgent: userAgent, exec: exec, log: log)
        c.deadline = deadline
        return c
    }

    /// Lets calls run `seconds` past the deadline when it has passed (or is closer): for recording in a status why a
    /// step failed, also when the failure was the deadline itself. Never shortens the deadline.
    public func allowGrace(_ seconds: Double) {
        deadline = max(deadline, monotonicSeconds() + seconds)
    }

    // MARK: low level

    func authHeaders(refresh: Bool = false) throws -> ([(String, String)], TLSSettings) {
        var headers: [(String, String)] = []
        var tls = config.tls
        switch config.auth {
        case .none: break
        case .token(let t): headers.append(("Authorization", "Bearer " + t))
        case .tokenFile(let f):
            let t: String
            do { t = try Files.readText(f).trimmingWhitespace() } catch {
                throw KubeError(kind: .config, message: "cannot read the token file \(f): \(error)")
            }
            headers.append(("Authorization", "Bearer " + t))
        case .basic(let u, let p):
            headers.append(("Authorization", "Basic " + Base64.encode(u + ":" + p)))
        case .exec(let x):
            if refresh {
                credential = nil
                exec.forget(x, server: config.server)
            }
            if credential == nil || !(credential!.isValid(at: Clock.now())) {
                do { credential = try exec.run(x, cluster: config, user: config.userName ?? "", timeout: max(0.001, remaining)) } catch {
                    throw KubeError(kind: .config, message: "\(error)")
                }
            }
            if let t = credential?.token { headers.append(("Authorization", "Bearer " + t)) }
            if let c = credential?.clientCertificateData, let k = credential?.clientKeyData {
                tls.clientCertData = Array(c.utf8)
                tls.clientKeyData = Array(k.utf8)
            }
        }
        if let u = config.impersonateUser { headers.append(("Impersonate-User", u)) }
        if let u = config.impersonateUID { headers.append(("Impersonate-Uid", u)) }
        for g in config.impersonateGroups { headers.append(("Impersonate-Group", g)) }
        return (headers, tls)
    }

    /// One API call with authentication, retries and error decoding. Returns 2xx responses only.
    public func call(_ method: String, _ path: String, query: [(String, String)] = [], body: [UInt8]? = nil,
                     contentType: String? = nil, accept: String = "application/json") throws -> HTTPResponse {
        let url = config.server + path + encodeQuery(query)
        var attempt = 0
        var refreshed = false
        var backoff = 0.2
        while true {
            attempt += 1
            let left = remaining
            if left <= 0 {
                throw KubeError(kind: .timeout, message: "timed out after \(formatSeconds(timeout)) talking to the Kubernetes API at \(config.server) (--timeout)")
            }
            var (headers, tls) = try authHeaders()
            headers.append(("Accept", accept))
            headers.append(("User-Agent", userAgent))
            if let ct = contentType { headers.append(("Content-Type", ct)) }
            if let l = limiter, !l.wait(limit: left) {
                throw KubeError(kind: .timeout, message: "timed out after \(formatSeconds(timeout)) talking to the Kubernetes API at \(config.server) (--timeout; client-side rate limit --kube-api-qps)")
            }
            let req = HTTPRequest(method: method, url: url, headers: headers, body: body, timeout: max(0.001, remaining))
            let start = monotonicSeconds()
            let resp: HTTPResponse
            do {
                resp = try http.perform(req, tls: tls)
            } catch let t as TransportError {
                log?("\(method) \(url) failed after \(ms(start)): \(t.detail)")
                if t.kind == .timeout || remaining <= 0 {
                    throw KubeError(kind: .timeout, message: "timed out after \(formatSeconds(timeout)) talking to the Kubernetes API at \(config.server) (--timeout)")
                }
                let safe = t.kind == .refused || method != "POST"
                // a refused connection is retried briefly (a restarting server); a dropped one longer
                let limit = t.kind == .refused ? 3 : 8
                if t.isRetryable && safe && attempt < limit && remaining > backoff {
                    sleepSeconds(backoff)
                    backoff = min(backoff * 2, 5)
                    continue
                }
                throw unreachable(t)
            }
            log?("\(method) \(url) \(resp.status) in \(ms(start))")
            if (200..<300).contains(resp.status) { return resp }
            if HTTPRedirect.statuses.contains(resp.status) { throw redirected(resp, url: url) }
            var err = KubeError.from(response: resp, method: method, url: url)
            if resp.status == 401, case .exec = config.auth, !refreshed {
                refreshed = true
                _ = try authHeaders(refresh: true)
                continue
            }
            let retryable: Bool
            switch resp.status {
            case 429, 503: retryable = true
            case 502, 504: retryable = method != "POST"
            case 500: retryable = method != "POST" && err.reason == "InternalError"
            default: retryable = false
            }
            if retryable && attempt < 10 {
                // Retry-After is a floor, never a reason to retry at once (`Retry-After: 0` would spend every attempt
                // in a burst): the wait is the larger of it and the exponential backoff.
                let wait = max(err.retryAfter ?? 0, backoff)
                if wait < remaining {
                    log?("retrying in \(formatSeconds(wait)) (\(resp.status) \(err.reason))")
                    sleepSeconds(wait)
                    backoff = min(backoff * 2, 5)
                    continue
                }
            }
            if attempt > 1 && retryable { err.message += " (gave up after \(attempt) attempts)" }
            if err.kind == .unauthorized {
                err.message = "the Kubernetes API at \(config.server) rejected the credentials\(config.userName.map { " of user \"\($0)\"" } ?? "") (401 Unauthorized): check the token, client certificate or exec plugin in \(config.source)"
            }
            throw err
        }
    }

    /// One request of a batch (callAll).
    public struct Request {
        public var method: String
        public var path: String
        public var query: [(String, String)]
        public var body: [UInt8]?
        public var contentType: String?
        public init(_ method: String, _ path: String, query: [(String, String)] = [], body: [UInt8]? = nil, contentType: String? = nil) {
            self.method = method; self.path = path; self.query = query; self.body = body; self.contentType = contentType
        }
    }

    /// Independent calls sent concurrently (HTTPMulti: HTTP/2 streams, else a few connections), each under the rate
    /// limit, with call()'s retries, authentication and error decoding. Results are in the order of the requests.
    public func callAll(_ requests: [Request], accept: String = "application/json") -> [Result<HTTPResponse, Error>] {
        callAll(requests, accept: accept) { $0 }
    }

    /// callAll, with `map` applied to each 2xx answer as it arrives, while the others are still in flight (decoding
    /// answers then costs no time of its own); an error `map` throws is that request's result. Results, and the
    /// `--verbose` request lines, are in the order of the requests, whatever order the answers arrive in.
    public func callAll<T>(_ requests: [Request], accept: String = "application/json", map: (HTTPResponse) throws -> T) -> [Result<T, Error>] {
        guard requests.count > 1, let multi else {
            return requests.map { r in Result { try map(try call(r.method, r.path, query: r.query, body: r.body, contentType: r.contentType, accept: accept)) } }
        }
        var results = [Result<T, Error>?](repeating: nil, count: requests.count)
        var pending = Array(requests.indices)
        var attempts = [Int](repeating: 0, count: requests.count)
        var refreshed = false
        var backoff = 0.2
        let timedOut = KubeError(kind: .timeout, message: "timed out after \(formatSeconds(timeout)) talking to the Kubernetes API at \(config.server) (--timeout)")
        while !pending.isEmpty {
            if remaining <= 0 {
                for i in pending { results[i] = .failure(timedOut) }
                break
            }
            let auth: ([(String, String)], TLSSettings)
            do { auth = try authHeaders() } catch {
                for i in pending { results[i] = .failure(error) }
                break
            }
            var reqs: [HTTPRequest] = []
            for i in pending {
                let r = requests[i]
                var headers = auth.0
                headers.append(("Accept", accept))
                headers.append(("User-Agent", userAgent))
                if let ct = r.contentType { headers.append(("Content-Type", ct)) }
                reqs.append(HTTPRequest(method: r.method, url: config.server + r.path + encodeQuery(r.query), headers: headers, body: r.body,
                                        timeout: max(0.001, remaining)))
                attempts[i] += 1
            }
            let start = monotonicSeconds()
            var retry: [Int] = []
            var wait = 0.0
            var refresh = false
            // The request lines of this round, printed in request order once it ends.
            var lines = [String?](repeating: nil, count: log == nil ? 0 : reqs.count)
            multi.performAll(reqs, tls: auth.1, gate: { [limiter] in limiter?.tryTake() ?? 0 }) { k, answer in
                let i = pending[k]
                let method = reqs[k].method, url = reqs[k].url
                switch answer {
                case .failure(let t as TransportError):
                    if log != nil { lines[k] = "\(method) \(url) failed after \(ms(start)): \(t.detail)" }
                    if t.kind == .timeout || remaining <= 0 { results[i] = .failure(timedOut); return }
                    let safe = t.kind == .refused || method != "POST"
                    if t.isRetryable && safe && attempts[i] < (t.kind == .refused ? 3 : 8) && remaining > backoff {
                        retry.append(i); wait = max(wait, backoff)
                    } else {
                        results[i] = .failure(unreachable(t))
                    }
                case .failure(let e):
                    results[i] = .failure(e)
                case .success(let resp):
                    if log != nil { lines[k] = "\(method) \(url) \(resp.status)" }
                    if (200..<300).contains(resp.status) { results[i] = Result { try map(resp) }; return }
                    if HTTPRedirect.statuses.contains(resp.status) { results[i] = .failure(redirected(resp, url: url)); return }
                    var err = KubeError.from(response: resp, method: method, url: url)
                    if resp.status == 401, case .exec = config.auth, !refreshed {
                        refresh = true; retry.append(i); return
                    }
                    let retryable: Bool
                    switch resp.status {
                    case 429, 503: retryable = true
                    case 502, 504: retryable = method != "POST"
                    case 500: retryable = method != "POST" && err.reason == "InternalError"
                    default: retryable = false
                    }
                    if retryable && attempts[i] < 10 {
                        let w = max(err.retryAfter ?? 0, backoff)
                        if w < remaining { retry.append(i); wait = max(wait, w); return }
                    }
                    if attempts[i] > 1 && retryable { err.message += " (gave up after \(attempts[i]) attempts)" }
                    if err.kind == .unauthorized {
                        err.message = "the Kubernetes API at \(config.server) rejected the credentials\(config.userName.map { " of user \"\($0)\"" } ?? "") (401 Unauthorized): check the token, client certificate or exec plugin in \(config.source)"
                    }
                    results[i] = .failure(err)
                }
            }
            if let log { for case let line? in lines { log(line) } }
            // Retried in the order of the requests.
            retry.sort()
            if refresh {
                refreshed = true
                do { _ = try authHeaders(refresh: true) } catch {
                    for i in retry { results[i] = .failure(error) }
                    break
                }
            }
            if wait > 0 && !retry.isEmpty {
                log?("retrying \(retry.count) requests in \(formatSeconds(wait))")
                sleepSeconds(wait)
                backoff = min(backoff * 2, 5)
            }
            pending = retry
        }
        return results.map { $0 ?? .failure(timedOut) }
    }

    /// API servers answer, they do not redirect. client-go follows up to ten redirects and its round trippers add the
    /// token and client certificate to each, wherever it leads; fluxs follows none, so credentials stay with the server.
    func redirected(_ resp: HTTPResponse, url: String) -> KubeError {
        let to = resp.headers["location"].map { HTTPOrigin(HTTPRedirect.resolve($0, against: url))?.description ?? "another URL" } ?? "nowhere"
        return KubeError(kind: .unreachable, code: resp.status,
                         message: "the Kubernetes API at \(config.server) answered HTTP \(resp.status), a redirect to \(to): fluxs does not follow redirects from the API server, so credentials are not sent elsewhere; check the server address in \(config.source)")
    }

    func unreachable(_ t: TransportError) -> KubeError {
        if t.kind == .tooLarge { return KubeError(kind: .decode, message: "the Kubernetes API at \(config.server): \(t.detail)") }
        let what: String
        switch t.kind {
        case .refused: what = "connection refused"
        case .unresolved: what = "cannot resolve the host name"
        case .tls: what = "TLS handshake failed (\(t.detail))"
        case .reset: what = "the connection was dropped (\(t.detail))"
        default: what = t.detail
        }
        return KubeError(kind: .unreachable, message: "cannot reach the Kubernetes API at \(config.server): \(what); check --kubeconfig, --context or that the cluster is running")
    }

    func ms(_ start: Double) -> String { "\(Int((monotonicSeconds() - start) * 1000))ms" }

    // MARK: paths

    public func path(_ r: ResourceRef, namespace: String?, name: String? = nil, subresource: String? = nil) -> String {
        var p = r.group.isEmpty ? "/api/\(r.version)" : "/apis/\(r.group)/\(r.version)"
        if r.namespaced, let ns = namespace, !ns.isEmpty { p += "/namespaces/" + pathEscape(ns) }
        p += "/" + r.resource
        if let n = name { p += "/" + pathEscape(n) }
        if let s = subresource, !s.isEmpty { p += "/" + s }
        return p
    }

    /// The data of a Secret (base64-decoded) or a ConfigMap as text; nil when the object does not exist.
    public func stringData(of r: ResourceRef, namespace: String, name: String) throws -> [String: String]? {
        guard let o = try getIfExists(r, namespace: namespace, name: name) else { return nil }
        var out: [String: String] = [:]
        for (k, v) in o["data"]?.map?.entries ?? [] {
            guard let s = v.string else { continue }
            out[k] = r.kind == "Secret" ? (Base64.decode(s).map { String(decoding: $0, as: UTF8.self) } ?? "") : s
        }
        return out
    }

    // MARK: discovery

    /// Forgets what discovery said (after CRDs were created, their kinds exist).
    public func forgetDiscovery() {
        discovery = [:]
        missingGroupVersions = []
    }

    /// Takes what `other` (a sibling for the same server, its work finished) learnt from discovery and this client
    /// has not asked yet: the group/versions are not asked twice.
    public func adoptDiscovery(from other: KubeClient) {
        guard other.config.server == config.server else { return }
        for (k, v) in other.discovery where discovery[k] == nil { discovery[k] = v }
        missingGroupVersions.formUnion(other.missingGroupVersions)
    }

    /// The resources of one group/version; nil when the server does not serve it.
    public func resources(apiVersion: String) throws -> [ResourceRef]? {
        if let c = discovery[apiVersion] { return c }
        if missingGroupVersions.contains(apiVersion) { return nil }
        let parts = apiVersion.split(separator: "/", maxSplits: 1).map(String.init)
        let group = parts.count == 2 ? parts[0] : ""
        let version = parts.count == 2 ? parts[1] : parts[0]
        let p = group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)"
        let resp: HTTPResponse
        do { resp = try call("GET", p) } catch let e as KubeError where e.kind == .notFound {
            missingGroupVersions.insert(apiVersion)
            return nil
        }
        let doc: Node
        do { doc = try JSON.decode(bytes: resp.body) } catch {
            throw KubeError(kind: .decode, message: "invalid discovery document from \(config.server)\(p): \(error)")
        }
        var out: [ResourceRef] = []
        for r in doc["resources"]?.array ?? [] {
            guard let name = r["name"]?.string, !name.contains("/"), let kind = r["kind"]?.string else { continue }
            out.append(ResourceRef(group: group, version: version, resource: name, kind: kind, namespaced: r["namespaced"]?.bool ?? false))
        }
        discovery[apiVersion] = out
        return out
    }

    /// Resolves apiVersion + kind to a resource; a clear error when the server lacks it.
    public func resource(apiVersion: String, kind: String) throws -> ResourceRef {
        guard let list = try resources(apiVersion: apiVersion) else {
            throw KubeError(kind: .notFound, code: 404, reason: "NotFound",
                            message: "the server has no API \(apiVersion) (no resource type \"\(kind)\"): is its CustomResourceDefinition installed?")
        }
        guard let r = list.first(where: { $0.kind == kind }) else {
            throw KubeError(kind: .notFound, code: 404, reason: "NotFound",
                            message: "the server doesn't have a resource type \"\(kind)\" in \(apiVersion)")
        }
        return r
    }

    public func resource(for object: Node) throws -> ResourceRef {
        guard let av = object["apiVersion"]?.string, let k = object["kind"]?.string else {
            throw KubeError(kind: .badRequest, message: "object \(describe(object)) has no apiVersion or kind")
        }
        return try resource(apiVersion: av, kind: k)
    }

    /// API groups the server serves (name and versions).
    public func serverGroups() throws -> [(name: String, versions: [String])] {
        var out: [(String, [String])] = [("", ["v1"])]
        let doc = try JSON.decode(bytes: try call("GET", "/apis").body)
        for g in doc["groups"]?.array ?? [] {
            out.append((g["name"]?.string ?? "", (g["versions"]?.array ?? []).compactMap { $0["version"]?.string }))
        }
        return out
    }

    public func serverVersion() throws -> Node {
        try JSON.decode(bytes: try call("GET", "/version").body)
    }

    // MARK: verbs

    func decode(_ resp: HTTPResponse) throws -> Node {
        do { return try JSON.decode(bytes: resp.body) } catch {
            throw KubeError(kind: .decode, message: "invalid JSON from the Kubernetes API at \(config.server): \(error)")
        }
    }

    public func get(_ r: ResourceRef, namespace: String?, name: String, subresource: String? = nil) throws -> Node {
        try decode(try call("GET", path(r, namespace: namespace, name: name, subresource: subresource)))
    }

    /// Like get, nil when the object does not exist.
    public func getIfExists(_ r: ResourceRef, namespace: String?, name: String) throws -> Node? {
        do { return try get(r, namespace: namespace, name: name) } catch let e as KubeError where e.kind == .notFound && e.name != nil {
            return nil
        }
    }

    /// GETs sent together (callAll): each object, nil when it does not exist; in the order asked.
    public func getAll(_ items: [(ref: ResourceRef, namespace: String?, name: String)]) -> [Result<Node?, Error>] {
        let answers = callAll(items.map { Request("GET", path($0.ref, namespace: $0.namespace, name: $0.name)) }) { try decode($0) }
        return answers.map { a in
            switch a {
            case .success(let n): return .success(n)
            case .failure(let e as KubeError) where e.kind == .notFound && e.name != nil: return .success(nil)
            case .failure(let e): return .failure(e)
            }
        }
    }

    /// Lists objects (namespace nil: all namespaces), following continue tokens.
    public func list(_ r: ResourceRef, namespace: String?, labelSelector: String? = nil, fieldSelector: String? = nil,
                     limit: Int = 500) throws -> ListResult {
        var items: [Node] = []
        var cont: String? = nil
        var rv = ""
        repeat {
            var q: [(String, String)] = []
            if let l = labelSelector, !l.isEmpty { q.append(("labelSelector", l)) }
            if let f = fieldSelector, !f.isEmpty { q.append(("fieldSelector", f)) }
            if limit > 0 { q.append(("limit", String(limit))) }
            if let c = cont { q.append(("continue", c)) }
            let doc = try decode(try call("GET", path(r, namespace: namespace), query: q))
            let listKind = doc["kind"]?.string ?? (r.kind + "List")
            let itemKind = listKind.hasSuffix("List") ? String(listKind.dropLast(4)) : r.kind
            let av = doc["apiVersion"]?.string ?? r.apiVersion
            for var it in doc["items"]?.array ?? [] {
                if it["apiVersion"] == nil { it["apiVersion"] = .string(av) }
                if it["kind"] == nil { it["kind"] = .string(itemKind) }
                items.append(it)
            }
            rv = doc["metadata"]?["resourceVersion"]?.string ?? rv
            cont = doc["metadata"]?["continue"]?.string
            if cont?.isEmpty == true { cont = nil }
        } while cont != nil
        return ListResult(items: items, resourceVersion: rv)
    }

    func writeQuery(dryRun: Bool, fieldManager: String?, force: Bool? = nil, fieldValidation: String? = nil) -> [(String, String)] {
        var q: [(String, String)] = []
        if dryRun { q.append(("dryRun", "All")) }
        if let f = fieldManager { q.append(("fieldManager", f)) }
        if let f = force { q.append(("force", f ? "true" : "false")) }
        if let v = fieldValidation { q.append(("fieldValidation", v)) }
        return q
    }

    public func create(_ r: ResourceRef, namespace: String?, object: Node, fieldManager: String? = nil, dryRun: Bool = false) throws -> Node {
        let body = try JSON.encodeBytes(object)
        return try decode(try call("POST", path(r, namespace: namespace), query: writeQuery(dryRun: dryRun, fieldManager: fieldManager),
                                   body: body, contentType: "application/json"))
    }

    public func update(_ r: ResourceRef, namespace: String?, object: Node, subresource: String? = nil, fieldManager: String? = nil,
                       dryRun: Bool = false) throws -> Node {
        guard let name = object["metadata"]?["name"]?.string else {
            throw KubeError(kind: .badRequest, message: "cannot update an object without metadata.name")
        }
        let body = try JSON.encodeBytes(object)
        return try decode(try call("PUT", path(r, namespace: namespace, name: name, subresource: subresource),
                                   query: writeQuery(dryRun: dryRun, fieldManager: fieldManager), body: body, contentType: "application/json"))
    }

    /// `metadataOnly`: the answer is asked for as a PartialObjectMetadata (kind, apiVersion and the whole metadata,
    /// as kube-apiserver's transformResponseObject answers a write; a server that cannot answers the object).
    public func patch(_ r: ResourceRef, namespace: String?, name: String, type: PatchType, patch: Node, subresource: String? = nil,
                      fieldManager: String? = nil, force: Bool? = nil, dryRun: Bool = false, metadataOnly: Bool = false) throws -> Node {
        let body = try JSON.encodeBytes(patch)
        return try decode(try call("PATCH", path(r, namespace: namespace, name: name, subresource: subresource),
                                   query: writeQuery(dryRun: dryRun, fieldManager: fieldManager, force: force),
                                   body: body, contentType: type.rawValue, accept: metadataOnly ? Self.partialAccept : "application/json"))
    }

    /// client-go's metadata client's Accept for one object, with the object itself as the fallback.
    public static let partialAccept = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"

    /// True when `answer` is a PartialObjectMetadata (not the object itself).
    public static func isPartial(_ answer: Node) -> Bool {
        answer["kind"]?.string == "PartialObjectMetadata" && answer["apiVersion"]?.string?.hasPrefix("meta.k8s.io/") == true
    }

    /// Server-side apply of a whole object (it must carry apiVersion, kind and metadata.name).
    public func apply(_ object: Node, fieldManager: String, force: Bool = true, dryRun: Bool = false, subresource: String? = nil) throws -> Node {
        let r = try resource(for: object)
        guard let name = object["metadata"]?["name"]?.string else {
            throw KubeError(kind: .badRequest, message: "cannot apply \(r.kind) without metadata.name")
        }
        let ns = r.namespaced ? object["metadata"]?["namespace"]?.string : nil
        if r.namespaced && (ns ?? "").isEmpty {
            throw KubeError(kind: .badRequest, message: "cannot apply \(r.kind)/\(name): metadata.namespace is required for a namespaced kind")
        }
        return try patch(r, namespace: ns, name: name, type: .apply, patch: object, subresource: subresource,
                         fieldManager: fieldManager, force: force, dryRun: dryRun)
    }

    /// Server-side apply of several objects at once (callAll); results in order, each an object or its error.
    /// `bodies[i]`, when there and not nil, is `objects[i]` as `applyBody` encodes it (a dry run's body, sent again
    /// by the apply that follows it, is encoded once).
    public func applyAll(_ objects: [Node], fieldManager: String, force: Bool = true, dryRun: Bool = false,
                         bodies: [[UInt8]?] = []) -> [Result<Node, Error>] {
        var requests: [Request] = []
        var early: [Int: Error] = [:]
        for (i, object) in objects.enumerated() {
            do {
                let r = try resource(for: object)
                guard let name = object["metadata"]?["name"]?.string else {
                    throw KubeError(kind: .badRequest, message: "cannot apply \(r.kind) without metadata.name")
                }
                let ns = r.namespaced ? object["metadata"]?["namespace"]?.string : nil
                if r.namespaced && (ns ?? "").isEmpty {
                    throw KubeError(kind: .badRequest, message: "cannot apply \(r.kind)/\(name): metadata.namespace is required for a namespaced kind")
                }
                requests.append(Request("PATCH", path(r, namespace: ns, name: name), query: writeQuery(dryRun: dryRun, fieldManager: fieldManager, force: force),
                                        body: try (i < bodies.count ? bodies[i] : nil) ?? Self.applyBody(object), contentType: PatchType.apply.rawValue))
            } catch {
                early[i] = error
                requests.append(Request("GET", "/"))   // placeholder, never sent
            }
        }
        let sendable = requests.indices.filter { early[$0] == nil }
        // Each answer is decoded as it arrives (its body is not kept next to the decoded object).
        let answers = callAll(sendable.map { requests[$0] }) { try decode($0) }
        requests = []
        var out = [Result<Node, Error>](repeating: .failure(KubeError(kind: .badRequest, message: "not sent")), count: objects.count)
        for (i, e) in early { out[i] = .failure(e) }
        for (k, i) in sendable.enumerated() { out[i] = answers[k] }
        return out
    }

    /// The body of a server-side apply of `object`.
    public static func applyBody(_ object: Node) throws -> [UInt8] { try JSON.encodeBytes(object) }

    /// Deletes several objects at once (callAll); results in order: nil when done, else the error.
    public func deleteAll(_ targets: [(ResourceRef, String?, String)], propagation: Propagation = .background, dryRun: Bool = false) -> [Error?] {
        var opts: [(String, Node)] = [("kind", "DeleteOptions"), ("apiVersion", "v1"), ("propagationPolicy", .string(propagation.rawValue))]
        if dryRun { opts.append(("dryRun", ["All"])) }
        let body = try? JSON.encodeBytes(.map(opts))
        let query: [(String, String)] = dryRun ? [("dryRun", "All")] : []
        let answers = callAll(targets.map { Request("DELETE", path($0.0, namespace: $0.1, name: $0.2), query: query, body: body, contentType: "application/json") })
        return answers.map { if case .failure(let e) = $0 { return e } else { return nil } }
    }

    public func delete(_ r: ResourceRef, namespace: String?, name: String, propagation: Propagation = .background,
                       dryRun: Bool = false) throws -> Node? {
        var opts: [(String, Node)] = [("kind", "DeleteOptions"), ("apiVersion", "v1"), ("propagationPolicy", .string(propagation.rawValue))]
        if dryRun { opts.append(("dryRun", ["All"])) }
        let resp = try call("DELETE", path(r, namespace: namespace, name: name), query: dryRun ? [("dryRun", "All")] : [],
                            body: try JSON.encodeBytes(.map(opts)), contentType: "application/json")
        return try? JSON.decode(bytes: resp.body)
    }

    /// Streams watch events until the handler returns false, the server ends the watch, or the deadline passes.
    public func watch(_ r: ResourceRef, namespace: String?, labelSelector: String? = nil, fieldSelector: String? = nil,
                      resourceVersion: String? = nil, handler: (WatchEvent) throws -> Bool) throws {
        var q: [(String, String)] = [("watch", "1"), ("allowWatchBookmarks", "true")]
        if let l = labelSelector, !l.isEmpty { q.append(("labelSelector", l)) }
        if let f = fieldSelector, !f.isEmpty { q.append(("fieldSelector", f)) }
        if let rv = resourceVersion { q.append(("resourceVersion", rv)) }
        q.append(("timeoutSeconds", String(max(1, Int(remaining)))))
        let url = config.server + path(r, namespace: namespace) + encodeQuery(q)
        var (headers, tls) = try authHeaders()
        headers.append(("Accept", "application/json"))
        headers.append(("User-Agent", userAgent))
        var pending: [UInt8] = []
        var failure: Error? = nil
        let stream = try HTTPClient()
        let resp: HTTPResponse
        do {
            resp = try withoutActuallyEscaping(handler) { handler in try stream.perform(HTTPRequest(method: "GET", url: url, headers: headers, timeout: max(0.001, remaining)), tls: tls) { chunk in
                pending.append(contentsOf: chunk)
                if pending.count > HTTPLimits.body {
                    failure = KubeError(kind: .decode, message: "a watch event from the Kubernetes API at \(self.config.server) exceeds \(HTTPLimits.describe(HTTPLimits.body)); fluxs stops reading there")
                    return false
                }
                while let nl = pending.firstIndex(of: 10) {
                    let line = Array(pending[..<nl])
                    pending.removeSubrange(...nl)
                    if line.isEmpty { continue }
                    do {
                        let doc = try JSON.decode(bytes: line)
                        let ev = WatchEvent(type: doc["type"]?.string ?? "", object: doc["object"] ?? .null)
                        if ev.type == "ERROR" {
                            failure = KubeError(kind: .expired, code: ev.object["code"]?.int ?? 0, reason: ev.object["reason"]?.string ?? "",
                                                message: ev.object["message"]?.string ?? "watch failed")
                            return false
                        }
                        if ev.type == "BOOKMARK" { continue }
                        if try !handler(ev) { return false }
                    } catch {
                        failure = error
                        return false
                    }
                }
                return true
            } }
        } catch let t as TransportError {
            if t.kind == .timeout { return }
            throw unreachable(t)
        }
        if let f = failure { throw f }
        if HTTPRedirect.statuses.contains(resp.status) { throw redirected(resp, url: url) }
        if !(200..<300).contains(resp.status) { throw KubeError.from(response: resp, method: "GET", url: url) }
    }
}

func encodeQuery(_ q: [(String, String)]) -> String {
    guard !q.isEmpty else { return "" }
    return "?" + q.map { "\(queryEscape($0.0))=\(queryEscape($0.1))" }.joined(separator: "&")
}

func queryEscape(_ s: String) -> String {
    // Field managers, dry-run and force values: nearly always unreserved characters only, which stay as they are.
    if s.utf8.allSatisfy(isUnreserved) { return s }
    var out = ""
    for b in s.utf8 {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
            out.unicodeScalars.append(UnicodeScalar(b))
        default:
            out += "%" + String(b, radix: 16, uppercase: true).leftPad(2)
        }
    }
    return out
}

/// RFC 3986's unreserved characters: letters, digits, `-`, `_`, `.`, `~`.
func isUnreserved(_ b: UInt8) -> Bool {
    (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39) || b == 0x2D || b == 0x5F || b == 0x2E || b == 0x7E
}

func pathEscape(_ s: String) -> String {
    // Names are nearly always unreserved characters (and ':'), which stay as they are.
    if s.utf8.allSatisfy({ b in
        (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x3A) || b == 0x2D || b == 0x5F || b == 0x2E || b == 0x7E
    }) { return s }
    return queryEscape(s).replacingAll("%3A", with: ":")
}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}

public func sleepSeconds(_ s: Double) {
    guard s > 0 else { return }
    var ts = timespec(tv_sec: Int(s), tv_nsec: Int((s - Double(Int(s))) * 1e9))
    var rem = timespec()
    while nanosleep(&ts, &rem) != 0 && errno == EINTR { ts = rem }
}

/// Go's time.Duration formatting for whole and fractional seconds (5m0s, 1m30s, 2s, 500ms).
public func formatSeconds(_ s: Double) -> String { GoDuration.format(s) }

public func describe(_ object: Node) -> String {
    let kind = object["kind"]?.string ?? "object"
    let name = object["metadata"]?["name"]?.string ?? "<unnamed>"
    if let ns = object["metadata"]?["namespace"]?.string, !ns.isEmpty { return "\(kind)/\(ns)/\(name)" }
    return "\(kind)/\(name)"
}
