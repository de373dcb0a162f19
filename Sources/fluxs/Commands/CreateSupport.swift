import FluxsAPI
import FluxsCore
import FluxsKube
import FluxsYAML

/// What every `create` command shares: name and label validation, --export
/// printing, server-side apply with flux's messages, and the wait afterwards.
enum CreateSupport {
    static let commonFlags: [Flag] = [
        .duration("interval", "source sync interval", default: "1m0s"),
        .bool("export", nil, "export in YAML format to stdout"),
        .strings("label", nil, "set labels on the resource (can specify multiple labels with commas: label1=value1,label2=value2)"),
    ]

    /// flux validates the name before anything else, even for --export.
    static func name(_ inv: Invocation) throws -> String {
        guard let n = inv.args.first else { throw CLIError("name is required") }
        let u = Array(n.utf8)
        func ok(_ c: UInt8) -> Bool { (c >= 97 && c <= 122) || (c >= 48 && c <= 57) }
        let valid = u.count >= 2 && u.count <= 63 && ok(u.first!) && ok(u.last!) && u.allSatisfy { ok($0) || $0 == 45 }
        guard valid else {
            throw CLIError("name '\(n)' is invalid, it should adhere to standard defined in RFC 1123, the name can only contain alphanumeric characters or '-'")
        }
        if inv.args.count > 1 { throw CLIError("only one name can be given, found \(inv.args.count): \(inv.args.joined(separator: " "))") }
        return n
    }

    /// create commands use -n as given (flux's create skips the root namespace rules).
    static func namespace(_ inv: Invocation) -> String { inv.flags.string("namespace") }

    static func labels(_ inv: Invocation) throws -> [String: String] {
        var out: [String: String] = [:]
        for l in inv.flags.strings("label") {
            let parts = l.split(separator: "=", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2 else { throw CLIError("invalid label format '\(l)', must be key=value") }
            if let e = qualifiedNameError(parts[0]) { throw CLIError("invalid label '\(parts[0])': [\(e)]") }
            if let e = labelValueError(parts[1]) { throw CLIError("invalid label value '\(parts[1])': [\(e)]") }
            out[parts[0]] = parts[1]
        }
        return out
    }

    static func qualifiedNameError(_ s: String) -> String? {
        let parts = s.split(separator: "/", omittingEmptySubsequences: false)
        let name = String(parts.last ?? "")
        if parts.count > 2 || name.isEmpty || name.count > 63 { return "name part must be no more than 63 characters" }
        let u = Array(name.utf8)
        func alnum(_ c: UInt8) -> Bool { (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) }
        guard alnum(u.first!), alnum(u.last!), u.allSatisfy({ alnum($0) || $0 == 45 || $0 == 95 || $0 == 46 }) else {
            return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        }
        return nil
    }

    static func labelValueError(_ s: String) -> String? {
        if s.isEmpty { return nil }
        if s.count > 63 { return "must be no more than 63 characters" }
        return qualifiedNameError(s).map { _ in
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
        }
    }

    /// flux's --export form: `---` then the object without status.
    static func export(_ inv: Invocation, _ object: Node) throws {
        var o = object
        o["status"] = nil
        inv.out.print("---")
        inv.out.write(try o.yamlString())
    }

    /// Server-side apply (field manager "flux"); prints `✔ <label> created|updated`.
    @discardableResult
    static func upsert(_ inv: Invocation, _ object: Node, label: String, quietWhenUnchanged: Bool = false) throws -> Node {
        let kube = try inv.kube()
        let r = try kube.resource(for: object)
        let ns = object["metadata"]?["namespace"]?.string
        let existing = try kube.getIfExists(r, namespace: ns, name: object["metadata"]?["name"]?.string ?? "")
        var applied = object
        applied["status"] = nil
        let result = try kube.apply(applied, fieldManager: "flux", force: true)
        if existing == nil {
            inv.out.success("\(label) created")
        } else if !quietWhenUnchanged || existing?["metadata"]?["resourceVersion"] != result["metadata"]?["resourceVersion"] {
            inv.out.success("\(label) updated")
        }
        return result
    }

    enum WaitResult {
        case ready(Node)
        case notReconciled
    }

    /// Waits for the object after it was written: the Flux controller when it runs in the
    /// cluster, the static readiness of kinds without status; otherwise fluxs says that
    /// nothing reconciled it (it cannot reconcile this kind on demand yet).
    static func wait(_ inv: Invocation, _ a: KindAdapter, _ object: Node) throws -> WaitResult {
        let kube = try inv.kube()
        let name = object["metadata"]?["name"]?.string ?? ""
        let ns = object["metadata"]?["namespace"]?.string ?? ""
        if a.isStatic(object) { return .ready(try kube.get(a.resource, namespace: ns, name: name)) }
        switch Reconciliation.mode(inv, a, kube: kube) {
        case .unavailable(let component, let fluxNS):
            inv.out.warning("\(a.kind.kind) \(name) was not reconciled: fluxs cannot reconcile \(a.kind.kind) objects on demand yet, and no \(component) runs in the \(fluxNS) namespace")
            return .notReconciled
        case .local(let r):
            let done = try Reconciliation.runLocal(inv, r, a, namespace: ns, name: name)
            if let message = Reconciliation.failure(done) { throw CLIError(message) }
            return .ready(done)
        case .controller:
            break
        }
        let live: Node = try ObjectCommands.poll(kube) { () throws -> Node? in
            let o = try kube.get(a.resource, namespace: ns, name: name)
            switch KStatus.readiness(o, isStatic: false) {
            case .none: return nil
            case .success: return o
            case .failure(let e): throw CLIError(e.message)
            }
        }
        return .ready(live)
    }

    /// Secrets are upserted by server-side apply too; stringData is sent, never printed.
    static func applySecret(_ inv: Invocation, _ secret: Node) throws {
        let kube = try inv.kube()
        _ = try kube.apply(secret, fieldManager: "flux", force: true)
    }

    static func secretNode(name: String, namespace: String, labels: [String: String], stringData: [(String, String)],
                           type: String? = nil) -> Node {
        var meta: [(String, Node)] = []
        if !labels.isEmpty { meta.append(("labels", .map(labels.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }))) }
        meta.append(("name", .string(name)))
        meta.append(("namespace", .string(namespace)))
        var s: [(String, Node)] = [("apiVersion", "v1"), ("kind", "Secret"), ("metadata", .map(meta))]
        s.append(("stringData", .map(stringData.map { ($0.0, .string($0.1)) })))
        if let t = type { s.append(("type", .string(t))) }
        return .map(s)
    }
}
