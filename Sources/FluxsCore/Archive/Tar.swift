/// The subset of tar (POSIX ustar with PAX long names) that Flux artifacts use: directories and regular files.
/// Artifacts are written as tar.gz in one pass (TarGzWriter) and read entry by entry from the gzip stream, so
/// neither side holds the whole uncompressed archive.
public enum Tar {
    public struct Entry: Sendable {
        public enum Kind: Sendable { case directory, file }
        public var path: String
        public var kind: Kind
        public var mode: Int
        public var data: [UInt8]
        public init(path: String, kind: Kind, mode: Int, data: [UInt8] = []) {
            self.path = path; self.kind = kind; self.mode = mode; self.data = data
        }
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// The most an artifact may hold once extracted: fluxcd/pkg/tar's DefaultMaxUntarSize (100 MiB).
    public static let maxUntarSize = 100 << 20
    /// The most a PAX or GNU long-name header may hold.
    static let maxMetaSize = 1 << 20

    /// The reason a path may not be stored in or read from an artifact, nil when it is safe: empty, absolute,
    /// or with a `..` component (which covers `..` itself and every `../`).
    public static func unsafePathReason(_ path: String) -> String? {
        if path.isEmpty { return "the path is empty" }
        if path.hasPrefix("/") { return "the path is absolute" }
        if path.split(separator: "/", omittingEmptySubsequences: false).contains("..") { return "the path leaves the archive root" }
        return nil
    }

    /// The header blocks (a PAX header first for names ustar cannot hold) of an entry with uid/gid 0, no owner
    /// names and mtime 0.
    static func header(_ e: Entry) -> [UInt8] {
        var out: [UInt8] = []
        var (prefix, short) = split(e.path)
        if short == nil {
            let record = paxRecord("path", e.path)
            out += block(name: "././@PaxHeader", prefix: "", size: record.count, mode: 0o644, type: UInt8(ascii: "x"))
            out += record
            out += padding(record.count)
            prefix = ""
            short = String(decoding: e.path.utf8.suffix(99), as: UTF8.self)
        }
        out += block(name: short!, prefix: prefix, size: e.kind == .file ? e.data.count : 0, mode: e.mode,
                     type: e.kind == .file ? UInt8(ascii: "0") : UInt8(ascii: "5"))
        return out
    }

    static func padding(_ n: Int) -> [UInt8] {
        let r = n % 512
        return r == 0 ? [] : [UInt8](repeating: 0, count: 512 - r)
    }

    private static func split(_ name: String) -> (String, String?) {
        let u = Array(name.utf8)
        if u.count <= 100 { return ("", name) }
        // ustar: prefix (≤155) + "/" + name (≤100)
        var i = u.count - 1
        while i > 0 {
            if u[i] == UInt8(ascii: "/") && i <= 155 && u.count - i - 1 <= 100 && u.count - i - 1 > 0 {
                return (String(decoding: u[..<i], as: UTF8.self), String(decoding: u[(i + 1)...], as: UTF8.self))
            }
            i -= 1
        }
        return ("", nil)
    }

    private static func paxRecord(_ key: String, _ value: String) -> [UInt8] {
        let body = " \(key)=\(value)\n"
        var n = body.utf8.count + 1
        while String(n).utf8.count + body.utf8.count != n { n = String(n).utf8.count + body.utf8.count }
        return Array((String(n) + body).utf8)
    }

    private static func block(name: String, prefix: String, size: Int, mode: Int, type: UInt8) -> [UInt8] {
        var h = [UInt8](repeating: 0, count: 512)
        func put(_ s: [UInt8], _ at: Int, _ len: Int) { for (i, b) in s.prefix(len).enumerated() { h[at + i] = b } }
        func octal(_ v: Int, _ at: Int, _ len: Int) {
            let s = String(v, radix: 8)
            let padded = String(repeating: "0", count: max(0, len - 1 - s.count)) + s
            put(Array(padded.utf8), at, len - 1)
        }
        put(Array(name.utf8), 0, 100)
        octal(mode, 100, 8)
        octal(0, 108, 8)
        octal(0, 116, 8)
        octal(size, 124, 12)
        octal(0, 136, 12)
        for i in 148..<156 { h[i] = 0x20 }
        h[156] = type
        put(Array("ustar\u{0}00".utf8), 257, 8)
        put(Array(prefix.utf8), 345, 155)
        let sum = h.reduce(0) { $0 + Int($1) }
        let s = String(sum, radix: 8)
        put(Array((String(repeating: "0", count: max(0, 6 - s.count)) + s).utf8), 148, 6)
        h[154] = 0
        h[155] = 0x20
        return h
    }

    /// The directories and regular files of a tar.gz (see `forEach`).
    public static func read(gzip bytes: [UInt8], maxSize: Int = maxUntarSize, deadline: Double = 0) throws -> [Entry] {
        var out: [Entry] = []
        try forEach(gzip: bytes, maxSize: maxSize, deadline: deadline) { out.append($0) }
        return out
    }

    /// Calls `body` with each directory and regular file of a tar.gz, in archive order (PAX and GNU long names
    /// read; symlinks, devices and other entries skipped). A path that is absolute or leaves the archive root,
    /// or entries larger than `maxSize` bytes together, are an error; so is still reading at `deadline` (monotonic
    /// seconds, 0: never).
    public static func forEach(gzip bytes: [UInt8], maxSize: Int = maxUntarSize, deadline: Double = 0,
                               _ body: (Entry) throws -> Void) throws {
        let gz = try GzipReader(bytes, deadline: deadline)
        var total = 0
        var longName: String?
        func readExactly(_ n: Int) throws -> [UInt8] {
            var out: [UInt8] = []
            out.reserveCapacity(n)
            while out.count < n {
                if try gz.read(min(n - out.count, 1 << 20), into: &out) == 0 { throw Failure(description: "truncated tar archive") }
            }
            return out
        }
        func skip(_ n: Int) throws {
            var left = n
            while left > 0 {
                var scratch: [UInt8] = []
                let got = try gz.read(min(left, 1 << 16), into: &scratch)
                if got == 0 { throw Failure(description: "truncated tar archive") }
                left -= got
            }
        }
        while true {
            var h: [UInt8] = []
            while h.count < 512 { if try gz.read(512 - h.count, into: &h) == 0 { break } }
            if h.isEmpty { break }   // no end-of-archive blocks: what GNU tar accepts too
            guard h.count == 512 else { throw Failure(description: "truncated tar archive") }
            if h.allSatisfy({ $0 == 0 }) { break }
            func str(_ a: Int, _ n: Int) -> String {
                let s = h[a..<(a + n)]
                let end = s.firstIndex(of: 0) ?? s.endIndex
                return String(decoding: s[s.startIndex..<end], as: UTF8.self)
            }
            func num(_ a: Int, _ n: Int) throws -> Int {
                if h[a] & 0x80 != 0 {
                    var v = 0
                    for i in (a + 1)..<(a + n) {
                        guard v < Int.max >> 8 else { throw Failure(description: "tar header number out of range") }
                        v = v << 8 | Int(h[i])
                    }
                    return v
                }
                let t = str(a, n).filter { $0 != " " }
                if t.isEmpty { return 0 }
                guard let v = Int(t, radix: 8), v >= 0 else { throw Failure(description: "invalid tar header number '\(t)'") }
                return v
            }
            let size = try num(124, 12)
            let type = h[156]
            let mode = try num(100, 8)
            var name = str(0, 100)
            if str(257, 6).hasPrefix("ustar") {
                let prefix = str(345, 155)
                if !prefix.isEmpty { name = prefix + "/" + name }
            }
            let pad = (512 - size % 512) % 512
            switch type {
            case UInt8(ascii: "x"), UInt8(ascii: "L"), UInt8(ascii: "g"):
                guard size <= maxMetaSize else { throw Failure(description: "tar extended header of \(size) bytes is too large") }
                let content = try readExactly(size)
                try skip(pad)
                if type == UInt8(ascii: "x") {
                    for line in String(decoding: content, as: UTF8.self).split(separator: "\n") {
                        guard let sp = line.firstIndex(of: " ") else { continue }
                        let kv = line[line.index(after: sp)...]
                        if kv.hasPrefix("path=") { longName = String(kv.dropFirst(5)) }
                    }
                } else if type == UInt8(ascii: "L") {
                    longName = String(decoding: content.prefix { $0 != 0 }, as: UTF8.self)
                }
                continue
            default: break
            }
            if let l = longName { name = l; longName = nil }
            total += size
            guard total <= maxSize else {
                throw Failure(description: "tar \"\(name)\" is bigger than max archive size of \(maxSize) bytes")
            }
            var clean = name
            while clean.hasPrefix("./") { clean.removeFirst(2) }
            while clean.hasSuffix("/") { clean.removeLast() }
            let isFile = type == UInt8(ascii: "0") || type == 0 || type == UInt8(ascii: "7")
            let isDir = type == UInt8(ascii: "5")
            if clean.isEmpty || clean == "." || !(isFile || isDir) {
                try skip(size + pad)
                continue
            }
            if let why = unsafePathReason(clean) {
                throw Failure(description: "tar entry '\(name)' is refused: \(why)")
            }
            if isFile {
                let data = try readExactly(size)
                try skip(pad)
                try body(Entry(path: clean, kind: .file, mode: mode, data: data))
            } else {
                try skip(size + pad)
                try body(Entry(path: clean, kind: .directory, mode: mode))
            }
        }
    }
}

/// Writes a tar.gz in one pass: each entry's header and data go straight into the compressor. Paths that are
/// absolute or leave the archive root are refused, so no artifact can hold one.
public final class TarGzWriter {
    private let gz: GzipDeflater

    public init() throws { gz = try GzipDeflater() }

    public func append(_ e: Tar.Entry) throws {
        if e.path != ".", let why = Tar.unsafePathReason(e.path) {
            throw Tar.Failure(description: "refusing to store '\(e.path)' in the artifact: \(why)")
        }
        try gz.write(Tar.header(e))
        if e.kind == .file {
            try gz.write(e.data)
            try gz.write(Tar.padding(e.data.count))
        }
    }

    /// Two zero blocks end the archive; returns the tar.gz bytes.
    public func finish() throws -> [UInt8] {
        try gz.write([UInt8](repeating: 0, count: 1024))
        return try gz.finish()
    }
}
