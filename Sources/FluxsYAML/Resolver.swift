/// Scalar typing and number formatting as the Go YAML/JSON libraries behind
/// kubectl and kustomize do it:
/// - reading: gopkg.in/yaml.v3 rules (YAML 1.2 core plus a few 1.1 number forms;
///   `yes`/`on`/`y` stay strings);
/// - writing: gopkg.in/yaml.v2 rules (YAML 1.1 booleans, so `yes`, `on`, `y`
///   are quoted when they are strings), after a trip through encoding/json.
public enum Resolver {
    // MARK: resolving plain scalars

    /// The type of a plain (unquoted, untagged) scalar. `yaml11` selects the
    /// yaml.v2 table (y/yes/on/off... are booleans).
    public static func resolve(plain s: String, yaml11: Bool = false) -> ScalarTag {
        guard let first = s.utf8.first else { return .null }
        // Every keyword below is at most 5 bytes, and only '.', digits and signs start the numeric forms: most
        // strings (names, images, label values) are decided here without comparing or copying them.
        let short = s.utf8.count <= 5
        let numeric = first == UInt8(ascii: ".") || first == UInt8(ascii: "+") || first == UInt8(ascii: "-")
            || (first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9"))
        if !short && !numeric { return .string }
        // The keywords start with one of these (`~`, true/false, null, and yaml.v2's y/yes/on/off/n/no).
        if !numeric {
            switch first {
            case UInt8(ascii: "t"), UInt8(ascii: "T"), UInt8(ascii: "f"), UInt8(ascii: "F"), UInt8(ascii: "~"),
                 UInt8(ascii: "n"), UInt8(ascii: "N"), UInt8(ascii: "y"), UInt8(ascii: "Y"), UInt8(ascii: "o"), UInt8(ascii: "O"):
                break
            default: return .string
            }
        }
        switch s {
        case "true", "True", "TRUE", "false", "False", "FALSE": return .bool
        case "~", "null", "Null", "NULL": return .null
        case ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF":
            return .float
        default: break
        }
        if yaml11 {
            switch s {
            case "y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "n", "N", "no", "No", "NO", "off", "Off", "OFF":
                return .bool
            default: break
            }
        }
        guard numeric else { return .string }
        let u = Array(s.utf8)
        switch first {
        case UInt8(ascii: "."):
            return isDotFloat(u) ? .float : .string
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "-"):
            if isTimestamp(u) { return .timestamp }
            let plain = s.replacingAll("_", with: "")
            if parseGoInt(plain) != nil || parseGoUInt(plain) != nil { return .int }
            if isYAMLStyleFloat(Array(plain.utf8)) { return .float }
            if isBinaryInt(plain) { return .int }
            return .string
        default:
            return .string
        }
    }

    /// yaml.v2 refuses to write strings that look like sexagesimal floats plain.
    public static func isBase60Float(_ s: String) -> Bool {
        // ^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$
        guard let c = s.utf8.first, c == UInt8(ascii: "+") || c == UInt8(ascii: "-") || isDigit(c) else { return false }
        let u = Array(s.utf8)
        var i = 0
        if i < u.count, u[i] == UInt8(ascii: "+") || u[i] == UInt8(ascii: "-") { i += 1 }
        guard i < u.count, isDigit(u[i]) else { return false }
        i += 1
        while i < u.count, isDigit(u[i]) || u[i] == UInt8(ascii: "_") { i += 1 }
        var groups = 0
        while i < u.count, u[i] == UInt8(ascii: ":") {
            i += 1
            if i + 1 < u.count, isDigit(u[i]), isDigit(u[i + 1]) {
                guard u[i] <= UInt8(ascii: "5") else { return false }
                i += 2
            } else if i < u.count, isDigit(u[i]) {
                i += 1
            } else {
                return false
            }
            groups += 1
        }
        guard groups > 0 else { return false }
        if i < u.count, u[i] == UInt8(ascii: ".") {
            i += 1
            while i < u.count, isDigit(u[i]) || u[i] == UInt8(ascii: "_") { i += 1 }
        }
        return i == u.count
    }

    @inline(__always) static func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }

    static func isDotFloat(_ u: [UInt8]) -> Bool {
        // Go's ParseFloat on a string that starts with '.': .5, .5e3
        var i = 1
        var digits = 0
        while i < u.count, isDigit(u[i]) { i += 1; digits += 1 }
        guard digits > 0 else { return false }
        if i == u.count { return true }
        guard u[i] == UInt8(ascii: "e") || u[i] == UInt8(ascii: "E") else { return false }
        i += 1
        if i < u.count, u[i] == UInt8(ascii: "+") || u[i] == UInt8(ascii: "-") { i += 1 }
        var ed = 0
        while i < u.count, isDigit(u[i]) { i += 1; ed += 1 }
        return ed > 0 && i == u.count
    }

    /// ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$
    static func isYAMLStyleFloat(_ u: [UInt8]) -> Bool {
        var i = 0
        if i < u.count, u[i] == UInt8(ascii: "+") || u[i] == UInt8(ascii: "-") { i += 1 }
        if i < u.count, u[i] == UInt8(ascii: ".") {
            i += 1
            var d = 0
            while i < u.count, isDigit(u[i]) { i += 1; d += 1 }
            if d == 0 { return false }
        } else {
            var d = 0
            while i < u.count, isDigit(u[i]) { i += 1; d += 1 }
            if d == 0 { return false }
            if i < u.count, u[i] == UInt8(ascii: ".") {
                i += 1
                while i < u.count, isDigit(u[i]) { i += 1 }
            }
        }
        if i < u.count, u[i] == UInt8(ascii: "e") || u[i] == UInt8(ascii: "E") {
            i += 1
            if i < u.count, u[i] == UInt8(ascii: "+") || u[i] == UInt8(ascii: "-") { i += 1 }
            var d = 0
            while i < u.count, isDigit(u[i]) { i += 1; d += 1 }
            if d == 0 { return false }
        }
        return i == u.count
    }

    static func isBinaryInt(_ s: String) -> Bool {
        var t = Substring(s)
        if t.hasPrefix("-") { t = t.dropFirst() }
        guard t.hasPrefix("0b"), t.count > 2 else { return false }
        return t.dropFirst(2).allSatisfy { $0 == "0" || $0 == "1" }
    }

    /// Go's time.Parse for the layouts yaml accepts: 2006-1-2, 2006-1-2T15:4:5.999999999Z07:00,
    /// 2006-1-2t15:4:5..., 2006-1-2 15:4:5.999999999.
    static func isTimestamp(_ u: [UInt8]) -> Bool { parseTimestamp(u) != nil }

    struct Timestamp { var y, mo, d, h, mi, s: Int; var frac: String; var zone: String? }

    static func parseTimestamp(_ u: [UInt8]) -> Timestamp? {
        var i = 0
        func num(_ minD: Int, _ maxD: Int) -> Int? {
            var v = 0, n = 0
            while i < u.count, isDigit(u[i]), n < maxD { v = v * 10 + Int(u[i] - 48); i += 1; n += 1 }
            return n >= minD ? v : nil
        }
        func lit(_ c: Character) -> Bool {
            if i < u.count, u[i] == c.asciiValue! { i += 1; return true }
            return false
        }
        guard u.count >= 8, let y = num(4, 4), lit("-"), let mo = num(1, 2), lit("-"), let d = num(1, 2) else { return nil }
        guard (1...12).contains(mo), d >= 1, d <= daysIn(mo, y) else { return nil }
        if i == u.count { return Timestamp(y: y, mo: mo, d: d, h: 0, mi: 0, s: 0, frac: "", zone: "Z") }
        let sep = u[i]
        guard sep == UInt8(ascii: "T") || sep == UInt8(ascii: "t") || sep == UInt8(ascii: " ") else { return nil }
        i += 1
        guard let h = num(1, 2), lit(":"), let mi = num(1, 2), lit(":"), let s = num(1, 2) else { return nil }
        guard h < 24, mi < 60, s < 60 else { return nil }
        var frac = ""
        if i < u.count, u[i] == UInt8(ascii: ".") {
            i += 1
            let st = i
            while i < u.count, isDigit(u[i]) { i += 1 }
            guard i > st, i - st <= 9 else { return nil }
            frac = String(decoding: u[st..<i], as: UTF8.self)
        }
        if sep == UInt8(ascii: " ") {
            return i == u.count ? Timestamp(y: y, mo: mo, d: d, h: h, mi: mi, s: s, frac: frac, zone: "Z") : nil
        }
        if lit("Z") { return i == u.count ? Timestamp(y: y, mo: mo, d: d, h: h, mi: mi, s: s, frac: frac, zone: "Z") : nil }
        guard i < u.count, u[i] == UInt8(ascii: "+") || u[i] == UInt8(ascii: "-") else { return nil }
        let zs = i
        i += 1
        guard num(2, 2) != nil, lit(":"), num(2, 2) != nil, i == u.count else { return nil }
        return Timestamp(y: y, mo: mo, d: d, h: h, mi: mi, s: s, frac: frac, zone: String(decoding: u[zs...], as: UTF8.self))
    }

    static func daysIn(_ m: Int, _ y: Int) -> Int {
        switch m {
        case 2: return (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// A YAML timestamp as encoding/json writes a time.Time (RFC 3339 with nanoseconds trimmed).
    public static func timestampRFC3339(_ s: String) -> String {
        guard let t = parseTimestamp(Array(s.utf8)) else { return s }
        func p2(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        var frac = t.frac
        while frac.hasSuffix("0") { frac.removeLast() }
        let yStr = String(repeating: "0", count: max(0, 4 - String(t.y).count)) + String(t.y)
        return "\(yStr)-\(p2(t.mo))-\(p2(t.d))T\(p2(t.h)):\(p2(t.mi)):\(p2(t.s))" + (frac.isEmpty ? "" : "." + frac) + (t.zone ?? "Z")
    }

    // MARK: Go's strconv.ParseInt / ParseUint with base 0

    public static func parseGoInt(_ s: String) -> Int64? {
        var t = Substring(s)
        var neg = false
        if t.hasPrefix("+") { t = t.dropFirst() } else if t.hasPrefix("-") { neg = true; t = t.dropFirst() }
        guard let mag = parseMagnitude(t) else { return nil }
        if neg {
            if mag == UInt64(Int64.max) + 1 { return Int64.min }
            return mag <= UInt64(Int64.max) ? -Int64(mag) : nil
        }
        return mag <= UInt64(Int64.max) ? Int64(mag) : nil
    }

    public static func parseGoUInt(_ s: String) -> UInt64? {
        if s.hasPrefix("+") || s.hasPrefix("-") { return nil }
        return parseMagnitude(Substring(s))
    }

    static func parseMagnitude(_ t: Substring) -> UInt64? {
        var body = t
        var radix = 10
        if body.count > 1, body.first == "0" {
            let second = body[body.index(after: body.startIndex)]
            switch second {
            case "x", "X": radix = 16; body = body.dropFirst(2)
            case "o", "O": radix = 8; body = body.dropFirst(2)
            case "b", "B": radix = 2; body = body.dropFirst(2)
            default: radix = 8; body = body.dropFirst()
            }
        }
        guard !body.isEmpty else { return nil }
        return UInt64(body, radix: radix)
    }

    public static func parseFloat(_ s: String) -> Double? {
        switch s {
        case ".nan", ".NaN", ".NAN": return .nan
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .infinity
        case "-.inf", "-.Inf", "-.INF": return -.infinity
        default: return Double(s.replacingAll("_", with: ""))
        }
    }

    // MARK: Go float formatting

    /// Shortest decimal digits of d and the decimal-point position: d = 0.DIGITS × 10^dp.
    static func shortestDigits(_ d: Double) -> (digits: [UInt8], dp: Int) {
        let desc = abs(d).description  // Swift prints the shortest round-trip representation
        var mant = Substring(desc)
        var exp = 0
        if let e = desc.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mant = desc[desc.startIndex..<e]
            exp = Int(desc[desc.index(after: e)...]) ?? 0
        }
        var digits: [UInt8] = []
        var dp = 0
        var seenPoint = false
        for c in mant.utf8 {
            if c == UInt8(ascii: ".") { seenPoint = true; continue }
            digits.append(c)
            if !seenPoint { dp += 1 }
        }
        // strip leading zeros
        while digits.first == UInt8(ascii: "0"), digits.count > 1 { digits.removeFirst(); dp -= 1 }
        while digits.last == UInt8(ascii: "0"), digits.count > 1 { digits.removeLast() }
        if digits == [UInt8(ascii: "0")] { return (digits, 1) }
        return (digits, dp + exp)
    }

    static func fmtF(_ neg: Bool, _ digits: [UInt8], _ dp: Int) -> String {
        var out = neg ? "-" : ""
        if dp <= 0 {
            out += "0." + String(repeating: "0", count: -dp) + String(decoding: digits, as: UTF8.self)
        } else if dp >= digits.count {
            out += String(decoding: digits, as: UTF8.self) + String(repeating: "0", count: dp - digits.count)
        } else {
            out += String(decoding: digits[0..<dp], as: UTF8.self) + "." + String(decoding: digits[dp...], as: UTF8.self)
        }
        return out
    }

    static func fmtE(_ neg: Bool, _ digits: [UInt8], _ dp: Int, minExpDigits: Int) -> String {
        var out = neg ? "-" : ""
        out += String(UnicodeScalar(digits[0]))
        if digits.count > 1 { out += "." + String(decoding: digits[1...], as: UTF8.self) }
        let e = dp - 1
        out += e < 0 ? "e-" : "e+"
        let es = String(abs(e))
        out += String(repeating: "0", count: max(0, minExpDigits - es.count)) + es
        return out
    }

    /// strconv.FormatFloat(d, 'g', -1, 64) as yaml.v2 writes floats.
    public static func goFormatFloat(_ d: Double) -> String {
        if d.isNaN { return ".nan" }
        if d.isInfinite { return d < 0 ? "-.inf" : ".inf" }
        if d == 0 { return d.sign == .minus ? "-0" : "0" }
        let (digits, dp) = shortestDigits(d)
        let exp = dp - 1
        // Go: for the shortest representation %e is used when exp < -4 || exp >= 6.
        if exp < -4 || exp >= 6 { return fmtE(d < 0, digits, dp, minExpDigits: 2) }
        return fmtF(d < 0, digits, dp)
    }

    /// strconv.FormatFloat(d, 'f', -1, 64): the shortest round-trip digits, never an exponent.
    public static func goFormatFloatFixed(_ d: Double) -> String {
        if d.isNaN { return "NaN" }
        if d.isInfinite { return d < 0 ? "-Inf" : "+Inf" }
        if d == 0 { return d.sign == .minus ? "-0" : "0" }
        let (digits, dp) = shortestDigits(d)
        return fmtF(d < 0, digits, dp)
    }

    /// encoding/json's float64 format.
    public static func goJSONFloat(_ d: Double) -> String {
        if d == 0 { return d.sign == .minus ? "-0" : "0" }
        let (digits, dp) = shortestDigits(d)
        let a = abs(d)
        if a < 1e-6 || a >= 1e21 {
            return fmtE(d < 0, digits, dp, minExpDigits: 1)
        }
        return fmtF(d < 0, digits, dp)
    }

    // MARK: yaml.v2 key order

    /// The order yaml.v2 sorts mapping keys in (letters by code point, digit runs by value).
    public static func goKeyLess(_ a: String, _ b: String) -> Bool {
        if a == b { return false }
        // ASCII keys (nearly all) are compared on their bytes in place; the scalar arrays below cost two allocations.
        var a = a, b = b
        if let r = a.withUTF8({ ab in b.withUTF8 { bb in asciiKeyLess(ab, bb) } }) { return r }
        let ar = Array(a.unicodeScalars), br = Array(b.unicodeScalars)
        var i = 0
        while i < ar.count && i < br.count {
            if ar[i] == br[i] { i += 1; continue }
            let al = isLetter(ar[i]), bl = isLetter(br[i])
            if al && bl { return ar[i].value < br[i].value }
            if al || bl { return bl }
            var an: Int64 = 0, bn: Int64 = 0
            if ar[i] == "0" || br[i] == "0" {
                var j = i - 1
                while j >= 0 && isDecimal(ar[j]) {
                    if ar[j] != "0" { an = 1; bn = 1; break }
                    j -= 1
                }
            }
            var ai = i, bi = i
            while ai < ar.count && isDecimal(ar[ai]) { an = an &* 10 &+ Int64(ar[ai].value) - 48; ai += 1 }
            while bi < br.count && isDecimal(br[bi]) { bn = bn &* 10 &+ Int64(br[bi].value) - 48; bi += 1 }
            if an != bn { return an < bn }
            if ai != bi { return ai < bi }
            return ar[i].value < br[i].value
        }
        return ar.count < br.count
    }

    /// Whether `keys` are in goKeyLess order already (each key before the next): a mapping read from a file
    /// written by kubectl or kustomize is, and needs no sort.
    public static func goKeysSorted(_ keys: [String]) -> Bool {
        var i = 1
        while i < keys.count {
            if !goKeyLess(keys[i - 1], keys[i]) { return false }
            i += 1
        }
        return true
    }

    /// goKeyLess on two ASCII strings' bytes; nil when either has a non-ASCII byte (letters and digits beyond
    /// ASCII need the Unicode categories).
    static func asciiKeyLess(_ ar: UnsafeBufferPointer<UInt8>, _ br: UnsafeBufferPointer<UInt8>) -> Bool? {
        for c in ar where c >= 0x80 { return nil }
        for c in br where c >= 0x80 { return nil }
        @inline(__always) func letter(_ c: UInt8) -> Bool { (c >= 65 && c <= 90) || (c >= 97 && c <= 122) }
        @inline(__always) func digit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }
        var i = 0
        while i < ar.count && i < br.count {
            if ar[i] == br[i] { i += 1; continue }
            let al = letter(ar[i]), bl = letter(br[i])
            if al && bl { return ar[i] < br[i] }
            if al || bl { return bl }
            var an: Int64 = 0, bn: Int64 = 0
            if ar[i] == 48 || br[i] == 48 {
                var j = i - 1
                while j >= 0 && digit(ar[j]) {
                    if ar[j] != 48 { an = 1; bn = 1; break }
                    j -= 1
                }
            }
            var ai = i, bi = i
            while ai < ar.count && digit(ar[ai]) { an = an &* 10 &+ Int64(ar[ai]) - 48; ai += 1 }
            while bi < br.count && digit(br[bi]) { bn = bn &* 10 &+ Int64(br[bi]) - 48; bi += 1 }
            if an != bn { return an < bn }
            if ai != bi { return ai < bi }
            return ar[i] < br[i]
        }
        return ar.count < br.count
    }

    @inline(__always) static func isLetter(_ u: Unicode.Scalar) -> Bool {
        if u.isASCII { let v = u.value; return (v >= 65 && v <= 90) || (v >= 97 && v <= 122) }
        switch u.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    @inline(__always) static func isDecimal(_ u: Unicode.Scalar) -> Bool {
        if u.isASCII { return u.value >= 48 && u.value <= 57 }
        return u.properties.generalCategory == .decimalNumber
    }
}

extension String {
    /// Replace every occurrence of a substring (FoundationEssentials-free).
    public func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty, self.contains(target) else { return self }
        var out = ""
        var rest = self[...]
        while let r = rest.range(of: target) {
            out += rest[rest.startIndex..<r.lowerBound]
            out += replacement
            rest = rest[r.upperBound...]
        }
        out += rest
        return out
    }
}

extension Substring {
    func range(of target: String) -> Range<Substring.Index>? {
        let t = Array(target.utf8)
        guard let f = t.first else { return nil }
        let u = self.utf8
        var i = u.startIndex
        while i != u.endIndex {
            if u[i] == f {
                var j = i, k = 0
                while k < t.count, j != u.endIndex, u[j] == t[k] { j = u.index(after: j); k += 1 }
                if k == t.count { return i..<j }
            }
            i = u.index(after: i)
        }
        return nil
    }
}

extension StringProtocol {
    /// The text without the given characters at either end (no Foundation needed). Compared by Unicode scalar, so
    /// "\r\n" (one Character) goes when "\r" and "\n" are in `characters`, in whatever order they are written.
    public func trimming(_ characters: String) -> String {
        let set = Set(characters.unicodeScalars)
        func trimmed(_ c: Character) -> Bool { c.unicodeScalars.allSatisfy(set.contains) }
        var s = Substring(self)
        while let f = s.first, trimmed(f) { s = s.dropFirst() }
        while let l = s.last, trimmed(l) { s = s.dropLast() }
        return String(s)
    }
}
