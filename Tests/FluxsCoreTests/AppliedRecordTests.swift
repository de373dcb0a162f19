import XCTest
import FluxsKube
import FluxsYAML
@testable import FluxsCore

/// The AppliedRecord file: written directly as bytes, the same JSON as its value tree would encode to, and read back.
final class AppliedRecordTests: XCTestCase {
    func record(build: Bool) -> AppliedRecord {
        var r = AppliedRecord(fieldManager: "kustomize-controller", force: true)
        r.entries["ConfigMap/ns/b"] = .init(uid: "u-2", resourceVersion: "12", hash: String(repeating: "ab", count: 32))
        r.entries["ConfigMap/ns/a"] = .init(uid: "u-1", resourceVersion: "11", hash: "h1")
        r.entries["ClusterRole/system:x<&>\"q\""] = .init(uid: "u\u{2028}3", resourceVersion: "", hash: "")
        if build {
            let objects = [AppliedRecord.Object(apiVersion: "v1", kind: "ConfigMap", namespace: "ns", name: "a"),
                           AppliedRecord.Object(apiVersion: "v1", kind: "ConfigMap", namespace: "ns", name: "b"),
                           AppliedRecord.Object(apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", namespace: "", name: "system:x<&>\"q\"")]
            r.build = AppliedRecord.Built(key: "k\\1", objects: objects, disabled: ["Secret/ns/off", "x\ny"])
        }
        return r
    }

    /// The tree the record is, encoded by JSON.encodeBytes.
    func tree(_ r: AppliedRecord) throws -> [UInt8] {
        let objects: [(String, Node)] = r.entries.keys.sorted().map { k in
            let e = r.entries[k]!
            return (k, .map([("uid", .string(e.uid)), ("resourceVersion", .string(e.resourceVersion)), ("hash", .string(e.hash))]))
        }
        var doc: Node = .map([("fieldManager", .string(r.fieldManager)), ("force", .bool(r.force)), ("objects", .map(objects))])
        if let b = r.build {
            let list: [Node] = b.objects.map { o in
                .map([("apiVersion", .string(o.apiVersion)), ("kind", .string(o.kind)), ("namespace", .string(o.namespace)), ("name", .string(o.name))])
            }
            doc["build"] = .map([("key", .string(b.key)), ("objects", .sequence(list)), ("disabled", .sequence(b.disabled.map { .string($0) }))])
        }
        return try JSON.encodeBytes(doc)
    }

    func testTheFileIsTheRecordsJSONAndReadsBack() throws {
        let dir = NSTemporaryDirectory() + "/applied-record-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for withBuild in [false, true] {
            let r = record(build: withBuild)
            XCTAssertEqual(String(decoding: r.encoded(), as: UTF8.self), String(decoding: try tree(r), as: UTF8.self))
            let path = dir + "/r.json"
            r.save(path)
            let back = AppliedRecord.load(path, fieldManager: "kustomize-controller", force: true)
            XCTAssertEqual(back.entries, r.entries)
            XCTAssertEqual(back.build, r.build)
        }
        XCTAssertEqual(String(decoding: AppliedRecord(fieldManager: "m", force: false).encoded(), as: UTF8.self),
                       #"{"fieldManager":"m","force":false,"objects":{}}"#)
    }
}
