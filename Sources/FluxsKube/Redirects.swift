/// Where credentials may go: the scheme, host and port of a URL, as curl compares them before it sends
/// credentials after a redirect (CURLOPT_UNRESTRICTED_AUTH off) and as git does when it asks for credentials again
/// for the redirected URL (http.c, credential_from_url after update_url_from_redirect).
public struct HTTPOrigin: Equatable, Sendable, CustomStringConvertible {
    public var scheme: String
    public var host: String
    public var port: Int

    public init?(_ url: String) {
        guard let sep = url.firstRange(of: "://") else { return nil }
        scheme = url[..<sep.lowerBound].lowercased()
        var rest = url[sep.upperBound...]
        if let end = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) { rest = rest[..<end] }
        if let at = rest.lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
        var explicit: Int?
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
            host = String(rest[...close]).lowercased()
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") { explicit = Int(after.dropFirst()) }
        } else if let colon = rest.lastIndex(of: ":") {
            host = String(rest[..<colon]).lowercased()
            explicit = Int(rest[rest.index(after: colon)...])
        } else {
            host = String(rest).lowercased()
        }
        guard !host.isEmpty else { return nil }
        port = explicit ?? (scheme == "https" ? 443 : scheme == "http" ? 80 : 0)
    }

    public var description: String {
        let standard = (scheme == "https" && port == 443) || (scheme == "http" && port == 80)
        return "\(scheme)://\(host)" + (standard ? "" : ":\(port)")
    }
}

/// HTTP redirects as fluxs follows them. fluxs's own libcurl handle never follows a redirect by itself: each caller
/// decides, through these rules, whether to follow and which headers go along.
public enum HTTPRedirect {
    public static let statuses: Set<Int> = [301, 302, 303, 307, 308]

    /// The URL a redirect answer sends `url` to: Location resolved against it (absolute, scheme-relative,
    /// absolute-path or relative). A redirect from https to http is refused, as libgit2 and browsers refuse it:
    /// the next request, and anything in it, would travel in plain text.
    public static func target(_ response: HTTPResponse, from url: String) throws -> String {
        guard let location = response.headers["location"]?.trimmingWhitespace(), !location.isEmpty else {
            throw TransportError(kind: .redirect, url: url, detail: "\(originText(url)) answered HTTP \(response.status) without a Location")
        }
        let next = resolve(location, against: url)
        guard let to = HTTPOrigin(next), to.scheme == "http" || to.scheme == "https" else {
            throw TransportError(kind: .redirect, url: url, detail: "\(originText(url)) redirected to a URL that is not http(s); not followed")
        }
        if HTTPOrigin(url)?.scheme == "https" && to.scheme == "http" {
            throw TransportError(kind: .redirect, url: url,
                                 detail: "\(originText(url)) redirected to \(to) (https to plain http); fluxs does not follow redirects that leave TLS")
        }
        return next
    }

    static func originText(_ url: String) -> String { HTTPOrigin(url)?.description ?? "the server" }

    /// RFC 3986 reference resolution, for the forms servers send in Location.
    public static func resolve(_ location: String, against base: String) -> String {
        if location.contains("://") { return location }
        guard let sep = base.firstRange(of: "://") else { return location }
        let scheme = base[..<sep.lowerBound]
        if location.hasPrefix("//") { return scheme + ":" + location }
        let afterScheme = base[sep.upperBound...]
        let authorityEnd = afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? afterScheme.endIndex
        let root = String(base[..<authorityEnd])
        if location.hasPrefix("/") { return root + location }
        var path = String(afterScheme[authorityEnd...])
        if let q = path.firstIndex(where: { $0 == "?" || $0 == "#" }) { path = String(path[..<q]) }
        if location.hasPrefix("?") { return root + path + location }
        let dir = path.lastIndex(of: "/").map { String(path[...$0]) } ?? "/"
        var out: [Substring] = []
        let (pathPart, query) = location.firstIndex(where: { $0 == "?" || $0 == "#" }).map { (location[..<$0], String(location[$0...])) }
            ?? (Substring(location), "")
        for seg in (dir + pathPart).split(separator: "/", omittingEmptySubsequences: false).dropFirst() {
            if seg == "." { continue }
            if seg == ".." { if !out.isEmpty { out.removeLast() }; continue }
            out.append(seg)
        }
        return root + "/" + out.joined(separator: "/") + query
    }

    /// Headers that carry credentials and go to the first origin only.
    public static let credentialHeaders: Set<String> = ["authorization", "proxy-authorization", "cookie"]
}

extension HTTPClient {
    /// Sends `req` and follows up to `maxRedirects` redirects as Go's net/http client does for methods (303, and
    /// 301/302 after a POST, continue as GET without a body; 307/308 repeat the request), with fluxs's rule for
    /// credentials: headers named in `sensitive` (lower case), the client certificate and anything else of `tls`
    /// but the CA go only to the origin (scheme, host, port) of `req.url`. https to http is refused.
    /// Returns the final response and the URL that gave it.
    public func performFollowing(_ req: HTTPRequest, tls: TLSSettings, maxRedirects: Int = 10,
                                 sensitive: Set<String> = HTTPRedirect.credentialHeaders) throws -> (HTTPResponse, String) {
        let first = HTTPOrigin(req.url)
        var current = req
        var hops = 0
        while true {
            let sameOrigin = HTTPOrigin(current.url) == first
            var hopTLS = tls
            if !sameOrigin {
                current.headers = current.headers.filter { !sensitive.contains($0.0.lowercased()) }
                hopTLS = TLSSettings(caData: tls.caData, insecure: tls.insecure)
            }
            let resp = try perform(current, tls: hopTLS)
            guard HTTPRedirect.statuses.contains(resp.status) else { return (resp, current.url) }
            hops += 1
            if hops > maxRedirects {
                throw TransportError(kind: .redirect, url: req.url, detail: "\(HTTPRedirect.originText(req.url)) redirected more than \(maxRedirects) times; stopped")
            }
            let next = try HTTPRedirect.target(resp, from: current.url)
            if resp.status == 303 || (resp.status == 301 || resp.status == 302) && current.method == "POST" {
                current.method = "GET"
                current.body = nil
                current.headers = current.headers.filter { $0.0.lowercased() != "content-type" }
            }
            current.url = next
        }
    }
}
