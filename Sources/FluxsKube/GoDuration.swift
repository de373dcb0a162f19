/// Go's time.Duration text form: parsing ("1h30m", "90s", "1.5h") and printing ("5m0s"), with Go's range
/// (a signed 64-bit count of nanoseconds: at most 2562047h47m16.854775807s).
public enum GoDuration {
    public struct ParseError: Error, CustomStringConvertible, Sendable {
        public var description: String
        static func invalid(_ s: String) -> ParseError { ParseError(description: "time: invalid duration \(quote(s))") }
    }

    /// The largest duration Go represents, in nanoseconds.
    public static let maxNanoseconds = Int64.max

    /// Seconds for a Go duration string.
    public static func parse(_ s: String) throws -> Double {
        Double(try nanoseconds(s)) / 1e9
    }

    /// Nanoseconds for a Go duration string: time.ParseDuration's algorithm, its overflow checks and its errors.
    public static func nanoseconds(_ s: String) throws -> Int64 {
        var u = Array(s.utf8)[...]
        let limit: UInt64 = 1 << 63
        var neg = false
        if let f = u.first, f == UInt8(ascii: "-") || f == UInt8(ascii: "+") { neg = f == UInt8(ascii: "-"); u = u.dropFirst() }
        if u.elementsEqual("0".utf8) { return 0 }
        guard !u.isEmpty else { throw ParseError.invalid(s) }
        func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }
        var d: UInt64 = 0
        while let first = u.first {
            guard first == UInt8(ascii: ".") || isDigit(first) else { throw ParseError.invalid(s) }
            // [0-9]*
            var v: UInt64 = 0
            var pre = false
            while let c = u.first, isDigit(c) {
                if v > limit / 10 { throw ParseError.invalid(s) }
                v = v * 10 + UInt64(c - 48)
                if v > limit { throw ParseError.invalid(s) }
                u = u.dropFirst()
                pre = true
            }
            // (\.[0-9]*)?
            var f: UInt64 = 0, scale = 1.0, post = false
            if u.first == UInt8(ascii: ".") {
                u = u.dropFirst()
                var overflow = false
                while let c = u.first, isDigit(c) {
                    u = u.dropFirst()
                    post = true
                    if overflow { continue }
                    if f > (limit - 1) / 10 { overflow = true; continue }
                    let y = f * 10 + UInt64(c - 48)
                    if y > limit { overflow = true; continue }
                    f = y
                    scale *= 10
                }
            }
            guard pre || post else { throw ParseError.invalid(s) }
            var unitBytes: [UInt8] = []
            while let c = u.first, !(isDigit(c) || c == UInt8(ascii: ".")) { unitBytes.append(c); u = u.dropFirst() }
            guard !unitBytes.isEmpty else { throw ParseError(description: "time: missing unit in duration \(quote(s))") }
            let unitText = String(decoding: unitBytes, as: UTF8.self)
            let unit: UInt64
            switch unitText {
            case "ns": unit = 1
            case "us", "\u{00B5}s", "\u{03BC}s": unit = 1_000
            case "ms": unit = 1_000_000
            case "s": unit = 1_000_000_000
            case "m": unit = 60_000_000_000
            case "h": unit = 3_600_000_000_000
            default: throw ParseError(description: "time: unknown unit \(quote(unitText)) in duration \(quote(s))")
            }
            if v > limit / unit { throw ParseError.invalid(s) }
            v *= unit
            if f > 0 {
                v += UInt64(Double(f) * (Double(unit) / scale))
                if v > limit { throw ParseError.invalid(s) }
            }
            d += v
            if d > limit { throw ParseError.invalid(s) }
        }
        if neg { return d == limit ? Int64.min : -Int64(d) }
        if d > limit - 1 { throw ParseError.invalid(s) }
        return Int64(d)
    }

    /// The time package's quote: ASCII as is (`"` and `\\` escaped), other bytes as `\\xNN`.
    static func quote(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            if c.value >= 0x80 || c.value < 0x20 {
                for b in String(c).utf8 { out += "\\x" + String(b, radix: 16).leftPad(2) }
            } else {
                if c == "\"" || c == "\\" { out += "\\" }
                out.unicodeScalars.append(c)
            }
        }
        return out + "\""
    }

    /// Formats seconds as Go prints a time.Duration (values beyond Go's range print as its limits).
    public static func format(_ seconds: Double) -> String {
        let x = seconds * 1e9
        let ns: Int64
        if x.isNaN { ns = 0 } else if x >= 9.223372036854775e18 { ns = Int64.max } else if x <= -9.223372036854775e18 { ns = Int64.min + 1 }
        else { ns = Int64(x.rounded()) }
        return format(nanoseconds: ns)
    }

    public static func format(nanoseconds value: Int64) -> String {
        if value == 0 { return "0s" }
        let neg = value < 0
        let ns = value == Int64.min ? UInt64(Int64.max) + 1 : UInt64(value.magnitude)
        var out: String
        if ns < 1_000_000_000 {
            if ns < 1000 { out = "\(ns)ns" }
            else if ns < 1_000_000 { out = fraction(ns, 1000) + "µs" }
            else { out = fraction(ns, 1_000_000) + "ms" }
        } else {
            let h = ns / 3_600_000_000_000
            let m = (ns / 60_000_000_000) % 60
            let sNs = ns % 60_000_000_000
            out = fraction(sNs, 1_000_000_000) + "s"
            if h > 0 || m > 0 { out = "\(m)m" + out }
            if h > 0 { out = "\(h)h" + out }
        }
        return neg ? "-" + out : out
    }

    static func fraction(_ v: UInt64, _ unit: UInt64) -> String {
        let whole = v / unit
        let rem = v % unit
        if rem == 0 { return String(whole) }
        var digits = String(rem)
        digits = String(repeating: "0", count: String(unit).count - 1 - digits.count) + digits
        while digits.hasSuffix("0") { digits.removeLast() }
        return "\(whole).\(digits)"
    }
}
