import FluxsAPI
import FluxsKube
import FluxsYAML

/// `fluxs events`: core/v1 Events of Flux objects, in flux's table.
enum EventsCommand {
    static let eventRef = ResourceRef(group: "", version: "v1", resource: "events", kind: "Event", namespaced: true)

    static func make() -> Command {
        Command(name: "events", summary: "Display Kubernetes events for Flux resources",
                long: "The events sub-command shows Kubernetes events from Flux resources",
                examples: """
                  # Display events for flux resources in default namespace
                  fluxs events -n default

                  # Display events for flux resources in all namespaces
                  fluxs events -A

                  # Display events for a Kustomization named podinfo
                  fluxs events --for Kustomization/podinfo
                """,
                flags: [
                    .bool("all-namespaces", "A", "display events from Flux resources across all namespaces"),
                    .bool("watch", "w", "indicate if the events should be streamed"),
                    .string("for", nil, "get events for a particular object"),
                    .strings("types", nil, "filter events for certain types (valid types are: Normal, Warning)"),
                ],
                handler: run)
    }

    static func time(_ e: Node) -> Double {
        for p in [["series", "lastObservedTime"], ["lastTimestamp"], ["eventTime"], ["firstTimestamp"], ["metadata", "creationTimestamp"]] {
            if let s = e.value(at: p)?.string, let t = Clock.parse(s) { return t }
        }
        return 0
    }

    static func lastSeen(_ e: Node) -> String {
        let now = Clock.now()
        let last = time(e)
        let count = e["count"]?.int ?? e["series"]?["count"]?.int ?? 1
        let lastText = last == 0 ? "<unknown>" : Clock.humanDuration(now - last)
        if count > 1, let f = e["firstTimestamp"]?.string.flatMap(Clock.parse) {
            return "\(lastText) (x\(count) over \(Clock.humanDuration(now - f)))"
        }
        return lastText
    }

    struct Target {
        var kind: String
        var name: String?
        var namespace: String?
    }

    /// The objects whose events `--for Kind/name` shows: it and the objects it refers to.
    static func targets(_ kube: KubeClient, _ kind: String, _ name: String?, ns: String) throws -> [Target] {
        var out = [Target(kind: kind, name: name, namespace: ns)]
        guard let name, let a = Adapters.named(kind) else { return out }
        guard let o = try? kube.get(a.resource, namespace: ns, name: name) else { return out }
        func ref(_ r: Node?) {
            guard let r, let k = r["kind"]?.string, let n = r["name"]?.string else { return }
            let rns = r["namespace"]?.string ?? ""
            out.append(Target(kind: k, name: n, namespace: rns.isEmpty ? ns : rns))
        }
        switch kind {
        case "Kustomization": ref(o["spec"]?["sourceRef"])
        case "HelmRelease":
            ref(o["spec"]?["chartRef"] ?? o["spec"]?["chart"]?["spec"]?["sourceRef"])
            out.append(Target(kind: "HelmChart", name: "\(ns)-\(name)", namespace: ns))
        case "Alert": ref(.map([("kind", "Provider"), ("name", o["spec"]?["providerRef"]?["name"] ?? "")]))
        case "ImagePolicy":
            var r = o["spec"]?["imageRepositoryRef"] ?? .emptyMap
            r["kind"] = "ImageRepository"
            ref(r)
        case "HelmChart": ref(o["spec"]?["sourceRef"])
        default: break
        }
        return out
    }

    static func run(_ inv: Invocation) throws -> Int32 {
        let f = inv.flags
        let allNS = f.bool("all-namespaces")
        let ns = try inv.namespace()
        for t in f.strings("types") where t != "Normal" && t != "Warning" {
            throw CLIError("type '\(t)' not supported. Supported types are Normal, Warning")
        }
        var forKind: String? = nil, forName: String? = nil
        if !f.string("for").isEmpty {
            let p = f.string("for").split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard p.count <= 2, !p[0].isEmpty else { throw CLIError("--for selector must be of format <kind>[/<name>]") }
            guard let k = FluxKinds.named(p[0]) else { throw CLIError("'\(p[0])' is not a recognized Flux kind") }
            forKind = k.kind
            forName = p.count == 2 ? p[1] : nil
        }
        let kube = try inv.kube()
        let fluxKinds = Set(FluxKinds.all.map(\.kind))
        var events: [Node] = []
        var crossNamespace = allNS
        if let k = forKind {
            for t in try targets(kube, k, forName, ns: ns) {
                var sel = "involvedObject.kind=\(t.kind)"
                if let n = t.name { sel += ",involvedObject.name=\(n)" }
                let tns = allNS ? nil : (t.namespace ?? ns)
                if tns != nil && tns != ns { crossNamespace = true }
                events += try kube.list(eventRef, namespace: tns, fieldSelector: sel).items
            }
        } else {
            events = try kube.list(eventRef, namespace: allNS ? nil : ns).items
        }
        let types = Set(f.strings("types"))
        func keep(_ e: Node) -> Bool {
            fluxKinds.contains(e["involvedObject"]?["kind"]?.string ?? "") && (types.isEmpty || types.contains(e["type"]?.string ?? ""))
        }
        events = events.filter(keep).sorted { time($0) < time($1) }
        func row(_ e: Node) -> [String] {
            var r = [lastSeen(e), e["type"]?.string ?? "", e["reason"]?.string ?? "",
                     "\(e["involvedObject"]?["kind"]?.string ?? "")/\(e["involvedObject"]?["name"]?.string ?? "")",
                     e["message"]?.string ?? ""]
            if crossNamespace { r.insert(e["metadata"]?["namespace"]?.string ?? "", at: 0) }
            return r
        }
        let header = (crossNamespace ? ["NAMESPACE"] : []) + ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
        if f.bool("watch") {
            var first = true
            try kube.watch(eventRef, namespace: allNS ? nil : ns) { ev in
                guard keep(ev.object) else { return true }
                if let k = forKind, ev.object["involvedObject"]?["kind"]?.string != k { return true }
                if let n = forName, ev.object["involvedObject"]?["name"]?.string != n { return true }
                inv.out.write(Table.render(header: first ? header : nil, rows: [row(ev.object)]))
                inv.out.flush()
                first = false
                return true
            }
            return 0
        }
        if events.isEmpty {
            inv.out.failure(allNS ? "No events found." : "No events found in \(ns) namespace.")
            return 0
        }
        inv.out.write(Table.render(header: header, rows: events.map(row)))
        return 0
    }
}

/// `fluxs tree kustomization NAME`: the objects a Kustomization applied, from its inventory.
enum TreeCommand {
    struct Entry {
        var namespace: String
        var name: String
        var group: String
        var kind: String
        var children: [Entry] = []

        var text: String { namespace.isEmpty ? "\(kind)/\(name)" : "\(kind)/\(namespace)/\(name)" }

        /// `<namespace>_<name>_<group>_<kind>`: namespace before the first `_`, kind after the
        /// last, group between the last two, the name the rest.
        init?(id: String) {
            guard let first = id.firstIndex(of: "_"), let last = id.lastIndex(of: "_"), first < last else { return nil }
            namespace = String(id[..<first])
            kind = String(id[id.index(after: last)...])
            let middle = id[id.index(after: first)..<last]
            guard let g = middle.lastIndex(of: "_") else { return nil }
            group = String(middle[middle.index(after: g)...])
            name = String(middle[..<g])
        }

        init(namespace: String, name: String, group: String, kind: String) {
            self.namespace = namespace
            self.name = name
            self.group = group
            self.kind = kind
        }

        var node: Node {
            var m: [(String, Node)] = [("resource", .map([("Namespace", .string(namespace)), ("Name", .string(name)),
                                                           ("GroupKind", .map([("Group", .string(group)), ("Kind", .string(kind))]))]))]
            if !children.isEmpty { m.append(("resources", .sequence(children.map(\.node)))) }
            return .map(m)
        }
    }

    static func make() -> Command {
        Command(name: "tree", summary: "Print the resources reconciled by Flux",
                long: "The tree command shows the list of resources reconciled by a Flux object.",
                subcommands: [
                    Command(name: "kustomization", aliases: ["ks"], summary: "Print the resources reconciled by a Kustomization",
                            long: "The tree command prints the resources reconciled by a Kustomization.",
                            examples: """
                              # Print the resources managed by the root Kustomization
                              fluxs tree kustomization flux-system

                              # Print the Flux resources managed by the root Kustomization
                              fluxs tree kustomization flux-system --compact
                            """,
                            flags: [.bool("compact", nil, "list Flux resources only."),
                                    Flag(name: "output", short: "o", kind: .choice(["", "json", "yaml"]), help: "the format in which the tree should be printed. can be 'json' or 'yaml'",
                                         completion: .values(["json", "yaml"]))],
                            args: .names(kind: "Kustomization", many: false), handler: run),
                    PlannedCommands.artifactGenerator("tree"),
                ])
    }

    static func run(_ inv: Invocation) throws -> Int32 {
        guard let name = inv.args.first else { throw CLIError("kustomization name is required") }
        let ns = try inv.namespace()
        let kube = try inv.kube()
        let a = Adapters.kustomization
        let root = try GetCommand.getObject(kube, a, namespace: ns, name: name)
        var tree = Entry(namespace: ns, name: name, group: a.kind.group, kind: "Kustomization")
        var seen = Set<String>()
        tree.children = try children(of: root, kube: kube, compact: inv.flags.bool("compact"), seen: &seen)
        switch inv.flags.string("output") {
        case "json": inv.out.print(try tree.node.jsonString(indent: "  "))
        case "yaml": inv.out.write(try tree.node.yamlString())
        default:
            inv.out.print(tree.text)
            render(tree.children, prefix: "", out: inv.out)
            inv.out.print("")
        }
        return 0
    }

    static func children(of ks: Node, kube: KubeClient, compact: Bool, seen: inout Set<String>) throws -> [Entry] {
        let selfId = "\(ks["metadata"]?["namespace"]?.string ?? "")_\(ks["metadata"]?["name"]?.string ?? "")_kustomize.toolkit.fluxcd.io_Kustomization"
        var out: [Entry] = []
        for e in ks["status"]?["inventory"]?["entries"]?.array ?? [] {
            guard let id = e["id"]?.string, id != selfId, var entry = Entry(id: id) else { continue }
            if compact && !entry.group.contains("toolkit.fluxcd.io") { continue }
            if entry.kind == "Kustomization", entry.group == "kustomize.toolkit.fluxcd.io", ks["spec"]?["kubeConfig"] == nil,
               seen.insert(id).inserted,
               let child = try kube.getIfExists(Adapters.kustomization.resource, namespace: entry.namespace, name: entry.name) {
                entry.children = try children(of: child, kube: kube, compact: compact, seen: &seen)
            }
            out.append(entry)
        }
        return out
    }

    static func render(_ entries: [Entry], prefix: String, out: Output) {
        for (i, e) in entries.enumerated() {
            let last = i == entries.count - 1
            out.print(prefix + (last ? "└── " : "├── ") + e.text)
            render(e.children, prefix: prefix + (last ? "    " : "│   "), out: out)
        }
    }
}
