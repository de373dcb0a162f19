import Foundation
import FluxsTestSupport
import XCTest

/// `--timeout` and `spec.timeout` bound all the work, each once, and the error names what ran out of time; a signal
/// ends fluxs without leaving its temporary build directory behind (docs/reliability.md).
final class TimeoutTests: XCTestCase {
    var fx: ReconcileFixture!

    override func setUpWithError() throws { fx = try ReconcileFixture(prefix: "to") }
    override func tearDownWithError() throws { fx?.cleanUp() }

    /// A TCP server that accepts connections and never answers; stopped with the test.
    final class SilentServer {
        let process = Process()
        let port: Int
        init() throws {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", "-c", """
                import socket, time
                s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
                print(s.getsockname()[1], flush=True)
                held = []
                while True:
                    held.append(s.accept())
                """]
            let out = Pipe()
            process.standardOutput = out
            try process.run()
            let line = String(decoding: out.fileHandleForReading.availableData, as: UTF8.self)
            port = Int(line.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        }
        deinit { process.terminate() }
    }

    func timed(_ body: () throws -> TestEnv.Run) rethrows -> (TestEnv.Run, Double) {
        let t0 = Date()
        let r = try body()
        return (r, Date().timeIntervalSince(t0))
    }

    func testSilentGitServerIsBoundedOnce() throws {
        let server = try SilentServer()
        let url = "http://127.0.0.1:\(server.port)/silent.git"
        let repo = """
            apiVersion: source.toolkit.fluxcd.io/v1
            kind: GitRepository
            metadata: {name: silent, namespace: \(fx.ns)}
            spec: {url: "\(url)", interval: 1m, timeout: 4s, ref: {branch: main}}
            """
        XCTAssertEqual(try fx.kubectl("apply", "-f", "-", stdin: repo).status, 0)
        // spec.timeout: one bound for the ref listing, the fetch and any fallback (it used to be spent twice, plus 1 s).
        let (r, took) = try timed { try fx.fluxs(["reconcile", "source", "git", "silent"]) }
        XCTAssertEqual(r.status, 1, r.stderr)
        let why = "unable to clone '\(url)': context deadline exceeded (the ref listing did not finish within spec.timeout 4s)"
        XCTAssertTrue(r.stderr.contains(why), r.stderr)
        XCTAssertTrue(try fx.ready("silent", kind: "gitrepository").message.contains(why))
        XCTAssertLessThan(took, 7.5, "4s of spec.timeout, spent once")
        // A shorter --timeout wins, and the status still says why.
        let (short, shortTook) = try timed { try fx.fluxs(["reconcile", "source", "git", "silent", "--timeout=2s"]) }
        XCTAssertEqual(short.status, 1, short.stderr)
        XCTAssertTrue(short.stderr.contains("context deadline exceeded (the ref listing did not finish within --timeout 2s)"), short.stderr)
        XCTAssertLessThan(shortTook, 5.5)
        XCTAssertTrue(try fx.ready("silent", kind: "gitrepository").message.contains("--timeout"))
    }

    func testExecPluginIsKilledAtTheTimeout() throws {
        let dir = try TestEnv.tempDir("fluxs-exec")
        defer { try? FileManager.default.removeItem(at: dir) }
        let plugin = dir.appendingPathComponent("slow-plugin")
        let pids = dir.appendingPathComponent("pids")
        // The plugin starts a child too: both must be gone when fluxs gives up.
        try TestEnv.write("#!/bin/sh\nsleep 60 &\necho $$ $! > \(pids.path)\nwait\n", to: plugin, mode: 0o755)
        let kubeconfig = dir.appendingPathComponent("config")
        try TestEnv.write("""
            apiVersion: v1
            kind: Config
            clusters: [{name: sim, cluster: {server: "\(fx.env["FLUXS_TEST_KUBE_SERVER"]!)", certificate-authority: "\(fx.env["FLUXS_TEST_KUBE_CA"]!)"}}]
            users: [{name: slow, user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: "\(plugin.path)", interactiveMode: Never}}}]
            contexts: [{name: sim, context: {cluster: sim, user: slow}}]
            current-context: sim

            """, to: kubeconfig)
        let (r, took) = try timed {
            try TestEnv.fluxs(["get", "kustomizations", "-A", "--timeout=3s", "--kubeconfig", kubeconfig.path],
                              env: ["XDG_CACHE_HOME": dir.appendingPathComponent("cache").path])
        }
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("exec credential plugin \"\(plugin.path)\" of user \"slow\" did not finish within"), r.stderr)
        XCTAssertTrue(r.stderr.contains("it was killed"), r.stderr)
        XCTAssertLessThan(took, 6, "a 60 s plugin under --timeout=3s")
        let ids = try String(contentsOf: pids, encoding: .utf8).split(separator: " ").compactMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        XCTAssertEqual(ids.count, 2)
        for _ in 0..<50 where ids.contains(where: { kill($0, 0) == 0 }) { usleep(100_000) }
        for id in ids { XCTAssertNotEqual(kill(id, 0), 0, "process \(id) of the plugin still runs") }
    }

    /// SIGTERM and SIGINT in the middle of a reconcile (a dry run the API holds for 30 s): the temporary build
    /// directory is removed and the exit says which signal ended fluxs.
    func testSignalsRemoveTheTemporaryBuildDirectory() throws {
        _ = try fx.source(["apps/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n"])
        XCTAssertEqual(try fx.fluxs(["reconcile", "source", "git", "fleet"]).status, 0)
        let ks = """
            apiVersion: kustomize.toolkit.fluxcd.io/v1
            kind: Kustomization
            metadata: {name: apps, namespace: \(fx.ns)}
            spec: {interval: 10m, path: ./apps, prune: true, targetNamespace: \(fx.apps), sourceRef: {kind: GitRepository, name: fleet}}
            """
        XCTAssertEqual(try fx.kubectl("apply", "-f", "-", stdin: ks).status, 0)
        let tmp = try TestEnv.tempDir("fluxs-tmp")
        defer { try? FileManager.default.removeItem(at: tmp) }
        for sig in [SIGTERM, SIGINT] {
            try fx.fault(["verb": "PATCH", "path": "/namespaces/\(fx.apps)/configmaps/a$", "query": "dryRun", "delay": 30, "count": 1])
            let p = Process()
            p.executableURL = TestEnv.fluxsBinary
            p.arguments = ["reconcile", "kustomization", "apps", "-n", fx.ns]
            p.environment = TestEnv.env.merging(["TMPDIR": tmp.path, "FLUXS_STORAGE_PATH": fx.storage.path]) { _, b in b }
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            var seen = false
            for _ in 0..<200 {
                if (try FileManager.default.contentsOfDirectory(atPath: tmp.path)).contains(where: { $0.hasPrefix("fluxs-ks-\(p.processIdentifier)-") }) {
                    seen = true
                    break
                }
                usleep(50_000)
            }
            XCTAssertTrue(seen, "the build directory appears under TMPDIR")
            usleep(300_000)   // into the held dry run
            kill(p.processIdentifier, sig)
            p.waitUntilExit()
            XCTAssertEqual(p.terminationReason, .uncaughtSignal)
            XCTAssertEqual(p.terminationStatus, sig)
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tmp.path), [], "signal \(sig) left temporaries")
            try fx.clearFaults()
        }
    }
}
