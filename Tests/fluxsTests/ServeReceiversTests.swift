import Foundation
import FluxsTestSupport
import XCTest

/// `fluxs serve receivers` as a long-lived process against the API simulator and the git server: the Receiver's
/// status, GitHub signatures (401 without the secret in the log), the event filter, a signed push reconciling the
/// GitRepository in process, unknown paths, SIGTERM.
final class ServeReceiversTests: XCTestCase {
    func testGitHubPushTriggersAReconcileAndBadSignaturesAre401() throws {
        let fx = try ReconcileFixture(prefix: "serve")
        defer { fx.cleanUp() }
        let ns = fx.ns
        let repo = try fx.source(["apps/config.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: podinfo\ndata: {a: b}\n"])
        let token = "hook-token-\(ns)"
        XCTAssertEqual(try TestEnv.run("kubectl", ["apply", "-f", "-"], stdin: """
        apiVersion: v1
        kind: Secret
        metadata: {name: hook, namespace: \(ns)}
        stringData: {token: \(token)}
        ---
        apiVersion: notification.toolkit.fluxcd.io/v1
        kind: Receiver
        metadata: {name: github, namespace: \(ns)}
        spec:
          type: github
          events: [push]
          secretRef: {name: hook}
          resources: [{kind: GitRepository, name: fleet}]
        ---
        apiVersion: notification.toolkit.fluxcd.io/v1
        kind: Receiver
        metadata: {name: gitlab, namespace: \(ns)}
        spec:
          type: gitlab
          secretRef: {name: hook}
          resources: [{kind: GitRepository, name: fleet}]
        ---
        apiVersion: notification.toolkit.fluxcd.io/v1
        kind: Receiver
        metadata: {name: hmac, namespace: \(ns)}
        spec:
          type: generic-hmac
          secretRef: {name: hook}
          resources: [{kind: GitRepository, name: fleet}]
        ---
        apiVersion: notification.toolkit.fluxcd.io/v1
        kind: Receiver
        metadata: {name: missing, namespace: \(ns)}
        spec:
          type: generic
          secretRef: {name: no-such-secret}
          resources: [{kind: GitRepository, name: fleet}]
        """).status, 0)
        let port = try TestEnv.run("python3", ["-c", "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let logFile = FileManager.default.temporaryDirectory.appendingPathComponent("fluxs-serve-\(ns).log")
        FileManager.default.createFile(atPath: logFile.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: logFile) }
        let server = Process()
        server.executableURL = TestEnv.fluxsBinary
        server.arguments = ["serve", "receivers", "--listen", "127.0.0.1:\(port)", "-n", ns, "--concurrent", "2"]
        server.environment = ProcessInfo.processInfo.environment.merging(["FLUXS_STORAGE_PATH": fx.storage.path, "NO_COLOR": "1"]) { $1 }
        server.standardOutput = FileHandle.nullDevice
        server.standardError = try FileHandle(forWritingTo: logFile)
        try server.run()
        defer { if server.isRunning { server.terminate(); server.waitUntilExit() } }
        func log() -> String { (try? String(contentsOf: logFile)) ?? "" }
        func waitFor(_ what: String, _ cond: () throws -> Bool) rethrows {
            for _ in 0..<300 { if try cond() { return }; usleep(100_000) }
            XCTFail("timed out waiting for \(what); log:\n\(log())")
        }
        try waitFor("the server") { log().contains("✔ serving Receivers of the \(ns) namespace on 127.0.0.1:\(port)") }

        // The status the Receiver reconciler writes.
        let path = "/hook/" + (try TestEnv.run("sh", ["-c", "printf %s \"$0\" | sha256sum | cut -d' ' -f1", token + "github" + ns]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines))
        XCTAssertEqual(try fx.jsonpath("receiver", "github", ".status.webhookPath"), path)
        XCTAssertEqual(try fx.ready("github", kind: "receiver").status, "True")
        XCTAssertEqual(try fx.ready("github", kind: "receiver").message, "Receiver initialized for path: \(path)")

        let dir = try TestEnv.tempDir("fluxs-hook")
        defer { try? FileManager.default.removeItem(at: dir) }
        let payload = dir.appendingPathComponent("push.json")
        try TestEnv.write("{\"ref\":\"refs/heads/main\",\"repository\":{\"name\":\"fleet\"}}", to: payload)
        let signature = try TestEnv.run("sh", ["-c", "openssl dgst -sha256 -hmac \"$0\" -r < \"$1\" | cut -d' ' -f1", token, payload.path]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        func post(_ target: String, _ headers: [String]) throws -> String {
            var args = ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "-H", "Content-Type: application/json", "--data-binary", "@\(payload.path)"]
            for h in headers { args += ["-H", h] }
            return try TestEnv.run("curl", args + ["http://127.0.0.1:\(port)\(target)"]).stdout
        }
        // Unsigned, and signed with another secret: 401, logged without the token or the signatures.
        XCTAssertEqual(try post(path, ["X-GitHub-Event: push"]), "401")
        XCTAssertEqual(try post(path, ["X-GitHub-Event: push", "X-Hub-Signature-256: sha256=\(String(repeating: "ab", count: 32))"]), "401")
        try waitFor("the refusal") { log().contains("payload signature check failed (401)") }
        XCTAssertTrue(log().contains("✗ Receiver \(ns)/github: the GitHub signature header is invalid, err: missing signature (401)"), log())
        for secret in [token, signature, String(repeating: "ab", count: 32)] { XCTAssertFalse(log().contains(secret), secret) }
        // An event the Receiver does not take: 400. An unknown path: 404.
        XCTAssertEqual(try post(path, ["X-GitHub-Event: issues", "X-Hub-Signature-256: sha256=\(signature)"]), "400")
        XCTAssertEqual(try post("/hook/" + String(repeating: "0", count: 64), ["X-GitHub-Event: push"]), "404")
        // GitLab's token header and generic-hmac's X-Signature: wrong is 401, right is 200.
        func hookPath(_ name: String) throws -> String { try fx.jsonpath("receiver", name, ".status.webhookPath") }
        XCTAssertEqual(try post(try hookPath("gitlab"), ["X-Gitlab-Token: nope", "X-Gitlab-Event: Push Hook"]), "401")
        XCTAssertEqual(try post(try hookPath("gitlab"), ["X-Gitlab-Token: \(token)", "X-Gitlab-Event: Push Hook"]), "200")
        XCTAssertEqual(try post(try hookPath("hmac"), ["X-Signature: sha256=\(String(repeating: "0", count: 64))"]), "401")
        XCTAssertEqual(try post(try hookPath("hmac"), ["X-Signature: sha256=\(signature)"]), "200")
        // A Receiver whose Secret is missing is not ready and has no path.
        XCTAssertEqual(try fx.ready("missing", kind: "receiver").reason, "TokenNotFound")
        XCTAssertEqual(try hookPath("missing"), "")
        // A signed push of a new commit: 200, the GitRepository annotated and reconciled here to the new revision.
        try repo.commit(["apps/more.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: more\n"], "more")
        let head = try repo.git("rev-parse", "HEAD")
        XCTAssertEqual(try post(path, ["X-GitHub-Event: push", "X-Hub-Signature-256: sha256=\(signature)"]), "200")
        try waitFor("the reconcile") { try fx.jsonpath("gitrepository", "fleet", ".status.artifact.revision") == "main@sha1:\(head)" }
        XCTAssertFalse(try fx.jsonpath("gitrepository", "fleet", ".metadata.annotations.reconcile\\.fluxcd\\.io/requestedAt").isEmpty)
        try waitFor("the reconcile line") { log().contains("✔ GitRepository \(ns)/fleet: fetched revision main@sha1:\(head)") }
        XCTAssertTrue(log().contains("► Receiver \(ns)/github: handling GitHub event: push"), log())

        // SIGTERM: a clean stop, exit 0.
        server.terminate()
        server.waitUntilExit()
        XCTAssertEqual(server.terminationReason, .exit)
        XCTAssertEqual(server.terminationStatus, 0, log())
        XCTAssertTrue(log().hasSuffix("✔ stopped\n"), log())
    }
}
