import Foundation
import FluxsTestSupport
import XCTest

/// `fluxs reconcile image repository|policy` in this process against the test environment's docker-registry.
final class ImageReconcileTests: XCTestCase {
    var ns = ""
    var e: [String: String] = [:]
    var repo = ""

    override func setUpWithError() throws {
        e = try TestEnv.require("FLUXS_TEST_KUBECONFIG", "FLUXS_TEST_REGISTRY", "FLUXS_TEST_REGISTRY_AUTH", "FLUXS_TEST_REGISTRY_USER",
                                "FLUXS_TEST_REGISTRY_PASSWORD")
        let id = UUID().uuidString.prefix(6).lowercased()
        ns = "img-\(id)"
        repo = "team-\(id)/app"
        XCTAssertEqual(try TestEnv.fluxs(["install", "--components-extra=image-reflector-controller,image-automation-controller"]).status, 0)
        XCTAssertEqual(try TestEnv.run("kubectl", ["create", "namespace", ns]).status, 0)
    }

    func push(_ registry: String, _ tags: [String], creds: String? = nil) throws {
        var args = [TestEnv.packageRoot.appendingPathComponent("tools/testenv/testenv.py").path, "push-image", "--registry", registry, repo] + tags
        if let creds { args += ["--creds", creds] }
        let r = try TestEnv.run("python3", args)
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    func fluxs(_ args: [String]) throws -> TestEnv.Run { try TestEnv.fluxs(args + ["-n", ns]) }

    func jsonpath(_ kind: String, _ name: String, _ path: String) throws -> String {
        try TestEnv.run("kubectl", ["get", kind, name, "-n", ns, "-o", "jsonpath={\(path)}"]).stdout
    }

    func testScanAndSemverSelection() throws {
        let registry = e["FLUXS_TEST_REGISTRY"]!
        try push(registry, ["6.3.5", "6.3.6", "6.4.0-rc.1", "7.0.0", "sha256-abc.sig"])
        let image = "\(registry)/\(repo)"
        let r = try fluxs(["create", "image", "repository", "app", "--image=\(image)", "--interval=1m"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try jsonpath("imagerepository", "app", ".status.lastScanResult.tagCount"), "4")   // the .sig tag is excluded
        XCTAssertEqual(try jsonpath("imagerepository", "app", ".status.canonicalImageName"), image)
        XCTAssertEqual(try jsonpath("imagerepository", "app", ".status.conditions[?(@.type==\"Ready\")].message"), "successful scan: found 4 tags")
        XCTAssertEqual(try fluxs(["reconcile", "image", "repository", "app"]).stderr.split(separator: "\n").last, "✔ scan fetched 4 tags")
        let p = try fluxs(["create", "image", "policy", "app", "--image-ref=app", "--select-semver=>=6.3.0 <7.0.0"])
        XCTAssertEqual(p.status, 0, p.stderr)
        XCTAssertEqual(try jsonpath("imagepolicy", "app", ".status.latestRef.tag"), "6.3.6")   // no pre-release unless the range asks
        XCTAssertEqual(try jsonpath("imagepolicy", "app", ".status.conditions[?(@.type==\"Ready\")].message"),
                       "Latest image tag for \(image) resolved to 6.3.6")
        // A new tag is picked up; the previous one is remembered.
        try push(registry, ["6.3.7"])
        let again = try fluxs(["reconcile", "image", "policy", "app"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stderr.hasSuffix("✔ selected ref \(image):6.3.7\n"), again.stderr)
        XCTAssertEqual(try jsonpath("imagepolicy", "app", ".status.observedPreviousRef.tag"), "6.3.6")
        let get = try fluxs(["get", "images", "policy"])
        XCTAssertTrue(get.stdout.contains("app \t\(image)\t6.3.7\tTrue \tLatest image tag for \(image) resolved to 6.3.7"), get.stdout)
        // A range nothing satisfies.
        let none = try fluxs(["create", "image", "policy", "none", "--image-ref=app", "--select-semver=>=9.0.0"])
        XCTAssertEqual(none.status, 1)
        XCTAssertTrue(none.stderr.contains("unable to determine latest version from provided list"), none.stderr)
    }

    func testFilterTagsExtractAndOrders() throws {
        let registry = e["FLUXS_TEST_REGISTRY"]!
        try push(registry, ["main-abc123-1700000100", "main-def456-1700000300", "main-0a1b2c-1700000200", "dev-fff000-1800000000", "b", "a", "c"])
        XCTAssertEqual(try fluxs(["create", "image", "repository", "app", "--image=\(registry)/\(repo)", "--interval=1m"]).status, 0)
        let numerical = try fluxs(["create", "image", "policy", "builds", "--image-ref=app", "--select-numeric=asc",
                                   "--filter-regex=^main-[a-f0-9]+-(?P<ts>[0-9]+)", "--filter-extract=$ts"])
        XCTAssertEqual(numerical.status, 0, numerical.stderr)
        XCTAssertEqual(try jsonpath("imagepolicy", "builds", ".status.latestRef.tag"), "main-def456-1700000300")
        XCTAssertEqual(try fluxs(["create", "image", "policy", "alpha", "--image-ref=app", "--select-alpha=desc", "--filter-regex=^[a-c]$"]).status, 0)
        XCTAssertEqual(try jsonpath("imagepolicy", "alpha", ".status.latestRef.tag"), "a")
    }

    func testUpdateAutomationCommitsAndPushesTheSelectedTag() throws {
        let git = try TestEnv.require("FLUXS_TEST_GIT_ROOT", "FLUXS_TEST_GIT_HTTP")
        let registry = e["FLUXS_TEST_REGISTRY"]!
        let image = "\(registry)/\(repo)"
        try push(registry, ["6.3.5", "6.3.6"])
        let deploy = """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: app # not an image
        spec:
          template:
            spec:
              containers:
              - name: app
                image: \(image):6.3.5 # {"$imagepolicy": "\(ns):app"}
                env:
                - name: VERSION
                  value: "6.3.5" # {"$imagepolicy": "\(ns):app:tag"}
                - name: UNRELATED
                  value: "1.0" # {"$imagepolicy": "\(ns):other"}

        """
        let fleet = try GitFixture(root: git["FLUXS_TEST_GIT_ROOT"]!, files: ["apps/deploy.yaml": deploy, "outside/deploy.yaml": deploy])
        let storage = try TestEnv.tempDir("fluxs-storage")
        defer { try? FileManager.default.removeItem(at: storage) }
        func run(_ args: [String]) throws -> TestEnv.Run { try TestEnv.fluxs(args + ["-n", ns], env: ["FLUXS_STORAGE_PATH": storage.path]) }
        XCTAssertEqual(try run(["create", "source", "git", "fleet", "--url=\(git["FLUXS_TEST_GIT_HTTP"]!)/git/\(fleet.name).git", "--branch=main"]).status, 0)
        XCTAssertEqual(try run(["create", "image", "repository", "app", "--image=\(image)", "--interval=1m"]).status, 0)
        // The image automation events reach Alerts (a generic provider on the webhook sink).
        let sink = try TestEnv.require("FLUXS_TEST_WEBHOOK")["FLUXS_TEST_WEBHOOK"]!
        XCTAssertEqual(try run(["create", "alert-provider", "images", "--type=generic", "--address=\(sink)/\(ns)/images"]).status, 0)
        XCTAssertEqual(try run(["create", "alert", "images", "--provider-ref=images", "--event-source=ImagePolicy/*",
                                "--event-source=ImageUpdateAutomation/*"]).status, 0)
        XCTAssertEqual(try run(["create", "image", "policy", "app", "--image-ref=app", "--select-semver=>=6.0.0"]).status, 0)
        let created = try run(["create", "image", "update", "fleet", "--git-repo-ref=fleet", "--git-repo-path=./apps", "--checkout-branch=main",
                               "--push-branch=main", "--author-name=fluxs", "--author-email=fluxs@example.com",
                               "--commit-template={{range .Changed.Changes}}{{print .OldValue}} -> {{println .NewValue}}{{end}}"])
        XCTAssertEqual(created.status, 0, created.stderr)
        func remote(_ args: String...) throws -> String {
            try TestEnv.run("git", ["--git-dir", fleet.bare] + args).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        XCTAssertEqual(try remote("log", "-1", "--format=%an <%ae>%n%B", "main"), "fluxs <fluxs@example.com>\n\(image):6.3.5 -> \(image):6.3.6\n6.3.5 -> 6.3.6")
        let updated = try remote("show", "main:apps/deploy.yaml")
        XCTAssertEqual(updated, deploy.replacing("\(image):6.3.5 #", with: "\(image):6.3.6 #").replacing("\"6.3.5\" #", with: "\"6.3.6\" #")
                        .trimmingCharacters(in: .whitespacesAndNewlines))
        XCTAssertEqual(try remote("show", "main:outside/deploy.yaml"), deploy.trimmingCharacters(in: .whitespacesAndNewlines))   // outside the path
        let head = try remote("rev-parse", "main")
        XCTAssertEqual(try jsonpath("imageupdateautomation", "fleet", ".status.lastPushCommit"), head)
        XCTAssertEqual(try jsonpath("imageupdateautomation", "fleet", ".status.conditions[?(@.type==\"Ready\")].message"),
                       "pushed commit '\(head.prefix(7))' to branch 'main'")
        let sent = try TestEnv.run("curl", ["-sf", "\(sink)/__sink/requests"]).stdout
        let events = ((try JSONSerialization.jsonObject(with: Data(sent.utf8)) as? [String: Any])?["requests"] as? [[String: Any]] ?? [])
            .filter { $0["path"] as? String == "/\(ns)/images" }.compactMap { $0["body"] as? [String: Any] }
        XCTAssertEqual(events.map { "\(($0["involvedObject"] as? [String: Any])?["kind"] ?? "") \($0["reason"] ?? "")" },
                       ["ImagePolicy Succeeded", "ImageUpdateAutomation Succeeded"])
        XCTAssertEqual(events.last?["message"] as? String,
                       "pushed commit '\(head.prefix(7))' to branch 'main'\n\(image):6.3.5 -> \(image):6.3.6\n6.3.5 -> 6.3.6\n")
        XCTAssertEqual(events.last?["reportingController"] as? String, "image-automation-controller")
        // Nothing new: no commit.
        let again = try run(["reconcile", "image", "update", "fleet"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stderr.hasSuffix("✔ repository up-to-date\n"), again.stderr)
        XCTAssertEqual(try remote("rev-parse", "main"), head)
        // A new tag: the policy moves, the next run commits on top of the last push.
        try push(registry, ["6.4.0"])
        XCTAssertEqual(try run(["reconcile", "image", "policy", "app"]).status, 0)
        XCTAssertEqual(try run(["reconcile", "image", "update", "fleet"]).status, 0)
        XCTAssertEqual(try remote("rev-parse", "main~1"), head)
        XCTAssertTrue(try remote("show", "main:apps/deploy.yaml").contains("\(image):6.4.0 # {"))
    }

    func testRegistryCredentials() throws {
        let registry = e["FLUXS_TEST_REGISTRY_AUTH"]!
        let user = e["FLUXS_TEST_REGISTRY_USER"]!, pass = e["FLUXS_TEST_REGISTRY_PASSWORD"]!
        try push(registry, ["1.0.0", "1.1.0"], creds: "\(user):\(pass)")
        let denied = try fluxs(["create", "image", "repository", "private", "--image=\(registry)/\(repo)", "--interval=1m"])
        XCTAssertEqual(denied.status, 1)
        XCTAssertTrue(denied.stderr.contains("requires authentication"), denied.stderr)
        XCTAssertEqual(try jsonpath("imagerepository", "private", ".status.conditions[?(@.type==\"Ready\")].reason"), "AuthenticationFailed")
        XCTAssertEqual(try TestEnv.run("kubectl", ["create", "secret", "docker-registry", "regcred", "-n", ns, "--docker-server=\(registry)",
                                                   "--docker-username=\(user)", "--docker-password=\(pass)"]).status, 0)
        let ok = try fluxs(["create", "image", "repository", "private", "--image=\(registry)/\(repo)", "--interval=1m", "--secret-ref=regcred"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertEqual(try jsonpath("imagerepository", "private", ".status.lastScanResult.tagCount"), "2")
        XCTAssertFalse(ok.stderr.contains(pass) || denied.stderr.contains(pass))
        // Wrong password: an authentication failure, the password never printed.
        XCTAssertEqual(try TestEnv.run("kubectl", ["create", "secret", "docker-registry", "wrong", "-n", ns, "--docker-server=\(registry)",
                                                   "--docker-username=\(user)", "--docker-password=not-\(pass)"]).status, 0)
        let wrong = try fluxs(["create", "image", "repository", "wrong", "--image=\(registry)/\(repo)", "--interval=1m", "--secret-ref=wrong"])
        XCTAssertEqual(wrong.status, 1)
        XCTAssertTrue(wrong.stderr.contains("authentication to \(registry) failed"), wrong.stderr)
        XCTAssertFalse(wrong.stderr.contains(pass))
    }
}
