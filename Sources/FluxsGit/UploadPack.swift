import FluxsYAML

/// A shallow fetch over Git's smart HTTP protocol (version 0, stateless RPC): the request body of
/// `POST <url>/git-upload-pack` and the answer's parts. libgit2 1.5 cannot fetch shallow; fluxs asks for
/// depth 1 itself and gives the pack to libgit2's indexer, so a first reconcile downloads one commit's tree
/// and not the whole history.
public enum UploadPack {
    public static let contentType = "application/x-git-upload-pack-request"
    public static let resultType = "application/x-git-upload-pack-result"

    public static func url(_ repository: String) -> String { smartHTTPURL(repository, "git-upload-pack") }

    static func pkt(_ line: String) -> [UInt8] {
        let bytes = Array(line.utf8)
        let n = String(bytes.count + 4, radix: 16)
        return Array((String(repeating: "0", count: 4 - n.count) + n).utf8) + bytes
    }

    /// Wants `want` at `depth`, telling the server which commits the mirror has (`haves`) and where its history
    /// is cut (`shallow`). Side-band for the pack, no progress messages, no thin packs (the mirror may lack bases).
    public static func request(want: [ObjectID], haves: [ObjectID], shallow: [ObjectID], depth: Int) -> [UInt8] {
        var body: [UInt8] = []
        for (i, w) in want.enumerated() {
            body += pkt(i == 0 ? "want \(w.hex) side-band-64k ofs-delta shallow no-progress agent=git/2.0(fluxs)\n" : "want \(w.hex)\n")
        }
        for s in shallow { body += pkt("shallow \(s.hex)\n") }
        body += pkt("deepen \(depth)\n")
        body += Array("0000".utf8)
        for h in haves { body += pkt("have \(h.hex)\n") }
        body += pkt("done\n")
        return body
    }

    /// The server's answer: the commits that are now the mirror's shallow boundary (and those no longer), and
    /// the pack. A band-3 message is the server's error.
    public struct Result {
        public var shallow: [ObjectID] = []
        public var unshallow: [ObjectID] = []
        public var pack: [UInt8] = []
    }

    public static func parse(_ body: [UInt8]) throws -> Result {
        var pack: [UInt8] = []
        var r = Reader { pack += $0 }
        try r.feed(body)
        var result = try r.finish()
        result.pack = pack
        return result
    }

    /// The most pack data fluxs takes from one fetch (it goes to the indexer on disk as it arrives, not to memory).
    public static let maxPack = 2 << 30

    /// Reads an upload-pack answer as it arrives: shallow lines and acknowledgements, then side-band packets whose
    /// pack data goes to `sink` (band 1); band 3 is the server's error.
    public struct Reader {
        enum Phase { case shallowInfo, acks, pack, done }
        var packets = PktLineReader()
        var phase = Phase.shallowInfo
        var result = Result()
        var packBytes = 0
        let sink: ([UInt8]) throws -> Void
        let maxPack: Int

        public init(maxPack: Int = UploadPack.maxPack, sink: @escaping ([UInt8]) throws -> Void) {
            self.sink = sink
            self.maxPack = maxPack
        }

        public mutating func feed(_ chunk: [UInt8]) throws {
            guard phase != .done else { return }
            var framing = packets
            packets = PktLineReader()
            defer { packets = framing }
            try framing.feed(chunk, what: "the upload-pack response") { packet in
                try self.packet(packet)
                return phase != .done
            }
        }

        mutating func packet(_ packet: ArraySlice<UInt8>?) throws {
            guard let payload = packet else {
                if phase == .shallowInfo { phase = .acks } else if phase == .pack { phase = .done }
                return
            }
            if phase != .pack {
                let text = String(decoding: payload, as: UTF8.self).trimming(" \t\n\r")
                if text.hasPrefix("shallow "), let id = ObjectID(hex: String(text.dropFirst(8))) { result.shallow.append(id); return }
                if text.hasPrefix("unshallow "), let id = ObjectID(hex: String(text.dropFirst(10))) { result.unshallow.append(id); return }
                if text.hasPrefix("ERR ") { throw GitError(.rejected, "remote error: \(text.dropFirst(4))") }
                // Anything else (NAK, ACK, or side-band data at once) starts the pack.
                phase = .pack
                if text == "NAK" || text.hasPrefix("ACK ") { return }
            }
            guard let band = payload.first else { return }
            switch band {
            case 1:
                packBytes += payload.count - 1
                if packBytes > maxPack {
                    throw GitError(.tooLarge, "the pack sent by the server exceeds \(maxPack >> 20) MiB; fluxs stops reading there")
                }
                try sink(Array(payload.dropFirst()))
            case 2: return
            case 3: throw GitError(.rejected, "remote error: \(String(decoding: payload.dropFirst(), as: UTF8.self).trimming(" \t\n\r"))")
            default: throw GitError(.invalid, "unexpected side-band \(band) in the upload-pack response")
            }
        }

        public func finish() throws -> Result {
            if phase != .done && packets.pending > 0 {
                throw GitError(.invalid, "truncated upload-pack response at byte \(packets.consumed)")
            }
            return result
        }
    }
}
