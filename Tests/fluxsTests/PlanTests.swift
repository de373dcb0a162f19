import Foundation
import FluxsTestSupport
import XCTest

/// `fluxs plan` against the API simulator and the real git server: creations (also in a namespace and of a kind the
/// same plan creates), changes with a unified diff and masked Secret values, prunes; totals equal to what the
/// following `fluxs sync` changes; exit codes as diff; --path-override.
final class PlanTests: XCTestCase {
    var fx: ReconcileFixture!

    override func setUpWithError() throws { fx = try ReconcileFixture(prefix: "plan") }
    override func tearDownWithError() throws { fx?.cleanUp() }

    func cm(_ name: String, _ value: String, ns: String? = nil) -> String {
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \(name)\n  namespace: \(ns ?? fx.apps)\ndata: {k: \(value)}\n"
    }

    func ks(_ name: String, _ path: String) -> String {
        """
        apiVersion: kustomize.toolkit.fluxcd.io/v1
        kind: Kustomization
        metadata:
          name: \(name)
          namespace: \(fx.ns)
        spec:
          interval: 10m
          path: \(path)
          prune: true
          sourceRef:
            kind: GitRepository
            name: fleet

        """
    }

    func json(_ r: TestEnv.Run) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout + r.stderr)
    }

    func testPlanThenSync() throws {
        let secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\n  namespace: \(fx.apps)\nstringData: {password: hunter2-old}\n"
        let repo = try fx.source(["web/a.yaml": cm("a", "v1"), "web/b.yaml": cm("b", "v1"), "web/secret.yaml": secret, "other/c.yaml": cm("c", "v1")])
        XCTAssertEqual(try fx.kubectl("apply", "-f", "-", stdin: ks("web", "./web") + "---\n" + ks("other", "./other")).status, 0)
        let first = try fx.fluxs(["sync"])
        XCTAssertEqual(first.status, 0, first.stderr)
        let clean = try fx.fluxs(["plan"])
        XCTAssertEqual(clean.status, 0, clean.stdout + clean.stderr)
        XCTAssertTrue(clean.stdout.hasSuffix("Plan: 0 to create, 0 to change, 0 to prune.\n"), clean.stdout)

        // A push: a changed ConfigMap and Secret, one removed, one added; a new Kustomization's path creates a
        // namespace, a CRD and objects in both.
        let newNS = "plan-new-\(fx.ns.suffix(6))"
        let crd = """
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata:
          name: widgets.plan.example.com
        spec:
          group: plan.example.com
          names: {kind: Widget, listKind: WidgetList, plural: widgets, singular: widget}
          scope: Namespaced
          versions:
          - name: v1
            served: true
            storage: true
            schema:
              openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}

        """
        let widget = "apiVersion: plan.example.com/v1\nkind: Widget\nmetadata:\n  name: w\n  namespace: \(newNS)\nspec: {size: 1}\n"
        try repo.commit(["web/a.yaml": cm("a", "v2"), "web/b.yaml": nil, "web/d.yaml": cm("d", "v1"),
                         "web/secret.yaml": secret.replacingOccurrences(of: "hunter2-old", with: "hunter2-new"),
                         "fresh/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: \(newNS)\n", "fresh/crd.yaml": crd,
                         "fresh/cm.yaml": cm("e", "v1", ns: newNS), "fresh/widget.yaml": widget], "change")
        XCTAssertEqual(try fx.kubectl("apply", "-f", "-", stdin: ks("fresh", "./fresh")).status, 0)
        XCTAssertEqual(try fx.fluxs(["reconcile", "source", "git", "fleet"]).status, 0)

        let plan = try fx.fluxs(["plan", "-o", "json"])
        XCTAssertEqual(plan.status, 1, plan.stdout + plan.stderr)
        let doc = try json(plan)
        let schema = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/plan-report.schema.json").path
        let check = try TestEnv.run("python3", ["-c", "import json,sys,jsonschema; jsonschema.validate(json.load(sys.stdin), json.load(open(sys.argv[1])))", schema],
                                    stdin: plan.stdout)
        XCTAssertEqual(check.status, 0, check.stderr)
        let summary = doc["summary"] as? [String: Int] ?? [:]
        XCTAssertEqual(summary["create"], 5, plan.stdout)   // ConfigMap d; Namespace, CRD, ConfigMap e, Widget
        XCTAssertEqual(summary["change"], 2, plan.stdout)   // ConfigMap a, Secret creds
        XCTAssertEqual(summary["prune"], 1, plan.stdout)    // ConfigMap b
        XCTAssertEqual(summary["errors"], 0, plan.stdout)
        XCTAssertFalse(plan.stdout.contains("hunter2"), plan.stdout)
        let text = try fx.fluxs(["plan"])
        XCTAssertEqual(text.status, 1)
        XCTAssertTrue(text.stdout.contains("  ~ ConfigMap/\(fx.apps)/a will be changed\n"), text.stdout)
        XCTAssertLessThan(try XCTUnwrap(text.stdout.range(of: "      -  k: v1\n")).lowerBound, try XCTUnwrap(text.stdout.range(of: "      +  k: v2\n")).lowerBound, text.stdout)
        XCTAssertTrue(text.stdout.contains("***** (before)") && text.stdout.contains("***** (after)"), text.stdout)
        XCTAssertTrue(text.stdout.contains("  + Widget/\(newNS)/w will be created\n"), text.stdout)
        XCTAssertTrue(text.stdout.contains("  - ConfigMap/\(fx.apps)/b will be pruned\n"), text.stdout)
        XCTAssertTrue(text.stdout.hasSuffix("Plan: 5 to create, 2 to change, 1 to prune.\n"), text.stdout)
        XCTAssertFalse(text.stdout.contains("hunter2"), text.stdout)

        // The sync that follows changes exactly that.
        let sync = try fx.fluxs(["sync", "-o", "json"])
        XCTAssertEqual(sync.status, 0, sync.stderr)
        let results = try json(sync)["results"] as? [[String: Any]] ?? []
        func total(_ f: String) -> Int { results.map { $0[f] as? Int ?? 0 }.reduce(0, +) }
        XCTAssertEqual(total("created"), summary["create"])
        XCTAssertEqual(total("configured"), summary["change"])
        XCTAssertEqual(total("pruned"), summary["prune"])
        let after = try fx.fluxs(["plan"])
        XCTAssertEqual(after.status, 0, after.stdout + after.stderr)

        // A pull request's directory for web: its change, nothing else.
        let local = try TestEnv.tempDir("fluxs-plan-local")
        defer { try? FileManager.default.removeItem(at: local) }
        for (f, t) in ["a.yaml": cm("a", "v3"), "d.yaml": cm("d", "v1"), "secret.yaml": secret.replacingOccurrences(of: "hunter2-old", with: "hunter2-new")] {
            try TestEnv.write(t, to: local.appendingPathComponent(f))
        }
        let pr = try fx.fluxs(["plan", "--path-override", "web=\(local.path)"])
        XCTAssertEqual(pr.status, 1, pr.stdout + pr.stderr)
        XCTAssertTrue(pr.stdout.hasSuffix("Plan: 0 to create, 1 to change, 0 to prune.\n"), pr.stdout)
        XCTAssertTrue(pr.stdout.contains("Kustomization \(fx.ns)/web (local:"), pr.stdout)

        // Errors: exit 2, named.
        let bad = try fx.fluxs(["plan", "--path-override", "nope=\(local.path)"])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.contains("--path-override names Kustomization \(fx.ns)/nope, which is not selected"), bad.stderr)
    }
}
