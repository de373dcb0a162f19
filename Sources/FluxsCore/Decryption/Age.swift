import Crypto
import FluxsYAML

/// The age file format (age-encryption.org/v1) with X25519 recipients, as filippo.io/age v1.3 writes and reads
/// it: a text header of recipient stanzas closed by an HMAC, then a ChaCha20-Poly1305 STREAM payload; optionally
/// ASCII-armored. The primitives are swift-crypto's (X25519, HKDF-SHA256, HMAC-SHA256, ChaCha20-Poly1305).
/// docs/sops.md lists the rules.
public enum Age {
    public struct Failure: Error, CustomStringConvertible, Equatable {
        public var description: String
        public init(_ d: String) { description = d }
    }

    static let intro = "age-encryption.org/v1\n"
    static let x25519Label = "age-encryption.org/v1/X25519"
    static let fileKeySize = 16
    static let streamNonceSize = 16
    static let chunkSize = 64 * 1024
    static let tagSize = 16
    static let columnsPerLine = 64
    static let bytesPerLine = columnsPerLine / 4 * 3
    public static let armorHeader = "-----BEGIN AGE ENCRYPTED FILE-----"
    public static let armorFooter = "-----END AGE ENCRYPTED FILE-----"

    // MARK: keys

    /// An X25519 public key, `age1…`.
    public struct Recipient: Equatable, CustomStringConvertible {
        public let publicKey: [UInt8]

        public init(publicKey: [UInt8]) throws {
            guard publicKey.count == 32 else { throw Failure("invalid X25519 public key") }
            self.publicKey = publicKey
        }

        /// `age1…` (Bech32, lower case).
        public init(_ s: String) throws {
            let decoded: (String, [UInt8])
            do { decoded = try Bech32.decode(s) } catch { throw Failure("malformed recipient \"\(s)\": \(error)") }
            guard decoded.0 == "age" else { throw Failure("malformed recipient \"\(s)\": invalid type \"\(decoded.0)\"") }
            do { try self.init(publicKey: decoded.1) } catch { throw Failure("malformed recipient \"\(s)\": \(error)") }
        }

        public var description: String { Bech32.encode("age", publicKey) }
    }

    /// An identity from an age key file: an X25519 secret key, or a kind fluxs recognises but cannot use
    /// (post-quantum hybrid keys), which matches no stanza.
    public struct Identity {
        enum Kind { case x25519(Curve25519.KeyAgreement.PrivateKey), unsupported(String) }
        let kind: Kind

        /// A new random X25519 identity.
        public static func generate() -> Identity { Identity(kind: .x25519(Curve25519.KeyAgreement.PrivateKey())) }

        /// `AGE-SECRET-KEY-1…`.
        public init(_ s: String) throws {
            if s.hasPrefix("AGE-SECRET-KEY-PQ-1") {
                kind = .unsupported("post-quantum (AGE-SECRET-KEY-PQ-1)")
                return
            }
            let decoded: (String, [UInt8])
            do { decoded = try Bech32.decode(s) } catch { throw Failure("malformed secret key: \(error)") }
            guard decoded.0 == "AGE-SECRET-KEY-" else { throw Failure("malformed secret key: unknown type \"\(decoded.0)\"") }
            guard decoded.1.count == 32, let key = try? Curve25519.KeyAgreement.PrivateKey(rawRepresentation: decoded.1) else {
                throw Failure("malformed secret key: invalid X25519 secret key")
            }
            kind = .x25519(key)
        }

        init(kind: Kind) { self.kind = kind }

        /// The recipient (public key) of an X25519 identity.
        public var recipient: Recipient? {
            guard case .x25519(let k) = kind else { return nil }
            return try? Recipient(publicKey: [UInt8](k.publicKey.rawRepresentation))
        }

        /// `AGE-SECRET-KEY-1…` (upper case), as age-keygen writes it.
        public var secretKeyString: String? {
            guard case .x25519(let k) = kind else { return nil }
            return Bech32.encode("AGE-SECRET-KEY-", [UInt8](k.rawRepresentation)).uppercased()
        }

        /// A key file as age-keygen writes it.
        public func keyFile(created: String) -> String? {
            guard let s = secretKeyString, let r = recipient else { return nil }
            return "# created: \(created)\n# public key: \(r)\n\(s)\n"
        }

        /// The file key from the X25519 stanzas, nil when none is for this identity.
        func unwrap(_ stanzas: [Stanza]) throws -> [UInt8]? {
            guard case .x25519(let secret) = kind else { return nil }
            let ours = [UInt8](secret.publicKey.rawRepresentation)
            for s in stanzas where s.type == "X25519" {
                guard s.args.count == 1 else { throw Failure("invalid X25519 recipient block") }
                guard let share = Encoding.rawBase64(s.args[0]) else { throw Failure("failed to parse X25519 recipient: illegal base64 data") }
                guard share.count == 32, let their = try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: share) else {
                    throw Failure("invalid X25519 recipient block")
                }
                let shared: SharedSecret
                do { shared = try secret.sharedSecretFromKeyAgreement(with: their) } catch {
                    throw Failure("invalid X25519 recipient: bad input point: low order point")
                }
                let wrapping = shared.hkdfDerivedSymmetricKey(using: SHA256.self, salt: share + ours,
                                                             sharedInfo: Array(x25519Label.utf8), outputByteCount: 32)
                guard s.body.count == fileKeySize + tagSize else {
                    throw Failure("invalid X25519 recipient block: incorrect file key size")
                }
                if let key = try? AEAD.open(s.body, key: wrapping, nonce: [UInt8](repeating: 0, count: 12)) { return key }
            }
            return nil
        }
    }

    /// Identities of an age key file: one per line, empty lines and `#` lines ignored (as sops reads the
    /// `*.agekey` entries of a decryption Secret). Plugin identities are an error.
    public static func parseIdentities(_ text: String) throws -> [Identity] {
        var out: [Identity] = []
        for line in Armor.lines(Array(text.utf8)) {
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("AGE-PLUGIN-") { throw Failure("age plugin identities (AGE-PLUGIN-…) are not supported by fluxs") }
            guard line.hasPrefix("AGE-SECRET-KEY-1") || line.hasPrefix("AGE-SECRET-KEY-PQ-1") else {
                throw Failure("unknown identity type")
            }
            out.append(try Identity(String(line)))
        }
        return out
    }

    // MARK: header

    struct Stanza: Equatable {
        var type: String
        var args: [String]
        var body: [UInt8]

        func marshal() -> [UInt8] {
            var out = Array(("-> " + ([type] + args).joined(separator: " ") + "\n").utf8)
            // Full lines of 64 columns, then a shorter (possibly empty) last line.
            let b64 = Array(Encoding.rawBase64(body).utf8)
            var i = 0
            while b64.count - i >= columnsPerLine {
                out += b64[i..<(i + columnsPerLine)] + [10]
                i += columnsPerLine
            }
            return out + b64[i...] + [10]
        }
    }

    struct Header {
        var stanzas: [Stanza]
        var mac: [UInt8]

        func withoutMAC() -> [UInt8] {
            var out = Array(intro.utf8)
            for s in stanzas { out += s.marshal() }
            return out + Array("---".utf8)
        }

        func marshal() -> [UInt8] { withoutMAC() + Array((" " + Encoding.rawBase64(mac) + "\n").utf8) }
    }

    /// Parses the binary header; returns it and the offset of the payload.
    static func parseHeader(_ b: [UInt8]) throws -> (Header, Int) {
        var pos = 0
        func line() throws -> [UInt8] {
            guard let nl = b[pos...].firstIndex(of: 10) else { throw Failure("parsing age header: failed to read line: unexpected EOF") }
            let l = Array(b[pos..<nl])
            pos = nl + 1
            return l
        }
        if b.isEmpty { throw Failure("failed to read header: parsing age header: file is empty") }
        guard b.count >= intro.utf8.count, Array(b.prefix(intro.utf8.count)) == Array(intro.utf8) else {
            throw Failure("failed to read header: parsing age header: unexpected intro")
        }
        pos = intro.utf8.count
        var stanzas: [Stanza] = []
        while true {
            if b[pos...].starts(with: Array("---".utf8)) {
                let l = String(decoding: try line(), as: UTF8.self)
                let parts = l.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2, parts[0] == "---", let mac = Encoding.rawBase64(String(parts[1])), mac.count == 32 else {
                    throw Failure("failed to read header: parsing age header: malformed closing line")
                }
                return (Header(stanzas: stanzas, mac: mac), pos)
            }
            let opening = String(decoding: try line(), as: UTF8.self)
            let parts = opening.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            guard parts.count >= 2, parts[0] == "->",
                  parts.dropFirst().allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy { $0 >= 33 && $0 <= 126 } }) else {
                throw Failure("failed to read header: failed to parse header: malformed stanza")
            }
            var body: [UInt8] = []
            while true {
                let l = try line()
                guard let chunk = Encoding.rawBase64(String(decoding: l, as: UTF8.self)), l.count <= columnsPerLine else {
                    throw Failure("failed to read header: failed to parse header: malformed body line")
                }
                body += chunk
                if chunk.count < bytesPerLine { break }
            }
            stanzas.append(Stanza(type: parts[1], args: Array(parts.dropFirst(2)), body: body))
        }
    }

    static func headerMAC(fileKey: [UInt8], _ h: Header) -> [UInt8] {
        let key = HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: fileKey), info: Array("header".utf8), outputByteCount: 32)
        return [UInt8](Crypto.HMAC<Crypto.SHA256>.authenticationCode(for: h.withoutMAC(), using: key))
    }

    static func streamKey(fileKey: [UInt8], nonce: [UInt8]) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: fileKey), salt: nonce, info: Array("payload".utf8), outputByteCount: 32)
    }

    // MARK: encrypt / decrypt

    /// Encrypts to the recipients; `armor` writes the PEM-like text form.
    public static func encrypt(_ plaintext: [UInt8], to recipients: [Recipient], armor: Bool = false) throws -> [UInt8] {
        guard !recipients.isEmpty else { throw Failure("no recipients specified") }
        let fileKey = Random.bytes(fileKeySize)
        var stanzas: [Stanza] = []
        for r in recipients {
            let ephemeral = Curve25519.KeyAgreement.PrivateKey()
            let share = [UInt8](ephemeral.publicKey.rawRepresentation)
            let their = try Curve25519.KeyAgreement.PublicKey(rawRepresentation: r.publicKey)
            let shared = try ephemeral.sharedSecretFromKeyAgreement(with: their)
            let wrapping = shared.hkdfDerivedSymmetricKey(using: SHA256.self, salt: share + r.publicKey,
                                                         sharedInfo: Array(x25519Label.utf8), outputByteCount: 32)
            let body = try AEAD.seal(fileKey, key: wrapping, nonce: [UInt8](repeating: 0, count: 12))
            stanzas.append(Stanza(type: "X25519", args: [Encoding.rawBase64(share)], body: body))
        }
        var header = Header(stanzas: stanzas, mac: [])
        header.mac = headerMAC(fileKey: fileKey, header)
        let nonce = Random.bytes(streamNonceSize)
        let key = streamKey(fileKey: fileKey, nonce: nonce)
        var out = header.marshal() + nonce
        var counter: UInt64 = 0
        var i = 0
        repeat {
            let end = min(i + chunkSize, plaintext.count)
            let last = end == plaintext.count
            out += try AEAD.seal(Array(plaintext[i..<end]), key: key, nonce: chunkNonce(counter, last: last))
            counter += 1
            i = end
        } while i < plaintext.count
        return armor ? Armor.encode(out) : out
    }

    /// Decrypts an age file, binary or armored (detected from its first line, as the age command does).
    public static func decrypt(_ data: [UInt8], identities: [Identity]) throws -> [UInt8] {
        var bytes = data
        let header = Array(armorHeader.utf8)
        if data.drop(while: { $0 == 32 || $0 == 9 || $0 == 10 || $0 == 13 }).starts(with: header) {
            bytes = try Armor.decode(data)
        }
        guard !identities.isEmpty else { throw Failure("no identities specified") }
        let (hdr, offset) = try parseHeader(bytes)
        var fileKey: [UInt8]?
        for id in identities {
            if let k = try id.unwrap(hdr.stanzas) { fileKey = k; break }
        }
        guard let fileKey else {
            var message = identities.count == 1 ? "identity did not match any of the recipients: incorrect identity for recipient block"
                                                : "no identity matched any of the recipients"
            let others = Set(hdr.stanzas.map(\.type)).subtracting(["X25519"]).sorted()
            if !others.isEmpty { message += " (the file also has \(others.joined(separator: ", ")) stanzas, which fluxs cannot unwrap)" }
            throw Failure(message)
        }
        guard headerMAC(fileKey: fileKey, hdr) == hdr.mac else { throw Failure("bad header MAC") }
        guard bytes.count >= offset + streamNonceSize else { throw Failure("failed to read nonce: unexpected EOF") }
        let key = streamKey(fileKey: fileKey, nonce: Array(bytes[offset..<(offset + streamNonceSize)]))
        var out: [UInt8] = []
        var pos = offset + streamNonceSize
        var counter: UInt64 = 0
        let encChunk = chunkSize + tagSize
        let tampered = Failure("failed to decrypt and authenticate payload chunk, file may be corrupted or tampered with")
        while true {
            let end = min(pos + encChunk, bytes.count)
            let chunk = Array(bytes[pos..<end])
            if chunk.isEmpty { throw Failure("unexpected EOF") }
            let last = end == bytes.count
            if last && counter > 0 && chunk.count == tagSize { throw Failure("last chunk is empty, try age v1.0.0, and please consider reporting this") }
            if chunk.count < tagSize { throw tampered }
            if last {
                guard let p = try? AEAD.open(chunk, key: key, nonce: chunkNonce(counter, last: true)) else { throw tampered }
                out += p
                return out
            }
            guard let p = try? AEAD.open(chunk, key: key, nonce: chunkNonce(counter, last: false)) else {
                // A full-length chunk flagged as last, followed by trailing bytes.
                if (try? AEAD.open(chunk, key: key, nonce: chunkNonce(counter, last: true))) != nil {
                    throw Failure("trailing data after end of encrypted file")
                }
                throw tampered
            }
            out += p
            counter += 1
            pos = end
        }
    }

    /// The STREAM nonce: an 88-bit big-endian chunk counter and a final-chunk flag.
    static func chunkNonce(_ counter: UInt64, last: Bool) -> [UInt8] {
        var n = [UInt8](repeating: 0, count: 12)
        for i in 0..<8 { n[3 + i] = UInt8((counter >> (8 * (7 - UInt64(i)))) & 0xFF) }
        n[11] = last ? 1 : 0
        return n
    }
}

/// ChaCha20-Poly1305 with the tag appended to the ciphertext.
enum AEAD {
    static func seal(_ plaintext: [UInt8], key: SymmetricKey, nonce: [UInt8]) throws -> [UInt8] {
        let box = try ChaChaPoly.seal(plaintext, using: key, nonce: ChaChaPoly.Nonce(data: nonce))
        return [UInt8](box.ciphertext) + [UInt8](box.tag)
    }

    static func open(_ sealed: [UInt8], key: SymmetricKey, nonce: [UInt8]) throws -> [UInt8] {
        guard sealed.count >= 16 else { throw Age.Failure("ciphertext too short") }
        let box = try ChaChaPoly.SealedBox(nonce: ChaChaPoly.Nonce(data: nonce), ciphertext: sealed.dropLast(16), tag: sealed.suffix(16))
        return [UInt8](try ChaChaPoly.open(box, using: key))
    }
}

enum Random {
    /// Bytes from the system's CSPRNG (through swift-crypto's key generation).
    static func bytes(_ n: Int) -> [UInt8] {
        var out: [UInt8] = []
        while out.count < n {
            SymmetricKey(size: .bits256).withUnsafeBytes { out += $0.prefix(n - out.count) }
        }
        return out
    }
}

/// Strict base64 forms used by age (the RFC 4648 alphabet, canonical: no whitespace, no stray bits).
enum Encoding {
    /// Unpadded standard base64.
    static func rawBase64(_ b: [UInt8]) -> String {
        var s = Base64.encode(b)
        while s.hasSuffix("=") { s.removeLast() }
        return s
    }

    static func rawBase64(_ s: String) -> [UInt8]? {
        if s.contains("=") { return nil }
        guard let b = Base64.decode(s), rawBase64(b) == s else { return nil }
        return b
    }

    /// Padded standard base64, canonical.
    static func strictBase64(_ s: String) -> [UInt8]? {
        guard let b = Base64.decode(s), Base64.encode(b) == s else { return nil }
        return b
    }
}

/// age's ASCII armor: PEM type "AGE ENCRYPTED FILE", 64 columns, no headers, strict base64 per line.
enum Armor {
    static func encode(_ b: [UInt8]) -> [UInt8] {
        let b64 = Array(Base64.encode(b).utf8)
        var out = Array((Age.armorHeader + "\n").utf8)
        var i = 0
        while i < b64.count {
            let end = min(i + Age.columnsPerLine, b64.count)
            out += b64[i..<end] + [10]
            i = end
        }
        return out + Array((Age.armorFooter + "\n").utf8)
    }

    /// Lines split at LF, a CR before it dropped (bufio.ScanLines). Swift reads CR LF as one character, so bytes.
    static func lines(_ b: [UInt8]) -> [Substring] {
        b.split(separator: 10, omittingEmptySubsequences: false).map { l in
            Substring(String(decoding: l.last == 13 ? l.dropLast() : l[...], as: UTF8.self))
        }
    }

    static func decode(_ b: [UInt8]) throws -> [UInt8] {
        func fail(_ m: String) -> Age.Failure { Age.Failure("invalid armor: \(m)") }
        var lines = Armor.lines(b)
        var leading = 0
        while let first = lines.first, first.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\r" }) {
            leading += first.utf8.count + 1
            if leading > 1024 { throw fail("too much leading whitespace") }
            lines.removeFirst()
        }
        guard let first = lines.first else { throw fail("unexpected EOF") }
        guard first == Age.armorHeader else { throw fail("invalid first line: \"\(first.prefix(40))\"") }
        var out: [UInt8] = []
        var i = 1
        while true {
            guard i < lines.count else { throw fail("unexpected EOF") }
            let line = lines[i]
            i += 1
            if line == Age.armorFooter { break }
            if line.isEmpty { throw fail("empty line in armored data") }
            if line.utf8.count > Age.columnsPerLine { throw fail("column limit exceeded") }
            guard let chunk = Encoding.strictBase64(String(line)) else { throw fail("illegal base64 data") }
            out += chunk
            if chunk.count < Age.bytesPerLine {
                guard i < lines.count, lines[i] == Age.armorFooter else { throw fail("invalid closing line") }
                i += 1
                break
            }
        }
        let rest = lines[i...].joined(separator: "\n")
        if !rest.allSatisfy({ $0.isWhitespace }) { throw fail("trailing data after armored file") }
        if rest.utf8.count >= 1024 { throw fail("too much trailing whitespace") }
        return out
    }
}

/// Bech32 (BIP 173) as age uses it: no length limit, one case throughout.
enum Bech32 {
    static let charset = Array("qpzry9x8gf2tvdw0s3jn54khce6mua7l".utf8)
    static let generator: [UInt32] = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3]

    static func polymod(_ values: [UInt8]) -> UInt32 {
        var chk: UInt32 = 1
        for v in values {
            let top = chk >> 25
            chk = (chk & 0x1ffffff) << 5 ^ UInt32(v)
            for i in 0..<5 where (top >> UInt32(i)) & 1 == 1 { chk ^= generator[i] }
        }
        return chk
    }

    static func hrpExpand(_ hrp: String) -> [UInt8] {
        let h = Array(hrp.lowercased().utf8)
        return h.map { $0 >> 5 } + [0] + h.map { $0 & 31 }
    }

    static func convertBits(_ data: [UInt8], from: Int, to: Int, pad: Bool) throws -> [UInt8] {
        var acc: UInt32 = 0, bits = 0
        var out: [UInt8] = []
        let maxv = UInt32(1 << to - 1)
        for v in data {
            guard Int(v) >> from == 0 else { throw Age.Failure("invalid data range") }
            acc = acc << UInt32(from) | UInt32(v)
            bits += from
            while bits >= to {
                bits -= to
                out.append(UInt8((acc >> UInt32(bits)) & maxv))
            }
        }
        if pad {
            if bits > 0 { out.append(UInt8((acc << UInt32(to - bits)) & maxv)) }
        } else if bits >= from {
            throw Age.Failure("illegal zero padding")
        } else if (acc << UInt32(to - bits)) & maxv != 0 {
            throw Age.Failure("non-zero padding")
        }
        return out
    }

    static func encode(_ hrp: String, _ data: [UInt8]) -> String {
        let values = (try? convertBits(data, from: 8, to: 5, pad: true)) ?? []
        let h = hrp.lowercased()
        var mod = polymod(hrpExpand(h) + values + [0, 0, 0, 0, 0, 0]) ^ 1
        var checksum = [UInt8](repeating: 0, count: 6)
        for p in (0..<6).reversed() { checksum[p] = UInt8(mod & 31); mod >>= 5 }
        return h + "1" + String(decoding: (values + checksum).map { charset[Int($0)] }, as: UTF8.self)
    }

    static func decode(_ s: String) throws -> (String, [UInt8]) {
        guard s.lowercased() == s || s.uppercased() == s else { throw Age.Failure("mixed case") }
        let u = Array(s.utf8)
        guard let pos = u.lastIndex(of: UInt8(ascii: "1")), pos >= 1, pos + 7 <= u.count else {
            throw Age.Failure("separator '1' at invalid position")
        }
        let hrp = String(decoding: u[..<pos], as: UTF8.self)
        guard u[..<pos].allSatisfy({ $0 >= 33 && $0 <= 126 }) else { throw Age.Failure("invalid character human-readable part") }
        var data: [UInt8] = []
        for c in Array(s.lowercased().utf8)[(pos + 1)...] {
            guard let d = charset.firstIndex(of: c) else { throw Age.Failure("invalid character data part") }
            data.append(UInt8(d))
        }
        guard polymod(hrpExpand(hrp) + data) == 1 else { throw Age.Failure("invalid checksum") }
        return (hrp, try convertBits(Array(data.dropLast(6)), from: 5, to: 8, pad: false))
    }
}
