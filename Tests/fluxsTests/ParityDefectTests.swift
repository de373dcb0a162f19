import Foundation
import FluxsTestSupport
import XCTest

/// The defects of issue 12 in commands that were available: each test failed before its fix.
final class ParityDefectTests: XCTestCase {
    func kubectl(_ args: [String], stdin: String? = nil) throws -> TestEnv.Run {
        let r = try TestEnv.run("kubectl", args, stdin: stdin)
        XCTAssertEqual(r.status, 0, "kubectl \(args): \(r.stderr)")
        return r
    }

    func namespace(_ prefix: String) throws -> String {
        _ = try TestEnv.require("FLUXS_TEST_KUBECONFIG")
        XCTAssertEqual(try TestEnv.fluxs(["install"]).status, 0)
        let ns = "\(prefix)-\(UUID().uuidString.prefix(6).lowercased())"
        _ = try kubectl(["create", "namespace", ns])
        return ns
    }

    /// A Kustomization `app` with an inventory of ConfigMaps a..d (d is gone already), as kustomize-controller leaves it:
    /// a and b carry its owner labels, b opts out of pruning, c belongs to nobody.
    func kustomizationWithInventory(_ ns: String, spec: String) throws {
        let owner = "kustomize.toolkit.fluxcd.io/name: app, kustomize.toolkit.fluxcd.io/namespace: \(ns)"
        let yaml = """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: a, namespace: \(ns), labels: {\(owner)}}
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: b, namespace: \(ns), labels: {\(owner)}, annotations: {kustomize.toolkit.fluxcd.io/prune: disabled}}
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: c, namespace: \(ns)}
        ---
        apiVersion: v1
        kind: Secret
        metadata: {name: s, namespace: \(ns), labels: {\(owner), kustomize.toolkit.fluxcd.io/ssa: Ignore}}
        ---
        apiVersion: kustomize.toolkit.fluxcd.io/v1
        kind: Kustomization
        metadata: {name: app, namespace: \(ns)}
        spec: {interval: 5m, path: ./, sourceRef: {kind: GitRepository, name: repo}, \(spec)}
        status:
          inventory:
            entries:
            - {id: \(ns)_a__ConfigMap, v: v1}
            - {id: \(ns)_b__ConfigMap, v: v1}
            - {id: \(ns)_c__ConfigMap, v: v1}
            - {id: \(ns)_d__ConfigMap, v: v1}
            - {id: \(ns)_s__Secret, v: v1}
        """
        let f = try TestEnv.tempDir("fluxs-gc").appendingPathComponent("objects.yaml")
        try TestEnv.write(yaml, to: f)
        let r = try TestEnv.run("python3", [TestEnv.packageRoot.appendingPathComponent("tools/testenv/fixtures.py").path, "apply", f.path])
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    func names(_ kind: String, _ ns: String) throws -> [String] {
        try kubectl(["get", kind, "-n", ns, "-o", "jsonpath={.items[*].metadata.name}"]).stdout.split(separator: " ").map(String.init)
    }

    func testDeleteKustomizationCollectsItsInventoryAsTheFinalizerDoes() throws {
        let ns = try namespace("gc")
        try kustomizationWithInventory(ns, spec: "prune: true")
        let r = try TestEnv.fluxs(["delete", "ks", "app", "-n", ns, "--silent"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr, """
        ► deleting kustomization app in \(ns) namespace
        ► deleting the 5 object(s) of its inventory (deletionPolicy MirrorPrune), as kustomize-controller's finalizer does
        ✔ ConfigMap/\(ns)/a deleted
        ► Secret/\(ns)/s skipped
        ► ConfigMap/\(ns)/c skipped
        ► ConfigMap/\(ns)/b skipped
        ✔ kustomization deleted

        """)
        XCTAssertEqual(try names("configmaps", ns).filter { $0 != "kube-root-ca.crt" }.sorted(), ["b", "c"])
        XCTAssertEqual(try names("secrets", ns), ["s"])
        XCTAssertEqual(try names("kustomizations", ns), [])
    }

    func testDeletionPolicies() throws {
        for (spec, kept) in [("prune: false", ["a", "b", "c"]), ("prune: false, deletionPolicy: Delete", ["b", "c"]),
                             ("prune: true, deletionPolicy: Orphan", ["a", "b", "c"]), ("prune: true, suspend: true", ["a", "b", "c"]),
                             ("prune: false, deletionPolicy: WaitForTermination", ["b", "c"])] {
            let ns = try namespace("gcp")
            try kustomizationWithInventory(ns, spec: spec)
            let r = try TestEnv.fluxs(["delete", "ks", "app", "-n", ns, "-s"])
            XCTAssertEqual(r.status, 0, "\(spec): \(r.stderr)")
            XCTAssertEqual(try names("configmaps", ns).filter { $0 != "kube-root-ca.crt" }.sorted(), kept, spec)
            if kept.contains("a") { XCTAssertTrue(r.stderr.contains("► keeping the 5 object(s) of its inventory: "), r.stderr) }
            XCTAssertEqual(try names("kustomizations", ns), [], spec)
        }
    }

    func testNotYetBuiltCommandsAcceptFluxFlags() throws {
        for args in [["create", "source", "helm", "x", "--url=https://charts.example.com", "--interval=5m"],
                     ["create", "helmrelease", "x", "--chart=podinfo", "--source=HelmRepository/podinfo"],
                     ["plugin", "install", "operator", "--version", "1.0"], ["migrate", "-f", "."]] {
            let r = try TestEnv.fluxs(args)
            XCTAssertEqual(r.status, 1, "\(args)")
            XCTAssertTrue(r.stderr.contains("is not available in this fluxs build yet"), "\(args): \(r.stderr)")
        }
        XCTAssertEqual(try TestEnv.fluxs(["get", "artifacts", "generators", "--help"]).status, 0)
    }

    func testUsageErrorsHaveNoCobraSuffix() throws {
        let r = try TestEnv.fluxs(["install", "unexpectedPosArg"])
        XCTAssertEqual(r.stderr, "✗ unknown command \"unexpectedPosArg\" for \"fluxs install\"\n")
    }

    func testGetWatchEndsWithTimeout() throws {
        let ns = try namespace("watch")
        _ = try kubectl(["apply", "--server-side", "-f", "-"], stdin: """
        apiVersion: source.toolkit.fluxcd.io/v1
        kind: GitRepository
        metadata: {name: repo, namespace: \(ns)}
        spec: {interval: 1m, url: "https://example.com/repo"}
        """)
        let start = Date()
        let r = try TestEnv.fluxs(["get", "sources", "git", "-n", ns, "--watch", "--timeout=3s"])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stderr, "✗ timed out waiting for the condition\n")
        XCTAssertTrue(r.stdout.hasPrefix("NAME"), r.stdout)
        XCTAssertGreaterThan(Date().timeIntervalSince(start), 2.5)
    }

    func testInstallExportsTheArtifactGeneratorCRDWithSourceWatcher() throws {
        let r = try TestEnv.fluxs(["install", "--export", "--components-extra=source-watcher"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("  name: artifactgenerators.source.extensions.fluxcd.io\n"), r.stdout)
        XCTAssertFalse(try TestEnv.fluxs(["install", "--export"]).stdout.contains("artifactgenerators"))
    }
}
