import Foundation
import FluxsTestSupport
import XCTest

/// examples/ stays buildable: the commands its README shows work and print what they say.
final class ExampleTests: XCTestCase {
    func testPodinfoExample() throws {
        let root = TestEnv.packageRoot
        let app = "examples/podinfo/apps/podinfo"
        let ours = try TestEnv.fluxs(["kustomize", "build", app], cwd: root)
        XCTAssertEqual(ours.status, 0, ours.stderr)
        let kubectl = try TestEnv.run("kubectl", ["kustomize", app], cwd: root)
        XCTAssertEqual(ours.stdout, kubectl.stdout)
        let flux = try TestEnv.fluxs(["build", "kustomization", "podinfo", "--path", app, "--kustomization-file",
                                      "examples/podinfo/clusters/local/podinfo.yaml", "--dry-run"], cwd: root)
        XCTAssertEqual(flux.status, 0, flux.stderr)
        XCTAssertTrue(flux.stdout.contains("PODINFO_UI_MESSAGE: hello from the example\n"), flux.stdout)
        XCTAssertTrue(flux.stdout.contains("  namespace: default\n"), flux.stdout)
        XCTAssertTrue(flux.stdout.contains("kustomize.toolkit.fluxcd.io/name: podinfo\n"), flux.stdout)
    }
}
