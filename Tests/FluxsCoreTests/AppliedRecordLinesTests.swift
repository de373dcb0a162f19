import Foundation
@testable import FluxsCore
import FluxsKube
import XCTest

/// The record of what the last apply left (Sources/FluxsCore/Apply.swift AppliedRecord): written in lines, read back
/// whole; anything not whole reads as no record (the next run dry-runs everything); JSON records still read.
final class AppliedRecordLinesTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "applied-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func sample(manager: String = "kustomize-controller") -> AppliedRecord {
        var r = AppliedRecord(fieldManager: manager, force: true)
        r.entries["ConfigMap/apps/a"] = .init(uid: "u1", resourceVersion: "11", hash: "h1")
        r.entries["ClusterRole/system:view"] = .init(uid: "u2", resourceVersion: "12", hash: "h2")
        r.entries["Namespace/apps"] = .init(uid: "u3", resourceVersion: "", hash: "h3")
        r.build = .init(key: "k1", objects: [.init(apiVersion: "v1", kind: "Namespace", namespace: "", name: "apps"),
                                              .init(apiVersion: "v1", kind: "ConfigMap", namespace: "apps", name: "a"),
                                              .init(apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", namespace: "", name: "system:view")],
                        disabled: ["ConfigMap/apps/off"])
        return r
    }

    func assertSame(_ a: AppliedRecord, _ b: AppliedRecord, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.fieldManager, b.fieldManager, file: file, line: line)
        XCTAssertEqual(a.force, b.force, file: file, line: line)
        XCTAssertEqual(a.entries, b.entries, file: file, line: line)
        XCTAssertEqual(a.build, b.build, file: file, line: line)
    }

    func testRoundTripInLines() throws {
        let path = dir + "/r.json"
        sample().save(path)
        let bytes = try XCTUnwrap(FileManager.default.contents(atPath: path))
        XCTAssertTrue(String(decoding: bytes, as: UTF8.self).hasPrefix("fluxs-applied-record 1\n"))
        let mode = (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue
        XCTAssertEqual(mode, 0o600)
        assertSame(AppliedRecord.load(path, fieldManager: "kustomize-controller", force: true), sample())
        // another manager or force setting: no record
        XCTAssertTrue(AppliedRecord.load(path, fieldManager: "other", force: true).entries.isEmpty)
        XCTAssertTrue(AppliedRecord.load(path, fieldManager: "kustomize-controller", force: false).entries.isEmpty)
    }

    func testAnythingNotWholeIsNoRecord() throws {
        let path = dir + "/r.json"
        sample().save(path)
        let whole = try XCTUnwrap(FileManager.default.contents(atPath: path))
        // every cut short of the end, and a line of an unknown kind, read as an empty record
        for cut in stride(from: 24, to: whole.count - 4, by: 7) {
            try whole.prefix(cut).write(to: URL(fileURLWithPath: path))
            let r = AppliedRecord.load(path, fieldManager: "kustomize-controller", force: true)
            XCTAssertTrue(r.entries.isEmpty && r.build == nil, "cut at \(cut) of \(whole.count)")
        }
        var text = String(decoding: whole, as: UTF8.self)
        text = text.replacingOccurrences(of: "\nk\tk1\n", with: "\nk\tk1\nx\tjunk\n")
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertTrue(AppliedRecord.load(path, fieldManager: "kustomize-controller", force: true).entries.isEmpty)
        // a build object without an entry: the entries stay, the build part does not
        text = String(decoding: whole, as: UTF8.self).replacingOccurrences(of: "o\tConfigMap/apps/a\tu1\t11\th1\n", with: "")
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        let partial = AppliedRecord.load(path, fieldManager: "kustomize-controller", force: true)
        XCTAssertEqual(partial.entries.count, 2)
        XCTAssertNil(partial.build)
    }

    func testTabsFallBackToJSONAndJSONStillReads() throws {
        let path = dir + "/r.json"
        let odd = sample(manager: "manager\twith a tab")
        odd.save(path)
        let bytes = try XCTUnwrap(FileManager.default.contents(atPath: path))
        XCTAssertEqual(bytes.first, UInt8(ascii: "{"))
        assertSame(AppliedRecord.load(path, fieldManager: "manager\twith a tab", force: true), odd)
    }
}
