import FluxsAPI
import FluxsKube
import FluxsYAML

/// An event as Flux controllers send it to notification-controller (fluxcd/pkg/apis/event v1beta1 Event).
public struct NotificationEvent {
    public var involvedObject: Node
    public var severity: String
    public var timestamp: String
    public var message: String
    public var reason: String
    /// Annotation-style keys (`<group>/<key>`); notification-controller strips the involved object's group.
    public var metadata: [String: String]
    public var reportingController: String

    var kind: String { involvedObject["kind"]?.string ?? "" }
    var name: String { involvedObject["name"]?.string ?? "" }
    var namespace: String { involvedObject["namespace"]?.string ?? "" }
    var group: String {
        let av = involvedObject["apiVersion"]?.string ?? ""
        return av.contains("/") ? String(av.split(separator: "/")[0]) : ""
    }

    /// The JSON notification-controller's generic forwarder posts (Go field order; map keys sorted, as encoding/json).
    func json(metadata: [String: String]) throws -> [UInt8] {
        var fields: [(String, Node)] = [("involvedObject", involvedObject), ("severity", .string(severity)),
                                        ("timestamp", .string(timestamp)), ("message", .string(message)), ("reason", .string(reason))]
        if !metadata.isEmpty { fields.append(("metadata", .map(metadata.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }))) }
        fields.append(("reportingController", .string(reportingController)))
        fields.append(("reportingInstance", .string("fluxs")))
        return try JSON.encodeBytes(.map(fields))
    }
}

/// What notification-controller does with an event, done by fluxs for the events its reconcilers record: every
/// Alert whose event sources, severity and inclusion/exclusion lists match sends it through its Provider.
/// Failures to notify never fail a reconciliation; they are reported through `warn` (never with the address,
/// which is often a secret).
public final class Notifier {
    let kube: KubeClient
    let warn: (String) -> Void

    public init(kube: KubeClient, warn: @escaping (String) -> Void) {
        self.kube = kube
        self.warn = warn
    }

    /// The cluster's Alerts, listed once per reconciliation (empty when the kind is not installed).
    private lazy var alerts: [Node] = (try? kube.list(FluxKinds.alert.resource, namespace: nil).items) ?? []

    public func dispatch(_ event: NotificationEvent) {
        for a in alerts {
            guard let alert = try? APICoding.decode(Alert.self, from: a), matches(alert, event) else { continue }
            do { try send(event, alert: alert) } catch {
                warn("failed to send notification for \(event.kind)/\(event.namespace)/\(event.name) through Provider \(alert.metadata.namespace)/\(alert.spec.providerRef.name): \(error)")
            }
        }
    }

    func matches(_ alert: Alert, _ e: NotificationEvent) -> Bool {
        if alert.spec.suspend { return false }
        let severity = alert.spec.eventSeverity.isEmpty ? "info" : alert.spec.eventSeverity
        let sourced = alert.spec.eventSources.contains { s in
            let ns = s.namespace.isEmpty ? alert.metadata.namespace : s.namespace
            guard e.namespace == ns, e.kind == s.kind, e.severity == severity || severity == "info" else { return false }
            guard s.name == "*" || s.name == e.name else { return false }
            if s.matchLabels.isEmpty { return true }
            let ref = ResourceRef(group: e.group, version: String((e.involvedObject["apiVersion"]?.string ?? "").split(separator: "/").last ?? ""),
                                  resource: "", kind: e.kind, namespaced: true)
            guard let r = try? kube.resource(apiVersion: e.involvedObject["apiVersion"]?.string ?? "", kind: ref.kind),
                  let live = try? kube.getIfExists(r, namespace: e.namespace, name: e.name) else { return false }
            return s.matchLabels.allSatisfy { live["metadata"]?["labels"]?[$0.key]?.string == $0.value }
        }
        guard sourced else { return false }
        func anyMatch(_ patterns: [String]) -> Bool {
            patterns.contains { p in (try? Regex(p)).map { e.message.contains($0) } ?? false }
        }
        if !alert.spec.inclusionList.isEmpty && !anyMatch(alert.spec.inclusionList) { return false }
        if anyMatch(alert.spec.exclusionList) { return false }
        return true
    }

    /// notification-controller's metadata precedence: event-group keys, the Alert's eventMetadata, its summary, then
    /// the involved object's group keys (prefixes stripped).
    static func metadata(_ e: NotificationEvent, _ alert: Alert) -> [String: String] {
        var out: [String: String] = [:]
        for (k, v) in e.metadata where k.hasPrefix("event.toolkit.fluxcd.io/") { out[String(k.dropFirst(24))] = v }
        for (k, v) in alert.spec.eventMetadata { out[k] = v }
        if !alert.spec.summary.isEmpty { out["summary"] = alert.spec.summary }
        let prefix = e.group + "/"
        for (k, v) in e.metadata where k.hasPrefix(prefix) {
            let key = String(k.dropFirst(prefix.count))
            if key != "token" { out[key] = v }
        }
        return out
    }

    func send(_ e: NotificationEvent, alert: Alert) throws {
        let ns = alert.metadata.namespace
        guard let p = try kube.getIfExists(FluxKinds.provider.resource, namespace: ns, name: alert.spec.providerRef.name) else {
            throw NotifyError("Provider \(ns)/\(alert.spec.providerRef.name) not found")
        }
        let provider = try APICoding.decode(Provider.self, from: p)
        if provider.spec.suspend { return }
        var secret: [String: String] = [:]
        if let ref = provider.spec.secretRef {
            guard let data = try kube.stringData(of: .secrets, namespace: ns, name: ref.name) else {
                throw NotifyError("Secret \(ns)/\(ref.name) not found")
            }
            secret = data
        }
        let address = secret["address"] ?? provider.spec.address
        guard !address.isEmpty else { throw NotifyError("the Provider has no address") }
        guard address.hasPrefix("http://") || address.hasPrefix("https://") else { throw NotifyError("the Provider address is not an http(s) URL") }
        if !provider.spec.proxy.isEmpty || provider.spec.proxySecretRef != nil || secret["proxy"] != nil {
            throw NotifyError("proxies for providers are not supported by fluxs yet")
        }
        let metadata = Self.metadata(e, alert)
        var url = address
        var headers: [(String, String)] = [("Content-Type", "application/json")]
        let body: [UInt8]
        switch provider.spec.type {
        case "generic", "generic-hmac":
            body = try e.json(metadata: metadata)
            headers.append(("gotk-component", e.reportingController))
            if let h = secret["headers"], let extra = try? YAML.parse(h).map {
                for (k, v) in extra.entries { headers.append((k, v.text ?? "")) }
            }
            if provider.spec.type == "generic-hmac" {
                guard let key = secret["token"], !key.isEmpty else { throw NotifyError("generic-hmac needs a 'token' in the Provider's Secret") }
                headers.append(("X-Signature", "sha256=" + hexString(Hashing.hmacSHA256(key: Array(key.utf8), message: body))))
            }
        case "slack", "discord", "rocket":
            if provider.spec.type == "discord" && !url.hasSuffix("/slack") { url += url.hasSuffix("/") ? "slack" : "/slack" }
            body = try Self.slack(e, metadata: metadata, channel: provider.spec.channel, username: provider.spec.username)
            if provider.spec.type == "slack", let token = secret["token"], !token.isEmpty { headers.append(("Authorization", "Bearer " + token)) }
        default:
            throw NotifyError("provider type '\(provider.spec.type)' is not supported by fluxs yet")
        }
        var tls = TLSSettings()
        if let ca = secret["ca.crt"] { tls.caData = Array(ca.utf8) }
        let timeout = provider.spec.timeout.flatMap { try? GoDuration.parse($0.text) } ?? 15
        // notification-controller's HTTP client follows redirects; what the Secret adds (token, extra headers, the
        // signature) goes only to the origin of the address, as Go drops Authorization for another host.
        var sensitive = HTTPRedirect.credentialHeaders
        sensitive.insert("x-signature")
        for (k, _) in headers where k.lowercased() != "content-type" && k.lowercased() != "gotk-component" { sensitive.insert(k.lowercased()) }
        let resp: HTTPResponse
        do {
            resp = try HTTPClient().performFollowing(HTTPRequest(method: "POST", url: url, headers: headers, body: body, timeout: timeout,
                                                                 maxBody: HTTPLimits.small), tls: tls, sensitive: sensitive).0
        } catch let t as TransportError {
            throw NotifyError(Self.describe(t))
        }
        guard (200..<300).contains(resp.status) else { throw NotifyError("postMessage failed: HTTP \(resp.status)") }
    }

    /// A transport failure without the address (webhook URLs carry their token in the path or host).
    static func describe(_ t: TransportError) -> String {
        switch t.kind {
        case .refused: return "postMessage failed: connection refused"
        case .unresolved: return "postMessage failed: cannot resolve the host name"
        case .timeout: return "postMessage failed: timed out"
        case .tls: return "postMessage failed: TLS handshake failed (check the Provider's certificate and ca.crt)"
        case .reset: return "postMessage failed: the connection was dropped"
        case .tooLarge: return "postMessage failed: the answer is too large"
        case .redirect: return "postMessage failed: the address redirects where fluxs does not follow (to plain http, or too often)"
        case .aborted, .other: return "postMessage failed: the request could not be sent"
        }
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

struct NotifyError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

