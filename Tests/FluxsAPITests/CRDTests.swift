import Foundation
import FluxsKube
import FluxsTestSupport
import FluxsYAML
import XCTest
@testable import FluxsAPI

/// The CRDs generated from the Swift types: their shape, and that objects with
/// every field set (as the Flux controllers write them) survive the API server's
/// pruning and validation unchanged.
final class CRDTests: XCTestCase {
    func testGitRepositorySchemaFacts() throws {
        let crd = CRDs.crd(GitRepository.self, component: "source-controller")
        XCTAssertEqual(crd["metadata"]?["name"]?.string, "gitrepositories.source.toolkit.fluxcd.io")
        XCTAssertEqual(crd["spec"]?["names"]?["shortNames"], ["gitrepo"])
        let v = crd["spec"]?["versions"]?[0]
        XCTAssertEqual(v?["name"]?.string, "v1")
        XCTAssertEqual(v?["subresources"]?["status"], .emptyMap)
        let spec = v?["schema"]?["openAPIV3Schema"]?["properties"]?["spec"]
        XCTAssertEqual(spec?["required"], ["interval", "url"])
        XCTAssertEqual(spec?["properties"]?["timeout"]?["default"]?.string, "60s")
        XCTAssertEqual(spec?["properties"]?["url"]?["pattern"]?.string, "^(http|https|ssh)://.*$")
        XCTAssertEqual(spec?["properties"]?["verify"]?["properties"]?["mode"]?["enum"], ["head", "HEAD", "Tag", "TagAndHEAD"])
        let status = v?["schema"]?["openAPIV3Schema"]?["properties"]?["status"]
        XCTAssertEqual(status?["default"], .map([("observedGeneration", .int(-1))]))
        XCTAssertEqual(status?["properties"]?["conditions"]?["items"]?["required"], ["lastTransitionTime", "message", "reason", "status", "type"])
        XCTAssertEqual(v?["additionalPrinterColumns"]?.array?.compactMap { $0["name"]?.string }, ["URL", "Age", "Ready", "Status"])
        XCTAssertFalse(try crd.yamlString().contains("description: \"\""))
    }

    func testKindsWithoutStatusHaveNoSubresource() {
        for t in [Alert.self, Provider.self] as [any FluxObject.Type] {
            let v = CRDs.crd(t, component: "notification-controller")["spec"]?["versions"]?[0]
            XCTAssertNil(v?["subresources"])
            XCTAssertNil(v?["schema"]?["openAPIV3Schema"]?["properties"]?["status"])
        }
    }

    // MARK: round trip through the API simulator

    /// A value for a schema: enums take their first value, patterns a matching example.
    static func sample(_ s: Schema, path: String) -> Node? {
        if s.preserveUnknownFields && s.properties.isEmpty { return .map([("anything", .map([("nested", [1, "two"])]))]) }
        if let e = s.enumValues { return .string(e[0]) }
        switch s.type {
        case "string":
            if s.format == "date-time" { return "2026-01-02T03:04:05Z" }
            if let p = s.pattern {
                let examples = ["^(http|https|ssh)://.*$": "https://example.com/repo", "^oci://.*$": "oci://registry.example.com/app",
                                "^(http|https|oci)://.*$": "https://charts.example.com", "^(http|https)://.*$": "https://sts.example.com",
                                "^https?://": "https://issuer.example.com", "^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$": "1m0s",
                                "^([0-9]+(\\.[0-9]+)?(ms|s|m))+$": "30s",
                                // ArtifactGenerator (source-watcher)
                                "^[a-z0-9]([a-z0-9_-]*[a-z0-9])?$": "src", "^[a-z0-9]([a-z0-9-]*[a-z0-9])?$": "name",
                                "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$": "ns", "^@([a-z0-9]([a-z0-9_-]*[a-z0-9])?)/(.*)$": "@src/**",
                                "^@(artifact)/(.*)$": "@artifact/", "^@([a-z0-9]([a-z0-9_-]*[a-z0-9])?)$": "@src"]
                if let ex = examples[p] { return .string(ex) }
                if p.contains("A-Za-z0-9_,:") { return "ReconciliationSucceeded" }
                if p.contains("[.+_-]") { return "sha256:0123abcd" }
                if p.contains("[-A-Za-z0-9_.]") { return "Ready" }
                return nil
            }
            return .string("value-of-\(path.split(separator: ".").last ?? "")")
        case "integer": return .int(max(s.minimum ?? 1, 1))
        case "number": return .float(1.5)
        case "boolean": return .bool(true)
        case "array":
            guard let i = s.items?.value, let v = sample(i, path: path + "[]") else { return nil }
            return .sequence([v])
        case "object":
            if let a = s.additionalProperties?.value {
                guard let v = sample(a, path: path + ".key") else { return nil }
                return .map([("key", v)])
            }
            var m = Mapping()
            for (k, ps) in s.properties { if let v = sample(ps, path: path + "." + k) { m[k] = v } }
            return .mapping(m)
        default:
            return nil
        }
    }

    func testEveryFieldSurvivesTheAPIServer() throws {
        let e = try TestEnv.require("FLUXS_TEST_KUBECONFIG")
        var o = ConnectionOverrides()
        o.kubeconfig = e["FLUXS_TEST_KUBECONFIG"]
        let cfg = try KubeConfigLoader(environment: [:], home: "/nonexistent").load(o)
        let kube = try KubeClient(config: cfg, timeout: 60, exec: ExecPluginRunner(cacheDir: nil, environment: [:]))
        let ns = "crd-\(UUID().uuidString.prefix(6).lowercased())"
        _ = try kube.create(ResourceRef(group: "", version: "v1", resource: "namespaces", kind: "Namespace", namespaced: false),
                            namespace: nil, object: .map([("apiVersion", "v1"), ("kind", "Namespace"), ("metadata", .map([("name", .string(ns))]))]))
        for (component, t) in CRDs.all {
            let crd = CRDs.crd(t, component: component)
            _ = try kube.apply(crd, fieldManager: "fluxs-test")
        }
        sleepSeconds(0.2)
        for (_, t) in CRDs.all {
            let k = t.fluxKind
            guard var spec = Self.sample(t.specSchema, path: "spec") else { return XCTFail("no sample spec for \(k.kind)") }
            if k.kind == "HelmRelease" { spec["chartRef"] = nil }
            var obj: Node = .map([("apiVersion", .string(k.apiVersion)), ("kind", .string(k.kind)),
                                  ("metadata", .map([("name", "sample"), ("namespace", .string(ns))])), ("spec", spec)])
            let r = try kube.resource(for: obj)
            _ = try kube.create(r, namespace: ns, object: obj, fieldManager: "fluxs-test")
            if let st = t.statusSchema, var status = Self.sample(st, path: "status") {
                if st.property("observedGeneration") != nil { status["observedGeneration"] = 1 }
                var live = try kube.get(r, namespace: ns, name: "sample")
                live["status"] = status
                _ = try kube.update(r, namespace: ns, object: live, subresource: "status")
                obj["status"] = status
            }
            let got = try kube.get(r, namespace: ns, name: "sample")
            XCTAssertEqual(got["spec"], obj["spec"], "\(k.kind): spec changed (pruned or defaulted)")
            if obj["status"] != nil {
                XCTAssertEqual(got["status"], obj["status"], "\(k.kind): status changed (pruned)")
            }
            // and the typed model decodes what the API returned
            XCTAssertNoThrow(try t.decode(got), k.kind)
        }
    }

    func testInventoryNodeIsWhatAPICodingEncodes() throws {
        var inv = ResourceInventory()
        XCTAssertEqual(Self.sortedKeys(inv.node), Self.sortedKeys(try APICoding.node(inv)))
        inv.entries = [ResourceInventory.Entry(id: "ns_cm-1__ConfigMap", v: "v1"), ResourceInventory.Entry(id: "_system__x_rbac.authorization.k8s.io_ClusterRole", v: "v1"),
                       ResourceInventory.Entry(id: "ns_a\"b<&>_apps_Deployment", v: "")]
        // JSONEncoder's key order is not fixed from one process to the next: compared with keys sorted
        XCTAssertEqual(Self.sortedKeys(inv.node), Self.sortedKeys(try APICoding.node(inv)))
        XCTAssertEqual(try JSON.encode(Self.sortedKeys(inv.node)), try JSON.encode(Self.sortedKeys(try APICoding.node(inv))))
    }

    static func sortedKeys(_ n: Node) -> Node {
        switch n {
        case .mapping(let m): return .map(zip(m.keys, m.values).sorted { $0.0 < $1.0 }.map { ($0.0, sortedKeys($0.1)) })
        case .sequence(let a): return .sequence(a.map(sortedKeys))
        default: return n
        }
    }
}
