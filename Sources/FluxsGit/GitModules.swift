import FluxsYAML

/// The `.gitmodules` file of a tree: which URL each submodule path comes from.
public struct GitModules: Sendable, Equatable {
    public struct Module: Sendable, Equatable {
        public var name: String
        public var path: String
        public var url: String
    }

    public var modules: [Module]

    /// Parses git-config syntax: `[submodule "name"]` sections with `path` and `url` keys (key names are
    /// case-insensitive, values may be quoted, `#` and `;` start comments). Sections without both keys are skipped.
    public init(_ text: String) {
        var out: [Module] = []
        var current: (name: String, path: String?, url: String?)?
        func flush() {
            if let c = current, let p = c.path, let u = c.url { out.append(Module(name: c.name, path: p, url: u)) }
        }
        for raw in text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }) {
            let line = raw.trimming(" \t\n\r")
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") {
                flush()
                current = nil
                guard let close = line.lastIndex(of: "]") else { continue }
                let header = line[line.index(after: line.startIndex)..<close].trimming(" \t\n\r")
                guard header.lowercased().hasPrefix("submodule"), let q1 = header.firstIndex(of: "\""),
                      let q2 = header.lastIndex(of: "\""), q1 < q2 else { continue }
                current = (String(header[header.index(after: q1)..<q2]), nil, nil)
                continue
            }
            guard current != nil, let eq = line.firstIndex(of: "=") else { continue }
            let key = line[..<eq].trimming(" \t\n\r").lowercased()
            let value = Self.value(line[line.index(after: eq)...])
            if key == "path" { current?.path = value }
            if key == "url" { current?.url = value }
        }
        flush()
        modules = out
    }

    public func module(at path: String) -> Module? {
        modules.last { $0.path.trimmingSuffix("/") == path }
    }

    /// A value without its comment and surrounding quotes.
    static func value(_ s: Substring) -> String {
        var out = ""
        var quoted = false
        var escaped = false
        for c in s {
            if escaped { out.append(c == "n" ? "\n" : c == "t" ? "\t" : c); escaped = false; continue }
            if c == "\\" { escaped = true; continue }
            if c == "\"" { quoted.toggle(); continue }
            if !quoted && (c == "#" || c == ";") { break }
            out.append(c)
        }
        return out.trimming(" \t\n\r")
    }

    /// A submodule URL as git resolves it: `./x` and `../x` are relative to the superproject's URL (each `../`
    /// drops one path component, never the host); anything else is used as it is.
    public static func resolve(_ url: String, relativeTo base: String) -> String {
        guard url.hasPrefix("./") || url.hasPrefix("../") else { return url }
        var b = Substring(base)
        while b.hasSuffix("/") { b = b.dropLast() }
        let prefix: String
        let separator: String
        var path: [Substring]
        if let r = b.firstRange(of: "://") {
            let after = b[r.upperBound...]
            let slash = after.firstIndex(of: "/") ?? after.endIndex
            prefix = String(b[..<slash]); separator = "/"
            path = after[slash...].split(separator: "/")
        } else if let colon = b.firstIndex(of: ":"), !b[..<colon].contains("/") {
            prefix = String(b[...colon]); separator = ""          // scp-like host:path
            path = b[b.index(after: colon)...].split(separator: "/")
        } else {
            prefix = ""; separator = b.hasPrefix("/") ? "/" : ""
            path = b.split(separator: "/")
        }
        var rel = Substring(url)
        while true {
            if rel.hasPrefix("./") { rel = rel.dropFirst(2) }
            else if rel.hasPrefix("../") { rel = rel.dropFirst(3); if !path.isEmpty { path.removeLast() } }
            else { break }
        }
        return prefix + separator + (path + [rel]).joined(separator: "/")
    }
}

extension GitModules {
    /// Why a submodule URL (after `resolve`) must not be fetched, or nil. git refuses local submodules since 2.38.1
    /// (CVE-2022-39253: `protocol.file.allow=user`, a repository's .gitmodules is not the user) and transports
    /// other than http(s), ssh and git (`protocol.allow`); it refuses URLs that start with `-` (CVE-2018-17456).
    /// For fluxs a local submodule would copy a repository of the machine running it into the artifact.
    public static func refusal(_ url: String) -> String? {
        if url.hasPrefix("-") { return "the URL '\(url)' starts with '-'; refused as git refuses it" }
        if let sep = url.firstRange(of: "://") {
            let scheme = url[..<sep.lowerBound].lowercased()
            switch scheme {
            case "http", "https", "ssh", "git", "git+ssh", "ssh+git": return nil
            case "file":
                return "the URL '\(url)' is a local repository (file://); fluxs refuses local submodules, as git does since CVE-2022-39253 (protocol.file.allow=user)"
            default:
                return "the URL '\(url)' uses the transport '\(scheme)'; fluxs fetches submodules over http(s), ssh and git only"
            }
        }
        if url.contains("::") { return "the URL '\(url)' names a remote helper; fluxs fetches submodules over http(s), ssh and git only" }
        // scp-like "[user@]host:path" (a colon before any slash) is SSH; anything else is a path on this machine.
        if let colon = url.firstIndex(of: ":"), !url[..<colon].contains("/"), url[..<colon].count > 1 { return nil }
        return "the URL '\(url)' is a local path; fluxs refuses local submodules, as git does since CVE-2022-39253 (protocol.file.allow=user)"
    }

    /// Whether two Git URLs name the same host and port (scp-like URLs are SSH on port 22).
    public static func sameHost(_ a: String, _ b: String) -> Bool {
        func key(_ u: String) -> String? {
            if let g = GitURL(u) {
                let port = g.port ?? (g.scheme == "https" ? 443 : g.scheme == "http" ? 80 : g.scheme == "git" ? 9418 : 22)
                return "\(g.scheme == "http" || g.scheme == "https" ? g.scheme : "ssh")|\(g.host.lowercased())|\(port)"
            }
            guard let colon = u.firstIndex(of: ":") else { return nil }
            var host = u[..<colon]
            if let at = host.lastIndex(of: "@") { host = host[host.index(after: at)...] }
            return "ssh|\(host.lowercased())|22"
        }
        guard let ka = key(a), let kb = key(b) else { return false }
        return ka == kb
    }
}

extension StringProtocol {
    func trimmingSuffix(_ suffix: String) -> String {
        var s = Substring(self)
        while s.hasSuffix(suffix) { s = s.dropLast(suffix.count) }
        return String(s)
    }
}
