import FluxsYAML

/// The "human" report of homeport/dyff v1.10 as `flux diff` prints it (no header, no colour): one block per path that
/// changed, map and named-list entries compared by key, other lists by value, scalars by value and type. The YAML of
/// added and removed entries is rendered as gonvenience/neat renders it (double-quoted strings only where needed, empty
/// strings as nothing), details of one path side by side when they fit in 80 columns. The quirks of that version are
/// kept: added entries are indented by two, removed ones are not.
enum Dyff {
    /// The object without the fields the server manages.
    static func comparable(_ o: Node) -> Node {
        var c = o
        for f in ["managedFields", "resourceVersion", "generation", "uid", "creationTimestamp", "selfLink"] {
            c.set(["metadata", f], nil)
        }
        c.set(["status"], nil)
        return c
    }

    enum Detail {
        case added(Node)
        case removed(Node)
        case modified(Node, Node)
    }

    struct Difference {
        var path: [String]
        var details: [Detail]
    }

    /// The report body flux prints after `► <subject> drifted` (it ends with an empty line); empty without changes.
    /// `secret` masks values under data/stringData as flux's sanitizer does.
    static func report(_ live: Node, _ merged: Node, secret: Bool) -> String {
        let diffs = compare(live, merged, path: [])
        guard !diffs.isEmpty else { return "" }
        var out = ""
        for d in diffs {
            out += "\n" + d.path.joined(separator: ".") + "\n"
            out += textBlocks(d.details.map { render($0, masked: secret && ["data", "stringData"].contains(d.path.first ?? "")) }, indent: 0)
        }
        return out + "\n"
    }

    // MARK: comparison (dyff core)

    static func compare(_ a: Node, _ b: Node, path: [String]) -> [Difference] {
        switch (a, b) {
        case (.mapping(let ma), .mapping(let mb)):
            var nested: [Difference] = []
            var removed: [(String, Node)] = [], added: [(String, Node)] = []
            for (k, v) in ma.entries {
                if let w = mb[k] { nested += compare(v, w, path: path + [k]) } else { removed.append((k, v)) }
            }
            for (k, v) in mb.entries where ma[k] == nil { added.append((k, v)) }
            var details: [Detail] = []
            if !removed.isEmpty { details.append(.removed(.mapping(Mapping(removed)))) }
            if !added.isEmpty { details.append(.added(.mapping(Mapping(added)))) }
            return (details.isEmpty ? [] : [Difference(path: path, details: details)]) + nested
        case (.sequence(let la), .sequence(let lb)):
            if la.isEmpty && lb.isEmpty { return [] }
            if let id = identifier(la + lb) {
                var nested: [Difference] = []
                var removed: [Node] = [], added: [Node] = []
                for x in la {
                    let key = x[id]?.text ?? ""
                    if let y = lb.first(where: { $0[id]?.text == key }) { nested += compare(x, y, path: path + [key]) } else { removed.append(x) }
                }
                for y in lb where !la.contains(where: { $0[id]?.text == y[id]?.text }) { added.append(y) }
                return pack(path, removed, added) + nested
            }
            if la.count == 1 && lb.count == 1 { return compare(la[0], lb[0], path: path + ["0"]) }
            var removed: [Node] = [], added: [Node] = []
            for x in la where !lb.contains(x) { removed.append(x) }
            for y in lb where !la.contains(y) { added.append(y) }
            return pack(path, removed, added)
        case (.scalar(let sa), .scalar(let sb)):
            if sa.tag != sb.tag { return [Difference(path: path, details: [.modified(a, b)])] }
            switch sa.tag {
            case .null: return []
            case .bool: return a.bool == b.bool ? [] : [Difference(path: path, details: [.modified(a, b)])]
            default: return sa.value == sb.value ? [] : [Difference(path: path, details: [.modified(a, b)])]
            }
        default:
            return [Difference(path: path, details: [.modified(a, b)])]
        }
    }

    static func pack(_ path: [String], _ removed: [Node], _ added: [Node]) -> [Difference] {
        var details: [Detail] = []
        if !removed.isEmpty { details.append(.removed(.sequence(removed))) }
        if !added.isEmpty { details.append(.added(.sequence(added))) }
        return details.isEmpty ? [] : [Difference(path: path, details: details)]
    }

    /// The field that names the entries of a list (dyff tries name, key, id), when every entry has it.
    static func identifier(_ entries: [Node]) -> String? {
        for id in ["name", "key", "id"] where entries.allSatisfy({ $0[id]?.text != nil }) { return id }
        return nil
    }

    // MARK: rendering (dyff human report)

    static func plural(_ n: Int, _ one: String, _ many: String) -> String {
        let words = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"]
        return "\(n < words.count ? words[n] : String(n)) \(n == 1 ? one : many)"
    }

    static func entries(_ n: Node) -> String {
        if case .sequence(let a) = n { return plural(a.count, "list entry", "list entries") }
        return plural(n.map?.entries.count ?? 0, "map entry", "map entries")
    }

    static func render(_ d: Detail, masked: Bool) -> String {
        switch d {
        case .added(let n):
            return "+ \(entries(n)) added:\n" + textBlocks([neat(mask(n, masked))], indent: 2)
        case .removed(let n):
            return "- \(entries(n)) removed:\n" + textBlocks([neat(mask(n, masked))], indent: 0)
        case .modified(let a, let b):
            if masked { return "± value change\n- *** (before)\n+ *** (after)\n" }
            let ta = typeName(a), tb = typeName(b)
            if ta == "string" && tb == "string", let x = a.string, let y = b.string { return stringChange(x, y) }
            let head = ta == tb || (ta == "string" && tb == "string") ? "± value change\n" : "± type change from \(ta) to \(tb)\n"
            return head + prefixed("- ", scalarText(a)) + prefixed("+ ", scalarText(b))
        }
    }

    /// dyff's writeStringDiff without certificates: whitespace-only, multi-line (line diff, no context) or plain.
    static func stringChange(_ from: String, _ to: String) -> String {
        func strip(_ t: String) -> String { String(t.unicodeScalars.filter { !$0.properties.isWhitespace }) }
        if from != to && strip(from) == strip(to) {
            func show(_ t: String) -> String { t.replacingOccurrences(of: "\n", with: "↵\n").replacingOccurrences(of: " ", with: "·") }
            return "± whitespace only change\n" + textBlocks([prefixed("- ", show(from)), prefixed("+ ", show(to))], indent: 0)
        }
        guard from.contains("\n") || to.contains("\n") else { return "± value change\n" + prefixed("- ", from) + prefixed("+ ", to) }
        let a = from.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let b = to.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        // longest common subsequence of lines, then runs of deleted and inserted lines
        var lcs = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in stride(from: a.count - 1, through: 0, by: -1) {
            for j in stride(from: b.count - 1, through: 0, by: -1) {
                lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : max(lcs[i + 1][j], lcs[i][j + 1])
            }
        }
        var ops: [(Character, String)] = []
        var i = 0, j = 0
        while i < a.count || j < b.count {
            if i < a.count && j < b.count && a[i] == b[j] { ops.append(("=", a[i])); i += 1; j += 1 }
            else if j < b.count && (i == a.count || lcs[i][j + 1] >= lcs[i + 1][j]) { ops.append(("+", b[j])); j += 1 }
            else { ops.append(("-", a[i])); i += 1 }
        }
        var body = "", inserts = 0, deletions = 0
        var k = 0
        while k < ops.count {
            let kind = ops[k].0
            var run: [String] = []
            while k < ops.count && ops[k].0 == kind { run.append(ops[k].1); k += 1 }
            guard kind != "=" else { continue }
            if kind == "+" { inserts += 1 } else { deletions += 1 }
            body += run.map { "\(kind) \($0)\n" }.joined()
        }
        return "± value change in multiline text (\(plural(inserts, "insert", "inserts")), \(plural(deletions, "deletion", "deletions")))\n" + body + "\n"
    }

    static func mask(_ n: Node, _ masked: Bool) -> Node {
        guard masked, case .mapping(let m) = n else { return n }
        return .mapping(Mapping(m.entries.map { ($0.0, Node.string("***")) }))
    }

    static func typeName(_ n: Node) -> String {
        switch n {
        case .mapping: return "map"
        case .sequence: return "list"
        case .scalar(let s):
            switch s.tag {
            case .string, .timestamp: return "string"
            case .int: return "int"
            case .float: return "float"
            case .bool: return "bool"
            case .null: return "null"
            case .binary: return "binary"
            }
        }
    }

    static func scalarText(_ n: Node) -> String {
        switch n {
        case .scalar(let s): return s.tag == .null ? "<nil>" : s.value
        default: return neat(n).trimmingTrailingNewlines()
        }
    }

    /// dyff's createStringWithPrefix: the prefix on the first line, its width on the others.
    static func prefixed(_ prefix: String, _ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).enumerated().map { i, line in
            (i == 0 ? prefix : String(repeating: " ", count: prefix.count)) + line + "\n"
        }.joined()
    }

    /// dyff's writeTextBlocks: side by side (table style) when the widest lines fit in 80 columns, else one after another.
    static func textBlocks(_ blocks: [String], indent: Int) -> String {
        let split = blocks.map { $0.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) }
        let widths = split.map { $0.map(\.count).max() ?? 0 }
        let total = indent + (blocks.count - 1) * 3 + widths.reduce(0, +)
        if total > 80 {
            return split.flatMap { $0.map { String(repeating: " ", count: indent) + $0 + "\n" } }.joined()
        }
        let rows = split.map(\.count).max() ?? 0
        var lines: [String] = []
        for r in 0..<rows {
            let cells = split.indices.map { c -> String in
                let line = r < split[c].count ? split[c][r] : ""
                let cell = r < split[c].count ? String(repeating: " ", count: indent) + line : String(repeating: " ", count: widths[c] + indent)
                return cell + String(repeating: " ", count: max(0, widths[c] - line.count))
            }
            var row = cells.joined(separator: "   ")
            while row.hasSuffix(" ") { row.removeLast() }
            lines.append(row)
        }
        return lines.joined(separator: "\n")
    }

    // MARK: neat YAML

    static func neat(_ n: Node, prefix: String = "") -> String {
        var out = ""
        neat(n, prefix: prefix, skipFirstIndent: false, into: &out)
        return out
    }

    static func neat(_ n: Node, prefix: String, skipFirstIndent: Bool, into out: inout String) {
        switch n {
        case .sequence(let a):
            for (i, e) in a.enumerated() {
                if i > 0 || !skipFirstIndent { out += prefix }
                out += "- "
                neat(e, prefix: prefix + "  ", skipFirstIndent: true, into: &out)
            }
        case .mapping(let m):
            for (i, (k, v)) in m.entries.enumerated() {
                if i > 0 || !skipFirstIndent { out += prefix }
                out += k + ":"
                switch v {
                case .mapping(let vm):
                    if vm.entries.isEmpty { out += " {}\n" } else { out += "\n"; neat(v, prefix: prefix + "  ", skipFirstIndent: false, into: &out) }
                case .sequence(let va):
                    if va.isEmpty { out += " []\n" } else { out += "\n"; neat(v, prefix: prefix, skipFirstIndent: false, into: &out) }
                case .scalar:
                    out += " "
                    neat(v, prefix: prefix + "  ", skipFirstIndent: false, into: &out)
                }
            }
        case .scalar(let s):
            let lines = s.value.split(separator: "\n", omittingEmptySubsequences: false)
            if lines.count > 1 {
                out += "|\n" + lines.map { prefix + $0 }.joined(separator: "\n")
            } else if s.tag == .string && needsQuotes(s.value) {
                out += GoQuote.quote(s.value)
            } else {
                out += s.tag == .null && s.value.isEmpty ? "null" : s.value
            }
            out += "\n"
        }
    }

    /// neat's needsQuotes for strings.
    static func needsQuotes(_ v: String) -> Bool {
        if ["true", "false", "null", ".nan", ".inf", "-.inf", "+.inf"].contains(v) { return true }
        if v.hasPrefix("-") { return true }
        let number = !v.isEmpty && v.enumerated().allSatisfy { i, c in c.isASCII && (c.isNumber || c == "." || c == "e" || c == "+" || (i == 0 && c == "-")) }
        if number { return true }
        return v.contains { " *&:,".contains($0) }
    }
}
