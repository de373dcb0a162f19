import FluxsAPI
import FluxsCore
import FluxsKube
import FluxsYAML

/// `fluxs build kustomization NAME --path DIR`: what kustomize-controller would apply, printed, built by fluxs's engine.
enum BuildCommand {
    static func make() -> Command {
        let ks = Command(
            name: "kustomization", aliases: ["ks"], summary: "Build Kustomization",
            long: "The build command queries the Kubernetes API and fetches the specified Flux Kustomization. It then uses the fetched in cluster flux kustomization to perform needed transformation on the local kustomization.yaml pointed at by --path. The local kustomization.yaml is generated if it does not exist. Finally it builds the overlays using the local kustomization.yaml, and write the resulting multi-doc YAML to stdout.\n\nIt is possible to specify a Flux kustomization file using --kustomization-file.",
            examples: "  # Build the local manifests as they were built on the cluster\n  fluxs build kustomization my-app --path ./path/to/local/manifests\n\n  # Build using a local flux kustomization file, without the cluster\n  fluxs build kustomization my-app --path ./path/to/local/manifests --kustomization-file ./path/to/local/my-app.yaml --dry-run",
            flags: [
                .string("path", nil, "Path to the manifests location."),
                .string("kustomization-file", nil, "Path to the Flux Kustomization YAML file."),
                .strings("ignore-paths", nil, "set paths to ignore in .gitignore format"),
                .bool("dry-run", nil, "Dry run mode."),
                .bool("strict-substitute", nil, "When enabled, the post build substitutions will fail if a var without a default value is declared in files but is missing from the input vars."),
                .bool("in-memory-build", nil, "Use in-memory filesystem during build (fluxs always builds in memory)."),
            ],
            args: .names(kind: "Kustomization", many: false), handler: run)
        return Command(name: "build", summary: "Build a flux resource", long: "The build command is used to build flux resources.",
                       subcommands: [ks, PlannedCommands.planned("artifact", [], "Build artifact")])
    }

    static func run(_ inv: Invocation) throws -> Int32 {
        guard let name = inv.args.first else { throw CLIError("kustomization name is required") }
        let f = inv.flags
        let path = f.string("path")
        if path.isEmpty || !Files.isDirectory(Files.absolute(path)) {
            throw CLIError("invalid resource path \"\(path.isEmpty ? "" : Files.absolute(path))\"")
        }
        let file = f.string("kustomization-file")
        let dryRun = f.bool("dry-run")
        if dryRun && file.isEmpty { throw CLIError("dry-run mode requires a kustomization file") }
        let ns = try inv.namespace()
        var object: Node?
        if !file.isEmpty {
            guard let text = try? Files.readText(file), let docs = try? YAML.parseDocuments(text, file: file) else {
                throw CLIError("invalid kustomization file \"\(file)\"")
            }
            object = docs.first { d in
                (d["apiVersion"]?.string ?? "").hasPrefix("kustomize.toolkit.fluxcd.io/") && d["kind"]?.string == "Kustomization"
                    && d["metadata"]?["name"]?.string == name
                    && ((d["metadata"]?["namespace"]?.string ?? "").isEmpty || d["metadata"]?["namespace"]?.string == ns)
            }
            guard object != nil else {
                throw CLIError("failed find kustomization with name '\(name)' and namespace '\(ns)' in file '\(file)'")
            }
            if object?["metadata"]?["namespace"]?.string?.isEmpty ?? true { object?.set(["metadata", "namespace"], .string(ns)) }
        }
        var kube: KubeClient?
        if !dryRun {
            kube = try inv.kube()
            if object == nil {
                do { object = try kube!.get(Adapters.kustomization.resource, namespace: ns, name: name) } catch let e as KubeError {
                    throw CLIError("failed to get kustomization object: \(e.message)")
                }
            }
        }
        var build = FluxBuild(kustomization: object!, path: path)
        build.ignorePaths = f.strings("ignore-paths")
        build.strictSubstitute = f.bool("strict-substitute")
        if let kube {
            build.lookup = { kind, n in
                let ref = kind == "Secret" ? ResourceRef(group: "", version: "v1", resource: "secrets", kind: "Secret", namespaced: true)
                                           : ResourceRef(group: "", version: "v1", resource: "configmaps", kind: "ConfigMap", namespaced: true)
                guard let o = try kube.getIfExists(ref, namespace: ns, name: n) else { return nil }
                var out: [String: String] = [:]
                for (k, v) in o["data"]?.map?.entries ?? [] {
                    guard let s = v.string else { continue }
                    out[k] = kind == "Secret" ? (Base64.decode(s).map { String(decoding: $0, as: UTF8.self) } ?? "") : s
                }
                return out
            }
        }
        do {
            inv.out.write(try FluxBuild.render(try build.build()))
        } catch let e as FluxBuild.Failure {
            throw CLIError(e.description)
        }
        return 0
    }
}
