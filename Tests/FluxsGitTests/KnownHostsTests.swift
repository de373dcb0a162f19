import Foundation
import XCTest
@testable import FluxsGit
import FluxsTestSupport

final class KnownHostsTests: XCTestCase {
    func testSHA1AndHMAC() {
        XCTAssertEqual(SHA1.hash(Array("abc".utf8)).map { String(format2: $0) }.joined(), "a9993e364706816aba3e25717850c26c9cd0d89d")
        XCTAssertEqual(SHA1.hash([]).map { String(format2: $0) }.joined(), "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        // RFC 2202 test case 2
        XCTAssertEqual(HMACSHA1.mac(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8)).map { String(format2: $0) }.joined(),
                       "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
    }

    /// SHA-1 and HMAC-SHA1 (swift-crypto) against openssl's answers on seeded random input.
    func testSHA1AndHMACMatchOpenSSL() throws {
        var rng = SeededRandom(seed: 1)
        let dir = try TestEnv.tempDir("fluxs-sha1")
        defer { try? FileManager.default.removeItem(at: dir) }
        for (i, size) in [0, 20, 55, 64, 65, 4096].enumerated() {
            let data = rng.bytes(size), key = rng.bytes([20, 64, 65][i % 3])
            let f = dir.appendingPathComponent("in\(i)")
            try Data(data).write(to: f)
            let sha = try TestEnv.run("openssl", ["dgst", "-sha1", "-r", f.path])
            XCTAssertEqual(SHA1.hash(data).map { String(format2: $0) }.joined(), String(sha.stdout.prefix(40)), sha.stderr)
            let mac = try TestEnv.run("openssl", ["dgst", "-sha1", "-mac", "HMAC", "-macopt", "hexkey:" + key.map { String(format2: $0) }.joined(), "-r", f.path])
            XCTAssertEqual(HMACSHA1.mac(key: key, message: data).map { String(format2: $0) }.joined(), String(mac.stdout.prefix(40)), mac.stderr)
        }
    }

    func testPlainWildcardNegatedAndPorts() {
        let key1 = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
        let kh = KnownHosts("""
        # comment
        github.com,gitlab.com ssh-ed25519 \(key1)
        [127.0.0.1]:2222 ssh-ed25519 \(key1)
        *.example.com,!bad.example.com ssh-ed25519 \(key1)
        """)
        let k = [UInt8](repeating: 0, count: 3)
        let real = Base64Decode(key1)
        XCTAssertEqual(kh.verify(name: "github.com", key: real), .trusted)
        XCTAssertEqual(kh.verify(name: "github.com", key: k), .mismatch)
        XCTAssertEqual(kh.verify(name: "bitbucket.org", key: real), .unknownHost)
        XCTAssertEqual(kh.verify(name: KnownHosts.hostName("127.0.0.1", port: 2222), key: real), .trusted)
        XCTAssertEqual(kh.verify(name: KnownHosts.hostName("127.0.0.1", port: 22), key: real), .unknownHost)
        XCTAssertEqual(kh.verify(name: "git.example.com", key: real), .trusted)
        XCTAssertEqual(kh.verify(name: "bad.example.com", key: real), .unknownHost)
    }

    func testHashedEntryFromSshKeygen() throws {
        // `ssh-keygen -H` output for host "github.com" with salt below, computed independently with Python's hmac.
        let key = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
        let salt: [UInt8] = Array(0..<20)
        let mac = HMACSHA1.mac(key: salt, message: Array("github.com".utf8))
        let line = "|1|\(Base64Encode(salt))|\(Base64Encode(mac)) ssh-ed25519 \(key)"
        let kh = KnownHosts(line)
        XCTAssertEqual(kh.verify(name: "github.com", key: Base64Decode(key)), .trusted)
        XCTAssertEqual(kh.verify(name: "gitlab.com", key: Base64Decode(key)), .unknownHost)
    }

    func testURLParts() {
        let u = GitURL("ssh://git@127.0.0.1:2222/org/repo.git")!
        XCTAssertEqual(u.host, "127.0.0.1"); XCTAssertEqual(u.port, 2222); XCTAssertEqual(u.scheme, "ssh")
        let v = GitURL("https://user:p%40ss@localhost/x")!
        XCTAssertEqual(v.host, "localhost"); XCTAssertNil(v.port)
        let w = GitURL("ssh://git@[::1]:22/x")!
        XCTAssertEqual(w.host, "::1"); XCTAssertEqual(w.port, 22)
    }
}

import FluxsYAML
func Base64Decode(_ s: String) -> [UInt8] { Base64.decode(s)! }
func Base64Encode(_ b: [UInt8]) -> String { Base64.encode(b) }
extension String {
    init(format2 b: UInt8) {
        let d = Array("0123456789abcdef")
        self = String([d[Int(b >> 4)], d[Int(b & 15)]])
    }
}
