import FluxsYAML

/// One node of an OpenAPI v3 structural schema, as CustomResourceDefinitions carry them.
public struct Schema: Sendable {
    public var type: String?
    public var description: String = ""
    public var format: String?
    public var properties: [(String, Schema)] = []
    public var required: [String] = []
    public var items: Box<Schema>?
    public var additionalProperties: Box<Schema>?
    public var defaultValue: Node?
    public var enumValues: [String]?
    public var pattern: String?
    public var minimum: Int?
    public var maximum: Int?
    public var minLength: Int?
    public var maxLength: Int?
    public var minItems: Int?
    public var maxItems: Int?
    public var preserveUnknownFields = false
    public var intOrString = false
    public var listType: String?
    public var listMapKeys: [String]?
    public var mapType: String?
    /// CEL rules (x-kubernetes-validations): (rule, message).
    public var validations: [(String, String)] = []

    public init(type: String?) { self.type = type }

    public static let string = Schema(type: "string")
    public static let boolean = Schema(type: "boolean")
    public static var integer: Schema { var s = Schema(type: "integer"); s.format = "int64"; return s }
    public static var int32: Schema { var s = Schema(type: "integer"); s.format = "int32"; return s }
    public static let number = Schema(type: "number")
    public static func array(_ items: Schema) -> Schema { var s = Schema(type: "array"); s.items = Box(items); return s }
    public static func map(_ values: Schema) -> Schema { var s = Schema(type: "object"); s.additionalProperties = Box(values); return s }
    public static var object: Schema { Schema(type: "object") }
    public static var preserveUnknown: Schema { var s = Schema(type: "object"); s.preserveUnknownFields = true; return s }
    /// Any JSON value (no type), unknown fields kept (helm values).
    public static var anyValue: Schema { var s = Schema(type: nil); s.preserveUnknownFields = true; return s }

    /// The schema as a CRD writes it.
    public var node: Node {
        var m = Mapping()
        if let t = type { m["type"] = .string(t) }
        if !description.isEmpty { m["description"] = .string(description) }
        if let f = format { m["format"] = .string(f) }
        if let d = defaultValue { m["default"] = d }
        if let e = enumValues { m["enum"] = .sequence(e.map(Node.string)) }
        if let p = pattern { m["pattern"] = .string(p) }
        if let v = minimum { m["minimum"] = .int(v) }
        if let v = maximum { m["maximum"] = .int(v) }
        if let v = minLength { m["minLength"] = .int(v) }
        if let v = maxLength { m["maxLength"] = .int(v) }
        if let v = minItems { m["minItems"] = .int(v) }
        if let v = maxItems { m["maxItems"] = .int(v) }
        if !properties.isEmpty { m["properties"] = .mapping(Mapping(properties.map { ($0.0, $0.1.node) })) }
        if !required.isEmpty { m["required"] = .sequence(required.map(Node.string)) }
        if let i = items { m["items"] = i.value.node }
        if let a = additionalProperties { m["additionalProperties"] = a.value.node }
        if preserveUnknownFields { m["x-kubernetes-preserve-unknown-fields"] = .bool(true) }
        if intOrString { m["x-kubernetes-int-or-string"] = .bool(true) }
        if let l = listType { m["x-kubernetes-list-type"] = .string(l) }
        if let k = listMapKeys { m["x-kubernetes-list-map-keys"] = .sequence(k.map(Node.string)) }
        if let t = mapType { m["x-kubernetes-map-type"] = .string(t) }
        if !validations.isEmpty {
            m["x-kubernetes-validations"] = .sequence(validations.map { .map([("message", .string($0.1)), ("rule", .string($0.0))]) })
        }
        return .mapping(m)
    }

    public func property(_ name: String) -> Schema? { properties.first { $0.0 == name }?.1 }
}

/// Indirection for recursive value types.
public final class Box<T: Sendable>: Sendable {
    public let value: T
    public init(_ v: T) { value = v }
}
