internal import FoundationEssentials

/// Standard base64 (RFC 4648 with padding), as Kubernetes uses for []byte fields, through Foundation.
public enum Base64 {
    public static func encode(_ data: [UInt8]) -> String { Data(data).base64EncodedString() }

    public static func encode(_ s: String) -> String { encode(Array(s.utf8)) }

    /// Decodes standard base64; ASCII whitespace (line breaks of PEM bodies and wrapped Secret values) is
    /// skipped and missing padding is supplied. Nil when invalid.
    public static func decode(_ s: String) -> [UInt8]? {
        var text = s
        if s.utf8.contains(where: { $0 == 10 || $0 == 13 || $0 == 32 || $0 == 9 }) {
            text = String(decoding: s.utf8.filter { $0 != 10 && $0 != 13 && $0 != 32 && $0 != 9 }, as: UTF8.self)
        }
        let rest = text.utf8.count % 4
        if rest == 1 { return nil }
        if rest != 0 { text += String(repeating: "=", count: 4 - rest) }
        return Data(base64Encoded: text).map { [UInt8]($0) }
    }
}
