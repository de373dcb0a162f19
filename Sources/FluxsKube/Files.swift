#if canImport(Glibc)
import Glibc
#endif

/// Small file-system helpers on POSIX calls (no Foundation on the start-up path).
public enum Files {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var path: String
        public var errno: Int32
        public var op: String
        public var description: String { "\(op) \(path): \(String(cString: strerror(errno)).lowercased())" }
        public var isNotFound: Bool { errno == ENOENT }
    }

    public static func read(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(path: path, errno: errno, op: "open") }
        defer { close(fd) }
        var out: [UInt8] = []
        var st = stat()
        if fstat(fd, &st) == 0, st.st_size > 0 { out.reserveCapacity(Int(st.st_size)) }
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, 65536) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Failure(path: path, errno: errno, op: "read")
            }
            if n == 0 { break }
            out.append(contentsOf: buf[0..<n])
        }
        return out
    }

    /// A file larger than a reader accepts.
    public struct TooLarge: Error, CustomStringConvertible, Sendable {
        public var path: String
        public var limit: Int
        public var description: String {
            "\(path): the file is larger than the \(limit >> 20) MiB fluxs reads from one manifest file"
        }
    }

    /// At most `limit` bytes: a larger file (or one that grows, a device, a FIFO) is `TooLarge` after reading at
    /// most `limit + 1` bytes, so memory stays bounded whatever the path names.
    public static func read(_ path: String, limit: Int) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw Failure(path: path, errno: errno, op: "open") }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) == 0 {
            if Int(st.st_size) > limit { throw TooLarge(path: path, limit: limit) }
            if (st.st_mode & S_IFMT) != S_IFREG { throw Failure(path: path, errno: EINVAL, op: "read (not a regular file)") }
        }
        var out: [UInt8] = []
        out.reserveCapacity(max(0, min(Int(st.st_size), limit)))
        // A buffer the size of the file (and a byte to see the end), up to 64 KiB: zeroing 64 KiB for each of
        // thousands of small manifests was a measurable part of a large build.
        let size = max(4096, min(65536, Int(st.st_size) + 1))
        var buf = [UInt8](repeating: 0, count: size)
        while true {
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, size) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Failure(path: path, errno: errno, op: "read")
            }
            if n == 0 { break }
            if out.count + n > limit { throw TooLarge(path: path, limit: limit) }
            out.append(contentsOf: buf[0..<n])
        }
        return out
    }

    public static func readText(_ path: String) throws -> String {
        String(decoding: try read(path), as: UTF8.self)
    }

    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// mkdir -p with the given mode for the directories it creates.
    public static func makeDirectories(_ path: String, mode: mode_t = 0o700) throws {
        if path.isEmpty || isDirectory(path) { return }
        let parent = dirname(path)
        if parent != path { try makeDirectories(parent, mode: mode) }
        if mkdir(path, mode) != 0 && errno != EEXIST { throw Failure(path: path, errno: errno, op: "mkdir") }
    }

    /// Writes atomically: a temporary file in the same directory, fsync, rename.
    public static func writeAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o600) throws {
        let dir = dirname(path)
        try makeDirectories(dir)
        let tmp = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw Failure(path: tmp, errno: errno, op: "create") }
        let (ok, e) = writeAll(fd, bytes)
        fchmod(fd, mode)
        if ok { fsync(fd) }
        close(fd)
        guard ok else { unlink(tmp); throw Failure(path: path, errno: e, op: "write") }
        guard rename(tmp, path) == 0 else {
            let e2 = errno
            unlink(tmp)
            throw Failure(path: path, errno: e2, op: "rename")
        }
    }

    /// Writes a file of a scratch directory this process made and removes (an artifact's files for one build): in
    /// place, neither synced nor renamed, since no reader outlives a crash there. A symlink in its place is refused
    /// (O_NOFOLLOW); an existing file is replaced (a later archive entry of the same path wins).
    public static func writeScratch(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o600) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else { throw Failure(path: path, errno: errno, op: "create") }
        let (ok, e) = writeAll(fd, bytes)
        fchmod(fd, mode)
        close(fd)
        guard ok else { throw Failure(path: path, errno: e, op: "write") }
    }

    /// Writes all of `bytes` to `fd` (EINTR retried); false and the errno when a write failed.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> (Bool, Int32) {
        var ok = true
        var e: Int32 = 0
        bytes.withUnsafeBytes { raw in
            var off = 0
            while off < raw.count {
                let n = write(fd, raw.baseAddress! + off, raw.count - off)
                if n < 0 { if errno == EINTR { continue }; ok = false; e = errno; break }
                off += n
            }
        }
        return (ok, e)
    }

    public static func remove(_ path: String) { unlink(path) }

    /// Removes a directory and everything below it (symlinks are removed, not followed).
    public static func removeTree(_ path: String) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            for name in list(path) { removeTree(path + "/" + name) }
            rmdir(path)
        } else {
            unlink(path)
        }
    }

    /// Names in a directory (without . and ..); empty when it cannot be read.
    public static func list(_ dir: String) -> [String] {
        guard let d = opendir(dir) else { return [] }
        defer { closedir(d) }
        var out: [String] = []
        while let e = readdir(d) {
            let n = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if n != "." && n != ".." { out.append(n) }
        }
        return out
    }

    /// Names in a directory (without . and ..); an error when it cannot be read.
    public static func entries(_ dir: String) throws -> [String] {
        guard let d = opendir(dir) else { throw Failure(path: dir, errno: errno, op: "open") }
        closedir(d)
        return list(dir)
    }

    public static func dirname(_ path: String) -> String {
        guard let i = path.lastIndex(of: "/") else { return "." }
        if i == path.startIndex { return "/" }
        return String(path[..<i])
    }

    public static func join(_ a: String, _ b: String) -> String {
        if b.hasPrefix("/") || a.isEmpty { return b }
        return a.hasSuffix("/") ? a + b : a + "/" + b
    }

    public static func homeDirectory() -> String {
        if let h = getenv("HOME") { return String(cString: h) }
        if let pw = getpwuid(getuid()), let d = pw.pointee.pw_dir { return String(cString: d) }
        return "/"
    }

    public static func currentDirectory() -> String {
        var buf = [CChar](repeating: 0, count: 4096)
        guard getcwd(&buf, 4096) != nil else { return "." }
        return String(cString: buf)
    }

    /// An absolute, lexically cleaned path.
    public static func absolute(_ path: String, relativeTo base: String? = nil) -> String {
        let full = path.hasPrefix("/") ? path : join(base ?? currentDirectory(), path)
        // An ASCII path is cleaned on its bytes (splitting on Characters cost ~30 k instructions a path; a kustomize
        // build cleans several per file). Other paths take the Character split below (a combining mark after a
        // slash is one Character with it there).
        let bytes = full.utf8
        if let clean = bytes.withContiguousStorageIfAvailable(Files.cleanASCII), let clean { return clean }
        var parts: [Substring] = []
        for p in full.split(separator: "/") {
            if p == "." || p.isEmpty { continue }
            if p == ".." { if !parts.isEmpty { parts.removeLast() }; continue }
            parts.append(p)
        }
        return "/" + parts.joined(separator: "/")
    }

    /// `absolute`'s cleaning of a path of ASCII bytes ("." and empty components dropped, ".." drops the one before);
    /// nil when a byte is not ASCII.
    static func cleanASCII(_ buf: UnsafeBufferPointer<UInt8>) -> String? {
        let slash = UInt8(ascii: "/"), dot = UInt8(ascii: ".")
        var out: [UInt8] = []
        out.reserveCapacity(buf.count + 1)
        var i = 0
        let n = buf.count
        while i < n {
            if buf[i] == slash { i += 1; continue }
            var j = i
            while j < n && buf[j] != slash {
                if buf[j] >= 0x80 { return nil }
                j += 1
            }
            if j - i == 1 && buf[i] == dot {
            } else if j - i == 2 && buf[i] == dot && buf[i + 1] == dot {
                if let k = out.lastIndex(of: slash) { out.removeSubrange(k...) }
            } else {
                out.append(slash)
                out.append(contentsOf: buf[i..<j])
            }
            i = j
        }
        return out.isEmpty ? "/" : String(decoding: out, as: UTF8.self)
    }

    public static func env(_ name: String) -> String? {
        guard let v = getenv(name) else { return nil }
        return String(cString: v)
    }
}
