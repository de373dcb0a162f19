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

    /// The lock file (FileLock) of a mirror, kept apart from the mirrors: `<root>/locks/<mirror name>.lock`.
    public func lockFile(forMirror mirror: String) -> String {
        root + "/locks/" + (mirror.split(separator: "/").last.map(String.init) ?? "mirror") + ".lock"
    }

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

    /// Removes older artifacts of an object as source-controller's garbage collection does with its defaults
    /// (--artifact-retention-records=2, --artifact-retention-ttl=60s): `keep` (the current artifact) stays, and of the
    /// others only the newest, while it is younger than the TTL. A Kustomization that read the previous artifact from
    /// the status a moment before it was replaced (another process) still finds it.
    public func garbageCollect(kind: String, namespace: String, name: String, keep: Set<String>, records: Int = 2, ttl: Double = 60) {
        let dir = root + "/" + artifactPath(kind: kind, namespace: namespace, name: name, file: "")
        var others: [(name: String, mtime: Double)] = []
        for n in Files.list(dir) where n.hasSuffix(".tar.gz") && !keep.contains(n) {
            var st = stat()
            guard stat(dir + n, &st) == 0 else { continue }
            others.append((n, Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9))
        }
        others.sort { $0.mtime > $1.mtime }
        let now = Clock.now()
        for (i, f) in others.enumerated() where i >= records - keep.count || now - f.mtime > ttl {
            unlink(dir + f.name)
        }
    }
}

public struct StorageError: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}

/// An advisory lock (flock(2)) on a file next to what it guards, so two fluxs processes sharing a storage directory
/// (two CI jobs on one runner) do not write one Git mirror at once. The kernel releases it when the process ends,
/// also on SIGKILL, so a killed holder never blocks the next run.
public final class FileLock {
    var fd: Int32

    init(fd: Int32) { self.fd = fd }

    /// Waits for the lock until `deadline` (monotonic seconds), polling; `waiting` is called once when it is held.
    public static func acquire(_ path: String, exclusive: Bool = true, deadline: Double, waiting: () -> Void = {}) throws -> FileLock {
        try Files.makeDirectories(Files.dirname(path), mode: 0o700)
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StorageError("cannot open the lock file \(path): \(String(cString: strerror(errno)))") }
        var told = false
        while flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0 {
            let e = errno
            guard e == EWOULDBLOCK || e == EINTR else {
                close(fd)
                throw StorageError("cannot lock \(path): \(String(cString: strerror(e)))")
            }
            if !told { told = true; waiting() }
            if monotonicSeconds() >= deadline {
                close(fd)
                throw StorageError("timed out waiting for the lock \(path), held by another fluxs process using the same storage")
            }
            sleepSeconds(0.05)
        }
        return FileLock(fd: fd)
    }

    public func unlock() {
        if fd >= 0 { close(fd); fd = -1 }
    }

    deinit { unlock() }
}
