import Foundation
import FluxsTestSupport
import XCTest

/// The hand-over to the controllers on the API simulator: `install --controllers` applies what flux installs and
/// waits for the Deployments; once they are available `check` reports them as flux does and `reconcile` stops
/// reconciling here and annotates and waits for the controller.
final class HandOverTests: XCTestCase {
    final class Box: @unchecked Sendable { var run: TestEnv.Run? }

    /// Runs fluxs on another thread; `wait()` returns its result.
    func background(_ args: [String], env: [String: String] = [:]) -> () -> TestEnv.Run? {
        let box = Box(), g = DispatchGroup()
        g.enter()
        DispatchQueue.global().async { box.run = try? TestEnv.fluxs(args, env: env); g.leave() }
        return { g.wait(); return box.run }
    }

    func eventually(_ what: String, _ check: () throws -> Bool) throws {
        for _ in 0..<100 {
            if try check() { return }
            Thread.sleep(forTimeInterval: 0.2)
        }
        XCTFail("timed out waiting for \(what)")
    }

    func testInstallWithControllersThenReconcileHandsOver() throws {
        let fx = try ReconcileFixture(prefix: "handover")
        let fluxNS = "fs-" + UUID().uuidString.prefix(6).lowercased()
        defer {
            fx.cleanUp()
            _ = try? fx.kubectl("delete", "namespace", fluxNS, "--wait=false")
            _ = try? fx.kubectl("delete", "clusterrole,clusterrolebinding", "-l", "app.kubernetes.io/instance=\(fluxNS)")
        }
        let components = ["helm-controller", "kustomize-controller", "notification-controller", "source-controller"]
        let install = background(["install", "--controllers", "-n", fluxNS, "--timeout=60s"])
        // The simulator runs no pods: the Deployments become available when the test says so.
        try eventually("the Deployments") {
            try fx.kubectl("get", "deployments", "-n", fluxNS, "-o", "name").stdout.split(separator: "\n").count == components.count
        }
        for c in components { _ = try fx.sim("POST", "/__sim/workloads", ["kind": "Deployment", "namespace": fluxNS, "name": c]) }
        let r = try XCTUnwrap(install())
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("Deployment/\(fluxNS)/kustomize-controller created\n") &&
                      r.stdout.contains("ClusterRoleBinding/cluster-reconciler-\(fluxNS) created\n") &&
                      r.stdout.contains("NetworkPolicy/\(fluxNS)/allow-egress created"), r.stdout)
        XCTAssertTrue(r.stderr.hasSuffix("""
            ◎ verifying installation
            ✔ helm-controller: deployment ready
            ✔ kustomize-controller: deployment ready
            ✔ notification-controller: deployment ready
            ✔ source-controller: deployment ready
            ✔ install finished

            """), r.stderr)

        // Every object of the export is in the cluster, as exported.
        let export = try TestEnv.fluxs(["install", "--controllers", "--export", "-n", fluxNS])
        XCTAssertEqual(export.status, 0, export.stderr)
        let diff = try TestEnv.run("kubectl", ["diff", "--server-side", "--field-manager=flux", "-f", "-"], stdin: export.stdout)
        XCTAssertEqual(diff.status, 0, diff.stdout + diff.stderr)
        XCTAssertEqual(try fx.kubectl("get", "deployment", "source-controller", "-n", fluxNS,
                                      "-o", "jsonpath={.spec.template.spec.containers[0].image}").stdout,
                       "ghcr.io/fluxcd/source-controller:v1.9.4")

        let check = try TestEnv.fluxs(["check", "-n", fluxNS, "--poll-interval=1s"])
        XCTAssertEqual(check.status, 0, check.stderr)
        XCTAssertTrue(check.stderr.contains("""
            ► checking controllers
            ✔ helm-controller: deployment ready
            ► ghcr.io/fluxcd/helm-controller:v1.6.3
            ✔ kustomize-controller: deployment ready
            ► ghcr.io/fluxcd/kustomize-controller:v1.9.4
            """), check.stderr)

        // reconcile annotates and waits for the controller: the status here is written the way kustomize-controller
        // would (nothing runs it in the simulator), and nothing is applied from this process.
        try fx.kubectl("apply", "-f", "-", stdin: """
            apiVersion: kustomize.toolkit.fluxcd.io/v1
            kind: Kustomization
            metadata: {name: app, namespace: \(fx.ns)}
            spec: {interval: 10m, path: ./, prune: true, sourceRef: {kind: GitRepository, name: missing}}
            """)
        let reconcile = background(["reconcile", "kustomization", "app", "-n", fx.ns, "--timeout=30s"],
                                   env: ["FLUX_SYSTEM_NAMESPACE": fluxNS, "FLUXS_STORAGE_PATH": fx.storage.path])
        var requested = ""
        try eventually("the reconcile request") {
            requested = try fx.jsonpath("kustomization", "app", ".metadata.annotations.reconcile\\.fluxcd\\.io/requestedAt")
            return !requested.isEmpty
        }
        let now = ISO8601DateFormatter().string(from: Date())
        let status: [String: Any] = ["status": [
            "observedGeneration": 1, "lastHandledReconcileAt": requested, "lastAppliedRevision": "main@sha1:0123456789abcdef",
            "conditions": [["type": "Ready", "status": "True", "reason": "ReconciliationSucceeded", "observedGeneration": 1,
                            "message": "Applied revision: main@sha1:0123456789abcdef", "lastTransitionTime": now]]]]
        let patch = String(decoding: try JSONSerialization.data(withJSONObject: status), as: UTF8.self)
        let patched = try fx.kubectl("patch", "kustomization", "app", "-n", fx.ns, "--subresource=status", "--type=merge", "-p", patch)
        XCTAssertEqual(patched.status, 0, patched.stderr)
        let rr = try XCTUnwrap(reconcile())
        XCTAssertEqual(rr.status, 0, rr.stderr)
        XCTAssertEqual(rr.stderr, """
            ► annotating Kustomization app in \(fx.ns) namespace
            ✔ Kustomization annotated
            ◎ waiting for Kustomization reconciliation
            ✔ applied revision main@sha1:0123456789abcdef

            """)
        XCTAssertEqual(try fx.jsonpath("kustomization", "app", ".status.inventory"), "")

        // A Deployment that stops being available is reported as flux reports it.
        _ = try fx.sim("POST", "/__sim/workloads", ["kind": "Deployment", "namespace": fluxNS, "name": "helm-controller", "state": "progressing"])
        let bad = try TestEnv.fluxs(["check", "-n", fluxNS, "--poll-interval=1s", "--timeout=3s"])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("✗ helm-controller: deployment not ready\n► ghcr.io/fluxcd/helm-controller:v1.6.3\n") &&
                      bad.stderr.hasSuffix("✗ check failed\n"), bad.stderr)
    }
}
