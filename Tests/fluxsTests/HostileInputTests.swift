import Foundation
import FluxsTestSupport
import XCTest

/// Manifests written to exhaust fluxs (alias bombs, deep nesting, invalid UTF-8, a 100 MB file, a mapping that is
/// no object): one line naming the file (and the line), nothing applied, and the peak memory of the fluxs process
/// (its rusage, from wait4) under 300 MB (docs/security.md).
final class HostileInputTests: XCTestCase {
    static let memoryLimitKiB = 300 * 1000

    /// Runs fluxs as a child of a small Python parent that reports the child's ru_maxrss (KiB on Linux).
    func measured(_ args: [String], env: [String: String] = [:]) throws -> (TestEnv.Run, Int) {
        let wrapper = """
        import os, sys
        pid = os.fork()
        if pid == 0:
            os.execv(sys.argv[1], sys.argv[1:])
        _, status, usage = os.wait4(pid, 0)
        sys.stderr.write("\\nmaxrss-kib=%d\\n" % usage.ru_maxrss)
        sys.exit(os.waitstatus_to_exitcode(status))
        """
        var r = try TestEnv.run("python3", ["-c", wrapper, TestEnv.fluxsBinary.path] + args, env: env)
        guard let at = r.stderr.range(of: "\nmaxrss-kib=", options: .backwards),
              let kib = Int(r.stderr[at.upperBound...].trimmingCharacters(in: .whitespacesAndNewlines)) else {
            XCTFail("no maxrss: \(r.stderr)")
            return (r, 0)
        }
        r.stderr = String(r.stderr[..<at.lowerBound])
        return (r, kib)
    }

    static let ok = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n"

    /// The hostile files: name, bytes, the line named (if any), what the one error line must say.
    static func cases() -> [(String, [UInt8], Int?, String)] {
        var bomb = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\nx:\n  a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        for i in 1..<10 { bomb += "  a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]\n" }
        let deep = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deep\nx: " + String(repeating: "{a: ", count: 10_000) + "v" +
            String(repeating: "}", count: 10_000) + "\n"
        // 100 MB of ordinary ConfigMaps.
        let doc = Array(("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n" +
            (0..<30).map { "  key\($0): value-\($0)-xxxxxxxxxxxxxxxxxxxx\n" }.joined() + "---\n").utf8)
        var big: [UInt8] = []
        big.reserveCapacity(100_000_000 + doc.count)
        while big.count < 100_000_000 { big += doc }
        return [
            ("bomb.yaml", Array(bomb.utf8), 9, "document contains excessive aliasing"),
            ("deep.yaml", Array(deep.utf8), 5, "exceeded max depth of 1000"),
            ("latin1.yaml", Array("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: latin\ndata:\n  k: \"caf".utf8) + [0xE9] + Array("\"\n".utf8),
             6, "invalid trailing UTF-8 octet"),
            ("big.yaml", big, nil, "the file is larger than the 16 MiB fluxs reads from one manifest file"),
            ("noobject.yaml", Array("foo: bar\n".utf8), nil, "missing"),
        ]
    }

    /// `fluxs kustomize build` (no cluster): each file alone next to a good one.
    func testKustomizeBuildRefusesHostileFiles() throws {
        let dir = try TestEnv.tempDir("fluxs-hostile-input")
        defer { try? FileManager.default.removeItem(at: dir) }
        var peak = 0
        for (name, bytes, line, message) in Self.cases() {
            let expect = [line.map { "\(name):\($0):" } ?? name, message]
            let d = dir.appendingPathComponent(name + ".d")
            try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
            try Data(bytes).write(to: d.appendingPathComponent(name))
            try TestEnv.write(Self.ok, to: d.appendingPathComponent("ok.yaml"))
            try TestEnv.write("resources:\n- ok.yaml\n- \(name)\n", to: d.appendingPathComponent("kustomization.yaml"))
            let (r, kib) = try measured(["kustomize", "build", d.path])
            peak = max(peak, kib)
            XCTAssertEqual(r.status, 1, "\(name): \(r.stderr)")
            XCTAssertEqual(r.stdout, "", "\(name): nothing printed")
            for e in expect { XCTAssertTrue(r.stderr.contains(e), "\(name): \(e): \(r.stderr.prefix(400))") }
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "\(name): one line: \(r.stderr.prefix(400))")
            XCTAssertLessThan(kib, Self.memoryLimitKiB, "\(name): peak memory \(kib) KiB")
        }
        print("hostile input (kustomize build): \(Self.cases().count) files refused, peak RSS \(peak / 1024) MiB (limit \(Self.memoryLimitKiB / 1000) MB)")
    }

    /// Reconciled from Git: the same files fail the Kustomization naming the file in the source, apply and prune
    /// nothing, and keep fluxs under 300 MB.
    func testReconcileRefusesHostileFiles() throws {
        let e = try TestEnv.require("FLUXS_TEST_KUBECONFIG", "FLUXS_TEST_GIT_ROOT", "FLUXS_TEST_GIT_HTTP")
        let ns = "hi-\(UUID().uuidString.prefix(6).lowercased())"
        let storage = try TestEnv.tempDir("fluxs-storage")
        defer { try? FileManager.default.removeItem(at: storage) }
        let env = ["FLUXS_STORAGE_PATH": storage.path]
        XCTAssertEqual(try TestEnv.fluxs(["install"]).status, 0)
        XCTAssertEqual(try TestEnv.run("kubectl", ["create", "namespace", ns]).status, 0)
        let repo = try GitFixture(root: e["FLUXS_TEST_GIT_ROOT"]!, files: ["app/ok.yaml": Self.ok])
        XCTAssertEqual(try TestEnv.fluxs(["create", "source", "git", "src", "--url=\(e["FLUXS_TEST_GIT_HTTP"]!)/git/\(repo.name).git",
                                          "--branch=main", "--interval=1m", "-n", ns], env: env).status, 0)
        let created = try TestEnv.fluxs(["create", "kustomization", "app", "--source=GitRepository/src", "--path=./app", "--prune=true",
                                         "--interval=10m", "--target-namespace=\(ns)", "-n", ns], env: env)
        XCTAssertEqual(created.status, 0, created.stderr)
        // Applied once, so a failing revision that pruned would delete it.
        XCTAssertEqual(try TestEnv.run("kubectl", ["get", "configmap", "ok", "-n", ns]).status, 0)
        var peak = 0, previous: String?
        for (name, bytes, line, message) in Self.cases() {
            // kustomize-controller's words (fluxcd/pkg's generator decodes every file; go-yaml's "line N: ").
            let expect = ["app/\(name)", (line.map { "line \($0): " } ?? "") + message]
            if let previous { try FileManager.default.removeItem(at: repo.work.appendingPathComponent("app/" + previous)) }
            try Data(bytes).write(to: repo.work.appendingPathComponent("app/" + name))
            try TestEnv.write("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: new\n", to: repo.work.appendingPathComponent("app/new.yaml"))
            _ = try repo.git("add", "-A")
            _ = try repo.git("commit", "-q", "-m", name)
            try repo.push()
            previous = name
            let (r, kib) = try measured(["reconcile", "kustomization", "app", "--with-source", "-n", ns], env: env)
            peak = max(peak, kib)
            XCTAssertEqual(r.status, 1, "\(name): \(r.stderr)")
            let failures = r.stderr.split(separator: "\n").filter { $0.hasPrefix("✗") }
            XCTAssertEqual(failures.count, 1, "\(name): \(r.stderr.prefix(600))")
            for x in expect { XCTAssertTrue(r.stderr.contains(x), "\(name): \(x): \(r.stderr.prefix(600))") }
            XCTAssertFalse(r.stderr.contains("/tmp/"), "\(name): paths are the source's: \(r.stderr.prefix(600))")
            XCTAssertLessThan(kib, Self.memoryLimitKiB, "\(name): peak memory \(kib) KiB")
            XCTAssertNotEqual(try TestEnv.run("kubectl", ["get", "configmap", "new", "-n", ns]).status, 0, "\(name): nothing applied")
            XCTAssertEqual(try TestEnv.run("kubectl", ["get", "configmap", "ok", "-n", ns]).status, 0, "\(name): nothing pruned")
        }
        print("hostile input (reconcile): \(Self.cases().count) revisions refused, nothing applied or pruned, peak RSS \(peak / 1024) MiB (limit \(Self.memoryLimitKiB / 1000) MB)")
    }
}
