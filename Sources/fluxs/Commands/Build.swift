import FluxsAPI
import FluxsCore
import FluxsKube
import FluxsKustomize
import FluxsYAML

/// `fluxs build kustomization NAME --path DIR`: what kustomize-controller would apply, printed, built by fluxs's engine.
enum BuildCommand {
    static func make() -> Command {
        let ks = Command(
            name: "kustomization", aliases: ["ks"], summary: "Build Kustomization",
            long: "The build command queries the Kubernetes API and fetches the specified Flux Kustomization. It then uses the fetched in cluster flux kustomization to perform needed transformation on the local kustomization.yaml pointed at by --path. The local kustomization.yaml is generated if it does not exist. Finally it builds the overlays using the local kustomization.yaml, and write the resulting multi-doc YAML to stdout.\n\nIt is possible to specify a Flux kustomization file using --kustomization-file.",
            examples: "  # Build the local manifests as they were built on the cluster\n  fluxs build kustomization my-app --path ./path/to/local/manifests\n\n  # Build using a local flux kustomization file, without the cluster\n  fluxs build kustomization my-app --path ./path/to/local/manifests --kustomization-file ./path/to/local/my-app.yaml --dry-run\n\n  # Run recursively on all encountered Kustomizations\n  fluxs build kustomization my-app --path ./path/to/local/manifests \\\n\t--recursive \\\n\t--local-sources GitRepository/flux-system/my-repo=./path/to/local/git",
            flags: [
                .string("path", nil, "Path to the manifests location."),
                .string("kustomization-file", nil, "Path to the Flux Kustomization YAML file."),
                .strings("ignore-paths", nil, "set paths to ignore in .gitignore format"),
                .bool("dry-run", nil, "Dry run mode."),
                .bool("strict-substitute", nil, "When enabled, the post build substitutions will fail if a var without a default value is declared in files but is missing from the input vars."),
                .bool("in-memory-build", nil, "Use in-memory filesystem during build (fluxs always builds in memory)."),
                .bool("recursive", "r", "Recursively build Kustomizations"),
                .strings("local-sources", nil, "Comma-separated list of repositories in format: Kind/namespace/name=path"),
            ],
            args: .names(kind: "Kustomization", many: false), handler: run)
        return Command(name: "build", summary: "Build a flux resource", long: "The build command is used to build flux resources.",
                       subcommands: [ks, ArtifactCommands.build()])
    }

    static func run(_ inv: Invocation) throws -> Int32 {
        guard let name = inv.args.first else { throw CLIError("kustomization name is required") }
        let f = inv.flags
        let path = try validPath(f.string("path"))
        let file = f.string("kustomization-file")
        let dryRun = f.bool("dry-run")
        if dryRun && file.isEmpty { throw CLIError("dry-run mode requires a kustomization file") }
        let ns = try inv.namespace()
        let kube: KubeClient? = dryRun ? nil : try inv.kube()
        let object = try resolve(kube, name: name, namespace: ns, file: file, ignoreNotFound: false)
        var options = Options(ignorePaths: f.strings("ignore-paths"), strictSubstitute: f.bool("strict-substitute"),
                              recursive: f.bool("recursive"), localSources: try localSources(f), kube: kube)
        options.warn = { inv.out.warning($0) }
        do {
            inv.out.write(try FluxBuild.render(try build(object, path: path, options)))
        } catch let e as FluxBuild.Failure {
            throw CLIError(e.description)
        }
        return 0
    }

    /// The Flux Kustomization to build, as flux resolves it: the `--kustomization-file` object takes precedence (with
    /// the live object's status, so its inventory is known); without `--dry-run` the live object must exist, unless
    /// `ignoreNotFound` lets a file stand for a Kustomization that is not in the cluster yet.
    static func resolve(_ kube: KubeClient?, name: String, namespace ns: String, file: String, ignoreNotFound: Bool) throws -> Node {
        if ignoreNotFound && file.isEmpty { throw CLIError("kustomization file is required when assuming new kustomizations") }
        guard let kube else {
            guard !file.isEmpty else { throw CLIError("dry-run mode requires a kustomization file") }
            return try kustomization(file: file, name: name, namespace: ns)
        }
        let live: Node?
        do { live = try kube.get(Adapters.kustomization.resource, namespace: ns, name: name) } catch let e as KubeError {
            guard e.kind == .notFound, e.name != nil, ignoreNotFound else { throw CLIError("failed to get kustomization object: \(e.message)") }
            live = nil
        }
        let local: Node? = file.isEmpty ? Optional<Node>.none : try kustomization(file: file, name: name, namespace: ns)
        guard var object = local else { return live! }
        if let status = live?["status"], status["inventory"] != nil { object["status"] = status }
        return object
    }

    /// `--path` as flux checks it.
    static func validPath(_ path: String) throws -> String {
        if path.isEmpty || !Files.isDirectory(Files.absolute(path)) {
            throw CLIError("invalid resource path \"\(path.isEmpty ? "" : Files.absolute(path))\"")
        }
        return path
    }

    /// The first Flux Kustomization named `name` (in `namespace` or without one) of a `--kustomization-file`.
    static func kustomization(file: String, name: String, namespace ns: String) throws -> Node {
        guard let text = try? Files.readText(file), let docs = try? YAML.parseDocuments(text, file: file) else {
            throw CLIError("invalid kustomization file \"\(file)\"")
        }
        // As flux: a document without a namespace stands for the Kustomization in -n, and keeps its empty namespace
        // (the owner labels then carry an empty namespace, as flux's do).
        guard let object = docs.first(where: { d in
            (d["apiVersion"]?.string ?? "").hasPrefix("kustomize.toolkit.fluxcd.io/") && d["kind"]?.string == "Kustomization"
                && d["metadata"]?["name"]?.string == name
                && ((d["metadata"]?["namespace"]?.string ?? "").isEmpty || d["metadata"]?["namespace"]?.string == ns)
        }) else {
            throw CLIError("failed find kustomization with name '\(name)' and namespace '\(ns)' in file '\(file)'")
        }
        return object
    }

    /// `--local-sources Kind/namespace/name=path,...`
    static func localSources(_ f: FlagValues) throws -> [String: String] {
        var out: [String: String] = [:]
        for pair in f.strings("local-sources") {
            guard let eq = pair.firstIndex(of: "=") else {
                throw CLIError("invalid argument \"\(pair)\" for \"--local-sources\" flag: \(pair) must be formatted as key=value")
            }
            out[String(pair[..<eq])] = String(pair[pair.index(after: eq)...])
        }
        return out
    }

    /// The local directory of a Kustomization found in a build, from --local-sources (key `Kind/namespace/name`).
    static func localPath(of child: Node, _ o: Options) throws -> String {
        let childName = child["metadata"]?["name"]?.string ?? "", childNS = child["metadata"]?["namespace"]?.string ?? ""
        let src = child["spec"]?["sourceRef"]
        let srcNS = src?["namespace"]?.string.flatMap { $0.isEmpty ? nil : $0 } ?? childNS
        let key = "\(src?["kind"]?.string ?? "")/\(srcNS)/\(src?["name"]?.string ?? "")"
        guard let local = o.localSources[key] else {
            throw FluxBuild.Failure("cannot get local path for \(key) of kustomization \(childName)")
        }
        return local + "/" + (child["spec"]?["path"]?.string ?? "")
    }

    /// The root a local build is confined to, standing for the artifact kustomize-controller would build from: the
    /// --local-sources directory holding the path, else the Git work tree holding it, else the current directory when
    /// the path is below it (flux's in-memory build confines to it), else the path itself.
    static func buildRoot(_ path: String, _ o: Options) -> Confinement {
        let dir = Confinement.resolve(Files.absolute(path))
        func holds(_ root: String) -> Bool { dir == root || root == "/" || dir.hasPrefix(root + "/") }
        let sources = o.localSources.values.map { Confinement.resolve(Files.absolute($0)) }.filter(holds)
        if let source = sources.max(by: { $0.count < $1.count }) {
            return Confinement(root: source, name: "the local source '\(source)'")
        }
        var up = dir
        while true {
            if Files.exists(up + "/.git") { return Confinement(root: up, name: "the Git work tree '\(up)'") }
            if up == "/" { break }
            up = Files.dirname(up)
        }
        let cwd = Confinement.resolve(Files.currentDirectory())
        if cwd != "/", holds(cwd) { return Confinement(root: cwd, name: "the current directory '\(cwd)'") }
        return Confinement(root: dir, name: "'\(dir)'")
    }

    struct Options {
        var ignorePaths: [String]
        var strictSubstitute: Bool
        var recursive: Bool
        var localSources: [String: String]
        var kube: KubeClient?
        /// Decrypted values of every build of this command, masked wherever they are printed.
        var revealed = SopsRevealed()
        /// false: decrypted objects stay in clear (diff applies them in a dry run and masks its report).
        var mask = true
        var warn: ((String) -> Void)? = nil
    }

    /// One Kustomization's build; with --recursive, followed by the builds of the Kustomizations it produces, each
    /// from the local copy of its source (--local-sources) and, when the cluster has it, the live object, as flux does.
    static func build(_ object: Node, path: String, _ o: Options) throws -> [Node] {
        let name = object["metadata"]?["name"]?.string ?? ""
        let ns = object["metadata"]?["namespace"]?.string ?? ""
        var fb = FluxBuild(kustomization: object, path: path)
        let confinement = buildRoot(path, o)
        fb.confinement = confinement
        fb.ignorePaths = o.ignorePaths
        fb.strictSubstitute = o.strictSubstitute
        if let kube = o.kube {
            fb.lookup = { kind, n in try KustomizationReconciler.values(kube, kind: kind, namespace: ns, name: n) }
            // SOPS as kustomize-controller decrypts (values masked in output); without the keys, flux's masking.
            do { fb.decryption = try KustomizationDecryption.load(for: object, kube: kube, root: confinement.root, revealed: o.revealed) } catch let e as KustomizationDecryption.Failure {
                o.warn?("SOPS decryption skipped for Kustomization '\(ns)/\(name)': \(e.description); encrypted values are masked")
            }
        }
        fb.maskSecrets = o.mask || fb.decryption == nil
        let docs = try fb.build()
        guard o.recursive else { return docs }
        var nested: [Node] = []
        for d in docs where (d["apiVersion"]?.string ?? "").hasPrefix("kustomize.toolkit.fluxcd.io/") && d["kind"]?.string == "Kustomization" {
            let childName = d["metadata"]?["name"]?.string ?? "", childNS = d["metadata"]?["namespace"]?.string ?? ""
            if childName == name && childNS == ns { continue }
            let childPath = try localPath(of: d, o)
            var child = d
            if let kube = o.kube, let live = try kube.getIfExists(Adapters.kustomization.resource, namespace: childNS, name: childName) {
                child = live
            }
            nested += try build(child, path: childPath, o)
        }
        return docs + nested
    }
}
