import Foundation
import XCTest
@testable import FluxsCore
import FluxsKube
import FluxsTestSupport

final class ArchiveTests: XCTestCase {
    func samples() -> [[UInt8]] {
        var rng = SystemRandomNumberGenerator()
        let text = Array(String(repeating: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: podinfo\n", count: 3000).utf8)
        let random = (0..<200_000).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let runs = [UInt8](repeating: 7, count: 100_000) + [1, 2, 3] + [UInt8](repeating: 9, count: 70_000)
        let mixed = (0..<300_000).map { i in UInt8(truncatingIfNeeded: (i * 7919) % 251 < 20 ? i : i % 13) }
        return [[], [42], Array("abc".utf8), text, random, runs, mixed]
    }

    func testCRC32KnownValues() {
        XCTAssertEqual(CRC32.checksum(Array("123456789".utf8)), 0xCBF43926)
        XCTAssertEqual(CRC32.checksum([]), 0)
        XCTAssertEqual(CRC32.checksum(Array("The quick brown fox jumps over the lazy dog".utf8)), 0x414FA339)
    }

    func testDeflateRoundTripsAndCompresses() throws {
        for s in samples() {
            let z = Gzip.compress(s)
            XCTAssertEqual(try Gzip.decompress(z), s)
            XCTAssertEqual(Gzip.compress(s), z, "deterministic")
        }
        let text = samples()[3]
        XCTAssertLessThan(Gzip.compress(text).count, text.count / 20)
    }

    func testSystemGzipReadsOursAndWeReadSystemGzip() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fluxs-gz-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for (i, s) in samples().enumerated() {
            let f = dir.appendingPathComponent("s\(i).gz")
            try Data(Gzip.compress(s)).write(to: f)
            let r = try TestEnv.run("gzip", ["-t", f.path])
            XCTAssertEqual(r.status, 0, "gzip -t sample \(i): \(r.stderr)")
            let raw = dir.appendingPathComponent("r\(i)")
            try Data(s).write(to: raw)
            XCTAssertEqual(try TestEnv.run("gzip", ["-k", "-9", raw.path]).status, 0)
            let theirs = try Data(contentsOf: dir.appendingPathComponent("r\(i).gz"))
            XCTAssertEqual(try Gzip.decompress([UInt8](theirs)), s, "sample \(i) compressed by gzip")
        }
    }

    func testTarReadBySystemTarAndBack() throws {
        let long = String(repeating: "deep/", count: 40) + "file.yaml"
        var w = Tar.Writer()
        w.append(.init(path: ".", kind: .directory, mode: 0o750))
        w.append(.init(path: "apps", kind: .directory, mode: 0o750))
        w.append(.init(path: "apps/a.yaml", kind: .file, mode: 0o600, data: Array("a: 1\n".utf8)))
        w.append(.init(path: "run.sh", kind: .file, mode: 0o700, data: Array("#!/bin/sh\n".utf8)))
        w.append(.init(path: long, kind: .file, mode: 0o600, data: Array("x: y\n".utf8)))
        let tgz = Gzip.compress(w.finish())
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fluxs-tar-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let f = dir.appendingPathComponent("a.tar.gz")
        try Data(tgz).write(to: f)
        let list = try TestEnv.run("tar", ["-tzvf", f.path])
        XCTAssertEqual(list.status, 0, list.stderr)
        XCTAssertTrue(list.stdout.contains("apps/a.yaml"))
        XCTAssertTrue(list.stdout.contains(long), list.stdout)
        XCTAssertTrue(list.stdout.contains("-rwx------ 0/0"), list.stdout)
        // And an archive made by GNU tar reads back.
        let src = dir.appendingPathComponent("src/x/y")
        try FileManager.default.createDirectory(at: src, withIntermediateDirectories: true)
        try Data("hello\n".utf8).write(to: src.appendingPathComponent("f.txt"))
        try FileManager.default.createSymbolicLink(atPath: src.appendingPathComponent("link").path, withDestinationPath: "f.txt")
        let g = dir.appendingPathComponent("g.tar.gz")
        XCTAssertEqual(try TestEnv.run("tar", ["-czf", g.path, "-C", dir.appendingPathComponent("src").path, "."]).status, 0)
        let entries = try Tar.read(Gzip.decompress([UInt8](try Data(contentsOf: g))))
        XCTAssertEqual(entries.map(\.path), ["x", "x/y", "x/y/f.txt"])
        XCTAssertEqual(entries[2].data, Array("hello\n".utf8))
        XCTAssertEqual(try Tar.read(Gzip.decompress(tgz)).map(\.path), ["apps", "apps/a.yaml", "run.sh", long])
    }

    func testTarRejectsEscapingPaths() {
        var w = Tar.Writer()
        w.append(.init(path: "../evil", kind: .file, mode: 0o600, data: [1]))
        XCTAssertThrowsError(try Tar.read(w.finish()))
    }

    /// A gzip bomb (gzip's own, 200 MB of zeros in ~200 KB) stops at the deadline with a message that says so.
    func testDecompressionStopsAtTheDeadline() throws {
        let r = try TestEnv.run("sh", ["-c", "head -c 200000000 /dev/zero | gzip -1 | base64 -w0"])
        let bomb = try XCTUnwrap(Data(base64Encoded: r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        let t0 = Date()
        XCTAssertThrowsError(try Gzip.decompress(Array(bomb), deadline: monotonicSeconds() + 0.2)) {
            XCTAssertTrue("\($0)".hasPrefix("decompression did not finish in time"), "\($0)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(t0), 2)
    }

    func testCorruptGzipIsAnError() {
        var z = Gzip.compress(Array("hello world hello world".utf8))
        z[z.count - 6] ^= 0xff
        XCTAssertThrowsError(try Gzip.decompress(z))
        XCTAssertThrowsError(try Gzip.decompress(Array(z.prefix(12))))
    }
}
