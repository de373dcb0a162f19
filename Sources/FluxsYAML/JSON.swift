/// JSON for the same value tree (the Kubernetes API speaks JSON).
/// Decoding keeps key order; encoding follows Go's encoding/json output.
public enum JSON {
    public struct Options: Sendable {
        /// Indent unit; empty for compact output.
        public var indent: String = ""
        /// Escape <, > and & as Go's json.Marshal does.
        public var escapeHTML: Bool = true
        public init(indent: String = "", escapeHTML: Bool = true) {
            self.indent = indent
            self.escapeHTML = escapeHTML
        }
    }

    public static func decode(_ text: String, file: String? = nil) throws -> Node {
        try decode(bytes: Array(text.utf8), file: file)
    }

    public static func decode(bytes: [UInt8], file: String? = nil) throws -> Node {
        try decode(bytes: bytes, file: file, omitting: nil)
    }

    /// Decodes, leaving out every member named `omitting` (at any depth): its value is checked as JSON as strictly as
    /// any other, but no tree is built for it. For answers of which a part is never read (the managedFields of a
    /// metadata-only LIST: most of its bytes).
    public static func decode(bytes: [UInt8], file: String? = nil, omitting: String?) throws -> Node {
        try bytes.withUnsafeBufferPointer { buf in
            var p = JSONParser(buf: buf, file: file)
            p.omit = omitting.map { Array($0.utf8) }
            p.skipSpace()
            let v = try p.value(depth: 0)
            p.skipSpace()
            if p.i != buf.count { throw p.error("invalid character after top-level value") }
            return v
        }
    }

    /// The members of a top-level JSON object that come before its first member named `stop`, decoded as `decode`
    /// decodes them (a later duplicate replaces an earlier one, in its place), without reading `stop`'s value or
    /// anything after it: nil when the text is not an object, has no member `stop`, or is not valid JSON up to it.
    /// For reading a list's metadata (its continue token) ahead of its items: kube-apiserver writes `kind`,
    /// `apiVersion` and `metadata` before `items`.
    public static func leadingMembers(bytes: [UInt8], before stop: String) -> Mapping? {
        bytes.withUnsafeBufferPointer { buf -> Mapping? in
            var p = JSONParser(buf: buf, file: nil)
            p.skipSpace()
            guard p.i < buf.count, buf[p.i] == UInt8(ascii: "{") else { return nil }
            p.i += 1
            var m = Mapping()
            while true {
                p.skipSpace()
                guard p.i < buf.count, buf[p.i] == UInt8(ascii: "\""), let k = try? p.string() else { return nil }
                if k == stop { return m }
                p.skipSpace()
                guard p.i < buf.count, buf[p.i] == UInt8(ascii: ":") else { return nil }
                p.i += 1
                p.skipSpace()
                guard let v = try? p.value(depth: 1) else { return nil }
                m[k] = v
                p.skipSpace()
                guard p.i < buf.count, buf[p.i] == UInt8(ascii: ",") else { return nil }
                p.i += 1
            }
        }
    }

    /// One element of a list's `items` as `scanList` read it: where its text is, and the string members of its
    /// `metadata` that were asked for (nil where a member is missing or not a string).
    public struct ListItem: Sendable {
        public let range: Range<Int>
        public let fields: [String?]
    }

    /// A list (`{"kind": ..., "metadata": ..., "items": [...]}`) read for its items' identities, without building
    /// their trees: the members other than `items` decoded as `decode` decodes them, and for each element of
    /// `items` its byte range and the string members of its `metadata` named in `fields`. The whole text is checked
    /// as `decode` checks it (the same errors, the depth limit at the same depths, nothing after the top-level
    /// value), `omitting` is left out as `decode` leaves it out, and of duplicate members the last counts, as it does
    /// in `decode`'s tree (keys compared as Strings, as its mappings compare them). Nil when the text is not an
    /// object or its last `items` member is not an array: then only a whole decode says what it holds.
    /// `JSON.decode(bytes: Array(bytes[item.range]), omitting:)` is the item's tree, as the whole decode has it.
    public static func scanList(bytes: [UInt8], fields: [String], omitting: String?) throws -> (members: Mapping, items: [ListItem])? {
        try bytes.withUnsafeBufferPointer { buf in
            var p = JSONParser(buf: buf, file: nil)
            p.omit = omitting.map { Array($0.utf8) }
            p.skipSpace()
            guard p.i < buf.count, buf[p.i] == UInt8(ascii: "{") else {
                // its errors, as decode's
                _ = try p.value(depth: 0)
                p.skipSpace()
                if p.i != buf.count { throw p.error("invalid character after top-level value") }
                return nil
            }
            let out = try p.scanList(fields: fields)
            p.skipSpace()
            if p.i != buf.count { throw p.error("invalid character after top-level value") }
            return out
        }
    }

    public static func encode(_ node: Node, options: Options = Options()) throws -> String {
        var w = JSONWriter(options: options)
        try w.write(node, level: 0)
        return String(decoding: w.out, as: UTF8.self)
    }

    public static func encodeBytes(_ node: Node, options: Options = Options()) throws -> [UInt8] {
        var w = JSONWriter(options: options)
        try w.write(node, level: 0)
        return w.out
    }

    /// The JSON a scalar is written as, for decoders that read the tree instead of the text (FluxsAPI's
    /// NodeDecoder): a number's text as `encode` writes it (nil for a non-number or a float JSON cannot hold), a
    /// string's value (a timestamp as RFC 3339, as written), a boolean.
    public static func numberText(_ s: Scalar) -> String? {
        switch s.tag {
        case .int: return KubeYAMLStyle.normalizedInt(s.value)
        case .float:
            guard let d = Resolver.parseFloat(s.value), d.isFinite else { return nil }
            return Resolver.goJSONFloat(d)
        default: return nil
        }
    }

    public static func stringValue(_ s: Scalar) -> String? {
        switch s.tag {
        case .string, .binary: return s.value
        case .timestamp: return Resolver.timestampRFC3339(s.value)
        default: return nil
        }
    }

    public static func boolValue(_ s: Scalar) -> Bool? { s.tag == .bool ? s.boolValue : nil }

    /// A JSON string literal for s.
    public static func quote(_ s: String, escapeHTML: Bool = true) -> String {
        var w = JSONWriter(options: Options(escapeHTML: escapeHTML))
        w.string(s)
        return String(decoding: w.out, as: UTF8.self)
    }

    /// Appends the JSON string literal for s (what `quote` returns) to `out`: for writers of large documents of a
    /// known shape, which need no value tree.
    public static func appendQuoted(_ s: String, to out: inout [UInt8], escapeHTML: Bool = true) {
        var w = JSONWriter(options: Options(escapeHTML: escapeHTML), reserve: 0)
        swap(&w.out, &out)
        w.string(s)
        swap(&w.out, &out)
    }
}

extension Node {
    public func jsonString(indent: String = "") throws -> String {
        try JSON.encode(self, options: JSON.Options(indent: indent))
    }
}

struct JSONParser {
    let buf: UnsafeBufferPointer<UInt8>
    let file: String?
    var i = 0
    /// The member name left out of mappings (its value skipped, not built), as UTF-8.
    var omit: [UInt8]? = nil

    init(buf: UnsafeBufferPointer<UInt8>, file: String?) {
        self.buf = buf
        self.file = file
    }

    func error(_ msg: String) -> YAMLError {
        var line = 1, col = 1
        var k = 0
        while k < i && k < buf.count {
            if buf[k] == 10 { line += 1; col = 1 } else { col += 1 }
            k += 1
        }
        return YAMLError(file: file, line: line, column: col, message: msg)
    }

    mutating func skipSpace() {
        while i < buf.count {
            let c = buf[i]
            if c == 32 || c == 9 || c == 10 || c == 13 { i += 1 } else { break }
        }
    }

    mutating func value(depth: Int) throws -> Node {
        guard i < buf.count else { throw error("unexpected end of JSON input") }
        // At most YAML's number of nested collections (TreeBuilder.maxDepth), not encoding/json's 10,000: deeper
        // trees overflow the stack of the recursive walks that follow (2,000 levels did in a debug build).
        if depth >= TreeBuilder.maxDepth, buf[i] == UInt8(ascii: "{") || buf[i] == UInt8(ascii: "[") {
            throw error("exceeded max depth of \(TreeBuilder.maxDepth)")
        }
        switch buf[i] {
        case UInt8(ascii: "{"):
            i += 1
            var m = Mapping()
            skipSpace()
            if i < buf.count && buf[i] == UInt8(ascii: "}") { i += 1; return .mapping(m) }
            while true {
                skipSpace()
                guard i < buf.count, buf[i] == UInt8(ascii: "\"") else { throw error("looking for beginning of object key string") }
                let k = try string()
                let omitted = omit.map { o in k.utf8.count == o.count && k.utf8.elementsEqual(o) } ?? false
                skipSpace()
                guard i < buf.count, buf[i] == UInt8(ascii: ":") else { throw error("after object key") }
                i += 1
                skipSpace()
                if omitted { try skip(depth: depth + 1) } else { m[k] = try value(depth: depth + 1) }
                skipSpace()
                guard i < buf.count else { throw error("unexpected end of JSON input") }
                if buf[i] == UInt8(ascii: ",") { i += 1; continue }
                if buf[i] == UInt8(ascii: "}") { i += 1; return .mapping(m) }
                throw error("after object key:value pair")
            }
        case UInt8(ascii: "["):
            i += 1
            var a: [Node] = []
            skipSpace()
            if i < buf.count && buf[i] == UInt8(ascii: "]") { i += 1; return .sequence(a) }
            while true {
                skipSpace()
                a.append(try value(depth: depth + 1))
                skipSpace()
                guard i < buf.count else { throw error("unexpected end of JSON input") }
                if buf[i] == UInt8(ascii: ",") { i += 1; continue }
                if buf[i] == UInt8(ascii: "]") { i += 1; return .sequence(a) }
                throw error("after array element")
            }
        case UInt8(ascii: "\""):
            return .scalar(Scalar(try string(), tag: .string, style: .doubleQuoted))
        case UInt8(ascii: "t"):
            try literal("true"); return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false"); return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null"); return .null
        default:
            return try number()
        }
    }

    /// A member name as the scan reads it: the range of its text when that has no escape (then the text is its
    /// UTF-8, and no String is made), else the String string() makes of it.
    enum Key { case raw(Range<Int>), decoded(String) }

    mutating func key() throws -> Key {
        let open = i
        var k = i + 1
        while k < buf.count {
            let c = buf[k]
            if c == UInt8(ascii: "\"") { i = k + 1; return .raw(open + 1..<k) }
            if c == UInt8(ascii: "\\") || c < 0x20 { break }
            k += 1
        }
        return .decoded(try string())
    }

    func text(_ k: Key) -> String {
        switch k {
        case .raw(let r): return String(decoding: UnsafeBufferPointer(rebasing: buf[r]), as: UTF8.self)
        case .decoded(let s): return s
        }
    }

    /// Whether the member is `name` as a decoded tree's mappings tell keys apart (Mapping.position: the same UTF-8
    /// length, then String ==). Of the same length, equal bytes are equal; unequal ASCII ones are not (a non-ASCII
    /// character canonically equivalent to an ASCII one is longer); anything else is compared as Strings.
    func keyIs(_ k: Key, _ name: String) -> Bool {
        switch k {
        case .raw(let r):
            guard r.count == name.utf8.count else { return false }
            if buf[r].elementsEqual(name.utf8) { return true }
            if name.utf8.allSatisfy({ $0 < 0x80 }) && buf[r].allSatisfy({ $0 < 0x80 }) { return false }
            return text(k) == name
        case .decoded(let s): return s.utf8.count == name.utf8.count && s == name
        }
    }

    /// Whether the member is the one left out (compared by its UTF-8, as value(depth:) compares it).
    func isOmitted(_ k: Key) -> Bool {
        guard let o = omit else { return false }
        switch k {
        case .raw(let r): return r.count == o.count && buf[r].elementsEqual(o)
        case .decoded(let s): return s.utf8.count == o.count && s.utf8.elementsEqual(o)
        }
    }

    /// An object's members, from its opening brace, as value(depth:) reads them: `member` is given each key,
    /// whether it is the one left out, and the parser at the member's value, which it reads whole.
    mutating func scanObject(_ member: (inout JSONParser, Key, Bool) throws -> Void) throws {
        i += 1
        skipSpace()
        if i < buf.count && buf[i] == UInt8(ascii: "}") { i += 1; return }
        while true {
            skipSpace()
            guard i < buf.count, buf[i] == UInt8(ascii: "\"") else { throw error("looking for beginning of object key string") }
            let k = try key()
            let left = isOmitted(k)
            skipSpace()
            guard i < buf.count, buf[i] == UInt8(ascii: ":") else { throw error("after object key") }
            i += 1
            skipSpace()
            try member(&self, k, left)
            skipSpace()
            guard i < buf.count else { throw error("unexpected end of JSON input") }
            if buf[i] == UInt8(ascii: ",") { i += 1; continue }
            if buf[i] == UInt8(ascii: "}") { i += 1; return }
            throw error("after object key:value pair")
        }
    }

    /// Whether the next byte is `c`.
    func at(_ c: UInt8) -> Bool { i < buf.count && buf[i] == c }

    /// JSON.scanList from the top-level object's opening brace: value(depth: 0)'s reading of it, with `items`
    /// scanned instead of built.
    mutating func scanList(fields: [String]) throws -> (members: Mapping, items: [JSON.ListItem])? {
        var m = Mapping()
        // none (no member `items`), the last one's elements, or nil when the last one is not an array
        var items: [JSON.ListItem]? = []
        try scanObject { p, k, left in
            if left {
                try p.skip(depth: 1)
            } else if p.keyIs(k, "items") {
                if p.at(UInt8(ascii: "[")) { items = try p.scanItems(fields: fields) } else { try p.skip(depth: 1); items = nil }
            } else {
                m[p.text(k)] = try p.value(depth: 1)
            }
        }
        return items.map { (m, $0) }
    }

    /// The `items` array (value(depth: 1) of it): each element's range and its metadata's fields.
    mutating func scanItems(fields: [String]) throws -> [JSON.ListItem] {
        if 1 >= TreeBuilder.maxDepth { throw error("exceeded max depth of \(TreeBuilder.maxDepth)") }
        i += 1
        var out: [JSON.ListItem] = []
        skipSpace()
        if at(UInt8(ascii: "]")) { i += 1; return out }
        while true {
            skipSpace()
            let start = i
            let found = try scanItem(fields: fields)
            out.append(JSON.ListItem(range: start..<i, fields: found))
            skipSpace()
            guard i < buf.count else { throw error("unexpected end of JSON input") }
            if buf[i] == UInt8(ascii: ",") { i += 1; continue }
            if buf[i] == UInt8(ascii: "]") { i += 1; return out }
            throw error("after array element")
        }
    }

    /// One element of `items` (value(depth: 2)): its last `metadata` member's fields, all nil when it has none or
    /// is not an object.
    mutating func scanItem(fields: [String]) throws -> [String?] {
        let none = [String?](repeating: nil, count: fields.count)
        guard at(UInt8(ascii: "{")) else { try skip(depth: 2); return none }
        if 2 >= TreeBuilder.maxDepth { throw error("exceeded max depth of \(TreeBuilder.maxDepth)") }
        var found = none
        try scanObject { p, k, left in
            if !left && p.keyIs(k, "metadata") {
                if p.at(UInt8(ascii: "{")) { found = try p.scanFields(fields) } else { try p.skip(depth: 3); found = none }
            } else {
                try p.skip(depth: 3)
            }
        }
        return found
    }

    /// An item's metadata object (value(depth: 3)): the last string value of each member named in `fields`.
    mutating func scanFields(_ fields: [String]) throws -> [String?] {
        if 3 >= TreeBuilder.maxDepth { throw error("exceeded max depth of \(TreeBuilder.maxDepth)") }
        var found = [String?](repeating: nil, count: fields.count)
        try scanObject { p, k, left in
            if !left, let f = fields.firstIndex(where: { p.keyIs(k, $0) }) {
                if p.at(UInt8(ascii: "\"")) { found[f] = try p.string() } else { try p.skip(depth: 4); found[f] = nil }
            } else {
                try p.skip(depth: 4)
            }
        }
        return found
    }

    /// What value(depth:) reads, with the same checks and errors, building nothing.
    mutating func skip(depth: Int) throws {
        guard i < buf.count else { throw error("unexpected end of JSON input") }
        if depth >= TreeBuilder.maxDepth, buf[i] == UInt8(ascii: "{") || buf[i] == UInt8(ascii: "[") {
            throw error("exceeded max depth of \(TreeBuilder.maxDepth)")
        }
        switch buf[i] {
        case UInt8(ascii: "{"):
            i += 1
            skipSpace()
            if i < buf.count && buf[i] == UInt8(ascii: "}") { i += 1; return }
            while true {
                skipSpace()
                guard i < buf.count, buf[i] == UInt8(ascii: "\"") else { throw error("looking for beginning of object key string") }
                try skipString()
                skipSpace()
                guard i < buf.count, buf[i] == UInt8(ascii: ":") else { throw error("after object key") }
                i += 1
                skipSpace()
                try skip(depth: depth + 1)
                skipSpace()
                guard i < buf.count else { throw error("unexpected end of JSON input") }
                if buf[i] == UInt8(ascii: ",") { i += 1; continue }
                if buf[i] == UInt8(ascii: "}") { i += 1; return }
                throw error("after object key:value pair")
            }
        case UInt8(ascii: "["):
            i += 1
            skipSpace()
            if i < buf.count && buf[i] == UInt8(ascii: "]") { i += 1; return }
            while true {
                skipSpace()
                try skip(depth: depth + 1)
                skipSpace()
                guard i < buf.count else { throw error("unexpected end of JSON input") }
                if buf[i] == UInt8(ascii: ",") { i += 1; continue }
                if buf[i] == UInt8(ascii: "]") { i += 1; return }
                throw error("after array element")
            }
        case UInt8(ascii: "\""):
            try skipString()
        case UInt8(ascii: "t"):
            try literal("true")
        case UInt8(ascii: "f"):
            try literal("false")
        case UInt8(ascii: "n"):
            try literal("null")
        default:
            _ = try number()
        }
    }

    /// A string literal as string() reads it (same errors), without making the String: escape-free runs are scanned,
    /// an escape goes to string() itself.
    mutating func skipString() throws {
        let open = i
        i += 1
        while i < buf.count {
            let c = buf[i]
            if c == UInt8(ascii: "\"") { i += 1; return }
            if c == UInt8(ascii: "\\") || c < 0x20 { i = open; _ = try string(); return }
            i += 1
        }
        throw error("unexpected end of JSON input")
    }

    mutating func literal(_ s: StaticString) throws {
        let n = s.utf8CodeUnitCount
        guard i + n <= buf.count else { throw error("unexpected end of JSON input") }
        for k in 0..<n where buf[i + k] != s.utf8Start[k] { throw error("invalid literal") }
        i += n
    }

    mutating func number() throws -> Node {
        let start = i
        var isFloat = false
        if i < buf.count && buf[i] == UInt8(ascii: "-") { i += 1 }
        guard i < buf.count, Resolver.isDigit(buf[i]) else { throw error("invalid character looking for beginning of value") }
        if buf[i] == UInt8(ascii: "0") { i += 1 } else { while i < buf.count && Resolver.isDigit(buf[i]) { i += 1 } }
        if i < buf.count && buf[i] == UInt8(ascii: ".") {
            isFloat = true
            i += 1
            guard i < buf.count, Resolver.isDigit(buf[i]) else { throw error("invalid number") }
            while i < buf.count && Resolver.isDigit(buf[i]) { i += 1 }
        }
        if i < buf.count && (buf[i] == UInt8(ascii: "e") || buf[i] == UInt8(ascii: "E")) {
            isFloat = true
            i += 1
            if i < buf.count && (buf[i] == UInt8(ascii: "+") || buf[i] == UInt8(ascii: "-")) { i += 1 }
            guard i < buf.count, Resolver.isDigit(buf[i]) else { throw error("invalid number") }
            while i < buf.count && Resolver.isDigit(buf[i]) { i += 1 }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: buf[start..<i]), as: UTF8.self)
        if !isFloat && Resolver.parseGoInt(text) == nil && Resolver.parseGoUInt(text) == nil { isFloat = true }
        return .scalar(Scalar(text, tag: isFloat ? .float : .int))
    }

    mutating func hex4() throws -> UInt32 {
        guard i + 4 <= buf.count else { throw error("invalid \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = buf[i]
            let d: UInt32
            switch c {
            case 48...57: d = UInt32(c - 48)
            case 65...70: d = UInt32(c - 55)
            case 97...102: d = UInt32(c - 87)
            default: throw error("invalid \\u escape")
            }
            v = v * 16 + d
            i += 1
        }
        return v
    }

    mutating func string() throws -> String {
        i += 1  // opening quote
        let start = i
        // fast path: no escapes
        while i < buf.count {
            let c = buf[i]
            if c == UInt8(ascii: "\"") {
                let s = String(decoding: UnsafeBufferPointer(rebasing: buf[start..<i]), as: UTF8.self)
                i += 1
                return s
            }
            if c == UInt8(ascii: "\\") || c < 0x20 { break }
            i += 1
        }
        var out = Array(buf[start..<i])
        while i < buf.count {
            let c = buf[i]
            if c == UInt8(ascii: "\"") { i += 1; return String(decoding: out, as: UTF8.self) }
            if c < 0x20 { throw error("invalid character in string literal") }
            if c != UInt8(ascii: "\\") { out.append(c); i += 1; continue }
            i += 1
            guard i < buf.count else { break }
            let e = buf[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var cp = try hex4()
                if cp >= 0xD800 && cp < 0xDC00 {
                    if i + 6 <= buf.count && buf[i] == UInt8(ascii: "\\") && buf[i + 1] == UInt8(ascii: "u") {
                        let save = i
                        i += 2
                        let lo = try hex4()
                        if lo >= 0xDC00 && lo < 0xE000 {
                            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                        } else { i = save; cp = 0xFFFD }
                    } else { cp = 0xFFFD }
                } else if cp >= 0xDC00 && cp < 0xE000 { cp = 0xFFFD }
                out.append(contentsOf: Array(String(Character(Unicode.Scalar(cp) ?? "\u{FFFD}")).utf8))
            default: throw error("invalid escape in string literal")
            }
        }
        throw error("unexpected end of JSON input")
    }
}

struct JSONWriter {
    let options: JSONOptionsView
    var out: [UInt8] = []

    init(options: JSON.Options, reserve: Int = 256) {
        self.options = JSONOptionsView(indent: Array(options.indent.utf8), escapeHTML: options.escapeHTML)
        if reserve > 0 { out.reserveCapacity(reserve) }
    }

    struct JSONOptionsView { let indent: [UInt8]; let escapeHTML: Bool }

    mutating func newline(_ level: Int) {
        guard !options.indent.isEmpty else { return }
        out.append(10)
        for _ in 0..<level { out.append(contentsOf: options.indent) }
    }

    mutating func write(_ node: Node, level: Int) throws {
        switch node {
        case .scalar(let s):
            switch s.tag {
            case .null: out.append(contentsOf: "null".utf8)
            case .bool: out.append(contentsOf: (s.boolValue ? "true" : "false").utf8)
            case .int:
                let t = KubeYAMLStyle.normalizedInt(s.value)
                out.append(contentsOf: t.utf8)
            case .float:
                guard let d = Resolver.parseFloat(s.value), d.isFinite else {
                    throw YAMLError(message: "json: unsupported value: \(s.value)")
                }
                out.append(contentsOf: Resolver.goJSONFloat(d).utf8)
            case .timestamp: string(Resolver.timestampRFC3339(s.value))
            case .string, .binary: string(s.value)
            }
        case .sequence(let a):
            if a.isEmpty { out.append(contentsOf: "[]".utf8); return }
            out.append(UInt8(ascii: "["))
            for (k, v) in a.enumerated() {
                if k > 0 { out.append(UInt8(ascii: ",")) }
                newline(level + 1)
                try write(v, level: level + 1)
            }
            newline(level)
            out.append(UInt8(ascii: "]"))
        case .mapping(let m):
            if m.isEmpty { out.append(contentsOf: "{}".utf8); return }
            out.append(UInt8(ascii: "{"))
            var first = true
            for (k, v) in m.entries {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                newline(level + 1)
                string(k)
                out.append(UInt8(ascii: ":"))
                if !options.indent.isEmpty { out.append(32) }
                try write(v, level: level + 1)
            }
            newline(level)
            out.append(UInt8(ascii: "}"))
        }
    }

    static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// Whether a byte goes into a JSON string as it is: Go's encoding/json escapes control characters, `"`, `\\` and
    /// (escapeHTML) `<`, `>`, `&`; 0xE2 may start U+2028 or U+2029, which it escapes too.
    static func plain(_ c: UInt8, escapeHTML: Bool) -> Bool {
        c >= 0x20 && c != 0x22 && c != 0x5C && c != 0xE2 && !(escapeHTML && (c == 0x3C || c == 0x3E || c == 0x26))
    }

    mutating func string(_ s: String) {
        // Most strings need no escape: copied whole.
        let escapeHTML = options.escapeHTML
        if let done = s.utf8.withContiguousStorageIfAvailable({ b -> Bool in
            guard b.allSatisfy({ JSONWriter.plain($0, escapeHTML: escapeHTML) }) else { return false }
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: b)
            out.append(UInt8(ascii: "\""))
            return true
        }), done { return }
        out.append(UInt8(ascii: "\""))
        var utf8 = s.utf8.makeIterator()
        var pending: [UInt8] = []
        while let c = utf8.next() {
            switch c {
            case UInt8(ascii: "\""): out.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): out.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "&"):
                if options.escapeHTML { unicodeEscape(UInt32(c)) } else { out.append(c) }
            case 0xE2:
                // U+2028 and U+2029 are escaped by Go (E2 80 A8 / E2 80 A9)
                pending = [c]
                if let b1 = utf8.next() {
                    pending.append(b1)
                    if let b2 = utf8.next() {
                        pending.append(b2)
                        if b1 == 0x80 && (b2 == 0xA8 || b2 == 0xA9) {
                            unicodeEscape(b2 == 0xA8 ? 0x2028 : 0x2029)
                            continue
                        }
                    }
                }
                out.append(contentsOf: pending)
            default:
                if c < 0x20 { unicodeEscape(UInt32(c)) } else { out.append(c) }
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    mutating func unicodeEscape(_ v: UInt32) {
        out.append(contentsOf: [0x5C, UInt8(ascii: "u")])
        out.append(JSONWriter.hex[Int((v >> 12) & 0xF)])
        out.append(JSONWriter.hex[Int((v >> 8) & 0xF)])
        out.append(JSONWriter.hex[Int((v >> 4) & 0xF)])
        out.append(JSONWriter.hex[Int(v & 0xF)])
    }
}
