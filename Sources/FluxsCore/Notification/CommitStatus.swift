import FluxsKube
import FluxsYAML
#if canImport(Glibc)
import Glibc
#endif

/// The commit status providers of notification-controller (github, gitlab, gitea, bitbucket, bitbucketserver,
/// azuredevops): a status keyed by the commit status ID (`<kind>/<name>/<provider uid prefix>`) on the commit of
/// the event's revision, skipped when the newest status with that key already says the same (each API's list or
/// get first, as upstream). The requests are those of the Go clients upstream uses (go-github, gitlab client-go,
/// the Gitea SDK, go-bitbucket, its own Bitbucket Server client, azure-devops-go-api).
extension ProviderSender {
    /// parseGitAddress: `<scheme>://<host>` (ssh becomes https) and the repository path without `.git`.
    static func gitAddress(_ s: String) throws -> (host: String, id: String) {
        var scheme = "", rest = s
        if let r = s.firstRange(of: "://") {
            scheme = String(s[..<r.lowerBound])
            rest = String(s[r.upperBound...])
        } else if let colon = s.firstIndex(of: ":"), !s[..<colon].contains("/") {
            // scp-like user@host:owner/repo
            scheme = "ssh"
            rest = String(s[..<colon]) + "/" + String(s[s.index(after: colon)...])
        } else {
            throw NotifyError("failed parsing URL \"\(s)\": not a repository URL")
        }
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        var authority = String(rest[..<slash])
        if let at = authority.lastIndex(of: "@") { authority = String(authority[authority.index(after: at)...]) }
        var path = String(rest[slash...])
        if let q = path.firstIndex(where: { $0 == "?" || $0 == "#" }) { path = String(path[..<q]) }
        while path.hasPrefix("/") { path.removeFirst() }
        if path.hasSuffix(".git") { path.removeLast(4) }
        if scheme == "ssh" || scheme.isEmpty { scheme = "https" }
        return ("\(scheme)://\(authority)", path)
    }

    /// parseRevision (fluxcd/pkg/git): the hash of `<ref>@sha1:<hex>`, `sha256:<hex>` or the legacy `<ref>/<hex>`.
    static func commitHash(_ rev: String) throws -> String {
        var s = rev
        if let at = s.lastIndex(of: "@") { s = String(s[s.index(after: at)...]) }
        if s.hasPrefix("sha1:") { s = String(s.dropFirst(5)) } else if s.hasPrefix("sha256:") { s = String(s.dropFirst(7)) } else if let slash = s.lastIndex(of: "/") {
            s = String(s[s.index(after: slash)...])
        }
        guard s.count == 40 || s.count == 64, s.allSatisfy({ $0.isHexDigit }) else {
            throw NotifyError("failed to extract commit hash from '\(rev)' revision")
        }
        return s.lowercased()
    }

    /// formatNameAndDescription: `<kind>/<name>` and the reason split at its camel case, both lower case.
    static func nameAndDescription(_ e: NotificationEvent) -> (String, String) {
        ("\(e.kind)/\(e.name)".lowercased(), splitCamelcase(e.reason).joined(separator: " ").lowercased())
    }

    /// notifier.splitCamelcase (lower, upper, digit and other runs; an upper case letter before a lower case run
    /// starts the next word: "PDFLoader" is "PDF Loader").
    static func splitCamelcase(_ src: String) -> [String] {
        func cls(_ c: Character) -> Int {
            if c.isLowercase { return 1 }
            if c.isUppercase { return 2 }
            if c.isNumber && c.unicodeScalars.allSatisfy({ $0.properties.numericType == .decimal }) { return 3 }
            return 4
        }
        var runs: [[Character]] = []
        var last = 0
        for c in src {
            let k = cls(c)
            if k == last, !runs.isEmpty { runs[runs.count - 1].append(c) } else { runs.append([c]) }
            last = k
        }
        var i = 0
        while i < runs.count - 1 {
            if let f = runs[i].first, f.isUppercase, let g = runs[i + 1].first, g.isLowercase {
                runs[i + 1].insert(runs[i].removeLast(), at: 0)
            }
            i += 1
        }
        return runs.filter { !$0.isEmpty }.map { String($0) }
    }

    func statusInputs(_ o: Outgoing) throws -> (rev: String, desc: String) {
        guard let r = o.revision else { throw NotifyError("missing revision metadata") }
        return (try Self.commitHash(r), Self.nameAndDescription(o.event).1)
    }

    func parseJSON(_ r: HTTPResponse) -> Node? { try? JSON.decode(bytes: r.body) }

    var tokenOrPassword: String { settings.token.isEmpty ? settings.password : settings.token }

    func ownerRepo(_ id: String, quoted: Bool = true) throws -> (String, String) {
        let parts = id.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 else { throw NotifyError(quoted ? "invalid repository id \"\(id)\"" : "invalid repository id: '\(id)'") }
        return (parts[0], parts[1])
    }

    func state(_ severity: String, info: String, error: String, provider: String) throws -> String {
        switch severity {
        case "info": return info
        case "error": return error
        default: throw NotifyError("can't convert to \(provider) state")
        }
    }

    // MARK: github

    func github(_ o: Outgoing) throws {
        let token = tokenOrPassword
        guard !token.isEmpty else {
            if settings.secret["githubAppID"] != nil { throw NotifyError("GitHub App authentication for providers is not supported by fluxs; use a token") }
            throw NotifyError("github token or github app details must be specified")
        }
        let (host, id) = try Self.gitAddress(settings.address)
        let (owner, repo) = try ownerRepo(id, quoted: false)
        if o.hasReason("Progressing") { return }
        let (rev, desc) = try statusInputs(o)
        let state = try state(o.event.severity, info: "success", error: "failure", provider: "github")
        // go-github: api.github.com, or an Enterprise server's /api/v3/.
        let base = HTTPOrigin(host)?.host == "github.com" ? "https://api.github.com/" : host + "/api/v3/"
        let headers: [(String, String)] = [("Authorization", "Bearer " + token), ("Accept", "application/vnd.github.v3+json"),
                                           ("User-Agent", "go-github/v64.0.0"), ("X-GitHub-Api-Version", "2022-11-28")]
        let repoURL = base + "repos/\(percentEncode(owner))/\(percentEncode(repo))"
        let list = try request("GET", repoURL + "/commits/\(rev)/statuses?per_page=50", headers, nil, what: "could not list commit statuses")
        // duplicateGithubStatus: the newest status with the same context decides.
        if let first = parseJSON(list)?.array?.first(where: { $0["context"]?.string == settings.commitStatus && $0["state"]?.string != nil && $0["description"]?.string != nil }),
           first["state"]?.string == state, first["description"]?.string == desc {
            return
        }
        let body = try JSON.encodeBytes(.map([("state", .string(state)), ("description", .string(desc)), ("context", .string(settings.commitStatus))]),
                                        options: .init(escapeHTML: false)) + [0x0a]
        try request("POST", repoURL + "/statuses/\(rev)", headers + Self.json, body, what: "could not create commit status")
    }

    // MARK: gitlab

    func gitlab(_ o: Outgoing) throws {
        let token = tokenOrPassword
        guard !token.isEmpty else { throw NotifyError("gitlab token cannot be empty") }
        let (host, id) = try Self.gitAddress(settings.address)
        if o.hasReason("Progressing") { return }
        let (rev, desc) = try statusInputs(o)
        let state = try state(o.event.severity, info: "success", error: "failed", provider: "gitlab")
        let project = host + "/api/v4/projects/" + percentEncode(id)
        let headers: [(String, String)] = [("PRIVATE-TOKEN", token), ("Accept", "application/json"), ("User-Agent", "go-gitlab")]
        let list = try request("GET", project + "/repository/commits/\(rev)/statuses?name=\(percentEncode(settings.commitStatus))", headers, nil,
                               what: "unable to list commit status")
        // duplicateGitlabStatus: any status on the commit with the same state, description and name.
        if let items = parseJSON(list)?.array, items.contains(where: {
            $0["sha"]?.string == rev && $0["status"]?.string == state && $0["description"]?.string == desc && $0["name"]?.string == settings.commitStatus
        }) { return }
        let body = try JSON.encodeBytes(.map([("state", .string(state)), ("name", .string(settings.commitStatus)), ("description", .string(desc))]))
        try request("POST", project + "/statuses/\(rev)", headers + Self.json, body, what: "could not set commit status")
    }

    // MARK: gitea

    func gitea(_ o: Outgoing) throws {
        let token = tokenOrPassword
        guard !token.isEmpty else { throw NotifyError("gitea token cannot be empty") }
        let (host, id) = try Self.gitAddress(settings.address)
        let (owner, repo) = try ownerRepo(id)
        let (rev, desc) = try statusInputs(o)
        let state = o.hasReason("Progressing") ? "pending" : try state(o.event.severity, info: "success", error: "failure", provider: "gitea")
        let headers: [(String, String)] = [("Authorization", "token " + token)]
        let repoURL = host + "/api/v1/repos/\(percentEncode(owner))/\(percentEncode(repo))"
        let list = try request("GET", repoURL + "/commits/\(rev)/statuses?page=0&limit=50", headers, nil, what: "could not list commit statuses")
        // duplicateGiteaStatus: the first status with the same context decides (Gitea's JSON calls the state "status").
        if let first = parseJSON(list)?.array?.first(where: {
            $0["context"]?.string == settings.commitStatus && !($0["status"]?.string ?? "").isEmpty && !($0["description"]?.string ?? "").isEmpty
        }), first["status"]?.string == state, first["description"]?.string == desc {
            return
        }
        let body = try JSON.encodeBytes(.map([("state", .string(state)), ("target_url", ""), ("description", .string(desc)),
                                              ("context", .string(settings.commitStatus))]))
        try request("POST", repoURL + "/statuses/\(rev)", headers + Self.json, body, what: "could not create commit status")
    }

    // MARK: bitbucket (cloud)

    func bitbucket(_ o: Outgoing) throws {
        let token = settings.token
        guard !token.isEmpty else { throw NotifyError("bitbucket token cannot be empty") }
        let (_, id) = try Self.gitAddress(settings.address)
        let comp = token.split(separator: ":", omittingEmptySubsequences: false)
        guard comp.count == 2 else { throw NotifyError("invalid token format, expected to be <user>:<password>") }
        let (owner, repo) = try ownerRepo(id)
        if o.hasReason("Progressing") { return }
        let (rev, desc) = try statusInputs(o)
        let state = try state(o.event.severity, info: "SUCCESSFUL", error: "FAILED", provider: "bitbucket")
        let (name, _) = Self.nameAndDescription(o.event)
        let key = Hashing.sha1Hex(settings.commitStatus)
        // go-bitbucket's API base (BITBUCKET_API_BASE_URL, as that client reads it).
        let base = Files.env("BITBUCKET_API_BASE_URL").flatMap { $0.isEmpty ? nil : $0 } ?? "https://api.bitbucket.org/2.0"
        let headers: [(String, String)] = [("Authorization", "Basic " + Base64.encode(String(comp[0]) + ":" + String(comp[1])))]
        let commit = base + "/repositories/\(percentEncode(owner))/\(percentEncode(repo))/commit/\(rev)/statuses/build"
        let existing = try request("GET", commit + "/" + key, headers, nil, expect: 200...404, what: "could not get commit status")
        if existing.status == 404 {
        } else if (200...299).contains(existing.status) {
            if let s = parseJSON(existing), s["state"]?.string == state, s["description"]?.string == desc { return }
        } else {
            throw NotifyError("could not get commit status: HTTP \(existing.status)")
        }
        let body = try JSON.encodeBytes(.map([("description", .string(desc)), ("key", .string(key)), ("name", .string(name)),
                                              ("state", .string(state)), ("url", "https://bitbucket.org")]))
        try request("POST", commit, headers + Self.json, body, what: "could not create commit status")
    }

    // MARK: bitbucketserver

    func bitbucketServer(_ o: Outgoing) throws {
        let addr = settings.address
        guard let r = addr.firstRange(of: "://"), ["http", "https"].contains(String(addr[..<r.lowerBound])) else {
            throw NotifyError("could not parse git address: unsupported scheme type in address. Must be http or https")
        }
        var path = String(addr[r.upperBound...])
        let slash = path.firstIndex(of: "/") ?? path.endIndex
        let origin = String(addr[..<r.upperBound]) + path[..<slash]
        path = String(path[slash...])
        if path.hasSuffix(".git") { path.removeLast(4) }
        guard let scm = path.ranges(of: "/scm/").last else {
            throw NotifyError("could not parse git address: supplied provider address is not http(s) git clone url")
        }
        let context = String(path[..<scm.lowerBound])
        let id = String(path[scm.upperBound...])
        let comp = id.split(separator: "/", omittingEmptySubsequences: false)
        guard comp.count == 2 else { throw NotifyError("could not parse git address: invalid repository id \"\(id)\"") }
        guard !settings.token.isEmpty || (!settings.username.isEmpty && !settings.password.isEmpty) else {
            throw NotifyError("invalid credentials, expected to be one of username/password or API Token")
        }
        if o.hasReason("Progressing") { return }
        guard let rv = o.revision else { throw NotifyError("missing revision metadata") }
        let rev: String
        do { rev = try Self.commitHash(rv) } catch { throw NotifyError("could not parse revision: \(error)") }
        let state: String
        switch o.event.severity {
        case "info": state = "SUCCESSFUL"
        case "error": state = "FAILED"
        default: throw NotifyError("couldn't convert to bitbucket server state: bitbucket server state generated on info or error events only")
        }
        var (name, desc) = Self.nameAndDescription(o.event)
        name += " [" + desc + "]"
        let key = Hashing.sha1Hex(settings.commitStatus)
        let url = origin + context + "/rest/api/latest/projects/\(comp[0])/repos/\(comp[1])/commits/\(rev)/builds"
        let auth = settings.token.isEmpty ? "Basic " + Base64.encode(settings.username + ":" + settings.password) : "Bearer " + settings.token
        let headers: [(String, String)] = [("Authorization", auth), ("x-atlassian-token", "no-check"), ("x-requested-with", "XMLHttpRequest")]
        let existing = try request("GET", url + "?key=" + key, headers, nil, expect: 200...599,
                                   what: "could not get existing commit status: failed api call to check duplicate commit status")
        if existing.status > 399 && existing.status != 404 {
            throw NotifyError("could not get existing commit status: failed api call to check duplicate commit status: HTTP \(existing.status)")
        }
        if existing.status == 200, let s = parseJSON(existing), s["key"]?.string == key, s["state"]?.string == state,
           s["description"]?.string == desc, s["name"]?.string == name {
            return
        }
        let body = try JSON.encodeBytes(.map([("description", .string(desc)), ("key", .string(key)), ("name", .string(name)),
                                              ("state", .string(state)), ("url", .string(addr))])) + [0x0a]
        try request("POST", url, headers + Self.json, body, what: "could not post build status")
    }

    // MARK: azuredevops

    func azureDevOps(_ o: Outgoing) throws {
        guard !settings.token.isEmpty else {
            throw NotifyError("failed to acquire azure devops token: managed identity is not supported by fluxs; put a PAT in the Secret's 'token'")
        }
        let (host, id) = try Self.gitAddress(settings.address)
        let comp = id.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard comp.count == 4 else { throw NotifyError("invalid repository id \"\(id)\"") }
        let (org, project, repo) = (comp[0], comp[1], comp[3])
        if o.hasReason("Progressing") { return }
        let (rev, desc) = try statusInputs(o)
        let state = try state(o.event.severity, info: "succeeded", error: "error", provider: "azure devops")
        let genre = o.metadata["summary"].map { "fluxcd:" + $0 } ?? "fluxcd"
        // azure-devops-go-api: a PAT as basic auth with an empty user; the API version in Accept.
        let headers: [(String, String)] = [("Authorization", "Basic " + Base64.encode(":" + settings.token)),
                                           ("Accept", "application/json;api-version=6.0")]
        let url = "\(host)/\(percentEncode(org))/\(percentEncode(project))/_apis/git/repositories/\(percentEncode(repo))/commits/\(rev)/statuses"
        let list = try request("GET", url, headers, nil, what: "could not list commit statuses")
        if let items = parseJSON(list)?["value"]?.array, let first = items.first(where: {
            $0["context"]?["name"]?.string == settings.commitStatus && $0["context"]?["genre"]?.string == genre &&
                $0["state"]?.string != nil && $0["description"]?.string != nil
        }), first["state"]?.string == state, first["description"]?.string == desc {
            return
        }
        let body = try JSON.encodeBytes(.map([("context", .map([("genre", .string(genre)), ("name", .string(settings.commitStatus))])),
                                              ("description", .string(desc)), ("state", .string(state))]))
        try request("POST", url, headers + [("Content-Type", "application/json;api-version=6.0")], body, what: "could not create commit status")
    }
}
