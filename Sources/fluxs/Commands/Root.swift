import FluxsAPI

/// The whole command tree: flux's commands, aliases and global flags.
enum RootCommand {
    static func globalFlags(env: [String: String], home: String) -> [Flag] {
        var ns = "flux-system"
        if let e = env["FLUX_SYSTEM_NAMESPACE"], !e.isEmpty, isDNSLabel(e) { ns = e }
        return [
            .duration("timeout", "timeout for this operation", default: "5m0s"),
            .bool("verbose", nil, "print generated objects and, in fluxs, the Kubernetes API requests (never credentials)"),
            .bool("ns-follows-kube-context", nil, "If set, the namespace will be the namespace of the current kube context (also env FLUX_NS_FOLLOWS_KUBE_CONTEXT)"),
            Flag(name: "namespace", short: "n", kind: .string, defaultValue: ns, help: "If present, the namespace scope for this CLI request", completion: .namespaces),
            .string("kubeconfig", nil, "Path to the kubeconfig file to use for CLI requests.", completion: .files),
            Flag(name: "context", kind: .string, help: "The name of the kubeconfig context to use", completion: .contexts),
            .string("cluster", nil, "The name of the kubeconfig cluster to use"),
            .string("user", nil, "The name of the kubeconfig user to use"),
            .string("server", nil, "The address and port of the Kubernetes API server"),
            .string("token", nil, "Bearer token for authentication to the API server"),
            .string("as", nil, "Username to impersonate for the operation. User could be a regular user or a service account in a namespace."),
            .string("as-uid", nil, "UID to impersonate for the operation."),
            .strings("as-group", nil, "Group to impersonate for the operation, this flag can be repeated to specify multiple groups.", array: true),
            .string("certificate-authority", nil, "Path to a cert file for the certificate authority to authenticate the Kubernetes API server", completion: .files),
            .string("client-certificate", nil, "Path to a client certificate file for TLS authentication to the Kubernetes API server", completion: .files),
            .string("client-key", nil, "Path to a client key file for TLS authentication to the Kubernetes API server", completion: .files),
            .bool("insecure-skip-tls-verify", nil, "If true, the Kubernetes API server's certificate will not be checked for validity. This will make your HTTPS connections insecure"),
            .string("tls-server-name", nil, "Server name to use for server certificate validation. If it is not provided, the hostname used to contact the server is used"),
            .string("cache-dir", nil, "Default cache directory", default: home + "/.kube/cache"),
            .bool("disable-compression", nil, "If true, opt-out of response compression for all requests to the server"),
            Flag(name: "kube-api-qps", kind: .float, defaultValue: "50", help: "The maximum queries-per-second of requests sent to the Kubernetes API."),
            .int("kube-api-burst", "The maximum burst queries-per-second of requests sent to the Kubernetes API.", default: 300),
        ]
    }

    static func make(env: [String: String], home: String) -> Command {
        var root = Command(name: "fluxs", summary: "Command line utility for assembling Kubernetes CD pipelines the GitOps way.")
        root.long = """
        Command line utility for assembling Kubernetes CD pipelines the GitOps way.

        fluxs mirrors the flux CLI and runs each GitOps step on demand, in this process:
        it fetches sources, builds and applies manifests, and records status as the
        Flux controllers would, so no controllers need to run in the cluster.
        """
        root.examples = """
          # Check the flux CLI version fluxs follows
          fluxs version --client

          # List the Kustomizations of the flux-system namespace
          fluxs get kustomizations
        """
        root.persistentFlags = globalFlags(env: env, home: home)
        root.flags = [.bool("version", nil, "version for fluxs")]
        root.handler = { inv in
            if inv.flags.bool("version") {
                inv.out.print("fluxs version \(BuildInfo.version) (flux \(BuildInfo.fluxVersion))")
                return 0
            }
            inv.out.print(Help.render(inv.parsed.path), terminator: "")
            return 0
        }
        let built = [
            VersionCommand.make(),
            CompletionCommand.make(),
            HelpCommand.make(),
            GetCommand.make(),
            InstallCommand.make(),
            ObjectCommands.suspend(),
            ObjectCommands.resume(),
            ObjectCommands.export(),
            ObjectCommands.delete(),
            CreateCommand.make(),
            EventsCommand.make(),
            TreeCommand.make(),
            ReconcileCommand.make(),
            BootstrapCommand.make(),
            UninstallCommand.make(),
            CheckCommand.make(),
            KustomizeCommand.make(),
            DocgenCommand.make(),
            EnvsubstCommand.make(),
            TraceCommand.make(),
            StatsCommand.make(),
            DebugCommand.make(),
            LogsCommand.make(),
            TriggerCommand.make(),
            ServeCommand.make(),
            BuildCommand.make(),
            DiffCommand.make(),
            ArtifactCommands.make("push"),
            ArtifactCommands.make("pull"),
            ArtifactCommands.make("tag"),
            ArtifactCommands.make("list"),
            SyncCommand.make(),
            PlanCommand.make(),
        ]
        root.subcommands = built + PlannedCommands.all().filter { p in !built.contains { $0.name == p.name } }
        return root
    }
}
