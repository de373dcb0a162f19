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
        var r = Result()
        var i = 0
        enum Phase { case shallowInfo, acks, pack }
        var phase = Phase.shallowInfo
        while i < body.count {
            guard i + 4 <= body.count, let n = Int(String(decoding: body[i..<(i + 4)], as: UTF8.self), radix: 16) else {
                throw GitError(.invalid, "malformed pkt-line at byte \(i) of the upload-pack response")
            }
            if n == 0 {
                i += 4
                if phase == .shallowInfo { phase = .acks; continue }
                if phase == .pack { break }
                continue
            }
            guard n >= 4, i + n <= body.count else { throw GitError(.invalid, "truncated upload-pack response at byte \(i)") }
            let payload = body[(i + 4)..<(i + n)]
            i += n
            if phase != .pack {
                let text = String(decoding: payload, as: UTF8.self).trimming(" \t\n\r")
                if text.hasPrefix("shallow "), let id = ObjectID(hex: String(text.dropFirst(8))) { r.shallow.append(id); continue }
                if text.hasPrefix("unshallow "), let id = ObjectID(hex: String(text.dropFirst(10))) { r.unshallow.append(id); continue }
                if text.hasPrefix("ERR ") { throw GitError(.rejected, "remote error: \(text.dropFirst(4))") }
                if text == "NAK" || text.hasPrefix("ACK ") { phase = .pack; continue }
                if phase == .shallowInfo { phase = .acks }
                // Anything else starts the side-band data.
                phase = .pack
            }
            guard let band = payload.first else { continue }
            switch band {
            case 1: r.pack += payload.dropFirst()
            case 2: continue
            case 3: throw GitError(.rejected, "remote error: \(String(decoding: payload.dropFirst(), as: UTF8.self).trimming(" \t\n\r"))")
            default: throw GitError(.invalid, "unexpected side-band \(band) in the upload-pack response")
            }
        }
        return r
    }
}
