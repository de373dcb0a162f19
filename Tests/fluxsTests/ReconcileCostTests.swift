import Foundation
import FluxsTestSupport
import XCTest

/// What a Kustomization reconcile costs in API requests, counted by the API simulator (`/__sim/counts`): an unchanged
/// object costs at most its dry run, only changed objects are applied, prune and health checks list once per kind
/// instead of reading each object.
final class ReconcileCostTests: XCTestCase {
    var fx: ReconcileFixture!

    override func setUpWithError() throws { fx = try ReconcileFixture(prefix: "cost") }
    override func tearDownWithError() throws { fx?.cleanUp() }

    /// Requests fluxs made since the counts were last reset: total, real writes (PATCH/PUT/POST/DELETE without
    /// dryRun), dry runs, GETs.
    struct Counts: CustomStringConvertible {
        var total = 0, writes = 0, dryRuns = 0, gets = 0, deletes = 0
        var description: String { "total \(total), writes \(writes), dry runs \(dryRuns), GETs \(gets), DELETEs \(deletes)" }
    }

    func counted(_ body: () throws -> Void) throws -> Counts {
        _ = try fx.sim("DELETE", "/__sim/counts")
        try body()
        var c = Counts()
        for e in (try fx.sim("GET", "/__sim/counts")["counts"] as? [[String: Any]]) ?? [] where e["agent"] as? String == "fluxs" {
            let n = e["count"] as? Int ?? 0
            let method = e["method"] as? String ?? ""
            let dry = e["dryRun"] as? Bool ?? false
            c.total += n
            if dry { c.dryRuns += n } else if method == "GET" { c.gets += n } else { c.writes += n }
            if method == "DELETE" && !dry { c.deletes += n }
        }
        return c
    }

    func configMaps(_ n: Int, value: (Int) -> String = { "v\($0)" }) -> [String: String] {
        var files: [String: String] = [:]
        var names: [String] = []
        for i in 0..<n {
            let name = String(format: "cm-%03d", i)
            names.append(name + ".yaml")
            files["app/\(name).yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \(name)\ndata:\n  value: \"\(value(i))\"\n"
        }
        files["app/kustomization.yaml"] = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"
            + names.map { "- \($0)\n" }.joined()
        return files
    }

    func testNoOpCostsAtMostOneRequestPerObjectAndOnlyChangesAreApplied() throws {
        let n = 200
        let repo = try fx.source(configMaps(n))
        let first = try counted {
            let r = try fx.fluxs(["create", "kustomization", "app", "--source=GitRepository/fleet", "--path=./app", "--prune=true",
                                  "--interval=10m", "--target-namespace=\(fx.apps)"])
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        XCTAssertEqual(try fx.configMaps().count, n)
        // Created objects: a dry run and an apply each, no GET per object.
        XCTAssertLessThanOrEqual(first.total, 2 * n + 25, "first apply: \(first)")
        XCTAssertLessThanOrEqual(first.gets, 15, "first apply: \(first)")

        // Nothing changed, and this machine recorded what it applied (AppliedRecord): no dry run, no apply, no GET per
        // object; a LIST per kind and a constant.
        let noop = try counted {
            let r = try fx.fluxs(["reconcile", "kustomization", "app", "--verbose"])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stderr.contains("ConfigMap/\(fx.apps)/cm-000 unchanged"), r.stderr)
            XCTAssertFalse(r.stderr.contains(" configured"), r.stderr)
            // The same revision, spec and program: the build key matches, nothing is built.
            XCTAssertTrue(r.stderr.contains("build skipped: key matches"), r.stderr)
        }
        XCTAssertEqual(noop.dryRuns, 0, "no-op: \(noop)")
        // One LIST per kind and namespace (one here: 200 objects are one page) and a constant: the Kustomization read
        // and annotated, its source, discovery, the Lease, the status and an event (12 when measured).
        XCTAssertLessThanOrEqual(noop.total, 1 + 13, "no-op: \(noop)")
        // The status, the events and the Lease (taken, released; renewed every 5 s) are the only real writes.
        XCTAssertLessThanOrEqual(noop.writes, 7, "no-op: \(noop)")

        // The owner LIST asks for metadata only (PartialObjectMetadataList); a server that cannot answer so (406 Not
        // Acceptable) is asked for the whole objects: one more request, still no build.
        let injected = try fx.faultsInjected()
        try fx.fault(["verb": "GET", "path": "^/api/v1/namespaces/\(fx.apps)/configmaps$", "query": "labelSelector", "status": 406, "count": 1])
        let refused = try counted {
            let r = try fx.fluxs(["reconcile", "kustomization", "app", "--verbose"])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stderr.contains("build skipped: key matches"), r.stderr)
        }
        XCTAssertEqual(try fx.faultsInjected(), injected + 1)
        XCTAssertEqual(refused.dryRuns, 0, "406: \(refused)")
        XCTAssertLessThanOrEqual(refused.total, noop.total + 1, "406: \(refused)")

        // Drift: an object changed behind fluxs's back has another resourceVersion, so it is dry-run and put back.
        XCTAssertEqual(try fx.kubectl("patch", "configmap", "cm-050", "-n", fx.apps, "--type=merge", "-p", "{\"data\":{\"value\":\"edited\"}}").status, 0)
        let drift = try counted {
            let r = try fx.fluxs(["reconcile", "kustomization", "app", "--verbose"])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stderr.contains("ConfigMap/\(fx.apps)/cm-050 configured"), r.stderr)
            XCTAssertFalse(r.stderr.contains("cm-051 configured"), r.stderr)
        }
        XCTAssertEqual(try fx.jsonpath("configmap", "cm-050", ".data.value", namespace: fx.apps), "v50")
        XCTAssertEqual(drift.dryRuns, 1, "drift: \(drift)")

        // Another machine (no record): one dry run per object, still no apply and no GET per object.
        let fresh = try TestEnv.tempDir("fluxs-storage")
        defer { try? FileManager.default.removeItem(at: fresh) }
        let cold = try counted {
            let r = try fx.fluxs(["reconcile", "kustomization", "app", "--with-source", "--verbose"], extraEnv: ["FLUXS_STORAGE_PATH": fresh.path])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertFalse(r.stderr.contains(" configured"), r.stderr)
        }
        XCTAssertEqual(cold.dryRuns, n, "no-op without a record: \(cold)")
        XCTAssertLessThanOrEqual(cold.total, n + 25, "no-op without a record: \(cold)")
        XCTAssertLessThanOrEqual(cold.gets, 15, "no-op without a record: \(cold)")

        // Two objects changed, one removed: two applies, one delete, prune lists instead of reading each entry.
        try repo.commit(["app/cm-007.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-007\ndata:\n  value: changed\n",
                         "app/cm-100.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-100\ndata:\n  value: changed\n",
                         "app/cm-199.yaml": nil,
                         "app/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"
                            + (0..<(n - 1)).map { String(format: "- cm-%03d.yaml\n", $0) }.joined()], "change two, drop one")
        let change = try counted {
            let r = try fx.fluxs(["reconcile", "kustomization", "app", "--with-source", "--verbose"])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stderr.contains("ConfigMap/\(fx.apps)/cm-007 configured"), r.stderr)
            XCTAssertTrue(r.stderr.contains("ConfigMap/\(fx.apps)/cm-100 configured"), r.stderr)
            XCTAssertTrue(r.stderr.contains("ConfigMap/\(fx.apps)/cm-199 deleted"), r.stderr)
            XCTAssertTrue(r.stderr.contains("ConfigMap/\(fx.apps)/cm-008 unchanged"), r.stderr)
            // The owner LIST is of metadata; the two compared with their dry run are still as the last apply left
            // them (uid, resourceVersion), so their dry runs are compared with the record's hash of them: no GET.
            let gets = r.stderr.split(separator: "\n").filter { $0.contains("GET ") && $0.contains("/namespaces/\(fx.apps)/configmaps/") }
            XCTAssertEqual(gets.count, 0, gets.joined(separator: "\n"))
            // The owner list was read ahead, while the build ran (its request lines held until taken, so they come
            // before the drift detection), and not read again: that list and prune's.
            let lines = r.stderr.split(separator: "\n")
            let lists = lines.indices.filter { lines[$0].contains("GET ") && lines[$0].contains("/namespaces/\(fx.apps)/configmaps?labelSelector") }
            let drift = try XCTUnwrap(lines.firstIndex { $0.contains("Detecting drift") }, r.stderr)
            XCTAssertEqual(lists.count, 2, r.stderr)
            XCTAssertLessThan(try XCTUnwrap(lists.first), drift, r.stderr)
        }
        XCTAssertEqual(try fx.jsonpath("configmap", "cm-007", ".data.value", namespace: fx.apps), "changed")
        XCTAssertEqual(try fx.configMaps().count, n - 1)
        // The list read ahead fails (403 once): the apply's path lists again, and the run is as without it.
        try repo.commit(["app/cm-008.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-008\ndata:\n  value: changed\n"], "change one")
        let before = try fx.faultsInjected()
        try fx.fault(["verb": "GET", "path": "^/api/v1/namespaces/\(fx.apps)/configmaps$", "query": "labelSelector", "status": 403, "count": 1])
        let r = try fx.fluxs(["reconcile", "kustomization", "app", "--with-source", "--verbose"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try fx.faultsInjected(), before + 1)
        XCTAssertTrue(r.stderr.contains("ConfigMap/\(fx.apps)/cm-008 configured"), r.stderr)
        XCTAssertTrue(r.stderr.contains("ConfigMap/\(fx.apps)/cm-009 unchanged"), r.stderr)
        XCTAssertEqual(try fx.jsonpath("configmap", "cm-008", ".data.value", namespace: fx.apps), "changed")
        // Changed behind fluxs's back and in Git: its resourceVersion is not the record's, so it is read whole (a GET)
        // and compared with its dry run, not with the record's hash.
        XCTAssertEqual(try fx.kubectl("patch", "configmap", "cm-009", "-n", fx.apps, "--type=merge", "-p", "{\"data\":{\"value\":\"edited\"}}").status, 0)
        try repo.commit(["app/cm-009.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-009\ndata:\n  value: edited\n"], "as edited")
        let edited = try fx.fluxs(["reconcile", "kustomization", "app", "--with-source", "--verbose"])
        XCTAssertEqual(edited.status, 0, edited.stderr)
        XCTAssertTrue(edited.stderr.contains("/configmaps/cm-009 200"), edited.stderr)
        XCTAssertEqual(try fx.jsonpath("configmap", "cm-009", ".data.value", namespace: fx.apps), "edited")
        print("requests: first apply \(first); no-op \(noop); drift \(drift); no record \(cold); change \(change)")
        // Only the changed objects are dry-run.
        XCTAssertEqual(change.dryRuns, 2, "change: \(change)")
        XCTAssertEqual(change.deletes, 1, "change: \(change)")
        // Two applies, one delete, status (write-ahead is not needed: nothing new), events, the source's writes, and
        // the Leases of the GitRepository and the Kustomization (each taken and released).
        XCTAssertLessThanOrEqual(change.writes, 2 + 1 + 10 + 4, "change: \(change)")
        XCTAssertLessThanOrEqual(change.total, n + 30, "change: \(change)")
    }

    /// The requests fluxs made since the simulator's request log was last emptied: method, path, body length.
    func logged(_ body: () throws -> Void) throws -> [(method: String, path: String, bytes: Int, answered: Int)] {
        _ = try fx.sim("DELETE", "/__sim/requests")
        try body()
        return ((try fx.sim("GET", "/__sim/requests")["requests"] as? [[String: Any]]) ?? []).compactMap { e in
            guard (e["userAgent"] as? String ?? "").hasPrefix("fluxs") else { return nil }
            return (e["method"] as? String ?? "", e["path"] as? String ?? "", e["requestBytes"] as? Int ?? 0, e["responseBytes"] as? Int ?? 0)
        }
    }

    /// A no-op writes the status as kustomize-controller's patch helper does: one merge patch of what changed
    /// (lastHandledReconcileAt, the Ready condition's transition), not the 200-entry inventory again; and the
    /// Kustomization is read once (the annotation's answer is the object the run starts from).
    func testNoOpStatusIsOneMergePatchOfWhatChanged() throws {
        let n = 200
        _ = try fx.source(configMaps(n))
        let create = try logged {
            let r = try fx.fluxs(["create", "kustomization", "app", "--source=GitRepository/fleet", "--path=./app", "--prune=true",
                                  "--interval=10m", "--target-namespace=\(fx.apps)"])
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        let object = "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/\(fx.ns)/kustomizations/app"
        func path(_ p: String) -> String { String(p.split(separator: "?", maxSplits: 1)[0]) }
        let firstStatus = create.filter { $0.method == "PATCH" && path($0.path) == object + "/status" }
        // The write-ahead inventory and the final status; the inventory is in the first.
        XCTAssertEqual(firstStatus.count, 2, "\(create)")
        let inventoryBytes = firstStatus.map(\.bytes).max() ?? 0
        XCTAssertGreaterThan(inventoryBytes, 40 * n, "\(firstStatus)")

        let before = try fx.inventory("app")
        let noop = try logged {
            let r = try fx.fluxs(["reconcile", "kustomization", "app"])
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        let status = noop.filter { $0.method == "PATCH" && path($0.path) == object + "/status" }
        XCTAssertEqual(status.count, 1, "\(noop)")
        // lastHandledReconcileAt and the conditions: far smaller than the inventory.
        XCTAssertLessThan(status.first?.bytes ?? 0, 2000, "\(status)")
        // Read once (GET) and annotated once (PATCH), no GET after the Lease.
        let reads = noop.filter { $0.method == "GET" && path($0.path) == object }
        let annotations = noop.filter { $0.method == "PATCH" && path($0.path) == object }
        XCTAssertEqual(reads.count, 1, "\(noop)")
        XCTAssertEqual(annotations.count, 1, "\(noop)")
        // The inventory comes back once: the annotation and the status write, conditional on the resourceVersion
        // read, are answered with the metadata alone.
        XCTAssertGreaterThan(reads.first?.answered ?? 0, 40 * n, "\(reads)")
        XCTAssertLessThan(annotations.first?.answered ?? .max, 3000, "\(annotations)")
        XCTAssertLessThan(status.first?.answered ?? .max, 3000, "\(status)")
        XCTAssertLessThanOrEqual(noop.count, 1 + 13, "\(noop)")
        // Two connections (the run's and the owner lists' thread): one full TLS handshake, the other resumed.
        var resumed: [Int: Bool] = [:]
        for e in (try fx.sim("GET", "/__sim/requests")["requests"] as? [[String: Any]]) ?? [] where (e["userAgent"] as? String ?? "").hasPrefix("fluxs") {
            resumed[e["connection"] as? Int ?? 0] = e["tlsResumed"] as? Bool ?? false
        }
        XCTAssertEqual(resumed.count, 2, "\(resumed)")
        XCTAssertEqual(resumed.values.filter { $0 }.count, 1, "\(resumed)")
        // What a user sees is whole: the inventory, Ready, the request handled.
        XCTAssertEqual(try fx.inventory("app"), before)
        XCTAssertEqual(try fx.ready("app").reason, "ReconciliationSucceeded")
        let requested = try fx.jsonpath("kustomization", "app", ".metadata.annotations.reconcile\\.fluxcd\\.io/requestedAt", namespace: fx.ns)
        XCTAssertFalse(requested.isEmpty)
        XCTAssertEqual(try fx.jsonpath("kustomization", "app", ".status.lastHandledReconcileAt", namespace: fx.ns), requested)
        let got = try fx.fluxs(["get", "kustomizations", "app"])
        XCTAssertEqual(got.status, 0, got.stderr)
        XCTAssertTrue(got.stdout.contains("Applied revision: main@sha1:"), got.stdout)
    }

    func testDiffReadsOwnedObjectsWithOneListPerKind() throws {
        let n = 50
        let files = configMaps(n)
        _ = try fx.source(files)
        let r = try fx.fluxs(["create", "kustomization", "app", "--source=GitRepository/fleet", "--path=./app", "--interval=10m",
                              "--target-namespace=\(fx.apps)"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let dir = try TestEnv.tempDir("fluxs-diff")
        defer { try? FileManager.default.removeItem(at: dir) }
        for (path, text) in files {
            let url = dir.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.replacingOccurrences(of: "value: \"v7\"", with: "value: \"seven\"").write(to: url, atomically: true, encoding: .utf8)
        }
        var result: TestEnv.Run?
        let c = try counted { result = try fx.fluxs(["diff", "kustomization", "app", "--path", dir.appendingPathComponent("app").path]) }
        let out = try XCTUnwrap(result)
        XCTAssertEqual(out.status, 1, out.stderr)
        XCTAssertTrue(out.stdout.contains("► ConfigMap/\(fx.apps)/cm-007 drifted"), out.stdout)
        XCTAssertFalse(out.stdout.contains("cm-008"), out.stdout)
        print("requests of diff: \(c)")
        XCTAssertEqual(c.dryRuns, n, "diff: \(c)")
        XCTAssertLessThanOrEqual(c.gets, 12, "diff: \(c)")
    }

    func testHealthChecksListOncePerKind() throws {
        let n = 30
        var files = configMaps(n)
        files["app/kustomization.yaml"] = nil
        _ = try fx.source(files)
        let r0 = try counted {
            let r = try fx.fluxs(["create", "kustomization", "app", "--source=GitRepository/fleet", "--path=./app", "--wait=true",
                                  "--interval=10m", "--target-namespace=\(fx.apps)"])
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        XCTAssertEqual(try fx.configMaps().count, n)
        print("requests with --wait: \(r0)")
        // Waiting for 30 ConfigMaps reads them with one LIST, not 30 GETs.
        XCTAssertLessThanOrEqual(r0.gets, 15, "with --wait: \(r0)")
    }
}
