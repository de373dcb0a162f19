import FluxsAPI
import FluxsCore
import FluxsKube
import FluxsYAML

/// `fluxs envsubst [--strict]`: flux's post-build substitution on stdin, line by line, to stdout.
enum EnvsubstCommand {
    static func make() -> Command {
        Command(
            name: "envsubst", summary: "envsubst substitutes the values of environment variables",
            long: "The envsubst command substitutes the values of environment variables\nin the string piped as standard input and writes the result to the standard output. This command can be used\nto replicate the behavior of the Flux Kustomization post-build substitutions.",
            examples: """
              # Run env var substitutions on the kustomization build output
              export cluster_region=eu-central-1
              kustomize build . | fluxs envsubst

              # Run env var substitutions and error out if a variable is not set
              kustomize build . | fluxs envsubst --strict
            """,
            flags: [.bool("strict", nil, "fail if a variable without a default value is declared in the input but is missing from the environment")],
            handler: { inv in
                if !inv.args.isEmpty { throw CLIError("unknown command \"\(inv.args[0])\" for \"fluxs envsubst\"") }
                while let line = readLine(strippingNewline: true) {
                    do { inv.out.print(try Envsubst.expand(line, inv.env, strict: inv.flags.bool("strict"))) } catch let e as Envsubst.Failure {
                        throw CLIError(e.description)
                    }
                    inv.out.flush()
                }
                return 0
            })
    }
}

/// `fluxs stats [-A]`: per Flux kind the objects running, failing and suspended, and the storage of their artifacts.
enum StatsCommand {
    static let kinds = [FluxKinds.gitRepository, FluxKinds.ociRepository, FluxKinds.helmRepository, FluxKinds.helmChart, FluxKinds.bucket,
                        FluxKinds.kustomization, FluxKinds.helmRelease, FluxKinds.alert, FluxKinds.provider, FluxKinds.receiver,
                        FluxKinds.imageUpdateAutomation, FluxKinds.imagePolicy, FluxKinds.imageRepository]

    static func make() -> Command {
        var c = Command(
            name: "stats", summary: "Stats of Flux reconciles",
            long: "The stats command prints a report of Flux custom resources present on a cluster,\nincluding their reconcile status and the amount of cumulative storage used for each source type",
            examples: "  # Print the stats report for a namespace\n  fluxs stats --namespace default\n\n  #  Print the stats report for the whole cluster\n  fluxs stats -A",
            handler: run)
        c.persistentFlags = [.bool("all-namespaces", "A", "list the statistics for objects across all namespaces")]
        return c
    }

    /// flux's formatSize: "-", bytes, or one decimal in KiB, MiB, ...
    static func size(_ b: Int) -> String {
        if b == 0 { return "-" }
        if b < 1024 { return "\(b) B" }
        var div = 1024, exp = 0
        var n = b / 1024
        while n >= 1024 { div *= 1024; exp += 1; n /= 1024 }
        let v = Double(b) / Double(div)
        let tenths = Int((v * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) \(Array("KMGTPE")[exp])iB"
    }

    static func run(_ inv: Invocation) throws -> Int32 {
        if !inv.args.isEmpty { throw CLIError("unknown command \"\(inv.args[0])\" for \"fluxs stats\"") }
        let ns = try inv.namespace()
        let kube = try inv.kube()
        var rows: [[String]] = []
        for k in kinds {
            var total = 0, suspended = 0, failing = 0, storage = 0
            // as flux: a kind the cluster does not serve counts as none
            if let items = try? kube.list(k.resource, namespace: inv.flags.bool("all-namespaces") ? nil : ns).items {
                total = items.count
                for o in items {
                    if o["spec"]?["suspend"]?.bool == true { suspended += 1 }
                    failing += (o["status"]?["conditions"]?.array ?? []).filter { $0["type"]?.string == "Ready" && $0["status"]?.string == "False" }.count
                    storage += o["status"]?["artifact"]?["size"]?.int ?? 0
                }
            }
            rows.append([k.kind, String(total - suspended), String(failing), String(suspended), size(storage)])
        }
        inv.out.write(Table.render(header: ["Reconcilers", "Running", "Failing", "Suspended", "Storage"], rows: rows))
        return 0
    }
}

/// `fluxs debug kustomization NAME --show-status|--show-vars|--show-history`.
enum DebugCommand {
    static func make() -> Command {
        let ks = Command(
            name: "kustomization", aliases: ["ks"], summary: "Debug a Flux Kustomization resource",
            long: "The debug kustomization command can be used to troubleshoot failing Flux Kustomization reconciliations.\nWARNING: This command will print sensitive information if Kubernetes Secrets are referenced in the Kustomization .spec.postBuild.substituteFrom field.",
            examples: """
              # Print the status of a Flux Kustomization
              fluxs debug ks podinfo --show-status

              # Export the final variables used for post-build substitutions composed from referred ConfigMaps and Secrets
              fluxs debug ks podinfo --show-vars > vars.env

              # Print the reconciliation history of a Flux Kustomization
              fluxs debug ks podinfo --show-history
            """,
            flags: [.bool("show-status", nil, "print the status of the Flux Kustomization"),
                    .bool("show-vars", nil, "print the final vars of the Flux Kustomization in dot env format"),
                    .bool("show-history", nil, "print the reconciliation history of the Flux Kustomization")],
            args: .names(kind: "Kustomization", many: false), handler: kustomization,
            note: "status, history, and the postBuild variables after substituteFrom and substitute (goldens match)")
        return Command(name: "debug", summary: "Debug a flux resource", long: "The debug command is used to troubleshoot failing resources.",
                       subcommands: [PlannedCommands.planned("helmrelease", ["hr"], "Debug a HelmRelease resource"), ks])
    }

    static func kustomization(_ inv: Invocation) throws -> Int32 {
        guard inv.args.count == 1 else { throw CLIError("accepts 1 arg(s), received \(inv.args.count)") }
        let f = inv.flags
        guard [f.bool("show-status"), f.bool("show-vars"), f.bool("show-history")].filter({ $0 }).count == 1 else {
            throw CLIError("exactly one of --show-status, --show-vars, or --show-history must be set")
        }
        let ns = try inv.namespace()
        let kube = try inv.kube()
        let ks: Node
        do { ks = try kube.get(FluxKinds.kustomization.resource, namespace: ns, name: inv.args[0]) } catch let e as KubeError { throw CLIError(e.message) }
        if f.bool("show-status") {
            inv.out.print("# Status documentation: https://fluxcd.io/flux/components/kustomize/kustomizations/#kustomization-status")
            inv.out.write(try (ks["status"] ?? .emptyMap).yamlString())
        } else if f.bool("show-history") {
            inv.out.print("# History documentation: https://fluxcd.io/flux/components/kustomize/kustomizations/#history")
            inv.out.write(try (ks["status"]?["history"] ?? .sequence([])).yamlString())
        } else {
            guard let pb = ks["spec"]?["postBuild"] else { throw CLIError("no post build substitutions found") }
            // kustomize-controller's LoadVariables: substituteFrom in order (later ones win), then the inline values.
            var vars: [String: String] = [:]
            for ref in pb["substituteFrom"]?.array ?? [] {
                let kind = ref["kind"]?.string ?? "", name = ref["name"]?.string ?? ""
                guard let values = try KustomizationReconciler.values(kube, kind: kind, namespace: ns, name: name) else {
                    if ref["optional"]?.bool == true { continue }
                    throw CLIError("substitute from '\(kind)/\(name)' failed: \(kind == "Secret" ? "secrets" : "configmaps") \"\(name)\" not found")
                }
                for (k, v) in values { vars[k] = v.replacingOccurrences(of: "\n", with: "") }
            }
            for (k, v) in pb["substitute"]?.map?.entries ?? [] { vars[k] = (v.text ?? "").replacingOccurrences(of: "\n", with: "") }
            for k in vars.keys.sorted() { inv.out.print("\(k)=\(vars[k]!)") }
        }
        return 0
    }
}
