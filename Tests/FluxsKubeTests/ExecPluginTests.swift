import Foundation
import FluxsTestSupport
import FluxsYAML
import XCTest
@testable import FluxsKube

final class ExecPluginTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try TestEnv.tempDir("exec") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// A plugin script that counts its runs and echoes what it was given.
    func plugin(expiresIn: Int = 3600, apiVersion: String = "client.authentication.k8s.io/v1") throws -> ExecConfig {
        let script = dir.appendingPathComponent("plugin.sh")
        try TestEnv.write("""
        #!/bin/sh
        n=$(cat "\(dir.path)/count" 2>/dev/null || echo 0)
        echo $((n + 1)) > "\(dir.path)/count"
        printf '%s' "$KUBERNETES_EXEC_INFO" > "\(dir.path)/info.json"
        printf '%s' "$FOO" > "\(dir.path)/foo"
        echo "plugin says hello on stderr" >&2
        exp=$(date -u -d "+\(expiresIn) seconds" +%Y-%m-%dT%H:%M:%SZ)
        printf '{"apiVersion":"\(apiVersion)","kind":"ExecCredential","status":{"token":"tok-%s","expirationTimestamp":"%s"}}' "$((n + 1))" "$exp"
        """, to: script, mode: 0o755)
        var x = ExecConfig(command: script.path)
        x.env = [.init(name: "FOO", value: "bar")]
        x.provideClusterInfo = true
        return x
    }

    var cluster: RESTConfig {
        var c = RESTConfig(server: "https://cluster.example")
        c.tls.caData = Array("CA".utf8)
        return c
    }

    func runs() -> Int { Int((try? String(contentsOf: dir.appendingPathComponent("count"), encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "0") ?? 0 }

    func testScriptPluginAndCacheUntilExpiry() throws {
        let x = try plugin()
        let runner = ExecPluginRunner(cacheDir: dir.appendingPathComponent("cache").path, environment: ProcessInfo.processInfo.environment)
        let c1 = try runner.run(x, cluster: cluster, user: "u")
        XCTAssertEqual(c1.token, "tok-1")
        XCTAssertNotNil(c1.expiration)
        let info = try JSON.decode(String(contentsOf: dir.appendingPathComponent("info.json"), encoding: .utf8))
        XCTAssertEqual(info["spec"]?["interactive"]?.bool, false)
        XCTAssertEqual(info["spec"]?["cluster"]?["server"]?.string, "https://cluster.example")
        XCTAssertEqual(info["spec"]?["cluster"]?["certificate-authority-data"]?.string, Base64.encode("CA"))
        XCTAssertEqual(try String(contentsOf: dir.appendingPathComponent("foo"), encoding: .utf8), "bar")
        // a second fluxs run reuses the credential from the 0600 cache file
        let c2 = try runner.run(x, cluster: cluster, user: "u")
        XCTAssertEqual(c2.token, "tok-1")
        XCTAssertEqual(runs(), 1)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("cache").path)
        XCTAssertEqual(files.count, 1)
        let attrs = try FileManager.default.attributesOfItem(atPath: dir.appendingPathComponent("cache/\(files[0])").path)
        XCTAssertEqual((attrs[.posixPermissions] as? NSNumber)?.intValue, 0o600)
    }

    func testExpiredCredentialIsRefreshed() throws {
        let x = try plugin(expiresIn: 2)
        let runner = ExecPluginRunner(cacheDir: dir.appendingPathComponent("cache").path, environment: ProcessInfo.processInfo.environment)
        _ = try runner.run(x, cluster: cluster, user: "u")
        let c = try runner.run(x, cluster: cluster, user: "u")
        XCTAssertEqual(c.token, "tok-2")
        XCTAssertEqual(runs(), 2)
    }

    func testMissingPluginNamesTheCommandAndHint() throws {
        var x = ExecConfig(command: "no-such-plugin-xyz")
        x.installHint = "install no-such-plugin-xyz from example.com"
        let runner = ExecPluginRunner(cacheDir: nil, environment: ProcessInfo.processInfo.environment)
        XCTAssertThrowsError(try runner.run(x, cluster: cluster, user: "alice")) { e in
            let m = "\(e)"
            XCTAssertTrue(m.contains("\"no-such-plugin-xyz\""), m)
            XCTAssertTrue(m.contains("user \"alice\""), m)
            XCTAssertTrue(m.contains("install no-such-plugin-xyz from example.com"), m)
        }
    }

    func testWrongAPIVersionIsRejected() throws {
        let x = try plugin(apiVersion: "client.authentication.k8s.io/v1beta1")
        let runner = ExecPluginRunner(cacheDir: nil, environment: ProcessInfo.processInfo.environment)
        XCTAssertThrowsError(try runner.run(x, cluster: cluster, user: "u")) { e in
            XCTAssertTrue("\(e)".contains("plugin returned version client.authentication.k8s.io/v1beta1"), "\(e)")
        }
    }

    /// The real `aws eks get-token` (awscli signs offline with the test credentials);
    /// kubesim verifies the SigV4 signature of the presigned STS request.
    func testAWSEKSGetTokenAgainstTheSimulator() throws {
        let e = try TestEnv.require("FLUXS_TEST_KUBECONFIG")
        guard Subprocess.which("aws") != nil else { throw XCTSkip("awscli is not installed") }
        var o = ConnectionOverrides()
        o.kubeconfig = e["FLUXS_TEST_KUBECONFIG"]
        o.context = "kubesim-eks"
        let cfg = try KubeConfigLoader(environment: ProcessInfo.processInfo.environment, home: dir.path).load(o)
        guard case .exec(let x) = cfg.auth else { return XCTFail("kubesim-eks should use the aws exec plugin") }
        XCTAssertEqual(x.command, "aws")
        let runner = ExecPluginRunner(cacheDir: dir.appendingPathComponent("cache").path, environment: ProcessInfo.processInfo.environment)
        let client = try KubeClient(config: cfg, timeout: 60, exec: runner)
        let ns = try client.list(ResourceRef(group: "", version: "v1", resource: "namespaces", kind: "Namespace", namespaced: false), namespace: nil)
        XCTAssertTrue(ns.items.contains { $0["metadata"]?["name"]?.string == "default" })
        // the token is cached until its expiry, so a second client does not run aws again
        let cached = runner.cached(x, server: cfg.server)
        XCTAssertNotNil(cached?.token)
        XCTAssertTrue(cached!.token!.hasPrefix("k8s-aws-v1."))
    }
}
