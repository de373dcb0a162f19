import Foundation
import FluxsKustomize
import FluxsTestSupport
import XCTest

/// Rules of kustomize v5.5's generators and resource loading (api/kv, api/resource/factory.go, api/types), each
/// built by fluxs and by `kubectl kustomize` (the oracle) from the same bytes.
final class GeneratorRulesTests: XCTestCase {
    let k = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"

    func tree(_ files: [String: [UInt8]]) throws -> URL {
        let d = try TestEnv.tempDir("fluxs-kzg")
        for (p, b) in files {
            let u = d.appendingPathComponent(p)
            try FileManager.default.createDirectory(at: u.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(b).write(to: u)
        }
        return d
    }

    func same(_ files: [String: [UInt8]], file: StaticString = #filePath, line: UInt = #line) throws {
        let root = try tree(files)
        defer { try? FileManager.default.removeItem(at: root) }
        let want = try TestEnv.run("kubectl", ["kustomize", root.path])
        XCTAssertEqual(want.status, 0, want.stderr, file: file, line: line)
        XCTAssertEqual(try Kustomizer().render(root.path), want.stdout, file: file, line: line)
    }

    func bothFail(_ files: [String: [UInt8]], naming: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let root = try tree(files)
        defer { try? FileManager.default.removeItem(at: root) }
        let want = try TestEnv.run("kubectl", ["kustomize", root.path])
        XCTAssertNotEqual(want.status, 0, "kubectl accepted it", file: file, line: line)
        XCTAssertThrowsError(try Kustomizer().render(root.path), file: file, line: line) { e in
            XCTAssertTrue("\(e)".contains(naming), "\(e)", file: file, line: line)
        }
    }

    func b(_ s: String) -> [UInt8] { Array(s.utf8) }

    func testEnvFileLinesAsBufioScannerSplitsThem() throws {
        // CRLF lines, a line without '=', a BOM on the first line only, leading Unicode white space, an empty key.
        try same(["kustomization.yaml": b(k + "configMapGenerator:\n- name: c\n  envs: [a.env]\n"),
                  "a.env": [0xEF, 0xBB, 0xBF] + b("A=1\r\nNOVALUE\r\n\u{0B}\u{A0}C=3  \r\n=skipped\r\n#x=1\r\nD=a=b")])
        try same(["kustomization.yaml": b(k + "secretGenerator:\n- name: s\n  env: a.env\n"), "a.env": b("A=1\r\nB=\r\n")])
    }

    func testEnvFileThatIsNotUTF8IsAnError() throws {
        try bothFail(["kustomization.yaml": b(k + "configMapGenerator:\n- name: c\n  envs: [a.env]\n"), "a.env": b("A=") + [0xFF] + b("\n")],
                     naming: "a.env")
    }

    func testLiteralAndFileSourceErrors() throws {
        for lit in ["=v", "novalue"] {
            try bothFail(["kustomization.yaml": b(k + "configMapGenerator:\n- name: c\n  literals: [\"\(lit)\"]\n")], naming: lit)
        }
        for src in ["=f.txt", "k=", "a=b=f.txt"] {
            try bothFail(["kustomization.yaml": b(k + "configMapGenerator:\n- name: c\n  files: [\"\(src)\"]\n"), "f.txt": b("x")], naming: src)
        }
        try same(["kustomization.yaml": b(k + "configMapGenerator:\n- name: c\n  literals: [\"a=\\\"x'\", \"b=\\\"\\\"\", \"c='y'\", \"d=\\\"\"]\n")])
    }

    func testSecretWithoutDataAndBinaryFiles() throws {
        try same(["kustomization.yaml": b(k + "secretGenerator:\n- name: s\nconfigMapGenerator:\n- name: c\n  files: [f.bin, t.txt]\n"),
                  "f.bin": [0xFF, 0xFE, 0, 0x61], "t.txt": b("hi\n")])
    }

    func testBehaviorsAndIds() throws {
        let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: b\n"
        // An unknown behavior acts as create; merge keeps the merged object's origin.
        try same(["kustomization.yaml": b(k + "configMapGenerator:\n- name: c\n  behavior: Merge\n  literals: [a=1]\n")])
        try same(["kustomization.yaml": b(k + "resources: [r.yaml]\nbuildMetadata: [originAnnotations]\nconfigMapGenerator:\n- name: c\n  behavior: merge\n  literals: [q=1]\n"),
                  "r.yaml": b(cm)])
        // create on an existing id, and merge of an object of another version, fail.
        try bothFail(["kustomization.yaml": b(k + "resources: [r.yaml]\nconfigMapGenerator:\n- name: c\n  literals: [q=1]\n"), "r.yaml": b(cm)],
                     naming: "behavior must be merge or replace")
        try bothFail(["kustomization.yaml": b(k + "resources: [r.yaml]\nconfigMapGenerator:\n- name: c\n  behavior: merge\n  literals: [q=1]\n"),
                      "r.yaml": b(cm.replacingOccurrences(of: "apiVersion: v1", with: "apiVersion: v2"))], naming: "does not exist")
    }

    func testListsAndEmptyDocuments() throws {
        let item = "- kind: ConfigMap\n  apiVersion: v1\n  metadata:\n    name: b\n  data: {z: \"1\", a: x}\n"
        try same(["kustomization.yaml": b(k + "resources: [r.yaml]\nsortOptions:\n  order: fifo\n"),
                  "r.yaml": b("{}\n---\napiVersion: v1\nkind: List\nitems:\n\(item)- apiVersion: v1\n  kind: List\n  items:\n  - null\n---\n---\n[]\n---\n"
                      + "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: SecretList\nmetadata:\n  name: kept\n---\n"
                      + "apiVersion: v1\nkind: List\nitems:\n")])
        try bothFail(["kustomization.yaml": b(k + "resources: [r.yaml]\n"), "r.yaml": b("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n")], naming: "metadata.name")
        try bothFail(["kustomization.yaml": b(k + "resources: [r.yaml]\n"), "r.yaml": b("just a scalar\n")], naming: "r.yaml")
    }

    func testFilesThatAreNotUTF8FailNamingTheFile() throws {
        let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"
        let bad = b(cm + "data:\n  a: \"") + [0xFF] + b("\"\n")
        try bothFail(["kustomization.yaml": b(k + "resources: [r.yaml]\n"), "r.yaml": bad], naming: "r.yaml")
        try bothFail(["kustomization.yaml": b(k + "resources: [r.yaml]\npatches:\n- path: p.yaml\n"), "r.yaml": b(cm), "p.yaml": bad], naming: "p.yaml")
        try bothFail(["kustomization.yaml": b(k + "resources: [r.yaml]\npatchesStrategicMerge: [p.yaml]\n"), "r.yaml": b(cm), "p.yaml": bad], naming: "p.yaml")
    }

    func testKustomizationFileRules() throws {
        try bothFail(["kustomization.yaml": b(k)], naming: "is empty")
        try bothFail(["kustomization.yaml": b(k + "foo: bar\nnamePrefix: x-\n")], naming: "unknown field \"foo\"")
        try bothFail(["kustomization.yaml": b("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Foo\nnamePrefix: x\n")], naming: "kind should be")
        try bothFail(["kustomization.yaml": b("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Component\nnamePrefix: x\n")], naming: "apiVersion for Component")
        // imageTags (deprecated) join images.
        try same(["kustomization.yaml": b(k + "resources: [p.yaml]\nimageTags:\n- name: nginx\n  newTag: \"1.2\"\n"),
                  "p.yaml": b("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: a\n    image: nginx\n")])
    }
}
