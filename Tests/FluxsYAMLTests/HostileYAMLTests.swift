import Foundation
import XCTest
@testable import FluxsYAML

/// YAML written to exhaust memory, time or the stack fails with the file and line (docs/security.md).
final class HostileYAMLTests: XCTestCase {
    func error(_ bytes: [UInt8], file: String = "m.yaml") -> YAMLError? {
        do { _ = try YAML.parseAll(bytes: bytes, file: file); return nil } catch let e as YAMLError { return e } catch {
            XCTFail("\(error)")
            return nil
        }
    }

    /// The billion laughs: 10 levels of 10 aliases each (10^10 nodes expanded) fail at once, at the alias that
    /// tips the balance.
    func testAliasBombFailsAtTheAlias() throws {
        var text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\nx:\n  a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        for i in 1..<10 { text += "  a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]\n" }
        let e = try XCTUnwrap(error(Array(text.utf8)))
        XCTAssertEqual(e.message, "document contains excessive aliasing")
        XCTAssertEqual(e.file, "m.yaml")
        XCTAssertEqual(e.line, 9, "\(e)")
        XCTAssertEqual(e.description, "m.yaml:9:\(e.column): document contains excessive aliasing")
    }

    /// go-yaml's rule at its boundary, against kubectl (sigs.k8s.io/yaml) on seeded documents: an anchored
    /// value of n nodes used m times, among some plain nodes.
    func testAliasBudgetAgreesWithKubectl() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/kubectl") else { throw XCTSkip("kubectl is not installed") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fluxs-alias-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var rng = SystemRandomNumberGenerator()
        var seed = UInt64.random(in: 1...UInt64.max, using: &rng)
        print("alias budget seed \(seed)")
        func next(_ n: Int) -> Int {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Int((seed >> 33) % UInt64(n))
        }
        func document(width: Int, plain: Int, uses: Int) -> String {
            var text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\nanchor: &a [" +
                (0..<width).map { "v\($0)" }.joined(separator: ", ") + "]\nplain:\n"
            for p in 0..<plain { text += "  p\(p): x\n" }
            return text + "uses:\n" + String(repeating: "- *a\n", count: uses)
        }
        func fluxsRefuses(_ text: String) -> Bool { error(Array(text.utf8))?.message == "document contains excessive aliasing" }
        func kubectlRefuses(_ text: String, _ name: String) throws -> Bool {
            let file = dir.appendingPathComponent(name)
            try text.write(to: file, atomically: true, encoding: .utf8)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/kubectl")
            p.arguments = ["create", "--dry-run=client", "--validate=false", "-o", "name", "-f", file.path,
                           "--server=http://127.0.0.1:9", "--request-timeout=1s"]
            let err = Pipe()
            p.standardError = err
            p.standardOutput = Pipe()
            try p.run()
            let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            return stderr.contains("excessive aliasing")
        }
        var edges: [String] = []
        for i in 0..<4 {
            // Small documents (the 99% rule) and one past 400,000 decodes (the sliding rule).
            let width = i == 3 ? 3000 + next(1000) : 200 + next(800), plain = i == 3 ? 4000 + next(2000) : next(400)
            // The fewest uses fluxs refuses, then kubectl must refuse that many and accept one fewer.
            var lo = 1, hi = 4096
            while lo < hi {
                let mid = (lo + hi) / 2
                if fluxsRefuses(document(width: width, plain: plain, uses: mid)) { hi = mid } else { lo = mid + 1 }
            }
            XCTAssertTrue(fluxsRefuses(document(width: width, plain: plain, uses: lo)))
            XCTAssertTrue(try kubectlRefuses(document(width: width, plain: plain, uses: lo), "c\(i)a.yaml"), "\(width) items used \(lo) times, \(plain) plain keys")
            XCTAssertFalse(try kubectlRefuses(document(width: width, plain: plain, uses: lo - 1), "c\(i)b.yaml"), "\(width) items used \(lo - 1) times, \(plain) plain keys")
            if i == 3 { XCTAssertGreaterThan(width * lo, 400_000, "past go-yaml's 400,000 decodes") }
            edges.append("\(width)x\(lo)")
        }
        print("alias budget: kubectl refuses exactly where fluxs starts to (anchor items x uses: \(edges.joined(separator: ", ")))")
    }

    /// 10,000 levels of block mappings (50 MB at one space a level) fail at level 1,001 without reading on;
    /// 1,000 levels parse and print.
    func testNestingDepthIsLimited() throws {
        var deep = [UInt8](repeating: UInt8(ascii: " "), count: 10_000 * 9_999 / 2 + 3 * 10_000)
        var at = 0
        for i in 0..<10_000 {
            at += i
            deep[at] = UInt8(ascii: "k"); deep[at + 1] = UInt8(ascii: ":"); deep[at + 2] = 10
            at += 3
        }
        let started = Date()
        let e = try XCTUnwrap(error(deep))
        print("nesting: 10,000 levels (\(deep.count >> 20) MiB) refused in \(Int(Date().timeIntervalSince(started) * 1000)) ms")
        XCTAssertEqual(e.message, "exceeded max depth of 1000")
        XCTAssertEqual(e.line, 1001, "\(e)")
        // Flow style: 10,000 levels in 40 KB.
        let flow = try XCTUnwrap(error(Array(("x: " + String(repeating: "{a: ", count: 10_000) + "v" + String(repeating: "}", count: 10_000)).utf8)))
        XCTAssertEqual(flow.message, "exceeded max depth of 1000")
        // Aliases count with what they expand to.
        var viaAlias = "a: &a " + String(repeating: "[", count: 600) + "v" + String(repeating: "]", count: 600) + "\nb: "
        viaAlias += String(repeating: "[", count: 500) + "*a" + String(repeating: "]", count: 500) + "\n"
        XCTAssertEqual(error(Array(viaAlias.utf8))?.message, "exceeded max depth of 1000")
        // At the limit: parsed and emitted, as block YAML and as JSON.
        let ok = "x: " + String(repeating: "{a: ", count: 999) + "v" + String(repeating: "}", count: 999) + "\n"
        let node = try YAML.parse(ok)
        let emitted = try YAMLEmitter().emit(node)
        XCTAssertEqual(try YAML.parse(emitted), node)
        XCTAssertEqual(try JSON.decode(try JSON.encode(node)), node)
    }

    /// JSON (API answers, JSON manifests) has the same depth limit: 2,000 levels overflowed the stack.
    func testJSONDepthIsLimited() throws {
        let ok = String(repeating: "[", count: 1000) + String(repeating: "]", count: 1000)
        let node = try JSON.decode(ok)
        XCTAssertEqual(try JSON.encode(node), ok)
        _ = try YAMLEmitter().emit(node)
        for n in [1001, 100_000] {
            XCTAssertThrowsError(try JSON.decode(String(repeating: "[", count: n) + String(repeating: "]", count: n))) {
                XCTAssertTrue("\($0)".contains("exceeded max depth of 1000"), "\($0)")
            }
        }
    }

    /// Invalid UTF-8 is an error, as kubectl's: libyaml's (go-yaml's) words, with the line.
    func testInvalidUTF8IsAnError() throws {
        let trailing = try XCTUnwrap(error(Array("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: \"caf".utf8) + [0xE9] + Array("\"\n".utf8)))
        XCTAssertEqual(trailing.message, "invalid trailing UTF-8 octet")
        XCTAssertEqual(trailing.line, 6)
        let leading = try XCTUnwrap(error(Array("a: b\nc: ".utf8) + [0xFF] + Array("\n".utf8)))
        XCTAssertEqual(leading.message, "invalid leading UTF-8 octet")
        XCTAssertEqual(leading.line, 2)
        XCTAssertEqual(leading.description, "m.yaml:2:4: invalid leading UTF-8 octet")
        XCTAssertThrowsError(try YAML.parseDocuments(bytes: [0x61, 0x3A, 0x20, 0xC3]))
        XCTAssertThrowsError(try YAML.parseLenient(bytes: [0x61, 0x3A, 0x20, 0xC3]))
    }
}

