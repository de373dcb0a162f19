import FluxsAPI
import FluxsKube
import FluxsYAML

/// A Provider with its Secrets read, as notification-controller's createNotifier resolves it: the address and
/// the `address`, `proxy`, `headers`, `token`, `username`/`password` keys of spec.secretRef, spec.proxySecretRef,
/// spec.certSecretRef (ca.crt, tls.crt/tls.key; for Git providers also ca.crt of secretRef), spec.channel,
/// spec.username and spec.timeout (15s by default).
struct ProviderSettings {
    var type: String
    var name: String
    var namespace: String
    var uid: String
    var address: String
    var token: String = ""
    var username: String
    var password: String = ""
    var channel: String
    var proxy: String?
    var headers: [(String, String)] = []
    var tls = TLSSettings()
    var timeout: Double
    var commitStatus: String = ""
    var secret: [String: String] = [:]

    init(_ p: Provider, uid: String, kube: KubeClient) throws {
        let ns = p.metadata.namespace
        type = p.spec.type
        name = p.metadata.name
        namespace = ns
        self.uid = uid
        address = p.spec.address
        username = p.spec.username
        channel = p.spec.channel
        timeout = try p.spec.timeout.map { try GoDuration.parse($0.text) } ?? 15
        func secretData(_ name: String) throws -> [String: String] {
            guard let d = try kube.stringData(of: .secrets, namespace: ns, name: name) else {
                throw NotifyError("failed to get secret '\(ns)/\(name)': not found")
            }
            return d
        }
        if !p.spec.proxy.isEmpty { proxy = p.spec.proxy }
        if let ref = p.spec.secretRef {
            secret = try secretData(ref.name)
            if let a = secret["address"] {
                guard a.utf8.count <= 2048 else { throw NotifyError("invalid address in secret: address exceeds maximum length of 2048 bytes") }
                address = trimSpace(a)
            }
            if let pr = secret["proxy"] { proxy = trimSpace(pr) }
            if let h = secret["headers"] {
                guard let m = (try? YAML.parse(h))?.map else { throw NotifyError("failed to read headers from secret: not a map of strings") }
                headers = m.entries.map { ($0.key, $0.value.text ?? "") }
            }
            if let t = secret["token"] { token = t }
            if let u = secret["username"], let pw = secret["password"], !u.isEmpty, !pw.isEmpty {
                username = u
                password = pw
            }
        }
        if let ref = p.spec.proxySecretRef {
            let d = try secretData(ref.name)
            guard let a = d["address"], !a.isEmpty else {
                throw NotifyError("failed to get proxy URL: secret '\(ns)/\(ref.name)': key 'address' not found")
            }
            var url = trimSpace(a)
            if let u = d["username"], !u.isEmpty, let r = url.firstRange(of: "://") {
                url.insert(contentsOf: "\(percentEncode(u)):\(percentEncode(d["password"] ?? ""))@", at: r.upperBound)
            }
            proxy = url
        }
        if let p = proxy, !(p.hasPrefix("http://") || p.hasPrefix("https://") || p.hasPrefix("socks5://")) {
            throw NotifyError("invalid proxy URL: it must start with http://, https:// or socks5://")
        }
        var tlsSource: [String: String]?
        if let ref = p.spec.certSecretRef { tlsSource = try secretData(ref.name) } else if Notifier.commitStatusTypes.contains(type), secret["ca.crt"] != nil {
            tlsSource = secret
        }
        if let t = tlsSource {
            if let ca = t["ca.crt"] ?? t["caFile"] { tls.caData = Array(ca.utf8) }
            let cert = t["tls.crt"] ?? t["certFile"], key = t["tls.key"] ?? t["keyFile"]
            if (cert == nil) != (key == nil) { throw NotifyError("failed to get TLS config: both tls.crt and tls.key are needed for a client certificate") }
            if let cert, let key {
                tls.clientCertData = Array(cert.utf8)
                tls.clientKeyData = Array(key.utf8)
            }
        }
    }
}

func trimSpace(_ s: String) -> String {
    var sub = Substring(s)
    while let f = sub.first, f.isWhitespace { sub.removeFirst() }
    while let l = sub.last, l.isWhitespace { sub.removeLast() }
    return String(sub)
}

/// Sends one event through one provider type, with the headers, payloads and URLs of notification-controller's
/// notifier package.
struct ProviderSender {
    let settings: ProviderSettings

    /// One request to the provider. The Secret's credentials go only to the address's origin (redirects to another
    /// host lose them, as Go's client drops Authorization); transport failures are described without the URL.
    @discardableResult
    func request(_ method: String, _ url: String, _ headers: [(String, String)], _ body: [UInt8]?,
                 expect: ClosedRange<Int> = 200...299, what: String = "postMessage failed") throws -> HTTPResponse {
        var sensitive = HTTPRedirect.credentialHeaders
        for (k, _) in headers + settings.headers {
            let l = k.lowercased()
            if !["content-type", "accept", "user-agent", "gotk-component"].contains(l) { sensitive.insert(l) }
        }
        var all = headers
        for (k, v) in settings.headers where !all.contains(where: { $0.0.lowercased() == k.lowercased() }) { all.append((k, v)) }
        var req = HTTPRequest(method: method, url: url, headers: all, body: body, timeout: settings.timeout, maxBody: HTTPLimits.small)
        req.proxy = settings.proxy
        let resp: HTTPResponse
        do {
            resp = try HTTPClient().performFollowing(req, tls: settings.tls, sensitive: sensitive).0
        } catch let t as TransportError {
            throw NotifyError(Self.describe(t, what))
        }
        guard expect.contains(resp.status) else { throw NotifyError("\(what): HTTP \(resp.status)") }
        return resp
    }

    /// A transport failure without the address (webhook URLs carry their token in the path or host).
    static func describe(_ t: TransportError, _ what: String) -> String {
        switch t.kind {
        case .refused: return "\(what): connection refused"
        case .unresolved: return "\(what): cannot resolve the host name"
        case .timeout: return "\(what): timed out"
        case .tls: return "\(what): TLS handshake failed (check the Provider's certificate and ca.crt)"
        case .reset: return "\(what): the connection was dropped"
        case .tooLarge: return "\(what): the answer is too large"
        case .redirect: return "\(what): the address redirects where fluxs does not follow (to plain http, or too often)"
        case .aborted, .other: return "\(what): the request could not be sent"
        }
    }

    func requireAddress() throws -> String {
        let a = settings.address
        guard !a.isEmpty else { throw NotifyError("the Provider has no address") }
        guard a.hasPrefix("http://") || a.hasPrefix("https://") else { throw NotifyError("the Provider address is not an http(s) URL") }
        return a
    }

    static let json: [(String, String)] = [("Content-Type", "application/json")]

    func post(_ o: Outgoing) throws {
        switch settings.type {
        case "generic", "generic-hmac": try generic(o)
        case "slack", "discord", "rocket": try slackFamily(o)
        case "msteams": try msteams(o)
        case "googlechat": try googlechat(o)
        case "telegram": try telegram(o)
        case "matrix": try matrix(o)
        case "lark": try lark(o)
        case "webex": try webex(o)
        case "opsgenie": try opsgenie(o)
        case "pagerduty": try pagerduty(o)
        case "alertmanager": try alertmanager(o)
        case "grafana": try grafana(o)
        case "datadog": try datadog(o)
        case "nats": try nats(o)
        case "github": try github(o)
        case "gitlab": try gitlab(o)
        case "gitea": try gitea(o)
        case "bitbucket": try bitbucket(o)
        case "bitbucketserver": try bitbucketServer(o)
        case "azuredevops": try azureDevOps(o)
        case "sentry", "googlepubsub", "azureeventhub":
            throw NotifyError("provider type '\(settings.type)' is not supported by fluxs: its events are sent through the vendor's SDK, which fluxs does not have")
        default:
            throw NotifyError("provider type '\(settings.type)' is not supported by fluxs")
        }
    }

    // MARK: generic, generic-hmac

    func generic(_ o: Outgoing) throws {
        let url = try requireAddress()
        let body = try o.event.json(metadata: o.metadata)
        var headers = Self.json + [("gotk-component", o.event.reportingController)]
        if settings.type == "generic-hmac" {
            guard !settings.token.isEmpty else { throw NotifyError("generic-hmac needs a 'token' in the Provider's Secret") }
            headers.append(("X-Signature", "sha256=" + hexString(Hashing.hmacSHA256(key: Array(settings.token.utf8), message: body))))
        }
        try request("POST", url, headers, body)
    }

    // MARK: slack, discord, rocket

    func slackFamily(_ o: Outgoing) throws {
        var url = try requireAddress()
        if settings.type == "discord" && !url.hasSuffix("/slack") { url += url.hasSuffix("/") ? "slack" : "/slack" }
        let body = try Self.slack(o.event, metadata: o.metadata, channel: settings.channel, username: settings.username)
        var headers = Self.json
        if settings.type == "slack", !settings.token.isEmpty { headers.append(("Authorization", "Bearer " + settings.token)) }
        try request("POST", url, headers, body)
    }

    /// Slack's webhook payload as notification-controller builds it (Discord and Rocket.Chat take the same).
    static func slack(_ e: NotificationEvent, metadata: [String: String], channel: String, username: String) throws -> [UInt8] {
        let author = "\(e.kind.lowercased())/\(e.name).\(e.namespace)"
        let firstLine = String(e.message.split(separator: "\n", omittingEmptySubsequences: false).first ?? "")
        let fields: [Node] = metadata.sorted { $0.key < $1.key }.map { .map([("title", .string($0.key)), ("value", .string($0.value)), ("short", .bool(false))]) }
        let attachment: Node = .map([
            ("fallback", .string("\(author): \(firstLine)")), ("color", .string(e.severity == "error" ? "danger" : "good")),
            ("author_name", .string(author)), ("text", .string(e.message)), ("mrkdwn_in", .sequence(["text"])), ("fields", .sequence(fields)),
        ])
        return try JSON.encodeBytes(.map([
            ("channel", .string(channel)), ("username", .string(username.isEmpty ? e.reportingController : username)),
            ("icon_url", ""), ("icon_emoji", ""),
            ("attachments", .sequence([attachment])),
        ]))
    }
}
