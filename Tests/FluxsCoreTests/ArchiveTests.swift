import Foundation
import XCTest
@testable import FluxsCore
import FluxsKube
import FluxsTestSupport

final class ArchiveTests: XCTestCase {
    func samples() -> [[UInt8]] {
        var rng = SeededRandom(seed: 7)
        let text = Array(String(repeating: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: podinfo\n", count: 3000).utf8)
        let random = rng.bytes(200_000)
        let runs = [UInt8](repeating: 7, count: 100_000) + [1, 2, 3] + [UInt8](repeating: 9, count: 70_000)
        let mixed = (0..<300_000).map { i in UInt8(truncatingIfNeeded: (i * 7919) % 251 < 20 ? i : i % 13) }
        return [[], [42], Array("abc".utf8), text, random, runs, mixed]
    }

    /// Several MB of manifests, as a repository with a large CRD bundle has.
    func manifests(_ megabytes: Int, seed: UInt64) -> [UInt8] {
        var rng = SeededRandom(seed: seed)
        var s = ""
        while s.utf8.count < megabytes << 20 {
            let n = Int.random(in: 0..<1_000_000, using: &rng)
            s += "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-\(n)\ndata:\n  key-\(n % 97): value \(n * 31)\n"
        }
        return Array(s.utf8)
    }

    func dir(_ name: String) throws -> URL { try TestEnv.tempDir("fluxs-\(name)") }

    func testGzipRoundTripsDeterministicallyAndCompresses() throws {
        for s in samples() {
            let z = try Gzip.compress(s)
            XCTAssertEqual(try Gzip.decompress(z), s)
            XCTAssertEqual(try Gzip.compress(s), z, "deterministic")
            // The fixed header: no name, no time, OS unknown.
            XCTAssertEqual(Array(z.prefix(10)), [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff])
        }
        let text = samples()[3]
        XCTAssertLessThan(try Gzip.compress(text).count, text.count / 20)
    }

    func testSeveralMegabytesRoundTrip() throws {
        let big = manifests(8, seed: 3)
        let z = try Gzip.compress(big)
        let start = monotonicSeconds()
        XCTAssertEqual(try Gzip.decompress(z), big)
        print("inflate of \(big.count) bytes: \(String(format: "%.3f", monotonicSeconds() - start)) s")
    }

    func testSystemGzipReadsOursAndWeReadSystemGzip() throws {
        let d = try dir("gz")
        defer { try? FileManager.default.removeItem(at: d) }
        for (i, s) in samples().enumerated() {
            let f = d.appendingPathComponent("s\(i).gz")
            try Data(Gzip.compress(s)).write(to: f)
            let r = try TestEnv.run("gzip", ["-t", f.path])
            XCTAssertEqual(r.status, 0, "gzip -t sample \(i): \(r.stderr)")
            let raw = d.appendingPathComponent("r\(i)")
            try Data(s).write(to: raw)
            XCTAssertEqual(try TestEnv.run("gzip", ["-k", "-9", raw.path]).status, 0)
            let theirs = try Data(contentsOf: d.appendingPathComponent("r\(i).gz"))
            XCTAssertEqual(try Gzip.decompress([UInt8](theirs)), s, "sample \(i) compressed by gzip")
        }
        // Two members read as one stream, as gzip -d reads them.
        let two = try Gzip.compress(Array("one\n".utf8)) + Gzip.compress(Array("two\n".utf8))
        XCTAssertEqual(try Gzip.decompress(two), Array("one\ntwo\n".utf8))
    }

    func testCorruptTruncatedAndOversizedGzipAreErrors() throws {
        var z = try Gzip.compress(Array("hello world hello world".utf8))
        z[z.count - 6] ^= 0xff
        XCTAssertThrowsError(try Gzip.decompress(z))
        XCTAssertThrowsError(try Gzip.decompress(Array(z.prefix(12)))) { XCTAssertTrue("\($0)".contains("truncated"), "\($0)") }
        XCTAssertThrowsError(try Gzip.decompress(Array("plain text".utf8))) { XCTAssertEqual("\($0)", "not a gzip file") }
        XCTAssertThrowsError(try Gzip.decompress(try Gzip.compress([1, 2, 3]) + [0, 0, 0, 0]))
        // A bomb: 64 MiB of zeros in a few KB stops at the limit.
        let bomb = try Gzip.compress([UInt8](repeating: 0, count: 64 << 20))
        XCTAssertLessThan(bomb.count, 100_000)
        XCTAssertThrowsError(try Gzip.decompress(bomb, limit: 1 << 20)) { XCTAssertTrue("\($0)".contains("larger than"), "\($0)") }
    }

    func entries(_ long: String) -> [Tar.Entry] {
        [.init(path: ".", kind: .directory, mode: 0o750),
         .init(path: "apps", kind: .directory, mode: 0o750),
         .init(path: "apps/a.yaml", kind: .file, mode: 0o600, data: Array("a: 1\n".utf8)),
         .init(path: "run.sh", kind: .file, mode: 0o700, data: Array("#!/bin/sh\n".utf8)),
         .init(path: "big.yaml", kind: .file, mode: 0o600, data: manifests(1, seed: 9)),
         .init(path: long, kind: .file, mode: 0o600, data: Array("x: y\n".utf8))]
    }

    func artifact(_ es: [Tar.Entry]) throws -> [UInt8] {
        let w = try TarGzWriter()
        for e in es { try w.append(e) }
        return try w.finish()
    }

    func testArtifactsAreReproducibleAndReadByTarAndPython() throws {
        let long = String(repeating: "deep/", count: 40) + "file.yaml"
        let tgz = try artifact(entries(long))
        XCTAssertEqual(try artifact(entries(long)), tgz, "the same tree gives the same bytes")
        let d = try dir("tar")
        defer { try? FileManager.default.removeItem(at: d) }
        let f = d.appendingPathComponent("a.tar.gz")
        try Data(tgz).write(to: f)
        let list = try TestEnv.run("tar", ["-tzvf", f.path])
        XCTAssertEqual(list.status, 0, list.stderr)
        XCTAssertTrue(list.stdout.contains("apps/a.yaml") && list.stdout.contains(long), list.stdout)
        XCTAssertTrue(list.stdout.contains("-rwx------ 0/0"), list.stdout)
        let out = d.appendingPathComponent("x")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let x = try TestEnv.run("tar", ["-xzf", f.path, "-C", out.path])
        XCTAssertEqual(x.status, 0, x.stderr)
        XCTAssertEqual(try Data(contentsOf: out.appendingPathComponent("big.yaml")), Data(manifests(1, seed: 9)))
        XCTAssertEqual(try String(contentsOf: out.appendingPathComponent(long), encoding: .utf8), "x: y\n")
        try checkPythonReads(f, expect: ["apps", "apps/a.yaml", "run.sh", "big.yaml", long])
        XCTAssertEqual(try Tar.read(gzip: tgz).map(\.path), ["apps", "apps/a.yaml", "run.sh", "big.yaml", long])
    }

    /// Python's tarfile lists the archive's regular files and directories, with uid/gid 0 and mtime 0.
    func checkPythonReads(_ f: URL, expect: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let script = """
        import sys, tarfile
        with tarfile.open(sys.argv[1], "r:gz") as t:
            for m in t.getmembers():
                assert m.uid == 0 and m.gid == 0 and m.mtime == 0, m.name
                if m.isfile(): t.extractfile(m).read()
                print(m.name)
        """
        let r = try TestEnv.run("python3", ["-c", script, f.path])
        XCTAssertEqual(r.status, 0, r.stderr, file: file, line: line)
        XCTAssertEqual(r.stdout.split(separator: "\n").map(String.init).filter { $0 != "." }, expect, file: file, line: line)
    }

    func testWeReadGNUTar() throws {
        let d = try dir("gnutar")
        defer { try? FileManager.default.removeItem(at: d) }
        let src = d.appendingPathComponent("src/x/y")
        try FileManager.default.createDirectory(at: src, withIntermediateDirectories: true)
        try Data("hello\n".utf8).write(to: src.appendingPathComponent("f.txt"))
        try FileManager.default.createSymbolicLink(atPath: src.appendingPathComponent("link").path, withDestinationPath: "f.txt")
        let g = d.appendingPathComponent("g.tar.gz")
        XCTAssertEqual(try TestEnv.run("tar", ["-czf", g.path, "-C", d.appendingPathComponent("src").path, "."]).status, 0)
        let entries = try Tar.read(gzip: [UInt8](try Data(contentsOf: g)))
        XCTAssertEqual(entries.map(\.path), ["x", "x/y", "x/y/f.txt"])
        XCTAssertEqual(entries[2].data, Array("hello\n".utf8))
    }

    /// Entries named `..`, absolute or with `../` are never stored (issue 22), and reading refuses them too.
    func testUnsafePathsAreNeverStoredAndRefusedOnRead() throws {
        for bad in ["..", "../evil", "/etc/passwd", "a/../../b", "a/..", "x/../y", ""] {
            let w = try TarGzWriter()
            XCTAssertThrowsError(try w.append(.init(path: bad, kind: .file, mode: 0o600, data: [1])), "'\(bad)' was stored") {
                XCTAssertTrue("\($0)".contains("refusing to store"), "\($0)")
            }
            XCTAssertThrowsError(try w.append(.init(path: bad, kind: .directory, mode: 0o750)), "'\(bad)' was stored")
        }
        // Archives made by another tool with such names are refused when read.
        let d = try dir("evil")
        defer { try? FileManager.default.removeItem(at: d) }
        for (i, bad) in ["../evil", "/abs/file", "a/../../b", ".."].enumerated() {
            let f = d.appendingPathComponent("e\(i).tar.gz")
            let script = """
            import io, sys, tarfile
            with tarfile.open(sys.argv[1], "w:gz") as t:
                for name in ["ok.yaml", sys.argv[2]]:
                    info = tarfile.TarInfo(name)
                    info.size = 4
                    t.addfile(info, io.BytesIO(b"a: 1"))
            """
            XCTAssertEqual(try TestEnv.run("python3", ["-c", script, f.path, bad]).status, 0)
            XCTAssertThrowsError(try Tar.read(gzip: [UInt8](try Data(contentsOf: f))), "'\(bad)' was read") {
                XCTAssertTrue("\($0)".contains("is refused"), "\($0)")
            }
        }
    }

    /// A gzip bomb (gzip's own, 200 MB of zeros in ~200 KB) stops at the deadline with a message that says so.
    func testDecompressionStopsAtTheDeadline() throws {
        let r = try TestEnv.run("sh", ["-c", "head -c 200000000 /dev/zero | gzip -1 | base64 -w0"])
        let bomb = try XCTUnwrap(Data(base64Encoded: r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        let t0 = Date()
        XCTAssertThrowsError(try Gzip.decompress(Array(bomb), deadline: monotonicSeconds() + 0.01)) {   // zlib inflates 200 MB in ~0.2 s
            XCTAssertTrue("\($0)".hasPrefix("decompression did not finish in time"), "\($0)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(t0), 2)
    }

    func testExtractedSizeIsBounded() throws {
        let es = (0..<10).map { Tar.Entry(path: "f\($0)", kind: .file, mode: 0o600, data: [UInt8](repeating: 1, count: 1000)) }
        let tgz = try artifact(es)
        XCTAssertEqual(try Tar.read(gzip: tgz, maxSize: 10_000).count, 10)
        XCTAssertThrowsError(try Tar.read(gzip: tgz, maxSize: 9_999)) {
            XCTAssertEqual("\($0)", "tar \"f9\" is bigger than max archive size of 9999 bytes")
        }
        XCTAssertThrowsError(try Tar.read(gzip: Array(tgz.prefix(tgz.count / 2))))
    }
}
