import FluxsKube
import FluxsYAML

/// What the generic commands (get, suspend, resume, export, delete, reconcile)
/// need to know about a kind. Each kind has one adapter in Adapters.swift.
public struct KindAdapter: Sendable {
    public let type: any FluxObject.Type
    public var kind: FluxKind { type.fluxKind }
    /// Column headers after NAME (flux's table).
    public let columns: [String]
    /// The cells of those columns for one object.
    public let row: @Sendable (Node) -> [String]
    /// Whether spec.suspend exists.
    public let suspendable: Bool
    /// Static objects (no status): readiness from kstatus only.
    public let isStatic: @Sendable (Node) -> Bool
    /// The `✔ ...` line after a successful reconciliation (flux's texts).
    public let success: @Sendable (Node) -> String
    /// `<Kind>/<namespace>/<name>` of the object's source, for --show-source.
    public let source: (@Sendable (Node) -> String)?

    public init(_ type: any FluxObject.Type, columns: [String], row: @escaping @Sendable (Node) -> [String], suspendable: Bool = true,
                isStatic: @escaping @Sendable (Node) -> Bool = { _ in false },
                success: @escaping @Sendable (Node) -> String, source: (@Sendable (Node) -> String)? = nil) {
        self.type = type
        self.columns = columns
        self.row = row
        self.suspendable = suspendable
        self.isStatic = isStatic
        self.success = success
        self.source = source
    }

    /// flux's export form: the object decoded into its Swift type (defaults filled and
    /// durations normalised as Go does) with only name, namespace, labels and annotations kept.
    public func export(_ object: Node) throws -> Node {
        var typed = try type.decode(object).node()
        var meta: [(String, Node)] = []
        let m = object["metadata"]
        if let a = m?["annotations"], !(a.map?.isEmpty ?? true) { meta.append(("annotations", a)) }
        if let l = m?["labels"], !(l.map?.isEmpty ?? true) { meta.append(("labels", l)) }
        meta.append(("name", m?["name"] ?? ""))
        meta.append(("namespace", m?["namespace"] ?? ""))
        typed["metadata"] = .map(meta)
        typed["apiVersion"] = .string(kind.apiVersion)
        typed["kind"] = .string(kind.kind)
        typed["status"] = nil
        return typed
    }

    public var resource: ResourceRef { kind.resource }
}

/// Helpers the adapters share.
public enum Obj {
    public static func condition(_ o: Node, _ type: String) -> Node? {
        o["status"]?["conditions"]?.array?.last { $0["type"]?.string == type }
    }

    /// READY and MESSAGE cells: the Ready condition, or False / "waiting to be reconciled".
    public static func ready(_ o: Node) -> (String, String) {
        guard let c = condition(o, "Ready") else { return ("False", "waiting to be reconciled") }
        return (c["status"]?.string ?? "Unknown", c["message"]?.string ?? "")
    }

    public static func suspended(_ o: Node) -> String { (o["spec"]?["suspend"]?.bool ?? false) ? "True" : "False" }

    public static func str(_ o: Node, _ path: String...) -> String { o.value(at: path)?.text ?? "" }

    /// Shortens every standalone 40-128 character lowercase hex run to its first 8 characters.
    public static func truncateHex(_ s: String) -> String {
        let u = Array(s.utf8)
        var out = [UInt8]()
        var i = 0
        func isHex(_ c: UInt8) -> Bool { (c >= 48 && c <= 57) || (c >= 97 && c <= 102) }
        func isWord(_ c: UInt8) -> Bool { (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 95 }
        while i < u.count {
            if isHex(u[i]) && (i == 0 || !isWord(u[i - 1])) {
                var j = i
                while j < u.count && isHex(u[j]) { j += 1 }
                let n = j - i
                if n >= 40 && n <= 128 && (j == u.count || !isWord(u[j])) {
                    out.append(contentsOf: u[i..<(i + 8)])
                    i = j
                    continue
                }
                out.append(contentsOf: u[i..<j])
                i = j
                continue
            }
            out.append(u[i])
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// RFC 3339 in the local time zone (flux prints scan and run times so).
    public static func localTime(_ rfc3339: String) -> String {
        guard let t = Clock.parse(rfc3339) else { return rfc3339 }
        let s = Clock.rfc3339NanoLocal(t.rounded(.down))
        return s
    }
}
