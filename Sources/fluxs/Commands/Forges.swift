import FluxsKube
import FluxsYAML

/// A repository of a Git hosting service as bootstrap needs it.
struct ForgeRepo {
    var owner: String
    var name: String
    /// The HTTPS (or HTTP) clone URL the service gives.
    var cloneURL: String
    /// The SSH clone URL the service gives (scp or ssh:// form).
    var sshURL: String
    /// The service's id of the repository, where its API addresses repositories by id.
    var id: String = ""
}

/// The calls `bootstrap <provider>` makes to a Git hosting API (go-git-providers' paths and payloads): the repository,
/// its creation, the token's user, deploy keys. Each service is one small type.
protocol GitForge {
    /// What flux prints after "connecting to".
    var domain: String { get }
    /// The repository reference flux prints (`https://github.com/owner/repo`).
    func reference(owner: String, name: String) -> String
    func repository(owner: String, name: String, personal: Bool) throws -> ForgeRepo?
    func create(owner: String, name: String, personal: Bool, isPrivate: Bool, branch: String) throws -> ForgeRepo
    func login() throws -> String
    /// Adds the key unless the repository has it (same key); true when it was added.
    func addDeployKey(_ repo: ForgeRepo, title: String, key: String, readOnly: Bool) throws -> Bool
}

/// JSON over HTTP(S) to a forge, with its authentication headers; errors name the call and the service's message.
struct ForgeHTTP {
    var service: String
    var base: String
    var headers: [(String, String)]
    var caData: [UInt8]? = nil

    struct Response {
        var status: Int
        var body: Node?
    }

    func call(_ method: String, _ path: String, _ body: Node? = nil) throws -> Response {
        var h = headers + [("Accept", "application/json"), ("User-Agent", "fluxs")]
        var bytes: [UInt8]?
        if let body { bytes = try JSON.encodeBytes(body); h.append(("Content-Type", "application/json")) }
        var tls = TLSSettings()
        tls.caData = caData
        let resp: HTTPResponse
        // Renamed repositories are redirected (same host); credentials go along only to the API's origin.
        do {
            resp = try HTTPClient().performFollowing(HTTPRequest(method: method, url: base + path, headers: h, body: bytes, timeout: 30,
                                                                 maxBody: 32 << 20), tls: tls).0
        } catch {
            throw CLIError("\(service) API \(method) \(path): \(error)")
        }
        if resp.status == 401 { throw CLIError("\(service) API: bad credentials (check the token)") }
        return Response(status: resp.status, body: resp.body.isEmpty ? nil : try? JSON.decode(bytes: resp.body))
    }

    /// The service's error text: `message` (GitHub, Gitea, GitLab; GitLab nests field errors), or Bitbucket's `errors[].message`.
    static func message(_ r: Response) -> String {
        let b = r.body
        if let m = b?["message"]?.string { return m + (b?["errors"]?.array?.first?["message"]?.string.map { ": \($0)" } ?? "") }
        if let m = b?["message"]?.map { return m.entries.map { "\($0.0) \(($0.1.array ?? []).compactMap(\.string).joined(separator: ", "))" }.joined(separator: "; ") }
        if let m = b?["errors"]?.array?.first?["message"]?.string { return m }
        return "HTTP \(r.status)"
    }

    func expect(_ r: Response, _ codes: Set<Int>, _ what: String) throws -> Node {
        guard codes.contains(r.status), let b = r.body else { throw CLIError("failed to \(what): \(Self.message(r))") }
        return b
    }
}

/// The API base of a service at `hostname` (a bare host is https://; a URL keeps its scheme, as flux's providers).
func forgeBase(_ hostname: String, path: String) -> String {
    var h = hostname
    while h.hasSuffix("/") { h.removeLast() }
    return (h.hasPrefix("http://") || h.hasPrefix("https://") ? h : "https://" + h) + path
}

func forgeDomainURL(_ hostname: String) -> String { forgeBase(hostname, path: "") }

/// Deploy keys are compared by type and key material (titles and comments aside).
func sameKey(_ a: String, _ b: String) -> Bool { a.split(separator: " ").prefix(2) == b.split(separator: " ").prefix(2) }

// MARK: GitHub (REST v3) and Gitea (REST v1): the same repository, user and keys paths and payloads

struct GitHubStyleForge: GitForge {
    var http: ForgeHTTP
    var hostname: String
    /// Where the repository references flux prints start (`https://github.com`).
    var webBase: String
    /// GitHub initializes new repositories with a README (flux asks for it); Gitea's are created empty.
    var autoInit: Bool
    var domain: String { hostname }

    static func github(base: String, token: String, hostname: String) -> GitHubStyleForge {
        GitHubStyleForge(http: ForgeHTTP(service: "GitHub", base: base, headers: [("Authorization", "Bearer \(token)"), ("Accept", "application/vnd.github+json")]),
                         hostname: hostname, webBase: "https://\(hostname)", autoInit: true)
    }

    static func gitea(hostname: String, token: String, caData: [UInt8]?) -> GitHubStyleForge {
        GitHubStyleForge(http: ForgeHTTP(service: "Gitea", base: forgeBase(hostname, path: "/api/v1"), headers: [("Authorization", "token \(token)")], caData: caData),
                         hostname: hostname, webBase: forgeDomainURL(hostname), autoInit: false)
    }

    func reference(owner: String, name: String) -> String { "\(webBase)/\(owner)/\(name)" }

    func repo(_ b: Node, _ owner: String, _ name: String) -> ForgeRepo {
        ForgeRepo(owner: owner, name: name, cloneURL: b["clone_url"]?.string ?? "", sshURL: b["ssh_url"]?.string ?? "")
    }

    func repository(owner: String, name: String, personal: Bool) throws -> ForgeRepo? {
        let r = try http.call("GET", "/repos/\(owner)/\(name)")
        if r.status == 404 { return nil }
        return repo(try http.expect(r, [200], "get repository \(owner)/\(name)"), owner, name)
    }

    func login() throws -> String { try http.expect(try http.call("GET", "/user"), [200], "get the token's user")["login"]?.string ?? "" }

    func create(owner: String, name: String, personal: Bool, isPrivate: Bool, branch: String) throws -> ForgeRepo {
        var body: [(String, Node)] = [("name", .string(name)), ("private", .bool(isPrivate)), ("default_branch", .string(branch))]
        if autoInit { body.append(("auto_init", true)) }
        let r = try http.call("POST", personal ? "/user/repos" : "/orgs/\(owner)/repos", .map(body))
        return repo(try http.expect(r, [201], "create repository \(owner)/\(name)"), owner, name)
    }

    func addDeployKey(_ repo: ForgeRepo, title: String, key: String, readOnly: Bool) throws -> Bool {
        let list = try http.call("GET", "/repos/\(repo.owner)/\(repo.name)/keys")
        if (list.body?.array ?? []).contains(where: { sameKey($0["key"]?.string ?? "", key) }) { return false }
        let r = try http.call("POST", "/repos/\(repo.owner)/\(repo.name)/keys",
                              .map([("title", .string(title)), ("key", .string(key)), ("read_only", .bool(readOnly))]))
        _ = try http.expect(r, [201], "add the deploy key to \(repo.owner)/\(repo.name)")
        return true
    }
}

// MARK: GitLab (REST v4)

struct GitLabForge: GitForge {
    var http: ForgeHTTP
    var hostname: String
    var domain: String { hostname }

    init(hostname: String, token: String, caData: [UInt8]?) {
        http = ForgeHTTP(service: "GitLab", base: forgeBase(hostname, path: "/api/v4"), headers: [("PRIVATE-TOKEN", token)], caData: caData)
        self.hostname = hostname
    }

    func reference(owner: String, name: String) -> String { "\(forgeDomainURL(hostname))/\(owner)/\(name)" }

    static func encode(_ s: String) -> String { s.replacingOccurrences(of: "/", with: "%2F") }

    func repo(_ b: Node, _ owner: String, _ name: String) -> ForgeRepo {
        ForgeRepo(owner: owner, name: name, cloneURL: b["http_url_to_repo"]?.string ?? "", sshURL: b["ssh_url_to_repo"]?.string ?? "",
                  id: b["id"]?.text ?? "")
    }

    func repository(owner: String, name: String, personal: Bool) throws -> ForgeRepo? {
        let path = personal ? "\(owner)/\(name)" : "\(owner.lowercased())/\(name)"
        let r = try http.call("GET", "/projects/\(Self.encode(path))")
        if r.status == 404 { return nil }
        return repo(try http.expect(r, [200], "get project \(path)"), owner, name)
    }

    func login() throws -> String { try http.expect(try http.call("GET", "/user"), [200], "get the token's user")["username"]?.string ?? "" }

    func create(owner: String, name: String, personal: Bool, isPrivate: Bool, branch: String) throws -> ForgeRepo {
        var body: [(String, Node)] = [("name", .string(name)), ("default_branch", .string(branch)), ("description", ""),
                                      ("visibility", .string(isPrivate ? "private" : "public"))]
        if !personal {
            let g = try http.expect(try http.call("GET", "/groups/\(Self.encode(owner))"), [200], "get group \(owner)")
            body.append(("namespace_id", g["id"] ?? .null))
        }
        return repo(try http.expect(try http.call("POST", "/projects", .map(body)), [201], "create project \(owner)/\(name)"), owner, name)
    }

    func addDeployKey(_ repo: ForgeRepo, title: String, key: String, readOnly: Bool) throws -> Bool {
        let list = try http.call("GET", "/projects/\(repo.id)/deploy_keys")
        if (list.body?.array ?? []).contains(where: { sameKey($0["key"]?.string ?? "", key) }) { return false }
        let r = try http.call("POST", "/projects/\(repo.id)/deploy_keys",
                              .map([("title", .string(title)), ("key", .string(key)), ("can_push", .bool(!readOnly))]))
        _ = try http.expect(r, [201], "add the deploy key to \(repo.owner)/\(repo.name)")
        return true
    }

    /// A project deploy token named `name` with read_repository scope; nil when one of that name exists (its
    /// secret cannot be read back, so the source secret keeps the token it has), as go-git-providers reconciles it.
    func deployToken(_ repo: ForgeRepo, name: String) throws -> (username: String, token: String)? {
        let list = try http.call("GET", "/projects/\(repo.id)/deploy_tokens")
        if (list.body?.array ?? []).contains(where: { $0["name"]?.string == name && $0["revoked"]?.bool != true && $0["expired"]?.bool != true }) {
            return nil
        }
        let t = try http.expect(try http.call("POST", "/projects/\(repo.id)/deploy_tokens",
                                              .map([("name", .string(name)), ("scopes", ["read_repository"])])), [201], "create a deploy token")
        return (t["username"]?.string ?? "", t["token"]?.string ?? "")
    }
}

// MARK: Bitbucket Server (REST 1.0)

struct BitbucketServerForge: GitForge {
    var http: ForgeHTTP
    var hostname: String
    var domain: String { hostname }

    init(hostname: String, username: String, token: String, caData: [UInt8]?) {
        http = ForgeHTTP(service: "Bitbucket Server", base: forgeBase(hostname, path: ""),
                         headers: [("Authorization", "Basic " + Base64.encode("\(username):\(token)"))], caData: caData)
        self.hostname = hostname
    }

    /// Personal repositories live in the user's project `~USER`.
    static func key(_ owner: String, _ personal: Bool) -> String { personal ? "~" + owner : owner }

    func reference(owner: String, name: String) -> String { "\(forgeDomainURL(hostname))/\(owner)/\(name)" }

    func repo(_ b: Node, _ owner: String, _ name: String) -> ForgeRepo {
        let links = b["links"]?["clone"]?.array ?? []
        let href = { (n: String) in links.first { $0["name"]?.string == n }?["href"]?.string ?? "" }
        return ForgeRepo(owner: owner, name: name, cloneURL: href("http"), sshURL: href("ssh"),
                         id: "\(b["project"]?["key"]?.string ?? owner)/\(b["slug"]?.string ?? name)")
    }

    func repository(owner: String, name: String, personal: Bool) throws -> ForgeRepo? {
        let r = try http.call("GET", "/rest/api/1.0/projects/\(Self.key(owner, personal))/repos/\(name)")
        if r.status == 404 { return nil }
        return repo(try http.expect(r, [200], "get repository \(owner)/\(name)"), owner, name)
    }

    func login() throws -> String { "" }

    func create(owner: String, name: String, personal: Bool, isPrivate: Bool, branch: String) throws -> ForgeRepo {
        let body: Node = .map([("name", .string(name)), ("scmId", "git"), ("public", .bool(!isPrivate)), ("defaultBranch", .string(branch))])
        let r = try http.call("POST", "/rest/api/1.0/projects/\(Self.key(owner, personal))/repos", body)
        return repo(try http.expect(r, [201], "create repository \(owner)/\(name)"), owner, name)
    }

    func addDeployKey(_ repo: ForgeRepo, title: String, key: String, readOnly: Bool) throws -> Bool {
        let path = "/rest/keys/1.0/projects/\(repo.id.split(separator: "/")[0])/repos/\(repo.id.split(separator: "/")[1])/ssh"
        let list = try http.call("GET", path)
        if (list.body?["values"]?.array ?? []).contains(where: { sameKey($0["key"]?["text"]?.string ?? "", key) }) { return false }
        let r = try http.call("POST", path, .map([("key", .map([("text", .string(key)), ("label", .string(title))])),
                                                  ("permission", .string(readOnly ? "REPO_READ" : "REPO_WRITE"))]))
        _ = try http.expect(r, [201], "add the deploy key to \(repo.owner)/\(repo.name)")
        return true
    }
}
