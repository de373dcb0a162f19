/// The subset of tar (POSIX ustar with PAX long names) that Flux artifacts use: directories and regular files.
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

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Writes entries in the given order with uid/gid 0, no owner names and mtime 0.
    public struct Writer {
        public private(set) var bytes: [UInt8] = []
        public init() {}

        public mutating func append(_ e: Entry) {
            let name = e.path
            var (prefix, short) = split(name)
            if short == nil {
                // PAX extended header carrying the path.
                let record = paxRecord("path", name)
                header(name: "././@PaxHeader", prefix: "", size: record.count, mode: 0o644, type: UInt8(ascii: "x"))
                bytes += record
                pad(record.count)
                prefix = ""
                short = String(decoding: name.utf8.suffix(99), as: UTF8.self)
            }
            header(name: short!, prefix: prefix, size: e.kind == .file ? e.data.count : 0, mode: e.mode,
                   type: e.kind == .file ? UInt8(ascii: "0") : UInt8(ascii: "5"))
            if e.kind == .file {
                bytes += e.data
                pad(e.data.count)
            }
        }

        /// Two zero blocks end the archive.
        public mutating func finish() -> [UInt8] {
            bytes += [UInt8](repeating: 0, count: 1024)
            return bytes
        }

        private func split(_ name: String) -> (String, String?) {
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

        private func paxRecord(_ key: String, _ value: String) -> [UInt8] {
            let body = " \(key)=\(value)\n"
            var n = body.utf8.count + 1
            while String(n).utf8.count + body.utf8.count != n { n = String(n).utf8.count + body.utf8.count }
            return Array((String(n) + body).utf8)
        }

        private mutating func pad(_ n: Int) {
            let r = n % 512
            if r != 0 { bytes += [UInt8](repeating: 0, count: 512 - r) }
        }

        private mutating func header(name: String, prefix: String, size: Int, mode: Int, type: UInt8) {
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
            bytes += h
        }
    }

    /// Reads directories, regular files (and PAX/GNU long names); other entries (symlinks, devices) are skipped.
    /// Paths that are absolute or leave the archive root are an error.
    public static func read(_ data: [UInt8]) throws -> [Entry] {
        var entries: [Entry] = []
        var p = 0
        var longName: String?
        func str(_ a: Int, _ n: Int) -> String {
            let s = data[a..<(a + n)]
            let end = s.firstIndex(of: 0) ?? s.endIndex
            return String(decoding: s[s.startIndex..<end], as: UTF8.self)
        }
        func num(_ a: Int, _ n: Int) throws -> Int {
            if data[a] & 0x80 != 0 {
                var v = 0
                for i in (a + 1)..<(a + n) { v = v << 8 | Int(data[i]) }
                return v
            }
            let t = str(a, n).filter { $0 != " " }
            if t.isEmpty { return 0 }
            guard let v = Int(t, radix: 8) else { throw Failure(description: "invalid tar header number '\(t)'") }
            return v
        }
        while p + 512 <= data.count {
            if data[p..<(p + 512)].allSatisfy({ $0 == 0 }) { break }
            let size = try num(p + 124, 12)
            let type = data[p + 156]
            var name = str(p, 100)
            let magic = str(p + 257, 6)
            if magic.hasPrefix("ustar") {
                let prefix = str(p + 345, 155)
                if !prefix.isEmpty { name = prefix + "/" + name }
            }
            let body = p + 512
            guard body + size <= data.count else { throw Failure(description: "truncated tar entry '\(name)'") }
            let content = Array(data[body..<(body + size)])
            p = body + (size + 511) / 512 * 512
            switch type {
            case UInt8(ascii: "x"):
                for line in String(decoding: content, as: UTF8.self).split(separator: "\n") {
                    guard let sp = line.firstIndex(of: " ") else { continue }
                    let kv = line[line.index(after: sp)...]
                    if kv.hasPrefix("path=") { longName = String(kv.dropFirst(5)) }
                }
                continue
            case UInt8(ascii: "L"):
                longName = String(decoding: content.prefix { $0 != 0 }, as: UTF8.self)
                continue
            case UInt8(ascii: "g"):
                continue
            default: break
            }
            if let l = longName { name = l; longName = nil }
            let mode = try num(p - (size + 511) / 512 * 512 - 512 + 100, 8)
            var clean = name
            while clean.hasPrefix("./") { clean.removeFirst(2) }
            if clean.hasSuffix("/") { clean.removeLast() }
            if clean.isEmpty || clean == "." { continue }
            if clean.hasPrefix("/") || clean.split(separator: "/").contains("..") {
                throw Failure(description: "tar entry '\(name)' is outside the archive root")
            }
            switch type {
            case UInt8(ascii: "0"), 0, UInt8(ascii: "7"):
                entries.append(Entry(path: clean, kind: .file, mode: mode, data: content))
            case UInt8(ascii: "5"):
                entries.append(Entry(path: clean, kind: .directory, mode: mode))
            default:
                continue
            }
        }
        return entries
    }
}
