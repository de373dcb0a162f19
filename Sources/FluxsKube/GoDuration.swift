/// Go's time.Duration text form: parsing ("1h30m", "90s", "1.5h") and printing ("5m0s").
public enum GoDuration {
    public struct ParseError: Error, CustomStringConvertible, Sendable {
        public var description: String
        static func invalid(_ s: String) -> ParseError { ParseError(description: "time: invalid duration \"\(s)\"") }
    }

    /// Seconds for a Go duration string.
    public static func parse(_ s: String) throws -> Double {
        var u = Array(s.utf8)[...]
        var neg = false
        if let f = u.first, f == UInt8(ascii: "-") || f == UInt8(ascii: "+") { neg = f == UInt8(ascii: "-"); u = u.dropFirst() }
        if u.elementsEqual("0".utf8) { return 0 }
        guard !u.isEmpty else { throw ParseError.invalid(s) }
        var total = 0.0
        while !u.isEmpty {
            var intPart = 0.0, frac = 0.0, scale = 1.0
            var digits = 0
            while let c = u.first, c >= 48, c <= 57 { intPart = intPart * 10 + Double(c - 48); u = u.dropFirst(); digits += 1 }
            if u.first == UInt8(ascii: ".") {
                u = u.dropFirst()
                while let c = u.first, c >= 48, c <= 57 { scale /= 10; frac += Double(c - 48) * scale; u = u.dropFirst(); digits += 1 }
            }
            guard digits > 0 else { throw ParseError.invalid(s) }
            var unit = ""
            while let c = u.first, !(c >= 48 && c <= 57), c != UInt8(ascii: ".") { unit.unicodeScalars.append(UnicodeScalar(c)); u = u.dropFirst() }
            let mult: Double
            switch unit {
            case "ns": mult = 1e-9
            case "us", "µs", "μs": mult = 1e-6
            case "ms": mult = 1e-3
            case "s": mult = 1
            case "m": mult = 60
            case "h": mult = 3600
            case "": throw ParseError(description: "time: missing unit in duration \"\(s)\"")
            default: throw ParseError(description: "time: unknown unit \"\(unit)\" in duration \"\(s)\"")
            }
            total += (intPart + frac) * mult
        }
        return neg ? -total : total
    }

    /// Formats seconds as Go prints a time.Duration.
    public static func format(_ seconds: Double) -> String {
        var ns = Int64((seconds * 1e9).rounded())
        if ns == 0 { return "0s" }
        let neg = ns < 0
        if neg { ns = -ns }
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

    static func fraction(_ v: Int64, _ unit: Int64) -> String {
        let whole = v / unit
        var rem = v % unit
        if rem == 0 { return String(whole) }
        var digits = String(rem)
        digits = String(repeating: "0", count: String(unit).count - 1 - digits.count) + digits
        while digits.hasSuffix("0") { digits.removeLast(); rem /= 10 }
        return "\(whole).\(digits)"
    }
}

