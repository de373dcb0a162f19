import FluxsGit
import FluxsKube
import FluxsYAML

/// A depth-1 fetch of one ref over smart HTTP into a mirror: one POST to git-upload-pack with the mirror's
/// commits as `have`s and its shallow boundary, the pack indexed by libgit2. libgit2 1.5 can only fetch whole
/// histories; this keeps a first reconcile to the size of one tree, as `git clone --depth 1`.
struct ShallowFetch {
    var url: String
    var auth: GitAuth
    var timeout: Double

    /// Whether this path can serve the URL: HTTP(S), no proxy (libgit2 handles proxies).
    static func applies(url: String, auth: GitAuth) -> Bool {
        guard let scheme = GitURL(url)?.scheme else { return false }
        return (scheme == "http" || scheme == "https") && auth.proxyURL == nil
    }

    func fetch(_ want: ObjectID, into repo: Repository) throws {
        var headers: [(String, String)] = [("User-Agent", "git/2.0 (fluxs)"), ("Content-Type", UploadPack.contentType),
                                           ("Accept", UploadPack.resultType)]
        if let token = auth.bearerToken, !token.isEmpty {
            headers.append(("Authorization", "Bearer " + token))
        } else if let user = auth.username, !user.isEmpty {
            headers.append(("Authorization", "Basic " + Base64.encode(Array("\(user):\(auth.password ?? "")".utf8))))
        }
        var tls = TLSSettings()
        if let ca = auth.caFile { tls.caData = try Files.read(ca) }
        let shallow = repo.shallowCommits
        let body = UploadPack.request(want: [want], haves: repo.refTips(), shallow: shallow, depth: 1)
        let resp = try HTTPClient().perform(HTTPRequest(method: "POST", url: UploadPack.url(url), headers: headers, body: body,
                                                        timeout: timeout), tls: tls)
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
