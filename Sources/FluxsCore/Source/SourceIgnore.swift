import FluxsYAML

/// .sourceignore rules with the semantics Flux uses (go-git's gitignore matcher):
/// patterns are scoped to the directory of the file that holds them, the last matching pattern wins,
/// and a pattern without a slash matches any path component.
public struct IgnorePattern: Sendable {
    var domain: [String]
    var parts: [String]
    var negated: Bool
    var dirOnly: Bool
    var isGlob: Bool

    public init(_ line: String, domain: [String] = []) {
        var p = Substring(line)
        negated = p.hasPrefix("!")
        if negated { p = p.dropFirst() }
        if !p.hasSuffix("\\ ") { while p.last == " " { p = p.dropLast() } }
        dirOnly = p.hasSuffix("/")
        if dirOnly { p = p.dropLast() }
        isGlob = p.contains("/")
        parts = p.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        self.domain = domain
    }

    enum Result { case none, exclude, include }

    func match(_ path: [String], isDir: Bool) -> Result {
        guard path.count > domain.count else { return .none }
        for (i, d) in domain.enumerated() where path[i] != d { return .none }
        let rel = Array(path[domain.count...])
        let ok = isGlob ? globMatch(rel, isDir) : nameMatch(rel, isDir)
        return ok ? (negated ? .include : .exclude) : .none
    }

    private func nameMatch(_ path: [String], _ isDir: Bool) -> Bool {
        for (i, name) in path.enumerated() where fnmatch(parts[0], name) {
            if dirOnly && !isDir && i == path.count - 1 { return false }
            return true
        }
        return false
    }

    private func globMatch(_ path0: [String], _ isDir: Bool) -> Bool {
        var path = path0[...]
        var matched = false, canTraverse = false
        for (i, pat) in parts.enumerated() {
            if pat.isEmpty { canTraverse = false; continue }
            if pat == "**" {
                if i == parts.count - 1 { break }
                canTraverse = true
                continue
            }
            if pat.contains("**") { return false }
            if path.isEmpty { return false }
            if canTraverse {
                canTraverse = false
                while let e = path.first {
                    path = path.dropFirst()
                    if fnmatch(pat, e) { matched = true; break }
                    if path.isEmpty { matched = false }
                }
            } else {
                if !fnmatch(pat, path.first!) { return false }
                matched = true
                path = path.dropFirst()
            }
        }
        if matched && dirOnly && !isDir && path.isEmpty { matched = false }
        return matched
    }
}

/// Go's path.Match for one path component: `*`, `?`, `[...]` with `^` negation and ranges, `\` escapes.
func fnmatch(_ pattern: String, _ name: String) -> Bool {
    // Most patterns are literal names or "*.ext": answer those without building scalar arrays (go compares bytes).
    func isSpecial(_ b: UInt8) -> Bool { b == UInt8(ascii: "*") || b == UInt8(ascii: "?") || b == UInt8(ascii: "[") || b == UInt8(ascii: "\\") }
    let pu = pattern.utf8
    if !pu.contains(where: isSpecial) { return pu.elementsEqual(name.utf8) }
    if pu.first == UInt8(ascii: "*"), !pu.dropFirst().contains(where: isSpecial), !name.utf8.contains(UInt8(ascii: "/")) {
        let suffix = pu.dropFirst()
        return name.utf8.count >= suffix.count && name.utf8.suffix(suffix.count).elementsEqual(suffix)
    }
    let p = Array(pattern.unicodeScalars), s = Array(name.unicodeScalars)
    func m(_ pi: Int, _ si: Int) -> Bool {
        var pi = pi, si = si
        while pi < p.count {
            switch p[pi] {
            case "*":
                while pi < p.count && p[pi] == "*" { pi += 1 }
                if pi == p.count { return !s[si...].contains("/") }
                var k = si
                while k <= s.count {
                    if m(pi, k) { return true }
                    if k < s.count && s[k] == "/" { return false }
                    k += 1
                }
                return false
            case "?":
                if si >= s.count || s[si] == "/" { return false }
                pi += 1; si += 1
            case "[":
                if si >= s.count { return false }
                var j = pi + 1
                var negate = false
                if j < p.count && p[j] == "^" { negate = true; j += 1 }
                var ok = false, first = true
                while j < p.count && (p[j] != "]" || first) {
                    first = false
                    var lo = p[j]
                    if lo == "\\" && j + 1 < p.count { j += 1; lo = p[j] }
                    var hi = lo
                    if j + 2 < p.count && p[j + 1] == "-" && p[j + 2] != "]" {
                        hi = p[j + 2]
                        if hi == "\\" && j + 3 < p.count { hi = p[j + 3]; j += 1 }
                        j += 2
                    }
                    if lo.value <= s[si].value && s[si].value <= hi.value { ok = true }
                    j += 1
                }
                if j >= p.count { return false }   // malformed: Go reports ErrBadPattern, which never matches
                if ok == negate { return false }
                pi = j + 1; si += 1
            case "\\":
                pi += 1
                if pi >= p.count || si >= s.count || p[pi] != s[si] { return false }
                pi += 1; si += 1
            default:
                if si >= s.count || p[pi] != s[si] { return false }
                pi += 1; si += 1
            }
        }
        return si == s.count
    }
    return m(0, 0)
}

public struct SourceIgnore: Sendable {
    public static let excludeVCS = ".git/,.gitignore,.gitmodules,.gitattributes"
    public static let excludeExt = "*.jpg,*.jpeg,*.gif,*.png,*.wmv,*.flv,*.tar.gz,*.zip"
    public static let excludeCI = ".github/,.circleci/,.travis.yml,.gitlab-ci.yml,appveyor.yml,.drone.yml,cloudbuild.yaml,codeship-services.yml,codeship-steps.yml"
    public static let excludeExtra = "**/.goreleaser.yml,**/.sops.yaml,**/.flux.yaml"

    var patterns: [IgnorePattern]

    /// Patterns read from ignore-file text (comments and blank lines skipped).
    public static func read(_ text: String, domain: [String] = []) -> [IgnorePattern] {
        text.split(separator: "\n", omittingEmptySubsequences: false).compactMap { raw in
            var line = Substring(raw)
            if line.hasSuffix("\r") { line = line.dropLast() }
            if line.hasPrefix("#") || line.trimming(" \t").isEmpty { return nil }
            return IgnorePattern(String(line), domain: domain)
        }
    }

    static func list(_ csv: String) -> [IgnorePattern] { csv.split(separator: ",").map { IgnorePattern(String($0)) } }

    /// The artifact filter of source-controller: VCS files always; the default exclusions only when no
    /// user pattern exists (from .sourceignore files or spec.ignore).
    public init(userPatterns: [IgnorePattern]) {
        if userPatterns.isEmpty {
            patterns = SourceIgnore.list(SourceIgnore.excludeVCS) + SourceIgnore.list([SourceIgnore.excludeExt, SourceIgnore.excludeCI, SourceIgnore.excludeExtra].joined(separator: ","))
        } else {
            patterns = SourceIgnore.list(SourceIgnore.excludeVCS) + userPatterns
        }
    }

    /// A matcher over exactly these patterns (no defaults).
    public init(only: [IgnorePattern]) { patterns = only }

    /// Whether `path` (relative, slash-separated) is excluded.
    public func ignores(_ path: String, isDir: Bool) -> Bool {
        let parts = path.split(separator: "/").map(String.init)
        for p in patterns.reversed() {
            switch p.match(parts, isDir: isDir) {
            case .exclude: return true
            case .include: return false
            case .none: continue
            }
        }
        return false
    }
}

