import Foundation
import FluxsCore
import FluxsKube
import FluxsTestSupport
import FluxsYAML
import XCTest

/// The Lease a reconcile holds (Sources/FluxsCore/Lease.swift) is renewed every 5 s by a thread of its own and
/// released, holder cleared, when the run ends; the renewer sleeps on a condition variable, so release() wakes it.
final class LeaseRenewalTests: XCTestCase {
    func client() throws -> KubeClient {
        let e = try TestEnv.require("FLUXS_TEST_KUBECONFIG")
        var o = ConnectionOverrides()
        o.kubeconfig = e["FLUXS_TEST_KUBECONFIG"]
        let cfg = try KubeConfigLoader(environment: [:], home: "/nonexistent").load(o)
        return try KubeClient(config: cfg, timeout: 60, exec: ExecPluginRunner(cacheDir: nil, environment: [:]))
    }

    func testRenewedWhileHeldAndClearedOnRelease() throws {
        let kube = try client()
        let ns = "lr-\(UUID().uuidString.prefix(6).lowercased())"
        _ = try kube.create(ResourceRef(group: "", version: "v1", resource: "namespaces", kind: "Namespace", namespaced: false),
                            namespace: nil, object: .map([("apiVersion", "v1"), ("kind", "Namespace"), ("metadata", .map([("name", .string(ns))]))]))
        let lease = ObjectLease(kube: kube, kind: "Kustomization", namespace: ns, name: "apps")
        try lease.acquire(deadline: monotonicSeconds() + 30) { XCTFail("waited: \($0)") }
        func spec() throws -> Node? {
            try kube.getIfExists(ObjectLease.leases, namespace: ns, name: lease.name)?["spec"]
        }
        let taken = try XCTUnwrap(spec())
        XCTAssertEqual(taken["holderIdentity"]?.string, lease.identity)
        let first = try XCTUnwrap(taken["renewTime"]?.string)
        // Past one renewal period (5 s): the renewer has written a later renewTime, still as the holder.
        Thread.sleep(forTimeInterval: 6.5)
        let renewed = try XCTUnwrap(spec())
        XCTAssertEqual(renewed["holderIdentity"]?.string, lease.identity)
        let second = try XCTUnwrap(renewed["renewTime"]?.string)
        XCTAssertGreaterThan(second, first, "the Lease was not renewed within 6.5 s")
        XCTAssertNoThrow(try lease.check("the test"))
        lease.release()
        let released = try XCTUnwrap(spec())
        XCTAssertEqual(released["holderIdentity"]?.string, "")
        XCTAssertEqual(released["leaseDurationSeconds"]?.int, 1)
        // Released: another process takes it without waiting.
        let next = ObjectLease(kube: try client(), kind: "Kustomization", namespace: ns, name: "apps")
        try next.acquire(deadline: monotonicSeconds() + 30) { XCTFail("waited after release: \($0)") }
        XCTAssertEqual(try spec()?["holderIdentity"]?.string, next.identity)
        next.release()
    }
}
