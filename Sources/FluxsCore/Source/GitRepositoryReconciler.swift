import FluxsAPI
import FluxsGit
import FluxsKube
import FluxsYAML
#if canImport(Glibc)
import Glibc
#endif

/// Reconciles a GitRepository as source-controller does: resolve the ref on the remote, fetch what is missing into
/// a local mirror, archive the tree (after ignore rules) as a reproducible tar.gz, and write the status.
public struct GitRepositoryReconciler: OnDemandReconciler {
    public static let controller = "source-controller"

    public init() {}

    /// A failure with the condition it sets.
    struct Failure: Error, CustomStringConvertible {
        var condition: String
        var reason: String
        var message: String
        var description: String { message }
    }

    /// What the ref in spec resolves to.
    struct Resolution: Sendable {
        var revision: String
        var commit: ObjectID
        var commitSubject: String
    }

    public func reconcile(_ object: Node, env: ReconcileEnv) throws -> Node {
        let kube = env.kube
        let ref = FluxKinds.gitRepository.resource
        let ns = object["metadata"]?["namespace"]?.string ?? ""
        let name = object["metadata"]?["name"]?.string ?? ""
        let generation = object["metadata"]?["generation"]?.int ?? 0
        let spec = try APICoding.decode(GitRepositorySpec.self, from: object["spec"] ?? .emptyMap)
        var status = try object["status"].map { try APICoding.decode(GitRepositoryStatus.self, from: $0) } ?? GitRepositoryStatus()
        let requested = ReconcileRequest.value(object)
        let recorder = EventRecorder(kube: kube, component: Self.controller, storage: env.storage, warn: env.warn)
        func now() -> String { Clock.rfc3339() }

        // Start: the object is reconciling.
        status.conditions.set(ConditionType.reconciling, true, reason: "Progressing", message: "reconciliation in progress", generation: generation, now: now())
        if status.conditions.get(ConditionType.ready)?.status != "False" {
            status.conditions.set(ConditionType.ready, Bool?.none, reason: "Progressing", message: "reconciliation in progress", generation: generation, now: now())
        }
        // The "reconciliation in progress" status is written with the next status write (before a fetch
        // or the final one): a no-op reconcile costs one status write, not two.
        var live = object

        let timeout = spec.timeout.flatMap { try? GoDuration.parse($0.text) } ?? 60
        // One deadline for the whole checkout (ref probe, fetch, fallback, submodules): spec.timeout, or less when
        // --timeout ends first.
        let seconds = min(timeout, max(0, kube.remaining))
        let bound = timeout <= kube.remaining ? "spec.timeout \(GoDuration.format(timeout))" : "--timeout \(GoDuration.format(kube.timeout))"
        let checkoutDeadline = monotonicSeconds() + seconds
        var outcome: Result<Resolution, Failure>
        var noop = false
        var auth = GitAuth()
        defer { if let ca = auth.caFile { Files.remove(ca) } }
        // The mirror is this process's from the fetch until the artifact is built (other objects, other processes with
        // the same storage and URL wait: two fetches into one mirror fail on libgit2's lock files or lose commits).
        var mirrorLock: FileLock?
        defer { mirrorLock?.unlock() }
        do {
            try unsupported(spec)
            if let t = spec.timeout {
                do { _ = try GoDuration.parse(t.text) } catch {
                    throw Failure(condition: ConditionType.fetchFailed, reason: "GitOperationFailed", message: "spec.timeout: \(error)")
                }
            }
            auth = try credentials(kube, spec, ns)
            let auth = auth
            let storage = env.storage
            let previous = status.artifact
            let artifactCurrent = previous.map { storage.has($0) } ?? false
            let sameIgnore: Bool = status.observedIgnore == spec.ignore
            let sameSubmodules: Bool = status.observedRecurseSubmodules == spec.recurseSubmodules
            let observedIncludes: [String] = status.observedInclude.map { "\($0.repository.name)|\($0.fromPath)|\($0.toPath)" }
            let specIncludes: [String] = spec.include.map { "\($0.repository.name)|\($0.fromPath)|\($0.toPath)" }
            let sameSparse: Bool = status.observedSparseCheckout == spec.sparseCheckout
            let observedSame = sameIgnore && sameSubmodules && observedIncludes == specIncludes && sameSparse && spec.include.isEmpty
            env.log("fetching \(redact(spec.url)) (timeout \(GoDuration.format(seconds)))")
            let plan = GitPlan(spec: spec)
            let mirrorPath = storage.mirror(url: spec.url)
            mirrorLock = try FileLock.acquire(storage.lockFile(forMirror: mirrorPath), deadline: checkoutDeadline,
                                              waiting: { env.log("waiting for another fluxs process to finish with the Git mirror of \(redact(spec.url))") })
            let url = spec.url
            func left() -> Double { max(0.001, checkoutDeadline - monotonicSeconds()) }
            func timedOut(_ what: String) -> Failure {
                Failure(condition: ConditionType.fetchFailed, reason: "GitOperationFailed",
                        message: "failed to checkout and determine revision: unable to clone '\(redact(url))': context deadline exceeded (\(what) did not finish within \(bound))")
            }
            // Over HTTP(S) fluxs talks smart HTTP itself: one request tells whether the remote ref still names the
            // stored revision (libgit2 is not started), and a changed ref is fetched at depth 1, both within the
            // limits of docs/security.md. SSH, proxies, pinned commits and servers that are not smart HTTP take the
            // libgit2 path below.
            // The first request's redirects are resolved there too (credentials only to spec.url's origin); libgit2
            // then starts at the resolved URL and follows no redirect to another host.
            var gitURL = url
            var gitAuth = auth
            func viaHTTP() throws -> (Resolution, Bool)? {
                guard let http = SmartHTTP(url: url, auth: auth) else { return nil }
                let probed: [RemoteRef]?
                do { probed = try http.refs(timeout: left(), keep: plan.wants, log: env.log) } catch let t as TransportError where t.kind == .timeout {
                    throw timedOut("the ref listing")
                }
                gitURL = http.url
                if !http.sendsCredentials { gitAuth = auth.withoutCredentials }
                // libgit2 takes over for pinned commits (the "on the branch" check needs history), answers that are
                // not an advertisement, and servers that cannot fetch shallow. A ref the advertisement lacks is the
                // answer: libgit2 would only read the same advertisement again.
                guard plan.commit.isEmpty, let refs = probed, http.capabilities.contains("shallow"),
                      let r = try plan.resolve(refs) else { return nil }
                let revision = plan.revision(r.name, r.commitHint)
                if let prev = previous, artifactCurrent, observedSame, prev.revision == revision {
                    env.log("remote ref unchanged (one smart-HTTP request, libgit2 not started)")
                    return (Resolution(revision: revision, commit: r.commitHint, commitSubject: ""), true)
                }
                do {
                    return try Blocking.run(seconds: left() + 0.5) {
                        try Files.makeDirectories(Files.dirname(mirrorPath), mode: 0o700)
                        // Each fetch adds a pack; past 50 the mirror starts again (one depth-1 fetch) instead of
                        // slowing every lookup down.
                        if Files.list(mirrorPath + "/objects/pack").filter({ $0.hasSuffix(".pack") }).count > 50 {
                            Files.removeTree(mirrorPath)
                        }
                        let repo = try Repository.openOrInitBare(mirrorPath)
                        if repo.peelToCommit(r.id) == nil {
                            try http.fetch(r.id, into: repo, timeout: left())
                            env.log("fetched \(r.name) at depth 1")
                        }
                        try repo.setRef(r.name, to: r.id)
                        return (try plan.checkout(repo, r), false)
                    }
                } catch {
                    // Out of time is not "something unexpected": libgit2 would only wait again.
                    if error is Blocking.DeadlineExceeded || (error as? TransportError)?.kind == .timeout || monotonicSeconds() >= checkoutDeadline {
                        throw timedOut("the fetch")
                    }
                    // A server that advertised well and then fails the fetch gets no second, unbounded try through
                    // libgit2 (which would read its advertisement again without limits).
                    if let t = error as? TransportError { throw SmartHTTP.Refusal(description: t.detail) }
                    throw error
                }
            }
            let result: (Resolution, Bool) = try viaHTTP() ?? Blocking.run(seconds: left() + 0.5) { [gitURL, gitAuth] in
                try Files.makeDirectories(Files.dirname(mirrorPath), mode: 0o700)
                var repo = try Repository.openOrInitBare(mirrorPath)
                if !repo.shallowCommits.isEmpty {
                    // libgit2 1.5 cannot negotiate from a shallow mirror: start it again, whole.
                    Files.removeTree(mirrorPath)
                    repo = try Repository.openOrInitBare(mirrorPath)
                }
                var resolved: (name: String, id: ObjectID, commitHint: ObjectID)?
                var skip = false
                _ = try repo.sync(url: gitURL, auth: gitAuth, deadline: checkoutDeadline) { refs in
                    let r = try plan.resolve(refs)
                    resolved = r
                    if let prev = previous, artifactCurrent, observedSame,
                       prev.revision == plan.revision(r?.name ?? "", r?.commitHint ?? ObjectID(hex: plan.commit)!) {
                        skip = true
                        return []
                    }
                    // Fetch only what the mirror lacks.
                    let pinned = ObjectID(hex: plan.commit)
                    let hasPinned = pinned.map { repo.peelToCommit($0) != nil } ?? true
                    if let r {
                        if repo.resolve(r.name) == r.id && repo.peelToCommit(r.id) != nil && hasPinned { return [] }
                        return plan.refspecs(r.name)
                    }
                    return hasPinned ? [] : plan.refspecs(nil)
                }
                let res = try plan.checkout(repo, resolved)
                return (res, skip)
            }
            noop = result.1
            outcome = .success(result.0)
            if noop {
                env.log("no changes since last reconciliation: observed revision '\(result.0.revision)'")
            }
        } catch let f as Failure {
            outcome = .failure(f)
        } catch let r as SmartHTTP.Refusal {
            outcome = .failure(Failure(condition: ConditionType.fetchFailed, reason: "GitOperationFailed",
                                       message: "failed to checkout and determine revision: unable to clone '\(redact(spec.url))': \(redactMessage(r.description))"))
        } catch let e as GitError {
            outcome = .failure(Failure(condition: ConditionType.fetchFailed, reason: "GitOperationFailed",
                                       message: "failed to checkout and determine revision: unable to clone '\(redact(spec.url))': \(explain(e, spec, ns))"))
        } catch is Blocking.DeadlineExceeded {
            outcome = .failure(Failure(condition: ConditionType.fetchFailed, reason: "GitOperationFailed",
                                       message: "failed to checkout and determine revision: unable to clone '\(redact(spec.url))': context deadline exceeded (the Git server did not answer within \(bound))"))
        } catch let e as KubeError {
            throw e
        } catch {
            outcome = .failure(Failure(condition: ConditionType.fetchFailed, reason: "GitOperationFailed",
                                       message: "failed to checkout and determine revision: \(error)"))
        }

        switch outcome {
        case .failure(let f):
            return try fail(f)
        case .success(let res):
            if !noop {
                // A new revision: say so while the artifact is built, as source-controller does.
                let msg = "building artifact: new upstream revision '\(res.revision)'"
                if status.artifact?.revision != res.revision {
                    status.conditions.set(ConditionType.artifactOutdated, true, reason: "NewRevision", message: "new upstream revision '\(res.revision)'", generation: generation, now: now())
                }
                status.conditions.set(ConditionType.reconciling, true, reason: "Progressing", message: msg, generation: generation, now: now())
                live = try patchStatus(kube, ref, ns, name, status)
                do {
                    let artifact = try buildArtifact(env: env, spec: spec, ns: ns, name: name, resolution: res, auth: auth, deadline: checkoutDeadline)
                    status.artifact = artifact
                    status.observedIgnore = spec.ignore
                    status.observedRecurseSubmodules = spec.recurseSubmodules
                    status.observedInclude = spec.include
                    status.observedSparseCheckout = spec.sparseCheckout
                    recorder.record(live, type: "Normal", reason: "NewArtifact",
                                    message: "stored artifact for commit '\(res.commitSubject)'",
                                    annotations: ["source.toolkit.fluxcd.io/revision": res.revision])
                } catch let f as Failure {
                    return try fail(f)
                }
            }
            let message = "stored artifact for revision '\(res.revision)'"
            status.conditions.set(ConditionType.artifactInStorage, true, reason: "Succeeded", message: message, generation: generation, now: now())
            for c in [ConditionType.fetchFailed, ConditionType.artifactOutdated, ConditionType.storageOperationFailed,
                      ConditionType.includeUnavailable, ConditionType.stalled, ConditionType.reconciling] {
                status.conditions.delete(c)
            }
            status.conditions.set(ConditionType.ready, true, reason: "Succeeded", message: message, generation: generation, now: now())
            status.observedGeneration = generation
            if let requested { status.lastHandledReconcileAt = requested }
            return try patchStatus(kube, ref, ns, name, status)
        }

        func fail(_ f: Failure) throws -> Node {
            // The reason is recorded even when the failure was the deadline itself.
            kube.allowGrace(KustomizationReconciler.statusGrace)
            status.conditions.set(f.condition, true, reason: f.reason, message: f.message, generation: generation, now: now())
            if var r = status.conditions.get(ConditionType.reconciling) {
                r.reason = "ProgressingWithRetry"
                status.conditions.set(r.type, true, reason: r.reason, message: r.message, generation: generation, now: now())
            }
            status.conditions.delete(ConditionType.stalled)
            status.conditions.set(ConditionType.ready, false, reason: f.reason, message: f.message, generation: generation, now: now())
            if let requested { status.lastHandledReconcileAt = requested }
            let out = try patchStatus(kube, ref, ns, name, status)
            recorder.record(out, type: "Warning", reason: f.reason, message: f.message)
            return out
        }
    }

    /// Writes the status through the status subresource (merge patch, field manager of the controller).
    func patchStatus(_ kube: KubeClient, _ ref: ResourceRef, _ ns: String, _ name: String, _ status: GitRepositoryStatus) throws -> Node {
        let body: Node = ["status": try APICoding.node(status)]
        do {
            return try kube.patch(ref, namespace: ns, name: name, type: .merge, patch: body, subresource: "status", fieldManager: Self.controller)
        } catch let e as KubeError {
            throw e.naming("GitRepository/\(ns)/\(name) status update failed")
        }
    }

    /// Settings fluxs does not implement yet fail plainly instead of producing a different artifact.
    func unsupported(_ spec: GitRepositorySpec) throws {
        func no(_ what: String) -> Failure {
            Failure(condition: ConditionType.fetchFailed, reason: "GitOperationFailed",
                    message: "\(what) is not supported by fluxs yet; reconcile this GitRepository with source-controller")
        }
        if spec.verify != nil { throw no("spec.verify (commit signature verification)") }
        if !spec.provider.isEmpty && spec.provider != "generic" { throw no("spec.provider '\(spec.provider)'") }
    }

    // MARK: credentials

    func credentials(_ kube: KubeClient, _ spec: GitRepositorySpec, _ ns: String) throws -> GitAuth {
        var auth = GitAuth()
        let scheme = GitURL(spec.url)?.scheme ?? ""
        if let p = spec.proxySecretRef {
            let data = try secretData(kube, ns, p.name)
            guard var address = data["address"], !address.isEmpty else {
                throw Failure(condition: ConditionType.fetchFailed, reason: "AuthenticationFailed",
                              message: "failed to configure proxy options: invalid proxy secret '\(ns)/\(p.name)': key 'address' is missing")
            }
            if let u = data["username"], let pw = data["password"], let r = address.firstIndex(of: "/"), address[r...].hasPrefix("//") {
                let at = address.index(r, offsetBy: 2)
                address.insert(contentsOf: "\(percentEncode(u)):\(percentEncode(pw))@", at: at)
            }
            auth.proxyURL = address
        }
        guard let secretRef = spec.secretRef else {
            if scheme == "ssh" {
                throw Failure(condition: ConditionType.fetchFailed, reason: "AuthenticationFailed",
                              message: "failed to configure authentication options: invalid 'ssh' auth option: 'identity' is required")
            }
            return auth
        }
        let data = try secretData(kube, ns, secretRef.name)
        switch scheme {
        case "ssh":
            guard let id = data["identity"], !id.isEmpty else {
                throw Failure(condition: ConditionType.fetchFailed, reason: "AuthenticationFailed",
                              message: "failed to configure authentication options: invalid 'ssh' auth option: 'identity' is required")
            }
            guard let kh = data["known_hosts"], !kh.isEmpty else {
                throw Failure(condition: ConditionType.fetchFailed, reason: "AuthenticationFailed",
                              message: "failed to configure authentication options: invalid 'ssh' auth option: 'known_hosts' is required")
            }
            auth.identity = id
            auth.identityPublic = data["identity.pub"]
            auth.knownHosts = KnownHosts(kh)
            auth.password = data["password"]
            if isEncryptedKey(id) && (data["password"] ?? "").isEmpty {
                throw Failure(condition: ConditionType.fetchFailed, reason: "AuthenticationFailed",
                              message: "SSH identity key is encrypted but no 'password' field was provided in the secret '\(ns)/\(secretRef.name)'")
            }
        default:
            auth.username = data["username"]
            auth.password = data["password"]
            auth.bearerToken = data["bearerToken"]
            if auth.username == nil && auth.password != nil {
                throw Failure(condition: ConditionType.fetchFailed, reason: "AuthenticationFailed",
                              message: "failed to configure authentication options: invalid 'http' auth option: 'password' requires 'username' to be set")
            }
            if let ca = data["ca.crt"] ?? data["caFile"], !ca.isEmpty, scheme == "https" {
                let path = Files.absolute(tempPath("ca"))
                try Files.writeAtomically(path, Array(ca.utf8), mode: 0o600)
                auth.caFile = path
            }
        }
        return auth
    }

    func secretData(_ kube: KubeClient, _ ns: String, _ name: String) throws -> [String: String] {
        let problem: String
        do {
            if let data = try kube.stringData(of: .secrets, namespace: ns, name: name) { return data }
            problem = "secrets \"\(name)\" not found"
        } catch let e as KubeError {
            problem = e.message
        }
        throw Failure(condition: ConditionType.fetchFailed, reason: "AuthenticationFailed",
                      message: "failed to get secret '\(ns)/\(name)': \(problem)")
    }

    func isEncryptedKey(_ pem: String) -> Bool {
        if pem.contains("ENCRYPTED") { return true }
        // OpenSSH format: the cipher name follows the magic; "none" means unencrypted.
        let body = pem.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        guard pem.contains("OPENSSH PRIVATE KEY"), let raw = Base64.decode(body), raw.count > 30 else { return false }
        let magic = Array("openssh-key-v1\u{0}".utf8)
        guard Array(raw.prefix(magic.count)) == magic else { return false }
        let n = Int(raw[15]) << 24 | Int(raw[16]) << 16 | Int(raw[17]) << 8 | Int(raw[18])
        guard 19 + n <= raw.count else { return false }
        return String(decoding: raw[19..<(19 + n)], as: UTF8.self) != "none"
    }

    /// Adds what the user can do about a transport error.
    func explain(_ e: GitError, _ spec: GitRepositorySpec, _ ns: String) -> String {
        switch e.kind {
        case .auth:
            if let s = spec.secretRef { return "\(e.message) (credentials from Secret '\(ns)/\(s.name)')" }
            return "\(e.message) (set spec.secretRef to a Secret with credentials)"
        default:
            return redactMessage(e.message)
        }
    }

    // MARK: artifact

    func buildArtifact(env: ReconcileEnv, spec: GitRepositorySpec, ns: String, name: String, resolution: Resolution,
                       auth: GitAuth, deadline: Double) throws -> Artifact {
        let storage = env.storage
        let mirror = storage.mirror(url: spec.url)
        let tarball: [UInt8]
        do {
            let repo = try Repository.openOrInitBare(mirror)
            guard let commit = repo.peelToCommit(resolution.commit) else {
                throw Failure(condition: ConditionType.fetchFailed, reason: "GitOperationFailed",
                              message: "failed to checkout and determine revision: commit '\(resolution.commit)' is missing from the local mirror")
            }
            var files: [(path: String, kind: TreeEntry.Kind, entry: TreeEntry)] = []
            try collect(commit, prefix: "", url: spec.url, depth: 0, submodules: spec.recurseSubmodules,
                        storage: storage, auth: auth, deadline: deadline, into: &files)
            var userPatterns: [IgnorePattern] = []
            for (path, kind, e) in files where kind == .file || kind == .executable {
                if path == ".sourceignore" || path.hasSuffix("/.sourceignore") {
                    let dir = path.split(separator: "/").dropLast().map(String.init)
                    userPatterns += SourceIgnore.read(String(decoding: try e.contents(), as: UTF8.self), domain: dir)
                }
            }
            // Patterns of deeper .sourceignore files come after those of their parents (go-git loads them that way).
            if let ignore = spec.ignore { userPatterns += SourceIgnore.read(ignore) }
            for dir in spec.sparseCheckout {
                let d = dir.trimmingSlashes()
                if !d.isEmpty && d != "." && !files.contains(where: { $0.path == d && $0.kind == .directory }) {
                    throw Failure(condition: ConditionType.fetchFailed, reason: "GitOperationFailed",
                                  message: "failed to sparse checkout directories : sparse checkout dir '\(dir)' does not exist in repository")
                }
            }
            let sparse = spec.sparseCheckout.map { $0.trimmingSlashes() }.filter { !$0.isEmpty && $0 != "." }
            let filter = SourceIgnore(userPatterns: userPatterns)
            let w = try TarGzWriter()
            try w.append(Tar.Entry(path: ".", kind: .directory, mode: 0o750))
            for f in files.sorted(by: { walkOrder($0.path, $1.path) }) {
                if !sparse.isEmpty && !sparse.contains(where: { f.path == $0 || f.path.hasPrefix($0 + "/") || $0.hasPrefix(f.path + "/") }) { continue }
                switch f.kind {
                case .directory:
                    if filter.ignores(f.path, isDir: true) { continue }
                    try w.append(Tar.Entry(path: f.path, kind: .directory, mode: 0o750))
                case .file, .executable:
                    if filter.ignores(f.path, isDir: false) { continue }
                    try w.append(Tar.Entry(path: f.path, kind: .file, mode: f.kind == .executable ? 0o700 : 0o600, data: try f.entry.contents()))
                case .submodule:
                    // A directory, empty unless recurseSubmodules checked it out (go-git creates it either way).
                    if !filter.ignores(f.path, isDir: true) {
                        try w.append(Tar.Entry(path: f.path, kind: .directory, mode: 0o750))
                    }
                case .symlink:
                    continue   // symlinks are left out of artifacts, as upstream
                }
            }
            try includes(env: env, spec: spec, ns: ns, into: w)
            tarball = try w.finish()
        } catch let f as Failure {
            throw f
        } catch {
            throw Failure(condition: ConditionType.storageOperationFailed, reason: "ArchiveOperationFailed",
                          message: "unable to archive artifact to storage: \(error)")
        }
        let file = resolution.commit.hex + ".tar.gz"
        let rel = storage.artifactPath(kind: "GitRepository", namespace: ns, name: name, file: file)
        do {
            let (digest, size) = try storage.write(rel, tarball)
            storage.garbageCollect(kind: "GitRepository", namespace: ns, name: name, keep: [file])
            var a = Artifact()
            a.path = rel
            a.url = storage.url(rel)
            a.revision = resolution.revision
            a.digest = digest
            a.lastUpdateTime = Time(Clock.rfc3339())
            a.size = size
            return a
        } catch {
            throw Failure(condition: ConditionType.storageOperationFailed, reason: "ArchiveOperationFailed",
                          message: "unable to archive artifact to storage: \(error)")
        }
    }

    /// The entries of a commit's tree under `prefix`; with `submodules`, each submodule's tree too, fetched into
    /// its own mirror from the URL in .gitmodules (relative URLs resolved against `url`), up to git's depth of 10.
    func collect(_ commit: Commit, prefix: String, url: String, depth: Int, submodules: Bool, storage: Storage,
                 auth: GitAuth, deadline: Double, into files: inout [(path: String, kind: TreeEntry.Kind, entry: TreeEntry)]) throws {
        var subs: [(path: String, id: ObjectID)] = []
        var gitmodules: TreeEntry?
        try commit.walk { e in
            let path = prefix.isEmpty ? e.path : prefix + "/" + e.path
            files.append((path, e.kind, e))
            if e.kind == .submodule { subs.append((e.path, e.id)) }
            if e.path == ".gitmodules" && e.kind == .file { gitmodules = e }
        }
        guard submodules, !subs.isEmpty else { return }
        func failure(_ m: String) -> Failure {
            Failure(condition: ConditionType.fetchFailed, reason: "GitOperationFailed", message: "failed to checkout and determine revision: \(m)")
        }
        guard depth < 10 else { throw failure("submodules nested deeper than 10 levels at '\(prefix)'") }
        let modules = GitModules(try gitmodules.map { String(decoding: try $0.contents(), as: UTF8.self) } ?? "")
        for (path, id) in subs {
            let full = prefix.isEmpty ? path : prefix + "/" + path
            guard let m = modules.module(at: path) else { throw failure("submodule '\(full)' has no URL in .gitmodules") }
            let subURL = GitModules.resolve(m.url, relativeTo: url)
            if let why = GitModules.refusal(subURL) { throw failure("submodule '\(full)': \(why)") }
            // The GitRepository's credentials are for its own host: a submodule elsewhere is fetched without them.
            let subAuth = GitModules.sameHost(subURL, url) ? auth : auth.withoutCredentials
            let mirror = storage.mirror(url: subURL)
            do {
                try Blocking.run(seconds: max(0.001, deadline - monotonicSeconds()) + 0.5) {
                    try Files.makeDirectories(Files.dirname(mirror), mode: 0o700)
                    let repo = try Repository.openOrInitBare(mirror)
                    guard repo.peelToCommit(id) == nil else { return }
                    _ = try repo.sync(url: subURL, auth: subAuth, deadline: deadline) { _ in
                        ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"]
                    }
                }
            } catch let e as GitError {
                throw failure("unable to fetch submodule '\(full)' from '\(redact(subURL))': \(redactMessage(e.message))")
            } catch is Blocking.DeadlineExceeded {
                throw failure("unable to fetch submodule '\(full)' from '\(redact(subURL))': context deadline exceeded")
            }
            guard let sub = try Repository.openOrInitBare(mirror).peelToCommit(id) else {
                throw failure("submodule '\(full)': commit \(id.hex) is not on any branch or tag of '\(redact(subURL))'")
            }
            try collect(sub, prefix: full, url: subURL, depth: depth + 1, submodules: true, storage: storage,
                        auth: auth, deadline: deadline, into: &files)
        }
    }

    /// The files of included GitRepositories, written under their toPath.
    func includes(env: ReconcileEnv, spec: GitRepositorySpec, ns: String, into w: TarGzWriter) throws {
        guard !spec.include.isEmpty else { return }
        let ref = try env.kube.resource(apiVersion: FluxKinds.gitRepository.apiVersion, kind: "GitRepository")
        for inc in spec.include {
            let other: Node
            do { other = try env.kube.get(ref, namespace: ns, name: inc.repository.name) } catch let e as KubeError {
                throw Failure(condition: ConditionType.includeUnavailable, reason: "NotFound",
                              message: "could not get resource for include '\(inc.repository.name)': \(e.message)")
            }
            guard let a = try other["status"]?["artifact"].map({ try APICoding.decode(Artifact.self, from: $0) }) else {
                throw Failure(condition: ConditionType.includeUnavailable, reason: "NoArtifact",
                              message: "no artifact available for include '\(inc.repository.name)'")
            }
            let bytes: [UInt8]
            do { bytes = try env.storage.fetch(a) { try HTTPDownload.get($0) } } catch {
                throw Failure(condition: ConditionType.includeUnavailable, reason: "NoArtifact",
                              message: "no artifact available for include '\(inc.repository.name)': \(error)")
            }
            let from = inc.fromPath.trimmingSlashes()
            let to = inc.toPath.isEmpty ? inc.repository.name : inc.toPath.trimmingSlashes()
            // Parent directories of toPath first.
            var acc = ""
            for part in to.split(separator: "/") {
                acc = acc.isEmpty ? String(part) : acc + "/" + part
                try w.append(Tar.Entry(path: acc, kind: .directory, mode: 0o750))
            }
            try Tar.forEach(gzip: bytes) { e in
                let p: String
                if from.isEmpty || from == "." { p = e.path }
                else if e.path == from { return }
                else if e.path.hasPrefix(from + "/") { p = String(e.path.dropFirst(from.count + 1)) }
                else { return }
                try w.append(Tar.Entry(path: to + "/" + p, kind: e.kind, mode: e.mode, data: e.data))
            }
        }
    }
}

/// filepath.Walk order: each directory's entries sorted by name, depth first; git's tree order differs for
/// names that extend one another ("a-b" vs "a/").
func walkOrder(_ a: String, _ b: String) -> Bool {
    let pa = a.split(separator: "/"), pb = b.split(separator: "/")
    for (x, y) in zip(pa, pb) where x != y { return Array(x.utf8).lexicographicallyPrecedes(Array(y.utf8)) }
    return pa.count < pb.count
}

/// How the ref of a GitRepository is resolved and fetched.
struct GitPlan: Sendable {
    var branch: String
    var tag: String
    var semver: String
    var name: String
    var commit: String

    init(spec: GitRepositorySpec) {
        let r = spec.ref ?? GitRepositoryRef()
        branch = r.branch; tag = r.tag; semver = r.semver; name = r.name; commit = r.commit
        if branch.isEmpty && tag.isEmpty && semver.isEmpty && name.isEmpty && commit.isEmpty { branch = "master" }
    }

    typealias Failure = GitRepositoryReconciler.Failure

    /// The remote ref to use (name, id) or nil for a commit without branch.
    func resolve(_ refs: [RemoteRef]) throws -> (name: String, id: ObjectID, commitHint: ObjectID)? {
        func find(_ full: String) throws -> (String, ObjectID, ObjectID) {
            guard let r = refs.first(where: { $0.name == full }) else {
                throw GitError(.notFound, "couldn't find remote ref \"\(full)\"")
            }
            return (full, r.oid, r.commit)
        }
        if !commit.isEmpty {
            guard ObjectID(hex: commit) != nil else { throw GitError(.invalid, "invalid commit SHA '\(commit)'") }
            if branch.isEmpty || !name.isEmpty { return nil }
            return try find("refs/heads/" + branch)
        }
        if !name.isEmpty { return try find(name) }
        if !semver.isEmpty {
            let constraint: SemVerConstraint
            do { constraint = try SemVerConstraint(semver) } catch {
                throw GitError(.invalid, "semver parse error: \(error)")
            }
            let tags = refs.filter { $0.name.hasPrefix("refs/tags/") }
            guard let best = constraint.best(tags, version: { String($0.name.dropFirst(10)) }) else {
                throw GitError(.notFound, "no match found for semver: \(semver)")
            }
            return (best.name, best.oid, best.commit)
        }
        if !tag.isEmpty { return try find("refs/tags/" + tag) }
        return try find("refs/heads/" + branch)
    }

    /// Whether `resolve` can use the advertised ref `ref` (the probe stores only those).
    func wants(_ ref: String) -> Bool {
        if !commit.isEmpty { return !branch.isEmpty && name.isEmpty && ref == "refs/heads/" + branch }
        if !name.isEmpty { return ref == name }
        if !semver.isEmpty { return ref.hasPrefix("refs/tags/") }
        if !tag.isEmpty { return ref == "refs/tags/" + tag }
        return ref == "refs/heads/" + branch
    }

    /// Refspecs that fetch a ref into the mirror under the same name (forced: branches may be rewritten).
    func refspecs(_ ref: String?) -> [String] {
        if let ref { return ["+\(ref):\(ref)"] }
        return ["+refs/heads/*:refs/heads/*"]
    }

    /// The revision string of source-controller.
    func revision(_ ref: String, _ commitID: ObjectID) -> String {
        if !commit.isEmpty && (branch.isEmpty || !name.isEmpty) && name.isEmpty { return "sha1:\(commit.lowercased())" }
        if !name.isEmpty { return "\(ref)@sha1:\(commitID.hex)" }
        if !commit.isEmpty { return "\(branch)@sha1:\(commit.lowercased())" }
        let short = ref.hasPrefix("refs/heads/") ? String(ref.dropFirst(11)) : ref.hasPrefix("refs/tags/") ? String(ref.dropFirst(10)) : ref
        return "\(short)@sha1:\(commitID.hex)"
    }

    /// After fetching: the commit to archive and its revision.
    func checkout(_ repo: Repository, _ resolved: (name: String, id: ObjectID, commitHint: ObjectID)?) throws -> GitRepositoryReconciler.Resolution {
        if !commit.isEmpty {
            let want = ObjectID(hex: commit)!
            guard let c = repo.peelToCommit(want) else {
                throw GitError(.notFound, "unable to resolve commit object for '\(commit)': object not found")
            }
            if let r = resolved, !repo.isAncestor(c.id, of: r.commitHint) {
                throw GitError(.notFound, "unable to resolve commit object for '\(commit)': not on branch '\(branch)'")
            }
            return .init(revision: revision(resolved?.name ?? "", c.id), commit: c.id, commitSubject: subject(c.message))
        }
        guard let r = resolved, let c = repo.peelToCommit(r.id) else {
            throw GitError(.notFound, "the fetched ref does not lead to a commit")
        }
        return .init(revision: revision(r.name, c.id), commit: c.id, commitSubject: subject(c.message))
    }

    func subject(_ message: String) -> String {
        String(message.split(separator: "\n", omittingEmptySubsequences: false).first ?? "")
    }
}

/// URLs in messages lose their secrets: the password of `user:password@`, and over http(s) a user info without
/// password, which is how tokens are usually given (`https://<token>@github.com/...`; Go's url.Redacted would print
/// it). An SSH user name stays.
func redact(_ url: String) -> String {
    guard let sep = url.firstRange(of: "://") else { return url }
    let rest = url[sep.upperBound...]
    let hostEnd = rest.firstIndex(of: "/") ?? rest.endIndex
    guard let at = rest[..<hostEnd].lastIndex(of: "@") else { return url }
    let user = rest[..<at]
    if let colon = user.firstIndex(of: ":") {
        return String(url[..<sep.upperBound]) + user[..<colon] + ":***" + rest[at...]
    }
    let scheme = String(url[..<sep.lowerBound].lowercased().reversed().prefix { $0.isLetter }.reversed())   // "'https" in a message
    if scheme == "http" || scheme == "https" { return String(url[..<sep.upperBound]) + "***" + rest[at...] }
    return url
}

func redactMessage(_ m: String) -> String {
    m.split(separator: " ", omittingEmptySubsequences: false).map { redact(String($0)) }.joined(separator: " ")
}

func percentEncode(_ s: String) -> String {
    var out = ""
    for b in s.utf8 {
        let c = Character(UnicodeScalar(b))
        if c.isLetter && b < 128 || c.isNumber && b < 128 || "-._~".contains(c) { out.append(c) } else {
            out += "%" + String(b, radix: 16, uppercase: true).leftPadded(2)
        }
    }
    return out
}

func tempPath(_ prefix: String) -> String {
    let dir = Files.env("TMPDIR") ?? "/tmp"
    return "\(dir)/fluxs-\(prefix)-\(Int(getpid()))-\(UInt32.random(in: 0...UInt32.max))"
}

extension String {
    /// The path without leading `./` and `/` and trailing `/`.
    public func trimmingSlashes() -> String {
        var s = Substring(self)
        while s.hasPrefix("./") { s = s.dropFirst(2) }
        while s.hasPrefix("/") { s = s.dropFirst() }
        while s.hasSuffix("/") { s = s.dropLast() }
        return String(s)
    }
    func leftPadded(_ n: Int) -> String { String(repeating: "0", count: max(0, n - count)) + self }
}
