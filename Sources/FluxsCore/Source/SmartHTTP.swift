import FluxsGit
import FluxsKube
import FluxsYAML

/// Git's smart HTTP protocol spoken by fluxs itself on libcurl, for what libgit2 1.5 does badly: the cheap question
/// of a no-op reconcile ("which commit does the remote ref name now?", one request, libgit2 not started) and a
/// depth-1 fetch (one POST to git-upload-pack with the mirror's commits as `have`s and its shallow boundary, the
/// pack indexed by libgit2 as it arrives). Both go over one connection with the GitRepository's credentials and CA.
/// HTTP(S) without a proxy only; libgit2 handles the rest, and reports errors properly when this path gives up.
///
/// The first request follows redirects as git does (`http.followRedirects=initial`): the repository's base URL
/// becomes the redirect target minus `/info/refs?service=git-upload-pack`, https to http is refused, and the
/// credentials go along only while the target has the origin (scheme, host, port) of spec.url: git asks for
/// credentials again for the new URL, curl drops them for another host. What the server sends is bounded
/// (RefAdvertisement.maxBytes / maxRefs, UploadPack.maxPack, HTTPLimits).
final class SmartHTTP {
    /// The repository URL after the first request's redirects (what libgit2 should use when it takes over).
    private(set) var url: String
    let original: String
    let client: HTTPClient
    let tls: TLSSettings
    private(set) var authorization: (String, String)?
    /// The origin a redirect led to, when it is not spec.url's: credentials are not sent there.
    private(set) var redirectedAway: HTTPOrigin?
    /// What the advertisement's first line offers (`shallow`, `side-band-64k`, ...).
    private(set) var capabilities: [String] = []

    /// A failure that must not be retried through libgit2 (it would follow the same redirect or read the same
    /// endless answer): the message is the reconciliation's.
    struct Refusal: Error, CustomStringConvertible {
        var description: String
    }

    /// nil when this path cannot serve the URL (not HTTP(S), a proxy, an unreadable CA file).
    init?(url: String, auth: GitAuth) {
        guard let scheme = GitURL(url)?.scheme, scheme == "http" || scheme == "https", auth.proxyURL == nil,
              let client = try? HTTPClient() else { return nil }
        var tls = TLSSettings()
        if let ca = auth.caFile {
            guard let pem = try? Files.read(ca) else { return nil }
            tls.caData = pem
        }
        if let token = auth.bearerToken, !token.isEmpty {
            authorization = ("Authorization", "Bearer " + token)
        } else if let user = auth.username, !user.isEmpty {
            authorization = ("Authorization", "Basic " + Base64.encode(Array("\(user):\(auth.password ?? "")".utf8)))
        } else {
            authorization = nil
        }
        self.url = url
        self.original = url
        self.client = client
        self.tls = tls
    }

    /// Whether the credentials of spec.url may go where the repository now is.
    var sendsCredentials: Bool { redirectedAway == nil }

    func request(_ method: String, _ url: String, _ headers: [(String, String)], body: [UInt8]? = nil, timeout: Double,
                 maxBody: Int = HTTPLimits.small, onData: (([UInt8]) -> Bool)? = nil) throws -> HTTPResponse {
        let all = [("User-Agent", "git/2.0 (fluxs)")] + headers + (authorization.map { [$0] } ?? [])
        return try client.perform(HTTPRequest(method: method, url: url, headers: all, body: body, timeout: timeout, maxBody: maxBody),
                                  tls: tls, onData: onData)
    }

    static let maxRedirects = 10
    static let refsTail = "/info/refs?service=" + RefAdvertisement.service

    /// The advertised refs that `keep` wants, or nil when the answer is not a ref advertisement (the caller then
    /// asks libgit2, at `url`). Throws Refusal for what libgit2 must not retry, and a timeout.
    func refs(timeout: Double, keep: @escaping (String) -> Bool = { _ in true }, log: (String) -> Void) throws -> [RemoteRef]? {
        var hops = 0
        while true {
            var reader = RefAdvertisement.Reader(keep: keep)
            reader.source = "the ref advertisement of \(HTTPOrigin(url)?.description ?? "the server")"
            var failure: Error?
            let resp: HTTPResponse
            do {
                resp = try request("GET", RefAdvertisement.url(url), [("Accept", "*/*"), ("Pragma", "no-cache")], timeout: timeout) { chunk in
                    do { try reader.feed(chunk); return true } catch { failure = error; return false }
                }
            } catch let t as TransportError {
                switch t.kind {
                case .timeout: throw t   // asking libgit2 would only wait again
                case .tls, .tooLarge, .redirect: throw Refusal(description: t.detail)
                default:
                    log("ref probe: \(t), taking the full fetch path")
                    return nil
                }
            } catch {
                log("ref probe: \(error), taking the full fetch path")
                return nil
            }
            if HTTPRedirect.statuses.contains(resp.status) {
                hops += 1
                guard hops <= Self.maxRedirects else {
                    throw Refusal(description: "\(HTTPOrigin(original)?.description ?? "the server") redirected more than \(Self.maxRedirects) times")
                }
                try follow(resp, log: log)
                continue
            }
            if (resp.status == 401 || resp.status == 403), let away = redirectedAway, authorization == nil {
                throw Refusal(description: "authentication required by \(away), where \(HTTPOrigin(original)?.description ?? "spec.url") redirected: fluxs does not send the credentials for \(HTTPOrigin(original)?.description ?? "spec.url") to another host (as git and curl); set spec.url to the new address")
            }
            guard resp.status == 200, resp.headers["content-type"] == RefAdvertisement.contentType else {
                log("ref probe: HTTP \(resp.status), taking the full fetch path")
                return nil
            }
            if let f = failure as? GitError, f.kind == .tooLarge { throw Refusal(description: f.message) }
            do {
                if let failure { throw failure }
                let refs = try reader.finish()
                capabilities = reader.capabilities
                return refs
            } catch {
                log("ref probe: \(error), taking the full fetch path")
                return nil
            }
        }
    }

    /// Moves the base URL to where a redirect of the first request points, as git's update_url_from_redirect does.
    private func follow(_ resp: HTTPResponse, log: (String) -> Void) throws {
        let asked = RefAdvertisement.url(url)
        let target: String
        do { target = try HTTPRedirect.target(resp, from: asked) } catch let t as TransportError {
            throw Refusal(description: t.detail)
        }
        guard target.hasSuffix(Self.refsTail) else {
            throw Refusal(description: "unable to update url base from redirection: asked for \(redact(asked)), redirected to \(redact(target))")
        }
        let base = String(target.dropLast(Self.refsTail.count))
        url = base
        let from = HTTPOrigin(original), to = HTTPOrigin(base)
        if from != to {
            redirectedAway = to
            if authorization != nil {
                authorization = nil
                log("redirected to \(to?.description ?? "another host"): the credentials of spec.url are not sent there")
            } else {
                log("redirected to \(to?.description ?? "another host")")
            }
        } else {
            redirectedAway = nil
            log("redirected to \(redact(base))")
        }
    }

    /// Fetches `want` at depth 1 into the mirror and records its new shallow boundary. The pack goes to libgit2's
    /// indexer as it arrives.
    func fetch(_ want: ObjectID, into repo: Repository, timeout: Double) throws {
        let shallow = repo.shallowCommits
        let body = UploadPack.request(want: [want], haves: repo.refTips(), shallow: shallow, depth: 1)
        let writer = try PackWriter(repo)
        var reader = UploadPack.Reader { try writer.append($0) }
        var failure: Error?
        let resp = try request("POST", UploadPack.url(url), [("Content-Type", UploadPack.contentType), ("Accept", UploadPack.resultType)],
                               body: body, timeout: timeout) { chunk in
            do { try reader.feed(chunk); return true } catch { failure = error; return false }
        }
        guard resp.status == 200, resp.headers["content-type"] == UploadPack.resultType else {
            throw GitError(.network, "upload-pack answered HTTP \(resp.status)")
        }
        if let failure { throw failure }
        let result = try reader.finish()
        try writer.commit()
        var boundary = shallow.filter { !result.unshallow.contains($0) }
        for s in result.shallow where !boundary.contains(s) { boundary.append(s) }
        try repo.writeShallow(boundary)
        guard repo.peelToCommit(want) != nil else { throw GitError(.notFound, "the fetched pack lacks \(want.hex)") }
    }
}
