import Foundation
import FluxsTestSupport
import XCTest

/// Repositories written by an attacker: what they ask fluxs to read must stay within what the GitRepository may
/// read (docs/security.md).
final class HostileRepositoryTests: XCTestCase {
    var ns = ""
    var storage: URL!
    var e: [String: String] = [:]

    override func setUpWithError() throws {
        e = try TestEnv.require("FLUXS_TEST_KUBECONFIG", "FLUXS_TEST_GIT_ROOT", "FLUXS_TEST_GIT_HTTP", "FLUXS_TEST_GIT_USER",
                                "FLUXS_TEST_GIT_PASSWORD")
        ns = "hr-\(UUID().uuidString.prefix(6).lowercased())"
        storage = try TestEnv.tempDir("fluxs-storage")
        XCTAssertEqual(try TestEnv.fluxs(["install"]).status, 0)
        XCTAssertEqual(try TestEnv.run("kubectl", ["create", "namespace", ns]).status, 0)
    }

    override func tearDownWithError() throws {
        if let storage { try? FileManager.default.removeItem(at: storage) }
    }

    func fluxs(_ args: [String]) throws -> TestEnv.Run {
        try TestEnv.fluxs(args + ["-n", ns], env: ["FLUXS_STORAGE_PATH": storage.path])
    }

    func jsonpath(_ kind: String, _ name: String, _ path: String) throws -> String {
        try TestEnv.run("kubectl", ["get", kind, name, "-n", ns, "-o", "jsonpath={\(path)}"]).stdout
    }

    func testLocalSubmodulesAreRefused() throws {
        // A repository served only with a password; on the disk of the machine running fluxs it is readable.
        let secret = try GitFixture(root: e["FLUXS_TEST_GIT_ROOT"]!, files: ["credentials.txt": "password=hunter2\n"])
        let secretHead = try secret.git("rev-parse", "HEAD")
        let local = "\(e["FLUXS_TEST_GIT_ROOT"]!)/\(secret.name).git"
        let top = try GitFixture(root: e["FLUXS_TEST_GIT_ROOT"]!, files: ["app.yaml": "a: 1\n"])
        for (i, url) in [local, "file://\(local)", "ext::sh -c touch% /tmp/pwned", "-uhttp://x/y.git"].enumerated() {
            try TestEnv.write("[submodule \"leak\"]\n\tpath = leak\n\turl = \(url)\n", to: top.work.appendingPathComponent(".gitmodules"))
            try top.git("add", ".gitmodules")
            try top.git("update-index", "--add", "--cacheinfo", "160000,\(secretHead),leak")
            try top.git("commit", "-q", "-m", "submodule \(i)")
            try top.push()
            let r = try fluxs(["create", "source", "git", "top\(i)", "--url=\(e["FLUXS_TEST_GIT_HTTP"]!)/git/\(top.name).git", "--branch=main",
                               "--interval=1m", "--recurse-submodules"])
            XCTAssertEqual(r.status, 1, "\(url): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("submodule 'leak': the URL '\(url)'"), r.stderr)
            if i < 2 { XCTAssertTrue(r.stderr.contains("fluxs refuses local submodules, as git does since CVE-2022-39253"), r.stderr) }
            XCTAssertEqual(try jsonpath("gitrepository", "top\(i)", ".status.artifact.path"), "", "no artifact from \(url)")
        }
        // Nothing of the protected repository reached the storage.
        let grep = try TestEnv.run("grep", ["-r", "-l", "hunter2", storage.path])
        XCTAssertEqual(grep.stdout, "")
        // git refuses the same submodule (the oracle for the rule).
        let clone = try TestEnv.tempDir("fluxs-clone")
        defer { try? FileManager.default.removeItem(at: clone) }
        try TestEnv.write("[submodule \"leak\"]\n\tpath = leak\n\turl = \(local)\n", to: top.work.appendingPathComponent(".gitmodules"))
        try top.git("add", ".gitmodules")
        try top.git("commit", "-q", "-m", "local again")
        try top.push()
        let git = try TestEnv.run("git", ["clone", "-q", "--recurse-submodules", "\(e["FLUXS_TEST_GIT_HTTP"]!)/git/\(top.name).git", clone.appendingPathComponent("d").path])
        XCTAssertTrue(git.stderr.contains("transport 'file' not allowed"), git.stderr)
    }
}
