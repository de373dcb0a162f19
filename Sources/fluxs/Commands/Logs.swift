import FluxsAPI
import FluxsCore
import FluxsKube
import FluxsYAML

/// `fluxs logs`: the Flux controllers' logs, read from their pods through the API and formatted as flux formats them.
/// fluxs itself runs no controllers; without them the command says so and where fluxs's own records are (events).
enum LogsCommand {
    static func make() -> Command {
        Command(
            name: "logs", summary: "Display formatted logs for Flux components",
            long: "The logs command displays formatted logs from various Flux components.\n\nfluxs reconciles in its own process and runs no controllers: when the Flux controllers run in the cluster their logs are shown; otherwise the command says so and points to the events fluxs records (fluxs events).",
            examples: """
              # Print the reconciliation logs of all Flux custom resources in your cluster
              fluxs logs --all-namespaces

              # Print all logs of all Flux custom resources newer than 2 minutes
              fluxs logs --all-namespaces --since=2m

              # Stream logs for a particular log level
              fluxs logs --follow --level=error --all-namespaces

              # Filter logs by kind, name and namespace
              fluxs logs --kind=Kustomization --name=podinfo --namespace=default

              # Print logs when Flux is installed in a different namespace than flux-system
              fluxs logs --flux-namespace=my-namespace
            """,
            flags: [
                .choice("level", nil, ["debug", "info", "error"], "log level, available options are: (debug, info, error)"),
                .string("kind", nil, "displays errors of a particular toolkit kind e.g GitRepository"),
                .string("name", nil, "specifies the name of the object logs to be displayed"),
                .bool("follow", "f", "specifies if the logs should be streamed"),
                Flag(name: "tail", kind: .int, defaultValue: "-1", help: "lines of recent log file to display"),
                .string("flux-namespace", nil, "the namespace where the Flux components are running", default: "flux-system"),
                .bool("all-namespaces", "A", "displays logs for objects across all namespaces"),
                .duration("since", "Only return logs newer than a relative duration like 5s, 2m, or 3h. Defaults to all logs. Only one of since-time / since may be used.", default: "0s"),
                .string("since-time", nil, "Only return logs after a specific date (RFC3339). Defaults to all logs. Only one of since-time / since may be used."),
            ],
            handler: run,
            note: "the Flux controllers' pod logs through the API, formatted and filtered as flux does (goldens match); without controllers it says that fluxs runs none and points to `fluxs events` (exit 1)")
    }

    struct Entry {
        var ts = "", level = "", msg = "", error = "", kind = "", controllerKind = "", name = "", namespace = ""
        init?(_ line: String) {
            guard let d = try? JSON.decode(line), case .mapping = d else { return nil }
            ts = d["ts"]?.text ?? ""; level = d["level"]?.text ?? ""; msg = d["msg"]?.text ?? ""; error = d["error"]?.text ?? ""
            kind = d["reconciler kind"]?.text ?? ""; controllerKind = d["controllerKind"]?.text ?? ""
            name = d["name"]?.text ?? ""; namespace = d["namespace"]?.text ?? ""
        }
        /// `{{.Timestamp}} {{.Level}} {{or .Kind .ControllerKind}}{{if .Name}}/{{.Name}}.{{.Namespace}}{{end}} - {{.Message}} {{.Error}}`
        var line: String {
            "\(ts) \(level) \(kind.isEmpty ? controllerKind : kind)\(name.isEmpty ? "" : "/\(name).\(namespace)") - \(msg) \(error)"
        }
    }

    struct Filter {
        var level: String, kind: String, name: String, namespace: String?
        func keep(_ e: Entry) -> Bool {
            (level.isEmpty || level == e.level)
                && (kind.isEmpty || kind.lowercased() == e.kind.lowercased() || kind.lowercased() == e.controllerKind.lowercased())
                && (name.isEmpty || name.lowercased() == e.name.lowercased())
                && (namespace.map { $0.lowercased() == e.namespace.lowercased() } ?? true)
        }
    }

    /// The formatted lines of one pod's log text (lines not starting with `{` are skipped, as flux skips them).
    static func format(_ text: String, _ filter: Filter) -> [String] {
        var out: [String] = []
        for raw in text.split(separator: "\n", omittingEmptySubsequences: true) where raw.hasPrefix("{") {
            guard let e = Entry(String(raw)) else { break }
            if filter.keep(e) { out.append(e.line) }
        }
        return out
    }

    static func run(_ inv: Invocation) throws -> Int32 {
        if !inv.args.isEmpty { throw CLIError("no argument required") }
        let f = inv.flags
        let ns = try inv.namespace()
        let fluxNS = f.string("flux-namespace")
        if !f.string("since-time").isEmpty && f.duration("since") != 0 {
            throw CLIError("at most one of `sinceTime` or `sinceDuration` may be specified")
        }
        if !f.string("since-time").isEmpty && Clock.parse(f.string("since-time")) == nil {
            throw CLIError("\(f.string("since-time")) is not a valid (RFC3339) time")
        }
        let kube = try inv.kube()
        let deployments = try kube.list(.deployments, namespace: fluxNS, labelSelector: "app.kubernetes.io/part-of=flux").items
        let pods = try self.pods(kube, deployments, fluxNS)
        if pods.isEmpty {
            if deployments.isEmpty {
                throw CLIError("no Flux pods found in namespace \"\(fluxNS)\": fluxs reconciles in its own process and runs no controllers, so there are no controller logs; what fluxs reconciled is recorded as events (fluxs events -A, or fluxs events --for <Kind>/<name>)")
            }
            throw CLIError("no Flux pods found in namespace \"\(fluxNS)\"")
        }
        let filter = Filter(level: f.string("level"), kind: f.string("kind"), name: f.string("name"), namespace: f.bool("all-namespaces") ? nil : ns)
        var query: [(String, String)] = []
        if f.int("tail") > -1 { query.append(("tailLines", String(f.int("tail")))) }
        if !f.string("since-time").isEmpty { query.append(("sinceTime", f.string("since-time"))) }
        if f.duration("since") != 0 { query.append(("sinceSeconds", String(Int(f.duration("since").rounded())))) }
        if f.bool("follow") { query.append(("follow", "true")) }
        var failed = false
        for pod in pods {
            let name = pod["metadata"]?["name"]?.string ?? ""
            var q = query
            if (pod["spec"]?["containers"]?.array?.count ?? 0) > 1 { q.append(("container", "manager")) }
            do {
                let resp = try kube.call("GET", "/api/v1/namespaces/\(fluxNS)/pods/\(name)/log", query: q)
                for l in format(String(decoding: resp.body, as: UTF8.self), filter) { inv.out.print(l) }
                inv.out.flush()
            } catch let e as KubeError {
                inv.out.stderr("failed getting logs: \(e.message)")
                failed = true
            }
        }
        if failed { throw CLIError("failed to collect logs from all Flux pods") }
        return 0
    }

    /// One pod per Deployment (selected by its template labels), running pods first, as kubectl's ByLogging sorts them.
    static func pods(_ kube: KubeClient, _ deployments: [Node], _ ns: String) throws -> [Node] {
        let podRef = ResourceRef(group: "", version: "v1", resource: "pods", kind: "Pod", namespaced: true)
        var out: [Node] = []
        for d in deployments {
            let labels = d["spec"]?["template"]?["metadata"]?["labels"]?.map?.entries ?? []
            let selector = labels.map { "\($0.0)=\($0.1.text ?? "")" }.joined(separator: ",")
            let items = try kube.list(podRef, namespace: ns, labelSelector: selector).items
            func rank(_ p: Node) -> Int {
                switch p["status"]?["phase"]?.string {
                case "Running"?: return 0
                case "Pending"?: return 2
                case "Unknown"?, nil: return 3
                default: return 1
                }
            }
            if let best = items.sorted(by: { rank($0) < rank($1) }).first { out.append(best) }
        }
        return out
    }
}
