import FluxsGit
import FluxsKube
import FluxsYAML

/// Git's smart HTTP protocol spoken by fluxs itself on libcurl, for what libgit2 1.5 does badly: the cheap question
/// of a no-op reconcile ("which commit does the remote ref name now?", one request, libgit2 not started) and a
/// depth-1 fetch (one POST to git-upload-pack with the mirror's commits as `have`s and its shallow boundary, the
/// pack indexed by libgit2). Both go over one connection with the GitRepository's credentials and CA. HTTP(S)
/// without a proxy only; libgit2 handles the rest, and reports errors properly when this path gives up.
final class SmartHTTP {
    let url: String
    let client: HTTPClient
    let tls: TLSSettings
    let authorization: (String, String)?

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
        self.client = client
        self.tls = tls
    }

    func request(_ method: String, _ url: String, _ headers: [(String, String)], body: [UInt8]? = nil, timeout: Double) throws -> HTTPResponse {
        let all = [("User-Agent", "git/2.0 (fluxs)")] + headers + (authorization.map { [$0] } ?? [])
        return try client.perform(HTTPRequest(method: method, url: url, headers: all, body: body, timeout: timeout), tls: tls)
    }

    /// The advertised refs, or nil when the answer is not a ref advertisement (the caller then asks libgit2).
    /// A timeout is thrown: asking libgit2 would only wait again.
    func refs(timeout: Double, log: (String) -> Void) throws -> [RemoteRef]? {
        do {
            let resp = try request("GET", RefAdvertisement.url(url), [("Accept", "*/*"), ("Pragma", "no-cache")], timeout: timeout)
            guard resp.status == 200, resp.headers["content-type"] == RefAdvertisement.contentType else {
                log("ref probe: HTTP \(resp.status), taking the full fetch path")
                return nil
            }
            return try RefAdvertisement.parse(resp.body)
        } catch let t as TransportError where t.kind == .timeout {
            throw t
        } catch {
            log("ref probe: \(error), taking the full fetch path")
            return nil
        }
    }

    /// Fetches `want` at depth 1 into the mirror and records its new shallow boundary.
    func fetch(_ want: ObjectID, into repo: Repository, timeout: Double) throws {
        let shallow = repo.shallowCommits
        let body = UploadPack.request(want: [want], haves: repo.refTips(), shallow: shallow, depth: 1)
        let resp = try request("POST", UploadPack.url(url), [("Content-Type", UploadPack.contentType), ("Accept", UploadPack.resultType)],
                               body: body, timeout: timeout)
        guard resp.status == 200, resp.headers["content-type"] == UploadPack.resultType else {
            throw GitError(.network, "upload-pack answered HTTP \(resp.status)")
        }
        let result = try UploadPack.parse(resp.body)
        try repo.addPack(result.pack)
        var boundary = shallow.filter { !result.unshallow.contains($0) }
        for s in result.shallow where !boundary.contains(s) { boundary.append(s) }
        try repo.writeShallow(boundary)
        guard repo.peelToCommit(want) != nil else { throw GitError(.notFound, "the fetched pack lacks \(want.hex)") }
    }
}
