#if canImport(Glibc)
import Glibc
#endif
import FluxsCore
import FluxsKube
import FluxsYAML

/// One run of fluxs: the parsed command line, the environment and the outputs.
/// Built once in main and handed to the command's handler; nothing is global.
final class Invocation {
    let parsed: Parsed
    let env: [String: String]
    let out: Output
    private var client: KubeClient?
    /// The thread that ends fluxs on SIGINT/SIGTERM; a long-running command takes it over to stop gracefully.
    var signals: SignalCleanup.SignalWaiter?
    /// What the command hands over to be kept until the process ends (main's Keeper, which main never lets go of:
    /// fluxs ends with _exit), so that large trees are not taken apart just before it exits.
    let keeper: Keeper

    init(parsed: Parsed, env: [String: String], out: Output, keeper: Keeper = Keeper()) {
        self.parsed = parsed
        self.env = env
        self.out = out
        self.keeper = keeper
    }

    /// Keeps `value` until the process exits (Keeper).
    func keepUntilExit(_ value: Any) { keeper.keep(value) }

    var flags: FlagValues { parsed.flags }
    var args: [String] { parsed.args }
    var commandPath: String { parsed.commandPath }
    var timeout: Double { flags.duration("timeout") }
    var verbose: Bool { flags.bool("verbose") }

    var home: String { env["HOME"] ?? Files.homeDirectory() }

    /// XDG_CACHE_HOME/fluxs (or ~/.cache/fluxs), where credential and artifact caches live.
    var cacheDir: String {
        if let d = env["FLUXS_CACHE_DIR"], !d.isEmpty { return d }
        if let x = env["XDG_CACHE_HOME"], !x.isEmpty { return x + "/fluxs" }
        return home + "/.cache/fluxs"
    }

    var connection: ConnectionOverrides {
        var o = ConnectionOverrides()
        func s(_ n: String) -> String? { let v = flags.string(n); return v.isEmpty ? nil : v }
        o.kubeconfig = s("kubeconfig")
        o.context = s("context")
        o.cluster = s("cluster")
        o.user = s("user")
        o.server = s("server")
        o.token = s("token")
        o.certificateAuthority = s("certificate-authority")
        o.clientCertificate = s("client-certificate")
        o.clientKey = s("client-key")
        o.insecureSkipTLSVerify = flags.isSet("insecure-skip-tls-verify") ? flags.bool("insecure-skip-tls-verify") : nil
        o.tlsServerName = s("tls-server-name")
        o.impersonate = s("as")
        o.impersonateUID = s("as-uid")
        o.impersonateGroups = flags.strings("as-group")
        return o
    }

    var kubeConfigLoader: KubeConfigLoader { KubeConfigLoader(environment: env, home: home) }

    /// The namespace of this run (flux's root pre-run rules, §2.2 of the reference).
    func namespace() throws -> String {
        var ns = flags.string("namespace")
        if !flags.isSet("namespace"),
           flags.bool("ns-follows-kube-context") || !(env["FLUX_NS_FOLLOWS_KUBE_CONTEXT"] ?? "").isEmpty,
           let ctxNS = kubeConfigLoader.currentNamespace(connection), !ctxNS.isEmpty {
            ns = ctxNS
        }
        guard isDNSLabel(ns) else { throw CLIError("namespace must be a valid DNS label: \"\(ns)\"") }
        return ns
    }

    /// The Kubernetes client of this run, created on first use.
    func kube() throws -> KubeClient {
        if let c = client { return c }
        let c = try newKube()
        client = c
        return c
    }

    /// A client of its own (a thread of a long-running command; its --timeout starts now).
    func newKube() throws -> KubeClient {
        let cfg: RESTConfig
        do { cfg = try kubeConfigLoader.load(connection) } catch let e as KubeConfigError { throw CLIError(e.message) }
        let runner = ExecPluginRunner(cacheDir: cacheDir + "/exec", environment: env)
        let log: ((String) -> Void)? = verbose ? { [out] in out.stderr("  \($0)") } : nil
        let c = try KubeClient(config: cfg, timeout: timeout, userAgent: "fluxs/\(BuildInfo.version) (linux/\(BuildInfo.arch))",
                               exec: runner, log: log)
        // flux's client-side rate limit (fluxcd/pkg/runtime/client: rest.Config QPS and Burst).
        c.limiter = RateLimiter(qps: flags.float("kube-api-qps"), burst: flags.int("kube-api-burst"))
        return c
    }
}

/// An error that is printed as one `✗` line; `code` is the exit status.
struct CLIError: Error, CustomStringConvertible {
    var message: String
    var code: Int32 = 1
    init(_ message: String, code: Int32 = 1) {
        self.message = message
        self.code = code
    }
    var description: String { message }
}

func isDNSLabel(_ s: String) -> Bool {
    let u = Array(s.utf8)
    guard !u.isEmpty, u.count <= 63 else { return false }
    func alnum(_ c: UInt8) -> Bool { (c >= 97 && c <= 122) || (c >= 48 && c <= 57) }
    guard alnum(u.first!), alnum(u.last!) else { return false }
    return u.allSatisfy { alnum($0) || $0 == 45 }
}

/// Values kept alive until the process exits: main makes one and ends with _exit while holding it, so what is kept
/// is never freed (a one-shot command's trees cost more to take apart than the rest of its ending). A long-running
/// command (serve) does not use it.
final class Keeper: @unchecked Sendable {
    private var values: [Any] = []
    private var mutex = pthread_mutex_t()
    init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }
    func keep(_ value: Any) {
        pthread_mutex_lock(&mutex)
        values.append(value)
        pthread_mutex_unlock(&mutex)
    }
}
