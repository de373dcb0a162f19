import Foundation
import FluxsTestSupport
import XCTest

/// `fluxs diff kustomization` against flux's own goldens: objects pre-applied in the API simulator, server-side dry runs.
final class DiffTests: XCTestCase {
    var dir: URL { GoldenTests.testdata }

    func text(_ path: String) throws -> String {
        guard let s = try? String(contentsOf: dir.appendingPathComponent(path), encoding: .utf8) else {
            throw XCTSkip("../shared/reference/flux-testdata is not present")
        }
        return s.replacingOccurrences(of: "{{ .fluxns }}", with: "flux-system")
    }

    func kubectl(_ args: [String], stdin: String? = nil) throws {
        XCTAssertEqual(try TestEnv.run("kubectl", args, stdin: stdin).status, 0, "kubectl \(args)")
    }

    func testDiffsAsFluxDoes() throws {
        _ = try TestEnv.require("FLUXS_TEST_KUBECONFIG")
        XCTAssertEqual(try TestEnv.fluxs(["install"]).status, 0)
        let ks = try TestEnv.tempDir("fluxs-diff").appendingPathComponent("ks.yaml")
        try TestEnv.write(try text("diff-kustomization/flux-kustomization-multiobj.yaml"), to: ks)
        let args = ["diff", "kustomization", "podinfo", "--path", "build-kustomization/podinfo", "--progress-bar=false", "--kustomization-file", ks.path]
        let cases: [(String?, String)] = [
            (nil, "diff-kustomization/diff-new-kustomization.golden"),
            ("diff-kustomization/deployment.yaml", "diff-kustomization/diff-with-deployment.golden"),
            ("diff-kustomization/service.yaml", "diff-kustomization/diff-with-drifted-service.golden"),
            ("diff-kustomization/secret.yaml", "diff-kustomization/diff-with-drifted-secret.golden"),
        ]
        for (object, golden) in cases {
            if let object { try kubectl(["apply", "--server-side", "--field-manager=flux", "-f", "-"], stdin: try text(object)) }
            let r = try TestEnv.fluxs(args, cwd: dir)
            XCTAssertEqual(r.status, 1, golden)
            XCTAssertEqual(r.stdout, try text(golden), golden)
            XCTAssertEqual(r.stderr, "⚠️ identified at least one change, exiting with non-zero exit code\n", golden)
            if let object { try kubectl(["delete", "-f", "-"], stdin: try text(object)) }
        }
        let bad = try TestEnv.fluxs(["diff", "kustomization", "podinfo"], cwd: dir)
        XCTAssertEqual(bad.status, 2)
        XCTAssertEqual(bad.stderr, "✗ invalid resource path \"\"\n")
    }
}
