import Foundation
import FluxsTestSupport
import XCTest

/// Known secrets go into every place fluxs takes credentials from (Git Secrets: password, bearer token, SSH private
/// key; Provider Secrets: token, address, headers; the kubeconfig's token; an exec plugin's AWS key and the token it
/// returns); fluxs then runs its commands with --verbose, and none of the secrets may appear in anything it printed
/// or wrote, except its own 0600 files (the exec credential cache).
final class SecretHygieneTests: XCTestCase {
    func testNoSecretLeavesThroughOutputLogsOrFiles() throws {
        let e = try TestEnv.require("FLUXS_TEST_KUBECONFIG", "FLUXS_TEST_GIT_ROOT", "FLUXS_TEST_GIT_HTTP", "FLUXS_TEST_GIT_USER",
                                    "FLUXS_TEST_GIT_PASSWORD", "FLUXS_TEST_GIT_TOKEN", "FLUXS_TEST_SSH_URL", "FLUXS_TEST_SSH_KEY_ED25519",
                                    "FLUXS_TEST_KUBE_ADMIN_TOKEN", "FLUXS_TEST_AWS_SECRET_ACCESS_KEY", "FLUXS_TEST_WEBHOOK")
        let ns = "sh-\(UUID().uuidString.prefix(6).lowercased())"
        let scratch = try TestEnv.tempDir("fluxs-hygiene")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let storage = scratch.appendingPathComponent("storage"), cache = scratch.appendingPathComponent("cache"),
            tmp = scratch.appendingPathComponent("tmp")
        for d in [storage, cache, tmp] { try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true) }
        let env = ["FLUXS_STORAGE_PATH": storage.path, "XDG_CACHE_HOME": cache.path, "TMPDIR": tmp.path]
        var outputs: [(String, String)] = []
        @discardableResult
        func fluxs(_ args: [String], expect: Int32? = 0, context: String? = nil) throws -> TestEnv.Run {
            let r = try TestEnv.fluxs(args + ["-n", ns, "--verbose"] + (context.map { ["--context=\($0)"] } ?? []), env: env)
            outputs.append((args.joined(separator: " "), r.stdout + r.stderr))
            if let expect { XCTAssertEqual(r.status, expect, "\(args): \(r.stderr)") }
            return r
        }
        func kubectl(_ args: [String], stdin: String? = nil) throws {
            let r = try TestEnv.run("kubectl", args, stdin: stdin)
            XCTAssertEqual(r.status, 0, "\(args): \(r.stderr)")
        }
        XCTAssertEqual(try TestEnv.fluxs(["install"]).status, 0)
        try kubectl(["create", "namespace", ns])

        // The secrets.
        let marker = UUID().uuidString.prefix(8).lowercased()
        let password = e["FLUXS_TEST_GIT_PASSWORD"]!, gitToken = e["FLUXS_TEST_GIT_TOKEN"]!
        let wrongPassword = "wrong-\(marker)-pw"
        let keyText = try String(contentsOfFile: e["FLUXS_TEST_SSH_KEY_ED25519"]!, encoding: .utf8)
        let keyLines = keyText.split(separator: "\n").filter { !$0.hasPrefix("-----") }.map(String.init)
        let providerToken = "hmac-\(marker)-token", slackToken = "xoxb-\(marker)-slack", headerSecret = "hdr-\(marker)-secret"
        let hookPath = "/hooks/T\(marker)/B000/path-\(marker)-secret"
        let secretValue = "app-\(marker)-value", changedValue = "app-\(marker)-changed"
        var secrets: [String: String] = [
            "git password": password, "wrong git password": wrongPassword, "git bearer token": gitToken,
            "provider token": providerToken, "slack token": slackToken, "provider header": headerSecret,
            "provider address path": hookPath, "kubeconfig token": e["FLUXS_TEST_KUBE_ADMIN_TOKEN"]!,
            "AWS secret key": e["FLUXS_TEST_AWS_SECRET_ACCESS_KEY"]!, "manifest Secret value": secretValue,
            "changed manifest Secret value": changedValue,
        ]
        for (i, l) in keyLines.enumerated() where l.count >= 20 { secrets["SSH private key line \(i)"] = l }
        // Their encodings: base64 of each value, and the Basic header.
        var forms = secrets
        for (k, v) in secrets { forms[k + " (base64)"] = Data(v.utf8).base64EncodedString() }
        forms["Basic header"] = Data("\(e["FLUXS_TEST_GIT_USER"]!):\(password)".utf8).base64EncodedString()

        // A repository with a Secret among the manifests.
        let repo = try GitFixture(root: e["FLUXS_TEST_GIT_ROOT"]!, files: [
            "app/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\ntype: Opaque\nstringData:\n  password: \(secretValue)\n",
            "app/config.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  color: blue\n",
        ])
        let http = e["FLUXS_TEST_GIT_HTTP"]!
        // Git credentials: basic (created by fluxs from flags), bearer, SSH key; one wrong password.
        try fluxs(["create", "source", "git", "basic", "--url=\(http)/basic/\(repo.name).git", "--branch=main", "--interval=1m",
                   "--username=\(e["FLUXS_TEST_GIT_USER"]!)", "--password=\(password)"])
        try fluxs(["create", "source", "git", "wrong", "--url=\(http)/basic/\(repo.name).git", "--branch=main", "--interval=1m",
                   "--username=\(e["FLUXS_TEST_GIT_USER"]!)", "--password=\(wrongPassword)"], expect: 1)
        try kubectl(["create", "secret", "generic", "tok", "-n", ns, "--from-literal=bearerToken=\(gitToken)"])
        try fluxs(["create", "source", "git", "bearer", "--url=\(http)/bearer/\(repo.name).git", "--branch=main", "--interval=1m", "--secret-ref=tok"])
        let sshURL = "\(e["FLUXS_TEST_SSH_URL"]!)/\(repo.name).git"
        try fluxs(["create", "secret", "git", "ssh", "--url=\(sshURL)", "--private-key-file=\(e["FLUXS_TEST_SSH_KEY_ED25519"]!)"])
        try fluxs(["create", "source", "git", "ssh", "--url=\(sshURL)", "--branch=main", "--interval=1m", "--secret-ref=ssh"])
        // Providers: generic-hmac with a token and a header, slack with a token, one that fails (address path secret).
        let sink = e["FLUXS_TEST_WEBHOOK"]!
        try kubectl(["create", "secret", "generic", "hmac", "-n", ns, "--from-literal=token=\(providerToken)",
                     "--from-literal=address=\(sink)/\(ns)\(hookPath)", "--from-literal=headers=X-Key: \(headerSecret)"])
        try kubectl(["create", "secret", "generic", "slack", "-n", ns, "--from-literal=token=\(slackToken)",
                     "--from-literal=address=\(sink)/\(ns)/slack"])
        try kubectl(["create", "secret", "generic", "down", "-n", ns, "--from-literal=address=http://127.0.0.1:9\(hookPath)"])
        for (p, type) in [("hmac", "generic-hmac"), ("slack", "slack"), ("down", "generic")] {
            try fluxs(["create", "alert-provider", p, "--type=\(type)", "--secret-ref=\(p)"])
            try fluxs(["create", "alert", p, "--provider-ref=\(p)", "--event-source=Kustomization/*", "--event-source=GitRepository/*"])
        }
        // Reconcile, change the Secret, diff, reconcile again; read everything back.
        try fluxs(["create", "kustomization", "app", "--source=GitRepository/basic", "--path=./app", "--prune=true", "--interval=10m",
                   "--target-namespace=\(ns)"])
        try repo.commit(["app/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\ntype: Opaque\nstringData:\n  password: \(changedValue)\n"], "rotate")
        let diff = try fluxs(["diff", "kustomization", "app", "--path=\(repo.work.appendingPathComponent("app").path)", "--progress-bar=false"], expect: 1)
        XCTAssertTrue(diff.stdout.contains("Secret/\(ns)/app drifted"), diff.stdout)
        try fluxs(["reconcile", "kustomization", "app", "--with-source"])
        try fluxs(["reconcile", "source", "git", "ssh"])
        for args in [["get", "sources", "git", "-o", "yaml"], ["get", "kustomizations", "-o", "json"], ["get", "all"],
                     ["events"], ["events", "--for=Kustomization/app"], ["export", "source", "git", "--all"],
                     ["export", "alert-provider", "--all"], ["tree", "kustomization", "app"]] {
            try fluxs(args)
        }
        // A token as the user info of the URL (`https://<token>@host/...`): it may be in the object, never in messages.
        let urlToken = "ghp_\(marker)urltoken"
        secrets["token in the URL"] = urlToken
        forms["token in the URL"] = urlToken
        try fluxs(["create", "source", "git", "tokenurl", "--url=\(http.replacingOccurrences(of: "://", with: "://\(urlToken)@"))/git/\(repo.name).git",
                   "--branch=main", "--interval=1m"])
        try fluxs(["create", "source", "git", "tokenurl-missing", "--url=\(http.replacingOccurrences(of: "://", with: "://\(urlToken)@"))/git/missing-\(marker).git",
                   "--branch=main", "--interval=1m"], expect: 1)
        try fluxs(["events", "--for=GitRepository/tokenurl-missing"])
        // The exec plugin context (aws eks get-token): its credential is cached, 0600.
        try fluxs(["get", "sources", "git"], context: "kubesim-eks")
        let execFiles = try FileManager.default.subpathsOfDirectory(atPath: cache.appendingPathComponent("fluxs/exec").path)
        XCTAssertEqual(execFiles.count, 1, "one cached exec credential")
        for f in execFiles {
            let doc = try JSONSerialization.jsonObject(with: Data(contentsOf: cache.appendingPathComponent("fluxs/exec/\(f)"))) as? [String: Any]
            if let t = doc?["token"] as? String { forms["exec credential token"] = t }
        }
        XCTAssertNotNil(forms["exec credential token"])

        // Nothing printed holds a secret.
        var printed = 0
        for (command, text) in outputs {
            printed += text.utf8.count
            for (what, value) in forms where text.contains(value) {
                XCTFail("\(what) appears in the output of `fluxs \(command)`")
            }
        }
        // Files: only fluxs's own 0600 files may hold one; nothing fluxs writes is reachable by others (what it
        // creates under the roots is 0700, so libgit2's 0755 directories inside a mirror stay private).
        var files = 0, bytes = 0, holding: [String] = []
        func mode(_ path: String) throws -> Int { (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int ?? 0) & 0o777 }
        for root in [storage, cache, tmp] {
            for rel in try FileManager.default.subpathsOfDirectory(atPath: root.path) {
                let path = root.appendingPathComponent(rel).path
                let attrs = try FileManager.default.attributesOfItem(atPath: path)
                let mode = try mode(path)
                if !rel.contains("/") {
                    XCTAssertEqual(mode & 0o077, 0, "\(path), made by fluxs, is mode \(String(mode, radix: 8))")
                }
                if attrs[.type] as? FileAttributeType == .typeDirectory { continue }
                guard attrs[.type] as? FileAttributeType == .typeRegular else { continue }
                var data = try Data(contentsOf: URL(fileURLWithPath: path))
                if path.hasSuffix(".tar.gz"), let plain = try? TestEnv.run("sh", ["-c", "gzip -dc '\(path)'"]).stdout { data.append(Data(plain.utf8)) }
                files += 1
                bytes += data.count
                let text = String(decoding: data, as: UTF8.self)
                let found = forms.filter { text.contains($0.value) && !$0.key.hasPrefix("manifest Secret") && !$0.key.hasPrefix("changed manifest") }
                if !found.isEmpty {
                    holding.append(rel)
                    XCTAssertEqual(mode & 0o077, 0, "\(path) holds \(found.keys.sorted()) and is mode \(String(mode, radix: 8))")
                    XCTAssertTrue(path.hasPrefix(cache.appendingPathComponent("fluxs/exec").path), "\(path) holds \(found.keys.sorted())")
                }
            }
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tmp.path), [], "fluxs leaves nothing in TMPDIR")
        print("secret hygiene: \(secrets.count) secrets in \(forms.count) forms; \(outputs.count) commands printed \(printed) bytes, " +
              "\(files) files (\(bytes) bytes) under storage, cache and TMPDIR; found only in \(holding.count) file(s) of fluxs's 0600 exec cache")
    }
}
