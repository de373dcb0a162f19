import Foundation
import FluxsTestSupport
import XCTest

/// fluxs against flux's own golden files (../shared/reference/flux-testdata), with the
/// fixtures loaded into the API simulator the way flux's tests load them.
final class GoldenTests: XCTestCase {
    static var testdata: URL {
        TestEnv.packageRoot.deletingLastPathComponent().appendingPathComponent("shared/reference/flux-testdata")
    }

    var ns = ""

    nonisolated(unsafe) static var installed = false

    override func setUpWithError() throws {
        _ = try TestEnv.require("FLUXS_TEST_KUBECONFIG")
        guard FileManager.default.fileExists(atPath: Self.testdata.path) else { throw XCTSkip("../shared/reference/flux-testdata is not present") }
        ns = "gt-\(UUID().uuidString.prefix(6).lowercased())"
        if !Self.installed {
            let r = try TestEnv.fluxs(["install", "--components-extra=image-reflector-controller,image-automation-controller"])
            XCTAssertEqual(r.status, 0, r.stderr)
            Self.installed = true
        }
    }

    func load(_ file: String) throws {
        let r = try TestEnv.run("python3", [TestEnv.packageRoot.appendingPathComponent("tools/testenv/fixtures.py").path, "apply",
                                            Self.testdata.appendingPathComponent(file).path, "--ns", ns])
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    func golden(_ file: String) throws -> String {
        let r = try TestEnv.run("python3", [TestEnv.packageRoot.appendingPathComponent("tools/testenv/fixtures.py").path, "render",
                                            Self.testdata.appendingPathComponent(file).path, "--ns", ns])
        XCTAssertEqual(r.status, 0, r.stderr)
        return r.stdout
    }

    func fluxs(_ args: [String]) throws -> TestEnv.Run { try TestEnv.fluxs(args + ["-n", ns]) }

    func testGetSourcesGit() throws {
        try load("get/objects.yaml")
        XCTAssertEqual(try fluxs(["get", "sources", "git"]).stdout, try golden("get/get.golden"))
        XCTAssertEqual(try fluxs(["get", "sources", "git", "-l", "sharding.fluxcd.io/key=shard1"]).stdout, try golden("get/get_label_one.golden"))
        XCTAssertEqual(try fluxs(["get", "sources", "git", "-l", "sharding.fluxcd.io/key notin (shard1, shard2)"]).stdout,
                       try golden("get/get_label_two.golden"))
    }

    func testStatusSelectors() throws {
        try load("get/status_objects.yaml")
        XCTAssertEqual(try fluxs(["get", "sources", "git", "--status-selector", "ready=true"]).stdout, try golden("get/get_status_ready_true.golden"))
        XCTAssertEqual(try fluxs(["get", "sources", "git", "--status-selector", "Ready=False"]).stdout, try golden("get/get_status_ready_false.golden"))
        XCTAssertEqual(try fluxs(["get", "sources", "git", "--status-selector", "Ready!=True"]).stdout, try golden("get/get_status_ready_not_true.golden"))
        let bad = try fluxs(["get", "sources", "git", "--status-selector", "Ready"])
        XCTAssertEqual(bad.status, 1)
        XCTAssertEqual(bad.stderr, "✗ expected status selector in type=status or type!=status format, but found: Ready\n")
    }

    func testNotificationObjectsAreAlwaysReady() throws {
        try load("get/notification_objects.yaml")
        for cmd in [["get", "alerts"], ["get", "alert-providers"], ["get", "all"]] {
            let plain = try fluxs(cmd)
            XCTAssertEqual(plain.status, 0, plain.stderr)
            XCTAssertEqual(try fluxs(cmd + ["--status-selector", "ready=true"]).stdout, plain.stdout, "\(cmd)")
        }
        XCTAssertTrue(try fluxs(["get", "alerts"]).stdout.contains("flux-system\tFalse    \tTrue \tAlert is Ready\t"))
        XCTAssertTrue(try fluxs(["get", "all"]).stdout.contains("provider/slack\tTrue \tProvider is Ready\t\n\n"))
    }

    func testGetAllAndErrors() throws {
        try load("get/kustomization_only.yaml")
        let all = try fluxs(["get", "all"])
        XCTAssertEqual(all.stdout, "NAME                 \tREVISION          \tSUSPENDED\tREADY\tMESSAGE                              \n" +
                       "kustomization/podinfo\tmain@sha1:696f056d\tFalse    \tTrue \tApplied revision: main@sha1:696f056d\t\n\n")
        XCTAssertEqual(try fluxs(["get", "all", "--status-selector", "ready=true"]).stdout, all.stdout)
        XCTAssertEqual(try fluxs(["get", "all", "--status-selector", "foo=bar"]).stdout, "")
        let missing = try fluxs(["get", "ks", "non-existent-resource"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertEqual(missing.stderr, "✗ Kustomization object 'non-existent-resource' not found in \"\(ns)\" namespace\n")
        let none = try fluxs(["get", "hr"])
        XCTAssertEqual(none.stderr, "✗ no HelmRelease objects found in \"\(ns)\" namespace\n")
        XCTAssertEqual(try fluxs(["get", "all", "--watch"]).stderr, "✗ expected a single resource type, but found all\n")
    }

    func testGetMachineReadableOutput() throws {
        try load("get/objects.yaml")
        let json = try fluxs(["get", "sources", "git", "-o", "json"])
        XCTAssertEqual(json.status, 0, json.stderr)
        let list = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(list["kind"] as? String, "List")
        XCTAssertEqual((list["items"] as? [Any])?.count, 3)
        let yaml = try fluxs(["get", "sources", "git", "-o", "yaml"])
        XCTAssertTrue(yaml.stdout.hasPrefix("apiVersion: v1\nitems:\n- apiVersion: source.toolkit.fluxcd.io/v1\n"), yaml.stdout)
        let wide = try fluxs(["get", "sources", "git", "-o", "wide", "-A"])
        XCTAssertTrue(wide.stdout.hasPrefix("NAMESPACE"), wide.stdout)
        XCTAssertTrue(wide.stdout.contains("AGE"), wide.stdout)
        XCTAssertTrue(try fluxs(["get", "sources", "git", "--no-header"]).stdout.hasPrefix("podinfo "))
    }

    func testExportEveryKind() throws {
        try load("export/objects.yaml")
        let cases: [([String], String)] = [
            (["source", "git", "flux-system"], "git-repo"), (["kustomization", "flux-system"], "ks"), (["alert", "flux-system"], "alert"),
            (["alert-provider", "slack"], "provider"), (["image", "policy", "flux-system"], "image-policy"),
            (["image", "repository", "flux-system"], "image-repo"), (["image", "update", "flux-system"], "image-update"),
            (["receiver", "flux-system"], "receiver"), (["source", "bucket", "flux-system"], "bucket"),
            (["source", "helm", "flux-system"], "helm-repo"), (["source", "chart", "flux-system"], "helm-chart"),
            (["helmrelease", "flux-system"], "helm-release"), (["source", "external", "flux-system"], "external-artifact"),
        ]
        for (args, gold) in cases {
            let r = try fluxs(["export"] + args)
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(r.stdout, try golden("export/\(gold).yaml"), gold)
        }
        XCTAssertEqual(try fluxs(["export", "kustomization"]).stderr, "✗ name is required\n")
        XCTAssertEqual(try fluxs(["export", "kustomization", "--all"]).stdout, try golden("export/ks.yaml"))
    }

    func testTree() throws {
        try load("tree/kustomizations.yaml")
        XCTAssertEqual(try fluxs(["tree", "kustomization", "flux-system"]).stdout, try golden("tree/tree.golden"))
        XCTAssertEqual(try fluxs(["tree", "ks", "flux-system", "--compact"]).stdout, try golden("tree/tree-compact.golden"))
        XCTAssertEqual(try fluxs(["tree", "ks", "empty"]).stdout, try golden("tree/tree-empty.golden"))
        let json = try fluxs(["tree", "ks", "flux-system", "-o", "json"])
        let obj = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(((obj["resource"] as! [String: Any])["GroupKind"] as! [String: String])["Kind"], "Kustomization")
        XCTAssertEqual((obj["resources"] as! [Any]).count, 7)
        XCTAssertEqual(try fluxs(["tree", "ks"]).stderr, "✗ kustomization name is required\n")
    }

    func testEvents() throws {
        let events = """
        apiVersion: v1
        kind: Event
        metadata: {name: ev1, namespace: \(ns)}
        involvedObject: {kind: Kustomization, name: podinfo, namespace: \(ns), apiVersion: kustomize.toolkit.fluxcd.io/v1}
        reason: ReconciliationSucceeded
        message: "Reconciliation finished in 1s, next run in 5m0s"
        type: Normal
        count: 1
        firstTimestamp: "2020-01-01T00:00:00Z"
        lastTimestamp: "2020-01-01T00:00:00Z"
        ---
        apiVersion: v1
        kind: Event
        metadata: {name: ev2, namespace: \(ns)}
        involvedObject: {kind: GitRepository, name: podinfo, namespace: \(ns)}
        reason: GitOperationFailed
        message: "failed to checkout"
        type: Warning
        count: 3
        firstTimestamp: "2020-01-02T00:00:00Z"
        lastTimestamp: "2020-01-03T00:00:00Z"
        ---
        apiVersion: v1
        kind: Event
        metadata: {name: ev3, namespace: \(ns)}
        involvedObject: {kind: Pod, name: web}
        reason: Pulled
        message: "not a Flux object"
        type: Normal
        lastTimestamp: "2020-01-04T00:00:00Z"
        """
        XCTAssertEqual(try TestEnv.run("kubectl", ["create", "namespace", ns]).status, 0)
        let r = try TestEnv.run("kubectl", ["apply", "--server-side", "-f", "-"], stdin: events)
        XCTAssertEqual(r.status, 0, r.stderr)
        let all = try fluxs(["events"])
        let lines = all.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 3, all.stdout)
        XCTAssertTrue(lines[0].hasPrefix("LAST SEEN"), lines[0])
        XCTAssertTrue(lines[1].contains("\tNormal \tReconciliationSucceeded\tKustomization/podinfo\tReconciliation finished"), lines[1])
        XCTAssertTrue(lines[2].contains(" (x3 over "), lines[2])
        XCTAssertFalse(all.stdout.contains("Pod/web"))
        XCTAssertEqual(try fluxs(["events", "--types", "Warning"]).stdout.split(separator: "\n").count, 2)
        XCTAssertEqual(try fluxs(["events", "--for", "GitRepository/podinfo"]).stdout.split(separator: "\n").count, 2)
        XCTAssertEqual(try fluxs(["events", "--for", "Thing/x"]).stderr, "✗ 'Thing' is not a recognized Flux kind\n")
        XCTAssertEqual(try fluxs(["events", "--types", "Bad"]).stderr, "✗ type 'Bad' not supported. Supported types are Normal, Warning\n")
    }
}
