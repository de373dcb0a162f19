/// An OCI artifact or image reference as go-containerregistry's name.ParseReference reads it (flux's artifact
/// commands and source-controller parse URLs with it): `[registry/]repository[:tag]` or `...@sha256:<hex>`.
/// The registry is the first path element when it holds a `.` or `:`, else Docker Hub (`index.docker.io`, with
/// `library/` for one-element names); the tag defaults to `latest`.
public struct OCIReference: Sendable, Equatable {
    public var registry: String
    public var repository: String
    /// The tag (`latest` when none was given), nil for a digest reference.
    public var tag: String?
    /// `sha256:<hex>` for a digest reference.
    public var digest: String?

    public static let defaultRegistry = "index.docker.io"

    public init(registry: String, repository: String, tag: String? = nil, digest: String? = nil) {
        self.registry = registry; self.repository = repository; self.tag = tag; self.digest = digest
    }

    public init(_ s: String) throws {
        if let t = try? Self.tagReference(s) { self = t; return }
        if let d = try? Self.digestReference(s) { self = d; return }
        // name.ParseReference's own message; the specific reason for a digest reference when there is one.
        if s.contains("@") { _ = try Self.digestReference(s) }
        throw RegistryError("could not parse reference: \(s)")
    }

    /// `registry/repository` (go-containerregistry's Repository.Name()).
    public var name: String { "\(registry)/\(repository)" }
    /// The tag or digest the registry API is asked for.
    public var identifier: String { digest ?? tag ?? "latest" }
    /// `registry/repository:tag` or `registry/repository@digest`.
    public var description: String { digest.map { "\(name)@\($0)" } ?? "\(name):\(tag ?? "latest")" }

    public func with(tag: String) -> OCIReference { OCIReference(registry: registry, repository: repository, tag: tag) }
    public func with(digest: String) -> OCIReference { OCIReference(registry: registry, repository: repository, digest: digest) }

    public static let tagChars = "abcdefghijklmnopqrstuvwxyz0123456789_-.ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    static let repositoryChars = "abcdefghijklmnopqrstuvwxyz0123456789_-./"

    /// go-containerregistry's checkElement, with its messages.
    public static func check(_ what: String, _ s: String, _ allowed: String, _ min: Int, _ max: Int) throws {
        let n = s.unicodeScalars.count
        if n < min || n > max { throw RegistryError("\(what) must be between \(min) and \(max) characters in length: \(s)") }
        let set = Set(allowed)
        if !s.allSatisfy({ set.contains($0) }) {
            throw RegistryError("\(what) can only contain the characters `\(allowed)`: \(s)")
        }
    }

    /// name.NewTag: the text after the last `:` is a tag unless it holds a `/` (then the colon was a port).
    static func tagReference(_ s: String) throws -> OCIReference {
        var base = s, tag = ""
        let parts = s.split(separator: ":", omittingEmptySubsequences: false)
        if parts.count > 1, !parts.last!.contains("/") {
            base = parts.dropLast().joined(separator: ":")
            tag = String(parts.last!)
        }
        if !tag.isEmpty { try check("tag", tag, tagChars, 1, 128) }
        var r = try repositoryReference(base)
        r.tag = tag.isEmpty ? "latest" : tag
        return r
    }

    static func digestReference(_ s: String) throws -> OCIReference {
        let parts = s.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            throw RegistryError("a digest must contain exactly one '@' separator (e.g. registry/repository@digest) saw: \(s)")
        }
        let dig = String(parts[1])
        guard dig.hasPrefix("sha256:") else { throw RegistryError("unsupported digest algorithm: \(dig)") }
        let hex = dig.dropFirst(7)
        guard hex.count == 64, hex.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else { throw RegistryError("invalid checksum digest format") }
        var base = String(parts[0])
        if let t = try? tagReference(base) { base = t.name }
        var r = try repositoryReference(base)
        r.digest = dig
        return r
    }

    static func repositoryReference(_ s: String) throws -> OCIReference {
        if s.isEmpty { throw RegistryError("a repository name must be specified") }
        var registry = "", repo = s
        let parts = s.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        if parts.count == 2, parts[0].contains(".") || parts[0].contains(":") {
            registry = String(parts[0]); repo = String(parts[1])
        }
        try check("repository", repo, repositoryChars, 2, 255)
        if registry.isEmpty || registry == "docker.io" { registry = defaultRegistry }
        guard !registry.contains(where: { " /?#@\\".contains($0) }) else { throw RegistryError("registries must be valid RFC 3986 URI authorities: \(registry)") }
        if registry == defaultRegistry && !repo.contains("/") { repo = "library/" + repo }
        return OCIReference(registry: registry, repository: repo)
    }

    /// The scheme go-containerregistry tries second, after https: plain http for insecure, RFC 1918, loopback and
    /// `.localhost` registries (Registry.Scheme()); nil when only https may be used.
    public func plainHTTPFallback(insecure: Bool) -> Bool {
        if insecure { return true }
        let host = registry.hasPrefix("[") ? String(registry.prefix { $0 != "]" }.dropFirst()) : String(registry.split(separator: ":").first ?? "")
        if registry.hasPrefix("localhost:") || registry.contains("127.0.0.1") || registry.contains("::1") { return true }
        if let local = try? Regex(#"\.localhost(:\d{1,5})?$"#), registry.contains(local) { return true }
        let octets = host.split(separator: ".").compactMap { Int($0) }
        if octets.count == 4, host.split(separator: ".").count == 4, octets.allSatisfy({ (0...255).contains($0) }) {
            if octets[0] == 10 || (octets[0] == 172 && (16...31).contains(octets[1])) || (octets[0] == 192 && octets[1] == 168) { return true }
        }
        return false
    }
}

/// `oci://` URLs of flux's artifact commands and OCIRepository objects (fluxcd/pkg/oci's ParseArtifactURL).
public enum OCIURL {
    public static let prefix = "oci://"

    /// The address after `oci://`, checked to be a reference.
    public static func artifact(_ url: String) throws -> (address: String, reference: OCIReference) {
        guard url.hasPrefix(prefix) else { throw RegistryError("URL must be in format 'oci://<domain>/<org>/<repo>'") }
        let address = String(url.dropFirst(prefix.count))
        do { return (address, try OCIReference(address)) } catch let e as RegistryError {
            throw RegistryError("'\(url)' invalid URL: \(e.description)")
        }
    }
}
