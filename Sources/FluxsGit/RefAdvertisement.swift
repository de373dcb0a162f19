/// The ref advertisement of Git's smart HTTP protocol (version 0/1), as served at
/// `<url>/info/refs?service=git-upload-pack`. Parsing it needs no libgit2, so a caller that only wants to
/// know whether a remote ref moved can ask with one HTTP request and never start libgit2 (whose TLS set-up
/// alone costs more than the request).
public enum RefAdvertisement {
    public static let service = "git-upload-pack"
    public static let contentType = "application/x-git-upload-pack-advertisement"

    /// The path to request, appended to the repository URL (a trailing slash is dropped, as git does).
    public static func url(_ repository: String) -> String { smartHTTPURL(repository, "info/refs?service=" + service) }

    /// What fluxs reads of an advertisement at most. git and go-git read any amount; a server that sends refs without
    /// end would exhaust memory. GitHub advertises `refs/pull/*` too, so large repositories reach a few 100,000 refs.
    public static let maxBytes = 64 << 20
    public static let maxRefs = 1_000_000
    /// Refs kept of those read: the ones a GitRepository's ref can select (all tags, for a semver range).
    public static let maxKept = 100_000

    /// The refs of an advertisement: annotated tags carry the commit they point to in `peeled`.
    /// An empty repository advertises no refs.
    public static func parse(_ body: [UInt8]) throws -> [RemoteRef] {
        var r = Reader()
        try r.feed(body)
        return try r.finish()
    }

    /// Reads an advertisement as it arrives (smart HTTP starts with "# service=git-upload-pack" and a flush packet,
    /// then one ref per line up to a flush), within `maxBytes` and `maxRefs`. Refs `keep` declines are not stored
    /// (a branch reconcile of a repository with 100,000 pull request refs keeps one).
    public struct Reader {
        var packets = PktLineReader()
        var bytes = 0
        var count = 0
        var sawHeader = false
        var sawFlushAfterHeader = false
        var sawFirst = false
        var done = false
        var refs: [RemoteRef] = []
        static let servicePrefix = Array("# service=".utf8)
        static let shallowPrefix = Array("shallow ".utf8)
        static let peeledSuffix = Array("^{}".utf8)
        /// The capabilities after the first ref.
        public private(set) var capabilities: [String] = []
        let keep: (String) -> Bool
        let maxBytes: Int
        let maxRefs: Int
        let maxKept: Int
        /// Names the source in errors ("the ref advertisement of https://host").
        public var source = "the ref advertisement"

        public init(keep: @escaping (String) -> Bool = { _ in true }, maxBytes: Int = RefAdvertisement.maxBytes,
                    maxRefs: Int = RefAdvertisement.maxRefs, maxKept: Int = RefAdvertisement.maxKept) {
            self.keep = keep
            self.maxKept = maxKept
            self.maxBytes = maxBytes
            self.maxRefs = maxRefs
        }

        public mutating func feed(_ chunk: [UInt8]) throws {
            guard !done else { return }
            bytes += chunk.count
            if bytes > maxBytes {
                throw GitError(.tooLarge, "\(source) exceeds \(maxBytes >> 20) MiB; fluxs stops reading there (at most \(maxBytes >> 20) MiB and \(maxRefs) refs)")
            }
            var framing = packets
            packets = PktLineReader()
            defer { packets = framing }
            try framing.feed(chunk, what: source) { packet in
                try line(packet)
                return !done
            }
        }

        mutating func line(_ packet: ArraySlice<UInt8>?) throws {
            guard let packet else {
                // The flush after the service header, or the end of the refs.
                if sawHeader && !sawFirst && !sawFlushAfterHeader { sawFlushAfterHeader = true; return }
                done = true
                return
            }
            var payload = packet
            if payload.last == UInt8(ascii: "\n") { payload = payload.dropLast() }
            if !sawHeader && !sawFirst && payload.starts(with: Self.servicePrefix) {
                let text = String(decoding: payload, as: UTF8.self)
                guard text == "# service=\(service)" else { throw GitError(.invalid, "unexpected service in ref advertisement: \(text)") }
                sawHeader = true
                return
            }
            if !sawFirst {
                sawFirst = true
                if let nul = payload.firstIndex(of: 0) {
                    capabilities = payload[(nul + 1)...].split(separator: UInt8(ascii: " ")).map { String(decoding: $0, as: UTF8.self) }
                    payload = payload[..<nul]
                }
            }
            if payload.starts(with: Self.shallowPrefix) { return }
            count += 1
            if count > maxRefs {
                throw GitError(.tooLarge, "\(source) lists more than \(maxRefs) refs; fluxs stops reading there (at most \(maxBytes >> 20) MiB and \(maxRefs) refs)")
            }
            guard let space = payload.firstIndex(of: UInt8(ascii: " ")), space - payload.startIndex == 40 || space - payload.startIndex == 64 else {
                throw GitError(.invalid, "malformed ref advertisement line: \(String(decoding: payload.prefix(80), as: UTF8.self))")
            }
            // The id is decoded only for refs that are kept.
            func id() throws -> ObjectID {
                guard let id = ObjectID(hexBytes: payload[..<space]) else {
                    throw GitError(.invalid, "malformed ref advertisement line: \(String(decoding: payload.prefix(80), as: UTF8.self))")
                }
                return id
            }
            var nameBytes = payload[(space + 1)...]
            // "<tag>^{}" follows its annotated tag and gives the commit it points to.
            let peeled = nameBytes.count > 3 && nameBytes.suffix(3).elementsEqual(Self.peeledSuffix)
            if peeled { nameBytes = nameBytes.dropLast(3) }
            let name = String(decoding: nameBytes, as: UTF8.self)
            if peeled {
                if let last = refs.indices.last, refs[last].name == name { refs[last].peeled = try id() }
                return
            }
            guard keep(name) else { return }
            if refs.count == maxKept {
                throw GitError(.tooLarge, "\(source) lists more than \(maxKept) refs this GitRepository could use; fluxs keeps at most \(maxKept)")
            }
            refs.append(RemoteRef(name: name, oid: try id(), peeled: nil))
        }

        /// The refs read; an error when the advertisement stopped in the middle of a packet.
        public func finish() throws -> [RemoteRef] {
            if !done && packets.pending > 0 {
                throw GitError(.invalid, "truncated pkt-line at byte \(packets.consumed) of \(source)")
            }
            return refs
        }
    }
}

/// Git's pkt-line framing read incrementally: bytes go in as they arrive, whole packets come out (nil for a flush,
/// delimiter or response-end packet). A packet is at most 65,535 bytes, so the buffer stays small.
struct PktLineReader {
    private var buffer: [UInt8] = []
    private var start = 0
    /// Bytes of whole packets consumed so far.
    private(set) var consumed = 0

    var pending: Int { buffer.count - start }

    /// Feeds `chunk`; `packet` returns false to stop reading (the rest is ignored).
    mutating func feed(_ chunk: [UInt8], what: String, _ packet: (ArraySlice<UInt8>?) throws -> Bool) throws {
        if start == buffer.count { buffer.removeAll(keepingCapacity: true); start = 0 }
        buffer.append(contentsOf: chunk)
        defer {
            if start > 0 && start == buffer.count { buffer.removeAll(keepingCapacity: true); start = 0 }
            else if start > 65536 { buffer.removeFirst(start); start = 0 }
        }
        while buffer.count - start >= 4 {
            guard let n = Self.length(buffer[start..<(start + 4)]) else {
                throw GitError(.invalid, "malformed pkt-line length at byte \(consumed) of \(what)")
            }
            if n <= 2 {
                start += 4
                consumed += 4
                if try !packet(nil) { start = buffer.count; return }
                continue
            }
            guard n >= 4 else { throw GitError(.invalid, "malformed pkt-line length at byte \(consumed) of \(what)") }
            guard buffer.count - start >= n else { return }
            let payload = buffer[(start + 4)..<(start + n)]
            start += n
            consumed += n
            if try !packet(payload) { start = buffer.count; return }
        }
    }

    static func length(_ hex: ArraySlice<UInt8>) -> Int? {
        var n = 0
        for c in hex {
            let d: Int
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = Int(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = Int(c - UInt8(ascii: "a")) + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = Int(c - UInt8(ascii: "A")) + 10
            default: return nil
            }
            n = n * 16 + d
        }
        return n
    }
}
