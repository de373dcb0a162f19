import FluxsYAML
import FluxsTestSupport
import XCTest

/// JSON.decode(bytes:omitting:) against the plain decoder on seeded generated documents: the same tree less every
/// member of that name, and on corrupted bytes the same error (a skipped value is checked as strictly).
final class JSONOmitTests: XCTestCase {
    static let keys = ["managedFields", "metadata", "name", "f:data", "a\u{e9}", "manager", "x\"y", "fieldsV1", "managedField"]
    static let strings = ["", "plain", "tab\there", "quote\"and\\slash", "\u{1F600} emoji", "line\nbreak", "<&>", "\u{0}nul"]

    /// A generated JSON value: mappings use `keys` (no key twice), strings `strings`.
    static func value(_ rng: inout SeededRandom, depth: Int, keys: [String] = JSONOmitTests.keys, strings: [String] = JSONOmitTests.strings) -> Node {
        switch Int.random(in: 0..<(depth > 4 ? 5 : 8), using: &rng) {
        case 0: return .string(strings.randomElement(using: &rng)!)
        case 1: return .int(Int.random(in: -1_000_000...1_000_000, using: &rng))
        case 2: return .float(Double(Int.random(in: -1000...1000, using: &rng)) / 8)
        case 3: return .bool(Bool.random(using: &rng))
        case 4: return .null
        case 5, 6:
            var pairs: [(String, Node)] = []
            for _ in 0..<Int.random(in: 0...4, using: &rng) {
                let k = keys.randomElement(using: &rng)!
                if !pairs.contains(where: { $0.0 == k }) { pairs.append((k, value(&rng, depth: depth + 1, keys: keys, strings: strings))) }
            }
            return .map(pairs)
        default:
            return .sequence((0..<Int.random(in: 0...3, using: &rng)).map { _ in value(&rng, depth: depth + 1, keys: keys, strings: strings) })
        }
    }

    func without(_ n: Node, _ key: String) -> Node {
        switch n {
        case .mapping(let m):
            return .map(zip(m.keys, m.values).filter { $0.0 != key }.map { ($0.0, without($0.1, key)) })
        case .sequence(let a): return .sequence(a.map { without($0, key) })
        default: return n
        }
    }

    enum Outcome { case success(Node), failure(String) }

    func outcome(_ f: () throws -> Node) -> Outcome {
        do { return .success(try f()) } catch { return .failure("\(error)") }
    }

    func testSameTreeLessTheMemberAndSameErrors() throws {
        var rng = SeededRandom(seed: 20261203)
        var corrupted = 0, failed = 0
        for n in 0..<3000 {
            let doc = Self.value(&rng, depth: 0)
            var bytes = try JSON.encodeBytes(doc, options: .init(indent: n % 3 == 0 ? "  " : ""))
            XCTAssertEqual(try JSON.decode(bytes: bytes, omitting: "managedFields"), without(try JSON.decode(bytes: bytes), "managedFields"), "case \(n)")
            // one byte changed, dropped or the text cut short: both decoders agree
            if !bytes.isEmpty {
                let at = Int.random(in: 0..<bytes.count, using: &rng)
                switch n % 3 {
                case 0: bytes[at] = [UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "}"), UInt8(ascii: ","), 0x01, UInt8(ascii: "u"), UInt8(ascii: "-")].randomElement(using: &rng)!
                case 1: bytes.remove(at: at)
                default: bytes = Array(bytes.prefix(at))
                }
                corrupted += 1
                let plain = outcome { try JSON.decode(bytes: bytes) }
                let omitting = outcome { try JSON.decode(bytes: bytes, omitting: "managedFields") }
                switch (plain, omitting) {
                case (.success(let a), .success(let b)): XCTAssertEqual(b, without(a, "managedFields"), "case \(n)")
                case (.failure(let a), .failure(let b)): XCTAssertEqual(a, b, "case \(n)"); failed += 1
                default: XCTFail("case \(n): \(plain) vs \(omitting)")
                }
            }
        }
        XCTAssertGreaterThan(failed, corrupted / 3, "the corruptions should mostly break the documents")
    }

    func testAMetadataListItemKeepsWhatIsRead() throws {
        let page = #"{"kind":"PartialObjectMetadataList","items":[{"metadata":{"name":"a","uid":"u","resourceVersion":"7","labels":{"k":"v"},"managedFields":[{"manager":"m","fieldsV1":{"f:data":{".":{}}}}]}}]}"#
        let d = try JSON.decode(bytes: Array(page.utf8), omitting: "managedFields")
        let meta = try XCTUnwrap(d["items"]?.array?.first?["metadata"])
        XCTAssertEqual(meta["uid"]?.string, "u")
        XCTAssertEqual(meta["resourceVersion"]?.string, "7")
        XCTAssertEqual(meta["labels"]?["k"]?.string, "v")
        XCTAssertNil(meta["managedFields"])
        XCTAssertThrowsError(try JSON.decode(bytes: Array(page.replacingOccurrences(of: #"{".":{}}"#, with: #"{".":{}"#).utf8), omitting: "managedFields"))
    }
}
