/// The ref advertisement of Git's smart HTTP protocol (version 0/1), as served at
/// `<url>/info/refs?service=git-upload-pack`. Parsing it needs no libgit2, so a caller that only wants to
/// know whether a remote ref moved can ask with one HTTP request and never start libgit2 (whose TLS set-up
/// alone costs more than the request).
public enum RefAdvertisement {
    public static let service = "git-upload-pack"
    public static let contentType = "application/x-git-upload-pack-advertisement"

    /// The path to request, appended to the repository URL (a trailing slash is dropped, as git does).
    public static func url(_ repository: String) -> String { smartHTTPURL(repository, "info/refs?service=" + service) }

    /// The refs of an advertisement: annotated tags carry the commit they point to in `peeled`.
    /// An empty repository advertises no refs.
    public static func parse(_ body: [UInt8]) throws -> [RemoteRef] {
        var lines = try pktLines(body)
        // Smart HTTP starts with "# service=git-upload-pack" and a flush packet.
        if let first = lines.first, let text = first, text.hasPrefix("# service=") {
            guard text == "# service=\(service)" else { throw GitError(.invalid, "unexpected service in ref advertisement: \(text)") }
            lines.removeFirst()
            if lines.first == .some(nil) { lines.removeFirst() }
        }
        var advertised: [(String, ObjectID)] = []
        var sawFirst = false
        for line in lines {
            guard let line else { break }
            var text = Substring(line)
            if !sawFirst {
                sawFirst = true
                if let nul = text.firstIndex(of: "\u{0}") { text = text[..<nul] }
            }
            if text.hasPrefix("shallow ") { continue }
            guard let space = text.firstIndex(of: " "), let id = ObjectID(hex: String(text[..<space])) else {
                throw GitError(.invalid, "malformed ref advertisement line: \(String(text.prefix(80)))")
            }
            let name = String(text[text.index(after: space)...])
            if name != "capabilities^{}" { advertised.append((name, id)) }
        }
        return RemoteRef.collect(advertised)
    }

    /// pkt-lines: a 4-hex-digit length (including itself) and the payload without its trailing newline;
    /// a flush packet ("0000") is nil.
    static func pktLines(_ body: [UInt8]) throws -> [String?] {
        var out: [String?] = []
        var i = 0
        while i < body.count {
            guard i + 4 <= body.count, let n = Int(String(decoding: body[i..<(i + 4)], as: UTF8.self), radix: 16) else {
                throw GitError(.invalid, "malformed pkt-line length at byte \(i) of the ref advertisement")
            }
            if n == 0 || n == 1 || n == 2 { out.append(nil); i += 4; continue }
            guard n >= 4, i + n <= body.count else {
                throw GitError(.invalid, "truncated pkt-line at byte \(i) of the ref advertisement")
            }
            var payload = body[(i + 4)..<(i + n)]
            if payload.last == UInt8(ascii: "\n") { payload = payload.dropLast() }
            out.append(String(decoding: payload, as: UTF8.self))
            i += n
        }
        return out
    }
}
