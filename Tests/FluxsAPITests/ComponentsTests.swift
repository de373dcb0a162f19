import Foundation
import FluxsTestSupport
import FluxsYAML
import XCTest
@testable import FluxsAPI

/// The controllers `install --controllers` renders, object by object against Tests/Fixtures/install: `kubectl kustomize`
/// builds of flux v2.9.4's manifests/ (its bases over each controller's config/manager at the release flux2 names)
/// with flux's install overlay (pkg/manifestgen/install) for three sets of options. CRDs are compared by CRDTests.
final class ComponentsTests: XCTestCase {
    static let fixtures = TestEnv.packageRoot.appendingPathComponent("Tests/Fixtures/install")

    func compare(_ fixture: String, _ o: InstallOptions, file: StaticString = #filePath, line: UInt = #line) throws {
        let text = try String(contentsOf: Self.fixtures.appendingPathComponent(fixture), encoding: .utf8)
        let want = try YAML.parseAll(text, file: fixture)
        let got = Components.manifests(o).filter { $0["kind"]?.string != "CustomResourceDefinition" }
        func id(_ n: Node) -> String {
            "\(n["kind"]?.string ?? "")/\(n["metadata"]?["namespace"]?.string ?? "")/\(n["metadata"]?["name"]?.string ?? "")"
        }
        XCTAssertEqual(got.map(id), want.map(id), "objects and their order", file: file, line: line)
        for (g, w) in zip(got, want) where g != w {
            XCTFail("\(fixture): \(id(g)) differs:\n\((try? g.yamlString()) ?? "")\nwant:\n\((try? w.yamlString()) ?? "")", file: file, line: line)
        }
        // The whole rendering, CRDs included, is what a YAML parser reads back.
        let all = Components.manifests(o)
        XCTAssertEqual(try YAML.parseAll(try YAMLEmitter().emit(documents: all)), all, file: file, line: line)
        XCTAssertEqual(all.filter { $0["kind"]?.string == "CustomResourceDefinition" }.count,
                       CRDs.all.filter { o.components.contains($0.component) }.count, file: file, line: line)
    }

    func testDefaultInstall() throws {
        var o = InstallOptions()
        o.controllers = true
        try compare("default.yaml", o)
    }

    func testEveryOptionAndComponent() throws {
        var o = InstallOptions()
        o.controllers = true
        o.namespace = "gitops"
        o.components = Components.defaults + Components.extras
        o.registry = "registry.example.com/mirror"
        o.imagePullSecret = "regcred"
        o.tolerationKeys = ["node.kubernetes.io/special", "dedicated"]
        o.watchAllNamespaces = false
        o.logLevel = "debug"
        o.clusterDomain = "corp.internal"
        o.networkPolicy = false
        try compare("options.yaml", o)
    }

    /// Without notification-controller the controllers get an empty --events-addr, as from flux.
    func testWithoutNotificationController() throws {
        var o = InstallOptions()
        o.controllers = true
        o.components = ["kustomize-controller", "source-controller"]
        try compare("minimal.yaml", o)
    }

    func testCRDsOnlyByDefault() {
        let o = InstallOptions()
        XCTAssertEqual(Set(Components.manifests(o).compactMap { $0["kind"]?.string }), ["Namespace", "CustomResourceDefinition"])
    }

    func testEveryComponentHasAnImageOfTheRelease() {
        XCTAssertEqual(Components.all.map(\.name), Components.defaults + Components.extras)
        XCTAssertEqual(Components.all.map(\.image), [
            "fluxcd/source-controller:v1.9.4", "fluxcd/kustomize-controller:v1.9.4", "fluxcd/helm-controller:v1.6.3",
            "fluxcd/notification-controller:v1.9.3", "fluxcd/image-reflector-controller:v1.2.4",
            "fluxcd/image-automation-controller:v1.2.4", "fluxcd/source-watcher:v2.2.3"])
    }
}
