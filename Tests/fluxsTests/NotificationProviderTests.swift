import Foundation
import FluxsTestSupport
import XCTest

/// Notification providers against the webhook sink (which keeps commit statuses at each API's paths) and the GitHub
/// API simulator: payloads and headers field by field, commit statuses on the revision's SHA for a successful and a
/// failed reconcile, duplicates skipped, the five-minute duplicate-event limit across runs, failed deliveries.
final class NotificationProviderTests: XCTestCase {
    var fx: ReconcileFixture!
    var sink = ""

    override func setUpWithError() throws {
        fx = try ReconcileFixture(prefix: "notify")
        sink = try TestEnv.require("FLUXS_TEST_WEBHOOK")["FLUXS_TEST_WEBHOOK"]!
    }

    override func tearDownWithError() throws {
        _ = try? TestEnv.run("curl", ["-s", "-o", "/dev/null", "-X", "POST", "--data-binary", "{\"count\": 0}", "\(sink)/__sink/fail"])
        fx?.cleanUp()
    }

    func apply(_ yaml: String) throws {
        let r = try TestEnv.run("kubectl", ["apply", "-f", "-"], stdin: yaml)
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    func provider(_ name: String, type: String, address: String, secret: [String: String]) throws {
        let data = secret.sorted { $0.key < $1.key }.map { "  \($0.key): \"\($0.value)\"" }.joined(separator: "\n")
        try apply("""
        apiVersion: v1
        kind: Secret
        metadata: {name: \(name), namespace: \(fx.ns)}
        stringData:
        \(data)
        ---
        apiVersion: notification.toolkit.fluxcd.io/v1beta3
        kind: Provider
        metadata: {name: \(name), namespace: \(fx.ns)}
        spec: {type: \(type), address: "\(address)", secretRef: {name: \(name)}}
        ---
        apiVersion: notification.toolkit.fluxcd.io/v1beta3
        kind: Alert
        metadata: {name: \(name), namespace: \(fx.ns)}
        spec:
          providerRef: {name: \(name)}
          eventSources: [{kind: Kustomization, name: '*'}]
        """)
    }

    func sinkRequests() throws -> [[String: Any]] {
        let data = Data(try TestEnv.run("curl", ["-sf", "\(sink)/__sink/requests"]).stdout.utf8)
        return (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["requests"] as? [[String: Any]] ?? []
    }

    func githubStatuses(_ owner: String, _ repo: String, _ sha: String, api: String, token: String) throws -> [[String: Any]] {
        let r = try TestEnv.run("curl", ["-sf", "-H", "Authorization: token \(token)", "\(api)/repos/\(owner)/\(repo)/commits/\(sha)/statuses"])
        return (try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]]) ?? []
    }

    func testCommitStatusProviders() throws {
        let gh = try TestEnv.require("FLUXS_TEST_GITHUB_API", "FLUXS_TEST_GITHUB_TOKEN", "FLUXS_TEST_GITHUB_OWNER")
        let (api, ghToken, owner) = (gh["FLUXS_TEST_GITHUB_API"]!, gh["FLUXS_TEST_GITHUB_TOKEN"]!, gh["FLUXS_TEST_GITHUB_OWNER"]!)
        let ns = fx.ns
        let ghRepo = "status-\(ns)"
        XCTAssertEqual(try TestEnv.run("curl", ["-sf", "-o", "/dev/null", "-X", "POST", "-H", "Authorization: token \(ghToken)",
                                                 "--data-binary", "{\"name\": \"\(ghRepo)\"}", "\(api)/user/repos"]).status, 0)
        let repo = try fx.source(["apps/config.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: podinfo\ndata: {a: b}\n"])
        try provider("github", type: "github", address: "\(api)/\(owner)/\(ghRepo)", secret: ["token": ghToken])
        try provider("gitlab", type: "gitlab", address: "\(sink)/group/sub/\(ns)-gl.git", secret: ["token": "gl-token-1"])
        try provider("gitea", type: "gitea", address: "\(sink)/owner/\(ns)-gt", secret: ["token": "gt-token-1"])
        try provider("bitbucket", type: "bitbucket", address: "\(sink)/owner/\(ns)-bb.git", secret: ["token": "bb-user:bb-pass-1"])
        try provider("bbserver", type: "bitbucketserver", address: "\(sink)/ctx/scm/PROJ/\(ns)-bbs.git",
                     secret: ["username": "bbs-user", "password": "bbs-pass-1"])
        try provider("azure", type: "azuredevops", address: "\(sink)/org/\(ns)/_git/repo", secret: ["token": "az-pat-1"])
        try provider("generic", type: "generic", address: "\(sink)/\(ns)/generic", secret: [:])
        var uid: [String: String] = [:]
        for p in ["github", "gitlab", "gitea", "bitbucket", "bbserver", "azure"] {
            uid[p] = String(try fx.jsonpath("provider", p, ".metadata.uid").split(separator: "-").first ?? "")
            XCTAssertFalse(uid[p]!.isEmpty)
        }
        func key(_ p: String) -> String { "kustomization/podinfo/\(uid[p]!)" }
        func sha1(_ s: String) throws -> String {
            try TestEnv.run("sh", ["-c", "printf %s \"$0\" | sha1sum | cut -d' ' -f1", s]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let env = ["BITBUCKET_API_BASE_URL": "\(sink)/2.0"]
        let created = try fx.fluxs(["create", "kustomization", "podinfo", "--source=GitRepository/fleet", "--path=./apps", "--prune=true",
                                    "--interval=10m", "--target-namespace=\(fx.apps)"], extraEnv: env)
        XCTAssertEqual(created.status, 0, created.stderr)
        XCTAssertFalse(created.stderr.contains("failed to send"), created.stderr)
        let sha = try repo.git("rev-parse", "HEAD")

        // GitHub (simulator): one success status on the commit, keyed by kind/name/provider uid.
        var statuses = try githubStatuses(owner, ghRepo, sha, api: api, token: ghToken)
        XCTAssertEqual(statuses.count, 1)
        XCTAssertEqual(statuses.first?["state"] as? String, "success")
        XCTAssertEqual(statuses.first?["context"] as? String, key("github"))
        XCTAssertEqual(statuses.first?["description"] as? String, "reconciliation succeeded")

        func mine(_ all: [[String: Any]]) -> [[String: Any]] { all.filter { ($0["path"] as? String ?? "").contains(ns) } }
        func posts(_ all: [[String: Any]], _ fragment: String) -> [[String: Any]] {
            mine(all).filter { $0["method"] as? String == "POST" && ($0["path"] as? String ?? "").contains(fragment) }
        }
        func header(_ r: [String: Any], _ name: String) -> String? {
            (r["headers"] as? [String: String])?.first { $0.key.lowercased() == name.lowercased() }?.value
        }
        func body(_ r: [String: Any]) -> NSDictionary { (r["body"] as? [String: Any] ?? [:]) as NSDictionary }
        var all = try sinkRequests()
        // GitLab: PRIVATE-TOKEN, the project path escaped, state/name/description.
        let gl = posts(all, "-gl")
        XCTAssertEqual(gl.count, 1)
        XCTAssertEqual(gl.first?["path"] as? String, "/api/v4/projects/group%2Fsub%2F\(ns)-gl/statuses/\(sha)")
        XCTAssertEqual(gl.first.map(body), ["state": "success", "name": key("gitlab"), "description": "reconciliation succeeded"] as NSDictionary)
        XCTAssertEqual(gl.first.flatMap { header($0, "PRIVATE-TOKEN") }, "gl-token-1")
        XCTAssertTrue(mine(all).contains { $0["method"] as? String == "GET" && $0["path"] as? String ==
                "/api/v4/projects/group%2Fsub%2F\(ns)-gl/repository/commits/\(sha)/statuses?name=\(key("gitlab").replacingOccurrences(of: "/", with: "%2F"))" })
        // Gitea: token authorization, the four fields of CreateStatusOption.
        let gt = posts(all, "-gt")
        XCTAssertEqual(gt.count, 1)
        XCTAssertEqual(gt.first?["path"] as? String, "/api/v1/repos/owner/\(ns)-gt/statuses/\(sha)")
        XCTAssertEqual(gt.first.map(body), ["state": "success", "target_url": "", "description": "reconciliation succeeded",
                                            "context": key("gitea")] as NSDictionary)
        XCTAssertEqual(gt.first.flatMap { header($0, "Authorization") }, "token gt-token-1")
        // Bitbucket Cloud: basic auth from user:password, key = sha1 of the status ID.
        let bb = posts(all, "-bb/")
        XCTAssertEqual(bb.count, 1)
        XCTAssertEqual(bb.first?["path"] as? String, "/2.0/repositories/owner/\(ns)-bb/commit/\(sha)/statuses/build")
        XCTAssertEqual(bb.first.map(body), ["state": "SUCCESSFUL", "key": try sha1(key("bitbucket")), "name": "kustomization/podinfo",
                                            "description": "reconciliation succeeded", "url": "https://bitbucket.org"] as NSDictionary)
        XCTAssertEqual(bb.first.flatMap { header($0, "Authorization") }, "Basic " + Data("bb-user:bb-pass-1".utf8).base64EncodedString())
        // Bitbucket Server: the context path kept, name with the description, the address as url.
        let bbs = posts(all, "-bbs/")
        XCTAssertEqual(bbs.count, 1)
        XCTAssertEqual(bbs.first?["path"] as? String, "/ctx/rest/api/latest/projects/PROJ/repos/\(ns)-bbs/commits/\(sha)/builds")
        XCTAssertEqual(bbs.first.map(body), ["state": "SUCCESSFUL", "key": try sha1(key("bbserver")),
                                             "name": "kustomization/podinfo [reconciliation succeeded]", "description": "reconciliation succeeded",
                                             "url": "\(sink)/ctx/scm/PROJ/\(ns)-bbs.git"] as NSDictionary)
        XCTAssertEqual(bbs.first.flatMap { header($0, "Authorization") }, "Basic " + Data("bbs-user:bbs-pass-1".utf8).base64EncodedString())
        XCTAssertEqual(bbs.first.flatMap { header($0, "x-atlassian-token") }, "no-check")
        // Azure DevOps: PAT as basic auth, genre fluxcd.
        let az = posts(all, "/_apis/git/")
        XCTAssertEqual(az.count, 1)
        XCTAssertEqual(az.first?["path"] as? String, "/org/\(ns)/_apis/git/repositories/repo/commits/\(sha)/statuses")
        XCTAssertEqual(az.first.map(body), ["context": ["genre": "fluxcd", "name": key("azure")], "description": "reconciliation succeeded",
                                            "state": "succeeded"] as NSDictionary)
        XCTAssertEqual(az.first.flatMap { header($0, "Authorization") }, "Basic " + Data(":az-pat-1".utf8).base64EncodedString())
        // Generic gets the change set and the success (commit status updates go to Git and generic providers only).
        XCTAssertEqual(posts(all, "/generic").count, 2)

        // Reconciled again at the same revision: each provider lists first and posts nothing new.
        let getsBefore = mine(all).filter { $0["method"] as? String == "GET" }.count
        XCTAssertEqual(try fx.fluxs(["reconcile", "kustomization", "podinfo"], extraEnv: env).status, 0)
        all = try sinkRequests()
        XCTAssertGreaterThan(mine(all).filter { $0["method"] as? String == "GET" }.count, getsBefore)
        for f in ["-gl", "-gt", "-bb/", "-bbs/", "/_apis/git/"] { XCTAssertEqual(posts(all, f).count, 1, f) }
        XCTAssertEqual(try githubStatuses(owner, ghRepo, sha, api: api, token: ghToken).count, 1)

        // A failed reconcile: a failure status on the new commit for every provider.
        try repo.commit(["apps/kustomization.yaml": "resources: [missing.yaml]\n"], "broken")
        let broken = try repo.git("rev-parse", "HEAD")
        let failed = try fx.fluxs(["reconcile", "kustomization", "podinfo", "--with-source"], extraEnv: env)
        XCTAssertEqual(failed.status, 1, failed.stderr)
        XCTAssertFalse(failed.stderr.contains("failed to send"), failed.stderr)
        statuses = try githubStatuses(owner, ghRepo, broken, api: api, token: ghToken)
        XCTAssertEqual(statuses.count, 1)
        XCTAssertEqual(statuses.first?["state"] as? String, "failure")
        XCTAssertEqual(statuses.first?["description"] as? String, "build failed")
        all = try sinkRequests()
        XCTAssertEqual(posts(all, "-gl/statuses/\(broken)").first.map(body)?["state"] as? String, "failed")
        XCTAssertEqual(posts(all, "-gt/statuses/\(broken)").first.map(body)?["state"] as? String, "failure")
        XCTAssertEqual(posts(all, "commit/\(broken)/statuses/build").first.map(body)?["state"] as? String, "FAILED")
        XCTAssertEqual(posts(all, "commits/\(broken)/builds").first.map(body)?["state"] as? String, "FAILED")
        XCTAssertEqual(posts(all, "commits/\(broken)/statuses").first.map(body)?["state"] as? String, "error")
        XCTAssertEqual(posts(all, "commits/\(broken)/statuses").first.map(body)?["description"] as? String, "build failed")
        let genericErrors = posts(all, "/generic").filter { body($0)["severity"] as? String == "error" }
        XCTAssertEqual(genericErrors.count, 1)

        // The same failure again within five minutes, from another fluxs run: not sent again (kept in the storage).
        let requestsBefore = mine(all).count
        XCTAssertEqual(try fx.fluxs(["reconcile", "kustomization", "podinfo", "--with-source"], extraEnv: env).status, 1)
        all = try sinkRequests()
        XCTAssertEqual(mine(all).count, requestsBefore, "a duplicate event within the rate limit interval is not dispatched")
        let limit = fx.storage.appendingPathComponent("notifications/ratelimit.json").path
        XCTAssertEqual((try FileManager.default.attributesOfItem(atPath: limit)[.posixPermissions] as? NSNumber)?.intValue, 0o600)

        // With another storage (no record of it) the same event goes out again.
        let other = try TestEnv.tempDir("fluxs-storage")
        defer { try? FileManager.default.removeItem(at: other) }
        let elsewhere = try TestEnv.fluxs(["reconcile", "kustomization", "podinfo", "--with-source", "-n", ns],
                                          env: ["FLUXS_STORAGE_PATH": other.path].merging(env) { $1 })
        XCTAssertEqual(elsewhere.status, 1, elsewhere.stderr)
        all = try sinkRequests()
        XCTAssertEqual(posts(all, "/generic").filter { body($0)["severity"] as? String == "error" }.count, 2)

        // Every provider failing with a 500 (a new failure, on a new commit): one warning each naming the Provider
        // (never its address or token), a Warning event on the Alert, and the exit code of the reconcile itself.
        try repo.commit(["apps/kustomization.yaml": "resources: [missing-too.yaml]\n"], "broken again")
        _ = try TestEnv.run("curl", ["-s", "-o", "/dev/null", "-X", "POST", "--data-binary", "{\"count\": 100, \"status\": 500}", "\(sink)/__sink/fail"])
        let warned = try fx.fluxs(["reconcile", "kustomization", "podinfo", "--with-source"], extraEnv: env)
        _ = try TestEnv.run("curl", ["-s", "-o", "/dev/null", "-X", "POST", "--data-binary", "{\"count\": 0}", "\(sink)/__sink/fail"])
        XCTAssertEqual(warned.status, 1, warned.stderr)
        XCTAssertTrue(warned.stderr.contains("⚠️ failed to send notification for Kustomization/\(ns)/podinfo through Provider \(ns)/gitlab: could not set commit status: HTTP 500"), warned.stderr)
        XCTAssertTrue(warned.stderr.contains("through Provider \(ns)/generic: postMessage failed: HTTP 500"), warned.stderr)
        for secret in [sink, "gl-token-1", "bb-pass-1", "az-pat-1", "gt-token-1"] { XCTAssertFalse(warned.stderr.contains(secret), secret) }
        let events = try fx.kubectl("get", "events", "-n", ns,
                                    "-o", "jsonpath={range .items[*]}{.involvedObject.kind}/{.involvedObject.name} {.type} {.reason} {.message}{\"\\n\"}{end}").stdout
        XCTAssertTrue(events.contains("Alert/gitlab Warning NotificationDispatchFailed failed to send notification for Kustomization/\(ns)/podinfo: could not set commit status: HTTP 500"), events)
    }
}
