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

    public init(involvedObject: Node, severity: String, timestamp: String, message: String, reason: String,
                metadata: [String: String], reportingController: String) {
        self.involvedObject = involvedObject
        self.severity = severity
        self.timestamp = timestamp
        self.message = message
        self.reason = reason
        self.metadata = metadata
        self.reportingController = reportingController
    }

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

/// The event as one Alert sends it: the metadata combined as notification-controller combines it.
struct Outgoing {
    var event: NotificationEvent
    var metadata: [String: String]
    var alert: Alert

    var revision: String? { metadata["revision"] }
    func hasReason(_ r: String) -> Bool { event.reason == r }
}

/// What notification-controller does with an event, done by fluxs for the events its reconcilers record: every
/// Alert whose event sources, severity and inclusion/exclusion lists match sends it through its Provider.
/// Failures to notify never fail a reconciliation; they are reported through `warn` (never with the address,
/// which is often a secret) and as a Warning event on the Alert, as notification-controller records it.
public final class Notifier {
    let kube: KubeClient
    let warn: (String) -> Void
    let rateLimit: EventRateLimit

    public init(kube: KubeClient, storage: Storage? = nil, warn: @escaping (String) -> Void) {
        self.kube = kube
        self.warn = warn
        self.rateLimit = EventRateLimit(storage: storage)
    }

    /// The cluster's Alerts, listed once per reconciliation (empty when the kind is not installed). A list that fails
    /// is a warning naming the event it could not notify about, not silence.
    private var alerts: [Node]?

    func listAlerts(for event: NotificationEvent) -> [Node] {
        if let alerts { return alerts }
        do {
            alerts = try kube.list(FluxKinds.alert.resource, namespace: nil).items
        } catch let e as KubeError where e.kind == .notFound {
            alerts = []
        } catch {
            warn("\(event.kind)/\(event.namespace)/\(event.name): Alert list failed (\(event.reason) not notified): \(error)")
            return []
        }
        return alerts ?? []
    }

    public func dispatch(_ event: NotificationEvent) {
        var matched: [(Node, Alert)] = []
        for a in listAlerts(for: event) {
            guard let alert = try? APICoding.decode(Alert.self, from: a), matches(alert, event) else { continue }
            matched.append((a, alert))
        }
        // notification-controller limits duplicates before it looks for Alerts; fluxs keeps a token only for
        // events some Alert would send.
        guard !matched.isEmpty, rateLimit.admit(event) else { return }
        for (node, alert) in matched {
            do { try send(event, alert: alert) } catch {
                let involved = "\(event.kind)/\(event.namespace)/\(event.name)"
                warn("failed to send notification for \(involved) through Provider \(alert.metadata.namespace)/\(alert.spec.providerRef.name): \(error)")
                EventRecorder.create(kube: kube, component: "notification-controller", object: node, type: "Warning",
                                     reason: "NotificationDispatchFailed",
                                     message: "failed to send notification for \(involved): \(error)", annotations: [:], warn: warn)
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
            guard let r = try? kube.resource(apiVersion: e.involvedObject["apiVersion"]?.string ?? "", kind: e.kind),
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
    /// the involved object's group keys (prefixes stripped; token, checksum and digest dropped).
    static func metadata(_ e: NotificationEvent, _ alert: Alert) -> [String: String] {
        var out: [String: String] = [:]
        for (k, v) in e.metadata where k.hasPrefix("event.toolkit.fluxcd.io/") { out[String(k.dropFirst(24))] = v }
        for (k, v) in alert.spec.eventMetadata { out[k] = v }
        if !alert.spec.summary.isEmpty { out["summary"] = alert.spec.summary }
        let prefix = e.group + "/"
        for (k, v) in e.metadata where k.hasPrefix(prefix) {
            let key = String(k.dropFirst(prefix.count))
            if key != "token" && key != "checksum" && key != "digest" { out[key] = v }
        }
        return out
    }

    static let commitStatusTypes: Set<String> = ["github", "gitlab", "gitea", "bitbucketserver", "bitbucket", "azuredevops"]

    func send(_ e: NotificationEvent, alert: Alert) throws {
        let ns = alert.metadata.namespace
        guard let p = try kube.getIfExists(FluxKinds.provider.resource, namespace: ns, name: alert.spec.providerRef.name) else {
            throw NotifyError("failed to read provider: Provider \(ns)/\(alert.spec.providerRef.name) not found")
        }
        let provider = try APICoding.decode(Provider.self, from: p)
        if provider.spec.suspend { return }
        let type = provider.spec.type
        let isGit = Self.commitStatusTypes.contains(type)
        // notification-controller's routing: commit status updates go only to Git and generic providers; Git
        // providers get events with a commit key, commit status updates and failures.
        let statusUpdate = e.metadata[e.group + "/commit_status"] == "update"
        if !isGit && type != "generic" && type != "generic-hmac" && statusUpdate { return }
        let hasCommit = !(e.metadata["event.toolkit.fluxcd.io/commit"] ?? "").isEmpty
        if isGit && !hasCommit && !statusUpdate && e.severity != "error" { return }
        if !provider.spec.serviceAccountName.isEmpty {
            throw NotifyError("spec.serviceAccountName (workload identity) is not supported by fluxs")
        }
        var settings = try ProviderSettings(provider, uid: p["metadata"]?["uid"]?.string ?? "", kube: kube)
        if isGit {
            guard provider.spec.commitStatusExpr.isEmpty else {
                throw NotifyError("spec.commitStatusExpr (a CEL expression) is not supported by fluxs; remove it to use the default commit status")
            }
            // generateDefaultCommitStatus: <kind>/<name>/<first part of the Provider UID>, lower case.
            let uidPart = settings.uid.split(separator: "-", omittingEmptySubsequences: false).first.map(String.init) ?? ""
            settings.commitStatus = "\(e.kind)/\(e.name)/\(uidPart)".lowercased()
        }
        let outgoing = Outgoing(event: e, metadata: Self.metadata(e, alert), alert: alert)
        try ProviderSender(settings: settings).post(outgoing)
    }
}

struct NotifyError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
