@testable import FluxsCore
import Foundation
import FluxsYAML
import FluxsTestSupport
import XCTest

/// The name rules of ManifestChecks against the regular expressions and lengths of k8s.io/apimachinery
/// (pkg/util/validation, pkg/api/validate/content), on seeded random strings.
final class ManifestChecksTests: XCTestCase {
    func matches(_ pattern: String, _ s: String) -> Bool {
        let re = try! NSRegularExpression(pattern: "^(?:" + pattern + ")$")
        return re.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil
    }

    func testNameRulesAgreeWithApimachinerysExpressions() {
        var g = SeededRandom(seed: 22)
        let alphabet = Array("abz09-._AZ/%é")
        let label = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
        let key = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
        var checked = 0
        for _ in 0..<20_000 {
            let n = Int.random(in: 0...(Bool.random(using: &g) ? 8 : 300), using: &g)
            let s = String((0..<n).map { _ in alphabet.randomElement(using: &g)! })
            XCTAssertEqual(ManifestChecks.dns1123Label(s).isEmpty, s.count <= 63 && matches(label, s), s)
            XCTAssertEqual(ManifestChecks.dns1035Label(s).isEmpty, s.count <= 63 && matches("[a-z]([-a-z0-9]*[a-z0-9])?", s), s)
            XCTAssertEqual(ManifestChecks.dns1123Subdomain(s).isEmpty, s.count <= 253 && matches(label + "(\\." + label + ")*", s), s)
            XCTAssertEqual(ManifestChecks.labelValue(s).isEmpty, s.count <= 63 && matches("(" + key + ")?", s), s)
            let parts = s.split(separator: "/", omittingEmptySubsequences: false)
            let qualified = parts.count <= 2 && parts.last.map { $0.count <= 63 && matches(key, String($0)) } == true
                && (parts.count == 1 || (parts[0].count <= 253 && matches(label + "(\\." + label + ")*", String(parts[0]))))
            XCTAssertEqual(ManifestChecks.qualifiedName(s).isEmpty, qualified, s)
            XCTAssertEqual(ManifestChecks.pathSegment(s).isEmpty, s != "." && s != ".." && !s.contains("/") && !s.contains("%"), s)
            checked += 1
        }
        XCTAssertEqual(checked, 20_000)
    }

    func testKindsTakeTheirRule() {
        func problems(_ yaml: String) -> [String] {
            ManifestChecks.problems(try! YAML.parseAll(yaml)).map(\.message)
        }
        XCTAssertEqual(problems("apiVersion: v1\nkind: Namespace\nmetadata: {name: a.b}\n").count, 1)
        XCTAssertEqual(problems("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a.b}\n").count, 0)
        XCTAssertEqual(problems("apiVersion: v1\nkind: Service\nmetadata: {name: a1}\n").count, 0)
        XCTAssertEqual(problems("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: 'system:x'}\n").count, 0)
        XCTAssertEqual(problems("apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: xs.example.com}\nspec: {group: example.com, names: {plural: ys}}\n").count, 1)
        XCTAssertEqual(problems("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: Bad}\n").count, 1)
        XCTAssertEqual(problems("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, annotations: {'example.com/ok': 'x', 'a/b/c': 'y'}}\n").count, 1)
        XCTAssertEqual(problems("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n").count, 1)
        XCTAssertEqual(problems("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: My, annotations: {kustomize.toolkit.fluxcd.io/reconcile: disabled}}\n").count, 0)
    }
}
