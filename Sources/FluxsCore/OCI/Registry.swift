import FluxsKube
import FluxsYAML

/// A registry failure, in one line that names the registry and what to do.
public struct RegistryError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable { case authentication, notFound, unreachable, invalid, other }
    public var description: String
    public var kind: Kind
    public init(_ d: String, kind: Kind = .other) { description = d; self.kind = kind }
}

/// Credentials for one registry, as go-containerregistry's authn.AuthConfig holds them.
public enum RegistryCredentials: Sendable, Equatable {
    case basic(username: String, password: String)
    /// A registry token (flux's `--creds TOKEN` without a colon): sent as the Bearer token itself.
    case token(String)

    /// `--creds`: `<username>:<password>`, or a single token (fluxcd/pkg/oci GetAuthFromCredentials).
    public static func parse(_ creds: String) throws -> RegistryCredentials {
        if creds.isEmpty { throw RegistryError("credentials cannot be empty") }
        guard let colon = creds.firstIndex(of: ":") else { return .token(creds) }
        return .basic(username: String(creds[..<colon]), password: String(creds[creds.index(after: colon)...]))
    }

    /// The entry for `registry` in a docker config JSON (`auths.<host>` with `username`/`password`, `auth`, or
    /// `registrytoken`/`identitytoken`), keys compared as docker compares them (scheme and path dropped; Docker Hub's
    /// `https://index.docker.io/v1/`). Nil when the file has none for it.
    public static func fromDockerConfig(_ text: String, registry: String) throws -> RegistryCredentials? {
        let doc: Node
        do { doc = try JSON.decode(text) } catch { throw RegistryError("invalid docker config JSON: \(error)", kind: .invalid) }
        return entry(doc, registry: registry)
    }

    static func entry(_ doc: Node, registry: String) -> RegistryCredentials? {
        guard let auths = doc["auths"]?.map else { return nil }
        let hub = registry == OCIReference.defaultRegistry
        let wanted: Set<String> = hub ? ["index.docker.io", "docker.io", "registry-1.docker.io"] : [registry]
        for (key, e) in auths.entries {
            var k = Substring(key)
            for p in ["https://", "http://"] where k.hasPrefix(p) { k = k.dropFirst(p.count) }
            if let slash = k.firstIndex(of: "/") { k = k[..<slash] }
            guard wanted.contains(String(k)) else { continue }
            if let t = e["registrytoken"]?.string, !t.isEmpty { return .token(t) }
            if let u = e["username"]?.string, let p = e["password"]?.string, !u.isEmpty { return .basic(username: u, password: p) }
            if let a = e["auth"]?.string, let raw = Base64.decode(a) {
                let text = String(decoding: raw, as: UTF8.self)
                if let colon = text.firstIndex(of: ":") {
                    return .basic(username: String(text[..<colon]), password: String(text[text.index(after: colon)...]))
                }
            }
        }
        return nil
    }

    /// The docker CLI's config files, as go-containerregistry's default keychain reads them: `$DOCKER_CONFIG/config.json`
    /// or `~/.docker/config.json`, then podman's `$REGISTRY_AUTH_FILE` and `$XDG_RUNTIME_DIR/containers/auth.json`.
    /// Credential helpers (`credHelpers`, `credsStore`) run `docker-credential-<name> get`. Nil: anonymous.
    public static func fromKeychain(registry: String, env: [String: String], home: String) throws -> RegistryCredentials? {
        var files: [String] = []
        if let d = env["DOCKER_CONFIG"], !d.isEmpty { files.append(d + "/config.json") } else { files.append(home + "/.docker/config.json") }
        if let f = env["REGISTRY_AUTH_FILE"], !f.isEmpty { files.append(f) }
        if let x = env["XDG_RUNTIME_DIR"], !x.isEmpty { files.append(x + "/containers/auth.json") }
        for file in files where Files.exists(file) {
            let doc: Node
            do { doc = try JSON.decode(try Files.readText(file)) } catch {
                throw RegistryError("cannot read the docker config \(file): \(error)", kind: .invalid)
            }
            let hub = registry == OCIReference.defaultRegistry
            let helper = doc["credHelpers"]?[registry]?.string ?? (hub ? doc["credHelpers"]?["docker.io"]?.string : nil)
                ?? doc["credsStore"]?.string
            if let helper, !helper.isEmpty {
                if let c = try fromHelper(helper, registry: registry, env: env) { return c }
            }
            if let c = entry(doc, registry: registry) { return c }
        }
        return nil
    }

    /// `docker-credential-<helper> get` with the server on stdin, as the docker CLI asks a credential helper.
    static func fromHelper(_ helper: String, registry: String, env: [String: String]) throws -> RegistryCredentials? {
        let server = registry == OCIReference.defaultRegistry ? "https://index.docker.io/v1/" : registry
        let exe = "docker-credential-" + helper
        let r: Subprocess.Result
        do { r = try Subprocess.run(exe, ["get"], env: env, input: Array(server.utf8), timeout: 30) } catch {
            throw RegistryError("cannot run the docker credential helper \(exe): \(error)", kind: .authentication)
        }
        if r.status != 0 {
            // "credentials not found in native keychain": anonymous, as the docker CLI goes on.
            if String(decoding: r.stdout + r.stderr, as: UTF8.self).contains("credentials not found") { return nil }
            throw RegistryError("the docker credential helper \(exe) failed for \(registry) (exit \(r.status))", kind: .authentication)
        }
        guard let doc = try? JSON.decode(bytes: r.stdout), let user = doc["Username"]?.string, let secret = doc["Secret"]?.string else {
            throw RegistryError("the docker credential helper \(exe) answered something that is not credentials", kind: .authentication)
        }
        return user == "<token>" ? .token(secret) : .basic(username: user, password: secret)
    }
}

/// A blob or manifest descriptor of the OCI image spec.
public struct OCIDescriptor: Sendable, Equatable {
    public var mediaType: String
    public var digest: String
    public var size: Int
    public var annotations: [String: String] = [:]

    public init(mediaType: String, digest: String, size: Int, annotations: [String: String] = [:]) {
        self.mediaType = mediaType; self.digest = digest; self.size = size; self.annotations = annotations
    }

    init(_ n: Node, what: String) throws {
        guard let d = n["digest"]?.string, let s = n["size"]?.int, s >= 0 else { throw RegistryError("the manifest's \(what) has no digest or size", kind: .invalid) }
        guard OCIDigest.isValid(d) else { throw RegistryError("the manifest's \(what) has an unsupported digest '\(d.prefix(80))'", kind: .invalid) }
        mediaType = n["mediaType"]?.string ?? ""
        digest = d
        size = s
        annotations = OCIManifest.stringMap(n["annotations"])
    }
}

public enum OCIDigest {
    public static func of(_ bytes: [UInt8]) -> String { "sha256:" + Hashing.sha256Hex(bytes) }
    public static func isValid(_ d: String) -> Bool {
        d.hasPrefix("sha256:") && d.utf8.count == 71 && d.utf8.dropFirst(7).allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }
}

/// An image manifest (OCI or Docker schema 2) or an index, as fetched: its bytes, media type and digest.
public struct OCIManifest: Sendable {
    public var bytes: [UInt8]
    public var mediaType: String
    public var digest: String
    public var config: OCIDescriptor?
    public var layers: [OCIDescriptor]
    public var annotations: [String: String]
    /// For an index: the manifests it lists.
    public var manifests: [OCIDescriptor]

    public static let ociManifest = "application/vnd.oci.image.manifest.v1+json"
    public static let ociIndex = "application/vnd.oci.image.index.v1+json"
    public static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
    public static let dockerList = "application/vnd.docker.distribution.manifest.list.v2+json"
    public var isIndex: Bool { mediaType == Self.ociIndex || mediaType == Self.dockerList }

    static func stringMap(_ n: Node?) -> [String: String] {
        var out: [String: String] = [:]
        for (k, v) in n?.map?.entries ?? [] { if let s = v.string { out[k] = s } }
        return out
    }

    init(bytes: [UInt8], headerType: String?, digest: String) throws {
        self.bytes = bytes
        self.digest = digest
        let doc: Node
        do { doc = try JSON.decode(bytes: bytes) } catch { throw RegistryError("the manifest \(digest) is not JSON", kind: .invalid) }
        mediaType = doc["mediaType"]?.string ?? headerType.map { String($0.split(separator: ";")[0]).trimmingWhitespace() } ?? Self.ociManifest
        annotations = Self.stringMap(doc["annotations"])
        config = try doc["config"].map { try OCIDescriptor($0, what: "config") }
        layers = try (doc["layers"]?.array ?? []).map { try OCIDescriptor($0, what: "layer") }
        manifests = try (doc["manifests"]?.array ?? []).map { try OCIDescriptor($0, what: "manifest") }
    }
}

/// The OCI distribution API (Docker Registry HTTP API v2) for one repository: tags, manifests and blobs, pushed and
/// pulled with go-containerregistry's rules. The first request pings `/v2/` (https first; plain http only for the
/// registries go-containerregistry allows it for), its 401 challenge decides Basic or a Bearer token for the scope
/// (`pull`, or `push,pull`). Credentials and tokens go to the registry's origin only; a redirect or upload location
/// elsewhere (blob storage) gets none, https to http is refused. Manifests are read up to 4 MiB, blobs up to their
/// descriptor's size; both are checked against their digests.
public final class RegistryClient {
    public var registry: String
    public var repository: String
    public var credentials: RegistryCredentials?
    public var insecure: Bool
    public var caData: [UInt8]?
    /// A client certificate and key (PEM) for registries that ask for one.
    public var clientCert: [UInt8]?
    public var clientKey: [UInt8]?
    /// Seconds one request may take.
    public var timeout: Double
    /// Scope of the token asked for: `pull`, or `push,pull` for pushes.
    public var push = false

    private var http: HTTPClient?
    private var base: String?
    private var challenge: (scheme: String, params: [String: String])?
    private var authorization: String?

    public static let maxManifest = 4 << 20
    public static let userAgent = "fluxs (flux/v2)"

    public init(registry: String, repository: String, credentials: RegistryCredentials? = nil, insecure: Bool = false,
                caData: [UInt8]? = nil, timeout: Double = 60) {
        self.registry = registry; self.repository = repository; self.credentials = credentials
        self.insecure = insecure; self.caData = caData; self.timeout = timeout
    }

    public convenience init(_ ref: OCIReference, credentials: RegistryCredentials? = nil, insecure: Bool = false,
                            caData: [UInt8]? = nil, timeout: Double = 60) {
        self.init(registry: ref.registry, repository: ref.repository, credentials: credentials, insecure: insecure, caData: caData, timeout: timeout)
    }

    var tls: TLSSettings { TLSSettings(caData: caData, clientCertData: clientCert, clientKeyData: clientKey, insecure: insecure) }

    func client() throws -> HTTPClient {
        if let http { return http }
        let h = try HTTPClient()
        http = h
        return h
    }

    /// Where the registry's credentials may go.
    var origin: HTTPOrigin? { base.flatMap { HTTPOrigin($0) } }

    /// `GET /v2/` over https, then http when allowed: the base URL and the authentication challenge.
    func ping() throws -> String {
        if let base { return base }
        let ref = OCIReference(registry: registry, repository: repository)
        var schemes = ["https"]
        if ref.plainHTTPFallback(insecure: insecure) { schemes.append("http") }
        var errors: [String] = []
        for scheme in schemes {
            let url = "\(scheme)://\(registry)/v2/"
            let resp: HTTPResponse
            do {
                resp = try client().perform(HTTPRequest(method: "GET", url: url, headers: [("User-Agent", Self.userAgent)], timeout: timeout,
                                                        maxBody: HTTPLimits.small), tls: tls)
            } catch let e as TransportError {
                errors.append("\(scheme): \(e.detail)")
                continue
            }
            switch resp.status {
            case 200:
                challenge = nil
            case 401:
                challenge = Self.parseChallenge(resp.headers["www-authenticate"] ?? "")
            default:
                // An https port answering plain HTTP, a proxy page: try the next scheme, else report.
                errors.append("\(scheme): GET \(url) answered HTTP \(resp.status)")
                continue
            }
            base = "\(scheme)://\(registry)"
            return base!
        }
        throw RegistryError("cannot reach the registry \(registry): \(errors.joined(separator: "; "))", kind: .unreachable)
    }

    static func parseChallenge(_ header: String) -> (scheme: String, params: [String: String]) {
        let h = header.trimmingWhitespace()
        let sp = h.firstIndex(of: " ") ?? h.endIndex
        let scheme = h[..<sp].lowercased()
        var params: [String: String] = [:]
        var rest = Substring(h[sp...])
        // key="quoted, value",key=token
        while !rest.isEmpty {
            rest = rest.drop { $0 == " " || $0 == "," }
            guard let eq = rest.firstIndex(of: "=") else { break }
            let key = rest[..<eq].trimming(" ").lowercased()
            rest = rest[rest.index(after: eq)...]
            var value = ""
            if rest.first == "\"" {
                rest = rest.dropFirst()
                var escaped = false
                while let c = rest.first {
                    rest = rest.dropFirst()
                    if escaped { value.append(c); escaped = false; continue }
                    if c == "\\" { escaped = true; continue }
                    if c == "\"" { break }
                    value.append(c)
                }
            } else {
                let end = rest.firstIndex(of: ",") ?? rest.endIndex
                value = String(rest[..<end]).trimmingWhitespace()
                rest = rest[end...]
            }
            params[key] = value
        }
        return (scheme, params)
    }

    /// The Authorization header for the registry: Basic, a registry token, or a Bearer token bought at the realm.
    func authorize() throws -> String? {
        if let authorization { return authorization }
        _ = try ping()
        guard let challenge else { return nil }
        switch challenge.scheme {
        case "basic":
            switch credentials {
            case .basic(let u, let p): authorization = "Basic " + Base64.encode(Array("\(u):\(p)".utf8))
            case .token(let t): authorization = "Bearer " + t
            case nil: throw RegistryError("the registry \(registry) requires authentication: give credentials (--creds, a docker config, or a secretRef)", kind: .authentication)
            }
        case "bearer":
            if case .token(let t) = credentials { authorization = "Bearer " + t; break }
            authorization = "Bearer " + (try token(challenge.params))
        default:
            throw RegistryError("the registry \(registry) asks for unsupported authentication '\(challenge.scheme.prefix(20))'", kind: .authentication)
        }
        return authorization
    }

    /// The Docker token protocol: GET realm?scope=repository:<repo>:<actions>&service=<service>, with Basic credentials
    /// when there are some. The realm must be https when the registry is (the credentials travel there).
    func token(_ params: [String: String]) throws -> String {
        guard let realm = params["realm"], let realmOrigin = HTTPOrigin(realm), ["http", "https"].contains(realmOrigin.scheme) else {
            throw RegistryError("the registry \(registry) sent a Bearer challenge without a usable realm", kind: .authentication)
        }
        if origin?.scheme == "https" && realmOrigin.scheme != "https" {
            throw RegistryError("the registry \(registry) names a token realm that is not https (\(realmOrigin)); fluxs does not send credentials there", kind: .authentication)
        }
        var url = realm + (realm.contains("?") ? "&" : "?") + "scope=" + Self.queryEscape("repository:\(repository):\(push ? "push,pull" : "pull")")
        if let service = params["service"] { url += "&service=" + Self.queryEscape(service) }
        var headers: [(String, String)] = [("Accept", "application/json"), ("User-Agent", Self.userAgent)]
        if case .basic(let u, let p) = credentials { headers.append(("Authorization", "Basic " + Base64.encode(Array("\(u):\(p)".utf8)))) }
        let resp: HTTPResponse
        do {
            resp = try client().performFollowing(HTTPRequest(method: "GET", url: url, headers: headers, timeout: timeout, maxBody: HTTPLimits.small), tls: tls).0
        } catch let e as TransportError {
            throw RegistryError("authentication to \(registry) failed: the token endpoint \(realmOrigin) is unreachable: \(e.detail)", kind: .unreachable)
        }
        guard resp.status == 200 else {
            throw RegistryError("authentication to \(registry) failed: the token endpoint \(realmOrigin) answered HTTP \(resp.status)" + Self.message(resp).map { ": \($0)" }.orEmpty,
                                kind: .authentication)
        }
        guard let doc = try? JSON.decode(bytes: resp.body), let t = doc["token"]?.string ?? doc["access_token"]?.string, !t.isEmpty else {
            throw RegistryError("authentication to \(registry) failed: the token endpoint \(realmOrigin) answered without a token", kind: .authentication)
        }
        return t
    }

    static func queryEscape(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            if (65...90).contains(b) || (97...122).contains(b) || (48...57).contains(b) || b == 0x2D || b == 0x2E || b == 0x5F || b == 0x7E {
                out.append(Character(Unicode.Scalar(b)))
            } else {
                out += "%" + (b < 16 ? "0" : "") + String(b, radix: 16, uppercase: true)
            }
        }
        return out
    }

    /// The first error message of a registry error body (`{"errors":[{"code","message"}]}`).
    static func message(_ resp: HTTPResponse) -> String? {
        guard let e = (try? JSON.decode(bytes: resp.body))?["errors"]?.array?.first else { return nil }
        let code = e["code"]?.string, msg = e["message"]?.string
        switch (code, msg) {
        case let (c?, m?): return "\(c): \(m)"
        case let (c?, nil): return c
        case let (nil, m?): return m
        default: return nil
        }
    }

    /// One request to the registry, authorized; a 401 buys a new token once (its scope may have changed).
    /// Redirects are followed with credentials for the registry's origin only.
    func send(_ method: String, _ pathOrURL: String, headers: [(String, String)] = [], body: [UInt8]? = nil,
              maxBody: Int = HTTPLimits.small) throws -> (HTTPResponse, String) {
        let base = try ping()
        let url = pathOrURL.hasPrefix("/") ? base + pathOrURL : pathOrURL
        var retried = false
        while true {
            var h = headers + [("User-Agent", Self.userAgent)]
            // Credentials (and the token they bought) are for the registry: an upload location elsewhere gets none.
            if let a = try authorize(), HTTPOrigin(url) == origin { h.append(("Authorization", a)) }
            let result: (HTTPResponse, String)
            do {
                result = try client().performFollowing(HTTPRequest(method: method, url: url, headers: h, body: body, timeout: timeout, maxBody: maxBody), tls: tls)
            } catch let e as TransportError {
                throw RegistryError("\(method) \(Self.redacted(url)): \(e.detail)", kind: e.kind == .tooLarge ? .invalid : .unreachable)
            }
            if result.0.status == 401 && !retried && challenge?.scheme == "bearer" && credentials != nil {
                retried = true
                authorization = nil
                if let c = result.0.headers["www-authenticate"] { challenge = Self.parseChallenge(c) }
                continue
            }
            return result
        }
    }

    static func redacted(_ url: String) -> String { String(url.split(separator: "?", maxSplits: 1)[0]) }

    func failure(_ what: String, _ resp: HTTPResponse) -> RegistryError {
        let detail = Self.message(resp).map { ": \($0)" } ?? ""
        switch resp.status {
        case 401: return RegistryError("\(what): authentication to \(registry) failed (HTTP 401)\(detail); check the credentials", kind: .authentication)
        case 403: return RegistryError("\(what): access to \(registry)/\(repository) denied (HTTP 403)\(detail)", kind: .authentication)
        case 404: return RegistryError("\(what): not found in \(registry)/\(repository) (HTTP 404)\(detail)", kind: .notFound)
        default: return RegistryError("\(what): \(registry) answered HTTP \(resp.status)\(detail)")
        }
    }

    // MARK: tags

    /// Every tag of the repository (paginated with Link headers, at most 1,000,000).
    public func tags() throws -> [String] {
        var path = "/v2/\(repository)/tags/list?n=1000"
        var out: [String] = []
        while true {
            let (resp, url) = try send("GET", path, headers: [("Accept", "application/json")], maxBody: 32 << 20)
            guard resp.status == 200 else { throw failure("listing tags of \(registry)/\(repository)", resp) }
            guard let doc = try? JSON.decode(bytes: resp.body) else { throw RegistryError("the tag list of \(registry)/\(repository) is not JSON", kind: .invalid) }
            out += (doc["tags"]?.array ?? []).compactMap(\.string)
            // Link: </v2/<name>/tags/list?last=x&n=1000>; rel="next"
            guard let link = resp.headers["link"], let lt = link.firstIndex(of: "<"), let gt = link.firstIndex(of: ">"), lt < gt else { break }
            let next = HTTPRedirect.resolve(String(link[link.index(after: lt)..<gt]), against: url)
            guard HTTPOrigin(next) == origin else { throw RegistryError("the registry \(registry) paginates its tags to another origin; fluxs stops there", kind: .invalid) }
            path = next
            if out.count > 1_000_000 { throw RegistryError("the registry \(registry) lists more than 1000000 tags for \(repository); fluxs stops there", kind: .invalid) }
        }
        return out
    }

    // MARK: manifests

    /// The media types go-containerregistry accepts for a manifest.
    public static let manifestTypes = [OCIManifest.ociIndex, OCIManifest.ociManifest, OCIManifest.dockerList, OCIManifest.dockerManifest,
                                       "application/vnd.docker.distribution.manifest.v1+prettyjws", "application/vnd.docker.distribution.manifest.v1+json"]

    /// The manifest a tag or digest names. Its digest is the SHA-256 of the bytes read; it must match a digest
    /// reference and the Docker-Content-Digest header when the registry sends one.
    public func manifest(_ reference: String) throws -> OCIManifest {
        let (resp, _) = try send("GET", "/v2/\(repository)/manifests/\(reference)", headers: [("Accept", Self.manifestTypes.joined(separator: ","))],
                                 maxBody: Self.maxManifest)
        guard resp.status == 200 else { throw failure("fetching the manifest \(registry)/\(repository):\(reference)", resp) }
        let digest = OCIDigest.of(resp.body)
        if reference.hasPrefix("sha256:"), reference != digest {
            throw RegistryError("the manifest \(registry)/\(repository)@\(reference) has digest \(digest): the registry sent other content", kind: .invalid)
        }
        if let h = resp.headers["docker-content-digest"], h.hasPrefix("sha256:"), h != digest {
            throw RegistryError("the manifest \(registry)/\(repository):\(reference) has digest \(digest), not the \(h) the registry claims", kind: .invalid)
        }
        return try OCIManifest(bytes: resp.body, headerType: resp.headers["content-type"], digest: digest)
    }

    /// The digest of a tag's manifest with a HEAD request (Docker-Content-Digest), else a GET.
    public func digest(_ reference: String) throws -> String {
        let (head, _) = try send("HEAD", "/v2/\(repository)/manifests/\(reference)", headers: [("Accept", Self.manifestTypes.joined(separator: ","))])
        if head.status == 200, let d = head.headers["docker-content-digest"], OCIDigest.isValid(d) { return d }
        if head.status == 401 || head.status == 403 || head.status == 404 { throw failure("fetching the manifest \(registry)/\(repository):\(reference)", head) }
        return try manifest(reference).digest
    }

    /// PUT a manifest under a tag (or its digest); returns its digest.
    @discardableResult
    public func putManifest(_ bytes: [UInt8], mediaType: String, reference: String) throws -> String {
        let digest = OCIDigest.of(bytes)
        let (resp, _) = try send("PUT", "/v2/\(repository)/manifests/\(reference)", headers: [("Content-Type", mediaType)], body: bytes)
        guard resp.status == 201 || resp.status == 200 || resp.status == 202 else { throw failure("pushing the manifest \(registry)/\(repository):\(reference)", resp) }
        if let h = resp.headers["docker-content-digest"], h.hasPrefix("sha256:"), h != digest {
            throw RegistryError("the registry \(registry) stored the manifest as \(h), not \(digest)", kind: .invalid)
        }
        return digest
    }

    // MARK: blobs

    /// A blob's bytes, read up to its descriptor's size (and at most `limit`) and checked against its digest.
    public func blob(_ d: OCIDescriptor, limit: Int = HTTPLimits.body) throws -> [UInt8] {
        guard d.size <= limit else {
            throw RegistryError("the blob \(d.digest) of \(registry)/\(repository) is \(d.size) bytes, more than fluxs reads (\(limit))", kind: .invalid)
        }
        let (resp, _) = try send("GET", "/v2/\(repository)/blobs/\(d.digest)", maxBody: max(d.size, 1024))
        guard resp.status == 200 else { throw failure("fetching the blob \(d.digest)", resp) }
        let got = OCIDigest.of(resp.body)
        guard got == d.digest, resp.body.count == d.size else {
            throw RegistryError("the blob \(d.digest) of \(registry)/\(repository) arrived as \(resp.body.count) bytes with digest \(got): the registry sent other content", kind: .invalid)
        }
        return resp.body
    }

    public func hasBlob(_ digest: String) throws -> Bool {
        let (resp, _) = try send("HEAD", "/v2/\(repository)/blobs/\(digest)")
        if resp.status == 200 { return true }
        if resp.status == 404 { return false }
        throw failure("checking the blob \(digest)", resp)
    }

    /// Uploads a blob unless the registry has it: POST an upload, PUT the bytes to its location with the digest.
    @discardableResult
    public func putBlob(_ bytes: [UInt8]) throws -> OCIDescriptor {
        let digest = OCIDigest.of(bytes)
        let d = OCIDescriptor(mediaType: "", digest: digest, size: bytes.count)
        if try hasBlob(digest) { return d }
        let (start, url) = try send("POST", "/v2/\(repository)/blobs/uploads/", headers: [("Content-Length", "0")], body: [])
        guard start.status == 202, let location = start.headers["location"], !location.isEmpty else {
            throw failure("starting a blob upload to \(registry)/\(repository)", start)
        }
        var put = HTTPRedirect.resolve(location, against: url)
        guard let to = HTTPOrigin(put), to.scheme == "https" || to.scheme == "http", !(origin?.scheme == "https" && to.scheme == "http") else {
            throw RegistryError("the registry \(registry) sent an upload location fluxs does not follow", kind: .invalid)
        }
        put += (put.contains("?") ? "&" : "?") + "digest=" + Self.queryEscape(digest)
        let (done, _) = try send("PUT", put, headers: [("Content-Type", "application/octet-stream")], body: bytes)
        guard done.status == 201 || done.status == 204 || done.status == 200 else { throw failure("uploading the blob \(digest)", done) }
        if let h = done.headers["docker-content-digest"], h.hasPrefix("sha256:"), h != digest {
            throw RegistryError("the registry \(registry) stored the blob as \(h), not \(digest)", kind: .invalid)
        }
        return d
    }
}

extension Optional where Wrapped == String {
    var orEmpty: String { self ?? "" }
}
