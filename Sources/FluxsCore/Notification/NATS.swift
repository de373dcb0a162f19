import FluxsKube
import FluxsYAML
#if canImport(Glibc)
import Glibc
#endif

/// The `nats` provider: the event JSON published on the subject spec.channel of the server spec.address
/// (`nats://host:port`), as nats.go does it for notification-controller: INFO, CONNECT (user and password from the
/// Secret when both are set), PUB, then PING/PONG as the flush. Servers that require TLS, and creds/nkey
/// authentication, are refused plainly.
extension ProviderSender {
    func nats(_ o: Outgoing) throws {
        guard !settings.address.isEmpty else { throw NotifyError("NATS server (address) cannot be empty") }
        guard !settings.channel.isEmpty else { throw NotifyError("NATS subject (channel) cannot be empty") }
        if settings.secret["creds"] != nil || settings.secret["nkey"] != nil {
            throw NotifyError("NATS creds and nkey authentication are not supported by fluxs; use username and password")
        }
        let payload = try o.event.json(metadata: o.metadata)
        let subject = settings.channel
        var errors: [String] = []
        // nats.Connect takes a comma-separated server list and tries each.
        for server in settings.address.split(separator: ",").map({ trimSpace(String($0)) }) {
            do {
                try publish(server: server, subject: subject, payload: payload)
                return
            } catch let e as NotifyError {
                errors.append(e.description)
            }
        }
        throw NotifyError("error publishing event to subject \(subject): \(errors.last ?? "no server")")
    }

    private func publish(server: String, subject: String, payload: [UInt8]) throws {
        var rest = server
        if let r = rest.firstRange(of: "://") {
            let scheme = rest[..<r.lowerBound].lowercased()
            guard scheme == "nats" || scheme == "tcp" else {
                throw NotifyError("error connecting to server: the '\(scheme)' scheme is not supported by fluxs (nats:// only)")
            }
            rest = String(rest[r.upperBound...])
        }
        if let slash = rest.firstIndex(of: "/") { rest = String(rest[..<slash]) }
        var user = settings.username, pass = settings.password
        if let at = rest.lastIndex(of: "@") {
            let info = rest[..<at]
            rest = String(rest[rest.index(after: at)...])
            if let colon = info.firstIndex(of: ":") {
                user = String(info[..<colon])
                pass = String(info[info.index(after: colon)...])
            }
        }
        var host = rest, port = "4222"
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") { port = String(after.dropFirst()) }
        } else if let colon = rest.lastIndex(of: ":") {
            host = String(rest[..<colon])
            port = String(rest[rest.index(after: colon)...])
        }
        let conn = try TCPConnection(host: host, port: port, timeout: settings.timeout)
        defer { conn.close() }
        let info = try conn.readLine()
        guard info.hasPrefix("INFO ") else { throw NotifyError("error connecting to server: not a NATS server") }
        let infoJSON = try? JSON.decode(String(info.dropFirst(5)))
        if infoJSON?["tls_required"]?.bool == true {
            throw NotifyError("error connecting to server: the server requires TLS, which fluxs's NATS client does not do")
        }
        var connect: [(String, Node)] = [("verbose", .bool(false)), ("pedantic", .bool(false))]
        if !user.isEmpty && !pass.isEmpty { connect += [("user", .string(user)), ("pass", .string(pass))] }
        connect += [("tls_required", .bool(false)), ("name", "NATS Provider Publisher"), ("lang", "swift"), ("version", "fluxs"),
                    ("protocol", .scalar(Scalar("1", tag: .int))), ("echo", .bool(true)), ("headers", .bool(true)), ("no_responders", .bool(true))]
        var out = Array("CONNECT ".utf8) + (try JSON.encodeBytes(.map(connect))) + Array("\r\n".utf8)
        out += Array("PUB \(subject) \(payload.count)\r\n".utf8) + payload + Array("\r\nPING\r\n".utf8)
        try conn.write(out)
        while true {
            let line = try conn.readLine()
            if line == "PONG" { return }
            if line.hasPrefix("-ERR") {
                throw NotifyError("error publishing message to server: \(line.dropFirst(4).trimmingPrefix(" "))")
            }
            if line == "PING" { try conn.write(Array("PONG\r\n".utf8)) }
        }
    }
}

/// A plain TCP connection with a deadline for every step (connect, each read and write).
final class TCPConnection {
    private var fd: Int32 = -1
    private let deadline: Double
    private var buffer: [UInt8] = []

    init(host: String, port: String, timeout: Double) throws {
        deadline = monotonicSeconds() + max(1, timeout)
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var res: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, port, &hints, &res) == 0, let first = res else {
            throw NotifyError("error connecting to server: cannot resolve the host name")
        }
        defer { freeaddrinfo(first) }
        var p: UnsafeMutablePointer<addrinfo>? = first
        var refused = false
        while let a = p {
            p = a.pointee.ai_next
            let s = socket(a.pointee.ai_family, a.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), a.pointee.ai_protocol)
            if s < 0 { continue }
            if connect(s, a.pointee.ai_addr, a.pointee.ai_addrlen) == 0 || errno == EINPROGRESS {
                if wait(s, Int16(POLLOUT)) {
                    var err: Int32 = 0
                    var len = socklen_t(MemoryLayout<Int32>.size)
                    getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len)
                    if err == 0 { fd = s; break }
                    refused = refused || err == ECONNREFUSED
                }
            }
            Glibc.close(s)
        }
        guard fd >= 0 else { throw NotifyError("error connecting to server: " + (refused ? "connection refused" : "no connection")) }
    }

    private func wait(_ s: Int32, _ events: Int16) -> Bool {
        let left = Int32(max(0, (deadline - monotonicSeconds()) * 1000))
        var p = pollfd(fd: s, events: events, revents: 0)
        return poll(&p, 1, left) == 1 && (p.revents & events) != 0
    }

    func write(_ bytes: [UInt8]) throws {
        var off = 0
        while off < bytes.count {
            guard wait(fd, Int16(POLLOUT)) else { throw NotifyError("error publishing message to server: timed out") }
            let n = bytes[off...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EAGAIN || errno == EINTR { continue }
                throw NotifyError("error publishing message to server: the connection was dropped")
            }
            off += n
        }
    }

    /// One protocol line without CRLF (at most 64 KiB: NATS INFO lines are small).
    func readLine() throws -> String {
        while true {
            if let nl = buffer.firstIndex(of: 0x0a) {
                var line = Array(buffer[..<nl])
                buffer.removeFirst(nl + 1)
                if line.last == 0x0d { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            guard buffer.count < 64 << 10 else { throw NotifyError("error connecting to server: protocol line too long") }
            guard wait(fd, Int16(POLLIN)) else { throw NotifyError("error connecting to server: timed out") }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && (errno == EAGAIN || errno == EINTR) { continue }
            guard n > 0 else { throw NotifyError("error connecting to server: the connection was closed") }
            buffer += chunk[..<n]
        }
    }

    func close() {
        if fd >= 0 { Glibc.close(fd); fd = -1 }
    }
}
