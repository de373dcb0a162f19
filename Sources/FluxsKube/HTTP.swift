internal import CCurl
#if canImport(Glibc)
import Glibc
#endif

/// One HTTP request.
public struct HTTPRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [(String, String)]
    public var body: [UInt8]?
    /// Seconds the whole transfer may take (0: no limit).
    public var timeout: Double
    /// Bytes of response body kept in memory before the transfer is stopped (a body streamed to `onData` is the
    /// receiver's to bound).
    public var maxBody: Int
    /// Proxy for this request (CURLOPT_PROXY: http://, https:// or socks5:// with optional user info).
    public var proxy: String? = nil

    public init(method: String, url: String, headers: [(String, String)] = [], body: [UInt8]? = nil, timeout: Double = 0,
                maxBody: Int = HTTPLimits.body) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.maxBody = maxBody
    }
}

/// What fluxs reads from a server at most (docs/security.md): a hostile server cannot make it allocate more.
public enum HTTPLimits {
    /// Response bodies kept in memory, unless a caller asks for a smaller limit.
    public static let body = 256 << 20
    /// All header lines of one response together (curl's own limit for one line is 100 KiB).
    public static let headers = 256 << 10
    /// Bodies of answers fluxs only needs a status and a short message from (webhooks, token endpoints).
    public static let small = 1 << 20

    static func describe(_ n: Int) -> String {
        n >= 1 << 20 && n % (1 << 20) == 0 ? "\(n >> 20) MiB" : n >= 1 << 10 && n % (1 << 10) == 0 ? "\(n >> 10) KiB" : "\(n) bytes"
    }
}

public struct HTTPResponse: Sendable {
    public var status: Int
    /// Header names lower-cased; repeated headers joined with ", " except Warning which keeps each value.
    public var headers: [String: String]
    public var warnings: [String]
    public var body: [UInt8]

    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// TLS settings for one server.
public struct TLSSettings: Sendable, Equatable {
    public var caData: [UInt8]?
    public var clientCertData: [UInt8]?
    public var clientKeyData: [UInt8]?
    public var insecure: Bool = false
    public var serverName: String?

    public init(caData: [UInt8]? = nil, clientCertData: [UInt8]? = nil, clientKeyData: [UInt8]? = nil,
                insecure: Bool = false, serverName: String? = nil) {
        self.caData = caData
        self.clientCertData = clientCertData
        self.clientKeyData = clientKeyData
        self.insecure = insecure
        self.serverName = serverName
    }
}

/// A transport-level failure (no HTTP status): refused, unresolvable, timed out, TLS, reset.
public struct TransportError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable { case refused, unresolved, timeout, tls, reset, aborted, tooLarge, redirect, other }
    public var kind: Kind
    public var url: String
    public var detail: String

    public var description: String { detail }

    /// True when the server may not have seen the request at all, or dropped it mid-way.
    public var isRetryable: Bool { kind == .refused || kind == .reset }
}

private let curlGlobalInit: Bool = {
    curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK
}()

/// TLS sessions (and DNS answers) shared by the easy handles of one KubeClient and its siblings (a libcurl share
/// object): a connection after the first resumes the first one's TLS session, an abbreviated handshake without the
/// certificate chain sent, parsed and verified again and without the server's signature. A full handshake cost the
/// client ~10 M instructions here (most of it OpenSSL 3 decoding certificates and keys), and the server a signature:
/// a reconcile opens up to nine connections. Sessions are matched by host, port and TLS settings (libcurl's own
/// rule), so another server, CA or client certificate never resumes one. Siblings work on other threads: each kind
/// of shared data has a mutex of its own, taken in libcurl's lock callbacks.
final class HTTPShare: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer
    /// One mutex per curl_lock_data value (CURL_LOCK_DATA_LAST of them), handed to the callbacks as their userptr.
    private let mutexes: UnsafeMutablePointer<pthread_mutex_t>
    private static let kinds = Int(CURL_LOCK_DATA_LAST.rawValue)

    init?() {
        _ = curlGlobalInit
        guard let h = curl_share_init() else { return nil }
        handle = h
        mutexes = .allocate(capacity: Self.kinds)
        for i in 0..<Self.kinds { pthread_mutex_init(mutexes + i, nil) }
        _ = fluxs_curl_share_setopt_pointer(h, CURLSHOPT_USERDATA, UnsafeMutableRawPointer(mutexes))
        _ = fluxs_curl_share_setopt_lockcb(h) { _, data, _, user in
            guard let m = user?.assumingMemoryBound(to: pthread_mutex_t.self), Int(data.rawValue) < HTTPShare.kinds else { return }
            pthread_mutex_lock(m + Int(data.rawValue))
        }
        _ = fluxs_curl_share_setopt_unlockcb(h) { _, data, user in
            guard let m = user?.assumingMemoryBound(to: pthread_mutex_t.self), Int(data.rawValue) < HTTPShare.kinds else { return }
            pthread_mutex_unlock(m + Int(data.rawValue))
        }
        _ = fluxs_curl_share_setopt_long(h, CURLSHOPT_SHARE, Int(CURL_LOCK_DATA_SSL_SESSION.rawValue))
        _ = fluxs_curl_share_setopt_long(h, CURLSHOPT_SHARE, Int(CURL_LOCK_DATA_DNS.rawValue))
    }

    deinit {
        curl_share_cleanup(handle)
        for i in 0..<Self.kinds { pthread_mutex_destroy(mutexes + i) }
        mutexes.deallocate()
    }
}

/// Owns one libcurl easy handle. Reusing it for several requests reuses the
/// connection to the same server. Not thread-safe: one request at a time.
public final class HTTPClient: @unchecked Sendable {
    private let handle: UnsafeMutableRawPointer
    private var errorBuffer: UnsafeMutablePointer<CChar>
    /// The share object of the handles it works beside (set before the first request): released after the handle
    /// (the properties go after deinit's body, which cleans the handle up).
    var share: HTTPShare?

    public init() throws {
        _ = curlGlobalInit
        guard let h = curl_easy_init() else {
            throw TransportError(kind: .other, url: "", detail: "cannot initialise libcurl")
        }
        handle = h
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    }

    deinit {
        curl_easy_cleanup(handle)
        errorBuffer.deallocate()
    }

    /// Collects the response; `onData`, when given, receives the body as it arrives
    /// instead (return false to stop the transfer).
    final class Context {
        var status = 0
        var headers: [String: String] = [:]
        var warnings: [String] = []
        var body: [UInt8] = []
        var onData: (([UInt8]) -> Bool)?
        var stopped = false
        var maxBody = HTTPLimits.body
        var headerBytes = 0
        /// Which limit stopped the transfer.
        var overflow: String?

        /// One header line as libcurl hands it over (CRLF included): a status line starts a new set of headers
        /// (after a redirect or 100 Continue), else `name: value` is added under the lower-cased name.
        func header(_ bytes: UnsafeRawBufferPointer) {
            // ASCII lines (all of them, in practice) are taken apart as bytes, which is what the Character-based
            // reading below does to ASCII text: its "\r\n" is one Character, and Character.isNewline holds for
            // \n, \u{0B}, \u{0C} and \r among the ASCII characters. A line with other bytes is read as text.
            guard !bytes.contains(where: { $0 >= 0x80 }) else { return headerText(String(decoding: bytes, as: UTF8.self)) }
            let space = UInt8(ascii: " "), tab = UInt8(ascii: "\t")
            if bytes.starts(with: "HTTP/".utf8) {
                let parts = bytes.split(separator: space)
                if parts.count > 1, let s = Int(String(decoding: parts[1], as: UTF8.self)) { status = s }
                headers = [:]
                warnings = []
            } else if let colon = bytes.firstIndex(of: UInt8(ascii: ":")) {
                let k = String(decoding: bytes[..<colon].map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
                var start = colon + 1, end = bytes.count
                while start < end && (bytes[start] == space || bytes[start] == tab) { start += 1 }
                while end > start && (bytes[end - 1] == space || (0x0A...0x0D).contains(bytes[end - 1])) { end -= 1 }
                let v = String(decoding: bytes[start..<end], as: UTF8.self)
                if k == "warning" { warnings.append(v) }
                if let old = headers[k] { headers[k] = old + ", " + v } else { headers[k] = v }
            }
        }

        func headerText(_ line: String) {
            if line.hasPrefix("HTTP/") {
                let parts = line.split(separator: " ")
                if parts.count > 1, let s = Int(parts[1]) { status = s }
                headers = [:]
                warnings = []
            } else if let colon = line.firstIndex(of: ":") {
                let k = line[..<colon].lowercased()
                var v = Substring(line[line.index(after: colon)...])
                while let f = v.first, f == " " || f == "\t" { v.removeFirst() }
                while let l = v.last, l.isNewline || l == " " { v.removeLast() }   // "\r\n" is one Character
                if k == "warning" { warnings.append(String(v)) }
                if let old = headers[k] { headers[k] = old + ", " + v } else { headers[k] = String(v) }
            }
        }
    }

    /// What a configured transfer needs until it ends: the receiver and the header lists libcurl points to.
    final class Prepared {
        let ctx = Context()
        var slist: UnsafeMutablePointer<curl_slist>? = nil
        var connectTo: UnsafeMutablePointer<curl_slist>? = nil
        let url: String
        let serverName: String?
        init(url: String, serverName: String?) { self.url = url; self.serverName = serverName }
        deinit {
            if let s = slist { curl_slist_free_all(s) }
            if let s = connectTo { curl_slist_free_all(s) }
        }
    }

    public func perform(_ req: HTTPRequest, tls: TLSSettings, onData: (([UInt8]) -> Bool)? = nil) throws -> HTTPResponse {
        let prepared = try prepare(req, tls: tls, onData: onData)
        let rc = withExtendedLifetime(prepared) { curl_easy_perform(handle) }
        return try complete(rc, prepared)
    }

    /// The easy handle, for HTTPMulti (which never lets it leave this module).
    var easy: UnsafeMutableRawPointer { handle }

    /// Configures the handle for one request.
    func prepare(_ req: HTTPRequest, tls: TLSSettings, onData: (([UInt8]) -> Bool)? = nil) throws -> Prepared {
        curl_easy_reset(handle)
        let prepared = Prepared(url: req.url, serverName: tls.serverName)
        let ctx = prepared.ctx
        ctx.onData = onData
        ctx.maxBody = req.maxBody
        errorBuffer[0] = 0

        func set(_ o: CURLoption, _ v: Int) throws { try check(fluxs_curl_setopt_long(handle, o, v)) }
        func set(_ o: CURLoption, _ s: String) throws { try check(s.withCString { fluxs_curl_setopt_string(handle, o, $0) }) }
        func blob(_ o: CURLoption, _ data: [UInt8]) throws {
            var copy = data
            try copy.withUnsafeMutableBytes { raw in
                var b = curl_blob(data: raw.baseAddress, len: raw.count, flags: UInt32(CURL_BLOB_COPY))
                try check(fluxs_curl_setopt_blob(handle, o, &b))
            }
        }

        try check(fluxs_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer))
        if let share { try check(fluxs_curl_setopt_pointer(handle, CURLOPT_SHARE, share.handle)) }
        // A TLS server name (kubeconfig `tls-server-name`, `--tls-server-name`) is what client-go puts in
        // tls.Config.ServerName: the name sent as SNI and verified in the certificate, while the connection goes to
        // the URL's host and the Host header stays the URL's. libcurl verifies the URL's host, so the URL names the
        // server name and CURLOPT_CONNECT_TO sends the connection to the real host.
        var extraHeaders: [(String, String)] = []
        if let sn = tls.serverName?.lowercased(), !sn.isEmpty, let o = HTTPOrigin(req.url), o.scheme == "https", o.host != sn,
           let swapped = Self.replacingHost(req.url, with: sn) {
            try set(CURLOPT_URL, swapped.url)
            prepared.connectTo = curl_slist_append(nil, "\(sn):\(o.port):\(o.host):\(o.port)")
            try check(fluxs_curl_setopt_slist(handle, CURLOPT_CONNECT_TO, prepared.connectTo))
            if !req.headers.contains(where: { $0.0.lowercased() == "host" }) { extraHeaders.append(("Host", swapped.authority)) }
        } else {
            try set(CURLOPT_URL, req.url)
        }
        try set(CURLOPT_NOSIGNAL, 1)
        try set(CURLOPT_TCP_KEEPALIVE, 1)
        try set(CURLOPT_CONNECTTIMEOUT_MS, 10_000)
        if req.timeout > 0 {
            try set(CURLOPT_TIMEOUT_MS, max(1, Int(req.timeout * 1000)))
            try set(CURLOPT_CONNECTTIMEOUT_MS, max(1, min(10_000, Int(req.timeout * 1000))))
        }
        try set(CURLOPT_ACCEPT_ENCODING, "")
        if let proxy = req.proxy { try set(CURLOPT_PROXY, proxy) }
        if tls.insecure {
            try set(CURLOPT_SSL_VERIFYPEER, 0)
            try set(CURLOPT_SSL_VERIFYHOST, 0)
        } else if let ca = tls.caData {
            try blob(CURLOPT_CAINFO_BLOB, ca)
        }
        if let c = tls.clientCertData { try blob(CURLOPT_SSLCERT_BLOB, c) }
        if let k = tls.clientKeyData { try blob(CURLOPT_SSLKEY_BLOB, k) }

        switch req.method {
        case "GET": try set(CURLOPT_HTTPGET, 1)
        case "HEAD": try set(CURLOPT_NOBODY, 1)
        default: try set(CURLOPT_CUSTOMREQUEST, req.method)
        }
        if let body = req.body {
            try set(CURLOPT_POSTFIELDSIZE, body.count)
            try body.withUnsafeBytes { raw in
                try check(fluxs_curl_setopt_pointer(handle, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!)))
            }
        }
        var hasExpect = false
        var slist: UnsafeMutablePointer<curl_slist>? = nil
        for (k, v) in req.headers + extraHeaders {
            slist = curl_slist_append(slist, "\(k): \(v)")
            if k.lowercased() == "expect" { hasExpect = true }
        }
        if !hasExpect { slist = curl_slist_append(slist, "Expect:") }
        prepared.slist = slist
        try check(fluxs_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, slist))

        let ud = Unmanaged.passUnretained(ctx).toOpaque()
        try check(fluxs_curl_setopt_datacb(handle, CURLOPT_WRITEFUNCTION) { ptr, size, n, user in
            let count = size * n
            guard let user, let ptr else { return count }
            let c = Unmanaged<HTTPClient.Context>.fromOpaque(user).takeUnretainedValue()
            let bytes = UnsafeRawBufferPointer(start: ptr, count: count)
            if let f = c.onData, c.status < 300 {
                if !f(Array(bytes)) { c.stopped = true; return 0 }
            } else {
                if c.body.count + count > c.maxBody { c.overflow = "body exceeds \(HTTPLimits.describe(c.maxBody))"; return 0 }
                // Room for the whole body at the first piece when its length is said (a list page of a few hundred
                // KB grew by doubling otherwise: each step a new buffer, copied and faulted in); decompressed bodies
                // may still grow past it.
                if c.body.isEmpty, let said = c.headers["content-length"].flatMap({ Int($0) }), said > count {
                    c.body.reserveCapacity(min(said, c.maxBody))
                }
                c.body.append(contentsOf: bytes)
            }
            return count
        })
        try check(fluxs_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, ud))
        try check(fluxs_curl_setopt_datacb(handle, CURLOPT_HEADERFUNCTION) { ptr, size, n, user in
            let count = size * n
            guard let user, let ptr else { return count }
            let c = Unmanaged<HTTPClient.Context>.fromOpaque(user).takeUnretainedValue()
            c.headerBytes += count
            if c.headerBytes > HTTPLimits.headers { c.overflow = "headers exceed \(HTTPLimits.describe(HTTPLimits.headers))"; return 0 }
            c.header(UnsafeRawBufferPointer(start: ptr, count: count))
            return count
        })
        try check(fluxs_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, ud))
        if multiplexing {
            // HTTP/2 where the server offers it (ALPN), so concurrent requests share one connection; a transfer
            // waits for that connection rather than opening another.
            try set(CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS)
            try set(CURLOPT_PIPEWAIT, 1)
        }
        return prepared
    }

    /// Set by HTTPMulti: requests of this handle may run next to others.
    var multiplexing = false

    /// The response of a finished transfer, or why there is none.
    func complete(_ rc: CURLcode, _ prepared: Prepared) throws -> HTTPResponse {
        let ctx = prepared.ctx
        if rc != CURLE_OK {
            if let what = ctx.overflow {
                throw TransportError(kind: .tooLarge, url: prepared.url,
                                     detail: "the response of \(HTTPOrigin(prepared.url)?.description ?? "the server") is too large: its \(what); fluxs stops reading there")
            }
            if ctx.stopped { return HTTPResponse(status: ctx.status, headers: ctx.headers, warnings: ctx.warnings, body: ctx.body) }
            throw transportError(rc, url: prepared.url, verifiedName: prepared.connectTo == nil ? nil : prepared.serverName)
        }
        var code = 0
        _ = fluxs_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &code)
        return HTTPResponse(status: code != 0 ? code : ctx.status, headers: ctx.headers, warnings: ctx.warnings, body: ctx.body)
    }

    /// `url` with its host replaced (user info dropped), and the authority it had (the Host header).
    static func replacingHost(_ url: String, with host: String) -> (url: String, authority: String)? {
        guard let sep = url.firstRange(of: "://") else { return nil }
        let rest = url[sep.upperBound...]
        let end = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        var authority = rest[..<end]
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        var port = ""
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            port = String(authority[authority.index(after: close)...])
        } else if let colon = authority.lastIndex(of: ":") {
            port = String(authority[colon...])
        }
        return (String(url[..<sep.upperBound]) + host + port + rest[end...], String(authority))
    }

    private func check(_ rc: CURLcode) throws {
        if rc != CURLE_OK { throw transportError(rc, url: "") }
    }

    private func transportError(_ rc: CURLcode, url: String, verifiedName: String? = nil) -> TransportError {
        let detail = String(cString: errorBuffer)
        let base = String(cString: curl_easy_strerror(rc))
        let msg = detail.isEmpty ? base : detail
        let kind: TransportError.Kind
        switch rc {
        case CURLE_COULDNT_CONNECT: kind = .refused
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY: kind = .unresolved
        case CURLE_OPERATION_TIMEDOUT: kind = .timeout
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
             CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_INVALIDCERTSTATUS:
            kind = .tls
        case CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE: kind = .reset
        case CURLE_TOO_MANY_REDIRECTS: kind = .redirect
        case CURLE_WRITE_ERROR, CURLE_ABORTED_BY_CALLBACK: kind = .aborted
        default: kind = .other
        }
        return TransportError(kind: kind, url: url, detail: kind == .tls ? Self.explainTLS(msg, url: url, name: verifiedName) : msg)
    }

    /// Certificate failures in the words Go's crypto/x509 uses (what flux prints), curl's reason kept.
    static func explainTLS(_ msg: String, url: String, name: String?) -> String {
        let who = HTTPOrigin(url).map { "\($0.host):\($0.port)" } ?? "the server"
        let host = name ?? HTTPOrigin(url)?.host ?? "the host"
        let m = msg.lowercased()
        if m.contains("subject name") || m.contains("does not match") || m.contains("doesn't match") {
            return "x509: the TLS certificate of \(who) is not valid for the name \(host) (\(msg))"
        }
        if m.contains("expired") || m.contains("not yet valid") {
            return "x509: the TLS certificate of \(who) has expired or is not yet valid (\(msg))"
        }
        if m.contains("issuer") || m.contains("self-signed") || m.contains("self signed") || m.contains("unknown ca") || m.contains("not trusted") {
            return "x509: the TLS certificate of \(who) is not signed by a trusted authority (\(msg))"
        }
        return msg
    }
}

/// A plain GET of a URL (artifact downloads), with the system CAs.
public enum HTTPDownload {
    public static func get(_ url: String, timeout: Double = 300) throws -> [UInt8] {
        let client = try HTTPClient()
        let r = try client.perform(HTTPRequest(method: "GET", url: url, timeout: timeout), tls: TLSSettings())
        guard (200..<300).contains(r.status) else {
            throw TransportError(kind: .other, url: url, detail: "GET \(url): HTTP status \(r.status)")
        }
        return r.body
    }
}

/// Several requests at once over libcurl's multi interface: HTTP/2 streams on one connection where the server offers
/// HTTP/2, else a bounded pool of HTTP/1.1 connections (`maxConnections`). Connections stay open between batches.
/// Not thread-safe: one batch at a time, on the calling thread.
final class HTTPMulti {
    private let multi: UnsafeMutableRawPointer
    private var idle: [HTTPClient] = []
    let maxInFlight: Int
    let maxConnections: Int
    /// The TLS sessions of the client it works for (HTTPShare).
    var share: HTTPShare?

    init(maxConnections: Int = 8, maxInFlight: Int = 32) throws {
        _ = curlGlobalInit
        guard let m = curl_multi_init() else { throw TransportError(kind: .other, url: "", detail: "cannot initialise libcurl") }
        multi = m
        self.maxInFlight = max(1, maxInFlight)
        self.maxConnections = max(1, maxConnections)
        _ = fluxs_curl_multi_setopt_long(m, CURLMOPT_PIPELINING, Int(CURLPIPE_MULTIPLEX))
        _ = fluxs_curl_multi_setopt_long(m, CURLMOPT_MAX_HOST_CONNECTIONS, self.maxConnections)
    }

    /// The HTTP/1.1 connections a batch of `count` requests may use: one per four requests, up to maxConnections.
    /// A new connection costs a TLS handshake on both sides (~5 M instructions here even when the session is
    /// resumed), about what a few requests cost the server, so a batch of ten dry runs opens three, not eight.
    /// HTTP/2 multiplexes every request of a batch on one connection whatever this says.
    static func connections(for count: Int, max: Int) -> Int { Swift.max(1, Swift.min(max, (count + 3) / 4)) }

    deinit {
        curl_multi_cleanup(multi)
        idle.removeAll()
    }

    /// Runs every request, at most `maxInFlight` at once; each starts when `gate` answers 0 (else it says how many
    /// seconds to wait: the rate limiter). `finished` is called once for each request (by its index) after it ended,
    /// once the requests that take its place are sent: the caller works on an answer while the server works on them.
    func performAll(_ reqs: [HTTPRequest], tls: TLSSettings, gate: () -> Double, finished: (Int, Result<HTTPResponse, Error>) -> Void) {
        var active: [(client: HTTPClient, prepared: HTTPClient.Prepared, index: Int)] = []
        // Ended, not yet handed to `finished`.
        var ended: [(index: Int, answer: Result<HTTPResponse, Error>)] = []
        var next = 0
        _ = fluxs_curl_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, Self.connections(for: reqs.count, max: maxConnections))
        while next < reqs.count || !active.isEmpty || !ended.isEmpty {
            var wait = 0.25
            while next < reqs.count && active.count < maxInFlight {
                let d = gate()
                if d > 0 { wait = min(wait, d); break }
                let client: HTTPClient
                if let c = idle.popLast() { client = c } else {
                    do { client = try HTTPClient() } catch { ended.append((next, .failure(error))); next += 1; continue }
                }
                client.multiplexing = true
                client.share = share
                do {
                    let p = try client.prepare(reqs[next], tls: tls)
                    if curl_multi_add_handle(multi, client.easy) != CURLM_OK {
                        throw TransportError(kind: .other, url: reqs[next].url, detail: "cannot start the request")
                    }
                    active.append((client, p, next))
                } catch {
                    ended.append((next, .failure(error)))
                    idle.append(client)
                }
                next += 1
            }
            if active.isEmpty && ended.isEmpty {
                if next < reqs.count { sleepSeconds(wait) }
                continue
            }
            var running: Int32 = 0
            if !active.isEmpty { _ = curl_multi_perform(multi, &running) }
            let handing = ended
            ended = []
            for e in handing { finished(e.index, e.answer) }
            var left: Int32 = 0
            while let msg = curl_multi_info_read(multi, &left) {
                guard msg.pointee.msg == CURLMSG_DONE, let at = active.firstIndex(where: { $0.client.easy == msg.pointee.easy_handle }) else { continue }
                let rc = fluxs_curl_msg_result(msg)
                let t = active.remove(at: at)
                _ = curl_multi_remove_handle(multi, t.client.easy)
                ended.append((t.index, Result { try t.client.complete(rc, t.prepared) }))
                idle.append(t.client)
            }
            if ended.isEmpty && handing.isEmpty && running > 0 {
                _ = curl_multi_poll(multi, nil, 0, Int32(max(1, min(250, wait * 1000))), nil)
            }
        }
    }
}

/// client-go's client-side rate limit (flowcontrol.NewTokenBucketRateLimiter over golang.org/x/time/rate), which
/// flux's --kube-api-qps and --kube-api-burst set: `burst` requests at once, then `qps` a second. A negative qps
/// turns it off; 0 means client-go's defaults (5 a second, burst 10).
public final class RateLimiter: @unchecked Sendable {
    let qps: Double
    let burst: Double
    private var tokens: Double
    private var last: Double

    public init?(qps: Double, burst: Int) {
        if qps < 0 { return nil }
        self.qps = qps == 0 ? 5 : qps
        self.burst = Double(burst <= 0 ? 10 : burst)
        tokens = self.burst
        last = monotonicSeconds()
    }

    private func refill() {
        let now = monotonicSeconds()
        tokens = min(burst, tokens + (now - last) * qps)
        last = now
    }

    /// Takes a token when one is there and answers 0; else the seconds until one is.
    func tryTake() -> Double {
        refill()
        if tokens >= 1 { tokens -= 1; return 0 }
        return (1 - tokens) / qps
    }

    /// Waits for a token (rate.Limiter.Wait), at most `limit` seconds; false when that was not enough.
    func wait(limit: Double) -> Bool {
        let d = tryTake()
        if d == 0 { return true }
        if d > limit { return false }
        sleepSeconds(d)
        return tryTake() == 0 || wait(limit: limit - d)
    }
}
