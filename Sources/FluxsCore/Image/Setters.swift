import FluxsAPI
import FluxsYAML

/// image-automation-controller's "Setters" strategy on YAML text: a value followed by a marker comment
/// `# {"$imagepolicy": "<namespace>:<policy>[:tag|:name|:digest]"}` takes the policy's latest image (or its tag,
/// name or digest). Only the marked value changes; the rest of the file, comments and formatting stay as they are.
enum Setters {
    struct Change: Equatable {
        var file: String
        var setter: String
        var oldValue: String
        var newValue: String
    }

    static let marker = "{\"$imagepolicy\":"

    /// The file with its marked values set from `policies` ("namespace:name" → latest ref), and what changed.
    static func apply(_ text: String, file: String, policies: [String: ImageRef]) -> (String, [Change]) {
        var changes: [Change] = []
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for i in lines.indices {
            let line = lines[i]
            guard let hash = line.firstRange(of: "# " + marker) ?? line.firstRange(of: "#" + marker) else { continue }
            let comment = line[hash.lowerBound...]
            guard let q1 = comment.firstRange(of: "\"$imagepolicy\":")?.upperBound,
                  let open = comment[q1...].firstIndex(of: "\""),
                  let close = comment[comment.index(after: open)...].firstIndex(of: "\"") else { continue }
            let setter = String(comment[comment.index(after: open)..<close])
            let parts = setter.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2 || parts.count == 3, let ref = policies["\(parts[0]):\(parts[1])"] else { continue }
            let newValue: String
            switch parts.count == 3 ? parts[2] : "" {
            case "": newValue = ref.tag.isEmpty ? ref.name : "\(ref.name):\(ref.tag)" + (ref.digest.isEmpty ? "" : "@\(ref.digest)")
            case "tag": newValue = ref.tag
            case "name": newValue = ref.name
            case "digest": newValue = ref.digest
            default: continue
            }
            if newValue.isEmpty { continue }
            // The value: after "key: " or "- " and before the comment, possibly quoted.
            let before = line[..<hash.lowerBound]
            var end = before.endIndex
            while end > before.startIndex, before[before.index(before: end)] == " " || before[before.index(before: end)] == "\t" {
                end = before.index(before: end)
            }
            let head = before[..<end]
            var start = head.startIndex
            if let r = head.ranges(of: ": ").last { start = r.upperBound }
            else if let r = head.firstRange(of: "- ") { start = r.upperBound }
            else { continue }
            var value = String(head[start...])
            var quote = ""
            if let f = value.first, f == "\"" || f == "'", value.count >= 2, value.last == f {
                quote = String(f)
                value = String(value.dropFirst().dropLast())
            }
            guard !value.isEmpty, value != newValue else { continue }
            let prefix = String(line[..<start])
            let suffix = String(line[end...])
            lines[i] = prefix + quote + newValue + quote + suffix
            changes.append(Change(file: file, setter: setter, oldValue: value, newValue: newValue))
        }
        return (lines.joined(separator: "\n"), changes)
    }
}

/// The commit message: the Go template of spec.git.commit.messageTemplate, for the constructs image automation
/// templates use (`{{range .Changed.Changes}}`, `.OldValue`/`.NewValue`/`.Setter`, `print`/`println`,
/// `.AutomationObject.Name|.Namespace`, `.Values.<key>`); anything else is an error that names it.
struct MessageTemplate {
    struct Unsupported: Error, CustomStringConvertible {
        var description: String
    }

    var automation: (name: String, namespace: String)
    var values: [String: String]
    var changes: [Setters.Change]

    static let defaultMessage = "Update from image update automation"

    func render(_ template: String) throws -> String {
        if template.isEmpty { return Self.defaultMessage }
        var out = ""
        var rest = Substring(template)
        try render(&rest, into: &out, change: nil, untilEnd: false)
        return out
    }

    private func render(_ rest: inout Substring, into out: inout String, change: Setters.Change?, untilEnd: Bool) throws {
        while !rest.isEmpty {
            guard let open = rest.firstRange(of: "{{") else { out += rest; rest = ""; break }
            out += rest[..<open.lowerBound]
            var trimLeft = false
            var inner = rest[open.upperBound...]
            if inner.hasPrefix("-") { trimLeft = true; inner = inner.dropFirst() }
            guard let close = inner.firstRange(of: "}}") else { throw Unsupported(description: "unterminated {{ in the commit message template") }
            var action = String(inner[..<close.lowerBound])
            var trimRight = false
            if action.hasSuffix("-") { trimRight = true; action.removeLast() }
            action = action.trimming(" \n\t")
            rest = inner[close.upperBound...]
            if trimLeft { while let l = out.last, l.isWhitespace { out.removeLast() } }
            if trimRight { while let f = rest.first, f.isWhitespace { rest.removeFirst() } }
            if action == "end" {
                guard untilEnd else { throw Unsupported(description: "{{end}} without {{range}} in the commit message template") }
                return
            }
            if action.hasPrefix("range ") {
                let target = action.dropFirst(6).trimming(" ")
                guard target == ".Changed.Changes" else {
                    throw Unsupported(description: "commit message template: 'range \(target)' is not supported by fluxs yet")
                }
                let body = rest
                if changes.isEmpty {
                    var skip = body
                    var sink = ""
                    try render(&skip, into: &sink, change: nil, untilEnd: true)
                    rest = skip
                }
                for c in changes {
                    var pass = body
                    try render(&pass, into: &out, change: c, untilEnd: true)
                    rest = pass
                }
                continue
            }
            if action.hasPrefix("print ") || action.hasPrefix("println ") {
                let ln = action.hasPrefix("println ")
                let args = action.dropFirst(ln ? 8 : 6).split(separator: " ").map { try? value(String($0), change) }
                guard !args.contains(where: { $0 == nil }) else { throw Unsupported(description: "commit message template: '\(action)' is not supported by fluxs yet") }
                out += args.compactMap { $0 }.joined(separator: ln ? " " : "") + (ln ? "\n" : "")
                continue
            }
            out += try value(action, change)
        }
        if untilEnd { throw Unsupported(description: "{{range}} without {{end}} in the commit message template") }
    }

    private func value(_ expr: String, _ change: Setters.Change?) throws -> String {
        if expr.hasPrefix("\""), expr.hasSuffix("\""), expr.count >= 2 { return String(expr.dropFirst().dropLast()) }
        switch expr {
        case ".OldValue" where change != nil: return change!.oldValue
        case ".NewValue" where change != nil: return change!.newValue
        case ".Setter" where change != nil: return change!.setter
        case ".AutomationObject.Name", ".AutomationObject": return automation.name
        case ".AutomationObject.Namespace": return automation.namespace
        default:
            if expr.hasPrefix(".Values."), let v = values[String(expr.dropFirst(8))] { return v }
            throw Unsupported(description: "commit message template: '{{\(expr)}}' is not supported by fluxs yet")
        }
    }
}
