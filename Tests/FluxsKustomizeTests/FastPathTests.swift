import Foundation
@testable import FluxsKustomize
import FluxsTestSupport
import XCTest

/// The build's fast paths (docs/kustomize.md "Cost") give what the general code gives: each is checked against
/// the general one on inputs on both sides of its edges, and the image matcher against kubectl on a tree.
final class KustomizeFastPathTests: XCTestCase {
    let oracle = KustomizeOracle(prefix: "fluxs-kz-fast") { try Kustomizer().render($0) }

    static let imageNames = ["nginx", "docker.io/nginx", "nginx:1.25", "a.c", "my-registry:5000/team/app", "app@sha256:abc",
                             "", ".", "x_y-z", "busybox:1.36"]
    static let images = ["nginx", "nginx:1.25", "nginx:", "nginx:1.25@sha256:deadbeef", "nginx@sha256:x", "nginx@sha25:x",
                         "nginx:1.2:3", "nginx:a+b", "nginxx", "ngin", "docker.io/nginx:1", "dockerXio/nginx", "a.c", "abc:{x}",
                         "my-registry:5000/team/app:v1", "app@sha256:abc", "app@sha256:abc@sha256:d", ":1", "@sha256:", "",
                         "x_y-z:1.0_rc-1", "busybox:1.36", "busybox:1.36:2", "nginx:1.25\n", "nginx:1 2", "nginx:é", "ngïnx"]

    /// The literal matcher (names of plain characters, printable ASCII images) agrees with the regular expression.
    func testLiteralImageMatchIsTheRegexMatch() throws {
        for name in Self.imageNames {
            let literal = try XCTUnwrap(Transformers.literalImageName(name), name)
            let regex = try XCTUnwrap(Transformers.imagePattern(name), name)
            for image in Self.images {
                let expected = image.firstMatch(of: regex) != nil
                if let got = Transformers.matchesLiteral(literal, image) {
                    XCTAssertEqual(got, expected, "name \(name) image \(image)")
                } else {
                    XCTAssertTrue(image.utf8.contains { $0 < 0x21 || $0 > 0x7E }, "\(image) left to the regex")
                }
            }
        }
        for name in ["a|b", "ng(inx)?", "nginx*", "[a]", "a b", "é", "a\\.b", "^a", "a$", "a+"] {
            XCTAssertNil(Transformers.literalImageName(name), name)
        }
    }

    /// image.Split on bytes (ASCII) is the Character split.
    func testSplitImageOnBytes() {
        for image in Self.images + ["/a:b", "a/b:c@d", "a@b:c", "reg:5000/x", "reg:5000/x:1@sha256:2", "x/y/z", "@", ":"] {
            let chars = Array(image)
            var from = 0
            if let slash = chars.firstIndex(of: "/"), slash > 0 { from = slash }
            let id = chars[from...].firstIndex(of: "@"), ic = chars[from...].firstIndex(of: ":")
            let expected: (String, String, String)
            if let d = id, ic == nil || d < ic! {
                expected = (String(chars[..<d]), "", String(chars[(d + 1)...]))
            } else if let d = id, let c = ic {
                expected = (String(chars[..<c]), String(chars[(c + 1)..<d]), String(chars[(d + 1)...]))
            } else if let c = ic {
                expected = (String(chars[..<c]), String(chars[(c + 1)...]), "")
            } else {
                expected = (image, "", "")
            }
            let got = Transformers.splitImage(image)
            XCTAssertTrue(got.name == expected.0 && got.tag == expected.1 && got.digest == expected.2, "\(image): \(got) vs \(expected)")
        }
    }

    /// Names with a `.` (any character to the regex) and tags with the expression's other characters, as kubectl.
    func testImageNamesWithDotsAsKubectl() throws {
        let out = try oracle.build([
            "d.yaml": """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: d}
            spec:
              template:
                spec:
                  containers:
                  - {name: a, image: "docker.io/nginx:1.0"}
                  - {name: b, image: "dockerXio/nginx:{v}"}
                  - {name: c, image: "docker.io/nginx:1.0@sha256:abc"}
                  - {name: d, image: "docker.io/nginx:1+0"}
                  initContainers:
                  - {name: e, image: "docker.io/nginx"}

            """,
            "kustomization.yaml": """
            resources: [d.yaml]
            images:
            - {name: docker.io/nginx, newTag: "2"}

            """,
        ])
        XCTAssertTrue(out.contains("image: docker.io/nginx:2\n"), out)
        XCTAssertTrue(out.contains("image: dockerXio/nginx:2\n"), out)
        XCTAssertTrue(out.contains("image: docker.io/nginx:1+0\n"), out)
    }

    /// relativePath on bytes (ASCII) is the Character split's answer.
    func testRelativePathOnBytes() {
        let paths = ["/", "/a", "/a/b", "/a/b/c", "/a//b/", "/x/y", "/a/bc", "/a/b/c/d.yaml", "a/b", "", "/é/b", "/a/é"]
        for from in paths {
            for to in paths {
                let a = from.split(separator: "/"), b = to.split(separator: "/")
                var i = 0
                while i < a.count && i < b.count && a[i] == b[i] { i += 1 }
                let expected = (Array(repeating: "..", count: a.count - i) + b[i...].map(String.init)).joined(separator: "/")
                XCTAssertEqual(relativePath(from: from, to: to), expected, "\(from) -> \(to)")
            }
        }
    }

    static func deployment(_ i: Int) -> String {
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d\(i)}\nspec:\n  template:\n    spec:\n"
            + "      containers:\n      - {name: a, image: nginx, envFrom: [{configMapRef: {name: c}}]}\n"
    }

    /// Files are parsed on all cores before the loop over `resources:`: the error is still the first entry's that
    /// fails, in the loop's order (a broken file before a later broken one, a missing file before a broken one).
    func testPrefetchKeepsTheFirstErrorInOrder() throws {
        var files: [String: String] = [:]
        for i in 0..<8 { files["r\(i).yaml"] = Self.deployment(i) }
        files["kustomization.yaml"] = "resources:\n" + (0..<8).map { "- r\($0).yaml\n" }.joined()
        files["r5.yaml"] = "apiVersion: v1\nkind: [unclosed\n"
        files["r2.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x\n"
        try oracle.refuse(files, "r2.yaml")
        files["r2.yaml"] = Self.deployment(2)
        try oracle.refuse(files, "r5.yaml")
        files["r1.yaml"] = nil
        try oracle.refuse(files, "r1.yaml")
    }

    /// The deepest document the parser accepts (1,000 levels) in files parsed and documents written off the main
    /// thread, as kubectl prints it.
    func testDeepDocumentsOnWorkerThreads() throws {
        let deep = String(repeating: "{a: ", count: 996) + "1" + String(repeating: "}", count: 996)
        var files: [String: String] = [:]
        for i in 0..<70 { files["r\(i).yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\(i)\n" + (i % 20 == 7 ? "extra: \(deep)\n" : "") }
        files["kustomization.yaml"] = "resources:\n" + (0..<70).map { "- r\($0).yaml\n" }.joined()
        let out = try oracle.build(files)
        XCTAssertEqual(out.components(separatedBy: "kind: ConfigMap").count, 71)
    }

    /// Field spec paths split on bytes (ASCII) as on Characters: seeded paths of the characters the rules turn on
    /// (`/`, a backslash, `[]`, CR LF, which is one Character), and a path with a non-ASCII byte goes to the loop.
    func testFieldSpecPathsOnBytes() {
        var rng = SeededRandom(seed: 20261203)
        let alphabet = ["a", "b", "/", "\\", "[", "]", "[]", ".", "-", "\r", "\n", "\r\n", "~1", " "]
        for _ in 0..<5000 {
            let path = (0..<Int.random(in: 0...12, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }.joined()
            XCTAssertNotNil(FieldSpec.asciiFields(path), path)
            XCTAssertEqual(FieldSpec.split(path), FieldSpec.characterSplit(path), path.debugDescription)
            XCTAssertEqual(FieldSpec.listFields(path), FieldSpec.characterListFields(path), path.debugDescription)
        }
        for path in ["metadata/annotations/é", "a\\\u{301}/b", "spec/ü[]"] {
            XCTAssertNil(FieldSpec.asciiFields(path), path)
        }
    }

    /// The cluster-scoped check that looks at the kind first is the "apiVersion kind" lookup, on every entry's
    /// parts and seeded mixtures of them with names that are not there (spaces included).
    func testClusterScopedKindFilter() {
        let entries = clusterScopedTypes.map { $0.split(separator: " ", maxSplits: 1).map(String.init) }
        let versions = entries.map { $0[0] } + ["", "v1 Namespace", "v2", "apps/v1", " v1"]
        let kinds = entries.map { $0[1] } + ["", "ConfigMap", "Namespace x", " Namespace", "namespace", "Deployment"]
        for e in entries { XCTAssertTrue(Transformers.isClusterScoped(apiVersion: e[0], kind: e[1]), "\(e)") }
        var rng = SeededRandom(seed: 13)
        for _ in 0..<5000 {
            let av = versions.randomElement(using: &rng)!, kind = kinds.randomElement(using: &rng)!
            XCTAssertEqual(Transformers.isClusterScoped(apiVersion: av, kind: kind), clusterScopedTypes.contains(av + " " + kind), "\(av) \(kind)")
        }
    }
}
