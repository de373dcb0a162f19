import Foundation
import FluxsTestSupport
import XCTest
@testable import FluxsCore

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
        let r = try TestEnv.run("kubectl", ["kustomize", dir.path])
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
}
