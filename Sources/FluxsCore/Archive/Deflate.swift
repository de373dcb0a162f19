/// DEFLATE (RFC 1951) compressor: LZ77 over a 32 KiB window with hash chains, and a dynamic Huffman code per block.
/// Deterministic: the same input always gives the same output.
struct Deflater {
    static let windowSize = 32768
    static let minMatch = 3, maxMatch = 258
    static let hashBits = 15
    static let maxChain = 16
    static let blockSymbols = 1 << 15

    static let lengthBase: [Int] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
    static let lengthExtra: [Int] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    static let distBase: [Int] = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073,
                                  4097, 6145, 8193, 12289, 16385, 24577]
    static let distExtra: [Int] = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]
    static let codeLengthOrder: [Int] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]

    /// Length (3...258) → length code index (0...28).
    static let lengthCode: [UInt8] = {
        var t = [UInt8](repeating: 0, count: 259)
        for code in 0..<29 {
            let n = 1 << lengthExtra[code]
            for l in lengthBase[code]..<min(259, lengthBase[code] + n) { t[l] = UInt8(code) }
        }
        t[258] = 28
        return t
    }()

    static func distCode(_ d: Int) -> Int {
        // d in 1...32768
        if d <= 4 { return d - 1 }
        var hi = 31 - (UInt32(d - 1)).leadingZeroBitCount   // floor(log2(d-1))
        hi = hi * 2 + ((d - 1) >> (hi - 1) & 1)
        return hi
    }

    /// Compresses `input` into a raw DEFLATE stream.
    static func compress(_ input: [UInt8]) -> [UInt8] {
        var out = BitWriter()
        out.bytes.reserveCapacity(input.count / 3 + 64)
        if input.isEmpty {
            out.write(1, 1); out.write(1, 2)     // final block, fixed Huffman
            out.write(0, 7)                      // end of block (code 256 = 7 zero bits)
            out.flush()
            return out.bytes
        }
        // Symbols: literal (0...255), or length/distance pairs packed as (length << 16 | distance).
        var symbols = [UInt32]()
        symbols.reserveCapacity(blockSymbols + 2)
        var head = [Int32](repeating: -1, count: 1 << hashBits)
        var prev = [Int32](repeating: -1, count: windowSize)
        let n = input.count
        input.withUnsafeBufferPointer { buf in
            let p = buf.baseAddress!
            @inline(__always) func hash(_ i: Int) -> Int {
                let v = UInt32(p[i]) << 16 | UInt32(p[i + 1]) << 8 | UInt32(p[i + 2])
                return Int((v &* 2654435761) >> (32 - UInt32(hashBits)))
            }
            @inline(__always) func insert(_ i: Int) {
                let h = hash(i)
                prev[i & (windowSize - 1)] = head[h]
                head[h] = Int32(i)
            }
            var i = 0
            while i < n {
                var bestLen = 0, bestDist = 0
                if i + minMatch <= n {
                    let h = hash(i)
                    var cand = Int(head[h])
                    var chain = maxChain
                    let limit = min(maxMatch, n - i)
                    while cand >= 0 && i - cand <= windowSize && chain > 0 {
                        if p[cand + bestLen] == p[i + bestLen] || bestLen == 0 {
                            var l = 0
                            while l < limit && p[cand + l] == p[i + l] { l += 1 }
                            if l > bestLen {
                                bestLen = l; bestDist = i - cand
                                if l == limit { break }
                            }
                        }
                        let next = Int(prev[cand & (windowSize - 1)])
                        if next >= cand { break }
                        cand = next
                        chain -= 1
                    }
                    prev[i & (windowSize - 1)] = head[h]
                    head[h] = Int32(i)
                }
                if bestLen >= minMatch {
                    symbols.append(UInt32(bestLen) << 16 | UInt32(bestDist))
                    let end = i + bestLen
                    i += 1
                    // Insert the matched positions (all of them for short matches, a few for long ones).
                    let stop = min(end, n - minMatch + 1)
                    if bestLen <= 32 {
                        while i < stop { insert(i); i += 1 }
                    }
                    i = end
                } else {
                    symbols.append(UInt32(p[i]))
                    i += 1
                }
                if symbols.count >= blockSymbols {
                    writeBlock(symbols, final: false, to: &out)
                    symbols.removeAll(keepingCapacity: true)
                }
            }
        }
        writeBlock(symbols, final: true, to: &out)
        out.flush()
        return out.bytes
    }

    static func writeBlock(_ symbols: [UInt32], final: Bool, to out: inout BitWriter) {
        var litFreq = [Int](repeating: 0, count: 286)
        var distFreq = [Int](repeating: 0, count: 30)
        for s in symbols {
            if s < 256 { litFreq[Int(s)] += 1 } else {
                litFreq[257 + Int(lengthCode[Int(s >> 16)])] += 1
                distFreq[distCode(Int(s & 0xffff))] += 1
            }
        }
        litFreq[256] = 1
        var litLens = Huffman.lengths(litFreq, limit: 15)
        var distLens = Huffman.lengths(distFreq, limit: 15)
        if distLens.allSatisfy({ $0 == 0 }) { distLens[0] = 1 }
        var hlit = 286
        while hlit > 257 && litLens[hlit - 1] == 0 { hlit -= 1 }
        var hdist = 30
        while hdist > 1 && distLens[hdist - 1] == 0 { hdist -= 1 }
        litLens = Array(litLens[0..<hlit]); distLens = Array(distLens[0..<hdist])

        // Run-length encode the code lengths (symbols 16, 17, 18).
        let all = litLens + distLens
        var rle: [(Int, Int)] = []   // (symbol, extra value)
        var k = 0
        while k < all.count {
            let v = all[k]
            var run = 1
            while k + run < all.count && all[k + run] == v { run += 1 }
            if v == 0 && run >= 3 {
                var r = run
                while r >= 11 { let t = min(r, 138); rle.append((18, t - 11)); r -= t }
                if r >= 3 { rle.append((17, r - 3)); r = 0 }
                for _ in 0..<r { rle.append((0, 0)) }
            } else if v != 0 && run >= 4 {
                rle.append((v, 0))
                var r = run - 1
                while r >= 3 { let t = min(r, 6); rle.append((16, t - 3)); r -= t }
                for _ in 0..<r { rle.append((v, 0)) }
            } else {
                for _ in 0..<run { rle.append((v, 0)) }
            }
            k += run
        }
        var clFreq = [Int](repeating: 0, count: 19)
        for (s, _) in rle { clFreq[s] += 1 }
        let clLens = Huffman.lengths(clFreq, limit: 7)
        var hclen = 19
        while hclen > 4 && clLens[codeLengthOrder[hclen - 1]] == 0 { hclen -= 1 }

        let litCodes = Huffman.codes(litLens), distCodes = Huffman.codes(distLens), clCodes = Huffman.codes(clLens)
        out.write(final ? 1 : 0, 1)
        out.write(2, 2)
        out.write(UInt32(hlit - 257), 5)
        out.write(UInt32(hdist - 1), 5)
        out.write(UInt32(hclen - 4), 4)
        for i in 0..<hclen { out.write(UInt32(clLens[codeLengthOrder[i]]), 3) }
        for (s, extra) in rle {
            out.write(clCodes[s], clLens[s])
            switch s {
            case 16: out.write(UInt32(extra), 2)
            case 17: out.write(UInt32(extra), 3)
            case 18: out.write(UInt32(extra), 7)
            default: break
            }
        }
        for s in symbols {
            if s < 256 {
                out.write(litCodes[Int(s)], litLens[Int(s)])
            } else {
                let len = Int(s >> 16), dist = Int(s & 0xffff)
                let lc = Int(lengthCode[len])
                out.write(litCodes[257 + lc], litLens[257 + lc])
                if lengthExtra[lc] > 0 { out.write(UInt32(len - lengthBase[lc]), lengthExtra[lc]) }
                let dc = distCode(dist)
                out.write(distCodes[dc], distLens[dc])
                if distExtra[dc] > 0 { out.write(UInt32(dist - distBase[dc]), distExtra[dc]) }
            }
        }
        out.write(litCodes[256], litLens[256])
    }
}

/// Canonical Huffman code construction.
enum Huffman {
    /// Code lengths for the frequencies, no longer than `limit`. Symbols with frequency 0 get length 0.
    static func lengths(_ freq: [Int], limit: Int) -> [Int] {
        var f = freq
        while true {
            let lens = unlimited(f)
            if (lens.max() ?? 0) <= limit { return lens }
            // Flatten the distribution and try again.
            f = f.map { $0 == 0 ? 0 : ($0 + 1) / 2 }
        }
    }

    private static func unlimited(_ freq: [Int]) -> [Int] {
        var lens = [Int](repeating: 0, count: freq.count)
        let used = freq.indices.filter { freq[$0] > 0 }
        if used.isEmpty { return lens }
        if used.count == 1 { lens[used[0]] = 1; return lens }
        // Nodes: leaves 0..<n, internal nodes after. Deterministic tie-break by index.
        var weight = used.map { freq[$0] }
        var parent = [Int](repeating: -1, count: used.count * 2)
        var heap = Array(0..<used.count)
        func less(_ a: Int, _ b: Int) -> Bool { weight[a] != weight[b] ? weight[a] < weight[b] : a < b }
        func siftDown(_ i0: Int) {
            var i = i0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < heap.count && less(heap[l], heap[m]) { m = l }
                if r < heap.count && less(heap[r], heap[m]) { m = r }
                if m == i { return }
                heap.swapAt(i, m); i = m
            }
        }
        func siftUp(_ i0: Int) {
            var i = i0
            while i > 0 {
                let p = (i - 1) / 2
                if less(heap[i], heap[p]) { heap.swapAt(i, p); i = p } else { return }
            }
        }
        for i in stride(from: heap.count / 2 - 1, through: 0, by: -1) { siftDown(i) }
        func pop() -> Int {
            let top = heap[0]
            heap[0] = heap[heap.count - 1]
            heap.removeLast()
            if !heap.isEmpty { siftDown(0) }
            return top
        }
        while heap.count > 1 {
            let a = pop(), b = pop()
            let node = weight.count
            weight.append(weight[a] + weight[b])
            parent[a] = node; parent[b] = node
            heap.append(node); siftUp(heap.count - 1)
        }
        for (leaf, sym) in used.enumerated() {
            var d = 0, x = leaf
            while parent[x] >= 0 { x = parent[x]; d += 1 }
            lens[sym] = d
        }
        return lens
    }

    /// Canonical codes, bit-reversed for LSB-first output.
    static func codes(_ lens: [Int]) -> [UInt32] {
        let maxLen = lens.max() ?? 0
        var count = [Int](repeating: 0, count: maxLen + 1)
        for l in lens where l > 0 { count[l] += 1 }
        var next = [Int](repeating: 0, count: maxLen + 2)
        var code = 0
        if maxLen > 0 {
            for bits in 1...maxLen {
                code = (code + count[bits - 1]) << 1
                next[bits] = code
            }
        }
        var out = [UInt32](repeating: 0, count: lens.count)
        for (s, l) in lens.enumerated() where l > 0 {
            var c = next[l]; next[l] += 1
            var r: UInt32 = 0
            for _ in 0..<l { r = r << 1 | UInt32(c & 1); c >>= 1 }
            out[s] = r
        }
        return out
    }
}

/// Writes bits least significant first, as DEFLATE wants.
struct BitWriter {
    var bytes: [UInt8] = []
    var acc: UInt64 = 0
    var count = 0

    @inline(__always)
    mutating func write(_ value: UInt32, _ n: Int) {
        acc |= UInt64(value) << UInt64(count)
        count += n
        while count >= 8 {
            bytes.append(UInt8(truncatingIfNeeded: acc))
            acc >>= 8
            count -= 8
        }
    }

    mutating func flush() {
        if count > 0 { bytes.append(UInt8(truncatingIfNeeded: acc)) }
        acc = 0; count = 0
    }
}
