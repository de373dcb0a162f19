import Crypto
import Foundation
import XCTest
@testable import FluxsCore
import FluxsYAML

/// The SOPS layer: the MAC and value encryption checked independently (AES-GCM and SHA-512 computed here from
/// sops's rules), round trips over seeded random trees in every format, and the failures (tampered values,
/// wrong key, unsupported key types) with sops's and kustomize-controller's messages.
final class SopsTests: XCTestCase {
    let identity = Age.Identity.generate()
    var recipient: Age.Recipient { identity.recipient! }
    var decryptor: SopsDecryptor { SopsDecryptor(identities: [identity]) }

    func encryptor(_ configure: (inout SopsEncryptor) -> Void = { _ in }) -> SopsEncryptor {
        var e = SopsEncryptor(recipients: [recipient])
        e.lastModified = "2024-11-12T13:33:42Z"
        configure(&e)
        return e
    }

    func text(_ b: [UInt8]) -> String { String(decoding: b, as: UTF8.self) }

    func error(_ f: () throws -> Any) -> String {
        do { _ = try f(); return "" } catch { return "\(error)" }
    }

    /// Opens `ENC[AES256_GCM,…]` with swift-crypto directly.
    func open(_ value: String, key: [UInt8], aad: String) throws -> (String, String) {
        let inner = value.dropFirst("ENC[AES256_GCM,".count).dropLast()
        var parts: [String: String] = [:]
        for p in inner.split(separator: ",") {
            let kv = p.split(separator: ":", maxSplits: 1)
            parts[String(kv[0])] = String(kv[1])
        }
        let box = try AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: Base64.decode(parts["iv"]!)!),
                                        ciphertext: Base64.decode(parts["data"]!)!, tag: Base64.decode(parts["tag"]!)!)
        XCTAssertEqual(Base64.decode(parts["iv"]!)!.count, 32)
        let plain = try AES.GCM.open(box, using: SymmetricKey(data: key), authenticating: Array(aad.utf8))
        return (String(decoding: plain, as: UTF8.self), parts["type"]!)
    }

    func testValuesAndMACFollowSopsRules() throws {
        let doc = try YAML.parse("""
            apiVersion: v1
            kind: Secret
            metadata:
              name: s
              labels:
                team_unencrypted: blue
            data:
              b: "1"
              n: 0x10
              f: 1.50
              t: true
              list: [x, "y:z"]
              nothing: null
              empty: ""
            """)
        let enc = try encryptor().encrypt(documents: [doc])[0]
        let meta = enc["sops"]!
        XCTAssertEqual(meta["unencrypted_suffix"]?.string, "_unencrypted")
        XCTAssertEqual(meta["lastmodified"]?.string, "2024-11-12T13:33:42Z")
        XCTAssertEqual(meta["age"]?[0]?["recipient"]?.string, recipient.description)
        // The data key, through the age layer, from the armored age file in the metadata.
        let key = try Age.decrypt(Array(meta["age"]![0]!["enc"]!.string!.utf8), identities: [identity])
        XCTAssertEqual(key.count, 32)
        XCTAssertEqual(enc["metadata"]?["labels"]?["team_unencrypted"]?.string, "blue")
        XCTAssertEqual(try open(enc["data"]!["b"]!.string!, key: key, aad: "data:b:") .0, "1")
        XCTAssertEqual(try open(enc["data"]!["n"]!.string!, key: key, aad: "data:n:") .1, "int")
        XCTAssertEqual(try open(enc["data"]!["n"]!.string!, key: key, aad: "data:n:") .0, "16")
        XCTAssertEqual(try open(enc["data"]!["f"]!.string!, key: key, aad: "data:f:") .0, "1.5")
        XCTAssertEqual(try open(enc["data"]!["f"]!.string!, key: key, aad: "data:f:") .1, "float")
        XCTAssertEqual(try open(enc["data"]!["t"]!.string!, key: key, aad: "data:t:") .0, "True")
        XCTAssertEqual(try open(enc["data"]!["list"]![1]!.string!, key: key, aad: "data:list:") .0, "y:z")
        XCTAssertEqual(try open(enc["apiVersion"]!.string!, key: key, aad: "apiVersion:") .0, "v1")
        XCTAssertTrue(enc["data"]!["nothing"]!.isNull)
        XCTAssertEqual(enc["data"]?["empty"]?.string, "")
        // MAC: SHA-512 over every non-null value's bytes in tree order, upper-case hex, AAD = lastmodified.
        let order = ["v1", "Secret", "s", "blue", "1", "16", "1.5", "True", "x", "y:z", ""]
        var h = SHA512()
        for v in order { h.update(data: Array(v.utf8)) }
        let expected = h.finalize().map { String(format: "%02X", $0) }.joined()
        XCTAssertEqual(try open(meta["mac"]!.string!, key: key, aad: "2024-11-12T13:33:42Z").0, expected)
        // And the decryptor gives the document back.
        XCTAssertEqual(try decryptor.decrypt(document: enc), doc)
    }

    func testMACOnlyEncryptedAndRules() throws {
        let doc = try YAML.parse("a: 1\ndata:\n  s: x\nmeta:\n  m: y\n")
        let enc = try encryptor { $0.encryptedRegex = "^data$"; $0.macOnlyEncrypted = true }.encrypt(documents: [doc])[0]
        XCTAssertEqual(enc["a"]?.int, 1)
        XCTAssertEqual(enc["meta"]?["m"]?.string, "y")
        XCTAssertTrue(enc["data"]!["s"]!.string!.hasPrefix("ENC[AES256_GCM,"))
        let key = try Age.decrypt(Array(enc["sops"]!["age"]![0]!["enc"]!.string!.utf8), identities: [identity])
        var h = SHA512()
        h.update(data: [0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b,
                        0x0b, 0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69])
        h.update(data: Array("x".utf8))
        XCTAssertEqual(try open(enc["sops"]!["mac"]!.string!, key: key, aad: "2024-11-12T13:33:42Z").0,
                       h.finalize().map { String(format: "%02X", $0) }.joined())
        // With mac_only_encrypted, changing a cleartext value keeps the MAC valid; changing it otherwise does not.
        var edited = enc
        edited.set(["meta", "m"], .string("changed"))
        XCTAssertEqual(try decryptor.decrypt(document: edited)["meta"]?["m"]?.string, "changed")
        let full = try encryptor { $0.encryptedRegex = "^data$" }.encrypt(documents: [doc])[0]
        var edited2 = full
        edited2.set(["meta", "m"], .string("changed"))
        XCTAssertTrue(error { try self.decryptor.decrypt(document: edited2) }.hasPrefix("failed to verify sops data integrity: MAC mismatch"))
    }

    // MARK: seeded round trips

    struct Rng {
        var state: UInt64
        mutating func next() -> UInt64 { state ^= state << 13; state ^= state >> 7; state ^= state << 17; return state }
        mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    func randomString(_ r: inout Rng) -> String {
        let pool = ["a", "b", "Z", "0", "7", " ", ":", "-", "\n", "é", "ü", "#", "'", "\"", "true", "null", "${x}", "_unencrypted"]
        return (0..<r.int(6)).map { _ in pool[r.int(pool.count)] }.joined()
    }

    func randomValue(_ r: inout Rng, depth: Int) -> Node {
        switch depth > 2 ? r.int(5) : r.int(7) {
        case 0: return .string(randomString(&r))
        case 1: return .int(r.int(100_000) - 50_000)
        case 2: return .float(Double(r.int(10_000)) / 8)
        case 3: return .bool(r.int(2) == 0)
        case 4: return r.int(4) == 0 ? .null : .string("v" + randomString(&r))
        case 5: return .sequence((0..<r.int(4)).map { _ in randomValue(&r, depth: depth + 1) })
        default:
            var m = Mapping()
            for _ in 0..<(1 + r.int(4)) {
                let k = ["data", "stringData", "metadata", "name", "key", "x_unencrypted", "pass_enc", "a:b", "n"][r.int(9)] + String(r.int(3))
                m[k] = randomValue(&r, depth: depth + 1)
            }
            return .mapping(m)
        }
    }

    func testSeededRoundTripsInEveryRuleAndFormat() throws {
        var r = Rng(state: 0x5EED_F1_0C5)
        let rules: [(String, (inout SopsEncryptor) -> Void)] = [
            ("default", { _ in }), ("encrypted_regex", { $0.encryptedRegex = "^(data|stringData)" }),
            ("unencrypted_regex", { $0.unencryptedRegex = "^meta" }), ("encrypted_suffix", { $0.encryptedSuffix = "_enc1" }),
            ("unencrypted_suffix", { $0.unencryptedSuffix = "_unencrypted1" }), ("mac_only_encrypted", { $0.encryptedRegex = "^data"; $0.macOnlyEncrypted = true }),
        ]
        for round in 0..<40 {
            var top = Mapping()
            for i in 0..<(1 + r.int(5)) { top["k\(i)" + ["", "_unencrypted", "_enc1", "data"][r.int(4)]] = randomValue(&r, depth: 0) }
            let doc = Node.mapping(top)
            let (name, rule) = rules[round % rules.count]
            let e = encryptor(rule)
            for format in [SopsFormat.yaml, .json] {
                let plain = format == .yaml ? Array(try YAMLEmitter(sortKeys: false).emit(doc).utf8) : try JSON.encodeBytes(doc) + [10]
                let encrypted = try e.encrypt(plain, format: format)
                XCTAssertTrue(encrypted.containsBytes(Array(format.marker.utf8)), "\(name) \(format): marker")
                let back = try decryptor.decrypt(encrypted, format: format, output: format)
                let parsed = format == .yaml ? try YAML.parse(text(back)) : try JSON.decode(bytes: back)
                XCTAssertEqual(parsed, doc, "round \(round) \(name) \(format)")
                // Every value the rule leaves in clear is still in clear in the encrypted file.
                let encNode = format == .yaml ? try YAML.parse(text(encrypted)) : try JSON.decode(bytes: encrypted)
                var walk = SopsWalk(try SopsMetadata(encNode["sops"]!))
                var copy = encNode
                copy["sops"] = nil
                _ = try walk.walk(copy, []) { w, s, path in
                    let enc = w.shouldBeEncrypted(path)!
                    XCTAssertEqual(s.tag == .string && s.value.hasPrefix("ENC[AES256_GCM,"), enc && !(s.tag == .string && s.value.isEmpty),
                                   "round \(round) \(name): \(path)")
                    return .scalar(s)
                }
            }
        }
    }

    func testDotenvAndBinaryRoundTrip() throws {
        var r = Rng(state: 42)
        for _ in 0..<20 {
            var lines = ""
            var expected: [(String, String)] = []
            for i in 0..<(1 + r.int(6)) {
                let v = randomString(&r).replacingAll("\n", with: "\\n")
                lines += "KEY_\(i)=\(v)\n"
                expected.append(("KEY_\(i)", v))
            }
            let enc = try encryptor().encrypt(Array(lines.utf8), format: .dotenv)
            XCTAssertTrue(text(enc).contains("sops_mac=ENC["))
            XCTAssertTrue(text(enc).contains("sops_age__list_0__map_recipient=\(recipient)"))
            XCTAssertEqual(text(try decryptor.decrypt(enc, format: .dotenv, output: .dotenv)), lines)
            let bytes = (0..<r.int(3000)).map { _ in UInt8(truncatingIfNeeded: r.next()) }
            let benc = try encryptor().encrypt(bytes, format: .binary)
            XCTAssertTrue(benc.containsBytes(Array("\"mac\": \"ENC[".utf8)))
            XCTAssertEqual(try decryptor.decrypt(benc, format: .binary, output: .binary), bytes)
        }
        // A dotenv file decrypted to YAML or JSON output, as a secretGenerator key names it.
        let enc = try encryptor().encrypt(Array("A=1\nB=two words\n".utf8), format: .dotenv)
        XCTAssertEqual(text(try decryptor.decrypt(enc, format: .dotenv, output: .json)), "{\n\t\"A\": \"1\",\n\t\"B\": \"two words\"\n}\n")
        XCTAssertEqual(text(try decryptor.decrypt(enc, format: .dotenv, output: .yaml)), "A: \"1\"\nB: two words\n")
    }

    func testMultiDocumentFileIsOneMAC() throws {
        let docs = [try YAML.parse("kind: Secret\ndata:\n  a: x\n"), try YAML.parse("kind: Secret\ndata:\n  b: y\n")]
        let enc = try encryptor().encrypt(documents: docs)
        XCTAssertEqual(enc[0]["sops"], enc[1]["sops"])
        XCTAssertNoThrow(try decryptor.verify(documents: enc))
        XCTAssertTrue(error { try self.decryptor.verify(documents: [enc[0]]) }.contains("MAC mismatch"))
        let file = Array(try YAMLEmitter(sortKeys: false).emit(documents: enc).utf8)
        XCTAssertEqual(try YAML.parseDocuments(text(try decryptor.decrypt(file, format: .yaml, output: .yaml))), docs)
    }

    // MARK: failures

    let secret = "hunter2-very-secret"

    func encryptedSecret() throws -> String {
        let plain = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: \(secret)\n"
        return text(try encryptor { $0.encryptedRegex = "^(data|stringData)$" }.encrypt(Array(plain.utf8), format: .yaml))
    }

    func testTamperedCiphertextFailsAuthentication() throws {
        let file = try encryptedSecret()
        let line = file.split(separator: "\n").first { $0.contains("password: ENC[") }!
        let data = line.split(separator: "data:")[1].split(separator: ",")[0]
        var b = Base64.decode(String(data))!
        b[0] ^= 0x01
        let tampered = file.replacingAll(String(data), with: Base64.encode(b))
        let e = error { try self.decryptor.decrypt(Array(tampered.utf8), format: .yaml, output: .yaml) }
        XCTAssertEqual(e, "error decrypting sops tree: Error walking tree: Could not decrypt value: Could not decrypt with AES_GCM: cipher: message authentication failed")
        // A value moved to another key fails too: the path is authenticated.
        let moved = file.replacingAll("password:", with: "passwd:")
        XCTAssertTrue(error { try self.decryptor.decrypt(Array(moved.utf8), format: .yaml, output: .yaml) }.contains("message authentication failed"))
        XCTAssertFalse(e.contains(secret))
    }

    func testTamperedCleartextAndRemovedValuesFailTheMAC() throws {
        let file = try encryptedSecret()
        for tampered in [file.replacingAll("name: db", with: "name: other"),
                         file.split(separator: "\n").filter { !$0.contains("password:") }.joined(separator: "\n") + "\n"] {
            let e = error { try self.decryptor.decrypt(Array(tampered.utf8), format: .yaml, output: .yaml) }
            XCTAssertEqual(e, "failed to verify sops data integrity: MAC mismatch: the values were changed after the file was encrypted (edit it with sops, or encrypt it again)")
            XCTAssertFalse(e.contains(secret))
            // kustomize-controller's own behaviour (no MAC check) stays available.
            XCTAssertNoThrow(try decryptor.decrypt(Array(tampered.utf8), format: .yaml, output: .yaml, verifyMAC: false))
        }
        let noMAC = file.split(separator: "\n").map { $0.contains("mac: ENC[") ? "  mac: \"\"" : String($0) }.joined(separator: "\n")
        XCTAssertTrue(error { try self.decryptor.decrypt(Array(noMAC.utf8), format: .yaml, output: .yaml) }
            .hasPrefix("failed to verify sops data integrity: the file has no MAC"))
    }

    func testWrongKeyGivesSopsMessage() throws {
        let file = try encryptedSecret()
        let e = error { try SopsDecryptor(identities: [Age.Identity.generate()]).decrypt(Array(file.utf8), format: .yaml, output: .yaml) }
        XCTAssertEqual(e, """
            cannot get sops data key: Failed to get the data key required to decrypt the SOPS file.

            Group 0: FAILED
              \(recipient): FAILED
                - | failed to create reader for decrypting sops data key with
                  | age: identity did not match any of the recipients: incorrect
                  | identity for recipient block

            Recovery failed because no master key was able to decrypt the file. In
            order for SOPS to recover the file, at least one key has to be successful,
            but none were.
            """)
        XCTAssertTrue(error { try SopsDecryptor(identities: []).decrypt(Array(file.utf8), format: .yaml, output: .yaml) }
            .contains("- | failed to load age identities: the decryption Secret has no\n      | *.agekey entry"))
    }

    func testOtherKeyTypesAreNamed() throws {
        var doc = try YAML.parse(try encryptedSecret())
        var meta = doc["sops"]!
        meta["age"] = nil
        meta["pgp"] = .sequence([.map([("created_at", "2024-11-12T13:33:42Z"), ("enc", "-----BEGIN PGP MESSAGE-----\n..."), ("fp", "35C1A64CD7FC0AB6EB66756B2445463C3234ECE1")])])
        meta["kms"] = .sequence([.map([("arn", "arn:aws:kms:eu-west-1:111:key/k"), ("created_at", "2024-11-12T13:33:42Z"), ("enc", "x")])])
        doc["sops"] = meta
        let e = error { try SopsDecryptor(identities: [self.identity], unusableEntries: ["pgp.asc"]).decrypt(document: doc) }
        XCTAssertTrue(e.contains("35C1A64CD7FC0AB6EB66756B2445463C3234ECE1: FAILED\n    - | PGP keys are not supported by fluxs yet (decryption Secret\n      | entries 'pgp.asc' are not used)"), e)
        XCTAssertTrue(e.contains("arn:aws:kms:eu-west-1:111:key/k: FAILED\n    - | AWS KMS keys are not supported by fluxs yet"), e)
        // The PGP key is tried before KMS, as sops orders them.
        XCTAssertLessThan(e.range(of: "PGP")!.lowerBound, e.range(of: "AWS KMS")!.lowerBound)
        // Several key groups (Shamir) are refused plainly.
        meta["pgp"] = nil; meta["kms"] = nil
        meta["key_groups"] = .sequence([.map([("age", try YAML.parse(try encryptedSecret())["sops"]!["age"]!)]), .map([("age", .sequence([]))])])
        doc["sops"] = meta
        XCTAssertTrue(error { try self.decryptor.decrypt(document: doc) }.contains("Shamir"))
    }

    func testMalformedInputs() throws {
        XCTAssertEqual(error { try self.decryptor.decrypt(Array("a: 1\n".utf8), format: .yaml, output: .yaml) },
                       "failed to load encrypted YAML data: sops metadata not found")
        var doc = try YAML.parse(try encryptedSecret())
        doc.set(["stringData", "password"], .string("ENC[AES256_GCM,data:plain-text-is-not-base64]"))
        let e = error { try self.decryptor.decrypt(document: doc) }
        XCTAssertEqual(e, "error decrypting sops tree: Error walking tree: Could not decrypt value: Input string <redacted> does not match sops' data format")
        doc = try YAML.parse(try encryptedSecret())
        doc.set(["sops", "unencrypted_suffix"], .string("_x"))
        XCTAssertTrue(error { try self.decryptor.decrypt(document: doc) }.contains("Cannot use more than one of"))
        doc = try YAML.parse(try encryptedSecret())
        doc.set(["sops", "lastmodified"], .string("yesterday"))
        XCTAssertTrue(error { try self.decryptor.decrypt(document: doc) }.contains("parsing time \"yesterday\""))
    }

    func testLastModifiedAsGoFormatsIt() {
        XCTAssertEqual(SopsMetadata.rfc3339("2024-11-12T13:33:42Z"), "2024-11-12T13:33:42Z")
        XCTAssertEqual(SopsMetadata.rfc3339("2024-11-12T13:33:42.123456Z"), "2024-11-12T13:33:42Z")
        XCTAssertEqual(SopsMetadata.rfc3339("2024-11-12T13:33:42+00:00"), "2024-11-12T13:33:42Z")
        XCTAssertEqual(SopsMetadata.rfc3339("2024-11-12T13:33:42+02:00"), "2024-11-12T13:33:42+02:00")
        XCTAssertNil(SopsMetadata.rfc3339("2024-11-12 13:33:42Z"))
    }

    func testWordWrapAsGoWordwrap() {
        XCTAssertEqual(SopsDecryptor.wrap("aaa bbb ccc", 7), "aaa bbb\nccc")
        XCTAssertEqual(SopsDecryptor.wrap("a-very-long-word-beyond-the-limit x", 10), "a-very-long-word-beyond-the-limit\nx")
        XCTAssertEqual(SopsDecryptor.wrap("one\ntwo three", 5), "one\ntwo\nthree")
    }
}
