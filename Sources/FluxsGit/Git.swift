import CGit2
import Glibc

/// A libgit2 failure as a Swift error: the operation, libgit2's message and its code.
public struct GitError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        case auth, certificate, notFound, network, timeout, invalid, rejected, other
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

/// A commit or object id as 40 (or 64) lowercase hex characters.
public struct ObjectID: Hashable, Sendable, CustomStringConvertible {
    public let hex: String
    public init?(hex: String) {
        let h = hex.lowercased()
        guard h.count == 40 || h.count == 64, h.allSatisfy({ $0.isHexDigit }) else { return nil }
        self.hex = h
    }
    init(_ oid: git_oid) {
        var o = oid
        var buf = [CChar](repeating: 0, count: 41)
        git_oid_tostr(&buf, 41, &o)
        hex = String(cString: buf)
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
