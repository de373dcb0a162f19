import Foundation
@testable import FluxsAPI
import FluxsYAML
import FluxsTestSupport
import XCTest

/// APICoding.decode reads a tree with NodeDecoder and falls back to JSONDecoder over the tree written as JSON: on
/// seeded objects generated from every Flux kind's schema (well-typed, with scalars of the wrong kind, numbers as
/// floats, nulls, timestamps, unknown keys), both readings must agree: the same value, or both an error.
final class NodeDecoderTests: XCTestCase {
    /// A scalar of any kind: what a hand-written or hostile object may hold where the schema says otherwise.
    func oddScalar(_ rng: inout SeededRandom) -> Node {
        let texts: [(String, ScalarTag)] = [("3", .int), ("-7", .int), ("0x1F", .int), ("2.0", .float), ("0.5", .float), ("1e3", .float),
                                             (".inf", .float), ("true", .bool), ("yes", .bool), ("", .null), ("2026-01-02", .timestamp),
                                             ("text", .string), ("12", .string), ("true", .string), ("1m", .string)]
        let (t, tag) = texts.randomElement(using: &rng)!
        return .scalar(Scalar(t, tag: tag))
    }

    func value(_ s: Schema, _ rng: inout SeededRandom, depth: Int) -> Node {
        if depth > 6 || Int.random(in: 0..<20, using: &rng) == 0 { return oddScalar(&rng) }
        if let e = s.enumValues, !e.isEmpty { return .string(e.randomElement(using: &rng)!) }
        switch s.type {
        case "string": return s.format == "date-time" ? "2026-01-02T03:04:05Z" : .string(["a", "", "sha256:00ff", "10m"].randomElement(using: &rng)!)
        case "integer": return Bool.random(using: &rng) ? .int(Int.random(in: -5...100, using: &rng)) : .scalar(Scalar("4.0", tag: .float))
        case "number": return .float(Double(Int.random(in: 0...40, using: &rng)) / 4)
        case "boolean": return .bool(Bool.random(using: &rng))
        case "array":
            guard let i = s.items?.value else { return .sequence([]) }
            return .sequence((0..<Int.random(in: 0...2, using: &rng)).map { _ in value(i, &rng, depth: depth + 1) })
        default:
            if s.intOrString { return Bool.random(using: &rng) ? .int(8080) : "http" }
            var m = Mapping()
            if let a = s.additionalProperties?.value {
                for k in ["k1", "k2"].prefix(Int.random(in: 0...2, using: &rng)) { m[k] = value(a, &rng, depth: depth + 1) }
                return .mapping(m)
            }
            for (k, ps) in s.properties where Int.random(in: 0..<4, using: &rng) > 0 { m[k] = value(ps, &rng, depth: depth + 1) }
            if Int.random(in: 0..<10, using: &rng) == 0 { m["unknownField"] = "x" }
            if Int.random(in: 0..<15, using: &rng) == 0, let k = s.properties.randomElement(using: &rng)?.0 { m[k] = .null }
            if s.preserveUnknownFields { m["anything"] = .map([("nested", [1, "two"])]) }
            return .mapping(m)
        }
    }

    func compare<T: FluxObject>(_ t: T.Type, _ node: Node, _ label: String) -> (agreed: Bool, decoded: Bool) {
        let fast = Result { try APICoding.decode(T.self, from: node) }
        let reference = Result { try APICoding.viaJSON(T.self, from: node) }
        switch (fast, reference) {
        case (.success(let a), .success(let b)):
            let na = try? APICoding.node(a), nb = try? APICoding.node(b)
            XCTAssertEqual(na, nb, label)
            return (na == nb, true)
        case (.failure(let a), .failure(let b)):
            XCTAssertEqual("\(a)", "\(b)", label)   // the fallback gives JSONDecoder's own error
            return ("\(a)" == "\(b)", false)
        default:
            XCTFail("\(label): one reading failed: \(fast) vs \(reference)")
            return (false, false)
        }
    }

    /// The inventory's own reader (NodeDecoder.inventory) against JSONDecoder: seeded inventories, well-formed and
    /// with odd scalars, nulls, missing and unknown keys in the entries.
    func testInventoriesAgreeWithJSONDecoder() throws {
        var rng = SeededRandom(seed: 1303)
        var direct = 0
        for n in 0..<400 {
            var entries: [Node] = []
            for i in 0..<Int.random(in: 0...30, using: &rng) {
                var e = Mapping()
                let odd = Int.random(in: 0..<(n % 2 == 0 ? 200 : 8), using: &rng)
                e["id"] = odd == 0 ? oddScalar(&rng) : .string("ns_cm-\(i)__ConfigMap")
                e["v"] = odd == 1 ? oddScalar(&rng) : "v1"
                if odd == 2 { e["id"] = nil }
                if odd == 3 { e["v"] = .null }
                if odd == 4 { e["extra"] = "x" }
                entries.append(odd == 5 ? oddScalar(&rng) : .mapping(e))
            }
            var inv = Mapping()
            inv["entries"] = Int.random(in: 0..<40, using: &rng) == 0 ? .null : .sequence(entries)
            if Int.random(in: 0..<10, using: &rng) == 0 { inv["unknown"] = "x" }
            let node = Node.mapping(inv)
            if NodeDecoder.inventory(node) != nil { direct += 1 }
            let fast = Result { try APICoding.decode(ResourceInventory.self, from: node) }
            let reference = Result { try APICoding.viaJSON(ResourceInventory.self, from: node) }
            switch (fast, reference) {
            case (.success(let a), .success(let b)):
                XCTAssertEqual(a.entries, b.entries, "#\(n)")
                XCTAssertEqual(try APICoding.node(a), try APICoding.node(b), "#\(n): encoded")
            case (.failure(let a), .failure(let b)): XCTAssertEqual("\(a)", "\(b)", "#\(n)")
            default: XCTFail("#\(n): one reading failed: \(fast) vs \(reference)")
            }
        }
        XCTAssertGreaterThan(direct, 150, "the direct reader was used")
        XCTAssertLessThan(direct, 390, "odd inventories were generated")
    }

    func testGeneratedObjectsOfEveryKind() {
        var rng = SeededRandom(seed: 20261203)
        var decoded = 0, total = 0
        for adapter in Adapters.all {
            let t = adapter.type
            let root = t.rootSchema
            for n in 0..<150 {
                var object = value(root, &rng, depth: 0)
                if case .mapping = object {
                    object["apiVersion"] = Node.string(t.fluxKind.apiVersion)
                    object["kind"] = Node.string(t.fluxKind.kind)
                    object["metadata"] = Node.map([("name", .string("n\(n)")), ("namespace", "ns"), ("labels", .map([("a", "b")]))])
                }
                let r = compare(t, object, "\(t.fluxKind.kind) #\(n)")
                total += 1
                if r.decoded { decoded += 1 }
            }
        }
        // most generated objects are readable, so the fast path is exercised, not only the fallback
        XCTAssertGreaterThan(decoded, total / 4, "\(decoded) of \(total) decoded")
    }
}
