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
            .string("registry-creds", nil, "container registry credentials in the format 'user:password', requires --image-pull-secret to be set"),
            .string("image-pull-secret", nil, "Kubernetes secret name used for pulling the controller images from a private registry"),
            .strings("sparse-checkout", nil, "list of directories to be included in the GitRepository sparse checkout, the configured --path must be one of them, accepts comma-separated values"),
            .string("manifests", nil, "path to the manifest directory", hidden: true),
            .strings("toleration-keys", nil, "list of toleration keys used to schedule the controller pods onto nodes with matching taints"),
            .int("ssh-rsa-bits", "SSH RSA public key bit size (multiplies of 8, min 1024)", default: 2048),
            InstallCommand.controllersFlag,
            .strings("ssh-hostkey-algos", nil, "list of host key algorithms to be used by the CLI for SSH connections"),
            .string("gpg-key-ring", nil, "path to GPG key ring for signing commits", completion: .files),
            .string("gpg-passphrase", nil, "passphrase for decrypting GPG private key"),
            .string("gpg-key-id", nil, "key id for selecting a particular key"),
            .string("ssh-signing-key-file", nil, "path to an SSH private key file used for signing commits", completion: .files),
            .string("ssh-signing-password", nil, "passphrase for decrypting SSH signing key"),
            .string("ssh-signing-passphrase", nil, "alias for --ssh-signing-password", hidden: true),
            .bool("ssh-signing-reuse-private-key", nil, "use the SSH transport key (--private-key-file) to sign commits"),
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
        let path = Flag.string("path", nil, "path relative to the repository root, when specified the cluster sync will be scoped to this path")
        let gitlab = Command(
            name: "gitlab", summary: "Deploy Flux on a cluster connected to a GitLab repository",
            long: "The bootstrap gitlab command creates the GitLab repository if it doesn't exist and\ncommits the Flux manifests to the specified branch.\nThen it configures the target cluster to synchronize with that repository.\nIf the Flux components are present on the cluster,\nthe bootstrap command will perform an upgrade if needed.",
            examples: "  # Create a GitLab API token and export it as an env var\n  export GITLAB_TOKEN=<my-token>\n\n  # Run bootstrap for a private repository using HTTPS token authentication\n  fluxs bootstrap gitlab --owner=<group> --repository=<repository name> --token-auth\n\n  # Run bootstrap for a private repository using SSH authentication\n  fluxs bootstrap gitlab --owner=<group> --repository=<repository name>\n\n  # Run bootstrap for a private repository hosted on a GitLab server\n  fluxs bootstrap gitlab --owner=<group> --repository=<repository name> --hostname=<gitlab_url> --token-auth\n\n  # Run bootstrap for a private repository using Deploy Token authentication\n  fluxs bootstrap gitlab --owner=<group> --repository=<repository name> --deploy-token-auth",
            flags: [
                .string("owner", nil, "GitLab user or group name"), .string("repository", nil, "GitLab repository name"),
                .strings("team", nil, "GitLab teams to be given maintainer access (also accepts comma-separated values)"),
                .bool("personal", nil, "if true, the owner is assumed to be a GitLab user; otherwise a group"),
                .bool("private", nil, "if true, the repository is setup or configured as private", default: true, hidden: true),
                .choice("visibility", nil, ["public", "private", "internal"], "specifies the visibility of the repository. Valid values are public, private, internal", default: "private"),
                .duration("interval", "sync interval", default: "1m0s"),
                .string("hostname", nil, "GitLab hostname", default: "gitlab.com"), path,
                .bool("read-write-key", nil, "if true, the deploy key is configured with read/write permissions"),
                .bool("reconcile", nil, "if true, the configured options are also reconciled if the repository already exists"),
                .bool("deploy-token-auth", nil, "when enabled, a Project Deploy Token is generated and will be used instead of the SSH deploy token"),
            ],
            handler: runGitLab,
            note: "against GitLab's REST v4 (simulated in the test environment): project created when missing, deploy key or deploy token, then bootstrap's phases; `--team` and `--reconcile` are refused")
        let gitea = Command(
            name: "gitea", summary: "Deploy Flux on a cluster connected to a Gitea repository",
            long: "The bootstrap gitea command creates the Gitea repository if it doesn't exists and\ncommits the Flux manifests to the specified branch.\nThen it configures the target cluster to synchronize with that repository.\nIf the Flux components are present on the cluster,\nthe bootstrap command will perform an upgrade if needed.",
            examples: "  # Create a Gitea personal access token and export it as an env var\n  export GITEA_TOKEN=<my-token>\n\n  # Run bootstrap for a private repository owned by a Gitea organization\n  fluxs bootstrap gitea --owner=<organization> --repository=<repository name> --path=clusters/my-cluster\n\n  # Run bootstrap for a public repository on a personal account\n  fluxs bootstrap gitea --owner=<user> --repository=<repository name> --private=false --personal=true --path=clusters/my-cluster",
            flags: [
                .string("owner", nil, "Gitea user or organization name"), .string("repository", nil, "Gitea repository name"),
                .strings("team", nil, "Gitea team and the access to be given to it(team:maintain). Defaults to maintainer access if no access level is specified (also accepts comma-separated values)"),
                .bool("personal", nil, "if true, the owner is assumed to be a Gitea user; otherwise an org"),
                .bool("private", nil, "if true, the repository is setup or configured as private", default: true),
                .duration("interval", "sync interval", default: "1m0s"),
                .string("hostname", nil, "Gitea hostname", default: "gitea.com"), path,
                .bool("read-write-key", nil, "if true, the deploy key is configured with read/write permissions"),
                .bool("reconcile", nil, "if true, the configured options are also reconciled if the repository already exists"),
            ],
            handler: runGitea,
            note: "against Gitea's REST v1 (simulated in the test environment); `--team` and `--reconcile` are refused")
        let bitbucket = Command(
            name: "bitbucket-server", summary: "Deploy Flux on a cluster connected to a Bitbucket Server repository",
            long: "The bootstrap bitbucket-server command creates the Bitbucket Server repository if it doesn't exists and\ncommits the Flux manifests to the master branch.\nThen it configures the target cluster to synchronize with the repository.\nIf the Flux components are present on the cluster,\nthe bootstrap command will perform an upgrade if needed.",
            examples: "  # Create a Bitbucket Server API token and export it as an env var\n  export BITBUCKET_TOKEN=<my-token>\n\n  # Run bootstrap for a private repository using HTTPS token authentication\n  fluxs bootstrap bitbucket-server --owner=<project> --username=<user> --repository=<repository name> --hostname=<domain> --token-auth --path=clusters/my-cluster\n\n  # Run bootstrap for a private repository using SSH authentication\n  fluxs bootstrap bitbucket-server --owner=<project> --username=<user> --repository=<repository name> --hostname=<domain> --path=clusters/my-cluster",
            flags: [
                .string("owner", nil, "Bitbucket Server user or project name"), .string("repository", nil, "Bitbucket Server repository name"),
                .strings("group", nil, "Bitbucket Server groups to be given write access (also accepts comma-separated values)"),
                .bool("personal", nil, "if true, the owner is assumed to be a Bitbucket Server user; otherwise a group"),
                .string("username", "u", "authentication username", default: "git"),
                .bool("private", nil, "if true, the repository is setup or configured as private", default: true),
                .duration("interval", "sync interval", default: "1m0s"),
                .string("hostname", nil, "Bitbucket Server hostname"), path,
                .bool("read-write-key", nil, "if true, the deploy key is configured with read/write permissions"),
                .bool("reconcile", nil, "if true, the configured options are also reconciled if the repository already exists"),
            ],
            handler: runBitbucketServer,
            note: "against Bitbucket Server's REST 1.0 and keys API (simulated in the test environment); `--group` and `--reconcile` are refused")
        c.subcommands = [git, github, gitlab, gitea, bitbucket]
        return c
    }

    // MARK: bootstrap git

    /// flux's bootstrapValidate: the components (source- and kustomize-controller required), registry credentials,
    /// the signing flags and a trial signature, before anything is changed. Returns the commit signer, if any.
    static func validate(_ inv: Invocation) throws -> CommitSigner? {
        let comps = try InstallCommand.components(inv)
        for required in ["source-controller", "kustomize-controller"] where !comps.contains(required) {
            throw CLIError("component \(required) is required")
        }
        if !inv.flags.strings("ssh-hostkey-algos").isEmpty {
            throw CLIError("--ssh-hostkey-algos is not supported by fluxs: libssh2 negotiates the host key algorithm, and the scanned host keys are pinned in known_hosts")
        }
        if !inv.flags.string("manifests").isEmpty {
            throw CLIError("--manifests is not supported by fluxs: the manifests are generated from its Swift types")
        }
        return try CommitSigner.from(inv)
    }

    static func runGit(_ inv: Invocation) throws -> Int32 {
        let f = inv.flags
        let raw = f.string("url")
        guard let url = GitURL(raw), !raw.isEmpty else { throw CLIError("url is required") }
        guard ["ssh", "https", "http"].contains(url.scheme) else { throw CLIError("scheme \"\(url.scheme)\" is not supported") }
        if url.scheme == "http" && !f.bool("allow-insecure-http") {
            throw CLIError("scheme http is insecure, pass --allow-insecure-http=true to allow it")
        }
        let signer = try validate(inv)
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
        var plan = try Plan(inv, cloneURL: url.scheme == "ssh" ? raw : stripUserInfo(raw), syncURL: syncURL, cloneAuth: cloneAuth, tokenSecret: secret)
        plan.signer = signer
        try plan.run(deployKey: nil)
        return 0
    }

    // MARK: bootstrap github|gitlab|gitea|bitbucket-server

    /// The provider token: the environment variable, else read as flux reads it (the prompt on stdout; without echo on a
    /// terminal, one line of stdin otherwise).
    static func token(_ inv: Invocation, env name: String, service: String) throws -> String {
        if let t = inv.env[name], !t.isEmpty { return t }
        let prompt = "Please enter your \(service) personal access token (PAT): "
        guard let t = readSecret(inv, prompt: prompt), !t.isEmpty else {
            throw CLIError("could not read token: \(name) is not set and no token was entered")
        }
        return t
    }

    static func readSecret(_ inv: Invocation, prompt: String) -> String? {
        inv.out.write(prompt)
        inv.out.flush()
        var old = termios()
        let tty = isatty(0) == 1 && tcgetattr(0, &old) == 0
        if tty {
            var quiet = old
            quiet.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(0, TCSANOW, &quiet)
        }
        defer { if tty { tcsetattr(0, TCSANOW, &old) } }
        let line = readLine(strippingNewline: true)
        inv.out.print("")
        return line.map { $0.hasSuffix("\r") ? String($0.dropLast()) : $0 }
    }

    /// What the providers share (flux's GitProviderBootstrapper): the repository is looked up and created when missing,
    /// the manifests are pushed over HTTPS with the token, and the sync uses the token (--token-auth) or an SSH
    /// deploy key registered through the API.
    struct Provider {
        var forge: GitForge
        var owner: String
        var repository: String
        var personal: Bool
        var isPrivate: Bool
        /// Username and password of the CLI's own clone and push.
        var cloneAuth: GitAuth
        /// The username the token-auth source secret carries.
        var secretUsername: String
        var token: String
        /// Checks that the token's user is the owner before creating a personal repository.
        var checkPersonalOwner = true
    }

    static func runProvider(_ inv: Invocation, _ p: Provider, deployTokenAuth: Bool = false) throws -> Int32 {
        let f = inv.flags
        for name in ["team", "group"] where f.isSet(name) && !f.strings(name).isEmpty {
            throw CLIError("--\(name) is not supported by fluxs yet: grant the access in the provider, or use the flux CLI")
        }
        if f.bool("reconcile") { throw CLIError("--reconcile is not supported by fluxs yet: repository settings are left as they are") }
        let signer = try validate(inv)
        let tokenAuth = f.bool("token-auth")
        inv.out.action("connecting to \(p.forge.domain)")
        var repo = try p.forge.repository(owner: p.owner, name: p.repository, personal: p.personal)
        if repo == nil {
            if p.personal && p.checkPersonalOwner {
                let login = try p.forge.login()
                if login != p.owner {
                    throw CLIError("failed to create new Git repository \"\(p.forge.reference(owner: p.owner, name: p.repository))\": the specified owner '\(p.owner)' doesn't match the identity associated with the given token")
                }
            }
            repo = try p.forge.create(owner: p.owner, name: p.repository, personal: p.personal, isPrivate: p.isPrivate, branch: f.string("branch"))
            inv.out.success("repository \"\(p.forge.reference(owner: p.owner, name: p.repository))\" created")
        }
        guard let repo, !repo.cloneURL.isEmpty else { throw CLIError("repository \(p.owner)/\(p.repository) has no clone URL") }
        var secret: [(String, String)]? = tokenAuth ? [("password", p.token), ("username", p.secretUsername)] : nil
        if deployTokenAuth, let gitlab = p.forge as? GitLabForge {
            let name = deployKeyName(inv)
            inv.out.action("checking to reconcile deploy token for source secret")
            if let t = try gitlab.deployToken(repo, name: name) {
                inv.out.success("configured deploy token \"\(name)\" for \"\(p.forge.reference(owner: p.owner, name: p.repository))\"")
                secret = [("password", t.token), ("username", t.username)]
            } else {
                inv.out.success("reconciled deploy token for source secret")
            }
        }
        let https = tokenAuth || deployTokenAuth
        let syncURL = https ? repo.cloneURL : sshURL(repo.sshURL, override: f.string("ssh-hostname"))
        var plan = try Plan(inv, cloneURL: repo.cloneURL, syncURL: syncURL, cloneAuth: p.cloneAuth, tokenSecret: secret,
                            keepExistingSecret: deployTokenAuth && secret == nil)
        plan.signer = signer
        let readOnly = !f.bool("read-write-key")
        try plan.run(deployKey: https ? nil : { key, name in
            if try p.forge.addDeployKey(repo, title: name, key: key, readOnly: readOnly) {
                inv.out.success("configured deploy key \"\(name)\" for \"\(p.forge.reference(owner: p.owner, name: p.repository))\"")
            }
        })
        return 0
    }

    /// `<namespace>-<branch>-<secret>-<path>`, empty parts left out (flux's deployKeyName and deployTokenName).
    static func deployKeyName(_ inv: Invocation) -> String {
        let p = inv.flags.string("path").trimmingSlashes()
        let path = p.isEmpty || p == "." ? "./" : "./" + p
        return [(try? inv.namespace()) ?? "", inv.flags.string("branch"), inv.flags.string("secret-name"), path].filter { !$0.isEmpty }.joined(separator: "-")
    }

    static func ownerAndRepository(_ inv: Invocation) throws -> (String, String) {
        let owner = inv.flags.string("owner"), repository = inv.flags.string("repository")
        guard !owner.isEmpty else { throw CLIError("--owner is required") }
        guard !repository.isEmpty else { throw CLIError("--repository is required") }
        return (owner, repository)
    }

    static func caData(_ inv: Invocation) throws -> [UInt8]? {
        let file = inv.flags.string("ca-file")
        guard !file.isEmpty else { return nil }
        do { return try Files.read(file) } catch { throw CLIError("unable to read TLS CA file: open \(file): no such file or directory") }
    }

    static func runGitHub(_ inv: Invocation) throws -> Int32 {
        let f = inv.flags
        let (owner, repository) = try ownerAndRepository(inv)
        if f.bool("ssh-signing-reuse-private-key") {
            throw CLIError("--ssh-signing-reuse-private-key is not supported by 'bootstrap github'; the SSH transport key is generated in-process, use --ssh-signing-key-file instead")
        }
        let token = try token(inv, env: "GITHUB_TOKEN", service: "GitHub")
        let hostname = f.string("hostname")
        let base = inv.env["FLUXS_GITHUB_API_URL"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (hostname == "github.com" ? "https://api.github.com" : "https://\(hostname)/api/v3")
        var auth = GitAuth()
        auth.username = owner
        auth.password = token
        return try runProvider(inv, Provider(forge: GitHubStyleForge.github(base: base, token: token, hostname: hostname), owner: owner, repository: repository,
                                             personal: f.bool("personal"), isPrivate: f.bool("private"), cloneAuth: auth,
                                             secretUsername: "git", token: token))
    }

    static func runGitLab(_ inv: Invocation) throws -> Int32 {
        let f = inv.flags
        let (owner, repository) = try ownerAndRepository(inv)
        let token = try token(inv, env: "GITLAB_TOKEN", service: "GitLab")
        guard validGitLabProject(repository) else {
            throw CLIError("\(repository) is an invalid project name for gitlab.\nIt can contain only letters, digits, emojis, '_', '.', dash, space. It must start with letter, digit, emoji or '_'.")
        }
        if f.bool("token-auth") && f.bool("deploy-token-auth") { throw CLIError("--token-auth and --deploy-token-auth cannot be set both.") }
        var visibility = f.string("visibility")
        if f.isSet("private") && !f.bool("private") {
            visibility = "public"
            inv.out.stderr("Using visibility public as --private=false")
        }
        var auth = GitAuth()
        auth.username = owner
        auth.password = token
        return try runProvider(inv, Provider(forge: GitLabForge(hostname: f.string("hostname"), token: token, caData: try caData(inv)), owner: owner,
                                             repository: repository, personal: f.bool("personal"), isPrivate: visibility != "public",
                                             cloneAuth: auth, secretUsername: "git", token: token),
                               deployTokenAuth: f.bool("deploy-token-auth"))
    }

    /// GitLab's project name rule (`\A[[:alnum:]\x{00A9}-\x{1f9ff}_][[:alnum:]\p{Pd}\x{00A9}-\x{1f9ff}_\.]*\z`).
    static func validGitLabProject(_ s: String) -> Bool {
        func wide(_ u: Unicode.Scalar) -> Bool { u.value >= 0xA9 && u.value <= 0x1F9FF }
        func alnum(_ u: Unicode.Scalar) -> Bool { u.properties.isAlphabetic || u.properties.numericType != nil }
        let us = Array(s.unicodeScalars)
        guard let first = us.first, alnum(first) || wide(first) || first == "_" else { return false }
        return us.dropFirst().allSatisfy { alnum($0) || wide($0) || $0 == "_" || $0 == "." || $0.properties.generalCategory == .dashPunctuation }
    }

    static func runGitea(_ inv: Invocation) throws -> Int32 {
        let f = inv.flags
        let (owner, repository) = try ownerAndRepository(inv)
        if f.bool("ssh-signing-reuse-private-key") {
            throw CLIError("--ssh-signing-reuse-private-key is not supported by 'bootstrap gitea'; the SSH transport key is generated in-process, use --ssh-signing-key-file instead")
        }
        let token = try token(inv, env: "GITEA_TOKEN", service: "Gitea")
        var auth = GitAuth()
        auth.username = owner
        auth.password = token
        return try runProvider(inv, Provider(forge: GitHubStyleForge.gitea(hostname: f.string("hostname"), token: token, caData: try caData(inv)), owner: owner,
                                             repository: repository, personal: f.bool("personal"), isPrivate: f.bool("private"),
                                             cloneAuth: auth, secretUsername: "git", token: token))
    }

    static func runBitbucketServer(_ inv: Invocation) throws -> Int32 {
        let f = inv.flags
        let token = try token(inv, env: "BITBUCKET_TOKEN", service: "Bitbucket")
        if f.string("hostname").isEmpty { throw CLIError("invalid hostname \"\(f.string("hostname"))\"") }
        let (owner, repository) = try ownerAndRepository(inv)
        let user = f.bool("personal") ? owner : f.string("username")
        var auth = GitAuth()
        auth.username = user
        auth.password = token
        return try runProvider(inv, Provider(forge: BitbucketServerForge(hostname: f.string("hostname"), username: user, token: token, caData: try caData(inv)),
                                             owner: owner, repository: repository, personal: f.bool("personal"), isPrivate: f.bool("private"),
                                             cloneAuth: auth, secretUsername: user, token: token, checkPersonalOwner: false))
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
        /// The credentials are a GitLab deploy token that exists already: its value cannot be read back, so the
        /// source secret that holds it stays.
        var keepExistingSecret = false
        /// Signs the commits (--gpg-*, --ssh-signing-*).
        var signer: CommitSigner? = nil
        let ns: String
        let branch: String
        let dir: String
        let components: [String]
        let options: InstallOptions

        init(_ inv: Invocation, cloneURL: String, syncURL: String, cloneAuth: GitAuth, tokenSecret: [(String, String)]?,
             keepExistingSecret: Bool = false) throws {
            self.keepExistingSecret = keepExistingSecret
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
            options = try InstallCommand.options(inv)
            components = options.components
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
            let componentsYAML = try InstallCommand.render(options)
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
                do { _ = try applier.apply(InstallCommand.manifests(options)) } catch {
                    throw CLIError("install failed: \(error)")
                }
                inv.out.success("installed components")
            }
            let pullSecret = inv.flags.string("image-pull-secret")
            if !pullSecret.isEmpty && !inv.flags.string("registry-creds").isEmpty {
                try InstallCommand.applyPullSecret(inv, kube, namespace: ns, bootstrap: true)
                inv.out.success("reconciled image pull secret \(pullSecret)")
            }
            inv.out.success("reconciled components")

            // 2. Source secret.
            let secretName = inv.flags.string("secret-name")
            let secrets = ResourceRef.secrets
            inv.out.action("determining if source secret \"\(ns)/\(secretName)\" exists")
            let explicit = tokenSecret != nil || !inv.flags.string("private-key-file").isEmpty || !inv.flags.string("ca-file").isEmpty
            let present = try kube.getIfExists(secrets, namespace: ns, name: secretName) != nil
            if keepExistingSecret && !present {
                throw CLIError("the deploy token of this bootstrap exists but source secret \"\(ns)/\(secretName)\" does not: its value cannot be read back; delete the deploy token in GitLab and run bootstrap again")
            }
            if present && (!explicit || keepExistingSecret) {
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
                let done: Node
                switch Reconciliation.mode(inv, adapter, kube: kube) {
                case .local(let r): done = try Reconciliation.runLocal(inv, r, adapter, namespace: ns, name: ns)
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
            try SyncCommand.afterBootstrap(inv, kube, namespace: ns)
            // 7. The controllers, when they were handed over to.
            if options.controllers {
                inv.out.action("confirming components are healthy")
                guard InstallCommand.waitForComponents(inv, kube, names: components, namespace: ns, interval: 5) else {
                    throw CLIError("timed out waiting for all resources to be ready")
                }
                inv.out.success("all components are healthy")
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
            spec += "  ref:\n    branch: \(branch)\n  secretRef:\n    name: \(inv.flags.string("secret-name"))\n"
            let sparse = inv.flags.strings("sparse-checkout")
            if !sparse.isEmpty { spec += "  sparseCheckout:\n" + sparse.map { "  - \($0)\n" }.joined() }
            spec += "  url: \(syncURL)\n"
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
                                     email: email.isEmpty ? "\(author.lowercased())@users.noreply.github.com" : email, message: message, ref: nil,
                                     sign: signer.map { s in { try s.sign($0) } })
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
