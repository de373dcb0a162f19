#if canImport(Glibc)
import Glibc
#endif

/// The value tree shared by the YAML and JSON layers: an ordered mapping,
/// sequences and typed scalars that remember how they were written.

public enum ScalarTag: UInt8, Sendable {
    case string, int, float, bool, null, timestamp, binary
}

public enum ScalarStyle: UInt8, Sendable {
    case plain, singleQuoted, doubleQuoted, literal, folded
}

/// A scalar keeps its text (unescaped), its resolved type and its source style.
public struct Scalar: Sendable {
    public var value: String
    public var tag: ScalarTag
    public var style: ScalarStyle

    public init(_ value: String, tag: ScalarTag = .string, style: ScalarStyle = .plain) {
        self.value = value
        self.tag = tag
        self.style = style
    }

    /// True when the source wrote the scalar in quotes.
    public var isQuoted: Bool { style == .singleQuoted || style == .doubleQuoted }
}

extension Scalar: Equatable {
    /// Two scalars are equal when they mean the same value, whatever their style.
    public static func == (a: Scalar, b: Scalar) -> Bool {
        if a.tag != b.tag {
            // An int and a float holding the same number are equal (JSON has one number type).
            if let x = a.numberValue, let y = b.numberValue { return x == y }
            return false
        }
        switch a.tag {
        case .int, .float:
            if let x = a.numberValue, let y = b.numberValue { return x == y }
            return a.value == b.value
        case .bool:
            return a.boolValue == b.boolValue
        case .null:
            return true
        default:
            return a.value == b.value
        }
    }

    var numberValue: Double? {
        switch tag {
        case .int: return Resolver.parseGoInt(value).map { Double($0) } ?? Resolver.parseGoUInt(value).map { Double($0) }
        case .float: return Resolver.parseFloat(value)
        default: return nil
        }
    }

    var boolValue: Bool { ["true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", "y", "Y"].contains(value) }
}

extension Scalar: Hashable {
    public func hash(into h: inout Hasher) {
        h.combine(tag == .float ? ScalarTag.int : tag)
        if tag != .int && tag != .float { h.combine(value) }
    }
}

/// An insertion-ordered string-keyed mapping.
///
/// Keys and values are kept in two parallel arrays. A mapping of up to `indexedFrom` keys (nearly every mapping of a
/// Kubernetes object) is searched linearly: comparing short strings (most keys fit Swift's 15-byte inline form, so
/// equality is two word compares) costs less than hashing them, and no hash table is allocated per mapping. Larger
/// mappings (a ConfigMap's data, an OpenAPI schema's properties) also keep a key → position table.
public struct Mapping: Sendable, Equatable, Hashable {
    public private(set) var keys: [String] = []
    /// The values, in key order (`values[i]` belongs to `keys[i]`).
    public private(set) var values: [Node] = []
    private var index: [String: Int]? = nil
    static let indexedFrom = 12

    public init() {}

    public init(_ pairs: [(String, Node)]) {
        keys.reserveCapacity(pairs.count)
        values.reserveCapacity(pairs.count)
        for (k, v) in pairs { self[k] = v }
    }

    public var count: Int { keys.count }
    public var isEmpty: Bool { keys.isEmpty }

    /// The position of `key` in `keys`.
    @inline(__always)
    func position(_ key: String) -> Int? {
        if let index { return index[key] }
        // Lengths first: most keys differ in length, and a String's UTF-8 count is stored (no comparison call).
        var i = 0
        let n = keys.count, length = key.utf8.count
        while i < n {
            if keys[i].utf8.count == length && keys[i] == key { return i }
            i += 1
        }
        return nil
    }

    private mutating func reindex() {
        guard keys.count > Self.indexedFrom else { index = nil; return }
        var t: [String: Int] = [:]
        t.reserveCapacity(keys.count)
        for (i, k) in keys.enumerated() { t[k] = i }
        index = t
    }

    /// Appends a key known to be absent.
    mutating func appendNew(_ key: String, _ value: Node) {
        keys.append(key)
        values.append(value)
        if index != nil { index![key] = keys.count - 1 } else if keys.count > Self.indexedFrom { reindex() }
    }

    public subscript(key: String) -> Node? {
        get { position(key).map { values[$0] } }
        set {
            if let v = newValue {
                if let i = position(key) { values[i] = v } else { appendNew(key, v) }
            } else if let i = position(key) {
                keys.remove(at: i)
                values.remove(at: i)
                if index != nil { reindex() }
            }
        }
    }

    public func contains(_ key: String) -> Bool { position(key) != nil }

    /// Changes the value at `key` in place (a value held once is not copied); nil, and `body` not run, when the key
    /// is missing. The key order is unchanged.
    @discardableResult
    public mutating func withValue<R>(_ key: String, _ body: (inout Node) throws -> R) rethrows -> R? {
        guard let i = position(key) else { return nil }
        return try body(&values[i])
    }

    /// Calls `body` with the value at `key` (nil when missing) and stores what it leaves: nil removes the key, a
    /// value for a missing key is appended (only when `insert`; otherwise a missing key is left alone and `body`
    /// not run). The value is moved out for the call, so `body` changes a value held once without copying it.
    public mutating func update(_ key: String, insert: Bool, _ body: (inout Node?) -> Void) {
        if let i = position(key) {
            var v: Node? = values[i]
            values[i] = .null
            body(&v)
            if let v {
                values[i] = v
            } else {
                keys.remove(at: i)
                values.remove(at: i)
                if index != nil { reindex() }
            }
        } else if insert {
            var v: Node? = nil
            body(&v)
            if let v { appendNew(key, v) }
        }
    }

    /// Calls `body` with each key and its value, in order, the value changed in place (no look-up per key).
    public mutating func forEachValue(_ body: (String, inout Node) throws -> Void) rethrows {
        for i in keys.indices { try body(keys[i], &values[i]) }
    }

    /// Pairs in insertion order.
    public var entries: [(key: String, value: Node)] { Array(zip(keys, values)) }

    /// Rename or reorder: replace the key list by a permutation of itself.
    public mutating func reorder(_ newKeys: [String]) {
        precondition(Set(newKeys) == Set(keys) && newKeys.count == keys.count, "reorder needs a permutation")
        values = newKeys.map { values[position($0)!] }
        keys = newKeys
        reindex()
    }

    public mutating func sortKeys(by less: (String, String) -> Bool) {
        let order = keys.indices.sorted { less(keys[$0], keys[$1]) }
        keys = order.map { keys[$0] }
        values = order.map { values[$0] }
        reindex()
    }

    /// Equal when they hold the same keys with equal values, in any order.
    public static func == (a: Mapping, b: Mapping) -> Bool {
        guard a.count == b.count else { return false }
        for i in a.keys.indices {
            guard let j = b.position(a.keys[i]), a.values[i] == b.values[j] else { return false }
        }
        return true
    }

    public func hash(into h: inout Hasher) {
        h.combine(keys.count)
        for i in keys.indices.sorted(by: { keys[$0] < keys[$1] }) { h.combine(keys[i]); h.combine(values[i]) }
    }
}

public indirect enum Node: Sendable, Equatable, Hashable {
    case scalar(Scalar)
    case sequence([Node])
    case mapping(Mapping)

    // MARK: constructors
    public static let null = Node.scalar(Scalar("null", tag: .null))
    public static func string(_ s: String) -> Node { .scalar(Scalar(s, tag: .string)) }
    public static func int(_ i: Int) -> Node { .scalar(Scalar(String(i), tag: .int)) }
    public static func float(_ d: Double) -> Node { .scalar(Scalar(Resolver.goFormatFloat(d), tag: .float)) }
    public static func bool(_ b: Bool) -> Node { .scalar(Scalar(b ? "true" : "false", tag: .bool)) }
    public static func map(_ pairs: [(String, Node)]) -> Node { .mapping(Mapping(pairs)) }
    public static var emptyMap: Node { .mapping(Mapping()) }

    // MARK: accessors
    public var isNull: Bool { if case .scalar(let s) = self, s.tag == .null { return true }; return false }

    public var scalarValue: Scalar? { if case .scalar(let s) = self { return s }; return nil }

    /// The value of a string scalar (nil for other scalars and collections).
    public var string: String? {
        if case .scalar(let s) = self, s.tag == .string || s.tag == .timestamp || s.tag == .binary { return s.value }
        return nil
    }

    /// The text of any non-null scalar, as a string (numbers and booleans included).
    public var text: String? {
        if case .scalar(let s) = self, s.tag != .null { return s.value }
        return nil
    }

    public var int: Int? {
        guard case .scalar(let s) = self else { return nil }
        switch s.tag {
        case .int: return Resolver.parseGoInt(s.value).flatMap { Int(exactly: $0) }
        case .float: return Resolver.parseFloat(s.value).flatMap { Int(exactly: $0) }
        default: return nil
        }
    }

    public var double: Double? {
        guard case .scalar(let s) = self, s.tag == .int || s.tag == .float else { return nil }
        return s.numberValue
    }

    public var bool: Bool? {
        if case .scalar(let s) = self, s.tag == .bool { return s.boolValue }
        return nil
    }

    public var array: [Node]? { if case .sequence(let a) = self { return a }; return nil }
    public var map: Mapping? { if case .mapping(let m) = self { return m }; return nil }

    public subscript(key: String) -> Node? {
        get { map?[key] }
        set { withMapping { $0[key] = newValue } }
    }

    /// Changes this node's mapping in place: the node lets go of it first, so a tree held once is changed without
    /// copy-on-write copying the mapping at every level (the cost of `case .mapping(var m) = n; ...; n = .mapping(m)`).
    /// nil, and `body` not run, when the node is not a mapping.
    @discardableResult
    public mutating func withMapping<R>(_ body: (inout Mapping) throws -> R) rethrows -> R? {
        guard case .mapping(var m) = self else { return nil }
        self = .null
        defer { self = .mapping(m) }
        return try body(&m)
    }

    /// The same for a sequence.
    @discardableResult
    public mutating func withSequence<R>(_ body: (inout [Node]) throws -> R) rethrows -> R? {
        guard case .sequence(var a) = self else { return nil }
        self = .null
        defer { self = .sequence(a) }
        return try body(&a)
    }

    public subscript(index: Int) -> Node? {
        guard case .sequence(let a) = self, index >= 0, index < a.count else { return nil }
        return a[index]
    }

    /// Follows a path of mapping keys; nil when any step is missing.
    public func value(at path: [String]) -> Node? {
        var cur: Node? = self
        for p in path { cur = cur?[p] }
        return cur
    }

    /// Sets a value at a path of mapping keys, creating mappings on the way.
    public mutating func set(_ path: [String], _ value: Node?) {
        guard let first = path.first else { if let v = value { self = v }; return }
        // In place (withMapping/withValue): a copy of each mapping on the path was made and written back.
        withMapping { m in
            if path.count == 1 { m[first] = value; return }
            if m[first]?.map == nil { m[first] = .emptyMap }
            m.withValue(first) { $0.set(Array(path.dropFirst()), value) }
        }
    }
}

extension Node: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral v: String) { self = .string(v) }
    public init(integerLiteral v: Int) { self = .int(v) }
    public init(booleanLiteral v: Bool) { self = .bool(v) }
    public init(arrayLiteral elements: Node...) { self = .sequence(elements) }
    public init(dictionaryLiteral elements: (String, Node)...) { self = .mapping(Mapping(elements)) }
    public init(nilLiteral: ()) { self = .null }
}
