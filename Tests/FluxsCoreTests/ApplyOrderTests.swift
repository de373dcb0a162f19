import FluxsCore
import FluxsTestSupport
import FluxsYAML
import XCTest

/// ApplyOrder.sorted (keys read once per object) orders as ApplyOrder.less does, on generated objects (seeded):
/// kinds of every rank, core and named groups, cluster-scoped and namespaced, names that share prefixes.
final class ApplyOrderTests: XCTestCase {
    func testSortedOrdersAsLess() {
        var rng = SeededRandom(seed: 20261207)
        let kinds = ["CustomResourceDefinition", "Namespace", "ClusterRole", "ConfigMap", "Secret", "Deployment", "Widget",
                     "IngressClass", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "Service", "Zeta", ""]
        let apiVersions = ["v1", "apps/v1", "apiextensions.k8s.io/v1", "rbac.authorization.k8s.io/v1", "example.com/v1", "a/v1", ""]
        let names = ["a", "ab", "b", "a-1", "a.1", "Z", ""]
        for round in 0..<200 {
            var objects: [Node] = []
            for _ in 0..<Int.random(in: 0..<60, using: &rng) {
                var meta: [(String, Node)] = [("name", .string(names[Int.random(in: 0..<names.count, using: &rng)] + String(Int.random(in: 0..<4, using: &rng))))]
                if Bool.random(using: &rng) { meta.append(("namespace", .string(["", "ns1", "ns2"][Int.random(in: 0..<3, using: &rng)]))) }
                var o: [(String, Node)] = [("metadata", .map(meta))]
                if Int.random(in: 0..<10, using: &rng) > 0 { o.append(("kind", .string(kinds[Int.random(in: 0..<kinds.count, using: &rng)]))) }
                if Int.random(in: 0..<10, using: &rng) > 0 { o.append(("apiVersion", .string(apiVersions[Int.random(in: 0..<apiVersions.count, using: &rng)]))) }
                objects.append(.map(o))
            }
            let want = objects.sorted(by: ApplyOrder.less)
            let got = ApplyOrder.sorted(objects)
            XCTAssertEqual(got.count, want.count)
            // Equal keys may come in either order: compare each position's key, not the object.
            for (g, w) in zip(got, want) {
                XCTAssertFalse(ApplyOrder.less(g, w) || ApplyOrder.less(w, g), "round \(round): \(g) where \(w) was expected")
            }
        }
    }
}
