import FluxsKube

/// gzip (RFC 1952) over our DEFLATE: fixed header (no name, mtime 0, OS unknown) so output is reproducible.
public enum Gzip {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public static func compress(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]
        out += Deflater.compress(data)
        let crc = CRC32.checksum(data)
        for v in [crc, UInt32(truncatingIfNeeded: data.count)] {
            for i in 0..<4 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) }
        }
        return out
    }

    /// Decompresses every member of a gzip file and checks each CRC; stops at `deadline` (monotonic, 0: never).
    public static func decompress(_ data: [UInt8], deadline: Double = 0) throws -> [UInt8] {
        try data.withUnsafeBufferPointer { buf in
            var result: [UInt8] = []
            var p = 0
            repeat {
                guard buf.count - p >= 18, buf[p] == 0x1f, buf[p + 1] == 0x8b, buf[p + 2] == 8 else {
                    throw Failure(description: "not a gzip file")
                }
                let flags = buf[p + 3]
                var q = p + 10
                if flags & 4 != 0 { guard q + 2 <= buf.count else { throw Failure(description: "truncated gzip header") }
                    q += 2 + Int(buf[q]) | Int(buf[q + 1]) << 8 }
                if flags & 8 != 0 { while q < buf.count && buf[q] != 0 { q += 1 }; q += 1 }
                if flags & 16 != 0 { while q < buf.count && buf[q] != 0 { q += 1 }; q += 1 }
                if flags & 2 != 0 { q += 2 }
                guard q < buf.count else { throw Failure(description: "truncated gzip header") }
                let body = UnsafeBufferPointer(rebasing: buf[q...])
                let (plain, used): ([UInt8], Int)
                do { (plain, used) = try Inflater.inflate(body, deadline: deadline) } catch let e as Inflater.Failure {
                    if deadline > 0 && monotonicSeconds() > deadline {
                        throw Failure(description: "decompression did not finish in time (\(e.description))")
                    }
                    throw Failure(description: "corrupt gzip data: \(e.description)")
                }
                q += used
                guard q + 8 <= buf.count else { throw Failure(description: "truncated gzip trailer") }
                let crc = UInt32(buf[q]) | UInt32(buf[q + 1]) << 8 | UInt32(buf[q + 2]) << 16 | UInt32(buf[q + 3]) << 24
                if crc != CRC32.checksum(plain) { throw Failure(description: "gzip checksum mismatch") }
                result += plain
                p = q + 8
            } while p < buf.count && buf[p] == 0x1f
            return result
        }
    }
}

enum CRC32 {
    /// Slicing-by-8 tables: tables[0] is the classic byte table, tables[k][n] the CRC of n followed by k zero bytes.
    static let tables: [[UInt32]] = {
        var t = [[UInt32]](repeating: [UInt32](repeating: 0, count: 256), count: 8)
        for n in 0..<256 {
            var c = UInt32(n)
            for _ in 0..<8 { c = c & 1 != 0 ? 0xedb88320 ^ (c >> 1) : c >> 1 }
            t[0][n] = c
        }
        for n in 0..<256 {
            for k in 1..<8 { t[k][n] = (t[k - 1][n] >> 8) ^ t[0][Int(t[k - 1][n] & 0xff)] }
        }
        return t
    }()

    static let flat: [UInt32] = tables.flatMap { $0 }

    static func checksum(_ data: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xffffffff
        data.withUnsafeBufferPointer { b in
            flat.withUnsafeBufferPointer { t in
                var i = 0
                let n = b.count
                while i + 8 <= n {
                    let lo = c ^ (UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24)
                    let hi = UInt32(b[i + 4]) | UInt32(b[i + 5]) << 8 | UInt32(b[i + 6]) << 16 | UInt32(b[i + 7]) << 24
                    c = t[7 * 256 + Int(lo & 0xff)] ^ t[6 * 256 + Int((lo >> 8) & 0xff)]
                        ^ t[5 * 256 + Int((lo >> 16) & 0xff)] ^ t[4 * 256 + Int(lo >> 24)]
                        ^ t[3 * 256 + Int(hi & 0xff)] ^ t[2 * 256 + Int((hi >> 8) & 0xff)]
                        ^ t[1 * 256 + Int((hi >> 16) & 0xff)] ^ t[Int(hi >> 24)]
                    i += 8
                }
                while i < n { c = t[Int((c ^ UInt32(b[i])) & 0xff)] ^ (c >> 8); i += 1 }
            }
        }
        return c ^ 0xffffffff
    }
}
