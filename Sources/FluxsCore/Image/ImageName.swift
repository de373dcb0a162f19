import FluxsAPI
import FluxsKube
import FluxsYAML

/// An image repository reference as image-reflector-controller (go-containerregistry) reads it: a registry host and a
/// repository path; Docker Hub names get `index.docker.io` and `library/`.
struct ImageName {
    var registry: String
    var repository: String

    init(registry: String, repository: String) { self.registry = registry; self.repository = repository }

    init(_ image: String) throws {
        var s = Substring(image)
        if let at = s.firstIndex(of: "@") { s = s[..<at] }
        let parts = s.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard !s.isEmpty, !parts.contains(where: \.isEmpty) else { throw ImageError("invalid image name '\(image)'") }
        if parts.count > 1, parts[0].contains(".") || parts[0].contains(":") || parts[0] == "localhost" {
            registry = parts[0] == "docker.io" ? "index.docker.io" : parts[0]
            repository = parts.dropFirst().joined(separator: "/")
        } else {
            registry = "index.docker.io"
            repository = parts.count == 1 ? "library/" + parts[0] : parts.joined(separator: "/")
        }
        // A tag is not part of an ImageRepository's image.
        if let colon = repository.lastIndex(of: ":") { repository = String(repository[..<colon]) }
        guard repository.allSatisfy({ $0.isLowercase || $0.isNumber || "._-/".contains($0) }) else {
            throw ImageError("invalid image name '\(image)': repository names are lowercase")
        }
    }

    var canonical: String { "\(registry)/\(repository)" }

    /// go-containerregistry talks plain HTTP to loopback registries, and to any registry when insecure is allowed.
    func scheme(insecure: Bool) -> String {
        let host = registry.split(separator: ":").first.map(String.init) ?? registry
        return insecure || host == "localhost" || host == "127.0.0.1" || host == "::1" || host.hasSuffix(".localhost") ? "http" : "https"
    }
}

typealias ImageError = RegistryError

extension RegistryClient {
    /// The client of an ImageRepository's image.
    convenience init(name: ImageName, insecure: Bool, timeout: Double) {
        self.init(registry: name.registry, repository: name.repository, insecure: insecure, timeout: timeout)
    }

    var name: ImageName { ImageName(registry: registry, repository: repository) }

    /// The digest of a tag's manifest (what image-reflector-controller reflects).
    func digest(tag: String) throws -> String { try digest(tag) }
}
