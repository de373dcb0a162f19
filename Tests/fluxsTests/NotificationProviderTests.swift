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

/// Chat and alerting providers and the Provider fields (secretRef headers, proxySecretRef, certSecretRef, channel,
/// username, token, username/password), every payload compared field by field with notification-controller's.
final class ChatProviderTests: XCTestCase {
    var fx: ReconcileFixture!
    var sink = ""

    override func setUpWithError() throws {
        fx = try ReconcileFixture(prefix: "chat")
        sink = try TestEnv.require("FLUXS_TEST_WEBHOOK")["FLUXS_TEST_WEBHOOK"]!
    }

    override func tearDownWithError() throws { fx?.cleanUp() }

    func apply(_ yaml: String) throws {
        let r = try TestEnv.run("kubectl", ["apply", "-f", "-"], stdin: yaml)
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    /// A Provider (with a Secret of `secret` when not empty, and `extra` spec lines) and its Alert for the
    /// Kustomizations and GitRepositories of the namespace.
    func provider(_ name: String, type: String, address: String?, secret: [String: String] = [:], extra: [String] = []) throws {
        var spec = ["type: \(type)"] + extra
        if let address { spec.append("address: \"\(address)\"") }
        var docs: [String] = []
        if !secret.isEmpty {
            spec.append("secretRef: {name: \(name)}")
            let data = secret.sorted { $0.key < $1.key }.map { "  \($0.key): \(String(decoding: try! JSONSerialization.data(withJSONObject: [$0.value]), as: UTF8.self).dropFirst().dropLast())" }
            docs.append("apiVersion: v1\nkind: Secret\nmetadata: {name: \(name), namespace: \(fx.ns)}\nstringData:\n" + data.joined(separator: "\n"))
        }
        docs.append("apiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Provider\nmetadata: {name: \(name), namespace: \(fx.ns)}\nspec:\n"
                    + spec.map { "  " + $0 }.joined(separator: "\n"))
        docs.append("""
        apiVersion: notification.toolkit.fluxcd.io/v1beta3
        kind: Alert
        metadata: {name: \(name), namespace: \(fx.ns)}
        spec:
          providerRef: {name: \(name)}
          eventMetadata: {env: staging, summary: cluster one}
          eventSources: [{kind: Kustomization, name: '*'}, {kind: GitRepository, name: '*'}]
        """)
        try apply(docs.joined(separator: "\n---\n"))
    }

    func sinkRequests() throws -> [[String: Any]] {
        let data = Data(try TestEnv.run("curl", ["-sf", "\(sink)/__sink/requests"]).stdout.utf8)
        return (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["requests"] as? [[String: Any]] ?? []
    }

    func testChatAndAlertingProviders() throws {
        let ns = fx.ns
        let repo = try fx.source(["apps/config.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: podinfo\ndata: {a: b}\n"])
        try provider("generic", type: "generic", address: "\(sink)/\(ns)/generic")
        try provider("msteams", type: "msteams", address: "\(sink)/\(ns)/msteams")
        try provider("googlechat", type: "googlechat", address: "\(sink)/\(ns)/googlechat")
        try provider("lark", type: "lark", address: "\(sink)/\(ns)/lark")
        try provider("webex", type: "webex", address: "\(sink)/\(ns)/webex", secret: ["token": "wx-token"], extra: ["channel: room-1"])
        try provider("opsgenie", type: "opsgenie", address: "\(sink)/\(ns)/opsgenie", secret: ["token": "og-key"])
        try provider("alertmanager", type: "alertmanager", address: "\(sink)/\(ns)/alertmanager", secret: ["username": "am", "password": "am-pass"])
        try provider("grafana", type: "grafana", address: "\(sink)/\(ns)/grafana", secret: ["token": "gf-token"])
        try provider("telegram", type: "telegram", address: sink, secret: ["token": "tg-\(ns)"], extra: ["channel: \"-100:7\""])
        try provider("matrix", type: "matrix", address: sink, secret: ["token": "mx-token"], extra: ["channel: \"!room-\(ns)\""])
        try provider("datadog", type: "datadog", address: sink, secret: ["token": "dd-\(ns)"])
        try provider("pagerduty", type: "pagerduty", address: "\(sink)/ignored/path", extra: ["channel: pd-\(ns)"])
        // Provider fields: extra headers from the Secret, a proxy from proxySecretRef, slack's channel and username.
        try apply("apiVersion: v1\nkind: Secret\nmetadata: {name: proxy, namespace: \(ns)}\nstringData: {address: \"\(sink)\", username: pu, password: pp}")
        try provider("proxied", type: "generic", address: "http://proxied.fluxs.invalid/\(ns)/proxied",
                     secret: ["headers": "X-Team: ops\nX-Env: staging"], extra: ["proxySecretRef: {name: proxy}"])
        try provider("slack", type: "slack", address: "\(sink)/\(ns)/slack", secret: ["token": "xoxb-1"], extra: ["channel: ops", "username: flux-bot"])

        let created = try fx.fluxs(["create", "kustomization", "podinfo", "--source=GitRepository/fleet", "--path=./apps",
                                    "--interval=10m", "--target-namespace=\(fx.apps)"])
        XCTAssertEqual(created.status, 0, created.stderr)
        XCTAssertFalse(created.stderr.contains("failed to send"), created.stderr)
        let sha = try repo.git("rev-parse", "HEAD")
        let revision = "main@sha1:\(sha)"
        let obj = "kustomization/podinfo.\(ns)"
        let message = "ConfigMap/\(fx.apps)/podinfo created"
        let all = try sinkRequests()
        func at(_ path: String) -> [[String: Any]] { all.filter { $0["path"] as? String == path } }
        func body(_ r: [String: Any]?) -> Any? { r?["body"] }
        func header(_ r: [String: Any]?, _ name: String) -> String? {
            (r?["headers"] as? [String: String])?.first { $0.key.lowercased() == name.lowercased() }?.value
        }
        // The generic event is the reference for what each provider was given (the Kustomization's change set).
        let generic = at("/\(ns)/generic")
        let change = try XCTUnwrap(generic.first { ($0["body"] as? [String: Any])?["reason"] as? String == "Progressing" })
        let event = try XCTUnwrap(change["body"] as? [String: Any])
        let timestamp = try XCTUnwrap(event["timestamp"] as? String)
        XCTAssertEqual(event["metadata"] as? NSDictionary, ["env": "staging", "revision": revision, "summary": "cluster one"] as NSDictionary)
        func kustomizationPost(_ path: String, contains text: String = "podinfo created") -> [String: Any]? {
            at(path).first { String(describing: $0["raw"] ?? "").contains(text) }
        }

        // msteams: the adaptive card.
        let teams = kustomizationPost("/\(ns)/msteams")
        XCTAssertEqual(body(teams) as? NSDictionary, [
            "type": "message",
            "attachments": [[
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": [
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard", "version": "1.4",
                    "msteams": ["width": "Full"],
                    "body": [["type": "Container", "items": [
                        ["type": "TextBlock", "text": obj, "size": "large", "weight": "bolder", "wrap": true],
                        ["type": "TextBlock", "text": message, "wrap": true],
                        ["type": "FactSet", "facts": [["title": "summary", "value": "cluster one"], ["title": "env", "value": "staging"],
                                                      ["title": "revision", "value": revision]]],
                    ]]],
                ],
            ]],
        ] as NSDictionary)
        // googlechat: one card, the message and the metadata as key/value widgets.
        func kv(_ k: String, _ v: String) -> [String: Any] {
            ["textParagraph": NSNull(), "keyValue": ["topLabel": k, "content": v, "contentMultiline": false, "bottomLabel": NSNull(), "icon": NSNull()]]
        }
        XCTAssertEqual(body(kustomizationPost("/\(ns)/googlechat")) as? NSDictionary, ["cards": [[
            "header": ["title": obj, "subtitle": "kustomize-controller", "imageUrl": NSNull(), "imageStyle": NSNull()],
            "sections": [
                ["header": "", "widgets": [["textParagraph": ["text": message], "keyValue": NSNull()]]],
                ["header": "", "widgets": [kv("env", "staging"), kv("revision", revision), kv("summary", "cluster one")]],
            ],
        ]]] as NSDictionary)
        // lark
        XCTAssertEqual(body(kustomizationPost("/\(ns)/lark")) as? NSDictionary, ["msg_type": "interactive", "card": [
            "config": ["wide_screen_mode": true],
            "header": ["title": ["tag": "plain_text", "content": "💫 \(obj)"], "template": "turquoise"],
            "elements": [["tag": "div", "text": ["tag": "lark_md", "content": "**\(message)**\n\nenv: staging\nrevision: \(revision)\nsummary: cluster one\n"]]],
        ]] as NSDictionary)
        // webex: the room from spec.channel, the token as a bearer.
        let webex = kustomizationPost("/\(ns)/webex")
        XCTAssertEqual(body(webex) as? NSDictionary, ["roomId": "room-1",
                                                      "markdown": "✅ **\(obj)**\n\(message)\n>**env**: staging\n>**revision**: \(revision)\n>**summary**: cluster one\n"] as NSDictionary)
        XCTAssertEqual(header(webex, "Authorization"), "Bearer wx-token")
        // opsgenie: the alias hashes the provider uid, the object and the reason.
        let uid = try fx.jsonpath("provider", "opsgenie", ".metadata.uid")
        let alias = try TestEnv.run("sh", ["-c", "printf %s \"$0\" | sha256sum | cut -d' ' -f1", "\(uid)/Kustomization/\(ns)/podinfo/Progressing"]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let og = kustomizationPost("/\(ns)/opsgenie")
        XCTAssertEqual(body(og) as? NSDictionary, ["message": "Kustomization/podinfo", "alias": alias, "description": message,
                                                   "details": ["env": "staging", "revision": revision, "summary": "cluster one", "severity": "info"]] as NSDictionary)
        XCTAssertEqual(header(og, "Authorization"), "GenieKey og-key")
        // alertmanager: one firing alert; basic auth from the Secret's username and password.
        let am = kustomizationPost("/\(ns)/alertmanager")
        XCTAssertEqual(body(am) as? NSArray, [[
            "status": "firing",
            "labels": ["alertname": "FluxKustomizationProgressing", "severity": "info", "reason": "Progressing", "kind": "Kustomization",
                       "name": "podinfo", "namespace": ns, "reportingcontroller": "kustomize-controller", "env": "staging", "revision": revision],
            "annotations": ["message": message, "summary": "cluster one"],
            "startsAt": timestamp, "endsAt": "0001-01-01T00:00:00Z",
        ]] as NSArray)
        XCTAssertEqual(header(am, "Authorization"), "Basic " + Data("am:am-pass".utf8).base64EncodedString())
        // grafana: an annotation with tags.
        let unix = ISO8601DateFormatter().date(from: timestamp).map { Int($0.timeIntervalSince1970) }
        let gf = at("/\(ns)/grafana").first { (($0["body"] as? [String: Any])?["tags"] as? [String])?.contains("kind: Kustomization") == true }
        XCTAssertEqual(body(gf) as? NSDictionary, ["when": unix ?? 0, "text": obj,
                                                   "tags": ["flux", "kustomize-controller", "env: staging", "revision: main@sha1|\(sha)",
                                                            "summary: cluster one", "kind: Kustomization", "name: podinfo", "namespace: \(ns)"]] as NSDictionary)
        XCTAssertEqual(header(gf, "Authorization"), "Bearer gf-token")
        // telegram: the Bot API path with the token, MarkdownV2 escaping, chat and thread from spec.channel.
        let tg = kustomizationPost("/bottg-\(ns)/sendMessage")
        func esc(_ s: String) -> String {
            var o = ""
            for c in s { if "\\.-_[]()~>`#+=|{}!*".contains(c) { o.append("\\") }; o.append(c) }
            return o
        }
        XCTAssertEqual(body(tg) as? NSDictionary, ["chat_id": "-100", "message_thread_id": "7", "parse_mode": "MarkdownV2",
                                                   "text": "*\(esc("💫 kustomization/podinfo/\(ns)"))*\n\(esc(message))\n\\- *env*: staging\n\\- *revision*: \(esc(revision))\n\\- *summary*: cluster one\n"] as NSDictionary)
        // matrix: PUT to the room with a transaction id.
        let mx = all.first { ($0["path"] as? String ?? "").hasPrefix("/_matrix/client/r0/rooms/!room-\(ns)/send/m.room.message/") && String(describing: $0["raw"] ?? "").contains("podinfo created") }
        XCTAssertEqual(mx?["method"] as? String, "PUT")
        XCTAssertEqual(body(mx) as? NSDictionary, ["msgtype": "m.text", "body": "💫 \(obj)\n\(message)\n- env: staging\n- revision: \(revision)\n- summary: cluster one\n"] as NSDictionary)
        XCTAssertEqual(header(mx, "Authorization"), "Bearer mx-token")
        XCTAssertEqual((mx?["path"] as? String)?.split(separator: "/").last?.count, 40)
        // datadog: the v1 events API with the API key header.
        let dd = all.first { $0["path"] as? String == "/api/v1/events" && header($0, "DD-API-KEY") == "dd-\(ns)" && String(describing: $0["raw"] ?? "").contains("podinfo created") }
        XCTAssertEqual(body(dd) as? NSDictionary, ["alert_type": "info", "date_happened": unix ?? 0, "source_type_name": "fluxcd", "text": message,
                                                   "title": "Events from the Kustomization podinfo/\(ns)",
                                                   "tags": ["flux_reporting_controller:kustomize-controller", "flux_reason:progressing", "kube_kind:kustomization",
                                                            "kube_name:podinfo", "kube_namespace:\(ns)", "env:staging", "revision:\(revision)", "summary:cluster one"]] as NSDictionary)
        // Provider fields: the proxy got the absolute URL with its credentials; the Secret's headers were sent.
        let proxied = all.first { $0["path"] as? String == "http://proxied.fluxs.invalid/\(ns)/proxied" }
        XCTAssertNotNil(proxied, "the request went through the proxy")
        XCTAssertEqual(header(proxied, "Proxy-Authorization"), "Basic " + Data("pu:pp".utf8).base64EncodedString())
        XCTAssertEqual(header(proxied, "X-Team"), "ops")
        XCTAssertEqual(header(proxied, "X-Env"), "staging")
        let slack = kustomizationPost("/\(ns)/slack")
        XCTAssertEqual((body(slack) as? [String: Any])?["channel"] as? String, "ops")
        XCTAssertEqual((body(slack) as? [String: Any])?["username"] as? String, "flux-bot")
        XCTAssertEqual(header(slack, "Authorization"), "Bearer xoxb-1")

        // A failure: the error forms of the payloads.
        try repo.commit(["apps/kustomization.yaml": "resources: [missing.yaml]\n"], "broken")
        XCTAssertEqual(try fx.fluxs(["reconcile", "kustomization", "podinfo", "--with-source"]).status, 1)
        let after = try sinkRequests()
        func failed(_ path: String) -> [String: Any]? { after.first { $0["path"] as? String == path && String(describing: $0["raw"] ?? "").contains("kustomize build failed") } }
        let teamsError = ((((body(failed("/\(ns)/msteams")) as? [String: Any])?["attachments"] as? [[String: Any]])?.first?["content"] as? [String: Any])?["body"] as? [[String: Any]])?
            .first?["items"] as? [[String: Any]]
        XCTAssertEqual(teamsError?[1]["color"] as? String, "attention")
        XCTAssertEqual((((body(failed("/\(ns)/lark")) as? [String: Any])?["card"] as? [String: Any])?["header"] as? [String: Any])?["template"] as? String, "red")
        XCTAssertEqual(((body(failed("/\(ns)/alertmanager")) as? [[String: Any]])?.first?["labels"] as? [String: Any])?["alertname"] as? String,
                       "FluxKustomizationBuildfailed")
        // pagerduty: Progressing is skipped; the GitRepository's new artifact resolves and records a change, the failure triggers.
        let pd = after.filter { (($0["body"] as? [String: Any])?["routing_key"] as? String) == "pd-\(ns)" }
        XCTAssertEqual(pd.map { $0["path"] as? String ?? "" }, ["/v2/enqueue", "/v2/change/enqueue", "/v2/enqueue"])
        let gitUID = try fx.jsonpath("gitrepository", "fleet", ".metadata.uid")
        XCTAssertEqual(body(pd.first) as? NSDictionary, ["routing_key": "pd-\(ns)", "event_action": "resolve", "dedup_key": gitUID] as NSDictionary)
        let changePayload = (body(pd[1]) as? [String: Any])?["payload"] as? [String: Any]
        XCTAssertEqual(changePayload?["summary"] as? String, "new artifact: gitrepository/fleet")
        XCTAssertEqual(changePayload?["source"] as? String, "Flux source-controller")
        let trigger = after.first { (($0["body"] as? [String: Any])?["event_action"] as? String) == "trigger" && (($0["body"] as? [String: Any])?["routing_key"] as? String) == "pd-\(ns)" }
        let triggerPayload = (body(trigger) as? [String: Any])?["payload"] as? [String: Any]
        XCTAssertEqual(triggerPayload?["summary"] as? String, "build failed: kustomization/podinfo")
        XCTAssertEqual(triggerPayload?["severity"] as? String, "error")
        XCTAssertEqual(triggerPayload?["group"] as? String, "Kustomization")
        XCTAssertEqual(triggerPayload?["component"] as? String, "podinfo")
    }

    /// certSecretRef: without the CA the TLS handshake fails (a warning); with it the request reaches the server.
    func testCertSecretRef() throws {
        let e = try TestEnv.require("FLUXS_TEST_HOSTILE_TLS", "FLUXS_TEST_CA", "FLUXS_TEST_HOSTILE")
        let ns = fx.ns
        _ = try fx.source(["apps/config.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: podinfo\ndata: {a: b}\n"])
        let ca = try String(contentsOfFile: e["FLUXS_TEST_CA"]!)
        let caYAML = ca.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n")
        try apply("apiVersion: v1\nkind: Secret\nmetadata: {name: ca, namespace: \(ns)}\nstringData:\n  ca.crt: |\n\(caYAML)\n")
        try provider("untrusted", type: "generic", address: "\(e["FLUXS_TEST_HOSTILE_TLS"]!)/\(ns)/untrusted")
        try provider("trusted", type: "generic", address: "\(e["FLUXS_TEST_HOSTILE_TLS"]!)/\(ns)/trusted", extra: ["certSecretRef: {name: ca}"])
        // spec.timeout: an answer later than the timeout is a failure.
        try provider("slow", type: "generic", address: "\(sink)/\(ns)/slow", extra: ["timeout: 1s"])
        let delay = "{\"path\": \"/\(ns)/slow\", \"seconds\": 3}"
        XCTAssertEqual(try TestEnv.run("curl", ["-sf", "-o", "/dev/null", "-X", "POST", "--data-binary", delay, "\(sink)/__sink/delay"]).status, 0)
        let r = try fx.fluxs(["create", "kustomization", "podinfo", "--source=GitRepository/fleet", "--path=./apps",
                              "--interval=10m", "--target-namespace=\(fx.apps)"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("through Provider \(ns)/untrusted: postMessage failed: TLS handshake failed"), r.stderr)
        XCTAssertTrue(r.stderr.contains("through Provider \(ns)/slow: postMessage failed: timed out"), r.stderr)
        let seen = try TestEnv.run("curl", ["-sf", "\(e["FLUXS_TEST_HOSTILE"]!)/__hostile/requests"]).stdout
        XCTAssertTrue(seen.contains("/\(ns)/trusted"), seen)
        XCTAssertFalse(seen.contains("/\(ns)/untrusted"), seen)
    }
}

/// The `nats` provider against Debian's nats-server (user/password auth), read back by a subscriber speaking the
/// NATS protocol.
final class NATSProviderTests: XCTestCase {
    func testEventsArePublishedOnTheSubject() throws {
        let fx = try ReconcileFixture(prefix: "nats")
        defer { fx.cleanUp() }
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/nats-server") else {
            return XCTFail("nats-server is not installed: run scripts/setup")
        }
        let dir = try TestEnv.tempDir("fluxs-nats")
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = try TestEnv.run("python3", ["-c", "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/sbin/nats-server")
        server.arguments = ["-a", "127.0.0.1", "-p", port, "--user", "flux", "--pass", "nats-pass-1"]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { server.terminate(); server.waitUntilExit() }
        let out = dir.appendingPathComponent("sub.out")
        let script = """
        import socket, sys, time
        for _ in range(100):
            try:
                s = socket.create_connection(("127.0.0.1", \(port)), timeout=30); break
            except OSError:
                time.sleep(0.1)
        f = s.makefile("rb")
        f.readline()
        s.sendall(b'CONNECT {"verbose":false,"user":"flux","pass":"nats-pass-1"}\\r\\nSUB flux.events 1\\r\\nPING\\r\\n')
        out = open(sys.argv[1], "w")
        while True:
            l = f.readline()
            if not l: break
            if l.startswith(b"PONG"): out.write("ready\\n"); out.flush()
            elif l.startswith(b"PING"): s.sendall(b"PONG\\r\\n")
            elif l.startswith(b"MSG"):
                n = int(l.split()[-1]); data = f.read(n); f.read(2)
                out.write(data.decode() + "\\n"); out.flush(); break
        """
        let sub = Process()
        sub.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        sub.arguments = ["-c", script, out.path]
        try sub.run()
        defer { if sub.isRunning { sub.terminate() }; sub.waitUntilExit() }
        func output() -> String { (try? String(contentsOf: out)) ?? "" }
        for _ in 0..<100 where !output().contains("ready") { usleep(100_000) }
        XCTAssertTrue(output().contains("ready"), "the subscriber did not connect")

        let ns = fx.ns
        var yaml = ""
        for (name, password) in [("nats", "nats-pass-1"), ("wrong", "not-it")] {
            yaml += """
            apiVersion: v1
            kind: Secret
            metadata: {name: \(name), namespace: \(ns)}
            stringData: {username: flux, password: \(password)}
            ---
            apiVersion: notification.toolkit.fluxcd.io/v1beta3
            kind: Provider
            metadata: {name: \(name), namespace: \(ns)}
            spec: {type: nats, address: "nats://127.0.0.1:\(port)", channel: flux.events, secretRef: {name: \(name)}}
            ---
            apiVersion: notification.toolkit.fluxcd.io/v1beta3
            kind: Alert
            metadata: {name: \(name), namespace: \(ns)}
            spec:
              providerRef: {name: \(name)}
              eventSources: [{kind: Kustomization, name: '*'}]
            ---

            """
        }
        XCTAssertEqual(try TestEnv.run("kubectl", ["apply", "-f", "-"], stdin: yaml).status, 0)
        _ = try fx.source(["apps/config.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: podinfo\ndata: {a: b}\n"])
        let r = try fx.fluxs(["create", "kustomization", "podinfo", "--source=GitRepository/fleet", "--path=./apps",
                              "--interval=10m", "--target-namespace=\(fx.apps)"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("through Provider \(ns)/wrong: error publishing event to subject flux.events: error publishing message to server: 'Authorization Violation'"), r.stderr)
        XCTAssertFalse(r.stderr.contains("through Provider \(ns)/nats:"), r.stderr)
        XCTAssertFalse(r.stderr.contains("not-it"), r.stderr)
        for _ in 0..<100 where output().split(separator: "\n").count < 2 { usleep(100_000) }
        let lines = output().split(separator: "\n")
        XCTAssertEqual(lines.first, "ready")
        let event = try XCTUnwrap(lines.count > 1 ? try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as? [String: Any] : nil)
        XCTAssertEqual((event["involvedObject"] as? [String: Any])?["name"] as? String, "podinfo")
        XCTAssertEqual(event["reason"] as? String, "Progressing")
        XCTAssertEqual(event["message"] as? String, "ConfigMap/\(fx.apps)/podinfo created")
        XCTAssertEqual(event["reportingController"] as? String, "kustomize-controller")
    }
}
