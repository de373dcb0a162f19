import Foundation
import FluxsTestSupport
import XCTest

/// `fluxs uninstall` against the API simulator. It removes the Flux CRDs cluster-wide, so the test puts them back.
final class UninstallTests: XCTestCase {
    override func tearDownWithError() throws {
        _ = try? TestEnv.fluxs(["install", "--components-extra=image-reflector-controller,image-automation-controller"])
    }

    func testUninstallRemovesFinalizersCRDsAndTheNamespace() throws {
        _ = try TestEnv.require("FLUXS_TEST_KUBECONFIG")
        let ns = "un-\(UUID().uuidString.prefix(6).lowercased())"
        XCTAssertEqual(try TestEnv.fluxs(["install", "-n", ns]).status, 0)
        let repo = """
        apiVersion: source.toolkit.fluxcd.io/v1
        kind: GitRepository
        metadata: {name: app, namespace: \(ns), finalizers: [finalizers.fluxcd.io]}
        spec: {interval: 1m, url: "https://example.com/app.git"}
        """
        XCTAssertEqual(try TestEnv.run("kubectl", ["apply", "-f", "-"], stdin: repo).status, 0)
        let noTTY = try TestEnv.fluxs(["uninstall", "-n", ns])
        XCTAssertEqual(noTTY.status, 1)
        XCTAssertTrue(noTTY.stderr.contains("pass --silent"), noTTY.stderr)
        let dry = try TestEnv.fluxs(["uninstall", "-n", ns, "--dry-run"])
        XCTAssertEqual(dry.status, 0, dry.stderr)
        XCTAssertTrue(dry.stderr.contains("✔ GitRepository/\(ns)/app finalizers deleted (dry run)\n"), dry.stderr)
        XCTAssertTrue(dry.stderr.contains("✔ CustomResourceDefinition/gitrepositories.source.toolkit.fluxcd.io deleted (dry run)\n"), dry.stderr)
        XCTAssertEqual(try TestEnv.run("kubectl", ["get", "crd", "gitrepositories.source.toolkit.fluxcd.io"]).status, 0)
        let r = try TestEnv.fluxs(["uninstall", "-n", ns, "--silent"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("► deleting components in \(ns) namespace\n► deleting toolkit.fluxcd.io finalizers in all namespaces\n"), r.stderr)
        XCTAssertTrue(r.stderr.contains("✔ GitRepository/\(ns)/app finalizers deleted \n"), r.stderr)   // flux's trailing space
        XCTAssertTrue(r.stderr.contains("✔ Namespace/\(ns) deleted \n") && r.stderr.hasSuffix("✔ uninstall finished\n"), r.stderr)
        XCTAssertNotEqual(try TestEnv.run("kubectl", ["get", "crd", "gitrepositories.source.toolkit.fluxcd.io"]).status, 0)
    }
}
