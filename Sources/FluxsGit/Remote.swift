import CGit2
import Glibc

/// Credentials for a Git remote, as a GitRepository's Secret provides them.
public struct GitAuth: Sendable {
    public var username: String?
    public var password: String?
    public var bearerToken: String?
    /// SSH private key (PEM or OpenSSH format) and its passphrase.
    public var identity: String?
    public var identityPublic: String?
    public var knownHosts: KnownHosts?
    /// Extra CA certificate (PEM) for HTTPS.
    public var caFile: String?
    /// Proxy URL, credentials included.
    public var proxyURL: String?
    public init() {}

    /// The same settings without what proves who we are (for a host the credentials are not for): trust
    /// (CA, known_hosts) and the proxy stay.
    public var withoutCredentials: GitAuth {
        var a = self
        a.username = nil
        a.password = nil
        a.bearerToken = nil
        a.identity = nil
        a.identityPublic = nil
        return a
    }
}

/// One ref the remote advertises. `peeled` is the commit an annotated tag points to.
public struct RemoteRef: Sendable, Equatable {
    public var name: String
    public var oid: ObjectID
    public var peeled: ObjectID?
    /// The commit this ref names: the peeled id for annotated tags, else the id.
    public var commit: ObjectID { peeled ?? oid }

    /// Refs from an advertisement's (name, id) lines, where `<tag>^{}` lines give the commit of the tag before them.
    static func collect(_ lines: [(String, ObjectID)]) -> [RemoteRef] {
        var refs: [RemoteRef] = []
        var index: [String: Int] = [:]
        for (name, id) in lines {
            if name.hasSuffix("^{}") {
                if let j = index[String(name.dropLast(3))] { refs[j].peeled = id }
                continue
            }
            index[name] = refs.count
            refs.append(RemoteRef(name: name, oid: id, peeled: nil))
        }
        return refs
    }
}

/// `<repository URL>/<path>` for Git's smart HTTP endpoints (a trailing slash of the URL is dropped, as git does).
func smartHTTPURL(_ repository: String, _ path: String) -> String {
    var base = Substring(repository)
    while base.hasSuffix("/") { base = base.dropLast() }
    return base + "/" + path
}

/// The parts of a Git URL known_hosts and error messages need.
public struct GitURL: Sendable {
    public var scheme: String
    public var host: String
    public var port: Int?
    public init?(_ url: String) {
        let parts = url.split(separator: "://", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        scheme = parts[0].lowercased()
        var rest = parts[1]
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        if let at = rest.lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            port = after.hasPrefix(":") ? Int(after.dropFirst()) : nil
        } else if let colon = rest.lastIndex(of: ":") {
            host = String(rest[..<colon])
            port = Int(rest[rest.index(after: colon)...])
        } else {
            host = String(rest)
            port = nil
        }
    }
}

/// libgit2 follows a redirect of the first request to any host by default (git's `http.followRedirects=initial`)
/// and sends the credentials it holds, and those a 401 there asks for, to that host. fluxs resolves the first
/// redirect itself on smart HTTP (Sources/FluxsCore/Source/SmartHTTP.swift: credentials only to the same origin, as
/// git and curl) and lets libgit2 follow none to another host.
let noOffsiteRedirects = GIT_REMOTE_REDIRECT_NONE

/// State shared with libgit2's callbacks for one connection.
final class TransportContext {
    let auth: GitAuth
    let url: GitURL?
    let deadline: Double?
    var credentialAttempts = 0
    var failure: GitError?
    /// Refs a push could not update, with the server's reason.
    var rejections: [String] = []

    init(auth: GitAuth, url: String, deadline: Double?) {
        self.auth = auth
        self.url = GitURL(url)
        self.deadline = deadline
    }

    var expired: Bool {
        guard let deadline else { return false }
        return monotonicNow() > deadline
    }

    func fail(_ e: GitError) -> Int32 {
        failure = e
        git_error_set_str(Int32(GIT_ERROR_CALLBACK.rawValue), e.message)
        switch e.kind {
        case .auth: return GIT_EAUTH.rawValue
        case .certificate: return GIT_ECERTIFICATE.rawValue
        default: return GIT_EUSER.rawValue
        }
    }
}

func monotonicNow() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

private func context(_ payload: UnsafeMutableRawPointer?) -> TransportContext {
    Unmanaged<TransportContext>.fromOpaque(payload!).takeUnretainedValue()
}

private let credentialsCallback: git_credential_acquire_cb = { out, _, userFromURL, allowed, payload in
    let ctx = context(payload)
    ctx.credentialAttempts += 1
    if ctx.credentialAttempts > 1 {
        return ctx.fail(GitError(.auth, "authentication failed: the server rejected the credentials"))
    }
    let a = ctx.auth
    if allowed & GIT_CREDENTIAL_SSH_MEMORY.rawValue != 0 || allowed & GIT_CREDENTIAL_SSH_KEY.rawValue != 0, let key = a.identity {
        let user = userFromURL.map { String(cString: $0) } ?? a.username ?? "git"
        let rc = git_credential_ssh_key_memory_new(out, user, a.identityPublic, key, a.password)
        if rc < 0 { return ctx.fail(GitError(.auth, "cannot use the SSH identity: \(GitError.last(rc, "ssh key").message)")) }
        return 0
    }
    if allowed & GIT_CREDENTIAL_USERNAME.rawValue != 0 {
        let user = userFromURL.map { String(cString: $0) } ?? a.username ?? "git"
        return git_credential_username_new(out, user)
    }
    if allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT.rawValue != 0, let user = a.username, let pass = a.password {
        return git_credential_userpass_plaintext_new(out, user, pass)
    }
    if a.bearerToken != nil {
        return ctx.fail(GitError(.auth, "authentication failed: the server rejected the bearer token"))
    }
    return ctx.fail(GitError(.auth, "authentication required: the server asks for credentials and none are configured"))
}

private let certificateCallback: git_transport_certificate_check_cb = { cert, valid, host, payload in
    let ctx = context(payload)
    guard let cert else { return GIT_PASSTHROUGH.rawValue }
    if cert.pointee.cert_type == GIT_CERT_HOSTKEY_LIBSSH2 {
        let hk = UnsafeRawPointer(cert).assumingMemoryBound(to: git_cert_hostkey.self).pointee
        let hostName = host.map { String(cString: $0) } ?? ctx.url?.host ?? ""
        let name = KnownHosts.hostName(hostName, port: ctx.url?.port)
        guard let known = ctx.auth.knownHosts else {
            return ctx.fail(GitError(.certificate, "no known_hosts to verify the SSH host key of \(name)"))
        }
        let verdict: KnownHosts.Verdict
        if hk.type.rawValue & GIT_CERT_SSH_RAW.rawValue != 0, let p = hk.hostkey {
            let key = [UInt8](UnsafeRawBufferPointer(start: p, count: hk.hostkey_len))
            verdict = known.verify(name: name, key: key)
        } else if hk.type.rawValue & GIT_CERT_SSH_SHA1.rawValue != 0 {
            let fp = withUnsafeBytes(of: hk.hash_sha1) { [UInt8]($0) }
            verdict = known.verify(name: name, fingerprint: fp, hash: SHA1.hash)
        } else {
            verdict = .unknownHost
        }
        switch verdict {
        case .trusted: return 0
        case .mismatch:
            return ctx.fail(GitError(.certificate, "ssh: handshake failed: knownhosts: key mismatch: the host key of \(name) does not match its known_hosts entry"))
        case .revoked:
            return ctx.fail(GitError(.certificate, "ssh: handshake failed: knownhosts: key is revoked for \(name)"))
        case .unknownHost:
            return ctx.fail(GitError(.certificate, "ssh: handshake failed: knownhosts: key is unknown: \(name) has no entry in known_hosts"))
        }
    }
    if valid != 0 { return 0 }
    let name = host.map { String(cString: $0) } ?? "server"
    return ctx.fail(GitError(.certificate, tlsFailure(host: name, libgit2Message: git_error_last()?.pointee.message.map { String(cString: $0) } ?? "")))
}

/// Why libgit2 (mbedTLS) rejected a server certificate, from the verification flags it reports
/// ("the SSL certificate is invalid: 0x04 - ..."): MBEDTLS_X509_BADCERT_EXPIRED 0x01, _REVOKED 0x02, _CN_MISMATCH 0x04,
/// _NOT_TRUSTED 0x08, _FUTURE 0x200.
func tlsFailure(host: String, libgit2Message m: String) -> String {
    var flags = 0
    if let r = m.firstRange(of: "invalid: 0x") {
        flags = Int(m[r.upperBound...].prefix { $0.isHexDigit }, radix: 16) ?? 0
    }
    if flags & 0x04 != 0 {
        return "x509: the TLS certificate of \(host) is not valid for the name \(host) (it names other hosts); use the host name the certificate was issued for in spec.url"
    }
    if flags & 0x01 != 0 || flags & 0x200 != 0 {
        return "x509: the TLS certificate of \(host) has expired or is not yet valid"
    }
    if flags & 0x02 != 0 { return "x509: the TLS certificate of \(host) is revoked" }
    return "x509: the TLS certificate of \(host) is not signed by a trusted authority (add the CA as 'ca.crt' to the Secret)"
}

private let progressCallback: git_indexer_progress_cb = { _, payload in
    let ctx = context(payload)
    if ctx.expired { return ctx.fail(GitError(.timeout, "context deadline exceeded")) }
    return 0
}

private let pushUpdateCallback: git_push_update_reference_cb = { ref, status, payload in
    if let ref, let status { context(payload).rejections.append("\(String(cString: ref)): \(String(cString: status))") }
    return 0
}

private let sidebandCallback: git_transport_message_cb = { _, _, payload in
    let ctx = context(payload)
    if ctx.expired { return ctx.fail(GitError(.timeout, "context deadline exceeded")) }
    return 0
}

/// A repository used as a local mirror: bare, fetched into, read from. Owns its git_repository.
public final class Repository: @unchecked Sendable {
    let handle: OpaquePointer
    public let path: String

    private init(handle: OpaquePointer, path: String) {
        self.handle = handle
        self.path = path
    }

    deinit { git_repository_free(handle) }

    /// Opens the bare repository at `path`, creating it when absent.
    public static func openOrInitBare(_ path: String) throws -> Repository {
        Library.ensure()
        var repo: OpaquePointer?
        if git_repository_open_bare(&repo, path) == 0, let repo { return Repository(handle: repo, path: path) }
        try check(git_repository_init(&repo, path, 1), "git init \(path)")
        return Repository(handle: repo!, path: path)
    }

    /// Opens an existing repository (bare or with a work tree).
    public static func open(_ path: String) throws -> Repository {
        Library.ensure()
        var repo: OpaquePointer?
        try check(git_repository_open(&repo, path), "git open \(path)")
        return Repository(handle: repo!, path: path)
    }

    /// A remote for `url` with fluxs's transport callbacks (credentials, host key check, deadline), its proxy options
    /// and extra headers; `wrap` turns a libgit2 return code into the error a user can act on.
    private func withTransport<T>(url: String, auth: GitAuth, deadline: Double?,
                                  _ body: (OpaquePointer?, inout git_remote_callbacks, inout git_proxy_options, [String], (Int32, String) throws -> Void,
                                           TransportContext) throws -> T) throws -> T {
        var remote: OpaquePointer?
        try check(git_remote_create_anonymous(&remote, handle, url), "remote \(url)")
        defer { git_remote_free(remote) }
        let ctx = TransportContext(auth: auth, url: url, deadline: deadline)
        return try withExtendedLifetime(ctx) {
            let payload = Unmanaged.passUnretained(ctx).toOpaque()
            var callbacks = git_remote_callbacks()
            git_remote_init_callbacks(&callbacks, UInt32(GIT_REMOTE_CALLBACKS_VERSION))
            callbacks.credentials = credentialsCallback
            callbacks.certificate_check = certificateCallback
            callbacks.transfer_progress = progressCallback
            callbacks.sideband_progress = sidebandCallback
            callbacks.payload = payload
            var proxy = git_proxy_options()
            git_proxy_options_init(&proxy, UInt32(GIT_PROXY_OPTIONS_VERSION))
            let proxyURL = auth.proxyURL.map { strdup($0) }
            defer { proxyURL.map { free($0) } }
            if let proxyURL {
                proxy.type = GIT_PROXY_SPECIFIED
                proxy.url = UnsafePointer(proxyURL)
            } else {
                proxy.type = GIT_PROXY_AUTO
            }
            proxy.credentials = credentialsCallback
            proxy.payload = payload
            let headers = auth.bearerToken.map { ["Authorization: Bearer \($0)"] } ?? []
            if let ca = auth.caFile { try check(fluxs_git_set_ssl_cert_locations(ca, nil), "CA certificate") }
            func wrap(_ rc: Int32, _ what: String) throws {
                if rc >= 0 { return }
                if let f = ctx.failure { throw f }
                let e = GitError.last(rc, what)
                if ctx.expired { throw GitError(.timeout, "context deadline exceeded") }
                throw classify(e)
            }
            return try body(remote, &callbacks, &proxy, headers, wrap, ctx)
        }
    }

    /// Connects to `url`, lists its refs and, when `want` returns refspecs, fetches them over the same connection.
    /// One round trip when nothing needs fetching.
    public func sync(url: String, auth: GitAuth, deadline: Double?,
                     want: ([RemoteRef]) throws -> [String]) throws -> [RemoteRef] {
        try withTransport(url: url, auth: auth, deadline: deadline) { remote, callbacks, proxy, headers, wrap, _ in
            let refs: [RemoteRef] = try withStrarray(headers) { hdrs in
                var connect = git_remote_connect_options()
                git_remote_connect_options_init(&connect, UInt32(GIT_REMOTE_CONNECT_OPTIONS_VERSION))
                connect.callbacks = callbacks
                connect.proxy_opts = proxy
                connect.custom_headers = hdrs.pointee
                connect.follow_redirects = noOffsiteRedirects
                try wrap(git_remote_connect_ext(remote, GIT_DIRECTION_FETCH, &connect), "connect")
                return try listRefs(remote)
            }
            let specs = try want(refs)
            if specs.isEmpty {
                git_remote_disconnect(remote)
                return refs
            }
            var opts = git_fetch_options()
            git_fetch_options_init(&opts, UInt32(GIT_FETCH_OPTIONS_VERSION))
            opts.callbacks = callbacks
            opts.proxy_opts = proxy
            opts.follow_redirects = noOffsiteRedirects
            opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE
            opts.update_fetchhead = 0
            try withStrarray(headers) { hdrs in
                opts.custom_headers = hdrs.pointee
                try withStrarray(specs) { s in
                    try wrap(git_remote_fetch(remote, s, &opts, nil), "fetch")
                }
            }
            return refs
        }
    }

    /// Pushes `refspecs`; a ref the server refuses (not a fast-forward, protected branch) is an error with its reason.
    public func push(url: String, auth: GitAuth, deadline: Double?, refspecs: [String]) throws {
        let rejected: [String] = try withTransport(url: url, auth: auth, deadline: deadline) { remote, callbacks, proxy, headers, wrap, ctx in
            var opts = git_push_options()
            git_push_options_init(&opts, UInt32(GIT_PUSH_OPTIONS_VERSION))
            callbacks.push_update_reference = pushUpdateCallback
            opts.callbacks = callbacks
            opts.follow_redirects = noOffsiteRedirects
            opts.proxy_opts = proxy
            try withStrarray(headers) { hdrs in
                opts.custom_headers = hdrs.pointee
                try withStrarray(refspecs) { s in
                    try wrap(git_remote_push(remote, s, &opts), "push")
                }
            }
            return ctx.rejections
        }
        if let first = rejected.first { throw GitError(.rejected, "push rejected: \(first)") }
    }

    /// Turns libgit2's transport messages into the causes a user can act on.
    func classify(_ e: GitError) -> GitError {
        let m = e.message
        let lower = m.lowercased()
        if lower.contains("401") || lower.contains("authentication") || lower.contains("unauthorized") || e.kind == .auth {
            return GitError(.auth, "authentication required: \(m)")
        }
        if lower.contains("403") { return GitError(.auth, "authorization failed: \(m)") }
        if lower.contains("404") || lower.contains("not found") || lower.contains("does not appear to be a git repository") {
            return GitError(.notFound, "repository not found: \(m)")
        }
        return e
    }

    private func listRefs(_ remote: OpaquePointer?) throws -> [RemoteRef] {
        var heads: UnsafeMutablePointer<UnsafePointer<git_remote_head>?>?
        var count = 0
        try check(git_remote_ls(&heads, &count, remote), "ls-remote")
        var advertised: [(String, ObjectID)] = []
        for i in 0..<count {
            guard let h = heads?[i]?.pointee, let cname = h.name else { continue }
            advertised.append((String(cString: cname), ObjectID(h.oid)))
        }
        return RemoteRef.collect(advertised)
    }

    /// The id a local ref points to, if it exists.
    public func resolve(_ ref: String) -> ObjectID? {
        var oid = git_oid()
        guard git_reference_name_to_id(&oid, handle, ref) == 0 else { return nil }
        return ObjectID(oid)
    }

    /// The commit an object (commit or annotated tag) leads to, if the object is present.
    public func peelToCommit(_ id: ObjectID) -> Commit? {
        var oid = id.raw
        var obj: OpaquePointer?
        guard git_object_lookup(&obj, handle, &oid, GIT_OBJECT_ANY) == 0 else { return nil }
        defer { git_object_free(obj) }
        var peeled: OpaquePointer?
        guard git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT) == 0, let peeled else { return nil }
        return Commit(handle: peeled, repo: self)
    }

    /// Whether `descendant` is `ancestor` or has it in its history.
    public func isAncestor(_ ancestor: ObjectID, of descendant: ObjectID) -> Bool {
        if ancestor == descendant { return true }
        var a = ancestor.raw, d = descendant.raw
        return git_graph_descendant_of(handle, &d, &a) == 1
    }
}

/// A commit of a Repository; owns its git_commit (a git_object).
public final class Commit: @unchecked Sendable {
    let handle: OpaquePointer
    let repo: Repository

    init(handle: OpaquePointer, repo: Repository) {
        self.handle = handle
        self.repo = repo
    }

    deinit { git_object_free(handle) }

    public var id: ObjectID { ObjectID(git_commit_id(handle).pointee) }
    public var message: String { git_commit_message(handle).map { String(cString: $0) } ?? "" }

    /// Every entry of the commit's tree, depth first in git's (byte) order.
    public func walk(_ visit: (TreeEntry) throws -> Void) throws {
        var tree: OpaquePointer?
        try check(git_commit_tree(&tree, handle), "tree of \(id)")
        defer { git_tree_free(tree) }
        try walkTree(tree!, prefix: "", visit)
    }

    private func walkTree(_ tree: OpaquePointer, prefix: String, _ visit: (TreeEntry) throws -> Void) throws {
        let n = git_tree_entrycount(tree)
        for i in 0..<n {
            guard let e = git_tree_entry_byindex(tree, i) else { continue }
            let name = String(cString: git_tree_entry_name(e))
            let path = prefix.isEmpty ? name : prefix + "/" + name
            let mode = git_tree_entry_filemode(e).rawValue
            let oid = git_tree_entry_id(e).pointee
            switch git_tree_entry_type(e) {
            case GIT_OBJECT_TREE:
                try visit(TreeEntry(path: path, kind: .directory, id: ObjectID(oid), repo: repo))
                var sub: OpaquePointer?
                var o = oid
                try check(git_tree_lookup(&sub, repo.handle, &o), "tree \(path)")
                defer { git_tree_free(sub) }
                try walkTree(sub!, prefix: path, visit)
            case GIT_OBJECT_BLOB:
                let kind: TreeEntry.Kind = mode == GIT_FILEMODE_LINK.rawValue ? .symlink
                    : mode == GIT_FILEMODE_BLOB_EXECUTABLE.rawValue ? .executable : .file
                try visit(TreeEntry(path: path, kind: kind, id: ObjectID(oid), repo: repo))
            case GIT_OBJECT_COMMIT:
                try visit(TreeEntry(path: path, kind: .submodule, id: ObjectID(oid), repo: repo))
            default: continue
            }
        }
    }
}

/// One entry of a commit's tree.
public struct TreeEntry {
    public enum Kind: Sendable { case directory, file, executable, symlink, submodule }
    public var path: String
    public var kind: Kind
    public var id: ObjectID
    let repo: Repository

    /// The content of a file or the target of a symlink.
    public func contents() throws -> [UInt8] {
        var blob: OpaquePointer?
        var oid = id.raw
        try check(git_blob_lookup(&blob, repo.handle, &oid), "blob \(path)")
        defer { git_blob_free(blob) }
        let size = Int(git_blob_rawsize(blob))
        guard size > 0, let p = git_blob_rawcontent(blob) else { return [] }
        return [UInt8](UnsafeRawBufferPointer(start: p, count: size))
    }
}
