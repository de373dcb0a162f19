import Foundation
import XCTest
import FluxsKube
import FluxsTestSupport

/// SHA-256 and HMAC-SHA256 (swift-crypto through Hashing) against openssl's answers on seeded random input.
final class HashingTests: XCTestCase {
    func testSHA256AndHMACMatchOpenSSL() throws {
        var rng = SeededRandom(seed: 20)
        let dir = try TestEnv.tempDir("fluxs-hash")
        defer { try? FileManager.default.removeItem(at: dir) }
        for (i, size) in [0, 1, 55, 56, 63, 64, 65, 1000, 100_000].enumerated() {
            let data = rng.bytes(size)
            let key = rng.bytes([1, 20, 64, 65, 200][i % 5])
            let f = dir.appendingPathComponent("in\(i)")
            try Data(data).write(to: f)
            let sha = try TestEnv.run("openssl", ["dgst", "-sha256", "-r", f.path])
            XCTAssertEqual(sha.status, 0, sha.stderr)
            XCTAssertEqual(Hashing.sha256Hex(data), String(sha.stdout.prefix(64)), "sha256 of \(size) bytes")
            // The generic path (any sequence of bytes) gives the same as the array's buffer path.
            XCTAssertEqual(Hashing.sha256Hex(data[...]), String(sha.stdout.prefix(64)), "sha256 of \(size) bytes as a slice")
            let mac = try TestEnv.run("openssl", ["dgst", "-sha256", "-mac", "HMAC", "-macopt", "hexkey:" + hexString(key), "-r", f.path])
            XCTAssertEqual(mac.status, 0, mac.stderr)
            XCTAssertEqual(hexString(Hashing.hmacSHA256(key: key, message: data)), String(mac.stdout.prefix(64)),
                           "HMAC-SHA256 of \(size) bytes with a \(key.count)-byte key")
        }
    }
}
