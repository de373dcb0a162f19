import Foundation
import FluxsTestSupport
import XCTest

/// `fluxs bootstrap git` on a repository that already holds an app: the app's Kustomization, applied by the
/// flux-system Kustomization, is reconciled by the same run (the sync engine), not left "waiting to be reconciled".
final class BootstrapSyncTests: XCTestCase {
    var ns = ""
    var storage: URL!

    override func tearDownWithError() throws {
        if let storage { try? FileManager.default.removeItem(at: storage) }
        _ = try? TestEnv.run("kubectl", ["delete", "kustomization", ns, "-n", ns, "--wait=false"])
        _ = try? TestEnv.run("kubectl", ["label", "crd", "-l", "app.kubernetes.io/part-of=flux",
                                         "kustomize.toolkit.fluxcd.io/name-", "kustomize.toolkit.fluxcd.io/namespace-"])
    }

    func testBootstrapReconcilesTheAppsItApplies() throws {
        let e = try TestEnv.require("FLUXS_TEST_KUBECONFIG", "FLUXS_TEST_GIT_ROOT", "FLUXS_TEST_SSH_URL", "FLUXS_TEST_SSH_KEY_ECDSA")
        ns = "bsync-\(UUID().uuidString.prefix(6).lowercased())"
        storage = try TestEnv.tempDir("fluxs-storage")
        let app = """
        apiVersion: kustomize.toolkit.fluxcd.io/v1
        kind: Kustomization
        metadata:
          name: app
          namespace: \(ns)
        spec:
          interval: 10m
          path: ./apps/app
          prune: true
          sourceRef:
            kind: GitRepository
            name: \(ns)

        """
        let repo = try GitFixture(root: e["FLUXS_TEST_GIT_ROOT"]!, files: [
            "clusters/dev/app.yaml": app,
            "apps/app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-config\n  namespace: \(ns)\ndata: {k: v}\n",
        ])
        let r = try TestEnv.fluxs(["bootstrap", "git", "--url=\(e["FLUXS_TEST_SSH_URL"]!)/\(repo.name).git", "--private-key-file=\(e["FLUXS_TEST_SSH_KEY_ECDSA"]!)",
                                   "--path=clusters/dev", "--silent", "-n", ns], env: ["FLUXS_STORAGE_PATH": storage.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("✔ Kustomization reconciled successfully\n► reconciling the 1 Flux object applied by Kustomization \"\(ns)/\(ns)\"\n"), r.stderr)
        XCTAssertTrue(r.stderr.hasSuffix("✔ 1 object reconciled\n"), r.stderr)
        let ready = try TestEnv.run("kubectl", ["get", "kustomization", "app", "-n", ns, "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}"])
        XCTAssertEqual(ready.stdout, "True")
        XCTAssertEqual(try TestEnv.run("kubectl", ["get", "configmap", "app-config", "-n", ns, "-o", "jsonpath={.data.k}"]).stdout, "v")
    }
}
