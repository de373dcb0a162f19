/// Semantic versions and constraints as Flux reads them (Masterminds semver v3): tags like `v1.2.3`, `1.2`,
/// ranges like `>=1.0.0 <2.0.0`, `~1.2`, `^0.3`, `1.2.x`, `1.2 - 1.4`, `a || b`.
public struct SemVer: Comparable, Sendable, CustomStringConvertible {
    public var major: UInt64, minor: UInt64, patch: UInt64
    public var prerelease: [String]
    public var metadata: String
    public let original: String

    public init?(_ s: String) {
        original = s
        var t = Substring(s)
        if t.hasPrefix("v") { t = t.dropFirst() }
        if let plus = t.firstIndex(of: "+") {
            metadata = String(t[t.index(after: plus)...])
            guard !metadata.isEmpty, metadata.split(separator: ".", omittingEmptySubsequences: false).allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" } }) else { return nil }
            t = t[..<plus]
        } else { metadata = "" }
        if let dash = t.firstIndex(of: "-") {
            let pre = t[t.index(after: dash)...]
            prerelease = pre.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard prerelease.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") } }) else { return nil }
            // numeric identifiers must not have leading zeros
            guard prerelease.allSatisfy({ !($0.count > 1 && $0.hasPrefix("0") && $0.allSatisfy(\.isNumber)) }) else { return nil }
            t = t[..<dash]
        } else { prerelease = [] }
        let nums = t.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...3).contains(nums.count) else { return nil }
        var v: [UInt64] = []
        for n in nums {
            guard !n.isEmpty, n.allSatisfy({ $0.isASCII && $0.isNumber }), let x = UInt64(n) else { return nil }
            if n.count > 1 && n.hasPrefix("0") { return nil }
            v.append(x)
        }
        while v.count < 3 { v.append(0) }
        (major, minor, patch) = (v[0], v[1], v[2])
    }

    init(_ major: UInt64, _ minor: UInt64, _ patch: UInt64, pre: [String] = []) {
        self.major = major; self.minor = minor; self.patch = patch
        prerelease = pre; metadata = ""
        original = "\(major).\(minor).\(patch)" + (pre.isEmpty ? "" : "-" + pre.joined(separator: "."))
    }

    public var description: String {
        "\(major).\(minor).\(patch)" + (prerelease.isEmpty ? "" : "-" + prerelease.joined(separator: "."))
            + (metadata.isEmpty ? "" : "+" + metadata)
    }

    public static func == (a: SemVer, b: SemVer) -> Bool { compare(a, b) == 0 }
    public static func < (a: SemVer, b: SemVer) -> Bool { compare(a, b) < 0 }

    static func compare(_ a: SemVer, _ b: SemVer) -> Int {
        for (x, y) in [(a.major, b.major), (a.minor, b.minor), (a.patch, b.patch)] where x != y { return x < y ? -1 : 1 }
        switch (a.prerelease.isEmpty, b.prerelease.isEmpty) {
        case (true, true): return 0
        case (true, false): return 1
        case (false, true): return -1
        default: break
        }
        for (x, y) in zip(a.prerelease, b.prerelease) where x != y {
            let xn = x.allSatisfy(\.isNumber) ? UInt64(x) : nil, yn = y.allSatisfy(\.isNumber) ? UInt64(y) : nil
            switch (xn, yn) {
            case let (p?, q?): return p < q ? -1 : 1
            case (.some, nil): return -1
            case (nil, .some): return 1
            default: return x < y ? -1 : 1
            }
        }
        return a.prerelease.count == b.prerelease.count ? 0 : (a.prerelease.count < b.prerelease.count ? -1 : 1)
    }
}

public struct SemVerConstraint: Sendable, CustomStringConvertible {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    struct Term: Sendable {
        enum Op: Sendable { case eq, ne, gt, lt, ge, le, tilde, caret }
        var op: Op
        var version: SemVer
        /// How many of major/minor/patch were given as numbers (the rest are wildcards).
        var given: Int
        var hasPre: Bool { !version.prerelease.isEmpty }
    }

    let groups: [[Term]]
    public let description: String

    public init(_ text: String) throws {
        description = text
        var gs: [[Term]] = []
        for alt in text.split(separator: "||", omittingEmptySubsequences: false) {
            var terms: [Term] = []
            // Hyphen ranges first: "a - b".
            var tokens = alt.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" }).map(String.init)
            // join operators separated from versions: ">= 1.2" → ">=1.2"
            var joined: [String] = []
            var i = 0
            while i < tokens.count {
                if ["=", "!=", ">", "<", ">=", "<=", "=>", "=<", "~", "~>", "^"].contains(tokens[i]), i + 1 < tokens.count {
                    joined.append(tokens[i] + tokens[i + 1]); i += 2
                } else { joined.append(tokens[i]); i += 1 }
            }
            tokens = joined
            i = 0
            while i < tokens.count {
                if i + 2 < tokens.count && tokens[i + 1] == "-" {
                    terms.append(try Self.term(">=" + tokens[i]))
                    terms.append(try Self.term("<=" + tokens[i + 2]))
                    i += 3
                } else {
                    terms.append(try Self.term(tokens[i])); i += 1
                }
            }
            if terms.isEmpty { throw Failure(description: "improper constraint: \(text)") }
            gs.append(terms)
        }
        groups = gs
    }

    static func term(_ s: String) throws -> Term {
        let ops: [(String, Term.Op)] = [("!=", .ne), (">=", .ge), ("=>", .ge), ("<=", .le), ("=<", .le), ("~>", .tilde),
                                        (">", .gt), ("<", .lt), ("=", .eq), ("~", .tilde), ("^", .caret)]
        var op = Term.Op.eq
        var rest = Substring(s)
        for (p, o) in ops where rest.hasPrefix(p) { op = o; rest = rest.dropFirst(p.count); break }
        if rest.hasPrefix("v") { rest = rest.dropFirst() }
        // Wildcards: x, X, * in any position; missing parts count as wildcards too.
        var core = rest, suffix = Substring("")
        if let d = rest.firstIndex(where: { $0 == "-" || $0 == "+" }) { core = rest[..<d]; suffix = rest[d...] }
        let parts = core.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...3).contains(parts.count) else { throw Failure(description: "improper constraint: \(s)") }
        var nums: [String] = []
        for p in parts {
            if p == "x" || p == "X" || p == "*" { break }
            nums.append(String(p))
        }
        let given = nums.count
        while nums.count < 3 { nums.append("0") }
        guard let v = SemVer(nums.joined(separator: ".") + (given == 3 ? suffix : "")) else {
            throw Failure(description: "improper constraint: \(s)")
        }
        return Term(op: op, version: v, given: given)
    }

    public func check(_ v: SemVer) -> Bool {
        groups.contains { $0.allSatisfy { Self.holds($0, v) } }
    }

    static func holds(_ t: Term, _ v: SemVer) -> Bool {
        if !v.prerelease.isEmpty && !t.hasPre { return false }
        let c = t.version
        // Upper bound for wildcard/tilde/caret forms.
        func bumped(_ level: Int) -> SemVer {
            switch level {
            case 0: return SemVer(c.major + 1, 0, 0)
            case 1: return SemVer(c.major, c.minor + 1, 0)
            default: return SemVer(c.major, c.minor, c.patch + 1)
            }
        }
        switch t.op {
        case .eq, .ne:
            let inRange: Bool
            if t.given == 0 { inRange = true }
            else if t.given < 3 { inRange = v >= SemVer(c.major, c.minor, 0, pre: []) && v < bumped(t.given - 1) && (t.given > 1 || v.major == c.major) }
            else { inRange = SemVer.compare(v, c) == 0 }
            return t.op == .eq ? inRange : !inRange
        case .gt:
            if t.given == 0 { return false }
            if t.given < 3 { return v >= bumped(t.given - 1) }
            return v > c
        case .ge:
            return v >= c
        case .lt:
            return v < c
        case .le:
            if t.given == 0 { return true }
            if t.given < 3 { return v < bumped(t.given - 1) }
            return v <= c
        case .tilde:
            if t.given == 0 { return true }
            return v >= c && v < (t.given == 1 ? bumped(0) : bumped(1))
        case .caret:
            if t.given == 0 { return true }
            if c.major > 0 || t.given == 1 { return v >= c && v < bumped(0) }
            if c.minor > 0 || t.given == 2 { return v >= c && v < bumped(1) }
            return v >= c && v < bumped(2)
        }
    }

    /// The highest of `candidates` that satisfies the constraint.
    public func best<T>(_ candidates: [T], version: (T) -> String) -> T? {
        var best: (T, SemVer)?
        for c in candidates {
            guard let v = SemVer(version(c)), check(v) else { continue }
            if best == nil || v > best!.1 { best = (c, v) }
        }
        return best?.0
    }
}
