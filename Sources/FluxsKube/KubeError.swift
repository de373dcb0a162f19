import FluxsYAML

/// A failed Kubernetes API call: decoded from metav1.Status when the server
/// answered, or describing why the server could not be reached.
public struct KubeError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        case notFound, alreadyExists, conflict, invalid, forbidden, unauthorized, tooManyRequests, badRequest
        case methodNotAllowed, expired, unsupportedMediaType, serverError, unreachable, timeout, decode, config, other
    }

    public struct Cause: Sendable, Equatable {
        public var reason: String
        public var message: String
        public var field: String
    }

    public var kind: Kind
    /// HTTP status (0 when the server did not answer).
    public var code: Int
    /// metav1.Status reason as the server wrote it.
    public var reason: String
    /// The server's message, verbatim (flux prints API errors as they come).
    public var message: String
    public var causes: [Cause] = []
    public var retryAfter: Double?
    public var name: String?
    public var resourceKind: String?

    public init(kind: Kind, code: Int = 0, reason: String = "", message: String) {
        self.kind = kind
        self.code = code
        self.reason = reason
        self.message = message
    }

    public var description: String { message }

    /// The same error with what failed in front of the message (`ConfigMap/apps/x apply failed: …`).
    public func naming(_ step: String) -> KubeError {
        var e = self
        e.message = "\(step): \(message)"
        return e
    }

    public var isNotFound: Bool { kind == .notFound }
    public var isConflict: Bool { kind == .conflict }

    /// Decodes an error response.
    static func from(response r: HTTPResponse, method: String, url: String) -> KubeError {
        var e = KubeError(kind: kindFor(code: r.status, reason: ""), code: r.status, message: "")
        if let doc = try? JSON.decode(bytes: r.body), doc["kind"]?.string == "Status" {
            e.reason = doc["reason"]?.string ?? ""
            e.message = doc["message"]?.string ?? ""
            e.kind = kindFor(code: r.status, reason: e.reason)
            if let d = doc["details"] {
                e.name = d["name"]?.string
                e.resourceKind = d["kind"]?.string
                e.causes = (d["causes"]?.array ?? []).map {
                    Cause(reason: $0["reason"]?.string ?? "", message: $0["message"]?.string ?? "", field: $0["field"]?.string ?? "")
                }
                if let ra = d["retryAfterSeconds"]?.int { e.retryAfter = Double(ra) }
            }
        }
        if let ra = r.headers["retry-after"], let v = Double(ra.trimmingWhitespace()) { e.retryAfter = v }
        if e.message.isEmpty {
            let body = r.text.trimmingWhitespace()
            e.message = body.isEmpty || body.count > 300
                ? "the server responded with the status code \(r.status) to \(method) \(url) but did not return more information"
                : body
        }
        return e
    }

    static func kindFor(code: Int, reason: String) -> Kind {
        switch reason {
        case "NotFound": return .notFound
        case "AlreadyExists": return .alreadyExists
        case "Conflict": return .conflict
        case "Invalid": return .invalid
        case "Forbidden": return .forbidden
        case "Unauthorized": return .unauthorized
        case "TooManyRequests": return .tooManyRequests
        case "BadRequest": return .badRequest
        case "MethodNotAllowed": return .methodNotAllowed
        case "Expired", "Gone": return .expired
        case "UnsupportedMediaType": return .unsupportedMediaType
        default: break
        }
        switch code {
        case 400: return .badRequest
        case 401: return .unauthorized
        case 403: return .forbidden
        case 404: return .notFound
        case 405: return .methodNotAllowed
        case 409: return .conflict
        case 410: return .expired
        case 415: return .unsupportedMediaType
        case 422: return .invalid
        case 429: return .tooManyRequests
        case 500...599: return .serverError
        default: return .other
        }
    }
}
