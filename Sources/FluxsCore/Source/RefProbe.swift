import FluxsGit
import FluxsKube
import FluxsYAML

/// The cheap question of a no-op reconcile, "which commit does the remote ref name now?", answered with one
/// smart-HTTP request on libcurl, without starting libgit2. Any doubt (proxy, SSH, unexpected answer,
/// transport error) returns nil and the caller takes the full libgit2 path, which reports errors properly.
struct RefProbe {
    var url: String
    var auth: GitAuth
    var timeout: Double

    /// The advertised refs, or nil when this probe can't tell.
    func refs(log: (String) -> Void) -> [RemoteRef]? {
        guard let scheme = GitURL(url)?.scheme, scheme == "http" || scheme == "https", auth.proxyURL == nil else { return nil }
        var headers: [(String, String)] = [("User-Agent", "git/2.0 (fluxs)"), ("Accept", "*/*"), ("Pragma", "no-cache")]
        if let token = auth.bearerToken, !token.isEmpty {
            headers.append(("Authorization", "Bearer " + token))
        } else if let user = auth.username, !user.isEmpty {
            headers.append(("Authorization", "Basic " + Base64.encode(Array("\(user):\(auth.password ?? "")".utf8))))
        }
        var tls = TLSSettings()
        if let ca = auth.caFile {
            guard let pem = try? Files.read(ca) else { return nil }
            tls.caData = pem
        }
        do {
            let client = try HTTPClient()
            let resp = try client.perform(HTTPRequest(method: "GET", url: RefAdvertisement.url(url), headers: headers, timeout: timeout), tls: tls)
            guard resp.status == 200, resp.headers["content-type"] == RefAdvertisement.contentType else {
                log("ref probe: HTTP \(resp.status), taking the full fetch path")
                return nil
            }
            return try RefAdvertisement.parse(resp.body)
        } catch {
            log("ref probe: \(error), taking the full fetch path")
            return nil
        }
    }
}
