import FluxsAPI
import FluxsKube
import FluxsYAML

/// An image repository reference as image-reflector-controller (go-containerregistry) reads it: a registry host and a
/// repository path; Docker Hub names get `index.docker.io` and `library/`.
struct ImageName {
    var registry: String
    var repository: String

    init(_ image: String) throws {
        var s = Substring(image)
        if let at = s.firstIndex(of: "@") { s = s[..<at] }
        let parts = s.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard !s.isEmpty, !parts.contains(where: \.isEmpty) else { throw ImageError("invalid image name '\(image)'") }
        if parts.count > 1, parts[0].contains(".") || parts[0].contains(":") || parts[0] == "localhost" {
            registry = parts[0] == "docker.io" ? "index.docker.io" : parts[0]
            repository = parts.dropFirst().joined(separator: "/")
        } else {
            registry = "index.docker.io"
            repository = parts.count == 1 ? "library/" + parts[0] : parts.joined(separator: "/")
        }
        // A tag is not part of an ImageRepository's image.
        if let colon = repository.lastIndex(of: ":") { repository = String(repository[..<colon]) }
        guard repository.allSatisfy({ $0.isLowercase || $0.isNumber || "._-/".contains($0) }) else {
            throw ImageError("invalid image name '\(image)': repository names are lowercase")
        }
    }

    var canonical: String { "\(registry)/\(repository)" }

    /// go-containerregistry talks plain HTTP to loopback registries, and to any registry when insecure is allowed.
    func scheme(insecure: Bool) -> String {
        let host = registry.split(separator: ":").first.map(String.init) ?? registry
        return insecure || host == "localhost" || host == "127.0.0.1" || host == "::1" || host.hasSuffix(".localhost") ? "http" : "https"
    }
}

struct ImageError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// The Docker Registry HTTP API v2, as far as scanning needs it: the tag list, with Basic or Bearer-token auth.
struct RegistryClient {
    var name: ImageName
    var username: String?
    var password: String?
    var insecure: Bool
    var caData: [UInt8]?
    var timeout: Double

    /// Credentials for the registry from a dockerconfigjson Secret (`auths.<host>.username/password` or `auth`).
    static func credentials(_ dockerConfig: String, registry: String) -> (String, String)? {
        guard let doc = try? JSON.decode(dockerConfig), let auths = doc["auths"]?.map else { return nil }
        let hosts = registry == "index.docker.io" ? ["index.docker.io", "https://index.docker.io/v1/", "docker.io"] : [registry]
        for (key, entry) in auths.entries {
            var k = Substring(key)
            for p in ["https://", "http://"] where k.hasPrefix(p) { k = k.dropFirst(p.count) }
            if let slash = k.firstIndex(of: "/"), registry != "index.docker.io" { k = k[..<slash] }
            guard hosts.contains(String(k)) || hosts.contains(key) else { continue }
            if let u = entry["username"]?.string, let p = entry["password"]?.string { return (u, p) }
            if let a = entry["auth"]?.string, let raw = Base64.decode(a) {
                let text = String(decoding: raw, as: UTF8.self)
                if let colon = text.firstIndex(of: ":") { return (String(text[..<colon]), String(text[text.index(after: colon)...])) }
            }
        }
        return nil
    }

    /// One registry request, answering a 401 challenge once (Basic, or a Bearer token for pull).
    func request(_ method: String, _ url: String, accept: String, http: HTTPClient, tls: TLSSettings, authorization: inout String?) throws -> HTTPResponse {
        var retried = false
        while true {
            var headers: [(String, String)] = [("Accept", accept), ("User-Agent", "fluxs")]
            // Credentials (and the token they bought) are for the registry: a link or redirect elsewhere gets none.
            if let authorization, HTTPOrigin(url) == origin { headers.append(("Authorization", authorization)) }
            let resp: HTTPResponse
            do {
                resp = try http.performFollowing(HTTPRequest(method: method, url: url, headers: headers, timeout: timeout, maxBody: 32 << 20), tls: tls).0
            } catch {
                throw ImageError("\(method) \(url.split(separator: "?")[0]): \(error)")
            }
            if resp.status == 401 && !retried {
                retried = true
                authorization = try authorize(resp.headers["www-authenticate"] ?? "", http: http, tls: tls)
                continue
            }
            return resp
        }
    }

    /// Where the registry's credentials may go.
    var origin: HTTPOrigin? { HTTPOrigin("\(name.scheme(insecure: insecure))://\(name.registry)") }

    var tls: TLSSettings {
        var t = TLSSettings()
        t.caData = caData
        return t
    }

    func tags() throws -> [String] {
        let http = try HTTPClient()
        let tls = self.tls
        var authorization: String?
        var url = "\(name.scheme(insecure: insecure))://\(name.registry)/v2/\(name.repository)/tags/list?n=1000"
        var out: [String] = []
        while true {
            let resp = try request("GET", url, accept: "application/json", http: http, tls: tls, authorization: &authorization)
            guard resp.status == 200 else { throw ImageError(describe(resp)) }
            let doc = try JSON.decode(bytes: resp.body)
            out += (doc["tags"]?.array ?? []).compactMap(\.string)
            // Pagination: Link: </v2/<name>/tags/list?last=x&n=1000>; rel="next"
            guard let link = resp.headers["link"], let lt = link.firstIndex(of: "<"), let gt = link.firstIndex(of: ">"), lt < gt else { break }
            let next = String(link[link.index(after: lt)..<gt])
            url = HTTPRedirect.resolve(next, against: url)
            if out.count > 1_000_000 { throw ImageError("the registry \(name.registry) lists more than 1000000 tags for \(name.repository); fluxs stops there") }
        }
        return out
    }

    /// The media types go-containerregistry's remote.Head accepts for a tag.
    static let manifestTypes = ["application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
                                "application/vnd.docker.distribution.manifest.list.v2+json",
                                "application/vnd.docker.distribution.manifest.v2+json",
                                "application/vnd.docker.distribution.manifest.v1+prettyjws", "application/vnd.docker.distribution.manifest.v1+json"]

    /// The digest of a tag's manifest (what image-reflector-controller reflects): a HEAD request's
    /// Docker-Content-Digest, or the SHA-256 of the manifest when the registry does not send it.
    func digest(tag: String) throws -> String {
        let http = try HTTPClient()
        let tls = self.tls
        var authorization: String?
        let url = "\(name.scheme(insecure: insecure))://\(name.registry)/v2/\(name.repository)/manifests/\(tag)"
        let accept = Self.manifestTypes.joined(separator: ",")
        let head = try request("HEAD", url, accept: accept, http: http, tls: tls, authorization: &authorization)
        if head.status == 200, let d = head.headers["docker-content-digest"], d.hasPrefix("sha256:") { return d }
        let get = try request("GET", url, accept: accept, http: http, tls: tls, authorization: &authorization)
        guard get.status == 200 else {
            if get.status == 404 { throw ImageError("manifest of \(name.canonical):\(tag) not found (HTTP 404)") }
            throw ImageError(describe(get))
        }
        return get.headers["docker-content-digest"] ?? "sha256:" + Hashing.sha256Hex(get.body)
    }

    /// The answer to a 401 challenge: Basic with the credentials, or a token from the Bearer realm.
    func authorize(_ challenge: String, http: HTTPClient, tls: TLSSettings) throws -> String {
        let basic = username.map { "Basic " + Base64.encode(Array("\($0):\(password ?? "")".utf8)) }
        if challenge.lowercased().hasPrefix("basic") {
            guard let basic else { throw ImageError("the registry \(name.registry) requires authentication: set spec.secretRef to a dockerconfigjson Secret") }
            return basic
        }
        guard challenge.lowercased().hasPrefix("bearer") else { throw ImageError("the registry \(name.registry) asks for unknown authentication '\(challenge.prefix(20))'") }
        var params: [String: String] = [:]
        for part in challenge.dropFirst(6).split(separator: ",") {
            let kv = part.split(separator: "=", maxSplits: 1)
            guard kv.count == 2 else { continue }
            params[kv[0].trimming(" ").lowercased()] = kv[1].trimming(" \"")
        }
        guard let realm = params["realm"] else { throw ImageError("the registry \(name.registry) sent a Bearer challenge without realm") }
        // The Docker token protocol sends the registry credentials to the realm (go-containerregistry does); never
        // in plain text when the registry itself is TLS.
        if name.scheme(insecure: insecure) == "https" && HTTPOrigin(realm)?.scheme != "https" {
            throw ImageError("the registry \(name.registry) names a token realm that is not https (\(HTTPOrigin(realm)?.description ?? realm)); fluxs does not send credentials there")
        }
        var tokenURL = realm + "?scope=" + "repository:\(name.repository):pull"
        if let service = params["service"] { tokenURL += "&service=" + service }
        var headers: [(String, String)] = [("Accept", "application/json")]
        if let basic { headers.append(("Authorization", basic)) }
        let resp = try http.performFollowing(HTTPRequest(method: "GET", url: tokenURL, headers: headers, timeout: timeout, maxBody: HTTPLimits.small), tls: tls).0
        guard resp.status == 200, let doc = try? JSON.decode(bytes: resp.body),
              let token = doc["token"]?.string ?? doc["access_token"]?.string else {
            throw ImageError("authentication to \(name.registry) failed: token endpoint answered HTTP \(resp.status)")
        }
        return "Bearer " + token
    }

    func describe(_ resp: HTTPResponse) -> String {
        let code = (try? JSON.decode(bytes: resp.body))?["errors"]?.array?.first?["message"]?.string
        switch resp.status {
        case 401: return "authentication to \(name.registry) failed (HTTP 401)" + (code.map { ": \($0)" } ?? "")
        case 404: return "repository \(name.canonical) not found (HTTP 404)"
        default: return "GET tags of \(name.canonical): HTTP \(resp.status)" + (code.map { ": \($0)" } ?? "")
        }
    }
}
