import Foundation
@testable import FluxsCore
import FluxsKube
import FluxsYAML
import FluxsTestSupport
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
        r.entries["ConfigMap/apps/a"] = .init(uid: "u1", resourceVersion: "11", hash: "h1", live: "l1")
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

    /// A dry run compared with the record's hash of the live object decides as the comparison with the live object
    /// itself would: resourceVersion and managedFields times aside, equal is unchanged, anything else configured.
    func testDryRunAgainstTheLiveHash() throws {
        func cm(_ value: String, rv: String, time: String) -> Node {
            .map([("apiVersion", .string("v1")), ("kind", .string("ConfigMap")),
                  ("metadata", .map([("name", .string("a")), ("namespace", .string("apps")), ("uid", .string("u1")), ("resourceVersion", .string(rv)),
                                     ("managedFields", .sequence([.map([("manager", .string("kustomize-controller")), ("time", .string(time))])]))])),
                  ("data", .map([("value", .string(value))]))])
        }
        let live = cm("v1", rv: "11", time: "2026-01-01T00:00:00Z")
        let hash = AppliedRecord.hash(Applier.comparable(live))
        let meta = Node.map([("apiVersion", .string("v1")), ("kind", .string("ConfigMap")), ("metadata", live["metadata"]!)])
        for (dry, want) in [(cm("v1", rv: "11", time: "2026-02-02T00:00:00Z"), ApplyAction.unchanged),
                            (cm("v2", rv: "11", time: "2026-01-01T00:00:00Z"), .configured),
                            (cm("v1", rv: "", time: "2026-01-01T00:00:00Z"), .created)] {
            XCTAssertEqual(Applier.action(dry: dry, live: meta, liveHash: hash), want)
            XCTAssertEqual(Applier.action(dry: dry, live: live), want)
        }
    }

    /// The manifests' hashes, made on two threads when there are many, are each object's own, in order.
    func testHashesOnTwoThreadsAreInOrder() {
        for n in [0, 1, 199, 200, 1001] {
            let objects: [Node] = (0..<n).map { i in
                .map([("kind", .string("ConfigMap")), ("metadata", .map([("name", .string("cm-\(i)"))])), ("data", .map([("i", .string("\(i * 7)"))]))])
            }
            XCTAssertEqual(Applier.manifestHashes(objects), objects.map(AppliedRecord.hash), "\(n) objects")
        }
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
        text = String(decoding: whole, as: UTF8.self).replacingOccurrences(of: "o\tConfigMap/apps/a\tu1\t11\th1\tl1\n", with: "")
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

    /// The reader as it was written first (split into lines and fields, every field a String): the oracle for the
    /// byte-range reader.
    static func reference(_ bytes: [UInt8], fieldManager: String, force: Bool) -> AppliedRecord {
        let empty = AppliedRecord(fieldManager: fieldManager, force: force)
        var r = empty
        var manager: String?, forced: Bool?, key: String?, objects: [AppliedRecord.Object] = [], disabled: [String] = [], ended = false
        for raw in bytes[AppliedRecord.lineHeader.count...].split(separator: 10, omittingEmptySubsequences: false) {
            if ended { if raw.isEmpty { continue } else { return empty } }
            let f = raw.split(separator: 9, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
            switch (f.first ?? "", f.count) {
            case ("m", 2): manager = f[1]
            case ("f", 2): forced = f[1] == "true" ? true : f[1] == "false" ? false : nil; if forced == nil { return empty }
            case ("o", 5): r.entries[f[1]] = .init(uid: f[2], resourceVersion: f[3], hash: f[4])
            case ("o", 6): r.entries[f[1]] = .init(uid: f[2], resourceVersion: f[3], hash: f[4], live: f[5])
            case ("k", 2): key = f[1]
            case ("b", 5):
                guard !f[1].isEmpty, !f[2].isEmpty, !f[4].isEmpty else { return empty }
                objects.append(.init(apiVersion: f[1], kind: f[2], namespace: f[3], name: f[4]))
            case ("d", 2): disabled.append(f[1])
            case ("end", 1): ended = true
            default: return empty
            }
        }
        guard ended, manager == fieldManager, forced == force else { return empty }
        if let key, !key.isEmpty, objects.allSatisfy({ r.entries[$0.subject] != nil }) {
            r.build = .init(key: key, objects: objects, disabled: disabled)
        }
        return r
    }

    /// Seeded records written in lines, then cut, with bytes flipped, lines dropped, duplicated or swapped: the
    /// reader gives what the reference reader gives, every time.
    func testReaderAgreesWithTheReferenceOnMangledRecords() throws {
        var rng = SeededRandom(seed: 1303)
        let alphabet = Array("ab-/.:_Z09 ékfmobd".unicodeScalars).map(String.init)
        func word(_ max: Int) -> String { (0..<Int.random(in: 0...max, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }.joined() }
        var compared = 0
        for _ in 0..<300 {
            var r = AppliedRecord(fieldManager: Bool.random(using: &rng) ? "kustomize-controller" : word(4), force: Bool.random(using: &rng))
            var objects: [AppliedRecord.Object] = []
            for _ in 0..<Int.random(in: 0...6, using: &rng) {
                let o = AppliedRecord.Object(apiVersion: word(3), kind: word(3), namespace: word(2), name: word(4))
                r.entries[o.subject] = .init(uid: word(3), resourceVersion: word(2), hash: word(3))
                objects.append(o)
            }
            if Bool.random(using: &rng) { r.build = .init(key: word(5), objects: objects, disabled: (0..<Int.random(in: 0...2, using: &rng)).map { _ in word(3) }) }
            guard let written = r.lines() else { continue }   // a tab or a line break in a field: written as JSON
            var variants: [[UInt8]] = [written]
            for _ in 0..<8 {
                var v = written
                switch Int.random(in: 0..<5, using: &rng) {
                case 0: v = Array(v.prefix(Int.random(in: AppliedRecord.lineHeader.count...v.count, using: &rng)))
                case 1: let i = Int.random(in: AppliedRecord.lineHeader.count..<v.count, using: &rng); v[i] = [9, 10, 0x61, 0x20, 0][Int.random(in: 0..<5, using: &rng)]
                case 2: var ls = v[AppliedRecord.lineHeader.count...].split(separator: 10, omittingEmptySubsequences: false)
                        if !ls.isEmpty { ls.remove(at: Int.random(in: 0..<ls.count, using: &rng)) }
                        v = AppliedRecord.lineHeader + Array(ls.joined(separator: [10]))
                case 3: var ls = v[AppliedRecord.lineHeader.count...].split(separator: 10, omittingEmptySubsequences: false)
                        if !ls.isEmpty { ls.insert(ls[Int.random(in: 0..<ls.count, using: &rng)], at: Int.random(in: 0...ls.count, using: &rng)) }
                        v = AppliedRecord.lineHeader + Array(ls.joined(separator: [10]))
                default: v += [[10], [10, 10], Array("x\n".utf8), Array("end".utf8)][Int.random(in: 0..<4, using: &rng)]
                }
                variants.append(v)
            }
            for v in variants {
                for (manager, force) in [(r.fieldManager, r.force), ("kustomize-controller", true)] {
                    assertSame(AppliedRecord.lines(v, fieldManager: manager, force: force), Self.reference(v, fieldManager: manager, force: force))
                    compared += 1
                }
            }
        }
        XCTAssertGreaterThan(compared, 3000)
    }
}
