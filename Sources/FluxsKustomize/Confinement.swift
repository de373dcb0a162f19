#if canImport(Glibc)
import Glibc
#endif
import FluxsKube

/// The directory a build may read from, as kustomize-controller's secure file system (fluxcd/pkg/kustomize/filesys)
/// confines kustomize to the artifact: every kustomization, resource, base, component, patch, generator source,
/// configuration, CRD, OpenAPI schema and plugin config is read only when its path, with every symlink resolved,
/// is the root or below it. Absolute paths, `..` and symlinks that lead out are errors naming the path.
public struct Confinement: Sendable {
    /// The root with its symlinks resolved.
    public let root: String
    /// How messages name the root ("the artifact", "the Git work tree '/src/repo'").
    public let name: String

    public init(root: String, name: String? = nil) {
        let abs = Files.absolute(root)
        let real = Confinement.realPath(abs) ?? abs
        self.root = real
        self.name = name ?? "'\(real)'"
    }

    /// `path` (absolute) with its symlinks resolved: the deepest part that exists through realpath(3), the rest
    /// appended, so a missing file under a symlinked directory resolves where the symlink points.
    public static func resolve(_ path: String) -> String {
        let abs = Files.absolute(path)
        if let r = realPath(abs) { return r }
        var head = abs, tail: [Substring] = []
        while head != "/" {
            guard let slash = head.lastIndex(of: "/") else { break }
            tail.insert(head[head.index(after: slash)...], at: 0)
            head = slash == head.startIndex ? "/" : String(head[..<slash])
            if let r = realPath(head) {
                return Files.absolute(tail.joined(separator: "/"), relativeTo: r)
            }
        }
        return abs
    }

    public func contains(_ path: String) -> Bool {
        let r = Confinement.resolve(path)
        return root == "/" || r == root || r.hasPrefix(root + "/")
    }

    /// Throws when `path` resolves outside the root. `entry` is the path as the kustomization wrote it.
    public func check(_ path: String, entry: String, what: String = "path") throws {
        let r = Confinement.resolve(path)
        if root == "/" || r == root || r.hasPrefix(root + "/") { return }
        let via = r == Files.absolute(path) ? "" : " (through a symlink)"
        throw KustomizeError("security: \(what) '\(entry)' resolves to '\(r)'\(via), which is not in or below \(name); the build may only read files inside it")
    }

    static func realPath(_ p: String) -> String? {
        guard let r = realpath(p, nil) else { return nil }
        defer { free(r) }
        return String(cString: r)
    }
}

/// kustomize's LoadRestrictionsRootOnly: a file is read only when it is below the kustomization's directory, both
/// with their symlinks resolved (a symlink in the directory that points elsewhere is refused, as kubectl refuses it).
func inOrBelow(_ path: String, _ dir: String) -> Bool {
    guard path.hasPrefix(dir + "/") else { return false }
    let r = Confinement.resolve(path), d = Confinement.resolve(dir)
    return r.hasPrefix(d + "/")
}
