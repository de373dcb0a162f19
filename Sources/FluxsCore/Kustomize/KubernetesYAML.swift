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
    public static func decode(_ bytes: [UInt8]) throws -> [Node] { try decodeSharing(bytes).objects }

    /// The objects of a manifest file and, when one libyaml parse of the whole file has kyaml's documents
    /// (`wholeFileParts`), the file's non-empty documents as `YAML.parseDocuments(bytes:)` gives them: what the
    /// kustomize engine loads from the file (Kustomizer.build(parsed:)), so it is parsed once, not twice.
    /// Otherwise (or when the whole parse fails: kyaml's error needs the part's own line) it is parsed part by part.
    public static func decodeSharing(_ bytes: [UInt8]) throws -> (objects: [Node], documents: [Node]?) {
        if let parts = wholeFileParts(bytes), let all = try? YAML.parseAll(bytes: bytes) {
            let docs = all.filter { !$0.isNull }
            return (try objects(docs, parts: parts), docs)
        }
        return (try decodeByParts(bytes), nil)
    }

    /// kyaml's way: split at its separators, one document per part.
    static func decodeByParts(_ bytes: [UInt8]) throws -> [Node] {
        guard let decoded = String(validating: bytes, as: UTF8.self) else {
            // libyaml's (go-yaml's) words for it, with the line (go-yaml gives none).
            do { _ = try YAML.parseAll(bytes: bytes) } catch let e as YAMLError {
                throw Failure(description: "MalformedYAMLError: " + goMessage(e))
            }
            throw Failure(description: "MalformedYAMLError: yaml: invalid UTF-8 in the file")
        }
        let parts = try split(decoded.replacing("\r\n", with: "\n"))
        var firsts: [Node] = []
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
            firsts.append(doc)
        }
        return try objects(firsts, parts: parts.count)
    }

    /// The objects of the non-null documents of a file of `parts` kyaml parts.
    static func objects(_ docs: [Node], parts: Int) throws -> [Node] {
        var nodes: [Node] = []
        for doc in docs {
            if parts == 1, let kind = doc["kind"]?.string, kind == "List" || kind == "ResourceList", let m = doc.map,
               m.contains("items") || m.contains("functionConfig") {
                nodes += doc["items"]?.array ?? []
                continue
            }
            nodes.append(doc)
        }
        var valid: [Node] = []
        valid.reserveCapacity(nodes.count)
        for n in nodes {
            if isNilOrEmpty(n) { continue }
            try validateMetadata(n)
            valid.append(n)
        }
        return try inlineLists(valid)
    }

    /// The number of kyaml parts of a file when libyaml's documents of the whole file are exactly those parts (one
    /// parse then serves both), nil when they may not be. They are when every kyaml separator line (`---` at the
    /// start of a line that has a line before and a newline after) is also a libyaml document marker (`---` then a
    /// space, a tab or the newline, at most a comment after), and nothing else starts or ends a libyaml document or
    /// moves a line start: no `...` or `%` line, no `---` last line with content after it (kyaml keeps that in the
    /// last part, of which it decodes one document), no carriage return (kyaml replaces CRLF first), and no
    /// byte-order mark past the start or NEL, LS or PS (line breaks to libyaml, not to kyaml). Invalid UTF-8 is
    /// left to the part-by-part path for its message.
    static func wholeFileParts(_ b: [UInt8]) -> Int? {
        let n = b.count
        if n == 0 { return 0 }
        let dash = UInt8(ascii: "-"), nl = UInt8(ascii: "\n"), sp = UInt8(ascii: " "), tab = UInt8(ascii: "\t")
        var parts = 1
        var ascii = true
        var i = 0
        while i < n {
            // `i` starts a line.
            var end = i
            while end < n && b[end] != nl {
                let c = b[end]
                if c == UInt8(ascii: "\r") { return nil }
                if c >= 0x80 { ascii = false }
                end += 1
            }
            let first = b[i]
            if first == UInt8(ascii: "%") || (first == UInt8(ascii: ".") && end - i >= 3 && b[i + 1] == first && b[i + 2] == first) { return nil }
            if first == dash && end - i >= 3 && b[i + 1] == dash && b[i + 2] == dash {
                let separator = i > 0 && end < n
                let last = end == n
                if separator || last {
                    // Only a comment may follow, after a blank.
                    var j = i + 3
                    if j < end && b[j] != sp && b[j] != tab { return nil }
                    while j < end && (b[j] == sp || b[j] == tab) { j += 1 }
                    if j < end && b[j] != UInt8(ascii: "#") { return nil }
                    if separator { parts += 1 }
                }
            }
            i = end + 1
        }
        if !ascii {
            guard String(validating: b, as: UTF8.self) != nil else { return nil }
            for k in 0..<n where b[k] >= 0xC2 {
                let next = k + 1 < n ? b[k + 1] : 0, third = k + 2 < n ? b[k + 2] : 0
                if b[k] == 0xC2 && next == 0x85 { return nil }
                if b[k] == 0xE2 && next == 0x80 && (third == 0xA8 || third == 0xA9) { return nil }
                if k > 0 && b[k] == 0xEF && next == 0xBB && third == 0xBF { return nil }
            }
        }
        return parts
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

    /// GetValidatedMetadata. (The labels and annotations are only gathered for a message.)
    static func validateMetadata(_ n: Node) throws {
        func field(_ m: Node?, _ k: String) -> Node? {
            guard let v = m?.map?[k], !isNilOrEmpty(v) else { return nil }
            return v
        }
        let md = field(n, "metadata")
        let kind = field(n, "kind").map(value) ?? ""
        let name = field(md, "name").map(value) ?? ""
        if !kind.isEmpty && (kind.hasSuffix("List") || !name.isEmpty) { return }
        var meta = Meta()
        var missing = true
        if let v = field(n, "apiVersion") { meta.apiVersion = value(v); missing = false }
        if let v = field(n, "kind") { meta.kind = value(v); missing = false }
        if let md {
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
