internal import CZlib
import FluxsKube

/// gzip (RFC 1952) through zlib. Artifacts are reproducible: a fixed level and a fixed header (no name, no time,
/// OS "unknown", as Go's gzip writes it), so the same input gives the same bytes with the same zlib.
public enum Gzip {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// The compression level of artifacts (zlib's default, as Go's gzip.DefaultCompression).
    static let level: Int32 = 6

    public static func compress(_ data: [UInt8]) throws -> [UInt8] {
        let d = try GzipDeflater()
        try d.write(data)
        return try d.finish()
    }

    /// Decompresses every member of a gzip file (checking each CRC and length); more than `limit` bytes of
    /// output is an error, and so is still running at `deadline` (monotonic seconds, 0: never).
    public static func decompress(_ data: [UInt8], limit: Int = Int.max, deadline: Double = 0) throws -> [UInt8] {
        let r = try GzipReader(data, deadline: deadline)
        var out: [UInt8] = []
        while try r.read(65536, into: &out) > 0 {
            if out.count > limit { throw Failure(description: "gzip data is larger than \(limit) bytes") }
        }
        return out
    }
}

/// One zlib deflate stream producing gzip; owns the z_stream and its header, freed in deinit.
final class GzipDeflater {
    private let stream: UnsafeMutablePointer<z_stream>
    private let header: UnsafeMutablePointer<gz_header>
    private var live = false
    private var chunk = [UInt8](repeating: 0, count: 65536)
    private(set) var output: [UInt8] = []

    init(level: Int32 = Gzip.level) throws {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        header = .allocate(capacity: 1)
        header.initialize(to: gz_header())
        header.pointee.os = 255
        // windowBits 15 + 16: a gzip wrapper; memLevel 8 and the default strategy, as zlib's deflateInit.
        let rc = deflateInit2_(stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, zlibVersion(),
                               Int32(MemoryLayout<z_stream>.size))
        guard rc == Z_OK else { throw Gzip.Failure(description: "cannot start zlib's compressor (code \(rc))") }
        live = true
        guard deflateSetHeader(stream, header) == Z_OK else { throw Gzip.Failure(description: "cannot set the gzip header") }
    }

    deinit {
        if live { deflateEnd(stream) }
        stream.deallocate()
        header.deallocate()
    }

    func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBufferPointer { try write(UnsafeRawBufferPointer($0)) }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let n = min(bytes.count - offset, 1 << 30)   // avail_in is 32 bits
            try pump(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)]), flush: Z_NO_FLUSH)
            offset += n
        }
    }

    /// Ends the stream and returns everything written.
    func finish() throws -> [UInt8] {
        try pump(UnsafeRawBufferPointer(start: nil, count: 0), flush: Z_FINISH)
        return output
    }

    private func pump(_ input: UnsafeRawBufferPointer, flush: Int32) throws {
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = UInt32(input.count)
        var done = false
        while !done {
            try chunk.withUnsafeMutableBufferPointer { out in
                stream.pointee.next_out = out.baseAddress
                stream.pointee.avail_out = UInt32(out.count)
                let rc = deflate(stream, flush)
                guard rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR else {
                    throw Gzip.Failure(description: "zlib compression failed (code \(rc))")
                }
                let produced = out.count - Int(stream.pointee.avail_out)
                output.append(contentsOf: UnsafeBufferPointer(rebasing: out[0..<produced]))
                done = flush == Z_FINISH ? rc == Z_STREAM_END : stream.pointee.avail_out != 0
            }
        }
        stream.pointee.next_in = nil
    }
}

/// Reads the decompressed bytes of a gzip file in pieces (several members are read as one stream, as gzip and
/// Go's reader do); owns its z_stream and a copy of the input, freed in deinit.
final class GzipReader {
    private let stream: UnsafeMutablePointer<z_stream>
    private let input: UnsafeMutableBufferPointer<UInt8>
    private let scratch: UnsafeMutableBufferPointer<UInt8> = .allocate(capacity: 65536)
    private var live = false
    private var ended = false
    private var produced = 0

    /// Monotonic time after which reading stops (0: never), checked every 64 KiB of output.
    private let deadline: Double

    init(_ bytes: [UInt8], deadline: Double = 0) throws {
        self.deadline = deadline
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        input = .allocate(capacity: max(bytes.count, 1))
        _ = input.initialize(from: bytes)
        // windowBits 15 + 16: gzip only.
        let rc = inflateInit2_(stream, 15 + 16, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard rc == Z_OK else { throw Gzip.Failure(description: "cannot start zlib's decompressor (code \(rc))") }
        live = true
        guard bytes.count >= 2, bytes[0] == 0x1f, bytes[1] == 0x8b else { throw Gzip.Failure(description: "not a gzip file") }
        stream.pointee.next_in = input.baseAddress
        stream.pointee.avail_in = UInt32(clamping: bytes.count)
        remaining = bytes.count - Int(stream.pointee.avail_in)
    }

    /// Input not yet handed to zlib (inputs over 4 GiB are fed in pieces).
    private var remaining = 0

    deinit {
        if live { inflateEnd(stream) }
        stream.deallocate()
        input.deallocate()
        scratch.deallocate()
    }

    /// Appends up to `count` bytes to `out`; returns how many (0 at the end of the data).
    func read(_ count: Int, into out: inout [UInt8]) throws -> Int {
        var filled = 0
        while filled < count && !ended {
            if deadline > 0 && monotonicSeconds() > deadline {
                throw Gzip.Failure(description: "decompression did not finish in time (stopped after \(produced) bytes)")
            }
            let want = min(count - filled, scratch.count)
            stream.pointee.next_out = scratch.baseAddress
            stream.pointee.avail_out = UInt32(want)
            let rc = inflate(stream, Z_NO_FLUSH)
            let got = want - Int(stream.pointee.avail_out)
            out.append(contentsOf: UnsafeBufferPointer(rebasing: scratch[0..<got]))
            filled += got
            produced += got
            switch rc {
            case Z_OK:
                break
            case Z_STREAM_END:
                try nextMember()
            case Z_BUF_ERROR:
                if stream.pointee.avail_in == 0 && remaining == 0 { throw Gzip.Failure(description: "truncated gzip data") }
            case Z_DATA_ERROR:
                let msg = stream.pointee.msg.map { String(cString: $0) } ?? "invalid data"
                throw Gzip.Failure(description: "corrupt gzip data: \(msg)")
            case Z_MEM_ERROR:
                throw Gzip.Failure(description: "out of memory while decompressing")
            default:
                throw Gzip.Failure(description: "zlib decompression failed (code \(rc))")
            }
            if stream.pointee.avail_in == 0 && remaining > 0 { refill() }
        }
        return filled
    }

    private func refill() {
        let used = input.count - remaining
        stream.pointee.next_in = input.baseAddress! + used
        stream.pointee.avail_in = UInt32(clamping: remaining)
        remaining -= Int(stream.pointee.avail_in)
    }

    /// After a member: the end, or the next member (anything else after a member is an error, as in Go).
    private func nextMember() throws {
        if stream.pointee.avail_in == 0 && remaining > 0 { refill() }
        if stream.pointee.avail_in == 0 { ended = true; return }
        let p = stream.pointee.next_in!
        guard stream.pointee.avail_in >= 2, p[0] == 0x1f, p[1] == 0x8b else {
            throw Gzip.Failure(description: "invalid data after the end of the gzip stream")
        }
        guard inflateReset(stream) == Z_OK else { throw Gzip.Failure(description: "cannot read the next gzip member") }
    }
}
