import Foundation
import FluxsTestSupport
import XCTest

/// fluxs against servers that misbehave on purpose (tools/testenv/hostile.py): redirects that would carry credentials
/// elsewhere, endless or enormous answers, certificates for other names. docs/security.md lists the rules tested here.
final class HostileServerTests: XCTestCase {
    var ns = ""
    var storage: URL!
    var e: [String: String] = [:]

    override func setUpWithError() throws {
        e = try TestEnv.require("FLUXS_TEST_KUBECONFIG", "FLUXS_TEST_GIT_ROOT", "FLUXS_TEST_GIT_HTTP", "FLUXS_TEST_GIT_USER", "FLUXS_TEST_GIT_PASSWORD",
                                "FLUXS_TEST_GIT_TOKEN", "FLUXS_TEST_CA", "FLUXS_TEST_KUBE_ADMIN_TOKEN", "FLUXS_TEST_KUBE_SERVER",
                                "FLUXS_TEST_HOSTILE", "FLUXS_TEST_HOSTILE_ELSEWHERE", "FLUXS_TEST_HOSTILE_TLS",
                                "FLUXS_TEST_HOSTILE_TLS_OTHER", "FLUXS_TEST_HOSTILE_KUBE_SNI")
        ns = "hs-\(UUID().uuidString.prefix(6).lowercased())"
        storage = try TestEnv.tempDir("fluxs-storage")
        XCTAssertEqual(try TestEnv.fluxs(["install"]).status, 0)
        XCTAssertEqual(try TestEnv.run("kubectl", ["create", "namespace", ns]).status, 0)
    }

    override func tearDownWithError() throws {
        if let storage { try? FileManager.default.removeItem(at: storage) }
    }

    var hostile: String { e["FLUXS_TEST_HOSTILE"]! }

    func fluxs(_ args: [String], env: [String: String] = [:]) throws -> TestEnv.Run {
        try TestEnv.fluxs(args + ["-n", ns], env: ["FLUXS_STORAGE_PATH": storage.path].merging(env) { $1 })
    }

    /// Runs fluxs as the only child of a small Python process and returns its peak resident memory in KiB
    /// (getrusage(RUSAGE_CHILDREN).ru_maxrss after it ended: the kernel's own accounting).
    func measured(_ args: [String]) throws -> (run: TestEnv.Run, peakKiB: Int, seconds: Double) {
        let out = storage.appendingPathComponent("rusage-\(UUID().uuidString.prefix(6))")
        let script = """
        import resource, subprocess, sys, time
        t = time.time()
        rc = subprocess.call(sys.argv[2:])
        open(sys.argv[1], "w").write("%d %.2f" % (resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.time() - t))
        sys.exit(rc)
        """
        let r = try TestEnv.run("python3", ["-c", script, out.path, TestEnv.fluxsBinary.path] + args + ["-n", ns],
                                env: ["FLUXS_STORAGE_PATH": storage.path])
        let parts = try String(contentsOf: out, encoding: .utf8).split(separator: " ")
        return (r, Int(parts[0]) ?? 0, Double(parts[1]) ?? 0)
    }

    struct Seen { var listener: String; var method: String; var path: String; var headers: [String: String] }

    /// What the hostile server received since the last clear, for paths under `marker`.
    func seen(_ marker: String) throws -> [Seen] {
        let data = Data(try TestEnv.run("curl", ["-sf", "\(hostile)/__hostile/requests"]).stdout.utf8)
        let all = (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["requests"] as? [[String: Any]] ?? []
        return all.compactMap { r in
            let path = r["path"] as? String ?? ""
            guard path.contains(marker) else { return nil }
            return Seen(listener: r["listener"] as? String ?? "", method: r["method"] as? String ?? "", path: path,
                        headers: r["headers"] as? [String: String] ?? [:])
        }
    }

    func repo(_ files: [String: String] = ["a.yaml": "a: 1\n"]) throws -> GitFixture {
        try GitFixture(root: e["FLUXS_TEST_GIT_ROOT"]!, files: files)
    }

    // MARK: redirects

    func testCredentialsAreNeverSentToAnotherHostAfterARedirect() throws {
        let r = try repo()
        let user = e["FLUXS_TEST_GIT_USER"]!, pass = e["FLUXS_TEST_GIT_PASSWORD"]!, token = e["FLUXS_TEST_GIT_TOKEN"]!
        let basic = "Basic " + Data("\(user):\(pass)".utf8).base64EncodedString()
        XCTAssertEqual(try TestEnv.run("kubectl", ["create", "secret", "generic", "tok", "-n", ns, "--from-literal=bearerToken=\(token)"]).status, 0)
        let head = try r.git("rev-parse", "HEAD")

        // Another host, and the same host on another port: a 401 there gets no password, and no token is sent along.
        for (route, auth) in [("redirect", "basic"), ("redirect-port", "basic"), ("redirect", "bearer")] {
            let credentials = auth == "basic" ? ["--username=\(user)", "--password=\(pass)"] : ["--secret-ref=tok"]
            for (i, pin) in [[] as [String], ["--commit=\(head)"]].enumerated() {
                let name = "\(route)-\(auth)-\(i)"
                let out = try fluxs(["create", "source", "git", name, "--url=\(hostile)/\(route)/\(auth)/\(r.name).git", "--interval=1m"]
                                    + (pin.isEmpty ? ["--branch=main"] : pin) + credentials)
                XCTAssertEqual(out.status, 1, "\(name): \(out.stderr)")
                XCTAssertTrue(out.stderr.contains("fluxs does not send the credentials for \(hostile) to another host"), "\(name): \(out.stderr)")
                let elsewhere = try seen(r.name).filter { $0.listener == "elsewhere" }
                XCTAssertFalse(elsewhere.isEmpty, name)
                for s in elsewhere {
                    XCTAssertNil(s.headers["authorization"], "\(name): credentials sent to \(s.listener) \(s.method) \(s.path)")
                }
            }
        }
        let origin = try seen(r.name).filter { $0.listener == "origin" }
        XCTAssertTrue(origin.contains { $0.headers["authorization"] == basic }, "the origin itself gets the credentials")

        // The same origin (a renamed repository): credentials go along and the fetch works, as with git.
        let moved = try fluxs(["create", "source", "git", "moved", "--url=\(hostile)/moved/basic/\(r.name).git", "--branch=main",
                               "--interval=1m", "--username=\(user)", "--password=\(pass)"])
        XCTAssertEqual(moved.status, 0, moved.stderr)
        XCTAssertTrue(moved.stderr.contains("fetched revision: main@sha1:\(head)"), moved.stderr)
        // Another host without credentials: followed, as git follows the first request's redirect.
        let anonymous = try fluxs(["create", "source", "git", "anonymous", "--url=\(hostile)/redirect/git/\(r.name).git", "--branch=main", "--interval=1m"])
        XCTAssertEqual(anonymous.status, 0, anonymous.stderr)

        // https to http is refused, on the smart-HTTP path and on libgit2's (a pinned commit).
        let tls = e["FLUXS_TEST_HOSTILE_TLS"]!
        for (i, pin) in [["--branch=main"], ["--commit=\(head)"]].enumerated() {
            let plain = try fluxs(["create", "source", "git", "plain\(i)", "--url=\(tls)/redirect-plain/git/\(r.name).git", "--interval=1m",
                                   "--ca-file=\(e["FLUXS_TEST_CA"]!)"] + pin)
            XCTAssertEqual(plain.status, 1, plain.stderr)
            XCTAssertTrue(plain.stderr.contains("(https to plain http); fluxs does not follow redirects that leave TLS"), plain.stderr)
        }
        let loop = try fluxs(["create", "source", "git", "loop", "--url=\(hostile)/redirect-loop/git/\(r.name).git", "--branch=main", "--interval=1m"])
        XCTAssertEqual(loop.status, 1)
        XCTAssertTrue(loop.stderr.contains("redirected more than 10 times"), loop.stderr)

        // The Kubernetes client follows no redirect: the token stays with the API server.
        let kube = try fluxs(["get", "sources", "git", "--server=\(hostile)/redirect/kube-\(r.name)", "--token=\(token)"])
        XCTAssertEqual(kube.status, 1)
        XCTAssertTrue(kube.stderr.contains("answered HTTP 302, a redirect to \(e["FLUXS_TEST_HOSTILE_ELSEWHERE"]!): fluxs does not follow redirects"), kube.stderr)
        XCTAssertTrue(try seen("kube-\(r.name)").allSatisfy { $0.listener == "origin" })

        // The GitHub API: the token goes to the API's origin only.
        let gh = try fluxs(["bootstrap", "github", "--owner=fluxs-user", "--repository=\(r.name)-gh", "--path=clusters/x", "--personal"],
                           env: ["GITHUB_TOKEN": token, "FLUXS_GITHUB_API_URL": "\(hostile)/redirect/gh-\(r.name)"])
        XCTAssertEqual(gh.status, 1, gh.stderr)
        let ghSeen = try seen("gh-\(r.name)")
        XCTAssertTrue(ghSeen.contains { $0.listener == "origin" && $0.headers["authorization"] == "Bearer \(token)" }, "\(ghSeen)")
        XCTAssertTrue(ghSeen.contains { $0.listener == "elsewhere" }, "\(ghSeen)")
        XCTAssertTrue(ghSeen.filter { $0.listener == "elsewhere" }.allSatisfy { $0.headers["authorization"] == nil }, "\(ghSeen)")
    }

    func testNotificationsKeepSecretsWithTheirAddress() throws {
        let r = try repo()
        let marker = "hook-\(r.name)"
        // A generic Provider whose Secret adds a token header; its address redirects to another host.
        XCTAssertEqual(try TestEnv.run("kubectl", ["create", "secret", "generic", "hook", "-n", ns,
                                                   "--from-literal=address=\(hostile)/redirect/\(marker)",
                                                   "--from-literal=headers=X-Api-Key: key-\(marker)\nAuthorization: Bearer tok-\(marker)"]).status, 0)
        // And one that cannot be reached, its token in the address: the warning names the Provider, not the address.
        let closed = try freePort()
        XCTAssertEqual(try TestEnv.run("kubectl", ["create", "secret", "generic", "down", "-n", ns,
                                                   "--from-literal=address=http://127.0.0.1:\(closed)/services/T000/B000/secret-\(marker)"]).status, 0)
        for p in ["hook", "down"] {
            XCTAssertEqual(try fluxs(["create", "alert-provider", p, "--type=generic", "--secret-ref=\(p)"]).status, 0)
            XCTAssertEqual(try fluxs(["create", "alert", p, "--provider-ref=\(p)", "--event-source=GitRepository/*"]).status, 0)
        }
        let out = try fluxs(["create", "source", "git", "src", "--url=\(e["FLUXS_TEST_GIT_HTTP"] ?? "")/git/\(r.name).git", "--branch=main", "--interval=1m"])
        XCTAssertEqual(out.status, 0, out.stderr)
        let posts = try seen(marker)
        XCTAssertTrue(posts.contains { $0.listener == "origin" && $0.headers["x-api-key"] == "key-\(marker)" }, "\(posts)")
        let away = posts.filter { $0.listener == "elsewhere" }
        XCTAssertFalse(away.isEmpty, "the redirect is followed, as notification-controller's client does")
        for s in away { XCTAssertTrue(s.headers.isEmpty, "credentials went to another host: \(s.headers)") }
        XCTAssertTrue(out.stderr.contains("through Provider \(ns)/down: postMessage failed: connection refused"), out.stderr)
        XCTAssertFalse(out.stderr.contains("\(closed)") || out.stderr.contains("secret-\(marker)"), out.stderr)
    }

    func freePort() throws -> Int {
        let r = try TestEnv.run("python3", ["-c", "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"])
        return Int(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 9
    }

    // MARK: bounded memory

    func testHostileAnswersAreBoundedAndFailWithOneLine() throws {
        // KiB: the largest answer fluxs keeps (256 MiB, HTTPLimits.body) plus the process's own memory, which was
        // 30-44 MiB in the queue's runs (286-300 MiB peaks for the endless API body); an unbounded reader would
        // pass this by far, which is what the test is for.
        let limit = 320 * 1024
        var figures: [String] = []
        func check(_ what: String, _ args: [String], expect: String) throws {
            let m = try measured(args)
            XCTAssertEqual(m.run.status, 1, "\(what): \(m.run.stderr)")
            let failure = m.run.stderr.split(separator: "\n").filter { $0.hasPrefix("✗") }
            XCTAssertEqual(failure.count, 1, "\(what): \(m.run.stderr)")
            XCTAssertTrue(failure.first?.contains(expect) ?? false, "\(what): \(m.run.stderr)")
            XCTAssertLessThan(m.peakKiB, limit, "\(what): peak \(m.peakKiB) KiB")
            figures.append("\(what) \(m.peakKiB / 1024) MiB/\(String(format: "%.1f", m.seconds))s")
        }
        func git(_ name: String, _ path: String, _ ref: String) -> [String] {
            // A fetch timeout well above the default 1m: on a loaded machine the 2M-ref listings must reach the ref
            // limit, not the timeout.
            ["create", "source", "git", name, "--url=\(hostile)/\(path)", ref, "--interval=1m", "--fetch-timeout=10m"]
        }
        try check("endless refs", git("endless", "endless-refs/x.git", "--branch=main"), expect: "lists more than 1000000 refs; fluxs stops reading there")
        try check("2M refs", git("two-million", "many-refs/2000000/x.git", "--branch=main"), expect: "lists more than 1000000 refs")
        try check("2M tags for semver", git("semver", "many-refs/2000000/x.git", "--tag-semver=>=1.0.0"),
                  expect: "lists more than 100000 refs this GitRepository could use")
        try check("2M refs, pinned", git("pinned", "many-refs/2000000/x.git", "--commit=\(String(repeating: "1", count: 40))"),
                  expect: "lists more than 1000000 refs")
        try check("endless git headers", git("headers", "huge-headers/x.git", "--branch=main"), expect: "its headers exceed 256 KiB")
        try check("endless API headers", ["get", "sources", "git", "--server=\(hostile)/huge-headers", "--token=t"], expect: "its headers exceed 256 KiB")
        try check("endless API body", ["get", "sources", "git", "--server=\(hostile)/endless-body", "--token=t"], expect: "its body exceeds 256 MiB")
        print("hostile servers: \(figures.joined(separator: ", ")); limit \(limit / 1024) MiB")
    }

    // MARK: TLS names

    func testTLSServerNameIsHonouredAndMismatchesSaySo() throws {
        let kubeconfig = storage.appendingPathComponent("sni.kubeconfig")
        func write(serverName: String?) throws {
            try TestEnv.write("""
            apiVersion: v1
            kind: Config
            clusters:
            - name: sni
              cluster:
                server: \(e["FLUXS_TEST_HOSTILE_KUBE_SNI"]!)
                certificate-authority: \(e["FLUXS_TEST_CA"]!)
            \(serverName.map { "    tls-server-name: \($0)" } ?? "")
            users:
            - name: admin
              user: {token: \(e["FLUXS_TEST_KUBE_ADMIN_TOKEN"]!)}
            contexts:
            - name: sni
              context: {cluster: sni, user: admin}
            current-context: sni

            """, to: kubeconfig, mode: 0o600)
        }
        // The certificate names only kube.fluxs.test; the server is reached by its address. (The namespace has no
        // GitRepository: the API answered when fluxs says so.)
        let answered = "no GitRepository objects found in \"\(ns)\" namespace"
        try write(serverName: "kube.fluxs.test")
        let named = try fluxs(["get", "sources", "git", "--kubeconfig=\(kubeconfig.path)"])
        XCTAssertTrue(named.stderr.contains(answered), named.stderr)
        try write(serverName: nil)
        let unnamed = try fluxs(["get", "sources", "git", "--kubeconfig=\(kubeconfig.path)"])
        XCTAssertEqual(unnamed.status, 1)
        XCTAssertTrue(unnamed.stderr.contains("is not valid for the name 127.0.0.1"), unnamed.stderr)
        let flag = try fluxs(["get", "sources", "git", "--kubeconfig=\(kubeconfig.path)", "--tls-server-name=kube.fluxs.test"])
        XCTAssertTrue(flag.stderr.contains(answered), flag.stderr)
        let wrong = try fluxs(["get", "sources", "git", "--tls-server-name=wrong.fluxs.test"])
        XCTAssertEqual(wrong.status, 1)
        XCTAssertTrue(wrong.stderr.contains("is not valid for the name wrong.fluxs.test"), wrong.stderr)

        // Git: a certificate for another name says so, not "not signed by a trusted authority".
        let r = try repo()
        let git = try fluxs(["create", "source", "git", "other", "--url=\(e["FLUXS_TEST_HOSTILE_TLS_OTHER"]!)/real/git/\(r.name).git",
                             "--branch=main", "--interval=1m", "--ca-file=\(e["FLUXS_TEST_CA"]!)"])
        XCTAssertEqual(git.status, 1)
        XCTAssertTrue(git.stderr.contains("x509: the TLS certificate of localhost:"), git.stderr)
        XCTAssertTrue(git.stderr.contains("is not valid for the name localhost"), git.stderr)
        XCTAssertFalse(git.stderr.contains("not signed by a trusted authority"), git.stderr)
    }
}
