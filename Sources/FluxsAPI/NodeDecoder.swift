import FoundationEssentials
import FluxsYAML

/// A Decoder that reads a value tree directly: APICoding.decode's fast path, instead of writing the tree as JSON and
/// giving the text to Foundation's JSONDecoder (which cost ~30 M instructions for a Kustomization with 1,000 inventory
/// entries). It reads each scalar as the JSON `JSON.encode` writes for it would be read (numbers from the same text,
/// timestamps as RFC 3339) and gives up (`Unsupported`) on anything else — a type JSONDecoder treats specially (Date,
/// Data, URL, Decimal), a scalar of another kind, a missing key — so that APICoding.decode then runs JSONDecoder,
/// whose result and error messages are the reference. Tests/FluxsAPITests/NodeDecoderTests.swift compares the two.
struct NodeDecoder: Decoder {
    struct Unsupported: Error {}

    let node: Node
    var codingPath: [CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        if T.self == Date.self || T.self == Data.self || T.self == URL.self || T.self == Decimal.self { throw Unsupported() }
        if T.self == ResourceInventory.self, let inventory = Self.inventory(node) as? T { return inventory }
        return try T(from: self)
    }

    /// A status inventory read without a container per entry (~10 K instructions each through Codable; thousands
    /// in every Kustomization read): only the exact shape, `{"entries": [{"id": string, "v": string}, ...]}` with
    /// any other keys ignored as Codable ignores them; anything else (a missing or non-string field, a null) is
    /// nil, and the Codable path decides.
    static func inventory(_ node: Node) -> ResourceInventory? {
        guard case .mapping(let m) = node, let list = m["entries"], case .sequence(let items) = list else { return nil }
        var entries: [ResourceInventory.Entry] = []
        entries.reserveCapacity(items.count)
        for item in items {
            guard case .mapping(let e) = item, let idNode = e["id"], let vNode = e["v"],
                  case .scalar(let id) = idNode, case .scalar(let v) = vNode,
                  let ids = JSON.stringValue(id), let vs = JSON.stringValue(v) else { return nil }
            entries.append(ResourceInventory.Entry(decodedID: ids, v: vs))
        }
        // (A decoded field encodes as Codable decoded it: an empty list left out.)
        return ResourceInventory(decodedEntries: entries)
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .mapping(let m) = node else { throw Unsupported() }
        return KeyedDecodingContainer(Keyed<Key>(map: m, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> UnkeyedDecodingContainer {
        guard case .sequence(let a) = node else { throw Unsupported() }
        return Unkeyed(items: a, codingPath: codingPath)
    }

    func singleValueContainer() throws -> SingleValueDecodingContainer { Single(node: node, codingPath: codingPath) }

    static func isNull(_ n: Node) -> Bool {
        if case .scalar(let s) = n, s.tag == .null { return true }
        return false
    }

    static func scalar(_ n: Node) throws -> Scalar {
        guard case .scalar(let s) = n else { throw Unsupported() }
        return s
    }

    static func string(_ n: Node) throws -> String {
        guard let v = JSON.stringValue(try scalar(n)) else { throw Unsupported() }
        return v
    }

    static func bool(_ n: Node) throws -> Bool {
        guard let v = JSON.boolValue(try scalar(n)) else { throw Unsupported() }
        return v
    }

    static func integer<T: FixedWidthInteger>(_ n: Node, _: T.Type) throws -> T {
        guard let text = JSON.numberText(try scalar(n)), let v = T(text) else { throw Unsupported() }
        return v
    }

    static func double(_ n: Node) throws -> Double {
        guard let text = JSON.numberText(try scalar(n)), let v = Double(text) else { throw Unsupported() }
        return v
    }

    static func float(_ n: Node) throws -> Float {
        guard let text = JSON.numberText(try scalar(n)), let v = Float(text), v.isFinite else { throw Unsupported() }
        return v
    }

    struct Single: SingleValueDecodingContainer {
        let node: Node
        var codingPath: [CodingKey]
        func decodeNil() -> Bool { NodeDecoder.isNull(node) }
        func decode(_ type: Bool.Type) throws -> Bool { try NodeDecoder.bool(node) }
        func decode(_ type: String.Type) throws -> String { try NodeDecoder.string(node) }
        func decode(_ type: Double.Type) throws -> Double { try NodeDecoder.double(node) }
        func decode(_ type: Float.Type) throws -> Float { try NodeDecoder.float(node) }
        func decode(_ type: Int.Type) throws -> Int { try NodeDecoder.integer(node, type) }
        func decode(_ type: Int8.Type) throws -> Int8 { try NodeDecoder.integer(node, type) }
        func decode(_ type: Int16.Type) throws -> Int16 { try NodeDecoder.integer(node, type) }
        func decode(_ type: Int32.Type) throws -> Int32 { try NodeDecoder.integer(node, type) }
        func decode(_ type: Int64.Type) throws -> Int64 { try NodeDecoder.integer(node, type) }
        func decode(_ type: UInt.Type) throws -> UInt { try NodeDecoder.integer(node, type) }
        func decode(_ type: UInt8.Type) throws -> UInt8 { try NodeDecoder.integer(node, type) }
        func decode(_ type: UInt16.Type) throws -> UInt16 { try NodeDecoder.integer(node, type) }
        func decode(_ type: UInt32.Type) throws -> UInt32 { try NodeDecoder.integer(node, type) }
        func decode(_ type: UInt64.Type) throws -> UInt64 { try NodeDecoder.integer(node, type) }
        func decode<T: Decodable>(_ type: T.Type) throws -> T { try NodeDecoder(node: node, codingPath: codingPath).decode(type) }
    }

    struct Keyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let map: Mapping
        var codingPath: [CodingKey]
        var allKeys: [Key] { map.keys.compactMap { Key(stringValue: $0) } }
        func contains(_ key: Key) -> Bool { map.contains(key.stringValue) }
        func child(_ key: Key) throws -> Node {
            guard let v = map[key.stringValue] else { throw Unsupported() }
            return v
        }
        func decodeNil(forKey key: Key) throws -> Bool { NodeDecoder.isNull(try child(key)) }
        func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try NodeDecoder.bool(try child(key)) }
        func decode(_ type: String.Type, forKey key: Key) throws -> String { try NodeDecoder.string(try child(key)) }
        func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try NodeDecoder.double(try child(key)) }
        func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try NodeDecoder.float(try child(key)) }
        func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try NodeDecoder.integer(try child(key), type) }
        func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try NodeDecoder.integer(try child(key), type) }
        func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try NodeDecoder.integer(try child(key), type) }
        func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try NodeDecoder.integer(try child(key), type) }
        func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try NodeDecoder.integer(try child(key), type) }
        func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try NodeDecoder.integer(try child(key), type) }
        func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try NodeDecoder.integer(try child(key), type) }
        func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try NodeDecoder.integer(try child(key), type) }
        func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try NodeDecoder.integer(try child(key), type) }
        func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try NodeDecoder.integer(try child(key), type) }
        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
            try NodeDecoder(node: try child(key), codingPath: codingPath + [key]).decode(type)
        }
        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
            try NodeDecoder(node: try child(key), codingPath: codingPath + [key]).container(keyedBy: type)
        }
        func nestedUnkeyedContainer(forKey key: Key) throws -> UnkeyedDecodingContainer {
            try NodeDecoder(node: try child(key), codingPath: codingPath + [key]).unkeyedContainer()
        }
        func superDecoder() throws -> Decoder { throw Unsupported() }
        func superDecoder(forKey key: Key) throws -> Decoder { throw Unsupported() }
    }

    struct Unkeyed: UnkeyedDecodingContainer {
        let items: [Node]
        var codingPath: [CodingKey]
        var currentIndex = 0
        init(items: [Node], codingPath: [CodingKey]) { self.items = items; self.codingPath = codingPath }
        var count: Int? { items.count }
        var isAtEnd: Bool { currentIndex >= items.count }
        mutating func next() throws -> Node {
            guard !isAtEnd else { throw Unsupported() }
            defer { currentIndex += 1 }
            return items[currentIndex]
        }
        mutating func decodeNil() throws -> Bool {
            guard !isAtEnd else { throw Unsupported() }
            if NodeDecoder.isNull(items[currentIndex]) { currentIndex += 1; return true }
            return false
        }
        mutating func decode(_ type: Bool.Type) throws -> Bool { try NodeDecoder.bool(try next()) }
        mutating func decode(_ type: String.Type) throws -> String { try NodeDecoder.string(try next()) }
        mutating func decode(_ type: Double.Type) throws -> Double { try NodeDecoder.double(try next()) }
        mutating func decode(_ type: Float.Type) throws -> Float { try NodeDecoder.float(try next()) }
        mutating func decode(_ type: Int.Type) throws -> Int { try NodeDecoder.integer(try next(), type) }
        mutating func decode(_ type: Int8.Type) throws -> Int8 { try NodeDecoder.integer(try next(), type) }
        mutating func decode(_ type: Int16.Type) throws -> Int16 { try NodeDecoder.integer(try next(), type) }
        mutating func decode(_ type: Int32.Type) throws -> Int32 { try NodeDecoder.integer(try next(), type) }
        mutating func decode(_ type: Int64.Type) throws -> Int64 { try NodeDecoder.integer(try next(), type) }
        mutating func decode(_ type: UInt.Type) throws -> UInt { try NodeDecoder.integer(try next(), type) }
        mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try NodeDecoder.integer(try next(), type) }
        mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try NodeDecoder.integer(try next(), type) }
        mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try NodeDecoder.integer(try next(), type) }
        mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try NodeDecoder.integer(try next(), type) }
        mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
            let path = codingPath
            return try NodeDecoder(node: try next(), codingPath: path).decode(type)
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
            let path = codingPath
            return try NodeDecoder(node: try next(), codingPath: path).container(keyedBy: type)
        }
        mutating func nestedUnkeyedContainer() throws -> UnkeyedDecodingContainer {
            let path = codingPath
            return try NodeDecoder(node: try next(), codingPath: path).unkeyedContainer()
        }
        mutating func superDecoder() throws -> Decoder { throw Unsupported() }
    }
}
