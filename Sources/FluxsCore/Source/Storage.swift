import FluxsAPI
import FluxsKube
#if canImport(Glibc)
import Glibc
#endif

/// Where fluxs keeps artifacts and Git mirrors: `--storage-path`, else $FLUXS_STORAGE_PATH, else
/// $XDG_CACHE_HOME/fluxs/storage (~/.cache/fluxs/storage). Folders 0700, files 0600.
/// Artifacts are laid out as source-controller lays them out (`<kind>/<namespace>/<name>/<file>`).
public struct Storage: Sendable {
    public let root: String

    public init(root: String) { self.root = Files.absolute(root) }

    /// The artifact path relative to the root, as status.artifact.path.
    public func artifactPath(kind: String, namespace: String, name: String, file: String) -> String {
        "\(kind.lowercased())/\(namespace)/\(name)/\(file)"
    }

    public func localPath(_ relative: String) -> String { root + "/" + relative }

    /// status.artifact.url of an artifact fluxs stores: a file URL on this machine.
    public func url(_ relative: String) -> String { "file://" + localPath(relative) }

    /// The bare mirror of a Git URL.
    public func mirror(url: String) -> String { root + "/mirrors/git/" + String(Hashing.sha256Hex(url).prefix(32)) + ".git" }

    /// Writes an artifact atomically; returns its digest (`sha256:<hex>`) and size.
    public func write(_ relative: String, _ bytes: [UInt8]) throws -> (digest: String, size: Int) {
        let path = localPath(relative)
        try Files.makeDirectories(Files.dirname(path), mode: 0o700)
        try Files.writeAtomically(path, bytes, mode: 0o600)
        return ("sha256:" + Hashing.sha256Hex(bytes), bytes.count)
    }

    /// True when the artifact file exists here with the recorded size. (Its digest is checked where it is read.)
    public func has(_ a: Artifact) -> Bool {
        var st = stat()
        guard stat(localPath(a.path), &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return false }
        return a.size.map { Int(st.st_size) == $0 } ?? true
    }

    /// The bytes of an artifact: the local file when its digest matches, else a download from its URL.
    public func fetch(_ a: Artifact, http: (String) throws -> [UInt8]) throws -> [UInt8] {
        if let bytes = try? Files.read(localPath(a.path)), "sha256:" + Hashing.sha256Hex(bytes) == a.digest { return bytes }
        if a.url.hasPrefix("file://") {
            let p = String(a.url.dropFirst(7))
            if let bytes = try? Files.read(p), "sha256:" + Hashing.sha256Hex(bytes) == a.digest { return bytes }
            throw StorageError("artifact '\(a.path)' is not on this machine (it was stored by fluxs elsewhere); reconcile its source here first")
        }
        let bytes = try http(a.url)
        let digest = "sha256:" + Hashing.sha256Hex(bytes)
        guard digest == a.digest else { throw StorageError("artifact '\(a.url)' has digest \(digest), expected \(a.digest)") }
        return bytes
    }

    /// Removes older artifacts of an object, keeping `keep` (file names).
    public func garbageCollect(kind: String, namespace: String, name: String, keep: Set<String>) {
        let dir = root + "/" + artifactPath(kind: kind, namespace: namespace, name: name, file: "")
        guard let d = opendir(dir) else { return }
        defer { closedir(d) }
        while let e = readdir(d) {
            let n = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if n == "." || n == ".." || keep.contains(n) || !n.hasSuffix(".tar.gz") { continue }
            unlink(dir + n)
        }
    }
}

public struct StorageError: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}
