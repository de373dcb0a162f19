// Test support needs XCTest, which a build with --static-swift-stdlib does not have (no static XCTest):
// there this module is empty, and only the test targets use it.
#if canImport(XCTest)
import Foundation
import XCTest

/// A namespace for Flux objects, one for the applied objects, a storage directory and helpers to run fluxs and
/// kubectl there and to inject API faults: what the reconcile tests share.
public final class ReconcileFixture {
    public let ns: String
    public let apps: String
    public let storage: URL
    public let env: [String: String]

    public init(prefix: String) throws {
        env = try TestEnv.require("FLUXS_TEST_KUBECONFIG", "FLUXS_TEST_GIT_ROOT", "FLUXS_TEST_GIT_HTTP", "FLUXS_TEST_KUBE_SERVER",
                                  "FLUXS_TEST_KUBE_ADMIN_TOKEN", "FLUXS_TEST_KUBE_CA")
        let id = UUID().uuidString.prefix(6).lowercased()
        ns = "\(prefix)-\(id)"
        apps = "\(prefix)-apps-\(id)"
        storage = try TestEnv.tempDir("fluxs-storage")
        XCTAssertEqual(try TestEnv.fluxs(["install"]).status, 0)
        for n in [ns, apps] { XCTAssertEqual(try TestEnv.run("kubectl", ["create", "namespace", n]).status, 0) }
    }

    public func cleanUp() {
        try? clearFaults()
        try? FileManager.default.removeItem(at: storage)
    }

    public func fluxs(_ args: [String], extraEnv: [String: String] = [:]) throws -> TestEnv.Run {
        try TestEnv.fluxs(args + ["-n", ns], env: ["FLUXS_STORAGE_PATH": storage.path].merging(extraEnv) { _, b in b })
    }

    @discardableResult
    public func kubectl(_ args: String..., stdin: String? = nil) throws -> TestEnv.Run { try TestEnv.run("kubectl", args, stdin: stdin) }

    /// A GitRepository `fleet` for a new repository holding `files`.
    public func source(_ files: [String: String]) throws -> GitFixture {
        let repo = try GitFixture(root: env["FLUXS_TEST_GIT_ROOT"]!, files: files)
        let r = try fluxs(["create", "source", "git", "fleet", "--url=\(env["FLUXS_TEST_GIT_HTTP"]!)/git/\(repo.name).git", "--branch=main", "--interval=1m"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return repo
    }

    public func jsonpath(_ kind: String, _ name: String, _ path: String, namespace: String? = nil) throws -> String {
        try TestEnv.run("kubectl", ["get", kind, name, "-n", namespace ?? ns, "-o", "jsonpath={\(path)}"]).stdout
    }

    public func ready(_ name: String, kind: String = "kustomization") throws -> (status: String, reason: String, message: String) {
        let c = ".status.conditions[?(@.type==\"Ready\")]"
        return (try jsonpath(kind, name, c + ".status"), try jsonpath(kind, name, c + ".reason"), try jsonpath(kind, name, c + ".message"))
    }

    /// Inventory ids of a Kustomization.
    public func inventory(_ name: String) throws -> [String] {
        try jsonpath("kustomization", name, ".status.inventory.entries[*].id").split(separator: " ").map(String.init).sorted()
    }

    /// Names of the objects of a kind in the apps namespace (`kube-root-ca.crt` left out).
    public func names(_ kind: String) throws -> [String] {
        try TestEnv.run("kubectl", ["get", kind, "-n", apps, "-o", "jsonpath={.items[*].metadata.name}"]).stdout
            .split(separator: " ").map(String.init).filter { $0 != "kube-root-ca.crt" }.sorted()
    }

    public func configMaps() throws -> [String] { try names("configmaps") }

    // MARK: the API simulator's control endpoints

    public func sim(_ method: String, _ path: String, _ body: Any? = nil) throws -> [String: Any] {
        var args = ["-sS", "--fail-with-body", "--cacert", env["FLUXS_TEST_KUBE_CA"]!, "-X", method,
                    "-H", "Authorization: Bearer \(env["FLUXS_TEST_KUBE_ADMIN_TOKEN"]!)", "-H", "Content-Type: application/json"]
        if let body { args += ["--data-binary", String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self)] }
        let r = try TestEnv.run("curl", args + [env["FLUXS_TEST_KUBE_SERVER"]! + path])
        XCTAssertEqual(r.status, 0, "\(method) \(path): \(r.stdout) \(r.stderr)")
        return (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]) ?? [:]
    }

    /// Adds a fault (docs/testing.md: verb, path regex, query regex, status, retryAfter, count, action, delay).
    public func fault(_ spec: [String: Any]) throws { _ = try sim("POST", "/__sim/faults", spec) }

    public func clearFaults() throws { _ = try sim("DELETE", "/__sim/faults") }

    /// How many faults the simulator has injected since it started.
    public func faultsInjected() throws -> Int { try sim("GET", "/__sim/faults")["injected"] as? Int ?? 0 }
}
#endif
