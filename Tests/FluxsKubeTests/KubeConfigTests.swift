import Foundation
import FluxsTestSupport
import XCTest
@testable import FluxsKube

final class KubeConfigTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = try TestEnv.tempDir("kubeconfig")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func file(_ name: String, _ text: String) throws -> String {
        let u = dir.appendingPathComponent(name)
        try TestEnv.write(text, to: u)
        return u.path
    }

    func loader(_ env: [String: String]) -> KubeConfigLoader { KubeConfigLoader(environment: env, home: dir.path) }

    func testSeveralFilesMergeFirstValueWins() throws {
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("sub"), withIntermediateDirectories: true)
        try TestEnv.write("CA-ONE", to: dir.appendingPathComponent("sub/ca.crt"))
        let a = try file("sub/a.yaml", """
        apiVersion: v1
        kind: Config
        current-context: one
        clusters:
        - name: c1
          cluster: {server: "https://one.example:6443/", certificate-authority: ca.crt}
        users:
        - name: u1
          user: {token: token-one}
        contexts:
        - name: one
          context: {cluster: c1, user: u1, namespace: apps}
        """)
        let b = try file("b.yaml", """
        current-context: two
        clusters:
        - name: c1
          cluster: {server: "https://shadowed.example"}
        - name: c2
          cluster: {server: "https://two.example", insecure-skip-tls-verify: true}
        users:
        - name: u2
          user: {username: admin, password: secret}
        contexts:
        - name: two
          context: {cluster: c2, user: u2}
        """)
        let l = loader(["KUBECONFIG": "\(a):/nonexistent/file:\(b)"])
        let cfg = try l.load(ConnectionOverrides())
        XCTAssertEqual(cfg.server, "https://one.example:6443")
        XCTAssertEqual(cfg.namespace, "apps")
        XCTAssertEqual(cfg.tls.caData, Array("CA-ONE".utf8))
        XCTAssertEqual(cfg.auth, .token("token-one"))
        var o = ConnectionOverrides()
        o.context = "two"
        let two = try l.load(o)
        XCTAssertEqual(two.server, "https://two.example")
        XCTAssertTrue(two.tls.insecure)
        XCTAssertEqual(two.auth, .basic(username: "admin", password: "secret"))
        XCTAssertEqual(l.contextNames(explicit: nil), ["one", "two"])
    }

    func testFlagOverrides() throws {
        let a = try file("a.yaml", "clusters:\n- name: c\n  cluster: {server: https://a}\nusers:\n- name: u\n  user: {token: t}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n")
        var o = ConnectionOverrides()
        o.kubeconfig = a
        o.server = "https://override:1"
        o.token = "flag-token"
        o.insecureSkipTLSVerify = true
        o.impersonate = "jane"
        o.impersonateGroups = ["g1", "g2"]
        let cfg = try loader([:]).load(o)
        XCTAssertEqual(cfg.server, "https://override:1")
        XCTAssertEqual(cfg.auth, .token("flag-token"))
        XCTAssertTrue(cfg.tls.insecure)
        XCTAssertEqual(cfg.impersonateUser, "jane")
        XCTAssertEqual(cfg.impersonateGroups, ["g1", "g2"])
    }

    func testErrorsNameTheFileOrContextAndNeverTheToken() throws {
        var o = ConnectionOverrides()
        o.kubeconfig = dir.appendingPathComponent("missing.yaml").path
        XCTAssertThrowsError(try loader([:]).load(o)) { e in
            XCTAssertTrue("\(e)".contains("missing.yaml"), "\(e)")
        }
        let a = try file("a.yaml", "clusters: []\nusers:\n- name: u\n  user: {token: super-secret-token}\ncontexts:\n- name: x\n  context: {cluster: nope, user: u}\ncurrent-context: x\n")
        XCTAssertThrowsError(try loader(["KUBECONFIG": a]).load(ConnectionOverrides())) { e in
            XCTAssertTrue("\(e)".contains("cluster \"nope\""), "\(e)")
            XCTAssertFalse("\(e)".contains("super-secret-token"))
        }
        o = ConnectionOverrides()
        o.context = "ghost"
        XCTAssertThrowsError(try loader(["KUBECONFIG": a]).load(o)) { e in
            XCTAssertTrue("\(e)".contains("context \"ghost\" not found"), "\(e)")
        }
        let bad = try file("bad.yaml", "clusters: [\n")
        XCTAssertThrowsError(try loader(["KUBECONFIG": bad]).load(ConnectionOverrides())) { e in
            XCTAssertTrue("\(e)".contains("bad.yaml:"), "\(e)")
        }
        XCTAssertThrowsError(try loader([:]).load(ConnectionOverrides())) { e in
            XCTAssertTrue("\(e)".contains("no Kubernetes configuration found"), "\(e)")
        }
    }

    func testExecConfigAndRelativeCommand() throws {
        let a = try file("k.yaml", """
        clusters:
        - name: c
          cluster: {server: https://x}
        users:
        - name: u
          user:
            exec:
              apiVersion: client.authentication.k8s.io/v1beta1
              command: ./bin/plugin
              args: [a, b]
              env: [{name: FOO, value: bar}]
              installHint: install the plugin
              provideClusterInfo: true
        contexts:
        - name: x
          context: {cluster: c, user: u}
        current-context: x
        """)
        let cfg = try loader(["KUBECONFIG": a]).load(ConnectionOverrides())
        guard case .exec(let x) = cfg.auth else { return XCTFail("expected exec auth") }
        XCTAssertEqual(x.command, dir.appendingPathComponent("bin/plugin").path)
        XCTAssertEqual(x.args, ["a", "b"])
        XCTAssertEqual(x.env, [ExecConfig.KeyValue(name: "FOO", value: "bar")])
        XCTAssertEqual(x.apiVersion, "client.authentication.k8s.io/v1beta1")
        XCTAssertTrue(x.provideClusterInfo)
    }

    func testInClusterConfig() throws {
        let sa = dir.appendingPathComponent("sa")
        try TestEnv.write("token-from-file\n", to: sa.appendingPathComponent("token"))
        try TestEnv.write("CA", to: sa.appendingPathComponent("ca.crt"))
        try TestEnv.write("flux-system", to: sa.appendingPathComponent("namespace"))
        var l = loader(["KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"])
        l.serviceAccountDir = sa.path
        let cfg = try l.load(ConnectionOverrides())
        XCTAssertEqual(cfg.server, "https://10.0.0.1:443")
        XCTAssertEqual(cfg.auth, .tokenFile(sa.appendingPathComponent("token").path))
        XCTAssertEqual(cfg.namespace, "flux-system")
    }

    func testGoDurations() throws {
        XCTAssertEqual(try GoDuration.parse("5m0s"), 300)
        XCTAssertEqual(try GoDuration.parse("1h30m"), 5400)
        XCTAssertEqual(try GoDuration.parse("90s"), 90)
        XCTAssertEqual(try GoDuration.parse("1.5h"), 5400)
        XCTAssertEqual(try GoDuration.parse("0"), 0)
        XCTAssertEqual(try GoDuration.parse("500ms"), 0.5)
        XCTAssertThrowsError(try GoDuration.parse("5")) { XCTAssertEqual("\($0)", "time: missing unit in duration \"5\"") }
        XCTAssertThrowsError(try GoDuration.parse("5x")) { XCTAssertEqual("\($0)", "time: unknown unit \"x\" in duration \"5x\"") }
        XCTAssertThrowsError(try GoDuration.parse("abc"))
        XCTAssertEqual(GoDuration.format(300), "5m0s")
        XCTAssertEqual(GoDuration.format(90), "1m30s")
        XCTAssertEqual(GoDuration.format(3600), "1h0m0s")
        XCTAssertEqual(GoDuration.format(30), "30s")
        XCTAssertEqual(GoDuration.format(0.5), "500ms")
        XCTAssertEqual(GoDuration.format(0), "0s")
        XCTAssertEqual(GoDuration.format(1.5), "1.5s")
    }

    func testTimeHelpers() {
        XCTAssertEqual(Clock.rfc3339(0), "1970-01-01T00:00:00Z")
        XCTAssertEqual(Clock.parse("2026-11-25T10:00:00Z"), 1_795_600_800)
        XCTAssertEqual(Clock.parse("2026-11-25T12:00:00+02:00"), 1_795_600_800)
        XCTAssertNil(Clock.parse("yesterday"))
        XCTAssertEqual(Clock.humanDuration(45), "45s")
        XCTAssertEqual(Clock.humanDuration(200), "3m20s")
        XCTAssertEqual(Clock.humanDuration(15 * 3600 + 60), "15h")
        XCTAssertEqual(Clock.humanDuration(51 * 3600), "2d3h")
    }

    func testSHA256() {
        XCTAssertEqual(Hashing.sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(Hashing.sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let million = [UInt8](repeating: 0x61, count: 1_000_000)
        XCTAssertEqual(Hashing.sha256Hex(million), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }
}
