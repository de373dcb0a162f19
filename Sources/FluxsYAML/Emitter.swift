internal import CYAML

/// Writes value trees as YAML the way Kubernetes tools do (sigs.k8s.io/yaml:
/// the object goes through encoding/json, then gopkg.in/yaml.v2 writes it):
/// keys sorted in yaml.v2's order, numbers normalised as JSON numbers,
/// strings quoted only when yaml.v2 would read them back as another type,
/// multi-line strings as literal blocks, sequences not indented under keys.
public struct YAMLEmitter: Sendable {
    public var sortKeys: Bool = true
    /// Line width at which long scalars fold (yaml.v2: 80).
    public var width: Int = 80

    public init(sortKeys: Bool = true) { self.sortKeys = sortKeys }

    public func emit(_ node: Node) throws -> String {
        let e = try LibYAMLEmitter(width: width)
        try e.document(node, sortKeys: sortKeys)
        return try e.finish()
    }

    /// Several documents, each followed by nothing and separated by `separator`.
    /// Each document has its own emitter, so a long stream is written on all cores (Parallel.map) and joined in
    /// order; a failure is the first document's that fails, as in a loop.
    public func emit(documents: [Node], separator: String = "---\n") throws -> String {
        let parts = Parallel.map(documents.count, minimum: 64) { i in Result { try self.emit(documents[i]) } }
        var out = ""
        out.reserveCapacity(parts.reduce(0) { n, p in n + ((try? p.get())?.utf8.count ?? 0) + separator.utf8.count })
        for (i, p) in parts.enumerated() {
            if i > 0 { out += separator }
            out += try p.get()
        }
        return out
    }
}

extension Node {
    /// This value as Kubernetes-style YAML text.
    public func yamlString(sortKeys: Bool = true) throws -> String {
        try YAMLEmitter(sortKeys: sortKeys).emit(self)
    }
}

/// Owns one libyaml emitter; output is collected in a Swift buffer.
final class LibYAMLEmitter {
    private let emitter: UnsafeMutablePointer<yaml_emitter_t>
    private let sink = Sink()

    final class Sink { var bytes: [UInt8] = [] }

    init(width: Int) throws {
        emitter = .allocate(capacity: 1)
        guard yaml_emitter_initialize(emitter) == 1 else {
            emitter.deallocate()
            throw YAMLError(message: "cannot initialise the YAML emitter")
        }
        yaml_emitter_set_unicode(emitter, 1)
        yaml_emitter_set_width(emitter, Int32(width))
        yaml_emitter_set_indent(emitter, 2)
        let ctx = Unmanaged.passUnretained(sink).toOpaque()
        yaml_emitter_set_output(emitter, { data, buffer, size in
            guard let data, let buffer else { return 0 }
            let sink = Unmanaged<LibYAMLEmitter.Sink>.fromOpaque(data).takeUnretainedValue()
            sink.bytes.append(contentsOf: UnsafeBufferPointer(start: buffer, count: size))
            return 1
        }, ctx)
        var ev = yaml_event_t()
        yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING)
        try emit(&ev)
    }

    deinit {
        yaml_emitter_delete(emitter)
        emitter.deallocate()
    }

    private func emit(_ ev: inout yaml_event_t) throws {
        // yaml_emitter_emit takes ownership of the event, also on failure.
        guard yaml_emitter_emit(emitter, &ev) == 1 else {
            let msg = emitter.pointee.problem.map { String(cString: $0) } ?? "cannot write YAML"
            throw YAMLError(message: msg)
        }
    }

    func document(_ node: Node, sortKeys: Bool) throws {
        var ev = yaml_event_t()
        yaml_document_start_event_initialize(&ev, nil, nil, nil, 1)
        try emit(&ev)
        try write(node, sortKeys: sortKeys)
        yaml_document_end_event_initialize(&ev, 1)
        try emit(&ev)
    }

    func finish() throws -> String {
        var ev = yaml_event_t()
        yaml_stream_end_event_initialize(&ev)
        try emit(&ev)
        guard yaml_emitter_flush(emitter) == 1 else { throw YAMLError(message: "cannot flush YAML output") }
        // libyaml 0.2.5 ends a document whose last scalar is a `|+` block with "...";
        // yaml.v2 never writes an end marker for implicit documents.
        var b = sink.bytes
        if b.count >= 4, b.suffix(4).elementsEqual("...\n".utf8), b.count == 4 || b[b.count - 5] == UInt8(ascii: "\n") {
            b.removeLast(4)
        }
        return String(decoding: b, as: UTF8.self)
    }

    private func write(_ node: Node, sortKeys: Bool) throws {
        var ev = yaml_event_t()
        switch node {
        case .scalar(let s):
            let (text, style) = KubeYAMLStyle.render(s)
            try scalar(text, style: style)
        case .sequence(let items):
            yaml_sequence_start_event_initialize(&ev, nil, nil, 1, YAML_BLOCK_SEQUENCE_STYLE)
            try emit(&ev)
            for i in items { try write(i, sortKeys: sortKeys) }
            yaml_sequence_end_event_initialize(&ev)
            try emit(&ev)
        case .mapping(let m):
            yaml_mapping_start_event_initialize(&ev, nil, nil, 1, YAML_BLOCK_MAPPING_STYLE)
            try emit(&ev)
            let keys = m.keys, values = m.values
            if sortKeys && !Resolver.goKeysSorted(keys) {
                for i in keys.indices.sorted(by: { Resolver.goKeyLess(keys[$0], keys[$1]) }) {
                    try scalar(keys[i], style: KubeYAMLStyle.stringStyle(keys[i]))
                    try write(values[i], sortKeys: sortKeys)
                }
            } else {
                for i in keys.indices {
                    try scalar(keys[i], style: KubeYAMLStyle.stringStyle(keys[i]))
                    try write(values[i], sortKeys: sortKeys)
                }
            }
            yaml_mapping_end_event_initialize(&ev)
            try emit(&ev)
        }
    }

    private func scalar(_ text: String, style: yaml_scalar_style_t) throws {
        var ev = yaml_event_t()
        var t = text
        let ok = t.withUTF8 { buf in
            yaml_scalar_event_initialize(&ev, nil, nil, buf.baseAddress, Int32(buf.count), 1, 1, style)
        }
        guard ok == 1 else { throw YAMLError(message: "cannot write scalar") }
        try emit(&ev)
    }
}

/// yaml.v2's choice of text and style for a value after a JSON round trip.
enum KubeYAMLStyle {
    static func render(_ s: Scalar) -> (String, yaml_scalar_style_t) {
        switch s.tag {
        case .null: return ("null", YAML_PLAIN_SCALAR_STYLE)
        case .bool: return (s.boolValue ? "true" : "false", YAML_PLAIN_SCALAR_STYLE)
        case .int: return (normalizedInt(s.value), YAML_PLAIN_SCALAR_STYLE)
        case .float: return (normalizedFloat(s.value), YAML_PLAIN_SCALAR_STYLE)
        case .timestamp:
            let t = Resolver.timestampRFC3339(s.value)
            return (t, stringStyle(t))
        case .string, .binary: return (s.value, stringStyle(s.value))
        }
    }

    static func stringStyle(_ s: String) -> yaml_scalar_style_t {
        // The newline search on the contiguous bytes (the generic UTF8View.contains cost ~10 M at 1,000 objects).
        if s.utf8.withContiguousStorageIfAvailable({ $0.contains(10) }) ?? s.utf8.contains(10) { return YAML_LITERAL_SCALAR_STYLE }
        if Resolver.resolve(plain: s, yaml11: true) == .string && !Resolver.isBase60Float(s) { return YAML_PLAIN_SCALAR_STYLE }
        return YAML_DOUBLE_QUOTED_SCALAR_STYLE
    }

    static func normalizedInt(_ text: String) -> String {
        let plain = text.replacingAll("_", with: "")
        if let i = Resolver.parseGoInt(plain) { return String(i) }
        if let u = Resolver.parseGoUInt(plain) { return String(u) }
        if Resolver.isBinaryInt(plain) {
            let neg = plain.hasPrefix("-")
            if let v = Int64(plain.dropFirst(neg ? 3 : 2), radix: 2) { return String(neg ? -v : v) }
        }
        return normalizedFloat(text)
    }

    static func normalizedFloat(_ text: String) -> String {
        guard let d = Resolver.parseFloat(text) else { return text }
        if d.isNaN || d.isInfinite { return Resolver.goFormatFloat(d) }
        let j = Resolver.goJSONFloat(d)
        if !j.contains(".") && !j.contains("e"), let i = Resolver.parseGoInt(j) { return String(i) }
        if !j.contains(".") && !j.contains("e"), let u = Resolver.parseGoUInt(j) { return String(u) }
        return Resolver.goFormatFloat(d)
    }
}

public extension Scalar {
    /// The scalar as it comes back from a JSON round trip (kustomize applies JSON 6902 patches to an object's JSON):
    /// numbers in Go's JSON form, `null`, `true`/`false`; strings and timestamps unchanged.
    var jsonRoundTripped: Scalar {
        switch tag {
        case .null, .bool, .int, .float: return Scalar(KubeYAMLStyle.render(self).0, tag: tag)
        default: return self
        }
    }
}
