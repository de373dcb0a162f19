import FluxsKube
import FluxsYAML
import FoundationEssentials

/// A value that can appear in a Flux API object: it knows its schema and
/// Go's `omitempty` notion of empty, and it is Codable.
public protocol APIValue: Codable, Sendable {
    static var apiSchema: Schema { get }
    /// The value a missing field decodes to (Go's zero value).
    static var zero: Self { get }
    /// Go's omitempty: false, 0, "", nil, empty slices and maps.
    var isEmptyValue: Bool { get }
}

/// Schema facts of one field, written next to the field's declaration.
public struct FieldOptions: Sendable {
    public var description = ""
    public var required = false
    /// Go `json:",omitempty"`: the field is left out when empty.
    public var omitEmpty = true
    public var defaultValue: Node? = nil
    public var enumValues: [String]? = nil
    public var pattern: String? = nil
    public var format: String? = nil
    public var minimum: Int? = nil
    public var maximum: Int? = nil
    public var minLength: Int? = nil
    public var maxLength: Int? = nil
    public var maxItems: Int? = nil
    public var minItems: Int? = nil
    public var listType: String? = nil
    public var listMapKeys: [String]? = nil
    public var mapType: String? = nil
    public var itemEnum: [String]? = nil
}

/// A field of an API object. The declaration carries its schema facts, so the
/// CRD is generated from the same Swift type that code reads and writes.
/// `Value` is unconstrained in the declaration, APIValue in every extension: the runtime then makes the metadata of
/// each Field<V> without checking a requirement, which is a search of every protocol conformance the binary holds
/// (~75 K instructions each, ~10 M for the first decode of a Kustomization in a process; docs/decisions.md).
@propertyWrapper
public struct Field<Value> {
    public var wrappedValue: Value
    /// The declaration's options, held by reference: a copy of a field (API values are copied a lot: an inventory
    /// entry is copied several times a run, for each of thousands of objects) is its value and one retain, not a
    /// retain of each of the options' ~15 members.
    private let held: FieldOptionsBox
    public var options: FieldOptions { held.options }
}

/// A field's options, shared by the copies of the field (and by every decoded field: FieldOptionsBox.decoded).
final class FieldOptionsBox: Sendable {
    let options: FieldOptions
    init(_ options: FieldOptions) { self.options = options }
    static let decoded = FieldOptionsBox(FieldOptions())
}

extension Field: Sendable where Value: Sendable {}

extension Field: Codable where Value: APIValue {
    public init(from decoder: Decoder) throws {
        wrappedValue = try Value(from: decoder)
        held = .decoded
    }

    public func encode(to encoder: Encoder) throws { try wrappedValue.encode(to: encoder) }
}

extension Field where Value: APIValue {
    public init(wrappedValue: Value, _ description: String = "", required: Bool = false, omitEmpty: Bool = true,
                default defaultValue: Node? = nil, enum enumValues: [String]? = nil, pattern: String? = nil,
                format: String? = nil, minimum: Int? = nil, maximum: Int? = nil, minLength: Int? = nil,
                maxLength: Int? = nil, minItems: Int? = nil, maxItems: Int? = nil, listType: String? = nil,
                listMapKeys: [String]? = nil, mapType: String? = nil, itemEnum: [String]? = nil) {
        self.wrappedValue = wrappedValue
        held = FieldOptionsBox(FieldOptions(description: description, required: required, omitEmpty: omitEmpty && !required,
                                            defaultValue: defaultValue, enumValues: enumValues, pattern: pattern, format: format,
                                            minimum: minimum, maximum: maximum, minLength: minLength, maxLength: maxLength,
                                            maxItems: maxItems, minItems: minItems, listType: listType, listMapKeys: listMapKeys,
                                            mapType: mapType, itemEnum: itemEnum))
    }

    init(decoded: Value) {
        wrappedValue = decoded
        held = .decoded
    }

    /// The field's schema: its value type's schema refined by the declaration.
    var schema: Schema {
        var s = Value.apiSchema
        let o = options
        if !o.description.isEmpty { s.description = o.description }
        if let d = o.defaultValue { s.defaultValue = d }
        if let e = o.enumValues { s.enumValues = e }
        if let p = o.pattern { s.pattern = p }
        if let f = o.format { s.format = f }
        if let v = o.minimum { s.minimum = v }
        if let v = o.maximum { s.maximum = v }
        if let v = o.minLength { s.minLength = v }
        if let v = o.maxLength { s.maxLength = v }
        if let v = o.minItems { s.minItems = v }
        if let v = o.maxItems { s.maxItems = v }
        if let v = o.listType { s.listType = v }
        if let v = o.listMapKeys { s.listMapKeys = v }
        if let v = o.mapType { s.mapType = v }
        if let e = o.itemEnum, let items = s.items {
            var i = items.value
            i.enumValues = e
            s.items = Box(i)
        }
        return s
    }
}

protocol AnyField {
    var fieldSchema: Schema { get }
    var isRequired: Bool { get }
}

extension Field: AnyField where Value: APIValue {
    var fieldSchema: Schema { schema }
    var isRequired: Bool { options.required }
}

extension KeyedEncodingContainer {
    public mutating func encode<V: APIValue>(_ field: Field<V>, forKey key: Key) throws {
        if field.options.omitEmpty && field.wrappedValue.isEmptyValue { return }
        try encode(field.wrappedValue, forKey: key)
    }
}

extension KeyedDecodingContainer {
    public func decode<V: APIValue>(_ type: Field<V>.Type, forKey key: Key) throws -> Field<V> {
        if let v = try decodeIfPresent(V.self, forKey: key) { return Field(decoded: v) }
        return Field(decoded: V.zero)
    }
}

/// A struct of fields; its schema is read off a default instance.
public protocol APIObject: APIValue {
    init()
    /// The description of the type in the schema.
    static var apiDescription: String { get }
    /// Type-level schema additions (CEL rules, a default for the whole object).
    static func refine(_ schema: inout Schema)
}

extension APIObject {
    public static var apiDescription: String { "" }
    public static func refine(_ schema: inout Schema) {}
    public static var zero: Self { Self() }
    public var isEmptyValue: Bool { false }

    public static var apiSchema: Schema {
        var s = Schema.object
        s.description = apiDescription
        for child in Mirror(reflecting: Self()).children {
            guard let label = child.label, label.hasPrefix("_"), let f = child.value as? AnyField else { continue }
            let name = String(label.dropFirst())
            s.properties.append((name, f.fieldSchema))
            if f.isRequired { s.required.append(name) }
        }
        s.properties.sort { $0.0 < $1.0 }
        s.required.sort()
        refine(&s)
        return s
    }
}

// MARK: scalar and collection conformances

extension String: APIValue {
    public static var apiSchema: Schema { .string }
    public static var zero: String { "" }
    public var isEmptyValue: Bool { isEmpty }
}

extension Bool: APIValue {
    public static var apiSchema: Schema { .boolean }
    public static var zero: Bool { false }
    public var isEmptyValue: Bool { !self }
}

extension Int: APIValue {
    public static var apiSchema: Schema { .integer }
    public static var zero: Int { 0 }
    public var isEmptyValue: Bool { self == 0 }
}

extension Double: APIValue {
    public static var apiSchema: Schema { .number }
    public static var zero: Double { 0 }
    public var isEmptyValue: Bool { self == 0 }
}

extension Optional: APIValue where Wrapped: APIValue {
    public static var apiSchema: Schema { Wrapped.apiSchema }
    public static var zero: Wrapped? { nil }
    public var isEmptyValue: Bool { self == nil }
}

extension Array: APIValue where Element: APIValue {
    public static var apiSchema: Schema { .array(Element.apiSchema) }
    public static var zero: [Element] { [] }
    public var isEmptyValue: Bool { isEmpty }
}

extension Dictionary: APIValue where Key == String, Value: APIValue {
    public static var apiSchema: Schema { .map(Value.apiSchema) }
    public static var zero: [String: Value] { [:] }
    public var isEmptyValue: Bool { isEmpty }
}

/// metav1.Duration: Go duration text ("1m0s").
public struct Duration: APIValue, Equatable, CustomStringConvertible {
    public var text: String
    public init(_ text: String) { self.text = text }
    /// From seconds, formatted as Go does.
    public init(seconds: Double) { text = GoDuration.format(seconds) }
    public var description: String { text }
    public static var apiSchema: Schema {
        var s = Schema.string
        s.pattern = "^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
        return s
    }
    public static var zero: Duration { Duration("0s") }
    public var isEmptyValue: Bool { false }
    /// Decoding normalises the text as Go's metav1.Duration does ("5m" becomes "5m0s").
    public init(from decoder: Decoder) throws { text = normalizeDuration(try decoder.singleValueContainer().decode(String.self)) }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(text)
    }
}

func normalizeDuration(_ s: String) -> String {
    guard let secs = try? GoDuration.parse(s) else { return s }
    return GoDuration.format(secs)
}

/// A timeout duration (no hour unit, as source-controller's pattern has it).
public struct TimeoutDuration: APIValue, Equatable {
    public var text: String
    public init(_ text: String) { self.text = text }
    public static var apiSchema: Schema {
        var s = Schema.string
        s.pattern = "^([0-9]+(\\.[0-9]+)?(ms|s|m))+$"
        return s
    }
    public static var zero: TimeoutDuration { TimeoutDuration("0s") }
    public var isEmptyValue: Bool { false }
    public init(from decoder: Decoder) throws { text = normalizeDuration(try decoder.singleValueContainer().decode(String.self)) }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(text)
    }
}

/// metav1.Time: RFC 3339 text.
public struct Time: APIValue, Equatable {
    public var text: String
    public init(_ text: String) { self.text = text }
    public static var apiSchema: Schema {
        var s = Schema.string
        s.format = "date-time"
        return s
    }
    public static var zero: Time { Time("") }
    public var isEmptyValue: Bool { text.isEmpty }
    public init(from decoder: Decoder) throws { text = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(text)
    }
}

/// Any JSON value, kept as it is (schemas mark it x-kubernetes-preserve-unknown-fields).
public struct JSONValue: APIValue {
    public var node: Node
    public init(_ node: Node) { self.node = node }
    public static var apiSchema: Schema { .preserveUnknown }
    public static var zero: JSONValue { JSONValue(.null) }
    public var isEmptyValue: Bool { node.isNull }

    public init(from decoder: Decoder) throws {
        if let c = try? decoder.container(keyedBy: AnyKey.self) {
            var m = Mapping()
            for k in c.allKeys.sorted(by: { $0.stringValue < $1.stringValue }) {
                m[k.stringValue] = try c.decode(JSONValue.self, forKey: k).node
            }
            node = .mapping(m)
            return
        }
        if var c = try? decoder.unkeyedContainer() {
            var a: [Node] = []
            while !c.isAtEnd { a.append(try c.decode(JSONValue.self).node) }
            node = .sequence(a)
            return
        }
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { node = .null }
        else if let b = try? c.decode(Bool.self) { node = .bool(b) }
        else if let i = try? c.decode(Int.self) { node = .int(i) }
        else if let d = try? c.decode(Double.self) { node = .float(d) }
        else { node = .string(try c.decode(String.self)) }
    }

    public func encode(to encoder: Encoder) throws {
        switch node {
        case .mapping(let m):
            var c = encoder.container(keyedBy: AnyKey.self)
            for (k, v) in m.entries { try c.encode(JSONValue(v), forKey: AnyKey(k)) }
        case .sequence(let a):
            var c = encoder.unkeyedContainer()
            for v in a { try c.encode(JSONValue(v)) }
        case .scalar(let s):
            var c = encoder.singleValueContainer()
            switch s.tag {
            case .null: try c.encodeNil()
            case .bool: try c.encode(node.bool ?? false)
            case .int: if let i = node.int { try c.encode(i) } else { try c.encode(node.double ?? 0) }
            case .float: try c.encode(node.double ?? 0)
            default: try c.encode(s.value)
            }
        }
    }
}

struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ s: String) { stringValue = s }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { return nil }
}

// MARK: Node <-> typed values

public enum APICoding {
    public static func node<T: Encodable>(_ value: T) throws -> Node {
        let data = try JSONEncoder().encode(value)
        return try JSON.decode(bytes: Array(data))
    }

    /// Read from the tree (NodeDecoder) when it can be read that way; otherwise, and for the errors, as
    /// JSONDecoder reads the tree written as JSON.
    public static func decode<T: Decodable>(_ type: T.Type, from node: Node) throws -> T {
        if let v = try? NodeDecoder(node: node).decode(type) { return v }
        return try viaJSON(type, from: node)
    }

    /// The reference reading: the tree as JSON, through Foundation's JSONDecoder.
    static func viaJSON<T: Decodable>(_ type: T.Type, from node: Node) throws -> T {
        let bytes = try JSON.encodeBytes(node)
        return try JSONDecoder().decode(T.self, from: Data(bytes))
    }
}
