import FluxsAPI

/// The parts of flux's command tree that this fluxs build does not run yet.
/// They are listed so that help, completion and error messages know them;
/// running one says so plainly and exits 1. Each family moves to its own file
/// under Commands/ when it is built.
enum PlannedCommands {
    static let why = "use the flux CLI for this command until fluxs provides it (see docs/status.md)"

    static func planned(_ name: String, _ aliases: [String] = [], _ summary: String, _ subs: [Command] = []) -> Command {
        Command(name: name, aliases: aliases, summary: summary, subcommands: subs,
                availability: subs.isEmpty ? .planned(why) : .available)
    }

    /// One sub-command per kind for a verb (reconcile/suspend/resume/delete/export).
    static func perKind(_ verb: String, summary: (FluxKind) -> String, includeExport: Bool = false) -> [Command] {
        let k = FluxKinds.self
        var sources = [k.bucket, k.helmChart, k.gitRepository, k.helmRepository, k.ociRepository]
        if includeExport { sources.append(k.externalArtifact) }
        let sourceNames: [FluxKind: String] = [k.bucket: "bucket", k.helmChart: "chart", k.gitRepository: "git",
                                               k.helmRepository: "helm", k.ociRepository: "oci", k.externalArtifact: "external"]
        var out: [Command] = []
        if verb != "reconcile" {
            out.append(planned("alert", [], summary(k.alert)))
            out.append(planned("alert-provider", [], summary(k.provider)))
        }
        out.append(planned("helmrelease", ["hr"], summary(k.helmRelease)))
        out.append(planned("image", [], "\(verb.prefix(1).uppercased() + verb.dropFirst()) image automation objects", [
            planned("policy", [], summary(k.imagePolicy)),
            planned("repository", [], summary(k.imageRepository)),
            planned("update", [], summary(k.imageUpdateAutomation)),
        ]))
        out.append(planned("kustomization", ["ks"], summary(k.kustomization)))
        out.append(planned("receiver", [], summary(k.receiver)))
        out.append(planned("source", [], "\(verb.prefix(1).uppercased() + verb.dropFirst()) sources",
                           sources.map { planned(sourceNames[$0]!, [], summary($0)) }))
        return out
    }

    /// `<verb> artifact generator`: ArtifactGenerator objects (source-watcher).
    static func artifactGenerator(_ verb: String) -> Command {
        switch verb {
        case "get":
            return planned("artifacts", ["artifact"], "Get artifact object status",
                           [planned("generators", ["generator"], "Get artifact generator statuses")])
        case "export":
            return planned("artifact", [], "Export artifact objects",
                           [planned("generator", [], "Export ArtifactGenerator resources in YAML format")])
        default:
            return planned("artifact", [], "Print artifact objects reconciled by Flux",
                           [planned("generator", [], "Print the inventory of an ArtifactGenerator")])
        }
    }

    static func all() -> [Command] {
        [
            planned("bootstrap", [], "Deploy Flux on a cluster the GitOps way.", [
                planned("git", [], "Deploy Flux on a cluster connected to a Git repository"),
                planned("github", [], "Deploy Flux on a cluster connected to a GitHub repository"),
                planned("gitlab", [], "Deploy Flux on a cluster connected to a GitLab repository"),
                planned("gitea", [], "Deploy Flux on a cluster connected to a Gitea repository"),
                planned("bitbucket-server", [], "Deploy Flux on a cluster connected to a Bitbucket Server repository"),
            ]),
            planned("build", [], "Build a flux resource", [
                planned("kustomization", ["ks"], "Build Kustomization"),
                planned("artifact", [], "Build artifact"),
            ]),
            planned("check", [], "Check requirements and installation"),
            planned("create", [], "Create or update sources and resources", [
                planned("alert", [], "Create or update a Alert resource"),
                planned("alert-provider", [], "Create or update a Provider resource"),
                planned("helmrelease", ["hr"], "Create or update a HelmRelease resource"),
                planned("image", [], "Create or update resources dealing with image automation", [
                    planned("policy", [], "Create or update an ImagePolicy object"),
                    planned("repository", [], "Create or update an ImageRepository object"),
                    planned("update", [], "Create or update an ImageUpdateAutomation object"),
                ]),
                planned("kustomization", ["ks"], "Create or update a Kustomization resource"),
                planned("receiver", [], "Create or update a Receiver resource"),
                planned("secret", [], "Create or update Kubernetes secrets", [
                    planned("git", [], "Create or update a Kubernetes secret for Git authentication"),
                    planned("githubapp", [], "Create or update a github app secret"),
                    planned("helm", [], "Create or update a Kubernetes secret for Helm repository authentication"),
                    planned("notation", [], "Create or update a Kubernetes secret for verifications of artifacts signed by Notation"),
                    planned("oci", [], "Create or update a Kubernetes image pull secret"),
                    planned("proxy", [], "Create or update a Kubernetes secret for proxy authentication"),
                    planned("receiver", [], "Create or update a Kubernetes secret for a Receiver webhook"),
                    planned("tls", [], "Create or update a Kubernetes secret with TLS certificates"),
                ]),
                planned("source", [], "Create or update sources", [
                    planned("bucket", [], "Create or update a Bucket source"),
                    planned("chart", [], "Create or update a HelmChart source"),
                    planned("git", [], "Create or update a GitRepository source"),
                    planned("helm", [], "Create or update a HelmRepository source"),
                    planned("oci", [], "Create or update an OCIRepository"),
                ]),
                planned("tenant", [], "Create or update a tenant"),
            ]),
            planned("debug", [], "Debug a flux resource", [
                planned("helmrelease", ["hr"], "Debug a HelmRelease resource"),
                planned("kustomization", ["ks"], "Debug a Kustomization resource"),
            ]),
            planned("delete", [], "Delete sources and resources", perKind("delete") { "Delete a \($0.kind) resource" }),
            planned("diff", [], "Diff a flux resource", [
                planned("kustomization", ["ks"], "Diff Kustomization"),
                planned("artifact", [], "Diff artifact"),
            ]),
            planned("envsubst", [], "envsubst substitutes the values of environment variables"),
            planned("events", [], "Display Kubernetes events for Flux resources"),
            planned("export", [], "Export resources in YAML format",
                    perKind("export", summary: { "Export \($0.kind) resources in YAML format" }, includeExport: true)),
            planned("get", [], "Get the resources and their status", [
                planned("alert-providers", ["alert-provider"], "Get Provider statuses"),
                planned("alerts", ["alert"], "Get Alert statuses"),
                planned("all", [], "Get all resources and statuses"),
                planned("helmreleases", ["hr", "helmrelease"], "Get HelmRelease statuses"),
                planned("images", ["image"], "Get image automation object status", [
                    planned("all", [], "Get all image statuses"),
                    planned("policy", [], "Get ImagePolicy status"),
                    planned("repository", [], "Get ImageRepository status"),
                    planned("update", [], "Get ImageUpdateAutomation status"),
                ]),
                planned("kustomizations", ["ks", "kustomization"], "Get Kustomization statuses"),
                planned("receivers", ["receiver"], "Get Receiver statuses"),
                planned("sources", ["source"], "Get source statuses", [
                    planned("all", [], "Get all source statuses"),
                    planned("bucket", [], "Get Bucket source statuses"),
                    planned("chart", [], "Get HelmChart statuses"),
                    planned("external", [], "Get ExternalArtifact statuses"),
                    planned("git", [], "Get GitRepository source statuses"),
                    planned("helm", [], "Get HelmRepository source statuses"),
                    planned("oci", [], "Get OCIRepository status"),
                ]),
            ]),
            planned("install", [], "Install or upgrade Flux"),
            planned("logs", [], "Display formatted logs for Flux components"),
            planned("reconcile", [], "Reconcile sources and resources", perKind("reconcile") { "Reconcile a \($0.kind) resource" }),
            planned("resume", [], "Resume suspended resources", perKind("resume") { "Resume a suspended \($0.kind)" }),
            planned("suspend", [], "Suspend resources", perKind("suspend") { "Suspend reconciliation of \($0.kind)" }),
            planned("tree", [], "Print the resources reconciled by Flux", [
                planned("kustomization", ["ks"], "Print the resources reconciled by a Kustomization"),
                artifactGenerator("tree"),
            ]),
            planned("trigger", [], "Trigger a Flux resource", [
                planned("receiver", [], "Trigger a Receiver webhook"),
            ]),
            planned("uninstall", [], "Uninstall Flux and its custom resource definitions"),
            planned("list", [], "List artifacts", [planned("artifacts", [], "list artifacts")]),
            planned("migrate", [], "Migrate the Flux custom resources to their latest API version"),
            planned("plugin", [], "Manage Flux CLI plugins", [
                planned("install", [], "Install a plugin from the catalog"),
                planned("list", ["ls"], "List installed plugins"),
                planned("search", [], "Search the plugin catalog"),
                planned("uninstall", ["delete"], "Uninstall a plugin"),
                planned("update", ["upgrade"], "Update installed plugins"),
            ]),
            planned("pull", [], "Pull artifacts", [planned("artifact", [], "Pull artifact")]),
            planned("push", [], "Push artifacts", [planned("artifact", [], "Push artifact")]),
            planned("tag", [], "Tag artifacts", [planned("artifact", [], "Tag artifact")]),
            planned("stats", [], "Stats of Flux reconciles"),
            planned("trace", [], "Trace in-cluster objects throughout the GitOps delivery pipeline"),
        ]
    }
}
