import Foundation
import FluxsTestSupport
import XCTest

/// `fluxs check` against the API simulator, and flux's `check --pre` golden.
final class CheckTests: XCTestCase {
    func testPreChecksMatchFluxsGoldenAndTheInstallationIsChecked() throws {
        _ = try TestEnv.require("FLUXS_TEST_KUBECONFIG")
        XCTAssertEqual(try TestEnv.fluxs(["install"]).status, 0)
        let server = try TestEnv.run("kubectl", ["version", "-o", "json"]).stdout
        let git = try XCTUnwrap(((try JSONSerialization.jsonObject(with: Data(server.utf8)) as? [String: Any])?["serverVersion"] as? [String: Any])?["gitVersion"] as? String)
        let golden = GoldenTests.testdata.appendingPathComponent("check/check_pre.golden")
        guard let want = try? String(contentsOf: golden, encoding: .utf8) else { throw XCTSkip("flux-testdata is not present") }
        let pre = try TestEnv.fluxs(["check", "--pre"])
        XCTAssertEqual(pre.status, 0)
        XCTAssertEqual(pre.stderr, want.replacingOccurrences(of: "{{ .serverVersion }}", with: String(git.dropFirst())))
        let full = try TestEnv.fluxs(["check"])
        XCTAssertEqual(full.status, 0, full.stderr)
        XCTAssertTrue(full.stderr.contains("✔ gitrepositories.source.toolkit.fluxcd.io/v1\n") && full.stderr.hasSuffix("✔ all checks passed\n"), full.stderr)
        XCTAssertTrue(full.stderr.contains("✔ no controllers in the 'flux-system' namespace: fluxs reconciles on demand"), full.stderr)
    }

    func testUnreachableClusterFailsTheCheck() throws {
        let r = try TestEnv.run(TestEnv.fluxsBinary.path, ["check", "--pre", "--server=https://127.0.0.1:1", "--insecure-skip-tls-verify"],
                                removeEnv: ["KUBECONFIG"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.hasPrefix("► checking prerequisites\n✗ Kubernetes API call failed: "), r.stderr)
    }
}
