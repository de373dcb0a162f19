import Foundation
import FluxsTestSupport
import XCTest

/// `wait: true` over a LoadBalancer Service: kstatus calls it Current once the API server gave it a cluster IP, so the
/// reconcile does not wait for the external address a cloud controller adds (the API simulator never adds one).
final class LoadBalancerHealthTests: XCTestCase {
    func testLoadBalancerServiceIsHealthyWithoutAnExternalAddress() throws {
        let fx = try ReconcileFixture(prefix: "lb")
        defer { fx.cleanUp() }
        _ = try fx.source(["web/svc.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  type: LoadBalancer\n  selector: {app: web}\n  ports: [{port: 80}]\n"])
        let r = try fx.fluxs(["create", "kustomization", "web", "--source=GitRepository/fleet", "--path=./web", "--prune=true",
                              "--interval=10m", "--target-namespace=\(fx.apps)", "--wait=true", "--health-check-timeout=20s"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertFalse(try fx.jsonpath("service", "web", ".spec.clusterIP", namespace: fx.apps).isEmpty)
        XCTAssertEqual(try fx.jsonpath("service", "web", ".status.loadBalancer.ingress", namespace: fx.apps), "", "no external address")
        XCTAssertEqual(try fx.ready("web").reason, "ReconciliationSucceeded")
        XCTAssertTrue(try fx.jsonpath("kustomization", "web", ".status.conditions[?(@.type==\"Healthy\")].message").hasPrefix("Health check passed in "))
    }
}
