import Foundation
import FluxsTestSupport
import XCTest

/// `fluxs sync` and `reconcile kustomization --with-dependents` against the API simulator and the real git server:
/// a bootstrap layout brought to Ready by one command (cascading), a dependsOn graph with a failure, a suspended
/// object and a cycle, the JSON report checked against docs/sync-report.schema.json.
final class SyncTests: XCTestCase {
    var fx: ReconcileFixture!

    override func setUpWithError() throws { fx = try ReconcileFixture(prefix: "sync") }
    override func tearDownWithError() throws { fx?.cleanUp() }

    func configMap(_ name: String) -> String { "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \(name)\n  namespace: \(fx.apps)\ndata: {k: v}\n" }

    func kustomization(_ name: String, path: String, source: String = "fleet", dependsOn: [String] = [], suspend: Bool = false) -> String {
        var s = """
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
            name: \(source)

        """
        if suspend { s += "  suspend: true\n" }
        if !dependsOn.isEmpty { s += "  dependsOn:\n" + dependsOn.map { "  - name: \($0)\n" }.joined() }
        return s
    }

    func json(_ r: TestEnv.Run) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout + r.stderr)
    }

    func results(_ doc: [String: Any]) -> [String: [String: Any]] {
        var out: [String: [String: Any]] = [:]
        for r in doc["results"] as? [[String: Any]] ?? [] { out["\(r["kind"]!)/\(r["name"]!)"] = r }
        return out
    }

    /// The report validated with python3-jsonschema against the schema in docs/.
    func validate(_ report: String) throws {
        let schema = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/sync-report.schema.json").path
        let script = "import json,sys,jsonschema; jsonschema.validate(json.load(sys.stdin), json.load(open(sys.argv[1])))"
        let r = try TestEnv.run("python3", ["-c", script, schema], stdin: report)
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    /// The bootstrap layout: `root` applies a second GitRepository and two Kustomizations (one depending on the
    /// other); none of them exists before the sync. One `fluxs sync` brings all of them to Ready.
    func testBootstrapLayoutReadyInOneSync() throws {
        let apps = try GitFixture(root: fx.env["FLUXS_TEST_GIT_ROOT"]!, files: ["infra/cm.yaml": configMap("infra"), "app/cm.yaml": configMap("app")])
        let appsSource = """
        apiVersion: source.toolkit.fluxcd.io/v1
        kind: GitRepository
        metadata:
          name: apps
          namespace: \(fx.ns)
        spec:
          interval: 1m
          url: \(fx.env["FLUXS_TEST_GIT_HTTP"]!)/git/\(apps.name).git
          ref:
            branch: main

        """
        _ = try fx.source(["clusters/dev/apps.yaml": appsSource + "---\n" + kustomization("infra", path: "./infra", source: "apps")
                           + "---\n" + kustomization("app", path: "./app", source: "apps", dependsOn: ["infra"])])
        XCTAssertEqual(try fx.kubectl("apply", "-f", "-", stdin: kustomization("root", path: "./clusters/dev")).status, 0)

        let r = try fx.fluxs(["sync", "-o", "json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        try validate(r.stdout)
        let doc = try json(r)
        let got = results(doc)
        XCTAssertEqual(Set(got.keys), ["GitRepository/fleet", "Kustomization/root", "GitRepository/apps", "Kustomization/infra", "Kustomization/app"])
        for (k, v) in got { XCTAssertEqual(v["result"] as? String, "succeeded", "\(k): \(v)") }
        XCTAssertEqual(got["Kustomization/app"]?["via"] as? String, "Kustomization/\(fx.ns)/root")
        XCTAssertEqual(got["Kustomization/root"]?["created"] as? Int, 3)
        for name in ["root", "infra", "app"] { XCTAssertEqual(try fx.ready(name).status, "True", name) }
        XCTAssertEqual(try fx.ready("apps", kind: "gitrepository").status, "True")
        XCTAssertEqual(try fx.configMaps(), ["app", "infra"])
        // infra before app (dependsOn), root before what it applies.
        let err = r.stderr
        func at(_ s: String) -> String.Index { err.range(of: s)?.lowerBound ?? err.endIndex }
        XCTAssertLessThan(at("✔ Kustomization/\(fx.ns)/infra reconciled"), at("► reconciling Kustomization/\(fx.ns)/app"), err)
        XCTAssertLessThan(at("✔ Kustomization/\(fx.ns)/root reconciled"), at("► reconciling GitRepository/\(fx.ns)/apps"), err)
        // The same events as `reconcile` records.
        let events = try fx.kubectl("get", "events", "-n", fx.ns, "-o", "jsonpath={range .items[*]}{.involvedObject.name}/{.reason}{\"\\n\"}{end}").stdout
        XCTAssertTrue(events.contains("app/ReconciliationSucceeded"), events)

        // Again: nothing changes, every object reconciled once more, exit 0.
        let again = try fx.fluxs(["sync"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stdout.hasPrefix("OBJECT"), again.stdout)
        XCTAssertEqual(again.stdout.split(separator: "\n").filter { $0.contains("succeeded") }.count, 5, again.stdout)
    }

    /// Ten Kustomizations: a chain with a failure in the middle, a suspended one, an independent one and a cycle.
    func testGraphFailureSuspendedCycle() throws {
        var files = ["ok/cm.yaml": configMap("ok")]
        let specs: [(String, String, [String], Bool)] = [
            ("a", "./ok", [], false), ("b", "./ok", ["a"], false), ("c", "./missing", ["b"], false), ("d", "./ok", ["c"], false),
            ("e", "./ok", ["d"], false), ("f", "./ok", [], false), ("g", "./ok", [], true), ("h", "./ok", ["f"], false),
            ("p", "./ok", ["q"], false), ("q", "./ok", ["p"], false),
        ]
        files["unused.yaml"] = "# nothing\n"
        _ = try fx.source(files)
        let all = specs.map { kustomization($0.0, path: $0.1, dependsOn: $0.2, suspend: $0.3) }.joined(separator: "---\n")
        XCTAssertEqual(try fx.kubectl("apply", "-f", "-", stdin: all).status, 0)

        // The plan first: order and cycle, nothing reconciled.
        let dry = try fx.fluxs(["sync", "--dry-run", "-o", "json"])
        XCTAssertEqual(dry.status, 1, dry.stderr)
        try validate(dry.stdout)
        let planned = results(try json(dry))
        XCTAssertEqual(planned["Kustomization/a"]?["result"] as? String, "planned")
        XCTAssertEqual(planned["Kustomization/a"]?["runs"] as? Int, 0)
        XCTAssertEqual(planned["Kustomization/g"]?["result"] as? String, "suspended")
        XCTAssertEqual(planned["Kustomization/p"]?["result"] as? String, "failed")
        XCTAssertEqual(try fx.jsonpath("kustomization", "a", ".status.lastAppliedRevision"), "")

        let r = try fx.fluxs(["sync", "-o", "json", "--concurrency", "3"])
        XCTAssertEqual(r.status, 1, r.stderr)
        try validate(r.stdout)
        let doc = try json(r)
        let got = results(doc)
        func outcome(_ n: String) -> String { got["Kustomization/\(n)"]?["result"] as? String ?? "absent" }
        for n in ["a", "b", "f", "h"] { XCTAssertEqual(outcome(n), "succeeded", n); XCTAssertEqual(try fx.ready(n).status, "True", n) }
        XCTAssertEqual(got["GitRepository/fleet"]?["result"] as? String, "succeeded")
        XCTAssertEqual(outcome("c"), "failed")
        XCTAssertEqual(try fx.ready("c").status, "False")
        XCTAssertEqual(outcome("d"), "skipped")
        XCTAssertEqual(got["Kustomization/d"]?["message"] as? String, "dependency Kustomization/\(fx.ns)/c failed")
        XCTAssertEqual(outcome("e"), "skipped")
        XCTAssertEqual(got["Kustomization/e"]?["message"] as? String, "dependency Kustomization/\(fx.ns)/d was skipped")
        XCTAssertEqual(try fx.jsonpath("kustomization", "d", ".status.conditions"), "", "a skipped object is not touched")
        XCTAssertEqual(outcome("g"), "suspended")
        XCTAssertEqual(try fx.jsonpath("kustomization", "g", ".status.conditions"), "")
        for n in ["p", "q"] {
            XCTAssertEqual(outcome(n), "failed", n)
            let m = got["Kustomization/\(n)"]?["message"] as? String ?? ""
            XCTAssertTrue(m.hasPrefix("dependency cycle: Kustomization/\(fx.ns)/"), m)
            XCTAssertTrue(m.contains("Kustomization/\(fx.ns)/p") && m.contains("Kustomization/\(fx.ns)/q"), m)
        }
        let summary = doc["summary"] as? [String: Int] ?? [:]
        XCTAssertEqual(summary["succeeded"], 5)
        XCTAssertEqual(summary["failed"], 3)
        XCTAssertEqual(summary["skipped"], 2)
        XCTAssertEqual(summary["suspended"], 1)
        let err = r.stderr
        func at(_ s: String) -> String.Index { err.range(of: s)?.lowerBound ?? err.endIndex }
        XCTAssertLessThan(at("✔ Kustomization/\(fx.ns)/a reconciled"), at("► reconciling Kustomization/\(fx.ns)/b"), err)
        XCTAssertLessThan(at("✔ GitRepository/\(fx.ns)/fleet reconciled"), at("► reconciling Kustomization/\(fx.ns)/a"), err)
        XCTAssertTrue(err.contains("⚠️ Kustomization/\(fx.ns)/d skipped: dependency Kustomization/\(fx.ns)/c failed"), err)

        // With the failure fixed, `reconcile kustomization b --with-dependents` brings the chain up: b, c, d, e only.
        XCTAssertEqual(try fx.kubectl("patch", "kustomization", "c", "-n", fx.ns, "--type=merge", "-p", #"{"spec":{"path":"./ok"}}"#).status, 0)
        let dep = try fx.fluxs(["reconcile", "kustomization", "b", "--with-dependents"])
        XCTAssertEqual(dep.status, 0, dep.stderr)
        XCTAssertTrue(dep.stderr.contains("✔ 4 objects reconciled"), dep.stderr)
        XCTAssertFalse(dep.stderr.contains("Kustomization/\(fx.ns)/a "), dep.stderr)
        for n in ["c", "d", "e"] { XCTAssertEqual(try fx.ready(n).status, "True", n) }
        XCTAssertEqual(dep.stdout, "")
    }
}
