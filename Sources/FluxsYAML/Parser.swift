internal import CYAML
#if canImport(Glibc)
import Glibc
#endif

/// A YAML or JSON syntax error, with the position libyaml reports (1-based).
public struct YAMLError: Error, CustomStringConvertible, Equatable, Sendable {
    public var file: String?
    public var line: Int
    public var column: Int
    public var message: String

    public init(file: String? = nil, line: Int = 0, column: Int = 0, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String {
        var where_ = file ?? "<input>"
        if line > 0 { where_ += ":\(line):\(column)" }
        return "\(where_): \(message)"
    }
}

/// Owns one libyaml parser and the bytes it reads; freed in deinit.
final class LibYAMLParser {
    private let parser: UnsafeMutablePointer<yaml_parser_t>
    private let input: UnsafeMutableBufferPointer<UInt8>
    private let inputCount: Int
    let file: String?

    init(_ bytes: [UInt8], file: String?) throws {
        self.file = file
        inputCount = bytes.count
        parser = .allocate(capacity: 1)
        input = .allocate(capacity: max(bytes.count, 1))
        _ = input.initialize(from: bytes)
        guard yaml_parser_initialize(parser) == 1 else {
            parser.deallocate()
            input.deallocate()
            throw YAMLError(file: file, message: "cannot initialise the YAML parser")
        }
        yaml_parser_set_input_string(parser, input.baseAddress, bytes.count)
        yaml_parser_set_encoding(parser, YAML_UTF8_ENCODING)
    }

    deinit {
        yaml_parser_delete(parser)
        parser.deallocate()
        input.deallocate()
    }

    /// The next event, copied into a Swift value so no C memory escapes.
    func next() throws -> Event {
        var ev = yaml_event_t()
        guard yaml_parser_parse(parser, &ev) == 1 else { throw error() }
        defer { yaml_event_delete(&ev) }
        let line = Int(ev.start_mark.line) + 1, col = Int(ev.start_mark.column) + 1
        switch ev.type {
        case YAML_STREAM_START_EVENT: return Event(kind: .streamStart, line: line, column: col)
        case YAML_STREAM_END_EVENT: return Event(kind: .streamEnd, line: line, column: col)
        case YAML_DOCUMENT_START_EVENT: return Event(kind: .documentStart, line: line, column: col)
        case YAML_DOCUMENT_END_EVENT: return Event(kind: .documentEnd, line: line, column: col)
        case YAML_ALIAS_EVENT:
            return Event(kind: .alias, anchor: cString(ev.data.alias.anchor), line: line, column: col)
        case YAML_SCALAR_EVENT:
            let s = ev.data.scalar
            let value = s.value.map { String(decoding: UnsafeBufferPointer(start: $0, count: s.length), as: UTF8.self) } ?? ""
            let style: ScalarStyle
            switch s.style {
            case YAML_SINGLE_QUOTED_SCALAR_STYLE: style = .singleQuoted
            case YAML_DOUBLE_QUOTED_SCALAR_STYLE: style = .doubleQuoted
            case YAML_LITERAL_SCALAR_STYLE: style = .literal
            case YAML_FOLDED_SCALAR_STYLE: style = .folded
            default: style = .plain
            }
            return Event(kind: .scalar, anchor: cString(s.anchor), tag: cString(s.tag), value: value, style: style,
                         line: line, column: col)
        case YAML_SEQUENCE_START_EVENT:
            let s = ev.data.sequence_start
            return Event(kind: .sequenceStart, anchor: cString(s.anchor), tag: cString(s.tag), line: line, column: col)
        case YAML_SEQUENCE_END_EVENT: return Event(kind: .sequenceEnd, line: line, column: col)
        case YAML_MAPPING_START_EVENT:
            let s = ev.data.mapping_start
            return Event(kind: .mappingStart, anchor: cString(s.anchor), tag: cString(s.tag), line: line, column: col)
        case YAML_MAPPING_END_EVENT: return Event(kind: .mappingEnd, line: line, column: col)
        default:
            return Event(kind: .streamEnd, line: line, column: col)
        }
    }

    private func cString(_ p: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        guard let p else { return nil }
        return String(cString: UnsafePointer(p))
    }

    private func error() -> YAMLError {
        let p = parser.pointee
        if p.error == YAML_READER_ERROR {
            // Invalid UTF-8 and control characters: libyaml gives the byte offset only.
            let offset = min(Int(p.problem_offset), inputCount)
            var line = 1, lineStart = 0
            for i in 0..<offset where input[i] == 10 { line += 1; lineStart = i + 1 }
            let msg = p.problem.map { String(cString: $0) } ?? "invalid input"
            return YAMLError(file: file, line: line, column: offset - lineStart + 1, message: msg)
        }
        var msg = p.problem.map { String(cString: $0) } ?? "invalid YAML"
        if let ctx = p.context.map({ String(cString: $0) }) {
            msg += " (\(ctx) at line \(p.context_mark.line + 1) column \(p.context_mark.column + 1))"
        }
        return YAMLError(file: file, line: Int(p.problem_mark.line) + 1, column: Int(p.problem_mark.column) + 1, message: msg)
    }
}

struct Event {
    enum Kind { case streamStart, streamEnd, documentStart, documentEnd, alias, scalar, sequenceStart, sequenceEnd, mappingStart, mappingEnd }
    var kind: Kind
    var anchor: String? = nil
    var tag: String? = nil
    var value: String = ""
    var style: ScalarStyle = .plain
    var line: Int
    var column: Int
}

/// Builds value trees from libyaml events: anchors and aliases resolved,
/// merge keys applied, scalars typed as yaml.v3 (kustomize's reader) types them.
///
/// Two limits keep a hostile document from exhausting memory, time or the stack (docs/security.md):
/// - alias expansion as go-yaml (v2 and v3, so sigs.k8s.io/yaml and kubectl) limits it: every node decoded counts,
///   nodes decoded through an alias count as aliased too, and once there are more than 100 of those and 1,000 in
///   all, the aliased share may not exceed 99% (up to 400,000 decodes), falling linearly to 10% at 4,000,000:
///   "document contains excessive aliasing". Aliases share their value here, so the counts are kept per anchor.
/// - nesting: at most `maxDepth` collections inside each other (aliases expanded): the default of the nesting
///   limit libyaml's maintainers added after 0.2.5 (yaml_set_max_nest_level). go-yaml allows 10,000, but every
///   level costs stack in each recursive walk here (a few KiB in a debug build: 10,000 levels overflow the main
///   thread's 8 MiB), and a block mapping of n levels is n²/2 spaces of indentation when printed.
struct TreeBuilder {
    static let maxDepth = 1000
    let parser: LibYAMLParser
    var allowDuplicateKeys = false
    /// An anchored value, with what decoding it costs: nodes decoded (aliases expanded) and nesting height.
    struct Anchored { var node: Node; var count: Int; var height: Int }
    var anchors: [String: Anchored] = [:]
    var decodeCount = 0
    var aliasCount = 0
    var depth = 0
    var file: String? { parser.file }

    mutating func documents() throws -> [Node] {
        var docs: [Node] = []
        var ev = try parser.next()
        guard ev.kind == .streamStart else { throw YAMLError(file: file, message: "expected a YAML stream") }
        while true {
            ev = try parser.next()
            if ev.kind == .streamEnd { break }
            guard ev.kind == .documentStart else { throw YAMLError(file: file, line: ev.line, column: ev.column, message: "expected a document") }
            anchors = [:]
            // go-yaml's decoder is per document and counts the document node.
            decodeCount = 1
            aliasCount = 0
            depth = 0
            let first = try parser.next()
            if first.kind == .documentEnd {
                docs.append(.null)
                continue
            }
            docs.append(try node(first).node)
            let end = try parser.next()
            guard end.kind == .documentEnd else { throw YAMLError(file: file, line: end.line, column: end.column, message: "expected the end of the document") }
        }
        return docs
    }

    /// go-yaml's allowedAliasRatio.
    static func allowedAliasRatio(_ decodeCount: Int) -> Double {
        let low = 400_000, high = 4_000_000
        if decodeCount <= low { return 0.99 }
        if decodeCount >= high { return 0.10 }
        return 0.99 - 0.89 * (Double(decodeCount - low) / Double(high - low))
    }

    /// Counts decoded nodes, `aliased` of them through an alias, and fails as go-yaml does when aliases dominate.
    /// Within one alias expansion the aliased share only grows and the allowed share only falls, so checking at
    /// its end is checking at each of its nodes.
    mutating func count(_ n: Int, aliased: Int, _ ev: Event) throws {
        decodeCount += n
        aliasCount += aliased
        if aliasCount > 100 && decodeCount > 1000 && Double(aliasCount) / Double(decodeCount) > Self.allowedAliasRatio(decodeCount) {
            throw YAMLError(file: file, line: ev.line, column: ev.column, message: "document contains excessive aliasing")
        }
    }

    func depthError(_ ev: Event) -> YAMLError {
        YAMLError(file: file, line: ev.line, column: ev.column, message: "exceeded max depth of \(Self.maxDepth)")
    }

    struct Built { var node: Node; var count: Int; var height: Int }

    mutating func node(_ ev: Event) throws -> Built {
        let result: Built
        switch ev.kind {
        case .alias:
            guard let a = ev.anchor, let n = anchors[a] else {
                throw YAMLError(file: file, line: ev.line, column: ev.column, message: "unknown anchor '\(ev.anchor ?? "")' referenced")
            }
            try count(1, aliased: 0, ev)
            try count(n.count, aliased: n.count, ev)
            if depth + n.height > Self.maxDepth { throw depthError(ev) }
            return Built(node: n.node, count: 1 + n.count, height: n.height)
        case .scalar:
            try count(1, aliased: 0, ev)
            result = Built(node: .scalar(try scalar(ev)), count: 1, height: 0)
        case .sequenceStart:
            try count(1, aliased: 0, ev)
            depth += 1
            if depth > Self.maxDepth { throw depthError(ev) }
            var items: [Node] = []
            var total = 1, height = 0
            while true {
                let e = try parser.next()
                if e.kind == .sequenceEnd { break }
                let b = try node(e)
                items.append(b.node)
                total += b.count
                height = max(height, b.height)
            }
            depth -= 1
            result = Built(node: .sequence(items), count: total, height: height + 1)
        case .mappingStart:
            try count(1, aliased: 0, ev)
            depth += 1
            if depth > Self.maxDepth { throw depthError(ev) }
            var m = Mapping()
            // The line of each key, by its position in `m` (no table per mapping).
            var lines: [Int] = []
            var merges: [Node] = []
            var total = 1, height = 0
            while true {
                let ke = try parser.next()
                if ke.kind == .mappingEnd { break }
                let isMerge = ke.kind == .scalar && ke.style == .plain && ke.tag == nil && ke.value == "<<"
                // go-yaml does not decode a merge key itself, only its value.
                let keyBuilt: Built
                if isMerge { keyBuilt = Built(node: .null, count: 0, height: 0) } else { keyBuilt = try node(ke) }
                let ve = try parser.next()
                let valueBuilt = try node(ve)
                total += keyBuilt.count + valueBuilt.count
                height = max(height, keyBuilt.height, valueBuilt.height)
                let value = valueBuilt.node
                if isMerge {
                    merges.append(value)
                    continue
                }
                let key: String
                switch keyBuilt.node {
                case .scalar(let s): key = s.tag == .null && ke.style == .plain && s.value.isEmpty ? "" : (s.tag == .null ? "null" : s.value)
                default:
                    throw YAMLError(file: file, line: ke.line, column: ke.column, message: "complex mapping keys are not supported")
                }
                if let at = m.position(key) {
                    if !allowDuplicateKeys {
                        throw YAMLError(file: file, line: ke.line, column: ke.column,
                                        message: "mapping key \"\(key)\" already defined at line \(lines[at])")
                    }
                    lines[at] = ke.line
                    m[key] = value
                } else {
                    lines.append(ke.line)
                    m.appendNew(key, value)
                }
            }
            for merge in merges {
                let sources: [Node] = merge.array ?? [merge]
                for src in sources {
                    guard let sm = src.map else {
                        throw YAMLError(file: file, line: ev.line, column: ev.column, message: "map merge requires map or sequence of maps as the value")
                    }
                    for (k, v) in sm.entries where !m.contains(k) { m[k] = v }
                }
            }
            depth -= 1
            result = Built(node: .mapping(m), count: total, height: height + 1)
        default:
            throw YAMLError(file: file, line: ev.line, column: ev.column, message: "unexpected YAML event")
        }
        if let a = ev.anchor { anchors[a] = Anchored(node: result.node, count: result.count, height: result.height) }
        return result
    }

    func scalar(_ ev: Event) throws -> Scalar {
        if let tag = ev.tag, tag != "!" {
            switch tag {
            case "tag:yaml.org,2002:str": return Scalar(ev.value, tag: .string, style: ev.style)
            case "tag:yaml.org,2002:int":
                return Scalar(ev.value, tag: Resolver.resolve(plain: ev.value) == .int ? .int : .string, style: ev.style)
            case "tag:yaml.org,2002:float": return Scalar(ev.value, tag: .float, style: ev.style)
            case "tag:yaml.org,2002:bool": return Scalar(ev.value, tag: .bool, style: ev.style)
            case "tag:yaml.org,2002:null": return Scalar("null", tag: .null, style: ev.style)
            case "tag:yaml.org,2002:timestamp": return Scalar(ev.value, tag: .timestamp, style: ev.style)
            case "tag:yaml.org,2002:binary": return Scalar(ev.value, tag: .binary, style: ev.style)
            default: return Scalar(ev.value, tag: .string, style: ev.style)
            }
        }
        if ev.style != .plain || ev.tag == "!" { return Scalar(ev.value, tag: .string, style: ev.style) }
        return Scalar(ev.value, tag: Resolver.resolve(plain: ev.value), style: .plain)
    }
}

public enum YAML {
    /// Every document of a stream, empty documents as null.
    public static func parseAll(_ text: String, file: String? = nil) throws -> [Node] {
        try parseAll(bytes: Array(text.utf8), file: file)
    }

    public static func parseAll(bytes: [UInt8], file: String? = nil) throws -> [Node] {
        // A large stream is parsed a run of documents a thread when every part parses: the documents are the
        // same (docs/decisions.md, "A long YAML stream on two cores"). A part that fails, or a stream that is not
        // split, is parsed whole: its error is libyaml's for the whole stream, with its line.
        if let parts = documentRuns(bytes) {
            let parsed = Parallel.map(parts.count, minimum: 2) { i in
                Result { () throws -> [Node] in
                    var builder = TreeBuilder(parser: try LibYAMLParser(Array(bytes[parts[i]]), file: file))
                    return try builder.documents()
                }
            }
            var docs: [Node] = [], whole = true
            for p in parsed {
                guard case .success(let d) = p else { whole = false; break }
                docs += d
            }
            if whole { return docs }
        }
        return try parseWhole(bytes: bytes, file: file)
    }

    /// Every document of a stream, parsed by one libyaml parser.
    static func parseWhole(bytes: [UInt8], file: String?) throws -> [Node] {
        var builder = TreeBuilder(parser: try LibYAMLParser(bytes, file: file))
        return try builder.documents()
    }

    /// Streams this large and larger are split (parseAll) when the machine has more than one processor.
    static let splitFrom = 64 * 1024

    /// Consecutive byte ranges covering a large stream, each starting at a document marker (but the first): a line
    /// that begins with `---` followed by a space, a tab, a line break or the end. libyaml starts a document at every
    /// such line (its scanner checks for the marker at column 0 before anything else, in any context), and all its
    /// parser's state is reset there but the directives; TreeBuilder resets its anchors, counts and depth. A line
    /// of the kind inside a quoted scalar or a flow collection is an error either way ("found unexpected document
    /// indicator", a missing `]`), so the part it ends fails and the stream is parsed whole. Not split (nil): a
    /// stream with a line starting with `%` (a directive belongs to the document after it, in the part before),
    /// with a NUL byte, smaller than `splitFrom`, or on one processor. Markers after other line breaks (CR alone,
    /// NEL, LS, PS) are not split at, which only keeps two documents in one part.
    static func documentRuns(_ b: [UInt8]) -> [Range<Int>]? {
        let cpus = Parallel.processors
        guard b.count >= splitFrom, cpus > 1 else { return nil }
        var markers: [Int] = []
        let ok = b.withUnsafeBufferPointer { p -> Bool in
            let n = p.count
            guard let base = p.baseAddress, memchr(base, 0, n) == nil else { return false }
            var i = 0
            while i < n {
                // `i` starts a line
                if p[i] == UInt8(ascii: "%") { return false }
                if i > 0 && i + 3 <= n && p[i] == UInt8(ascii: "-") && p[i + 1] == UInt8(ascii: "-") && p[i + 2] == UInt8(ascii: "-") {
                    let next = i + 3 < n ? p[i + 3] : UInt8(ascii: "\n")
                    if next == UInt8(ascii: " ") || next == UInt8(ascii: "\t") || next == UInt8(ascii: "\r") || next == UInt8(ascii: "\n") {
                        markers.append(i)
                    }
                }
                guard let nl = memchr(base + i, Int32(UInt8(ascii: "\n")), n - i) else { break }
                i = base.distance(to: nl.assumingMemoryBound(to: UInt8.self)) + 1
            }
            return true
        }
        guard ok, !markers.isEmpty else { return nil }
        // About two parts a processor, of about equal size, each from a marker to the next part's.
        let wanted = min(markers.count + 1, cpus * 2)
        var runs: [Range<Int>] = []
        var start = 0, m = 0
        for k in 1..<wanted {
            let target = b.count * k / wanted
            while m < markers.count && (markers[m] <= start || markers[m] < target) { m += 1 }
            guard m < markers.count else { break }
            runs.append(start..<markers[m])
            start = markers[m]
        }
        runs.append(start..<b.count)
        return runs.count > 1 ? runs : nil
    }

    /// The non-empty documents of a stream.
    public static func parseDocuments(_ text: String, file: String? = nil) throws -> [Node] {
        try parseAll(text, file: file).filter { !$0.isNull }
    }

    /// The non-empty documents of a stream of bytes: invalid UTF-8 is an error, as in kubectl.
    public static func parseDocuments(bytes: [UInt8], file: String? = nil) throws -> [Node] {
        try parseAll(bytes: bytes, file: file).filter { !$0.isNull }
    }

    /// A single document where a repeated mapping key replaces the earlier one (as Go's yaml.v2 reads
    /// kustomization files), instead of being an error.
    public static func parseLenient(_ text: String, file: String? = nil) throws -> Node {
        try parseLenient(bytes: Array(text.utf8), file: file)
    }

    /// As parseLenient(_:file:), from bytes: invalid UTF-8 is an error (libyaml's, with its line).
    public static func parseLenient(bytes: [UInt8], file: String? = nil) throws -> Node {
        var builder = TreeBuilder(parser: try LibYAMLParser(bytes, file: file))
        builder.allowDuplicateKeys = true
        let docs = try builder.documents()
        if docs.count > 1 { throw YAMLError(file: file, message: "expected a single YAML document, found \(docs.count)") }
        return docs.first ?? .null
    }

    /// A single document; null for an empty input. More than one document is an error.
    public static func parse(_ text: String, file: String? = nil) throws -> Node {
        let docs = try parseAll(text, file: file)
        if docs.count > 1 {
            throw YAMLError(file: file, message: "expected a single YAML document, found \(docs.count)")
        }
        return docs.first ?? .null
    }
}
