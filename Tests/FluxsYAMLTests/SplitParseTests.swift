import FluxsTestSupport
import XCTest
@testable import FluxsYAML

/// YAML.parseAll parses a large stream a run of documents a thread (documentRuns); checked against one parser for
/// the whole stream on generated streams built to make a split go wrong: markers inside quoted scalars, block
/// scalars and flow collections, `...` ends, directives, comments, CRLF, a byte-order mark, NUL bytes, aliases to
/// another document's anchor, empty documents, and lines that only look like markers. The documents must be equal,
/// or both parses fail with the same error (file, line, column and message).
final class SplitParseTests: XCTestCase {
    typealias Gen = SeededRandom

    /// A document; `hostile` picks one that fails (a marker inside a scalar or a flow collection, an alias to
    /// another document's anchor).
    static func document(_ g: inout Gen, _ k: Int, hostile: Bool = false) -> String {
        var d = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-\(k)\n"
        let safe = [0, 1, 5, 7, 8, 9, 10, 11, 12, 13], bad = [2, 3, 4, 6]
        switch hostile ? bad[g.next(bad.count)] : safe[g.next(safe.count)] {
        case 0: d += "data:\n  script: |\n    echo a\n    --- not a marker, indented\n    b\n"
        case 1: d += "data:\n  text: >\n    folded\n    text\n"
        case 2: d += "data:\n  q: \"a quoted\n---\nline\"\n"                 // a marker inside a double-quoted scalar
        case 3: d += "data:\n  q: 'single\n--- \nquoted'\n"                  // inside a single-quoted one
        case 4: d += "list: [a,\n---\n b]\n"                                  // inside a flow sequence
        case 5: d += "anchor: &x{0}\n  v: 1\nuse: *x{0}\n".replacingOccurrences(of: "{0}", with: String(k))
        case 6: d += "use: *x\(max(0, k - 1))\n"                              // an alias to another document's anchor
        case 7: d += "# a comment\n---x: not a marker\n----: neither\n"
        case 8: d += "data:\n  plain: a plain\n    multi-line scalar\n"
        case 9: d += "...\n"                                                  // an explicit end
        case 10: d += "labels: {a: b,\n  c: d}\n"
        case 11: d += "data:\n  k: \"\\u00e9 \\t tab\"\n  n: 12\n  b: true\n  f: 1.5\n  z: ~\n"
        case 12: d += "data:\n  x: v\n\r\n"
        default: d += "data:\n  key-\(k): value-\(k)\n"
        }
        return d
    }

    static func stream(_ g: inout Gen, size: Int) -> [UInt8] {
        var s = g.next(3) == 0 ? "---\n" : ""
        var k = 0
        // at most one failing document, somewhere
        let hostileAt = g.next(2) == 0 ? g.next(max(1, size / 90)) : -1
        while s.utf8.count < size {
            s += document(&g, k, hostile: k == hostileAt)
            k += 1
            switch g.next(12) {
            case 0: s += "--- # a comment on the marker\n"
            case 1: s += "---\n---\n"                                         // an empty document
            case 2: s += "--- |\n  a block scalar document\n---\n"
            case 3: s += "---\t\n"
            case 4: s += "\n---\n"
            default: s += "---\n"
            }
        }
        var b = Array(s.utf8)
        switch g.next(16) {
        case 0: b = [0xEF, 0xBB, 0xBF] + b                                     // byte-order mark
        case 1: b = Array(s.replacingOccurrences(of: "\n", with: "\r\n").utf8) // CRLF
        case 2: b.insert(0, at: g.next(b.count))                               // a NUL byte
        case 3: b = Array("%YAML 1.1\n---\n".utf8) + b                         // a directive
        case 4: let at = g.next(b.count); b.insert(contentsOf: Array("\n%TAG !e! tag:example.com,2000:\n".utf8), at: at)
        case 5: b[g.next(b.count)] = 0xFF                                      // invalid UTF-8
        default: break
        }
        return b
    }

    func outcome(_ f: () throws -> [Node]) -> Result<[Node], YAMLError> {
        do { return .success(try f()) } catch let e as YAMLError { return .failure(e) } catch {
            return .failure(YAMLError(message: "unexpected \(error)"))
        }
    }

    func testSplitParseIsTheWholeParse() {
        var rng = SystemRandomNumberGenerator()
        let seed = UInt64.random(in: 1...UInt64.max, using: &rng)
        print("split parse seed \(seed)")
        var g = Gen(seed: seed)
        var split = 0, failed = 0
        for _ in 0..<120 {
            let bytes = Self.stream(&g, size: YAML.splitFrom + g.next(YAML.splitFrom))
            if YAML.documentRuns(bytes) != nil { split += 1 }
            let fast = outcome { try YAML.parseAll(bytes: bytes, file: "s.yaml") }
            let whole = outcome { try YAML.parseWhole(bytes: bytes, file: "s.yaml") }
            if case .failure = whole { failed += 1 }
            // (compared whole, reported short: a stream's documents are thousands of lines)
            XCTAssertTrue(fast == whole, "split and whole parses differ, seed \(seed)")
        }
        print("split parse: \(split) of 120 streams split, \(failed) failing")
        // the generator reaches both paths and both outcomes
        if Parallel.processors > 1 { XCTAssertGreaterThan(split, 20, "seed \(seed)") }
        XCTAssertGreaterThan(failed, 5, "seed \(seed)")
        XCTAssertLessThan(failed, 115, "seed \(seed)")
    }

    /// Where the stream is cut: at markers only, covering it in order, none when it holds a directive or a NUL.
    func testRunsStartAtMarkers() throws {
        guard Parallel.processors > 1 else { throw XCTSkip("one processor: streams are not split") }
        let doc = "a: 1\nb: |\n  x\n  --- indented\n"
        let text = String(repeating: doc + "---\n", count: YAML.splitFrom / 20) + doc
        let bytes = Array(text.utf8)
        let runs = try XCTUnwrap(YAML.documentRuns(bytes))
        XCTAssertEqual(runs.first?.lowerBound, 0)
        XCTAssertEqual(runs.last?.upperBound, bytes.count)
        for (a, b) in zip(runs, runs.dropFirst()) {
            XCTAssertEqual(a.upperBound, b.lowerBound)
            XCTAssertEqual(Array(bytes[b.lowerBound..<b.lowerBound + 4]), Array("---\n".utf8))
            XCTAssertEqual(bytes[b.lowerBound - 1], UInt8(ascii: "\n"))
        }
        XCTAssertNil(YAML.documentRuns(Array(("%YAML 1.1\n---\n" + text).utf8)))
        XCTAssertNil(YAML.documentRuns(bytes + [0]))
        XCTAssertNil(YAML.documentRuns(Array(bytes.prefix(YAML.splitFrom - 1))))
        XCTAssertEqual(try YAML.parseAll(bytes: bytes), try YAML.parseWhole(bytes: bytes, file: nil))
    }
}

extension SeededRandom {
    /// 0..<n.
    mutating func next(_ n: Int) -> Int { Int.random(in: 0..<n, using: &self) }
}
