import FluxsKube

/// DEFLATE (RFC 1951) decompressor with table-driven Huffman decoding.
struct Inflater {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// A Huffman decoding table: `fast` maps the next `fastBits` bits to (symbol << 4 | length);
    /// longer codes fall back to canonical decoding.
    struct Table {
        static let fastBits = 9
        var fast: [UInt16]
        var counts: [Int]
        var symbols: [Int]
        var maxLen: Int

        /// A checked table: over-subscribed code lengths are an error.
        init(_ lengths: [Int]) throws {
            var left = 1
            var counts = [Int](repeating: 0, count: 16)
            for l in lengths where l > 0 { counts[l] += 1 }
            for i in 1...15 {
                left <<= 1
                left -= counts[i]
                if left < 0 { throw Failure(description: "invalid Huffman code (over-subscribed)") }
            }
            self.init(valid: lengths)
        }

        /// A table for code lengths known to be valid (the fixed code).
        init(valid lengths: [Int]) {
            maxLen = lengths.max() ?? 0
            counts = [Int](repeating: 0, count: 16)
            for l in lengths where l > 0 { counts[l] += 1 }
            var offs = [Int](repeating: 0, count: 17)
            for i in 1...15 { offs[i + 1] = offs[i] + counts[i] }
            symbols = [Int](repeating: 0, count: lengths.count)
            for (s, l) in lengths.enumerated() where l > 0 { symbols[offs[l]] = s; offs[l] += 1 }
            fast = [UInt16](repeating: 0, count: 1 << Table.fastBits)
            var code = 0, index = 0
            for len in 1...min(15, max(maxLen, 1)) {
                let count = counts[len]
                for k in 0..<count {
                    if len <= Table.fastBits {
                        let c = code + k
                        // reverse `len` bits
                        var r = 0, x = c
                        for _ in 0..<len { r = r << 1 | (x & 1); x >>= 1 }
                        var j = r
                        while j < (1 << Table.fastBits) {
                            fast[j] = UInt16(symbols[index + k] << 4 | len)
                            j += 1 << len
                        }
                    }
                }
                index += count
                code = (code + count) << 1
            }
        }
    }

    var input: UnsafeBufferPointer<UInt8>
    var pos = 0
    var padded = 0
    var bitBuf: UInt64 = 0
    var bitCount = 0
    var out: [UInt8] = []
    /// Monotonic time after which inflating stops (0: never), checked every 64 KiB of output.
    var deadline = 0.0
    var nextCheck = 1 << 16

    init(_ input: UnsafeBufferPointer<UInt8>) { self.input = input }

    mutating func checkDeadline() throws {
        guard deadline > 0, out.count >= nextCheck else { return }
        nextCheck = out.count + (1 << 16)
        if monotonicSeconds() > deadline { throw Failure(description: "out of time after \(out.count) bytes (deadline)") }
    }

    @inline(__always)
    mutating func need(_ n: Int) {
        while bitCount < n {
            var b: UInt64 = 0
            if pos < input.count { b = UInt64(input[pos]); pos += 1 } else { padded += 1 }
            bitBuf |= b << UInt64(bitCount)
            bitCount += 8
        }
    }

    @inline(__always)
    mutating func bits(_ n: Int) throws -> Int {
        if n == 0 { return 0 }
        need(n)
        if padded > 8 { throw Failure(description: "unexpected end of compressed data") }
        let v = Int(bitBuf & ((1 << UInt64(n)) - 1))
        bitBuf >>= UInt64(n)
        bitCount -= n
        return v
    }

    @inline(__always)
    mutating func decode(_ t: Table) throws -> Int {
        need(Table.fastBits)
        let e = Int(t.fast[Int(bitBuf & UInt64((1 << Table.fastBits) - 1))])
        if e != 0 {
            let len = e & 15
            bitBuf >>= UInt64(len); bitCount -= len
            return e >> 4
        }
        // Slow path: canonical decoding bit by bit.
        var code = 0, first = 0, index = 0
        for len in 1...15 {
            code |= try bits(1)
            let count = t.counts[len]
            if code - count < first { return t.symbols[index + (code - first)] }
            index += count
            first += count
            first <<= 1
            code <<= 1
        }
        throw Failure(description: "invalid Huffman code")
    }

    static let fixedLit = Table(valid: (0..<288).map { $0 < 144 ? 8 : $0 < 256 ? 9 : $0 < 280 ? 7 : 8 })
    static let fixedDist = Table(valid: [Int](repeating: 5, count: 30))

    /// Inflates a raw DEFLATE stream; returns the data and the number of input bytes consumed.
    static func inflate(_ data: UnsafeBufferPointer<UInt8>, sizeHint: Int = 0, deadline: Double = 0) throws -> (data: [UInt8], consumed: Int) {
        var s = Inflater(data)
        s.deadline = deadline
        s.out.reserveCapacity(max(sizeHint, data.count * 4))
        var final = false
        while !final {
            final = try s.bits(1) == 1
            switch try s.bits(2) {
            case 0:
                // Stored: drop to a byte boundary.
                let drop = s.bitCount % 8
                _ = try s.bits(drop)
                let len = try s.bits(16), nlen = try s.bits(16)
                if len != (~nlen & 0xffff) { throw Failure(description: "invalid stored block length") }
                for _ in 0..<len { s.out.append(UInt8(try s.bits(8))) }
                try s.checkDeadline()
            case 1:
                try s.block(fixedLit, fixedDist)
            case 2:
                let hlit = try s.bits(5) + 257, hdist = try s.bits(5) + 1, hclen = try s.bits(4) + 4
                var cl = [Int](repeating: 0, count: 19)
                for i in 0..<hclen { cl[Deflater.codeLengthOrder[i]] = try s.bits(3) }
                let clTable = try Table(cl)
                var lens: [Int] = []
                while lens.count < hlit + hdist {
                    let sym = try s.decode(clTable)
                    switch sym {
                    case 0...15: lens.append(sym)
                    case 16:
                        guard let last = lens.last else { throw Failure(description: "invalid code length repeat") }
                        for _ in 0..<(3 + (try s.bits(2))) { lens.append(last) }
                    case 17: for _ in 0..<(3 + (try s.bits(3))) { lens.append(0) }
                    default: for _ in 0..<(11 + (try s.bits(7))) { lens.append(0) }
                    }
                }
                if lens.count > hlit + hdist { throw Failure(description: "invalid code lengths") }
                try s.block(Table(Array(lens[0..<hlit])), Table(Array(lens[hlit...])))
            default:
                throw Failure(description: "invalid block type")
            }
        }
        // Give back whole bytes read ahead.
        let consumed = s.pos + s.padded - s.bitCount / 8
        if consumed > data.count { throw Failure(description: "unexpected end of compressed data") }
        return (s.out, consumed)
    }

    mutating func block(_ lit: Table, _ dist: Table) throws {
        while true {
            let sym = try decode(lit)
            if sym < 256 {
                out.append(UInt8(sym))
            } else if sym == 256 {
                return
            } else {
                let li = sym - 257
                guard li < 29 else { throw Failure(description: "invalid length code") }
                let len = Deflater.lengthBase[li] + (try bits(Deflater.lengthExtra[li]))
                let di = try decode(dist)
                guard di < 30 else { throw Failure(description: "invalid distance code") }
                let d = Deflater.distBase[di] + (try bits(Deflater.distExtra[di]))
                guard d <= out.count else { throw Failure(description: "invalid distance (too far back)") }
                let start = out.count - d
                if d >= len {
                    out.append(contentsOf: out[start..<(start + len)])
                } else {
                    for k in 0..<len { out.append(out[start + k]) }
                }
            }
            if padded > 8 { throw Failure(description: "unexpected end of compressed data") }
            try checkDeadline()
        }
    }
}
