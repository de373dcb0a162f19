import FluxsYAML

/// A Flux kind as a Swift type: apiVersion, kind, metadata, spec and (for most) status.
public protocol FluxObject: APIObject {
    associatedtype Spec: APIObject
    static var fluxKind: FluxKind { get }
    /// Printer columns of the CRD, as upstream.
    static var printerColumns: [PrinterColumn] { get }
    /// Short names of the CRD.
    static var shortNames: [String] { get }
    /// Categories of the CRD.
    static var categories: [String] { get }
    /// The type of status, nil for kinds without one (Alert, Provider).
    static var statusSchema: Schema? { get }
    var apiVersion: String { get set }
    var kind: String { get set }
    var metadata: ObjectMeta { get set }
    var spec: Spec { get set }
}

public struct PrinterColumn: Sendable {
    public var name: String
    public var type: String
    public var jsonPath: String
    public var priority: Int = 0

    public static let age = PrinterColumn(name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp")
    public static let ready = PrinterColumn(name: "Ready", type: "string", jsonPath: ".status.conditions[?(@.type==\"Ready\")].status")
    public static let status = PrinterColumn(name: "Status", type: "string", jsonPath: ".status.conditions[?(@.type==\"Ready\")].message")
}

extension FluxObject {
    public static var shortNames: [String] { [] }
    public static var specSchema: Schema { Spec.apiSchema }

    /// The object as the API (and `--export`) writes it.
    public func node() throws -> Node { try APICoding.node(self) }

    public static func decode(_ node: Node) throws -> Self { try APICoding.decode(Self.self, from: node) }

    /// A new object with apiVersion, kind, name and namespace set.
    public static func new(name: String, namespace: String) -> Self {
        var o = Self()
        o.apiVersion = fluxKind.apiVersion
        o.kind = fluxKind.kind
        o.metadata = ObjectMeta(name: name, namespace: namespace)
        return o
    }

    /// The root schema of the CRD version.
    public static var rootSchema: Schema {
        var s = Schema.object
        s.description = apiDescription
        var apiVersion = Schema.string
        apiVersion.description = "APIVersion is the versioned schema of this representation of the object; servers convert recognised schemas to their latest internal value."
        var kind = Schema.string
        kind.description = "Kind is the REST resource this object represents, in CamelCase."
        var spec = Spec.apiSchema
        if spec.description.isEmpty { spec.description = "The desired state of the \(fluxKind.kind)." }
        s.properties = [("apiVersion", apiVersion), ("kind", kind), ("metadata", .object), ("spec", spec)]
        if var st = statusSchema {
            if st.description.isEmpty { st.description = "The observed state of the \(fluxKind.kind)." }
            s.properties.append(("status", st))
        }
        return s
    }
}

/// Common object header fields, declared once per kind with these descriptions.
let apiVersionHelp = "APIVersion of the object."
let kindHelp = "Kind of the object."
