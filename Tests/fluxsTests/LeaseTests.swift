import Foundation
import FluxsTestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Two CI jobs reconciling the same Kustomization (docs/reliability.md): a coordination.k8s.io/v1 Lease next to the
/// object lets one process at a time reconcile it, the others wait up to --timeout or fail naming the holder; a holder
/// that is gone (expired, or a dead process on this machine) does not block; the shared Git mirror is flock'ed.
final class LeaseTests: XCTestCase {
    var fx: ReconcileFixture!

    override func setUpWithError() throws { fx = try ReconcileFixture(prefix: "lk") }
    override func tearDownWithError() throws { fx?.cleanUp() }

    static func configMaps(_ names: [String], _ value: String) -> [String: String?] {
        var files: [String: String?] = [:]
        for n in names { files["apps/\(n).yaml"] = FailClosedTests.configMap(n, value) }
        return files
    }

    func start(_ names: [String]) throws -> GitFixture {
        let repo = try fx.source(Self.configMaps(names, "1").compactMapValues { $0 })
        let r = try fx.fluxs(["create", "kustomization", "apps", "--source=GitRepository/fleet", "--path=./apps", "--prune=true",
                              "--interval=10m", "--target-namespace=\(fx.apps)"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return repo
    }

    func lease(_ path: String, _ name: String = "fluxs-kustomization-apps") throws -> String {
        try fx.jsonpath("lease", name, path)
    }

    /// Runs fluxs processes at the same time; returns (status, stderr) of each.
    func concurrently(_ n: Int, _ args: [String]) throws -> [(Int32, String)] {
        var procs: [(Process, Pipe)] = []
        var env = ProcessInfo.processInfo.environment
        env["FLUXS_STORAGE_PATH"] = fx.storage.path
        for _ in 0..<n {
            let p = Process()
            p.executableURL = TestEnv.fluxsBinary
            p.arguments = args + ["-n", fx.ns]
            p.environment = env
            let err = Pipe()
            p.standardError = err
            p.standardOutput = FileHandle.nullDevice
            try p.run()
            procs.append((p, err))
        }
        return procs.map { p, err in
            let data = err.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return (p.terminationStatus, String(decoding: data, as: UTF8.self))
        }
    }

    func testConcurrentReconcilesTakeTurns() throws {
        let names = (0..<8).map { "cm\($0)" }
        let repo = try start(names)
        XCTAssertEqual(try fx.configMaps(), names.sorted())
        // Git moves: values change, two objects go, two come.
        var next = Self.configMaps(Array(names.dropLast(2)) + ["new0", "new1"], "2")
        next["apps/cm6.yaml"] = .some(nil)
        next["apps/cm7.yaml"] = .some(nil)
        try repo.commit(next, "v2")
        // Each real apply of a ConfigMap is served 1.5 s late, so the runs overlap (the applies of one kind go out
        // together: a run's applies take about one delay, not one per object).
        try fx.fault(["verb": "PATCH", "path": "/namespaces/\(fx.apps)/configmaps/", "query": "^(?!.*dryRun)", "delay": 1.5, "count": 200])
        let runs = try concurrently(4, ["reconcile", "kustomization", "apps", "--with-source", "--timeout=90s"])
        try fx.clearFaults()
        for (status, stderr) in runs { XCTAssertEqual(status, 0, stderr) }
        let waited = runs.filter { $0.1.contains("◎ waiting for fluxs process ") && $0.1.contains("which reconciles Kustomization/\(fx.ns)/apps") }
        XCTAssertFalse(waited.isEmpty, runs.map(\.1).joined(separator: "\n---\n"))
        // Four turns: the Lease changed hands four times after the create, and was released by the last.
        XCTAssertEqual(try lease(".spec.leaseTransitions"), "4")
        XCTAssertEqual(try lease(".spec.holderIdentity"), "")
        XCTAssertEqual(try lease(".spec.holderIdentity", "fluxs-gitrepository-fleet"), "")
        // Converged: Git's objects with Git's values, the rest pruned, the inventory equals the cluster.
        let want = (Array(names.dropLast(2)) + ["new0", "new1"]).sorted()
        XCTAssertEqual(try fx.configMaps(), want)
        for n in want { XCTAssertEqual(try fx.jsonpath("configmap", n, ".data.v", namespace: fx.apps), "2", n) }
        XCTAssertEqual(try fx.inventory("apps"), want.map { "\(fx.apps)_\($0)__ConfigMap" }.sorted())
        XCTAssertEqual(try fx.ready("apps").reason, "ReconciliationSucceeded")
    }

    static func microTime(_ d: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'"
        return f.string(from: d)
    }

    func putLease(holder: String, renewed: Date) throws {
        let doc: [String: Any] = ["apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                                  "metadata": ["name": "fluxs-kustomization-apps", "namespace": fx.ns],
                                  "spec": ["holderIdentity": holder, "leaseDurationSeconds": 35, "leaseTransitions": 7,
                                           "acquireTime": Self.microTime(renewed), "renewTime": Self.microTime(renewed)]]
        let json = String(decoding: try JSONSerialization.data(withJSONObject: doc), as: UTF8.self)
        let r = try fx.kubectl("apply", "-f", "-", stdin: json)
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    func testAHeldLeaseBlocksUntilTimeoutAndAGoneHolderDoesNot() throws {
        let repo = try start(["a", "b"])
        try repo.commit(Self.configMaps(["a", "b"], "2"), "v2")
        // Another machine's job holds it, renewed just now: wait, then fail naming it; nothing applied.
        try putLease(holder: "ci-runner-7_fluxs_4242_4026531836_1a2b3c4d", renewed: Date())
        let blocked = try fx.fluxs(["reconcile", "kustomization", "apps", "--with-source", "--timeout=4s"])
        XCTAssertEqual(blocked.status, 1, blocked.stderr)
        XCTAssertTrue(blocked.stderr.contains("◎ waiting for fluxs process 4242 on ci-runner-7, which reconciles Kustomization/\(fx.ns)/apps"), blocked.stderr)
        XCTAssertTrue(blocked.stderr.contains("✗ Kustomization/\(fx.ns)/apps is being reconciled by fluxs process 4242 on ci-runner-7 (Lease \(fx.ns)/fluxs-kustomization-apps held by ci-runner-7_fluxs_4242_4026531836_1a2b3c4d, renewed "), blocked.stderr)
        XCTAssertTrue(blocked.stderr.hasSuffix("gave up waiting after --timeout 4s\n"), blocked.stderr)
        XCTAssertEqual(try fx.jsonpath("configmap", "a", ".data.v", namespace: fx.apps), "1", "nothing applied")
        // The same holder, last renewed 40 s ago (killed): expired, taken over at once.
        try putLease(holder: "ci-runner-7_fluxs_4242_4026531836_1a2b3c4d", renewed: Date().addingTimeInterval(-40))
        let expired = try fx.fluxs(["reconcile", "kustomization", "apps", "--timeout=20s"])
        XCTAssertEqual(expired.status, 0, expired.stderr)
        XCTAssertFalse(expired.stderr.contains("waiting for fluxs process"), expired.stderr)
        XCTAssertEqual(try fx.jsonpath("configmap", "a", ".data.v", namespace: fx.apps), "2")
        XCTAssertEqual(try lease(".spec.leaseTransitions"), "8")
        // A holder on this machine whose process is gone (SIGKILL a moment ago): not waited for, though renewed now.
        let dead = Process()
        dead.executableURL = URL(fileURLWithPath: "/bin/true")
        try dead.run()
        dead.waitUntilExit()
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, 255)
        let pidns = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/pid").filter(\.isNumber)
        let holder = "\(String(cString: host).replacing("_", with: "-"))_fluxs_\(dead.processIdentifier)_\(pidns)_5e5e5e5e"
        try putLease(holder: holder, renewed: Date())
        try repo.commit(Self.configMaps(["a", "b"], "3"), "v3")
        let gone = try fx.fluxs(["reconcile", "kustomization", "apps", "--with-source", "--timeout=20s"])
        XCTAssertEqual(gone.status, 0, gone.stderr)
        XCTAssertFalse(gone.stderr.contains("waiting for fluxs process"), gone.stderr)
        XCTAssertEqual(try fx.jsonpath("configmap", "a", ".data.v", namespace: fx.apps), "3")
        XCTAssertEqual(try lease(".spec.holderIdentity"), "")
    }

    /// What another holder did while this run waited for the Lease is what this run sees: the owner lists are read
    /// only once the Lease was seen free (a ConfigMap changed meanwhile is applied again, not skipped as the last
    /// apply from this machine left it), and the Kustomization read before the wait is not the one the run starts
    /// from (the annotation, conditional on the resourceVersion read, is refused with 409 and sent again; the run
    /// reconciles the object's new generation).
    func testWhatChangedWhileTheLeaseWasHeldIsSeen() throws {
        _ = try start(["a", "b"])
        XCTAssertEqual(try fx.jsonpath("kustomization", "apps", ".status.observedGeneration", namespace: fx.ns), "1")
        let noop = try fx.fluxs(["reconcile", "kustomization", "apps", "--verbose"])
        XCTAssertEqual(noop.status, 0, noop.stderr)
        XCTAssertTrue(noop.stderr.contains("build skipped: key matches"), noop.stderr)
        try putLease(holder: "ci-runner-7_fluxs_4242_4026531836_1a2b3c4d", renewed: Date())
        var env = ProcessInfo.processInfo.environment
        env["FLUXS_STORAGE_PATH"] = fx.storage.path
        let p = Process()
        p.executableURL = TestEnv.fluxsBinary
        p.arguments = ["reconcile", "kustomization", "apps", "--verbose", "--timeout=60s", "-n", fx.ns]
        p.environment = env
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        // While it waits: the holder changes an object and the Kustomization, then lets go.
        Thread.sleep(forTimeInterval: 1.5)
        XCTAssertEqual(try fx.kubectl("patch", "configmap", "a", "-n", fx.apps, "--type=merge", "-p", #"{"data":{"v":"drift"}}"#).status, 0)
        XCTAssertEqual(try fx.kubectl("patch", "kustomization", "apps", "-n", fx.ns, "--type=merge", "-p", #"{"spec":{"interval":"11m"}}"#).status, 0)
        try putLease(holder: "", renewed: Date())
        let data = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let stderr = String(decoding: data, as: UTF8.self)
        XCTAssertEqual(p.terminationStatus, 0, stderr)
        XCTAssertTrue(stderr.contains("◎ waiting for fluxs process 4242 on ci-runner-7"), stderr)
        XCTAssertEqual(try fx.jsonpath("configmap", "a", ".data.v", namespace: fx.apps), "1", stderr)
        XCTAssertFalse(stderr.contains("build skipped"), stderr)
        XCTAssertTrue(stderr.contains("ConfigMap/\(fx.apps)/a configured"), stderr)
        XCTAssertEqual(try fx.jsonpath("kustomization", "apps", ".status.observedGeneration", namespace: fx.ns), "2")
        let annotations = stderr.split(separator: "\n").filter { $0.contains("PATCH ") && $0.contains("/kustomizations/apps ") }
        XCTAssertEqual(annotations.map { $0.contains(" 409 ") }, [true, false], stderr)
        XCTAssertEqual(try fx.ready("apps").reason, "ReconciliationSucceeded")
    }
}
