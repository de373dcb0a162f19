import FluxsAPI
import FluxsKube
import FluxsYAML

/// `fluxs version [--client] [-o yaml|json]`.
enum VersionCommand {
    static func make() -> Command {
        Command(
            name: "version",
            summary: "Print the client and server-side components version information.",
            long: """
            The version command prints the client and server-side components version information.
            `flux` is the flux release fluxs follows, `fluxs` the version of this build; with a
            cluster, the Flux distribution recorded on its CRDs and any controllers running in it.
            """,
            examples: """
              # Print the versions of the client and of the cluster components
              fluxs version

              # Print the client versions only, as JSON
              fluxs version --client -o json
            """,
            flags: [
                .bool("client", nil, "print only client version"),
                .string("output", "o", "the format in which the information should be printed. can be 'json' or 'yaml'", default: "yaml",
                        completion: .values(["json", "yaml"])),
            ],
            handler: run)
    }

    static func run(_ inv: Invocation) throws -> Int32 {
        if !inv.args.isEmpty { throw CLIError("unknown command \"\(inv.args[0])\" for \"fluxs version\"") }
        let format = inv.flags.string("output")
        guard format == "yaml" || format == "json" else { throw CLIError("--output must be json or yaml, not \(format)") }
        var info: [(String, String)] = [("flux", BuildInfo.fluxVersion), ("fluxs", "v" + BuildInfo.version)]
        if !inv.flags.bool("client") {
            let kube = try inv.kube()
            let ns = try inv.namespace()
            let crd = ResourceRef.crds
            if let obj = try kube.getIfExists(crd, namespace: nil, name: FluxKinds.gitRepository.crdName) {
                let labels = obj["metadata"]?["labels"]
                let version = labels?["app.kubernetes.io/version"]?.string ?? ""
                let partOf = labels?["app.kubernetes.io/part-of"]?.string ?? ""
                let dist = partOf.isEmpty ? version : "\(partOf)-\(version)"
                if !dist.isEmpty { info.append(("distribution", dist)) }
            }
            let deploy = ResourceRef.deployments
            let list = try kube.list(deploy, namespace: ns, labelSelector: "app.kubernetes.io/part-of=flux")
            var controllers: [(String, String)] = []
            for d in list.items {
                for c in d["spec"]?["template"]?["spec"]?["containers"]?.array ?? [] {
                    guard let image = c["image"]?.string else { continue }
                    let (repo, tag) = splitImage(image)
                    controllers.append((repo.split(separator: "/").last.map(String.init) ?? repo, tag))
                }
            }
            info += controllers.sorted { $0.0 < $1.0 }
        }
        if format == "json" {
            let node = Node.map(info.sorted { $0.0 < $1.0 }.map { ($0.0, Node.string($0.1)) })
            inv.out.print(try node.jsonString(indent: "  "))
        } else {
            for (k, v) in info { inv.out.print("\(k): \(v)") }
        }
        return 0
    }

    /// Repository and tag of an image reference; the tag keeps a digest (`v1.0.1@sha256:...`).
    static func splitImage(_ image: String) -> (String, String) {
        let slash = image.lastIndex(of: "/") ?? image.startIndex
        let rest = image[slash...]
        if let colon = rest.firstIndex(of: ":") {
            return (String(image[..<colon]), String(image[image.index(after: colon)...]))
        }
        if let at = rest.firstIndex(of: "@") {
            return (String(image[..<at]), String(image[at...]))
        }
        return (image, "latest")
    }
}
