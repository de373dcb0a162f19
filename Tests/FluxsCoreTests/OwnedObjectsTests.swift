import Foundation
@testable import FluxsCore
import FluxsKube
import FluxsTestSupport
import FluxsYAML
import XCTest

/// OwnedObjects (Sources/FluxsCore/Kustomize/KustomizationReconciler.swift) against the API simulator: a metadata list,
/// then the few objects a dry run is compared with read whole by one GET each (readWhole), or by listing whole when
/// they are many; what a GET finds gone or no longer owned is left out, as a list would have.
final class OwnedObjectsTests: XCTestCase {
    var lines: [String] = []

    func client() throws -> KubeClient {
        let e = try TestEnv.require("FLUXS_TEST_KUBECONFIG")
        var o = ConnectionOverrides()
        o.kubeconfig = e["FLUXS_TEST_KUBECONFIG"]
        let cfg = try KubeConfigLoader(environment: [:], home: "/nonexistent").load(o)
        return try KubeClient(config: cfg, timeout: 60, exec: ExecPluginRunner(cacheDir: nil, environment: [:]), log: { [weak self] in self?.lines.append($0) })
    }

    func configMap(_ name: String, ns: String, value: String, owned: Bool = true) -> Node {
        var meta: [(String, Node)] = [("name", .string(name)), ("namespace", .string(ns))]
        if owned {
            meta.append(("labels", .map([("kustomize.toolkit.fluxcd.io/name", "app"), ("kustomize.toolkit.fluxcd.io/namespace", "flux")])))
        }
        return .map([("apiVersion", "v1"), ("kind", "ConfigMap"), ("metadata", .map(meta)), ("data", .map([("value", .string(value))]))])
    }

    /// A new namespace with 40 owned ConfigMaps (cm-00 ... cm-39, data.value "v<i>") and one that is not owned.
    func populate(_ kube: KubeClient, prefix: String) throws -> String {
        let ns = "\(prefix)-\(UUID().uuidString.prefix(6).lowercased())"
        _ = try kube.create(ResourceRef(group: "", version: "v1", resource: "namespaces", kind: "Namespace", namespaced: false),
                            namespace: nil, object: .map([("apiVersion", "v1"), ("kind", "Namespace"), ("metadata", .map([("name", .string(ns))]))]))
        for i in 0..<40 { _ = try kube.create(ResourceRef.configMaps, namespace: ns, object: configMap(String(format: "cm-%02d", i), ns: ns, value: "v\(i)")) }
        _ = try kube.create(ResourceRef.configMaps, namespace: ns, object: configMap("stranger", ns: ns, value: "s", owned: false))
        return ns
    }

    /// Request lines since the last call: (LISTs of configmaps, GETs of one configmap).
    func requests() -> (lists: Int, gets: [String]) {
        defer { lines = [] }
        let cms = lines.filter { $0.hasPrefix("GET ") && $0.contains("/configmaps") }
        return (cms.filter { $0.contains("/configmaps?") }.count,
                cms.compactMap { l in l.split(separator: " ")[1].split(separator: "/configmaps/").last.map { String($0) } }.filter { !$0.contains("?") && !$0.hasPrefix("http") })
    }

    func testFewReadByGETManyByListingWhole() throws {
        let kube = try client()
        let ns = try populate(kube, prefix: "oo")
        let selector = KustomizationReconciler.ownerSelector(name: "app", namespace: "flux")
        var owned = OwnedObjects(kube: kube, selector: selector, metadataOnly: true)
        lines = []
        let meta = try XCTUnwrap(owned.get(ResourceRef.configMaps, namespace: ns, name: "cm-00"))
        XCTAssertNil(meta["data"], "a metadata list holds no data")
        XCTAssertNotNil(meta["metadata"]?["resourceVersion"]?.string)
        XCTAssertNil(try owned.get(ResourceRef.configMaps, namespace: ns, name: "stranger"))
        XCTAssertEqual(requests().lists, 1)

        // After the list: one deleted, one no longer owned (labels removed), one changed.
        _ = try kube.delete(ResourceRef.configMaps, namespace: ns, name: "cm-01")
        _ = try kube.patch(ResourceRef.configMaps, namespace: ns, name: "cm-02", type: .merge,
                           patch: .map([("metadata", .map([("labels", .map([("kustomize.toolkit.fluxcd.io/name", .null)]))]))]))
        _ = try kube.patch(ResourceRef.configMaps, namespace: ns, name: "cm-03", type: .merge, patch: .map([("data", .map([("value", "edited")]))]))
        lines = []
        let few = ["cm-00", "cm-01", "cm-02", "cm-03", "cm-99", "stranger"]
        try owned.readWhole(few.map { (ResourceRef.configMaps, ns, $0) })
        // Four the list holds (4 * 8 <= 40): a GET each, no list; cm-99 and the stranger are not in it, not read.
        let r = requests()
        XCTAssertEqual(r.lists, 0, "\(r)")
        XCTAssertEqual(r.gets.sorted(), ["cm-00", "cm-01", "cm-02", "cm-03"], "\(r)")
        XCTAssertEqual(try owned.get(ResourceRef.configMaps, namespace: ns, name: "cm-00", whole: true)?["data"]?["value"]?.string, "v0")
        XCTAssertNil(try owned.get(ResourceRef.configMaps, namespace: ns, name: "cm-01", whole: true), "deleted")
        XCTAssertNil(try owned.get(ResourceRef.configMaps, namespace: ns, name: "cm-02", whole: true), "no longer owned")
        XCTAssertEqual(try owned.get(ResourceRef.configMaps, namespace: ns, name: "cm-03", whole: true)?["data"]?["value"]?.string, "edited")
        XCTAssertNil(try owned.get(ResourceRef.configMaps, namespace: ns, name: "cm-99", whole: true))
        XCTAssertNil(try owned.get(ResourceRef.configMaps, namespace: ns, name: "stranger", whole: true))
        let after = requests()
        XCTAssertEqual(after.lists + after.gets.count, 0, "get(whole:) after readWhole reads nothing more: \(after)")
        // Not read whole yet: listed whole at once (the list has it).
        XCTAssertEqual(try owned.get(ResourceRef.configMaps, namespace: ns, name: "cm-04", whole: true)?["data"]?["value"]?.string, "v4")
        XCTAssertEqual(requests().lists, 1)

        // Many (6 * 8 > 38): listed whole, not read one by one.
        var again = OwnedObjects(kube: kube, selector: selector, metadataOnly: true)
        XCTAssertNotNil(try again.get(ResourceRef.configMaps, namespace: ns, name: "cm-10"))
        lines = []
        try again.readWhole((10..<16).map { (ResourceRef.configMaps, ns, String(format: "cm-%02d", $0)) })
        let m = requests()
        XCTAssertEqual(m.lists, 1, "\(m)")
        XCTAssertEqual(m.gets, [], "\(m)")
        XCTAssertEqual(try again.get(ResourceRef.configMaps, namespace: ns, name: "cm-15", whole: true)?["data"]?["value"]?.string, "v15")
        XCTAssertNil(try again.get(ResourceRef.configMaps, namespace: ns, name: "cm-02", whole: true), "no longer owned")
        XCTAssertEqual(requests().lists, 0)
    }

    /// A metadata list of several pages (7 a page here): every owned object once, in the server's order, one request
    /// a page (each page after the first asked for while the one before is decoded on another thread).
    func testPagesJoinedInOrder() throws {
        let kube = try client()
        let ns = try populate(kube, prefix: "op")
        let selector = KustomizationReconciler.ownerSelector(name: "app", namespace: "flux")
        var owned = OwnedObjects(kube: kube, selector: selector, metadataOnly: true)
        owned.pageSize = 7
        lines = []
        let listed = try owned.listMetadata(ResourceRef.configMaps, namespace: ns)
        XCTAssertEqual(listed.map(\.name), (0..<40).map { String(format: "cm-%02d", $0) })
        // Read for their identities (no tree built), each decoded when asked for whole as the page's decode has it.
        let items = try listed.map { try $0.listed.node(server: kube.config.server) }
        XCTAssertEqual(items.compactMap { $0["metadata"]?["name"]?.string }, listed.map(\.name))
        XCTAssertEqual(listed.map(\.listed.uid), items.map { $0["metadata"]?["uid"]?.string })
        XCTAssertEqual(listed.map(\.listed.resourceVersion), items.map { $0["metadata"]?["resourceVersion"]?.string })
        XCTAssertTrue(listed.allSatisfy { if case .item = $0.listed { return true } else { return false } })
        XCTAssertEqual(items.first?["kind"]?.string, "ConfigMap")
        XCTAssertEqual(items.first?["apiVersion"]?.string, "v1")
        XCTAssertNil(items.first?["metadata"]?["managedFields"])
        XCTAssertNotNil(items.first?["metadata"]?["labels"])
        XCTAssertEqual(requests().lists, 6, "40 objects, 7 a page")
        // Through get: the same, and the stranger is not there.
        XCTAssertNotNil(try owned.get(ResourceRef.configMaps, namespace: ns, name: "cm-39"))
        XCTAssertNil(try owned.get(ResourceRef.configMaps, namespace: ns, name: "stranger"))
    }

    /// Only a plain equality selector is matched against a GET's labels; any other form is only listed.
    func testSelectorPairs() {
        XCTAssertEqual(OwnedObjects.labels(of: "a=b,c.io/d=e-f")?.map { "\($0.0)=\($0.1)" }, ["a=b", "c.io/d=e-f"])
        for s in ["", "a", "a!=b", "a==b", "a in (b)", "a=b,", "=b", "a=", "a=b c"] { XCTAssertNil(OwnedObjects.labels(of: s), s) }
    }
}
