@testable import FluxsCore
import Foundation
import FluxsTestSupport
import FluxsYAML
import XCTest

/// Inventory ids as kustomize-controller writes them (fluxcd/pkg/ssa ObjMetadata: `<namespace>_<name>_<group>_<kind>`,
/// ":" in a name written as "__"), and back to `Kind/namespace/name`.
final class InventoryIDTests: XCTestCase {
    func object(_ apiVersion: String, _ kind: String, _ name: String, _ ns: String?) -> Node {
        var meta: [(String, Node)] = [("name", .string(name))]
        if let ns { meta.append(("namespace", .string(ns))) }
        return .map([("apiVersion", .string(apiVersion)), ("kind", .string(kind)), ("metadata", .map(meta))])
    }

    func testIDs() {
        XCTAssertEqual(KustomizationReconciler.inventoryID(object("v1", "ConfigMap", "cm-1", "apps")), "apps_cm-1__ConfigMap")
        XCTAssertEqual(KustomizationReconciler.inventoryID(object("apps/v1", "Deployment", "web", "apps")), "apps_web_apps_Deployment")
        XCTAssertEqual(KustomizationReconciler.inventoryID(object("rbac.authorization.k8s.io/v1", "ClusterRole", "system:flux:view", nil)),
                       "_system__flux__view_rbac.authorization.k8s.io_ClusterRole")
        XCTAssertEqual(KustomizationReconciler.inventoryID(object("apiextensions.k8s.io/v1", "CustomResourceDefinition", "a.b.io", nil)),
                       "_a.b.io_apiextensions.k8s.io_CustomResourceDefinition")
        XCTAssertEqual(KustomizationReconciler.inventorySubject("_system__flux__view_rbac.authorization.k8s.io_ClusterRole"), "ClusterRole/system:flux:view")
        XCTAssertEqual(KustomizationReconciler.inventorySubject("apps_web_apps_Deployment"), "Deployment/apps/web")
    }

    /// The inventory's `v` and the id's group come from the apiVersion's two parts (schema.ParseGroupVersion):
    /// "v1" is the core group's version; a malformed one gives what is there rather than stopping the run.
    func testGroupAndVersion() {
        for (av, group, v) in [("v1", "", "v1"), ("apps/v1", "apps", "v1"), ("rbac.authorization.k8s.io/v1beta1", "rbac.authorization.k8s.io", "v1beta1"),
                               ("", "", ""), ("apps/", "apps", ""), ("/v1", "", "v1"), ("a/b/c", "a", "b")] {
            let e = KustomizationReconciler.entry(object(av, "K", "n", "ns"))
            XCTAssertEqual(e.v, v, av)
            XCTAssertEqual(e.id, "ns_n_\(group)_K", av)
        }
    }

    /// Seeded names and namespaces (colons, non-ASCII, empty parts) give `<namespace>_<name>_<group>_<kind>` exactly.
    func testGeneratedIDs() {
        var rng = SeededRandom(seed: 7)
        let parts = ["", "a", "web-1", "x:y", "::", "caf\u{e9}", "\u{1F600}", "a_b", "very-long-name-of-more-than-fifteen-bytes"]
        for _ in 0..<300 {
            let name = parts.randomElement(using: &rng)! + parts.randomElement(using: &rng)!
            let ns = parts.randomElement(using: &rng)!
            let av = ["v1", "apps/v1", "x.io/v1beta1", ""].randomElement(using: &rng)!
            let kind = ["ConfigMap", "K", ""].randomElement(using: &rng)!
            let group = av.contains("/") ? String(av.split(separator: "/")[0]) : ""
            let want = "\(ns)_\(name.replacingOccurrences(of: ":", with: "__"))_\(group)_\(kind)"
            XCTAssertEqual(KustomizationReconciler.entry(object(av, kind, name, ns)).id, want)
        }
    }
}
