import Foundation
import FluxsTestSupport
import XCTest

/// `logs` (controller pods' logs through the API, flux's formatting; fluxs's own line without controllers),
/// `trigger receiver` (flux's webhook request, and the in-process reconcile) and `completion powershell`.
final class LogsTriggerTests: XCTestCase {
    /// The controller log lines of flux's logs unit test.
    static let podLogs = """
    {"level":"info","ts":"2022-08-02T12:55:34.419Z","msg":"no changes since last reconcilation: observed revision","controller":"gitrepository","controllerGroup":"source.toolkit.fluxcd.io","controllerKind":"GitRepository","gitRepository":{"name":"podinfo","namespace":"default"},"namespace":"default","name":"podinfo","reconcileID":"5ef9b2ef-4ea5-47b7-b887-a247cafc1bce"}
    {"level":"error","ts":"2022-08-02T12:56:04.679Z","logger":"controller.gitrepository","msg":"no changes since last reconcilation: observed revision","controllerGroup":"source.toolkit.fluxcd.io","controllerKind":"GitRepository","gitRepository":{"name":"podinfo","namespace":"flux-system"},"name":"flux-system","namespace":"flux-system","reconcileID":"543ef9b2ef-4ea5-47b7-b887-a247cafc1bce"}
    {"level":"error","ts":"2022-08-02T12:56:34.961Z","logger":"controller.kustomization","msg":"no changes since last reconcilation: observed revision","reconciler group":"kustomize.toolkit.fluxcd.io","reconciler kind":"Kustomization","name":"flux-system","namespace":"flux-system"}
    {"level":"info","ts":"2022-08-02T12:56:34.961Z","logger":"controller.kustomization","msg":"no changes since last reconcilation: observed revision","reconciler group":"kustomize.toolkit.fluxcd.io","reconciler kind":"Kustomization","name":"podinfo","namespace":"default"}
    {"level":"info","ts":"2022-08-02T12:56:34.961Z","logger":"controller.gitrepository","msg":"no changes since last reconcilation: observed revision","reconciler group":"source.toolkit.fluxcd.io","reconciler kind":"GitRepository","name":"podinfo","namespace":"default"}
    {"level":"error","ts":"2022-08-02T12:56:34.961Z","logger":"controller.kustomization","msg":"no changes since last reconcilation: observed revision","reconciler group":"kustomize.toolkit.fluxcd.io","reconciler kind":"Kustomization","name":"podinfo","namespace":"flux-system"}

    """

    func kubectl(_ args: [String], stdin: String? = nil) throws -> TestEnv.Run {
        let r = try TestEnv.run("kubectl", args, stdin: stdin)
        XCTAssertEqual(r.status, 0, "kubectl \(args): \(r.stderr)")
        return r
    }

    func sim(_ path: String, _ body: String) throws {
        let e = try TestEnv.require("FLUXS_TEST_KUBE_SERVER", "FLUXS_TEST_KUBE_ADMIN_TOKEN", "FLUXS_TEST_KUBE_CA")
        let r = try TestEnv.run("curl", ["-sf", "--cacert", e["FLUXS_TEST_KUBE_CA"]!, "-H", "Authorization: Bearer \(e["FLUXS_TEST_KUBE_ADMIN_TOKEN"]!)",
                                         "-H", "Content-Type: application/json", "-d", body, e["FLUXS_TEST_KUBE_SERVER"]! + path])
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    func testLogsOfTheControllerPodsAsFluxFormatsThem() throws {
        _ = try TestEnv.require("FLUXS_TEST_KUBECONFIG")
        let fluxNS = "logs-\(UUID().uuidString.prefix(6).lowercased())"
        _ = try kubectl(["create", "namespace", fluxNS])
        _ = try kubectl(["apply", "--server-side", "-f", "-"], stdin: """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: source-controller, namespace: \(fluxNS), labels: {app.kubernetes.io/part-of: flux}}
        spec:
          selector: {matchLabels: {app: source-controller}}
          template:
            metadata: {labels: {app: source-controller}}
            spec: {containers: [{name: manager, image: ghcr.io/fluxcd/source-controller:v1.9.4}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: source-controller-1, namespace: \(fluxNS), labels: {app: source-controller}}
        spec: {containers: [{name: manager, image: ghcr.io/fluxcd/source-controller:v1.9.4}]}
        """)
        let json = String(decoding: try JSONSerialization.data(withJSONObject: ["namespace": fluxNS, "name": "source-controller-1",
                                                                                "container": "manager", "log": Self.podLogs]), as: UTF8.self)
        try sim("/__sim/podlogs", json)
        let dir = GoldenTests.testdata.appendingPathComponent("logs")
        func golden(_ f: String) throws -> String {
            guard let s = try? String(contentsOf: dir.appendingPathComponent(f), encoding: .utf8) else { throw XCTSkip("flux-testdata missing") }
            return s
        }
        let cases: [([String], String)] = [
            (["-A"], "all-logs.txt"), (["-n", "default"], "namespace.txt"), (["--kind", "Kustomization"], "kind.txt"),
            (["--level", "error", "-A"], "log-level.txt"),
            (["-n", "flux-system", "--level", "error", "--kind", "Kustomization", "--name", "podinfo"], "multiple-filters.txt"),
        ]
        for (args, file) in cases {
            let r = try TestEnv.fluxs(["logs", "--flux-namespace", fluxNS] + args)
            XCTAssertEqual(r.status, 0, "\(args): \(r.stderr)")
            XCTAssertEqual(r.stdout, try golden(file), file)
        }
        XCTAssertEqual(try TestEnv.fluxs(["logs", "--flux-namespace", fluxNS, "--tail", "1", "-A"]).stdout.split(separator: "\n").count, 1)
        XCTAssertEqual(try TestEnv.fluxs(["logs", "--since=1m", "--since-time=2022-01-01T00:00:00Z"]).stderr,
                       "✗ at most one of `sinceTime` or `sinceDuration` may be specified\n")
        XCTAssertEqual(try TestEnv.fluxs(["logs", "extra"]).stderr, "✗ no argument required\n")
        // Without controllers, fluxs says where its own records are.
        let none = try TestEnv.fluxs(["logs", "--flux-namespace", "nothing-here"])
        XCTAssertEqual(none.status, 1)
        XCTAssertTrue(none.stderr.hasPrefix("✗ no Flux pods found in namespace \"nothing-here\": fluxs reconciles in its own process and runs no controllers"), none.stderr)
        XCTAssertTrue(none.stderr.contains("fluxs events"), none.stderr)
    }

    func testTriggerReceiverSendsFluxsRequest() throws {
        let e = try TestEnv.require("FLUXS_TEST_WEBHOOK")
        let sink = e["FLUXS_TEST_WEBHOOK"]!
        _ = try TestEnv.run("curl", ["-s", "-X", "DELETE", sink + "/__sink/requests"])
        let r = try TestEnv.fluxs(["trigger", "receiver", "my-receiver", "--type=generic-hmac", "--token=my-token", "--url=\(sink)/base/",
                                   "--payload={\"image\":\"ghcr.io/org/app:v1.0.0\"}", "-n", "apps"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr, "► triggering Receiver apps/my-receiver\n✔ Receiver apps/my-receiver triggered\n")
        let got = try TestEnv.run("curl", ["-s", sink + "/__sink/requests"]).stdout
        let req = ((try JSONSerialization.jsonObject(with: Data(got.utf8)) as? [String: Any])?["requests"] as? [[String: Any]])?.last
        let hook = "/base/hook/" + sha256Hex("my-token" + "my-receiver" + "apps")
        XCTAssertEqual(req?["path"] as? String, hook)
        let headers = (req?["headers"] as? [String: String]) ?? [:]
        let signature = headers.first { $0.key.lowercased() == "x-signature" }?.value ?? ""
        XCTAssertTrue(signature.hasPrefix("sha256=") && signature.count == 71, "\(headers)")
        XCTAssertEqual(try TestEnv.fluxs(["trigger", "receiver", "x", "--url=\(sink)"]).stderr, "✗ --token is required for --type=generic\n")
        // a permanent failure is not retried
        _ = try TestEnv.run("curl", ["-s", "-d", "{\"count\": 1, \"status\": 401}", sink + "/__sink/fail"])
        let denied = try TestEnv.fluxs(["trigger", "receiver", "x", "--token=t", "--url=\(sink)", "--retry-delay=1s"])
        XCTAssertEqual(denied.status, 1)
        XCTAssertTrue(denied.stderr.contains("failed with status 401 Unauthorized"), denied.stderr)
    }

    func sha256Hex(_ s: String) -> String {
        let r = try? TestEnv.run("sh", ["-c", "printf %s \"$0\" | sha256sum | cut -d' ' -f1", s])
        return (r?.stdout ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func testTriggerReceiverReconcilesItsResourcesHere() throws {
        let e = try TestEnv.require("FLUXS_TEST_KUBECONFIG", "FLUXS_TEST_GIT_ROOT", "FLUXS_TEST_GIT_HTTP")
        XCTAssertEqual(try TestEnv.fluxs(["install"]).status, 0)
        let ns = "trig-\(UUID().uuidString.prefix(6).lowercased())"
        _ = try kubectl(["create", "namespace", ns])
        let repo = try GitFixture(root: e["FLUXS_TEST_GIT_ROOT"]!, files: ["cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"])
        let storage = try TestEnv.tempDir("fluxs-storage")
        func fluxs(_ args: [String]) throws -> TestEnv.Run { try TestEnv.fluxs(args + ["-n", ns], env: ["FLUXS_STORAGE_PATH": storage.path]) }
        XCTAssertEqual(try fluxs(["create", "source", "git", "app", "--url=\(e["FLUXS_TEST_GIT_HTTP"]!)/git/\(repo.name).git", "--branch=main"]).status, 0)
        XCTAssertEqual(try fluxs(["create", "secret", "receiver", "hook-token", "--type=generic", "--hostname=flux.example.com"]).status, 0)
        _ = try kubectl(["apply", "--server-side", "-f", "-"], stdin: try fluxs(["create", "receiver", "hook", "--type=generic", "--secret-ref=hook-token",
                                                                                  "--resource=GitRepository/app", "--export"]).stdout)
        try repo.commit(["cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n"], "second")
        let head = try repo.git("rev-parse", "HEAD")
        let r = try fluxs(["trigger", "receiver", "hook"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr, """
        ► triggering Receiver \(ns)/hook in this process (as notification-controller would on a valid request)
        ► annotating GitRepository app in \(ns) namespace
        ✔ fetched revision main@sha1:\(head)
        ✔ Receiver \(ns)/hook triggered

        """)
        XCTAssertEqual(try TestEnv.run("kubectl", ["get", "gitrepository", "app", "-n", ns, "-o", "jsonpath={.status.artifact.revision}"]).stdout, "main@sha1:\(head)")
    }

    func testPowerShellCompletionScript() throws {
        let r = try TestEnv.fluxs(["completion", "powershell"])
        XCTAssertEqual(r.status, 0)
        XCTAssertTrue(r.stdout.contains("Register-ArgumentCompleter -CommandName 'fluxs'"), r.stdout)
        XCTAssertTrue(r.stdout.contains("$Program __completeNoDesc $Arguments"), r.stdout)
        let checkedIn = try String(contentsOf: TestEnv.packageRoot.appendingPathComponent("completions/fluxs.ps1"), encoding: .utf8)
        XCTAssertEqual(r.stdout, checkedIn, "completions/fluxs.ps1 is stale: regenerate it with `fluxs completion powershell > completions/fluxs.ps1`")
        // what the script asks: the words before the cursor, descriptions off
        let asked = try TestEnv.fluxs(["__completeNoDesc", "get", "sources", "g"])
        XCTAssertEqual(asked.stdout, "git\n:4\n")
    }
}
