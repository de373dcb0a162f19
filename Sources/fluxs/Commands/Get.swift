import FluxsAPI
import FluxsKube
import FluxsYAML

/// `fluxs get <kind> [name]`: flux's tables, generic over the kind adapters.
enum GetCommand {
    static func make() -> Command {
        func kind(_ name: String, _ aliases: [String], _ summary: String, _ a: KindAdapter, showSource: Bool = false,
                  example: String) -> Command {
            var c = Command(name: name, aliases: aliases, summary: summary, examples: example,
                            args: .names(kind: a.kind.kind, many: false), handler: { inv in try run(inv, [a], all: false) })
            if showSource { c.flags = [.bool("show-source", nil, "show the source reference of each \(a.kind.kind)")] }
            return c
        }
        func all(_ name: String, _ summary: String, _ adapters: [KindAdapter]) -> Command {
            Command(name: name, summary: summary, examples: "  # List all \(name == "all" ? "Flux objects" : "of them") in a namespace\n  fluxs get \(summary.contains("source") ? "sources " : summary.contains("image") ? "images " : "")all --namespace=default",
                    handler: { inv in try run(inv, adapters, all: true) })
        }
        let A = Adapters.self
        var get = Command(name: "get", summary: "Get the resources and their status",
                          long: "The get sub-commands print the statuses of Flux resources.")
        get.persistentFlags = [
            .bool("all-namespaces", "A", "list the requested object(s) across all namespaces"),
            .bool("no-header", nil, "skip the header when printing the results"),
            .bool("watch", "w", "After listing/getting the requested object, watch for changes."),
            .string("status-selector", nil, "specify the status condition name and the desired state to filter the get result, e.g. ready=false"),
            .string("label-selector", "l", "filter objects by label selector"),
            Flag(name: "output", short: "o", kind: .choice(["table", "json", "yaml", "wide"]), defaultValue: "table",
                 help: "output format: table (flux's), json or yaml (a v1 List of the objects), wide (table with AGE)",
                 completion: .values(["table", "json", "yaml", "wide"])),
        ]
        get.subcommands = [
            kind("kustomizations", ["ks", "kustomization"], "Get Kustomization statuses", A.kustomization, showSource: true,
                 example: "  # List all kustomizations and their status\n  fluxs get kustomizations"),
            kind("helmreleases", ["hr", "helmrelease"], "Get HelmRelease statuses", A.helmRelease, showSource: true,
                 example: "  # List all Helm releases and their status\n  fluxs get helmreleases"),
            kind("receivers", ["receiver"], "Get Receiver statuses", A.receiver, example: "  # List all Receivers and their status\n  fluxs get receivers"),
            kind("alerts", ["alert"], "Get Alert statuses", A.alert, example: "  # List all Alerts and their status\n  fluxs get alerts"),
            kind("alert-providers", ["alert-provider"], "Get Provider statuses", A.provider,
                 example: "  # List all Providers and their status\n  fluxs get alert-providers"),
            all("all", "Get all resources and statuses", A.all),
            PlannedCommands.artifactGenerator("get"),
            Command(name: "sources", aliases: ["source"], summary: "Get source statuses",
                    long: "The get source sub-commands print the statuses of the sources.", subcommands: [
                        all("all", "Get all source statuses", [A.ociRepository, A.bucket, A.gitRepository, A.helmRepository, A.helmChart, A.externalArtifact]),
                        kind("git", [], "Get GitRepository source statuses", A.gitRepository,
                             example: "  # List all Git repositories and their status\n  fluxs get sources git"),
                        kind("oci", [], "Get OCIRepository status", A.ociRepository,
                             example: "  # List all OCI repositories and their status\n  fluxs get sources oci"),
                        kind("helm", [], "Get HelmRepository source statuses", A.helmRepository,
                             example: "  # List all Helm repositories and their status\n  fluxs get sources helm"),
                        kind("chart", [], "Get HelmChart statuses", A.helmChart, example: "  # List all Helm charts and their status\n  fluxs get sources chart"),
                        kind("bucket", [], "Get Bucket source statuses", A.bucket, example: "  # List all Buckets and their status\n  fluxs get sources bucket"),
                        kind("external", [], "Get ExternalArtifact statuses", A.externalArtifact,
                             example: "  # List all ExternalArtifacts and their status\n  fluxs get sources external"),
                    ]),
            Command(name: "images", aliases: ["image"], summary: "Get image automation object status",
                    long: "The get image sub-commands print the status of image automation objects.", subcommands: [
                        all("all", "Get all image statuses", [A.imageRepository, A.imagePolicy, A.imageUpdateAutomation]),
                        kind("repository", [], "Get ImageRepository status", A.imageRepository,
                             example: "  # List all image repositories and their status\n  fluxs get images repository"),
                        kind("policy", [], "Get ImagePolicy status", A.imagePolicy, example: "  # List all image policies and their status\n  fluxs get images policy"),
                        kind("update", [], "Get ImageUpdateAutomation status", A.imageUpdateAutomation,
                             example: "  # List all image update automations and their status\n  fluxs get images update"),
                    ]),
        ]
        return get
    }

    struct StatusSelector {
        var type: String
        var status: String
        var negate: Bool

        init(_ s: String) throws {
            if let r = s.firstRange(of: "!=") {
                type = String(s[..<r.lowerBound]); status = String(s[r.upperBound...]); negate = true
            } else if let i = s.firstIndex(of: "=") {
                type = String(s[..<i]); status = String(s[s.index(after: i)...]); negate = false
            } else {
                throw CLIError("expected status selector in type=status or type!=status format, but found: \(s)")
            }
        }

        func matches(_ o: Node, _ a: KindAdapter) -> Bool {
            if a.kind == FluxKinds.alert || a.kind == FluxKinds.provider {
                let ok = type.lowercased() == "ready" && status.lowercased() == "true"
                return negate ? !ok : ok
            }
            let c = (o["status"]?["conditions"]?.array ?? []).last { ($0["type"]?.string ?? "").lowercased() == type.lowercased() }
            guard let c else { return negate }
            let eq = (c["status"]?.string ?? "").lowercased() == status.lowercased()
            return negate ? !eq : eq
        }
    }

    /// The CRD of the kind is served, or a clear error.
    static func ensureCRD(_ kube: KubeClient, _ a: KindAdapter) throws -> Bool {
        guard let list = try kube.resources(apiVersion: a.kind.apiVersion), list.contains(where: { $0.kind == a.kind.kind }) else {
            return false
        }
        return true
    }

    /// One object; discovery is asked only when the GET fails, to say that the kind itself is missing.
    static func getObject(_ kube: KubeClient, _ a: KindAdapter, namespace: String, name: String) throws -> Node {
        do { return try kube.get(a.resource, namespace: namespace, name: name) } catch let e as KubeError where e.kind == .notFound {
            guard try ensureCRD(kube, a) else { throw missingCRD(a) }
            throw e
        }
    }

    static func missingCRD(_ a: KindAdapter) -> CLIError {
        CLIError("the CustomResourceDefinition \(a.kind.crdName) is not installed in the cluster; run 'fluxs install' first")
    }

    static func rows(_ items: [Node], _ a: KindAdapter, allNamespaces: Bool, showSource: Bool, prefixKind: Bool, wide: Bool) -> [[String]] {
        items.map { o in
            var name = o["metadata"]?["name"]?.string ?? ""
            if prefixKind { name = a.kind.kind.lowercased() + "/" + name }
            var r = [name]
            if showSource, let src = a.source { r.append(src(o)) }
            r += a.row(o)
            if allNamespaces { r.insert(o["metadata"]?["namespace"]?.string ?? "", at: 0) }
            if wide {
                let created = o["metadata"]?["creationTimestamp"]?.string.flatMap(Clock.parse)
                r.append(created.map { Clock.humanDuration(Clock.now() - $0) } ?? "<unknown>")
            }
            return r
        }
    }

    static func header(_ a: KindAdapter, allNamespaces: Bool, showSource: Bool, wide: Bool) -> [String] {
        var h = ["NAME"]
        if showSource { h.append("SOURCE") }
        h += a.columns
        if allNamespaces { h.insert("NAMESPACE", at: 0) }
        if wide { h.append("AGE") }
        return h
    }

    static func run(_ inv: Invocation, _ adapters: [KindAdapter], all: Bool) throws -> Int32 {
        let f = inv.flags
        let allNS = f.bool("all-namespaces")
        let ns = try inv.namespace()
        let output = f.string("output")
        let showSource = f.bool("show-source")
        let selector = f.string("status-selector").isEmpty ? nil : try StatusSelector(f.string("status-selector"))
        let labels = f.string("label-selector")
        if !labels.isEmpty, labels.contains("(") && !labels.contains(")") {
            throw CLIError("unable to parse label selector: \(labels)")
        }
        if inv.args.count > 1 { throw CLIError("at most one name can be given, found \(inv.args.count)") }
        let name = inv.args.first
        if all && f.bool("watch") { throw CLIError("expected a single resource type, but found all") }
        let kube = try inv.kube()
        var listed: [Node] = []
        var failed = false
        for a in adapters {
            guard try ensureCRD(kube, a) else {
                if all { continue }
                throw missingCRD(a)
            }
            if f.bool("watch") {
                try watch(inv, kube, a, namespace: allNS ? nil : ns, name: name, labels: labels, selector: selector)
                return 0
            }
            let items: [Node]
            do {
                items = try kube.list(a.resource, namespace: allNS ? nil : ns, labelSelector: labels,
                                      fieldSelector: name.map { "metadata.name=\($0)" }).items
            } catch let e as KubeError where all {
                inv.out.failure(e.message)
                failed = true
                continue
            } catch let e as KubeError where e.kind == .badRequest && !labels.isEmpty {
                throw CLIError("unable to parse label selector: \(e.message)")
            }
            if items.isEmpty {
                if all { continue }
                let scope = allNS ? "in any namespace" : "in \"\(ns)\" namespace"
                if let n = name { throw CLIError("\(a.kind.kind) object '\(n)' not found \(scope)") }
                throw CLIError("no \(a.kind.kind) objects found \(scope)")
            }
            let kept = selector.map { s in items.filter { s.matches($0, a) } } ?? items
            if output == "json" || output == "yaml" {
                listed += kept
                continue
            }
            if all && kept.isEmpty { continue }
            let wide = output == "wide"
            let ss = showSource && a.source != nil
            let table = Table.render(header: f.bool("no-header") ? nil : header(a, allNamespaces: allNS, showSource: ss, wide: wide),
                                     rows: rows(kept, a, allNamespaces: allNS, showSource: ss, prefixKind: all, wide: wide))
            inv.out.write(table)
            if all { inv.out.print("") }
        }
        if output == "json" || output == "yaml" {
            let list: Node = .map([("apiVersion", "v1"), ("items", .sequence(listed)), ("kind", "List"),
                                   ("metadata", .map([("resourceVersion", "")]))])
            inv.out.write(output == "json" ? try list.jsonString(indent: "    ") + "\n" : try list.yamlString())
        }
        return failed ? 1 : 0
    }

    static func watch(_ inv: Invocation, _ kube: KubeClient, _ a: KindAdapter, namespace: String?, name: String?, labels: String,
                      selector: StatusSelector?) throws {
        var first = true
        let allNS = namespace == nil
        let ss = inv.flags.bool("show-source") && a.source != nil
        // The server ends a watch at its timeoutSeconds (whole seconds); watch again from the last seen
        // resourceVersion until --timeout has passed, which ends `get --watch` as flux ends it.
        var resourceVersion: String? = nil
        while kube.remaining > 0.05 {
            try kube.watch(a.resource, namespace: namespace, labelSelector: labels, fieldSelector: name.map { "metadata.name=\($0)" },
                           resourceVersion: resourceVersion) { ev in
                if let rv = ev.object["metadata"]?["resourceVersion"]?.string { resourceVersion = rv }
                if let s = selector, !s.matches(ev.object, a) { return true }
                let h = first && !inv.flags.bool("no-header") ? header(a, allNamespaces: allNS, showSource: ss, wide: false) : nil
                inv.out.write(Table.render(header: h, rows: rows([ev.object], a, allNamespaces: allNS, showSource: ss, prefixKind: false, wide: false)))
                inv.out.flush()
                first = false
                return true
            }
        }
        throw CLIError("timed out waiting for the condition")
    }
}
