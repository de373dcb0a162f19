import Foundation
import FluxsTestSupport
import XCTest

/// Fail closed (docs/reliability.md): a revision fluxs cannot read completely applies and prunes nothing and says
/// which file; a run that fails part-way keeps everything it applied in the inventory; durations beyond Go's range are
/// refused, not a crash. Against the API simulator and the real git server.
final class FailClosedTests: XCTestCase {
    var fx: ReconcileFixture!

    override func setUpWithError() throws { fx = try ReconcileFixture(prefix: "fc") }
    override func tearDownWithError() throws { fx?.cleanUp() }

    static func configMap(_ name: String, _ value: String = "1") -> String {
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \(name)\ndata:\n  v: \"\(value)\"\n"
    }

    /// A repository without kustomization.yaml (a generated kustomization), three objects, prune on.
    func start() throws -> GitFixture {
        let repo = try fx.source(["apps/a.yaml": Self.configMap("a"), "apps/b.yaml": Self.configMap("b"),
                                  "apps/sub/c.yml": Self.configMap("c"), "apps/notes.txt": "not a manifest\n"])
        let r = try fx.fluxs(["create", "kustomization", "apps", "--source=GitRepository/fleet", "--path=./apps", "--prune=true",
                              "--interval=10m", "--target-namespace=\(fx.apps)"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try fx.configMaps(), ["a", "b", "c"])
        return repo
    }

    /// The change is refused with `message`, BuildFailed, exit 1, and every live object stays.
    func assertRefused(_ repo: GitFixture, _ files: [String: String?], _ message: String, file: StaticString = #filePath, line: UInt = #line) throws {
        try repo.commit(files, "bad input")
        let r = try fx.fluxs(["reconcile", "kustomization", "apps", "--with-source"])
        XCTAssertEqual(r.status, 1, r.stderr, file: file, line: line)
        XCTAssertTrue(r.stderr.contains("✗ Kustomization reconciliation failed: \(message)"), r.stderr, file: file, line: line)
        XCTAssertEqual(try fx.ready("apps").reason, "BuildFailed", file: file, line: line)
        XCTAssertEqual(try fx.ready("apps").message, message, file: file, line: line)
        XCTAssertEqual(try fx.configMaps(), ["a", "b", "c"], "nothing pruned", file: file, line: line)
        XCTAssertEqual(try fx.inventory("apps").count, 3, file: file, line: line)
        // `fluxs build` and `fluxs diff` of the same tree say the same, with their exit codes (diff: 2 is an error).
        let path = repo.work.appendingPathComponent("apps").path
        let build = try fx.fluxs(["build", "kustomization", "apps", "--path", path])
        XCTAssertEqual(build.status, 1, file: file, line: line)
        XCTAssertEqual(build.stderr, "✗ " + message.replacing("apps/", with: path + "/", maxReplacements: 1) + "\n", file: file, line: line)
        let diff = try fx.fluxs(["diff", "kustomization", "apps", "--path", path])
        XCTAssertEqual(diff.status, 2, file: file, line: line)
        XCTAssertEqual(diff.stderr, build.stderr, file: file, line: line)
    }

    func testUnreadableFilesApplyNothingAndPruneNothing() throws {
        let repo = try start()
        // A live object's file made malformed (an unclosed flow sequence).
        try assertRefused(repo, ["apps/b.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\ndata: [x, y\n"],
                          "failed to decode Kubernetes YAML from apps/b.yaml: MalformedYAMLError: yaml: line 4: did not find expected ',' or ']'")
        // Made non-Kubernetes: a mapping without kind, and one without any metadata.
        try assertRefused(repo, ["apps/b.yaml": "metadata:\n  name: b\ndata: {v: \"2\"}\n"],
                          "failed to decode Kubernetes YAML from apps/b.yaml: missing kind in object {{ } {{b } map[] map[]}}")
        try assertRefused(repo, ["apps/b.yaml": Self.configMap("b"), "apps/sub/c.yml": "settings:\n  debug: true\n"],
                          "failed to decode Kubernetes YAML from apps/sub/c.yml: missing Resource metadata")
        // A file deleted together with a malformed edit elsewhere: the deletion is not applied either.
        try assertRefused(repo, ["apps/a.yaml": nil, "apps/sub/c.yml": Self.configMap("c"),
                                 "apps/b.yaml": Self.configMap("b") + "---\n--- nope\n"],
                          "failed to decode Kubernetes YAML from apps/b.yaml: invalid document separator: --- nope")
        // Fixed: the deletion goes through, the rest converges.
        try repo.commit(["apps/b.yaml": Self.configMap("b", "2")], "fixed")
        let r = try fx.fluxs(["reconcile", "kustomization", "apps", "--with-source"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try fx.configMaps(), ["b", "c"])
        XCTAssertEqual(try fx.kubectl("get", "configmap", "b", "-n", fx.apps, "-o", "jsonpath={.data.v}").stdout, "2")
    }

    func testPostBuildSubstitutionErrorsAreErrors() throws {
        let repo = try start()
        try repo.commit(["apps/b.yaml": Self.configMap("b", "${color")], "unclosed")
        XCTAssertEqual(try fx.kubectl("patch", "kustomization", "apps", "-n", fx.ns, "--type=merge",
                                      "-p", "{\"spec\":{\"postBuild\":{\"substitute\":{\"color\":\"blue\"}}}}").status, 0)
        let r = try fx.fluxs(["reconcile", "kustomization", "apps", "--with-source"])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("var substitution failed for 'b': missing closing brace"), r.stderr)
        XCTAssertEqual(try fx.configMaps(), ["a", "b", "c"])
    }

    /// A run that fails after applying some objects keeps them in its inventory, so a later revision that drops them
    /// prunes them instead of orphaning them.
    func testObjectsAppliedBeforeAFailureStayOwned() throws {
        let repo = try start()
        try repo.commit(["apps/d.yaml": Self.configMap("d"), "apps/z-deploy.yaml": """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web}
            spec:
              selector: {matchLabels: {app: web}}
              template:
                metadata: {labels: {app: web}}
                spec: {containers: [{name: web, image: nginx}]}

            """], "more")
        // The Deployment's real apply (not its dry run) fails every time; the ConfigMaps are applied before it.
        try fx.fault(["verb": "PATCH", "path": "/namespaces/\(fx.apps)/deployments/web$", "query": "^(?!.*dryRun)", "status": 500, "count": 30])
        let failed = try fx.fluxs(["reconcile", "kustomization", "apps", "--with-source", "--timeout=8s"])
        try fx.clearFaults()
        XCTAssertEqual(failed.status, 1, failed.stderr)
        XCTAssertTrue(failed.stderr.contains("Deployment/\(fx.apps)/web apply failed: "), failed.stderr)
        XCTAssertEqual(try fx.ready("apps").reason, "ReconciliationFailed")
        XCTAssertEqual(try fx.configMaps(), ["a", "b", "c", "d"])
        let ids = try fx.inventory("apps")
        XCTAssertTrue(ids.contains("\(fx.apps)_d__ConfigMap") && ids.contains("\(fx.apps)_web_apps_Deployment"), "\(ids)")
        // Git drops d and the Deployment: they are pruned, nothing is left behind.
        try repo.commit(["apps/d.yaml": nil, "apps/z-deploy.yaml": nil], "drop")
        let r = try fx.fluxs(["reconcile", "kustomization", "apps", "--with-source"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try fx.configMaps(), ["a", "b", "c"])
        XCTAssertEqual(try fx.kubectl("get", "deployments", "-n", fx.apps, "-o", "name").stdout, "")
        XCTAssertEqual(try fx.inventory("apps").count, 3)
    }

    func testDurationsBeyondGoRangeAreRefused() throws {
        _ = try start()
        for (flag, why) in [("--timeout=3000000h", "time: invalid duration \"3000000h\""), ("--timeout=1e13h", "time: unknown unit \"e\" in duration \"1e13h\""),
                            ("--timeout=-5s", "a negative duration is not allowed")] {
            let r = try fx.fluxs(["reconcile", "kustomization", "apps", flag])
            XCTAssertEqual(r.status, 1, flag)
            XCTAssertTrue(r.stderr.hasPrefix("✗ invalid argument \"\(flag.dropFirst(10))\" for \"--timeout\" flag: \(why)"), r.stderr)
        }
        // The API accepts spec.interval 3000000h (its pattern has no range); fluxs refuses it as Go's decoder does.
        XCTAssertEqual(try fx.kubectl("patch", "kustomization", "apps", "-n", fx.ns, "--type=merge", "-p", "{\"spec\":{\"interval\":\"3000000h\"}}").status, 0)
        let r = try fx.fluxs(["reconcile", "kustomization", "apps"])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("spec.interval: time: invalid duration \"3000000h\""), r.stderr)
        XCTAssertEqual(try fx.configMaps(), ["a", "b", "c"])
        XCTAssertEqual(try fx.fluxs(["get", "kustomizations"]).status, 0, "the object stays readable")
    }
}
