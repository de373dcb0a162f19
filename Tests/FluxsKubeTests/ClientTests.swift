import Foundation
import FluxsTestSupport
import FluxsYAML
import XCTest
@testable import FluxsKube

/// Every REST verb against the API simulator of the test environment.
final class ClientTests: XCTestCase {
    var client: KubeClient!
    var ns = ""
    let cm = ResourceRef(group: "", version: "v1", resource: "configmaps", kind: "ConfigMap", namespaced: true)
    let nsRef = ResourceRef(group: "", version: "v1", resource: "namespaces", kind: "Namespace", namespaced: false)

    func makeClient(context: String = "kubesim", timeout: Double = 30, log: ((String) -> Void)? = nil,
                    tweak: (inout RESTConfig) -> Void = { _ in }) throws -> KubeClient {
        let e = try TestEnv.require("FLUXS_TEST_KUBECONFIG")
        var o = ConnectionOverrides()
        o.kubeconfig = e["FLUXS_TEST_KUBECONFIG"]
        o.context = context
        var cfg = try KubeConfigLoader(environment: [:], home: "/nonexistent").load(o)
        tweak(&cfg)
        return try KubeClient(config: cfg, timeout: timeout, exec: ExecPluginRunner(cacheDir: nil, environment: [:]), log: log)
    }

    override func setUpWithError() throws {
        client = try makeClient()
        ns = "kt-\(UUID().uuidString.prefix(6).lowercased())"
        _ = try client.create(nsRef, namespace: nil, object: ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(ns)]])
    }

    override func tearDownWithError() throws {
        if let c = client { _ = try? c.delete(nsRef, namespace: nil, name: ns) }
        _ = try? client?.call("DELETE", "/__sim/faults")
    }

    func configMap(_ name: String, _ data: [(String, Node)] = [("k", "v")], labels: [(String, Node)] = []) -> Node {
        .map([("apiVersion", "v1"), ("kind", "ConfigMap"),
              ("metadata", .map([("name", .string(name)), ("namespace", .string(ns)), ("labels", .map(labels))])),
              ("data", .map(data))])
    }

    func fault(_ spec: Node) throws {
        _ = try client.call("POST", "/__sim/faults", body: try JSON.encodeBytes(spec), contentType: "application/json")
    }

    func testCreateGetListWithSelectorsAndPaging() throws {
        for i in 0..<5 {
            _ = try client.create(cm, namespace: ns, object: configMap("c\(i)", labels: [("tier", i % 2 == 0 ? "even" : "odd")]))
        }
        let got = try client.get(cm, namespace: ns, name: "c1")
        XCTAssertEqual(got["data"]?["k"]?.string, "v")
        let even = try client.list(cm, namespace: ns, labelSelector: "tier in (even)", limit: 1)
        XCTAssertEqual(even.items.compactMap { $0["metadata"]?["name"]?.string }, ["c0", "c2", "c4"])
        XCTAssertEqual(even.items.first?["kind"]?.string, "ConfigMap", "list items get their kind back")
        let one = try client.list(cm, namespace: ns, fieldSelector: "metadata.name=c3")
        XCTAssertEqual(one.items.count, 1)
        XCTAssertThrowsError(try client.list(cm, namespace: ns, labelSelector: "tier in (")) { e in
            XCTAssertEqual((e as? KubeError)?.kind, .badRequest)
        }
    }

    func testAlreadyExistsNotFoundAndConflict() throws {
        _ = try client.create(cm, namespace: ns, object: configMap("a"))
        XCTAssertThrowsError(try client.create(cm, namespace: ns, object: configMap("a"))) { e in
            let k = e as! KubeError
            XCTAssertEqual(k.kind, .alreadyExists)
            XCTAssertEqual(k.message, "configmaps \"a\" already exists")
        }
        XCTAssertThrowsError(try client.get(cm, namespace: ns, name: "nope")) { e in
            XCTAssertEqual((e as! KubeError).message, "configmaps \"nope\" not found")
        }
        XCTAssertNil(try client.getIfExists(cm, namespace: ns, name: "nope"))
        var obj = try client.get(cm, namespace: ns, name: "a")
        obj["data"] = ["k": "v2"]
        _ = try client.update(cm, namespace: ns, object: obj)
        XCTAssertThrowsError(try client.update(cm, namespace: ns, object: obj)) { e in
            let k = e as! KubeError
            XCTAssertEqual(k.kind, .conflict)
            XCTAssertEqual(k.code, 409)
            XCTAssertTrue(k.message.contains("the object has been modified"), k.message)
        }
    }

    func testPatchTypes() throws {
        _ = try client.create(cm, namespace: ns, object: configMap("p"))
        var o = try client.patch(cm, namespace: ns, name: "p", type: .merge, patch: ["data": ["m": "1"]])
        XCTAssertEqual(o["data"]?["m"]?.string, "1")
        o = try client.patch(cm, namespace: ns, name: "p", type: .json,
                             patch: [["op": "remove", "path": "/data/m"], ["op": "add", "path": "/data/j", "value": "2"]])
        XCTAssertNil(o["data"]?["m"])
        XCTAssertEqual(o["data"]?["j"]?.string, "2")
        let deploy = try client.resource(apiVersion: "apps/v1", kind: "Deployment")
        XCTAssertEqual(deploy.resource, "deployments")
        _ = try client.create(deploy, namespace: ns, object: try YAML.parse("""
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              containers:
              - {name: web, image: "nginx:1.25", ports: [{containerPort: 80}]}
              - {name: side, image: "busybox:1"}
        """))
        o = try client.patch(deploy, namespace: ns, name: "web", type: .strategic,
                             patch: ["spec": ["template": ["spec": ["containers": [["name": "web", "image": "nginx:1.26"]]]]]])
        let containers = o["spec"]?["template"]?["spec"]?["containers"]?.array ?? []
        XCTAssertEqual(containers.count, 2, "strategic merge keeps the other container")
        XCTAssertEqual(containers[0]["image"]?.string, "nginx:1.26")
        XCTAssertEqual(o["metadata"]?["generation"]?.int, 2)
    }

    func testServerSideApplyConflictAndForce() throws {
        var obj = configMap("s", [("a", "1")])
        _ = try client.apply(obj, fieldManager: "alpha", force: false)
        obj["data"] = ["a": "2"]
        XCTAssertThrowsError(try client.apply(obj, fieldManager: "beta", force: false)) { e in
            let k = e as! KubeError
            XCTAssertEqual(k.kind, .conflict)
            XCTAssertEqual(k.message, "Apply failed with 1 conflict: conflict with \"alpha\": .data.a")
            XCTAssertEqual(k.causes.first?.field, ".data.a")
        }
        let forced = try client.apply(obj, fieldManager: "beta", force: true)
        XCTAssertEqual(forced["data"]?["a"]?.string, "2")
        let managers = forced["metadata"]?["managedFields"]?.array?.compactMap { $0["manager"]?.string } ?? []
        XCTAssertTrue(managers.contains("beta"))
        // dry-run changes nothing
        obj["data"] = ["a": "3"]
        let dry = try client.apply(obj, fieldManager: "beta", dryRun: true)
        XCTAssertEqual(dry["data"]?["a"]?.string, "3")
        XCTAssertEqual(try client.get(cm, namespace: ns, name: "s")["data"]?["a"]?.string, "2")
    }

    func testStatusSubresourceAndDelete() throws {
        let deploy = try client.resource(apiVersion: "apps/v1", kind: "Deployment")
        let d: Node = try YAML.parse("""
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: st, namespace: \(ns)}
        spec:
          selector: {matchLabels: {app: st}}
          template:
            metadata: {labels: {app: st}}
            spec: {containers: [{name: c, image: "nginx:1"}]}
        """)
        var live = try client.apply(d, fieldManager: "fluxs-test")
        live["status"] = ["observedGeneration": 1, "replicas": 1]
        let updated = try client.update(deploy, namespace: ns, object: live, subresource: "status", fieldManager: "fluxs-test")
        XCTAssertEqual(updated["status"]?["replicas"]?.int, 1)
        XCTAssertEqual(updated["metadata"]?["generation"]?.int, 1)
        _ = try client.delete(deploy, namespace: ns, name: "st", propagation: .foreground)
        XCTAssertNil(try client.getIfExists(deploy, namespace: ns, name: "st"))
        XCTAssertThrowsError(try client.delete(deploy, namespace: ns, name: "st")) { e in
            XCTAssertEqual((e as! KubeError).kind, .notFound)
        }
    }

    func testDryRunCreate() throws {
        _ = try client.create(cm, namespace: ns, object: configMap("dry"), dryRun: true)
        XCTAssertNil(try client.getIfExists(cm, namespace: ns, name: "dry"))
    }

    func testWatchStreamsEvents() throws {
        final class Job: @unchecked Sendable {
            let writer: KubeClient, ref: ResourceRef, ns: String, obj: Node
            init(_ w: KubeClient, _ r: ResourceRef, _ n: String, _ o: Node) { writer = w; ref = r; ns = n; obj = o }
            func run() {
                Thread.sleep(forTimeInterval: 0.3)
                _ = try? writer.create(ref, namespace: ns, object: obj)
                _ = try? writer.patch(ref, namespace: ns, name: "w", type: .merge, patch: ["data": ["k": "2"]])
            }
        }
        let job = Job(try makeClient(), cm, ns, configMap("w"))
        let start = try client.list(cm, namespace: ns)
        Thread.detachNewThread { job.run() }
        var seen: [String] = []
        try client.watch(cm, namespace: ns, resourceVersion: start.resourceVersion) { ev in
            seen.append("\(ev.type) \(ev.object["metadata"]?["name"]?.string ?? "")")
            return seen.count < 2
        }
        XCTAssertEqual(seen, ["ADDED w", "MODIFIED w"])
    }

    func testApplyAllAnswersInOrderWithRetriesAndErrorsPerObject() throws {
        // 40 objects at once; two of them meet a 429 and a dropped connection and are retried; one is refused.
        try fault(["verb": "PATCH", "path": .string("/namespaces/\(ns)/configmaps/c-07$"), "status": 429, "count": 1])
        try fault(["verb": "PATCH", "path": .string("/namespaces/\(ns)/configmaps/c-21$"), "action": "drop", "count": 1])
        var objects = (0..<40).map { configMap(String(format: "c-%02d", $0), [("i", .string("\($0)"))]) }
        objects[30] = configMap("Bad_Name")
        let results = client.applyAll(objects, fieldManager: "t")
        XCTAssertEqual(results.count, 40)
        for (i, r) in results.enumerated() where i != 30 {
            XCTAssertEqual((try? r.get())?["metadata"]?["name"]?.string, String(format: "c-%02d", i))
            XCTAssertEqual((try? r.get())?["data"]?["i"]?.string, "\(i)")
        }
        XCTAssertThrowsError(try results[30].get()) { XCTAssertEqual(($0 as? KubeError)?.kind, .invalid) }
        XCTAssertEqual(try client.list(cm, namespace: ns).items.count, 39)
        XCTAssertEqual(client.deleteAll((0..<40).map { (cm, ns, String(format: "c-%02d", $0)) }).compactMap { $0 }.count, 1)   // c-30 never existed
        XCTAssertEqual(try client.list(cm, namespace: ns).items.count, 0)
    }

    func testBatchResultsAndRequestLinesFollowTheRequestOrder() throws {
        // The first object's answer comes last (held 0.3 s): each answer is handled as it arrives, yet the results
        // and the --verbose request lines are in the order of the objects.
        try fault(try JSON.decode(#"{"verb": "PATCH", "path": "/namespaces/\#(ns)/configmaps/o-00$", "delay": 0.3, "count": 1}"#))
        var lines: [String] = []
        let c = try makeClient(log: { lines.append($0) })
        let names = (0..<12).map { String(format: "o-%02d", $0) }
        let results = c.applyAll(names.map { configMap($0) }, fieldManager: "t")
        XCTAssertEqual(results.map { (try? $0.get())?["metadata"]?["name"]?.string }, names)
        let logged = lines.filter { $0.hasPrefix("PATCH ") }.map { $0.split(separator: "?")[0].split(separator: "/").last.map(String.init) ?? "" }
        XCTAssertEqual(logged, names)
    }

    func testCallAllMapsEachAnswerAndKeepsItsError() throws {
        var mapped = 0
        let results = client.callAll((0..<6).map { _ in KubeClient.Request("GET", "/version") }) { resp -> Int in
            mapped += 1
            if mapped == 3 { throw KubeError(kind: .decode, message: "third answer refused") }
            return resp.status
        }
        XCTAssertEqual(mapped, 6)
        XCTAssertEqual(results.compactMap { try? $0.get() }, [200, 200, 200, 200, 200])
        XCTAssertEqual(results.filter { (try? $0.get()) == nil }.count, 1)
    }

    /// The socket inodes of this process's open TCP connections to the simulator (/proc/self/fd in /proc/net/tcp).
    func connectionsToServer() throws -> Set<String> {
        let server = try XCTUnwrap(TestEnv.require("FLUXS_TEST_KUBE_SERVER")["FLUXS_TEST_KUBE_SERVER"])
        let port = try XCTUnwrap(Int(try XCTUnwrap(server.split(separator: ":").last)))
        var inodes: Set<String> = []
        for fd in try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            if let dest = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + fd), dest.hasPrefix("socket:[") {
                inodes.insert(String(dest.dropFirst(8).dropLast()))
            }
        }
        var out: Set<String> = []
        // (Read to the end: /proc files have no size, and String(contentsOfFile:) stops after the first page.)
        let table = String(decoding: try XCTUnwrap(FileHandle(forReadingAtPath: "/proc/net/tcp")).readToEnd() ?? Data(), as: UTF8.self)
        for line in table.split(separator: "\n").dropFirst() {
            let f = line.split(separator: " ")
            // sl local_address rem_address st ... inode (the tenth field)
            guard f.count > 9, f[3] == "01", let rem = f[2].split(separator: ":").last, Int(rem, radix: 16) == port, inodes.contains(String(f[9])) else { continue }
            out.insert(String(f[9]))
        }
        return out
    }

    /// A small batch opens a connection per four requests (HTTPMulti.connections): ten requests, three connections,
    /// not eight (each costs a TLS handshake on both sides); a large one uses the whole pool, at most eight.
    func testSmallBatchesOpenFewConnections() throws {
        XCTAssertEqual(HTTPMulti.connections(for: 1, max: 8), 1)
        XCTAssertEqual(HTTPMulti.connections(for: 10, max: 8), 3)
        XCTAssertEqual(HTTPMulti.connections(for: 1000, max: 8), 8)
        let c = try makeClient()
        let before = try connectionsToServer()
        XCTAssertEqual(c.callAll((0..<10).map { _ in KubeClient.Request("GET", "/version") }).filter { (try? $0.get().status) == 200 }.count, 10)
        let small = try connectionsToServer().subtracting(before).count
        XCTAssertGreaterThanOrEqual(small, 1)
        XCTAssertLessThanOrEqual(small, 3, "a batch of 10 opened \(small) connections")
        XCTAssertEqual(c.callAll((0..<200).map { _ in KubeClient.Request("GET", "/version") }).filter { (try? $0.get().status) == 200 }.count, 200)
        let large = try connectionsToServer().subtracting(before).count
        XCTAssertLessThanOrEqual(large, 8, "a batch of 200 opened \(large) connections")
        XCTAssertGreaterThan(large, small, "a batch of 200 used no more connections than one of 10")
    }

    func testRateLimiterIsATokenBucket() throws {
        // --kube-api-burst requests at once, then one per 1/--kube-api-qps seconds; negative qps: no limit.
        let l = try XCTUnwrap(RateLimiter(qps: 2, burst: 3))
        for _ in 0..<3 { XCTAssertEqual(l.tryTake(), 0) }
        let wait = l.tryTake()
        XCTAssertGreaterThan(wait, 0.4)
        XCTAssertLessThanOrEqual(wait, 0.5)
        XCTAssertNil(RateLimiter(qps: -1, burst: 10))
        let d = try XCTUnwrap(RateLimiter(qps: 0, burst: 0))   // client-go's defaults
        XCTAssertEqual(d.qps, 5)
        XCTAssertEqual(d.burst, 10)
    }

    func testResponseHeadersAreTrimmed() throws {
        let r = try client.call("GET", "/version")
        XCTAssertEqual(r.headers["content-type"], "application/json")
    }

    func testRetriesAfter429HonouringRetryAfter() throws {
        try fault(["verb": "GET", "path": .string("/namespaces/\(ns)/configmaps$"), "status": 429, "retryAfter": 1, "count": 1])
        var lines: [String] = []
        let c = try makeClient(log: { lines.append($0) })
        let t0 = Date()
        _ = try c.list(cm, namespace: ns)
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(t0), 0.9)
        XCTAssertTrue(lines.contains { $0.contains("429") }, "\(lines)")
    }

    func testRetriesADroppedConnection() throws {
        try fault(["verb": "GET", "path": .string("/namespaces/\(ns)/configmaps$"), "action": "drop", "count": 2])
        let items = try client.list(cm, namespace: ns).items
        XCTAssertEqual(items.count, 0)
    }

    func testNoRetryOfANonIdempotentCreateAfterAServerError() throws {
        try fault(["verb": "POST", "path": .string("/namespaces/\(ns)/configmaps$"), "status": 500, "count": 1])
        XCTAssertThrowsError(try client.create(cm, namespace: ns, object: configMap("x"))) { e in
            XCTAssertEqual((e as! KubeError).kind, .serverError)
        }
    }

    func testTooManyRequestsGivesUpAtTheDeadline() throws {
        try fault(["verb": "GET", "path": .string("/namespaces/\(ns)/configmaps$"), "status": 429, "retryAfter": 30, "count": 5])
        let c = try makeClient(timeout: 2)
        XCTAssertThrowsError(try c.list(cm, namespace: ns)) { e in
            XCTAssertEqual((e as! KubeError).kind, .tooManyRequests)
        }
    }

    func testUnreachableServerNamesIt() throws {
        let c = try makeClient(timeout: 5, tweak: { $0.server = "https://127.0.0.1:1" })
        XCTAssertThrowsError(try c.list(cm, namespace: "default")) { e in
            let k = e as! KubeError
            XCTAssertEqual(k.kind, .unreachable)
            XCTAssertTrue(k.message.contains("https://127.0.0.1:1"), k.message)
            XCTAssertTrue(k.message.contains("connection refused"), k.message)
        }
    }

    func testBadTokenIsUnauthorizedAndNeverPrinted() throws {
        var lines: [String] = []
        let c = try makeClient(log: { lines.append($0) }, tweak: { $0.auth = .token("very-secret-wrong-token") })
        XCTAssertThrowsError(try c.list(cm, namespace: "default")) { e in
            let k = e as! KubeError
            XCTAssertEqual(k.kind, .unauthorized)
            XCTAssertTrue(k.message.contains("401"), k.message)
            XCTAssertFalse(k.message.contains("very-secret"))
        }
        XCTAssertFalse(lines.joined().contains("very-secret"))
    }

    func testViewerIsForbiddenToWrite() throws {
        let viewer = try makeClient(context: "kubesim-viewer")
        XCTAssertNoThrow(try viewer.list(cm, namespace: ns))
        XCTAssertThrowsError(try viewer.create(cm, namespace: ns, object: configMap("v"))) { e in
            let k = e as! KubeError
            XCTAssertEqual(k.kind, .forbidden)
            XCTAssertTrue(k.message.contains("cannot create resource \"configmaps\""), k.message)
        }
    }

    func testClientCertificateAndWrongCA() throws {
        let certClient = try makeClient(context: "kubesim-cert")
        XCTAssertNoThrow(try certClient.list(cm, namespace: ns))
        // a CA that did not sign the simulator's certificate
        let d = try TestEnv.tempDir("ca")
        defer { try? FileManager.default.removeItem(at: d) }
        let r = try TestEnv.run("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                            "-keyout", d.appendingPathComponent("k").path, "-out", d.appendingPathComponent("c").path,
                                            "-days", "1", "-subj", "/CN=unrelated"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let ca = try Data(contentsOf: d.appendingPathComponent("c"))
        let wrongCA = try makeClient(timeout: 5, tweak: { $0.tls.caData = Array(ca) })
        XCTAssertThrowsError(try wrongCA.list(cm, namespace: ns)) { e in
            XCTAssertEqual((e as! KubeError).kind, .unreachable)
            XCTAssertTrue("\(e)".contains("TLS"), "\(e)")
        }
    }

    func testDiscoveryOfAMissingGroupExplainsIt() throws {
        XCTAssertThrowsError(try client.resource(apiVersion: "widgets.example.fluxs.io/v1", kind: "Widget")) { e in
            XCTAssertTrue("\(e)".contains("CustomResourceDefinition"), "\(e)")
        }
        XCTAssertThrowsError(try client.resource(apiVersion: "v1", kind: "Nothing")) { e in
            XCTAssertTrue("\(e)".contains("doesn't have a resource type \"Nothing\""), "\(e)")
        }
    }
}
