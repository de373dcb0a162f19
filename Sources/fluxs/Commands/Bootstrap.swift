#if canImport(Glibc)
import Glibc
#endif
import FluxsAPI
import FluxsCore
import FluxsGit
import FluxsKube
import FluxsYAML

/// `fluxs bootstrap git|github`: flux's bootstrap algorithm (reference §5.5): component and sync manifests committed
/// to the repository, components installed, the source Secret applied, the sync objects applied, and the
/// GitRepository and Kustomization reconciled — by fluxs, on demand, when no controllers run.
enum BootstrapCommand {
    static func make() -> Command {
        var c = Command(name: "bootstrap", summary: "Deploy Flux on a cluster the GitOps way.",
                        long: "The bootstrap sub-commands push the Flux manifests to a Git repository and deploy Flux on the cluster.")
        c.persistentFlags = [
            .string("version", "v", "toolkit version, when specified the manifests are downloaded from https://github.com/fluxcd/flux2/releases"),
            .strings("components", nil, "list of components, accepts comma-separated values", default: "source-controller,kustomize-controller,helm-controller,notification-controller"),
            .strings("components-extra", nil, "list of components in addition to those supplied or defaulted, accepts values such as 'image-reflector-controller,image-automation-controller,source-watcher'"),
            .string("registry", nil, "container registry where the toolkit images are published", default: "ghcr.io/fluxcd"),
            .string("branch", nil, "Git branch", default: "main"),
            .bool("recurse-submodules", nil, "when enabled, configures the GitRepository source to initialize and include Git submodules in the artifact it produces"),
            .bool("watch-all-namespaces", nil, "watch for custom resources in all namespaces, if set to false it will only watch the namespace where the Flux controllers are installed", default: true),
            .bool("network-policy", nil, "setup Kubernetes network policies to deny ingress access to the toolkit controllers from other namespaces", default: true),
            .bool("token-auth", nil, "when enabled, the personal access token will be used instead of the SSH deploy key"),
            .string("log-level", nil, "log level, available options are: (debug, info, error)", default: "info"),
            .string("cluster-domain", nil, "internal cluster domain", default: "cluster.local"),
            .string("secret-name", nil, "name of the secret the sync credentials can be found in or stored to", default: "flux-system"),
            .string("ssh-key-algorithm", nil, "SSH public key algorithm (rsa, ecdsa, ed25519)", default: "ecdsa"),
            .string("ssh-ecdsa-curve", nil, "SSH ECDSA public key curve (p256, p384, p521)", default: "p384"),
            .string("ssh-hostname", nil, "SSH hostname, to be used when the SSH host differs from the HTTPS one"),
            .string("ca-file", nil, "path to TLS CA file used for validating self-signed certificates"),
            .string("private-key-file", nil, "path to a private key file used for authenticating to the Git SSH server"),
            .string("author-name", nil, "author name for Git commits", default: "Flux"),
            .string("author-email", nil, "author email for Git commits"),
            .string("commit-message-appendix", nil, "string to add to the commit messages, e.g. '[ci skip]'"),
            .bool("force", nil, "override existing Flux installation if it's managed by a different tool such as Helm"),
            .bool("silent", "s", "assumes the deploy key is already setup, skips confirmation"),
        ]
        let git = Command(
            name: "git", summary: "Deploy Flux on a cluster connected to a Git repository",
            long: "The bootstrap git command commits the Flux manifests to the branch of a Git repository. And then it configures the target cluster to synchronize with that repository.",
            examples: "  # Run bootstrap for a Git repository with a passwordless private key\n  fluxs bootstrap git --url=ssh://<SSH-Key-ID>@git-codecommit.<region>.amazonaws.com/v1/repos/<repository> --private-key-file=<path/to/private.key>\n\n  # Run bootstrap for a Git repository with a token (HTTPS)\n  fluxs bootstrap git --url=https://example.com/repository.git --username=<username> --password=<token> --token-auth=true",
            flags: [
                .string("url", nil, "Git repository URL"),
                .duration("interval", "sync interval", default: "1m0s"),
                .string("path", nil, "path relative to the repository root, when specified the cluster sync will be scoped to this path"),
                .string("username", "u", "basic authentication username", default: "git"),
                .string("password", "p", "basic authentication password"),
                .bool("allow-insecure-http", nil, "allows insecure HTTP connections"),
                .bool("with-bearer-token", nil, "use password as bearer token for Authorization header"),
            ],
            handler: runGit)
        let github = Command(
            name: "github", summary: "Deploy Flux on a cluster connected to a GitHub repository",
            long: "The bootstrap github command creates the GitHub repository if it doesn't exists and commits the Flux manifests to the specified branch. Then it configures the target cluster to synchronize with that repository. If the Flux components are present on the cluster, the bootstrap command will perform an upgrade if needed.",
            examples: "  # Create a GitHub personal access token and export it as an env var\n  export GITHUB_TOKEN=<my-token>\n\n  # Run bootstrap for a private repository owned by a GitHub organization\n  fluxs bootstrap github --owner=<organization> --repository=<repository name> --path=clusters/my-cluster\n\n  # Run bootstrap for a private repository and assign organization teams to it\n  fluxs bootstrap github --owner=<organization> --repository=<repository name> --team=<team1 slug> --team=<team2 slug> --path=clusters/my-cluster",
            flags: [
                .string("owner", nil, "GitHub user or organization name"),
                .string("repository", nil, "GitHub repository name"),
                .strings("team", nil, "GitHub team and the access to be given to it(team:maintain). Defaults to maintainer access if no access level is specified (also accepts comma-separated values)"),
                .bool("personal", nil, "if true, the owner is assumed to be a GitHub user; otherwise an org"),
                .bool("private", nil, "if true, the repository is setup or configured as private", default: true),
                .duration("interval", "sync interval", default: "1m0s"),
                .string("hostname", nil, "GitHub hostname", default: "github.com"),
                .string("path", nil, "path relative to the repository root, when specified the cluster sync will be scoped to this path"),
                .bool("read-write-key", nil, "if true, the deploy key is configured with read/write permissions"),
                .bool("reconcile", nil, "if true, the configured options are also reconciled if the repository already exists"),
            ],
            handler: runGitHub)
        let planned = PlannedCommands.all().first { $0.name == "bootstrap" }?.subcommands.filter { !["git", "github"].contains($0.name) } ?? []
        c.subcommands = [git, github] + planned
        return c
    }

    // MARK: bootstrap git

    static func runGit(_ inv: Invocation) throws -> Int32 {
        let f = inv.flags
        let raw = f.string("url")
        guard let url = GitURL(raw), !raw.isEmpty else { throw CLIError("url is required") }
        guard ["ssh", "https", "http"].contains(url.scheme) else { throw CLIError("scheme \"\(url.scheme)\" is not supported") }
        if url.scheme == "http" && !f.bool("allow-insecure-http") {
            throw CLIError("scheme http is insecure, pass --allow-insecure-http=true to allow it")
        }
        let password = f.string("password").isEmpty ? (inv.env["GIT_PASSWORD"] ?? "") : f.string("password")
        let tokenAuth = f.bool("token-auth") || f.bool("with-bearer-token")
        var cloneAuth = GitAuth()
        var secret: [(String, String)]? = nil
        if tokenAuth {
            if f.bool("with-bearer-token") { cloneAuth.bearerToken = password; secret = [("bearerToken", password)] }
            else { cloneAuth.username = f.string("username"); cloneAuth.password = password
                   secret = [("password", password), ("username", f.string("username"))] }
        } else if !password.isEmpty && url.scheme != "ssh" {
            cloneAuth.username = f.string("username"); cloneAuth.password = password
        }
        // The sync URL: HTTPS (or the allowed HTTP) with token auth, else SSH with a deploy key.
        let syncURL: String
        if tokenAuth {
            syncURL = stripUserInfo(raw)
        } else if url.scheme == "ssh" {
            syncURL = raw
        } else {
            let host = f.string("ssh-hostname").isEmpty ? url.host : f.string("ssh-hostname")
            syncURL = "ssh://\(f.string("username"))@\(host)\(path(of: raw))"
        }
        if url.scheme == "ssh" {
            let keyFile = f.string("private-key-file")
            guard !keyFile.isEmpty else { throw CLIError("--private-key-file is required to clone over SSH (fluxs does not use an SSH agent)") }
            cloneAuth.identity = try Files.readText(keyFile)
            cloneAuth.knownHosts = KnownHosts(try SSHKeys.scanHostKey(url: raw))
            if !password.isEmpty { cloneAuth.password = password }
        }
        let plan = try Plan(inv, cloneURL: url.scheme == "ssh" ? raw : stripUserInfo(raw), syncURL: syncURL, cloneAuth: cloneAuth, tokenSecret: secret)
        try plan.run(deployKey: nil)
        return 0
    }

    // MARK: bootstrap github

    static func runGitHub(_ inv: Invocation) throws -> Int32 {
        let f = inv.flags
        let owner = f.string("owner"), repository = f.string("repository")
        guard !owner.isEmpty else { throw CLIError("--owner is required") }
        guard !repository.isEmpty else { throw CLIError("--repository is required") }
        guard let token = inv.env["GITHUB_TOKEN"], !token.isEmpty else {
            throw CLIError("GITHUB_TOKEN is not set: export a GitHub personal access token (fluxs does not prompt for it)")
        }
        let hostname = f.string("hostname")
        let api = GitHubAPI(base: inv.env["FLUXS_GITHUB_API_URL"].flatMap { $0.isEmpty ? nil : $0 }
                                ?? (hostname == "github.com" ? "https://api.github.com" : "https://\(hostname)/api/v3"), token: token)
        inv.out.action("connecting to \(hostname)")
        var repo = try api.repository(owner: owner, name: repository)
        if repo == nil {
            if f.bool("personal") {
                let login = try api.login()
                if login != owner { throw CLIError("the specified owner '\(owner)' doesn't match the identity associated with the given token") }
            }
            repo = try api.create(owner: owner, name: repository, personal: f.bool("personal"), isPrivate: f.bool("private"), branch: f.string("branch"))
            inv.out.success("repository \"https://\(hostname)/\(owner)/\(repository)\" created")
        }
        guard let repo else { throw CLIError("repository \(owner)/\(repository) could not be read") }
        var cloneAuth = GitAuth()
        cloneAuth.username = owner
        cloneAuth.password = token
        let tokenAuth = f.bool("token-auth")
        let syncURL: String
        if tokenAuth {
            syncURL = repo.cloneURL
        } else {
            // ssh://git@<host>/<owner>/<repo> (the API's ssh_url, in URL form)
            syncURL = sshURL(repo.sshURL, override: f.string("ssh-hostname"))
        }
        let plan = try Plan(inv, cloneURL: repo.cloneURL, syncURL: syncURL, cloneAuth: cloneAuth,
                            tokenSecret: tokenAuth ? [("password", token), ("username", "git")] : nil)
        try plan.run(deployKey: tokenAuth ? nil : { key, name in
            if try api.addDeployKey(owner: owner, name: repository, title: name, key: key, readOnly: !f.bool("read-write-key")) {
                inv.out.success("configured deploy key \"\(name)\" for \"https://\(hostname)/\(owner)/\(repository)\"")
            }
        })
        return 0
    }

    // MARK: helpers

    static func stripUserInfo(_ url: String) -> String {
        guard let sep = url.firstRange(of: "://") else { return url }
        let rest = url[sep.upperBound...]
        let hostEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        guard let at = rest[..<hostEnd].lastIndex(of: "@") else { return url }
        return String(url[..<sep.upperBound]) + rest[rest.index(after: at)...]
    }

    static func path(of url: String) -> String {
        guard let sep = url.firstRange(of: "://") else { return url }
        let rest = url[sep.upperBound...]
        return String(rest[(rest.firstIndex(of: "/") ?? rest.endIndex)...])
    }

    /// `git@host:owner/repo.git` or `ssh://user@host[:port]/owner/repo.git` as an `ssh://` URL without `.git`.
    static func sshURL(_ s: String, override host: String) -> String {
        var url = s
        if !url.contains("://"), let colon = url.firstIndex(of: ":") {
            url = "ssh://" + url[..<colon] + "/" + url[url.index(after: colon)...]
        }
        if url.hasSuffix(".git") { url = String(url.dropLast(4)) }
        if !host.isEmpty, let u = GitURL(url) {
            url = url.replacing("@\(u.host)", with: "@\(host)")
        }
        return url
    }

    /// The shared phases of bootstrap (reference §5.5.1).
    struct Plan {
        let inv: Invocation
        let cloneURL: String
        let syncURL: String
        let cloneAuth: GitAuth
        let tokenSecret: [(String, String)]?
        let ns: String
        let branch: String
        let dir: String
        let components: [String]

        init(_ inv: Invocation, cloneURL: String, syncURL: String, cloneAuth: GitAuth, tokenSecret: [(String, String)]?) throws {
            self.inv = inv
            self.cloneURL = cloneURL
            self.syncURL = syncURL
            self.cloneAuth = cloneAuth
            self.tokenSecret = tokenSecret
            ns = try inv.namespace()
            branch = inv.flags.string("branch")
            var p = inv.flags.string("path").trimmingSlashes()
            if p == "." { p = "" }
            if p.split(separator: "/").contains("..") { throw CLIError("invalid path '\(inv.flags.string("path"))': must be relative to the repository root") }
            dir = p.isEmpty ? ns : p + "/" + ns
            components = try InstallCommand.components(inv)
        }

        var syncPath: String { let p = inv.flags.string("path").trimmingSlashes(); return p.isEmpty || p == "." ? "./" : "./" + p }

        func run(deployKey: ((String, String) throws -> Void)?) throws {
            let kube = try inv.kube()
            let storage = Reconciliation.storage(inv)
            let mirror = storage.mirror(url: cloneURL)
            let author = inv.flags.string("author-name"), email = inv.flags.string("author-email")
            let appendix = inv.flags.string("commit-message-appendix")
            func message(_ m: String) -> String { appendix.isEmpty ? m : m + "\n\n" + appendix }

            // 1. Components.
            inv.out.action("cloning branch \"\(branch)\" from Git repository \"\(cloneURL)\"")
            try Files.makeDirectories(Files.dirname(mirror), mode: 0o700)
            if !(try Repository.openOrInitBare(mirror)).shallowCommits.isEmpty { Files.removeTree(mirror) }
            let repo = try Repository.openOrInitBare(mirror)
            let refName = "refs/heads/\(branch)"
            do {
                _ = try repo.sync(url: cloneURL, auth: cloneAuth, deadline: monotonicSeconds() + max(1, kube.remaining)) { refs in
                    refs.contains { $0.name == refName } ? ["+\(refName):\(refName)"] : []
                }
            } catch let e as GitError { throw CLIError("failed to clone repository: \(e.message)") }
            inv.out.success("cloned repository")
            inv.out.action("generating component manifests")
            let componentsYAML = try InstallCommand.render(components: components, namespace: ns)
            inv.out.success("generated component manifests")
            if let sha = try commit(repo, [("\(dir)/gotk-components.yaml", componentsYAML)], message(("Add Flux \(CRDs.fluxVersion) component manifests")), author, email) {
                inv.out.success("committed component manifests to \"\(branch)\" (\"\(sha.hex)\")")
                inv.out.action("pushing component manifests to \"\(cloneURL)\"")
                try push(repo)
            } else {
                inv.out.success("component manifests are up to date")
            }
            let ks = FluxKinds.kustomization.resource
            // On a new cluster the Kustomization kind itself does not exist yet.
            let existing: Node?
            do { existing = try kube.getIfExists(ks, namespace: ns, name: ns) } catch let e as KubeError where e.kind == .notFound { existing = nil }
            if (existing?["status"]?["lastAppliedRevision"]?.string ?? "").isEmpty {
                inv.out.action("installing components in \"\(ns)\" namespace")
                let applier = Applier(kube: kube, fieldManager: "flux")
                do { _ = try applier.apply(InstallCommand.manifests(components: components, namespace: ns)) } catch {
                    throw CLIError("install failed: \(error)")
                }
                inv.out.success("installed components")
            }
            inv.out.success("reconciled components")

            // 2. Source secret.
            let secretName = inv.flags.string("secret-name")
            let secrets = ResourceRef.secrets
            inv.out.action("determining if source secret \"\(ns)/\(secretName)\" exists")
            let explicit = tokenSecret != nil || !inv.flags.string("private-key-file").isEmpty || !inv.flags.string("ca-file").isEmpty
            if try kube.getIfExists(secrets, namespace: ns, name: secretName) != nil && !explicit {
                inv.out.success("source secret up to date")
            } else {
                inv.out.action("generating source secret")
                var data: [(String, String)]
                if let tokenSecret {
                    data = tokenSecret
                } else {
                    data = try SSHSecret.data(inv, url: syncURL, announce: false)
                    let pub = data.first { $0.0 == "identity.pub" }?.1 ?? ""
                    inv.out.success("public key: \(pub.trimming(" \n"))")
                    let keyName = [ns, branch, secretName, syncPath].filter { !$0.isEmpty }.joined(separator: "-")
                    if let deployKey { try deployKey(pub.trimming(" \n"), keyName) }
                    else if !inv.flags.bool("silent") && inv.flags.string("private-key-file").isEmpty { try SSHSecret.confirmDeployKey(inv) }
                }
                if !inv.flags.string("ca-file").isEmpty { data.append(("ca.crt", try Files.readText(inv.flags.string("ca-file")))) }
                inv.out.action("applying source secret \"\(ns)/\(secretName)\"")
                let secret: Node = .map([("apiVersion", "v1"), ("kind", "Secret"),
                                         ("metadata", .map([("name", .string(secretName)), ("namespace", .string(ns))])),
                                         ("stringData", .map(data.map { ($0.0, .string($0.1)) }))])
                _ = try kube.apply(secret, fieldManager: "flux", force: true)
                inv.out.success("reconciled source secret")
            }

            // 3. Sync manifests.
            if let p = existing?["spec"]?["path"]?.string, normalised(p) != normalised(syncPath) {
                throw CLIError("sync path configuration (\"\(normalised(syncPath))\") would overwrite path (\"\(normalised(p))\") of existing Kustomization")
            }
            inv.out.action("generating sync manifests")
            var files = [("\(dir)/gotk-sync.yaml", syncYAML())]
            let tip = repo.resolve(refName).flatMap { repo.peelToCommit($0) }
            if tip?.file("\(dir)/kustomization.yaml") == nil {
                files.append(("\(dir)/kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- gotk-components.yaml\n- gotk-sync.yaml\n"))
            }
            inv.out.success("generated sync manifests")
            if let sha = try commit(repo, files, message("Add Flux sync manifests"), author, email) {
                inv.out.success("committed sync manifests to \"\(branch)\" (\"\(sha.hex)\")")
                inv.out.action("pushing sync manifests to \"\(cloneURL)\"")
                try push(repo)
            } else {
                inv.out.success("sync manifests are up to date")
            }
            inv.out.action("applying sync manifests")
            for o in try YAML.parseDocuments(syncYAML()) { _ = try kube.apply(o, fieldManager: "flux", force: true) }
            inv.out.success("reconciled sync configuration")

            // 4–6. Reconcile the sync objects (here, or by the controllers when they run).
            guard let head = repo.resolve(refName) else { throw CLIError("branch \(branch) has no commit") }
            let expected = "\(branch)@sha1:\(head.hex)"
            for (adapter, label, field) in [(Adapters.gitRepository, "GitRepository", "artifact.revision"),
                                            (Adapters.kustomization, "Kustomization", "lastAttemptedRevision")] {
                inv.out.waiting("waiting for \(label) \"\(ns)/\(ns)\" to be reconciled")
                let live = try kube.get(adapter.resource, namespace: ns, name: ns)
                let done: Node
                switch Reconciliation.mode(inv, adapter, kube: kube) {
                case .local(let r): done = try Reconciliation.runLocal(inv, r, live)
                case .controller:
                    done = try ObjectCommands.poll(kube) { () throws -> Node? in
                        let o = try kube.get(adapter.resource, namespace: ns, name: ns)
                        let rev = field == "artifact.revision" ? o["status"]?["artifact"]?["revision"]?.string : o["status"]?["lastAttemptedRevision"]?.string
                        return rev == expected && KStatus.of(o) == .current ? o : nil
                    }
                case .unavailable(let component, _): throw CLIError("no \(component) to reconcile \(label) \(ns)/\(ns)")
                }
                if let m = Reconciliation.failure(done) {
                    throw CLIError("\(label.lowercased()) '\(ns)/\(ns)' not ready: '\(m)'")
                }
                inv.out.success("\(label) reconciled successfully")
            }
        }

        func normalised(_ p: String) -> String {
            var s = p.trimmingSlashes()
            if s.isEmpty || s == "." { return "./" }
            if !s.hasPrefix("./") { s = "./" + s }
            return s
        }

        func syncYAML() -> String {
            var spec = "  interval: \(GoDuration.format((try? GoDuration.parse(inv.flags.string("interval"))) ?? 60))\n"
            if inv.flags.bool("recurse-submodules") { spec += "  recurseSubmodules: true\n" }
            spec += "  ref:\n    branch: \(branch)\n  secretRef:\n    name: \(inv.flags.string("secret-name"))\n  url: \(syncURL)\n"
            return """
            # This manifest was generated by flux. DO NOT EDIT.
            ---
            apiVersion: source.toolkit.fluxcd.io/v1
            kind: GitRepository
            metadata:
              name: \(ns)
              namespace: \(ns)
            spec:
            \(spec)---
            apiVersion: kustomize.toolkit.fluxcd.io/v1
            kind: Kustomization
            metadata:
              name: \(ns)
              namespace: \(ns)
            spec:
              interval: 10m0s
              path: \(syncPath)
              prune: true
              sourceRef:
                kind: GitRepository
                name: \(ns)

            """
        }

        /// Commits the files on the branch when any differs; nil when all are already there.
        func commit(_ repo: Repository, _ files: [(String, String)], _ message: String, _ author: String, _ email: String) throws -> ObjectID? {
            let refName = "refs/heads/\(branch)"
            let tip = repo.resolve(refName).flatMap { repo.peelToCommit($0) }
            let changed = files.filter { tip?.file($0.0) != Array($0.1.utf8) }
            guard !changed.isEmpty else { return nil }
            let id = try repo.commit(on: tip, replacing: changed.map { ($0.0, Array($0.1.utf8), false) }, author: author,
                                     email: email.isEmpty ? "\(author.lowercased())@users.noreply.github.com" : email, message: message, ref: nil)
            try repo.setRef(refName, to: id)
            return id
        }

        func push(_ repo: Repository) throws {
            do {
                try repo.push(url: cloneURL, auth: cloneAuth, deadline: monotonicSeconds() + 60, refspecs: ["refs/heads/\(branch):refs/heads/\(branch)"])
            } catch let e as GitError { throw CLIError("failed to push manifests: \(e.message)") }
        }
    }
}


/// The GitHub REST API calls bootstrap makes (go-git-providers' paths and payloads).
struct GitHubAPI {
    var base: String
    var token: String

    struct Repo {
        var cloneURL: String
        var sshURL: String
    }

    func call(_ method: String, _ path: String, _ body: Node? = nil) throws -> HTTPResponse {
        var headers: [(String, String)] = [("Authorization", "Bearer \(token)"), ("Accept", "application/vnd.github+json"), ("User-Agent", "fluxs")]
        var bytes: [UInt8]?
        if let body { bytes = try JSON.encodeBytes(body); headers.append(("Content-Type", "application/json")) }
        let resp: HTTPResponse
        // GitHub redirects renamed repositories (301/307, same host); the token goes along only to the API's origin.
        do {
            resp = try HTTPClient().performFollowing(HTTPRequest(method: method, url: base + path, headers: headers, body: bytes, timeout: 30,
                                                                 maxBody: 32 << 20), tls: TLSSettings()).0
        } catch {
            throw CLIError("GitHub API \(method) \(path): \(error)")
        }
        if resp.status == 401 { throw CLIError("GitHub API: bad credentials (check GITHUB_TOKEN)") }
        return resp
    }

    func message(_ r: HTTPResponse) -> String {
        let doc = try? JSON.decode(bytes: r.body)
        let m = doc?["message"]?.string ?? "HTTP \(r.status)"
        let detail = doc?["errors"]?.array?.first?["message"]?.string
        return detail.map { "\(m): \($0)" } ?? m
    }

    func repo(_ r: HTTPResponse) throws -> Repo {
        let doc = try JSON.decode(bytes: r.body)
        return Repo(cloneURL: doc["clone_url"]?.string ?? "", sshURL: doc["ssh_url"]?.string ?? "")
    }

    func repository(owner: String, name: String) throws -> Repo? {
        let r = try call("GET", "/repos/\(owner)/\(name)")
        if r.status == 404 { return nil }
        guard r.status == 200 else { throw CLIError("failed to get repository \(owner)/\(name): \(message(r))") }
        return try repo(r)
    }

    func login() throws -> String {
        let r = try call("GET", "/user")
        guard r.status == 200 else { throw CLIError("failed to get the token's user: \(message(r))") }
        return (try JSON.decode(bytes: r.body))["login"]?.string ?? ""
    }

    func create(owner: String, name: String, personal: Bool, isPrivate: Bool, branch: String) throws -> Repo {
        let body: Node = .map([("name", .string(name)), ("private", .bool(isPrivate)), ("auto_init", .bool(true)), ("default_branch", .string(branch))])
        let r = try call("POST", personal ? "/user/repos" : "/orgs/\(owner)/repos", body)
        guard r.status == 201 else { throw CLIError("failed to create repository \(owner)/\(name): \(message(r))") }
        return try repo(r)
    }

    /// Adds the key unless the repository has it already (same key); true when it was added.
    func addDeployKey(owner: String, name: String, title: String, key: String, readOnly: Bool) throws -> Bool {
        let list = try call("GET", "/repos/\(owner)/\(name)/keys")
        let existing = (try? JSON.decode(bytes: list.body))?.array ?? []
        let parts = key.split(separator: " ").prefix(2).joined(separator: " ")
        if existing.contains(where: { ($0["key"]?.string ?? "").split(separator: " ").prefix(2).joined(separator: " ") == parts }) { return false }
        let r = try call("POST", "/repos/\(owner)/\(name)/keys",
                         .map([("title", .string(title)), ("key", .string(key)), ("read_only", .bool(readOnly))]))
        guard r.status == 201 else { throw CLIError("failed to add the deploy key to \(owner)/\(name): \(message(r))") }
        return true
    }
}
