import Foundation
import XCTest
@testable import FluxsCore
import FluxsTestSupport

/// fluxs's age layer against Debian's `age` and `age-keygen`: each encrypts what the other decrypts.
final class AgeTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/age") else {
            let msg = "age is not installed (scripts/setup installs it)"
            if TestEnv.env["FLUXS_REQUIRE_TESTENV"] == "1" { XCTFail(msg) }
            throw XCTSkip(msg)
        }
        dir = try TestEnv.tempDir("fluxs-age")
    }

    override func tearDownWithError() throws {
        if let dir { try? FileManager.default.removeItem(at: dir) }
    }

    /// Seeded pseudo-random payloads around the 64 KiB chunk boundaries.
    func payloads() -> [[UInt8]] {
        var state: UInt64 = 0x9E3779B97F4A7C15
        func next() -> UInt8 {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        }
        return [0, 1, 47, 48, 65_535, 65_536, 65_537, 2 * 65_536, 200_003].map { n in (0..<n).map { _ in next() } }
    }

    func ageKeygen() throws -> (key: URL, identity: Age.Identity, recipient: String) {
        let key = dir.appendingPathComponent("key-\(UUID().uuidString.prefix(6)).txt")
        let r = try TestEnv.run("age-keygen", ["-o", key.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let ids = try Age.parseIdentities(String(contentsOf: key, encoding: .utf8))
        XCTAssertEqual(ids.count, 1)
        let pub = try TestEnv.run("age-keygen", ["-y", key.path]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        return (key, ids[0], pub)
    }

    func testRecipientOfAgeKeygenKeyMatches() throws {
        let k = try ageKeygen()
        XCTAssertEqual(k.identity.recipient?.description, k.recipient)
        XCTAssertEqual(try Age.Recipient(k.recipient), k.identity.recipient)
        // fluxs's own key file reads back with age-keygen.
        let mine = Age.Identity.generate()
        let f = dir.appendingPathComponent("mine.txt")
        try TestEnv.write(mine.keyFile(created: "2024-01-01T00:00:00Z")!, to: f, mode: 0o600)
        XCTAssertEqual(try TestEnv.run("age-keygen", ["-y", f.path]).stdout.trimmingCharacters(in: .whitespacesAndNewlines),
                       mine.recipient?.description)
    }

    func testAgeDecryptsWhatFluxsEncrypts() throws {
        let k = try ageKeygen()
        for (i, p) in payloads().enumerated() {
            for armor in [false, true] {
                let enc = dir.appendingPathComponent("f\(i)-\(armor).age"), out = dir.appendingPathComponent("f\(i)-\(armor).out")
                try Data(try Age.encrypt(p, to: [try Age.Recipient(k.recipient)], armor: armor)).write(to: enc)
                let r = try TestEnv.run("age", ["-d", "-i", k.key.path, "-o", out.path, enc.path])
                XCTAssertEqual(r.status, 0, "payload \(p.count) armor \(armor): \(r.stderr)")
                // age creates its output file on the first write: none for an empty payload.
                XCTAssertEqual(Array((try? Data(contentsOf: out)) ?? Data()), p, "payload \(p.count) armor \(armor)")
            }
        }
    }

    func testFluxsDecryptsWhatAgeEncrypts() throws {
        let k = try ageKeygen()
        for (i, p) in payloads().enumerated() {
            for armor in [false, true] {
                let plain = dir.appendingPathComponent("p\(i)"), enc = dir.appendingPathComponent("p\(i)-\(armor).age")
                try Data(p).write(to: plain)
                let r = try TestEnv.run("age", ["-e", "-r", k.recipient] + (armor ? ["-a"] : []) + ["-o", enc.path, plain.path])
                XCTAssertEqual(r.status, 0, r.stderr)
                let data = Array(try Data(contentsOf: enc))
                XCTAssertEqual(data.starts(with: Array(Age.armorHeader.utf8)), armor)
                XCTAssertEqual(try Age.decrypt(data, identities: [k.identity]), p, "payload \(p.count) armor \(armor)")
            }
        }
    }

    func testSeveralRecipientsAndIdentities() throws {
        let a = try ageKeygen(), b = try ageKeygen()
        let p = Array("two recipients".utf8)
        let enc = dir.appendingPathComponent("two.age")
        try Data(try Age.encrypt(p, to: [try Age.Recipient(a.recipient), try Age.Recipient(b.recipient)], armor: true)).write(to: enc)
        for key in [a.key, b.key] {
            let out = dir.appendingPathComponent("two.out")
            XCTAssertEqual(try TestEnv.run("age", ["-d", "-i", key.path, "-o", out.path, enc.path]).status, 0)
            XCTAssertEqual(Array(try Data(contentsOf: out)), p)
        }
        // age encrypting to both; fluxs holding only the second key, among others.
        let plain = dir.appendingPathComponent("plain"), enc2 = dir.appendingPathComponent("two2.age")
        try Data(p).write(to: plain)
        XCTAssertEqual(try TestEnv.run("age", ["-e", "-r", a.recipient, "-r", b.recipient, "-o", enc2.path, plain.path]).status, 0)
        XCTAssertEqual(try Age.decrypt(Array(try Data(contentsOf: enc2)), identities: [Age.Identity.generate(), b.identity]), p)
    }

    func testWrongIdentityTamperingAndTruncationFail() throws {
        let k = try ageKeygen()
        let p = (0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let plain = dir.appendingPathComponent("plain"), enc = dir.appendingPathComponent("x.age")
        try Data(p).write(to: plain)
        XCTAssertEqual(try TestEnv.run("age", ["-e", "-r", k.recipient, "-o", enc.path, plain.path]).status, 0)
        let data = Array(try Data(contentsOf: enc))
        func failure(_ d: [UInt8], _ ids: [Age.Identity]) -> String {
            do { _ = try Age.decrypt(d, identities: ids); return "" } catch { return "\(error)" }
        }
        XCTAssertEqual(failure(data, [Age.Identity.generate()]), "identity did not match any of the recipients: incorrect identity for recipient block")
        XCTAssertEqual(failure(data, [Age.Identity.generate(), Age.Identity.generate()]), "no identity matched any of the recipients")
        var payload = data
        payload[payload.count - 100] ^= 1
        XCTAssertEqual(failure(payload, [k.identity]), "failed to decrypt and authenticate payload chunk, file may be corrupted or tampered with")
        // The first chunk is full: dropping the last chunk leaves an unflagged final chunk.
        let headerEnd = data.count - (70_000 + 2 * 16) - 16
        XCTAssertNotEqual(failure(Array(data.prefix(headerEnd + 16 + 65_536 + 16)), [k.identity]), "")
        XCTAssertNotEqual(failure(Array(data.dropLast(1)), [k.identity]), "")
        // A changed header (the stanza's share) no longer matches its MAC or the identity.
        var header = data
        let arrow = header.firstIndex(of: UInt8(ascii: ">"))!
        header[arrow + 10] = header[arrow + 10] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        XCTAssertNotEqual(failure(header, [k.identity]), "")
        // And age refuses what fluxs would refuse.
        try Data(payload).write(to: enc)
        XCTAssertNotEqual(try TestEnv.run("age", ["-d", "-i", k.key.path, "-o", dir.appendingPathComponent("o").path, enc.path]).status, 0)
    }

    func testKeyFilesAndBech32() throws {
        let ids = try Age.parseIdentities("# created: now\n\n" + Age.Identity.generate().secretKeyString! + "\r\n# comment\n")
        XCTAssertEqual(ids.count, 1)
        XCTAssertThrowsError(try Age.parseIdentities("not-a-key\n"))
        XCTAssertThrowsError(try Age.parseIdentities("AGE-PLUGIN-YUBIKEY-1QQQ\n"))
        let good = Age.Identity.generate().secretKeyString!
        var bad = Array(good)
        bad[20] = bad[20] == "Q" ? "P" : "Q"
        XCTAssertThrowsError(try Age.Identity(String(bad)), "checksum")
        XCTAssertThrowsError(try Age.Recipient(good.lowercased()), "an identity is not a recipient")
        // Post-quantum keys are recognised and match nothing.
        XCTAssertEqual(try Age.parseIdentities("AGE-SECRET-KEY-PQ-1XYZ\n").count, 1)
    }
}
