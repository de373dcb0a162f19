import FluxsYAML

/// kustomize's test of "is this file Kubernetes YAML" (api/resource.Factory.SliceFromBytes on kyaml's ByteReader),
/// which fluxcd/pkg's generator applies to every .yaml/.yml file it puts in a generated kustomization:
/// - the text is split at lines starting with `---` (only a comment may follow on that line);
/// - each part is one YAML document; a part that does not parse is `MalformedYAMLError: yaml: line N: …`;
/// - empty documents (and empty mappings) are skipped;
/// - a single document of kind `List` (or `ResourceList`) with `items` stands for its items;
/// - every other document needs a kind (`missing kind in object …`) and, unless its kind ends in `List`, a
///   metadata.name (`missing metadata.name in object …`); a document with none of apiVersion, kind and
///   metadata name/namespace/labels/annotations is `missing Resource metadata`;
/// - a `…List` with `items` must hold a sequence there (`expected array in KindList/items, but found T`).
public enum KubernetesYAML {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// The objects of a manifest file, or the reason kustomize would refuse it.
    public static func decode(_ bytes: [UInt8]) throws -> [Node] {
        var nodes: [Node] = []
        guard let decoded = String(validating: bytes, as: UTF8.self) else {
            // libyaml's (go-yaml's) words for it, with the line (go-yaml gives none).
            do { _ = try YAML.parseAll(bytes: bytes) } catch let e as YAMLError {
                throw Failure(description: "MalformedYAMLError: " + goMessage(e))
            }
            throw Failure(description: "MalformedYAMLError: yaml: invalid UTF-8 in the file")
        }
        let parts = try split(decoded.replacing("\r\n", with: "\n"))
        for (i, part) in parts.enumerated() {
            let chunk = i == parts.count - 1 ? part : part + "\n"
            let docs: [Node]
            do { docs = try YAML.parseAll(chunk) } catch let e as YAMLError {
                throw Failure(description: "MalformedYAMLError: " + goMessage(e))
            } catch {
                throw Failure(description: "MalformedYAMLError: \(error)")
            }
            // kyaml decodes one document per part.
            guard let doc = docs.first, !doc.isNull else { continue }
            if parts.count == 1, let kind = doc["kind"]?.string, kind == "List" || kind == "ResourceList", let m = doc.map,
               m.contains("items") || m.contains("functionConfig") {
                nodes += doc["items"]?.array ?? []
                continue
            }
            nodes.append(doc)
        }
        var valid: [Node] = []
        for n in nodes {
            if isNilOrEmpty(n) { continue }
            try validateMetadata(n)
            valid.append(n)
        }
        return try inlineLists(valid)
    }

    /// A libyaml error as gopkg.in/yaml.v3 words it (`yaml: line N: problem`), which is how kustomize reports it:
    /// the line is the context's (0-based, one more for scanner errors) when it is not the first line, else the
    /// problem's; no line when both are 0; the context itself is not printed.
    static func goMessage(_ e: YAMLError) -> String {
        var problem = e.message
        var contextLine = 0   // 0-based, as libyaml's marks
        var scanner = true
        if let open = problem.firstRange(of: " (while "), problem.hasSuffix(")") {
            let context = problem[open.upperBound...]
            scanner = context.hasPrefix("scanning")
            if let at = context.firstRange(of: " at line "), let n = Int(context[at.upperBound...].prefix { $0.isNumber }) { contextLine = n - 1 }
            problem = String(problem[..<open.lowerBound])
        } else {
            scanner = !["did not find expected <document start>", "found duplicate", "found incompatible"].contains { problem.hasPrefix($0) }
        }
        // yaml.v3 reports an undefined alias without a line.
        if problem.hasPrefix("unknown anchor ") { return "yaml: \(problem)" }
        let problemLine = max(0, e.line - 1)
        var line = 0
        if contextLine != 0 { line = contextLine + (scanner ? 1 : 0) } else if problemLine != 0 { line = problemLine + (scanner ? 1 : 0) }
        return line == 0 ? "yaml: \(problem)" : "yaml: line \(line): \(problem)"
    }

    /// kyaml's splitDocuments: separators are `\n---<anything>\n`, and only a comment may follow the dashes.
    static func split(_ s: String) throws -> [String] {
        guard !s.isEmpty else { return [] }
        var docs: [String] = []
        let lines = s.split(separator: "\n", omittingEmptySubsequences: false)
        var current: [Substring] = []
        for (i, line) in lines.enumerated() {
            // A separator line needs a newline before it (not the first line) and one after it.
            if i > 0, i < lines.count - 1, line.hasPrefix("---") {
                let rest = line.dropFirst(3).trimmingCharacters()
                if !rest.isEmpty && !rest.hasPrefix("#") {
                    throw Failure(description: "invalid document separator: \(line.trimmingCharacters())")
                }
                docs.append(current.joined(separator: "\n"))
                current = []
                continue
            }
            current.append(line)
        }
        docs.append(current.joined(separator: "\n"))
        return docs
    }

    static func isNilOrEmpty(_ n: Node) -> Bool {
        switch n {
        case .scalar(let s): return s.tag == .null
        case .sequence(let a): return a.isEmpty
        case .mapping(let m): return m.isEmpty
        }
    }

    /// kyaml's ResourceMeta as Go's %v prints it: `{{apiVersion kind} {{name namespace} map[…] map[…]}}`.
    struct Meta {
        var apiVersion = "", kind = "", name = "", namespace = ""
        var labels: [(String, String)] = [], annotations: [(String, String)] = []
        var goValue: String {
            func m(_ pairs: [(String, String)]) -> String {
                "map[" + pairs.sorted { Array($0.0.utf8).lexicographicallyPrecedes(Array($1.0.utf8)) }.map { "\($0.0):\($0.1)" }.joined(separator: " ") + "]"
            }
            return "{{\(apiVersion) \(kind)} {{\(name) \(namespace)} \(m(labels)) \(m(annotations))}}"
        }
    }

    static func value(_ n: Node) -> String { n.scalarValue?.value ?? "" }

    /// GetValidatedMetadata.
    static func validateMetadata(_ n: Node) throws {
        var meta = Meta()
        var missing = true
        func field(_ m: Node?, _ k: String) -> Node? {
            guard let v = m?.map?[k], !isNilOrEmpty(v) else { return nil }
            return v
        }
        if let v = field(n, "apiVersion") { meta.apiVersion = value(v); missing = false }
        if let v = field(n, "kind") { meta.kind = value(v); missing = false }
        if let md = field(n, "metadata") {
            if let v = field(md, "name") { meta.name = value(v); missing = false }
            if let v = field(md, "namespace") { meta.namespace = value(v); missing = false }
            if let v = field(md, "labels") { meta.labels = (v.map?.entries ?? []).map { ($0.key, value($0.value)) }; missing = false }
            if let v = field(md, "annotations") { meta.annotations = (v.map?.entries ?? []).map { ($0.key, value($0.value)) }; missing = false }
            if missing { throw Failure(description: "missing Resource metadata") }
        } else if missing {
            throw Failure(description: "missing Resource metadata")
        }
        if meta.kind.isEmpty { throw Failure(description: "missing kind in object \(meta.goValue)") }
        if meta.kind.hasSuffix("List") { return }
        if meta.name.isEmpty { throw Failure(description: "missing metadata.name in object \(meta.goValue)") }
    }

    /// inlineAnyEmbeddedLists: a `…List` with items stands for them (an empty one for nothing).
    static func inlineLists(_ input: [Node]) throws -> [Node] {
        var queue = input[...]
        var out: [Node] = []
        while let n = queue.popFirst() {
            let kind = n["kind"]?.text ?? ""
            guard kind.hasSuffix("List"), let items = n.map?["items"] else { out.append(n); continue }
            switch items {
            case .sequence(let a): queue.append(contentsOf: a)
            case .scalar(let s) where s.tag == .null: continue
            case .scalar(let s):
                let t: String
                switch s.tag {
                case .int: t = "int64"
                case .float: t = "float64"
                case .bool: t = "bool"
                default: t = "string"
                }
                throw Failure(description: "expected array in \(kind)/items, but found \(t)")
            case .mapping: throw Failure(description: "expected array in \(kind)/items, but found map[string]interface {}")
            }
        }
        return out
    }
}

extension Substring {
    func trimmingCharacters() -> String {
        var s = self
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s.removeLast() }
        return String(s)
    }
}
