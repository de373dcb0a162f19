import CGit2
import Glibc

/// A libgit2 failure as a Swift error: the operation, libgit2's message and its code.
public struct GitError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        case auth, certificate, notFound, network, timeout, invalid, rejected, tooLarge, other
    }
    public var kind: Kind
    public var message: String
    public var code: Int32

    public init(_ kind: Kind, _ message: String, code: Int32 = -1) {
        self.kind = kind
        self.message = message
        self.code = code
    }

    public var description: String { message }

    /// Reads libgit2's thread-local error after a call returned `code`.
    static func last(_ code: Int32, _ context: String) -> GitError {
        var msg = ""
        var klass: Int32 = 0
        if let e = git_error_last() {
            msg = e.pointee.message.map { String(cString: $0) } ?? ""
            klass = e.pointee.klass
        }
        let kind: Kind
        switch code {
        case GIT_EAUTH.rawValue: kind = .auth
        case GIT_ECERTIFICATE.rawValue: kind = .certificate
        case GIT_ENOTFOUND.rawValue: kind = .notFound
        default:
            switch UInt32(bitPattern: klass) {
            case GIT_ERROR_NET.rawValue, GIT_ERROR_HTTP.rawValue, GIT_ERROR_SSH.rawValue, GIT_ERROR_SSL.rawValue, GIT_ERROR_OS.rawValue:
                kind = .network
            default: kind = .other
            }
        }
        let text = msg.isEmpty ? "\(context) failed (libgit2 code \(code))" : msg
        return GitError(kind, text, code: code)
    }
}

/// libgit2's process-wide initialisation, done once on first use.
enum Library {
    static let ready: Bool = {
        git_libgit2_init()
        fluxs_git_set_user_agent("fluxs")
        // Mirrors live in the user's cache directory; ownership checks are for shared checkouts.
        fluxs_git_set_owner_validation(0)
        return true
    }()

    static func ensure() { _ = ready }
}

@inline(__always)
func check(_ code: Int32, _ context: @autoclosure () -> String) throws {
    if code < 0 { throw GitError.last(code, context()) }
}

/// A commit or object id: 20 (SHA-1) or 32 (SHA-256) bytes kept inline (a ref advertisement of a million refs holds
/// two million of them), written as 40 or 64 lowercase hex characters.
public struct ObjectID: Hashable, Sendable, CustomStringConvertible {
    private var w0: UInt64 = 0, w1: UInt64 = 0, w2: UInt64 = 0, w3: UInt64 = 0
    private var count: UInt8 = 0

    public init?(hex: String) {
        guard let id = ObjectID(hexBytes: Array(hex.utf8)[...]) else { return nil }
        self = id
    }

    /// From 40 or 64 hex digits (either case).
    public init?(hexBytes h: ArraySlice<UInt8>) {
        guard h.count == 40 || h.count == 64 else { return nil }
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        var i = h.startIndex
        for k in 0..<(h.count / 16 + (h.count % 16 == 0 ? 0 : 1)) {
            var w: UInt64 = 0
            for _ in 0..<16 {
                w <<= 4
                if i < h.endIndex {
                    guard let n = Self.nibble(h[i]) else { return nil }
                    w |= UInt64(n)
                    i += 1
                }
            }
            switch k {
            case 0: words.0 = w
            case 1: words.1 = w
            case 2: words.2 = w
            default: words.3 = w
            }
        }
        (w0, w1, w2, w3) = words
        count = UInt8(h.count / 2)
    }

    private init(bytes: [UInt8], count: Int) {
        func word(_ k: Int) -> UInt64 { (0..<8).reduce(0) { $0 << 8 | UInt64(bytes[k * 8 + $1]) } }
        w0 = word(0); w1 = word(1); w2 = word(2); w3 = word(3)
        self.count = UInt8(count)
    }

    static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    init(_ oid: git_oid) {
        let bytes = withUnsafeBytes(of: oid.id) { Array($0) }
        self.init(bytes: bytes + [UInt8](repeating: 0, count: max(0, 32 - bytes.count)), count: min(bytes.count, 20))
    }

    var bytes: [UInt8] {
        var out: [UInt8] = []
        for w in [w0, w1, w2, w3] { for s in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: w >> UInt64(s))) } }
        return Array(out.prefix(Int(count)))
    }

    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(Int(count) * 2)
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }

    var raw: git_oid {
        var o = git_oid()
        git_oid_fromstr(&o, hex)
        return o
    }
    public var description: String { hex }
}

/// Runs `body` with a git_strarray over `strings`, valid only during the call.
func withStrarray<R>(_ strings: [String], _ body: (UnsafePointer<git_strarray>) throws -> R) rethrows -> R {
    var cStrings = strings.map { strdup($0) }
    defer { cStrings.forEach { free($0) } }
    return try cStrings.withUnsafeMutableBufferPointer { buf in
        var arr = git_strarray(strings: buf.baseAddress, count: buf.count)
        return try body(&arr)
    }
}
