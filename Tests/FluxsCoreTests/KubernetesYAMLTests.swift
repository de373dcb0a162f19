import Foundation
import FluxsTestSupport
import XCTest
@testable import FluxsCore
import FluxsYAML

/// The "is this file Kubernetes YAML" rule of generated kustomizations against its oracle: kustomize itself
/// (`kubectl kustomize`, whose resource loader applies the same SliceFromBytes), on seeded generated files.
final class KubernetesYAMLTests: XCTestCase {
    /// A small deterministic generator (64-bit LCG), so a failure names a reproducible case.
    struct Generator {
        var state: UInt64
        mutating func next(_ n: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(n))
        }
        mutating func pick<T>(_ a: [T]) -> T { a[next(a.count)] }
    }

    static let documents = [
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c%d\ndata: {k: v}\n",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: n%d\n  labels: {a: b}\n",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s%d\n  annotations: {x: \"1\"}\n",
        "metadata:\n  name: nokind%d\ndata: {}\n",
        "apiVersion: v1\nkind: ConfigMap\ndata: {a: b}\n",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  namespace: ns%d\n",
        "foo: bar\n",
        "just a scalar\n",
        "- a\n- b\n",
        "{}\n",
        "# only a comment\n",
        "",
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: li%d}\n",
        "apiVersion: v1\nkind: List\nitems: null\n",
        "apiVersion: v1\nkind: ConfigMapList\nitems: oops\n",
        "apiVersion: v1\nkind: ConfigMapList\nitems: {a: b}\n",
        "apiVersion: v1\nkind: FooList\n",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad%d\ndata: [a, b\n",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels: a: b\n",
        "a: b\n  c: d\n",
        "apiVersion: v1\nkind: \"ConfigMap\nmetadata: {}\n",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: tab%d}\ndata:\n\tk: v\n",
        "kind: ConfigMap\nmetadata:\n  name: [x%d\n",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: 'q%d'}\ndata: {k: *nope}\n",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \"\"\n",
        "kind: \"\"\nmetadata: {name: e%d}\n",
    ]
    static let separators = ["---\n", "--- # next\n", "---\n\n", "--- nope\n"]

    static func file(_ g: inout Generator, _ i: Int) -> String {
        var out = ""
        for d in 0..<(1 + g.next(3)) {
            if d > 0 { out += g.pick(separators) }
            out += g.pick(documents).replacingOccurrences(of: "%d", with: "\(i)x\(d)")
        }
        return out
    }

    /// kustomize's reason for refusing b.yaml, from its error line, or nil when it built.
    func kustomizeCause(_ text: String, dir: URL) throws -> String? {
        try TestEnv.write(text, to: dir.appendingPathComponent("b.yaml"))
        let r = try TestEnv.kustomize([dir.path])
        if r.status == 0 { return nil }
        var s = r.stderr
        for start in ["accumulating resources from 'b.yaml': "] {
            guard let range = s.range(of: start) else { continue }
            s = String(s[range.upperBound...])
        }
        for end in ["': must build at directory", " in File: b.yaml", "\"\n"] {
            if let range = s.range(of: end) { s = String(s[..<range.lowerBound]) }
        }
        return s.replacingOccurrences(of: "\\\"", with: "\"")
    }

    func testGeneratedFilesAgainstKustomize() throws {
        guard (try? TestEnv.run("kubectl", ["version", "--client"]))?.status == 0 else { throw XCTSkip("kubectl is not installed") }
        let dir = try TestEnv.tempDir("fluxs-kyaml")
        defer { try? FileManager.default.removeItem(at: dir) }
        try TestEnv.write("resources: [b.yaml]\n", to: dir.appendingPathComponent("kustomization.yaml"))
        var g = Generator(state: 21)
        var accepted = 0, refused = 0
        for i in 0..<44 {
            let text = Self.file(&g, i)
            let expected = try kustomizeCause(text, dir: dir)
            var ours: String?
            do { _ = try KubernetesYAML.decode(Array(text.utf8)) } catch { ours = "\(error)" }
            // kustomize builds an empty object list too, which a file of comments gives.
            XCTAssertEqual(ours, expected, "case \(i):\n\(text)")
            if expected == nil { accepted += 1 } else { refused += 1 }
        }
        XCTAssertGreaterThan(accepted, 10)
        XCTAssertGreaterThan(refused, 10)
    }

    func testListsStandForTheirItems() throws {
        let docs = try KubernetesYAML.decode(Array("apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}\n".utf8))
        XCTAssertEqual(docs.compactMap { $0["metadata"]?["name"]?.string }, ["a", "b"])
        XCTAssertThrowsError(try KubernetesYAML.decode([0xff, 0xfe, 0x41]))
    }

    /// One parse serves the Kubernetes YAML test and the kustomize engine (decodeSharing): wherever it does, its
    /// objects are those of kyaml's part-by-part reading (or the same error) and its documents those the engine
    /// would read (YAML.parseDocuments); files whose separators, line breaks or markers could make the two readings
    /// differ are read part by part.
    func testOneParseAgreesWithReadingPartByPart() throws {
        let tricky = ["---#c\n", "--- # c\n", "---\t\n", "---  \n", "...\n---\n", "%YAML 1.1\n---\n", "---\r\n", "\r\n---\r\n",
                      "---\n\u{FEFF}", "---\n\u{2028}", "--- a: 1\n", "----\n", "---\n---\n", "\n---"]
        let endings = ["", "---", "--- x: y", "--- # end", "---\n", "\n", "a: |\n  x\n---", "# é\n"]
        var g = Generator(state: 7)
        var shared = 0, byParts = 0
        func render(_ r: Result<[Node], Error>) -> String {
            switch r {
            case .success(let docs): return (try? YAMLEmitter(sortKeys: false).emit(documents: docs)) ?? "unprintable"
            case .failure(let e): return "error: \(e)"
            }
        }
        for i in 0..<1500 {
            var text = g.next(4) == 0 ? "---\n" : ""
            for d in 0..<(1 + g.next(4)) {
                if d > 0 { text += g.next(5) == 0 ? g.pick(tricky) : g.pick(Self.separators) }
                text += g.pick(Self.documents).replacingOccurrences(of: "%d", with: "\(i)x\(d)")
            }
            if g.next(3) == 0 { text += g.pick(endings) }
            let bytes = Array(text.utf8)
            let expected = Result { try KubernetesYAML.decodeByParts(bytes) }
            let sharing = Result { try KubernetesYAML.decodeSharing(bytes) }
            XCTAssertEqual(render(sharing.map(\.objects)), render(expected), "case \(i):\n\(text)")
            if case .success(let s) = sharing, let docs = s.documents {
                shared += 1
                let engine = Result { try YAML.parseDocuments(bytes: bytes) }
                XCTAssertEqual(render(.success(docs)), render(engine), "case \(i):\n\(text)")
                XCTAssertEqual(try engine.get(), docs, "case \(i):\n\(text)")
            } else {
                byParts += 1
            }
        }
        // Both paths are taken often (the part-by-part one for tricky separators and endings, and for documents
        // that do not parse).
        XCTAssertGreaterThan(shared, 120, "\(shared) files parsed whole, \(byParts) part by part")
        XCTAssertGreaterThan(byParts, 120, "\(shared) files parsed whole, \(byParts) part by part")
        // The common file is parsed once.
        let plain = Array("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n".utf8)
        XCTAssertEqual(try KubernetesYAML.decodeSharing(plain).documents?.count, 2)
    }
}
