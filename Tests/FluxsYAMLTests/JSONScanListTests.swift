import FluxsYAML
import FluxsTestSupport
import XCTest

/// JSON.scanList against JSON.decode on seeded generated list texts (duplicate members, escaped keys, items and
/// metadata of every JSON type, managedFields left out, nesting up to the depth limit) and on corrupted copies of
/// them: where the whole decode fails the scan fails; where it succeeds the scan reads the same fields, its item
/// ranges decode to the same items, and its other members are the same.
final class JSONScanListTests: XCTestCase {
    static let fields = ["name", "uid", "resourceVersion"]

    struct Gen {
        var rng: SeededRandom
        mutating func pick<T>(_ xs: [T]) -> T { xs[Int.random(in: 0..<xs.count, using: &rng)] }
        mutating func chance(_ n: Int) -> Bool { Int.random(in: 0..<n, using: &rng) == 0 }
        mutating func space() -> String { chance(3) ? pick([" ", "\n", "\t ", "\r\n  "]) : "" }
        /// A key as JSON text: sometimes with an escape that decodes to the same key.
        mutating func key(_ k: String) -> String {
            if chance(6), let c = k.unicodeScalars.first, c.isASCII {
                return "\"" + String(format: "\\u%04x", c.value) + String(k.unicodeScalars.dropFirst()) + "\""
            }
            return "\"" + k + "\""
        }
        mutating func string() -> String { pick(["\"\"", "\"cm-1\"", "\"a\\\"b\"", "\"\\u00e9t\\u00e9\"", "\"x\\ny\"", "\"\\ud83d\\ude00\"", "\"plain-value\""]) }
        mutating func scalar() -> String { pick([string(), "0", "-1.5e3", "true", "false", "null", "12"]) }
        mutating func value(_ depth: Int) -> String {
            if depth > 6 || chance(2) { return scalar() }
            if chance(2) {
                return "[" + (0..<Int.random(in: 0...3, using: &rng)).map { _ in space() + value(depth + 1) }.joined(separator: ",") + space() + "]"
            }
            return object(depth, keys: ["a", "name", "uid", "managedFields", "metadata", "items", "x"])
        }
        mutating func object(_ depth: Int, keys: [String], value v: ((inout Gen, String) -> String)? = nil) -> String {
            var members: [String] = []
            for _ in 0..<Int.random(in: 0...5, using: &rng) {
                let k = pick(keys)
                members.append(space() + key(k) + space() + ":" + space() + (v?(&self, k) ?? value(depth + 1)))
            }
            return "{" + members.joined(separator: ",") + space() + "}"
        }
        mutating func metadata() -> String {
            let rest = object(3, keys: ["name", "uid", "resourceVersion", "namespace", "labels", "managedFields"]) { g, k in
                switch k {
                case "name", "uid", "resourceVersion": return g.chance(5) ? g.value(4) : g.string()
                default: return g.value(4)
                }
            }
            // mostly an API server's: the three fields first, then whatever else (a later duplicate counts)
            guard !chance(4) else { return rest }
            let head = ["name", "uid", "resourceVersion"].map { key($0) + ":" + string() }.joined(separator: ",")
            return rest == "{}" || rest.hasSuffix(" }") && rest.count < 4 ? "{" + head + "}" : "{" + head + "," + rest.dropFirst()
        }
        mutating func item() -> String {
            if chance(8) { return value(2) }
            return object(2, keys: ["apiVersion", "kind", "metadata", "metadata", "data", "managedFields"]) { g, k in
                k == "metadata" ? (g.chance(8) ? g.value(3) : g.metadata()) : g.value(3)
            }
        }
        mutating func list() -> String {
            var members = [key("kind") + ":\"PartialObjectMetadataList\"", key("metadata") + ":" + object(1, keys: ["continue", "resourceVersion"])]
            let items = "[" + (0..<Int.random(in: 0...6, using: &rng)).map { _ in space() + item() }.joined(separator: ",") + space() + "]"
            members.append(key("items") + ":" + (chance(10) ? value(1) : items))
            if chance(6) { members.append(key("items") + ":" + items) }
            if chance(6) { members.insert(key("managedFields") + ":" + value(1), at: 0) }
            return space() + "{" + members.joined(separator: "," + space()) + "}" + space()
        }
    }

    /// Items scanned with all three fields (the generator reaches the cases that matter).
    var complete = 0

    func compare(_ text: [UInt8], _ label: String) {
        let whole = Result { try JSON.decode(bytes: text, omitting: "managedFields") }
        let scanned = Result { try JSON.scanList(bytes: text, fields: Self.fields, omitting: "managedFields") }
        switch (whole, scanned) {
        case (.failure, .failure): return
        case (.failure(let e), .success):
            XCTFail("\(label): decode failed (\(e)) but the scan succeeded: \(String(decoding: text, as: UTF8.self))")
        case (.success, .failure(let e)):
            XCTFail("\(label): the scan failed (\(e)) but decode succeeded: \(String(decoding: text, as: UTF8.self))")
        case (.success(let doc), .success(let scan)):
            guard let scan else {
                XCTAssertTrue(doc.map == nil || (doc["items"] != nil && doc["items"]?.array == nil), "\(label): no scan of a list: \(doc)")
                return
            }
            guard let items = doc["items"].map({ $0.array }) ?? [] else { return XCTFail("\(label): scanned items that are not an array") }
            XCTAssertEqual(scan.items.count, items.count, label)
            for (s, it) in zip(scan.items, items) {
                if !s.fields.contains(where: { $0 == nil }) { complete += 1 }
                XCTAssertEqual(s.fields, Self.fields.map { it["metadata"]?[$0]?.string }, "\(label): \(it)")
                XCTAssertEqual(try? JSON.decode(bytes: Array(text[s.range]), omitting: "managedFields"), it, label)
            }
            var rest = doc.map ?? Mapping()
            rest["items"] = nil
            XCTAssertEqual(scan.members, rest, label)
        }
    }

    func testScanAgreesWithDecode() {
        var g = Gen(rng: SeededRandom(seed: 2026_12_08))
        for n in 0..<1500 {
            let text = Array(g.list().utf8)
            compare(text, "case \(n)")
            // corrupted copies: a byte changed, dropped or added
            for m in 0..<4 {
                var bad = text
                guard !bad.isEmpty else { continue }
                let at = Int.random(in: 0..<bad.count, using: &g.rng)
                switch m % 3 {
                case 0: bad[at] = g.pick(Array("{}[]\",:\\ 0an".utf8))
                case 1: bad.remove(at: at)
                default: bad.insert(g.pick(Array("{}[]\",:\\ 0".utf8)), at: at)
                }
                compare(bad, "case \(n) corrupted \(m)")
            }
        }
        XCTAssertGreaterThan(complete, 2000, "items with a name, uid and resourceVersion scanned")
    }

    /// Keys told apart as the decoded tree's mappings tell them (UTF-8 length, then canonical equivalence): a
    /// Kelvin sign is not K, reordered combining marks of the same length are the same key.
    func testKeysComparedAsMappings() throws {
        let texts = ["{\"items\":[{\"metadata\":{\"\u{212A}ind\":\"kelvin\",\"Kind\":\"k\"}}]}",
                     "{\"items\":[{\"metadata\":{\"Kind\":\"k\",\"\u{212A}ind\":\"kelvin\"}}]}",
                     "{\"items\":[{\"metadata\":{\"a\u{301}\u{316}\":\"one\",\"a\u{316}\u{301}\":\"two\"}}]}",
                     "{\"items\":[{\"metadata\":{\"e\u{301}\":\"decomposed\",\"\u{e9}\":\"composed\"}}]}"]
        for text in texts {
            let fields = ["Kind", "a\u{301}\u{316}", "\u{e9}", "e\u{301}"]
            let doc = try JSON.decode(text)
            let scan = try XCTUnwrap(JSON.scanList(bytes: Array(text.utf8), fields: fields, omitting: nil))
            XCTAssertEqual(scan.items.first?.fields, fields.map { doc["items"]?[0]?["metadata"]?[$0]?.string }, text)
        }
    }

    func testDepthLimitAsDecode() {
        // about TreeBuilder.maxDepth (1,000)
        for depth in [994, 996, 997, 998, 999, 1001] {
            let deep = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
            for text in ["{\"items\":[{\"metadata\":{\"name\":\(deep)}}]}", "{\"items\":[{\"metadata\":\(deep)}]}", "{\"items\":[\(deep)]}", "{\"items\":\(deep)}"] {
                compare(Array(text.utf8), "depth \(depth): \(text.prefix(40))")
            }
        }
    }
}
