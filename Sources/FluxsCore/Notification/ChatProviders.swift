import FluxsKube
import FluxsYAML

/// Chat and alerting providers with notification-controller's payloads (internal/notifier). Where upstream ranges
/// over the metadata map (Go's random order) fluxs sorts the keys, so a message is the same every time.
extension ProviderSender {
    /// `<kind>/<name>.<namespace>`, the object as the chat providers name it.
    static func objectName(_ e: NotificationEvent) -> String { "\(e.kind.lowercased())/\(e.name).\(e.namespace)" }

    func sorted(_ m: [String: String]) -> [(key: String, value: String)] { m.sorted { $0.key < $1.key } }

    func postJSON(_ url: String, _ payload: Node, headers: [(String, String)] = [], what: String = "postMessage failed") throws {
        try request("POST", url, Self.json + headers, try JSON.encodeBytes(payload), what: what)
    }

    // MARK: msteams

    /// The adaptive card (the Workflows webhooks), or the deprecated MessageCard for `*.webhook.office.com` hosts.
    func msteams(_ o: Outgoing) throws {
        let url = try requireAddress()
        let e = o.event
        let obj = Self.objectName(e)
        let payload: Node
        if let host = HTTPOrigin(url)?.host, host.hasSuffix(".webhook.office.com") {
            let facts: [Node] = sorted(o.metadata).map { .map([("name", .string($0.key)), ("value", .string($0.value))]) }
            payload = .map([
                ("@type", "MessageCard"), ("@context", "http://schema.org/extensions"),
                ("themeColor", .string(e.severity == "error" ? "FF0000" : "0076D7")), ("summary", .string(obj)),
                ("sections", .sequence([.map([("activityTitle", .string(e.message)), ("activitySubtitle", .string(obj)),
                                              ("facts", .sequence(facts))])])),
            ])
        } else {
            var facts: [Node] = []
            if let s = o.metadata["summary"] { facts.append(.map([("title", "summary"), ("value", .string(s))])) }
            for (k, v) in sorted(o.metadata) where k != "summary" { facts.append(.map([("title", .string(k)), ("value", .string(v))])) }
            var message: [(String, Node)] = [("type", "TextBlock"), ("text", .string(e.message))]
            if e.severity == "error" { message.append(("color", "attention")) }
            message.append(("wrap", .bool(true)))
            var factSet: [(String, Node)] = [("type", "FactSet")]
            if !facts.isEmpty { factSet.append(("facts", .sequence(facts))) }
            let items: [Node] = [
                .map([("type", "TextBlock"), ("text", .string(obj)), ("size", "large"), ("weight", "bolder"), ("wrap", .bool(true))]),
                .map(message), .map(factSet),
            ]
            payload = .map([
                ("type", "message"),
                ("attachments", .sequence([.map([
                    ("contentType", "application/vnd.microsoft.card.adaptive"),
                    ("content", .map([
                        ("$schema", "http://adaptivecards.io/schemas/adaptive-card.json"), ("type", "AdaptiveCard"), ("version", "1.4"),
                        ("body", .sequence([.map([("type", "Container"), ("items", .sequence(items))])])),
                        ("msteams", .map([("width", "Full")])),
                    ])),
                ])])),
            ])
        }
        try postJSON(url, payload)
    }

    // MARK: googlechat

    func googlechat(_ o: Outgoing) throws {
        let url = try requireAddress()
        let e = o.event
        let text = e.severity == "error" ? "<font color=\"#ff0000\">\(e.message)</font>" : e.message
        func widget(paragraph: Node = .null, keyValue: Node = .null) -> Node { .map([("textParagraph", paragraph), ("keyValue", keyValue)]) }
        var sections: [Node] = [.map([("header", ""), ("widgets", .sequence([widget(paragraph: .map([("text", .string(text))]))]))])]
        if !o.metadata.isEmpty {
            let kv: [Node] = sorted(o.metadata).map {
                widget(keyValue: .map([("topLabel", .string($0.key)), ("content", .string($0.value)), ("contentMultiline", .bool(false)),
                                       ("bottomLabel", .null), ("icon", .null)]))
            }
            sections.append(.map([("header", ""), ("widgets", .sequence(kv))]))
        }
        let header: Node = .map([("title", .string(Self.objectName(e))), ("subtitle", .string(e.reportingController)),
                                 ("imageUrl", .null), ("imageStyle", .null)])
        try postJSON(url, .map([("cards", .sequence([.map([("header", header), ("sections", .sequence(sections))])]))]))
    }

    // MARK: telegram

    /// Telegram's MarkdownV2 escaping as notification-controller does it.
    static func telegramEscape(_ s: String) -> String {
        let special = Set("\\.-_[]()~>`#+=|{}!*")
        var out = ""
        for c in s {
            if special.contains(c) { out.append("\\") }
            out.append(c)
        }
        return out
    }

    func telegram(_ o: Outgoing) throws {
        guard !settings.channel.isEmpty else { throw NotifyError("empty Telegram channel") }
        guard !settings.token.isEmpty else { throw NotifyError("empty Telegram token") }
        let e = o.event
        let emoji = e.severity == "error" ? "🚨" : "💫"
        let heading = "\(emoji) \(e.kind.lowercased())/\(e.name)/\(e.namespace)"
        let metadata = sorted(o.metadata).map { "\\- *\(Self.telegramEscape($0.key))*: \(Self.telegramEscape($0.value))\n" }.joined()
        let message = "*\(Self.telegramEscape(heading))*\n\(Self.telegramEscape(e.message))\n\(metadata)"
        var fields: [(String, Node)] = []
        if let colon = settings.channel.firstIndex(of: ":") {
            fields.append(("chat_id", .string(String(settings.channel[..<colon]))))
            fields.append(("message_thread_id", .string(String(settings.channel[settings.channel.index(after: colon)...]))))
        } else {
            fields.append(("chat_id", .string(settings.channel)))
        }
        fields += [("text", .string(message)), ("parse_mode", "MarkdownV2")]
        // The Bot API at api.telegram.org; fluxs takes spec.address as the base of a local Bot API server.
        var base = settings.address.isEmpty ? "https://api.telegram.org" : settings.address
        while base.hasSuffix("/") { base.removeLast() }
        try postJSON("\(base)/bot\(settings.token)/sendMessage", .map(fields))
    }

    // MARK: matrix

    func matrix(_ o: Outgoing) throws {
        let url = try requireAddress()
        let e = o.event
        // The transaction ID: SHA-1 of the event's JSON.
        let tx = Hashing.sha1Hex(String(decoding: try e.json(metadata: o.metadata), as: UTF8.self))
        let emoji = e.severity == "error" ? "🚨" : "💫"
        let metadata = sorted(o.metadata).map { "- \($0.key): \($0.value)\n" }.joined()
        let body = "\(emoji) \(Self.objectName(e))\n\(e.message)\n\(metadata)"
        let payload: Node = .map([("body", .string(body)), ("msgtype", "m.text")])
        try request("PUT", "\(url)/_matrix/client/r0/rooms/\(settings.channel)/send/m.room.message/\(tx)",
                    Self.json + [("Authorization", "Bearer " + settings.token)], try JSON.encodeBytes(payload))
    }

    // MARK: lark

    func lark(_ o: Outgoing) throws {
        let url = try requireAddress()
        let e = o.event
        let (emoji, color) = e.severity == "error" ? ("🚨", "red") : ("💫", "turquoise")
        let message = "**\(e.message)**\n\n" + sorted(o.metadata).map { "\($0.key): \($0.value)\n" }.joined()
        let card: Node = .map([
            ("config", .map([("wide_screen_mode", .bool(true))])),
            ("header", .map([("title", .map([("tag", "plain_text"), ("content", .string("\(emoji) \(Self.objectName(e))"))])),
                             ("template", .string(color))])),
            ("elements", .sequence([.map([("tag", "div"), ("text", .map([("tag", "lark_md"), ("content", .string(message))]))])])),
        ])
        try postJSON(url, .map([("msg_type", "interactive"), ("card", card)]))
    }

    // MARK: webex

    func webex(_ o: Outgoing) throws {
        let url = try requireAddress()
        let e = o.event
        var md = "\(e.severity == "error" ? "💣" : "✅") **\(Self.objectName(e))**\n\(e.message)\n"
        for (k, v) in sorted(o.metadata) { md += ">**\(k)**: \(v)\n" }
        var fields: [(String, Node)] = []
        if !settings.channel.isEmpty { fields.append(("roomId", .string(settings.channel))) }
        fields.append(("markdown", .string(md)))
        try postJSON(url, .map(fields), headers: [("Authorization", "Bearer " + settings.token)])
    }

    // MARK: opsgenie

    func opsgenie(_ o: Outgoing) throws {
        let url = try requireAddress()
        guard !settings.token.isEmpty else { throw NotifyError("empty Opsgenie apikey/token") }
        let e = o.event
        var details = o.metadata
        details["severity"] = e.severity
        let alias = Hashing.sha256Hex("\(settings.uid)/\(e.kind)/\(e.namespace)/\(e.name)/\(e.reason)")
        let payload: Node = .map([
            ("message", .string("\(e.kind)/\(e.name)")), ("alias", .string(alias)), ("description", .string(e.message)),
            ("details", .map(sorted(details).map { ($0.key, .string($0.value)) })),
        ])
        try postJSON(url, payload, headers: [("Authorization", "GenieKey " + settings.token)])
    }

    // MARK: pagerduty

    func pagerduty(_ o: Outgoing) throws {
        let address = try requireAddress()
        let e = o.event
        if o.hasReason("Progressing") { return }
        guard let origin = HTTPOrigin(address) else { throw NotifyError("invalid PagerDuty endpoint URL") }
        let scheme = origin.scheme
        var hostPort = String(address.dropFirst(scheme.count + 3))
        if let end = hostPort.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) { hostPort = String(hostPort[..<end]) }
        if let at = hostPort.lastIndex(of: "@") { hostPort = String(hostPort[hostPort.index(after: at)...]) }
        let endpoint = "\(scheme)://\(hostPort)"
        let (name, desc) = Self.nameAndDescription(e)
        let metadata: Node = .map(sorted(o.metadata).map { ($0.key, .string($0.value)) })
        let details: Node = .map([("message", .string(e.message)), ("metadata", o.metadata.isEmpty ? .null : metadata)])
        var event: [(String, Node)] = [("routing_key", .string(settings.channel)), ("event_action", .string(e.severity == "error" ? "trigger" : "resolve"))]
        let uid = e.involvedObject["uid"]?.string ?? ""
        if !uid.isEmpty { event.append(("dedup_key", .string(uid))) }
        if e.severity == "error" {
            var payload: [(String, Node)] = [("summary", .string(desc + ": " + name)), ("source", .string("Flux " + e.reportingController)),
                                             ("severity", "error"), ("timestamp", .string(e.timestamp))]
            if !e.name.isEmpty { payload.append(("component", .string(e.name))) }
            if !e.kind.isEmpty { payload.append(("group", .string(e.kind))) }
            payload.append(("custom_details", details))
            event.append(("payload", .map(payload)))
        }
        try postJSON(endpoint + "/v2/enqueue", .map(event), what: "failed sending event")
        if e.severity == "info" {
            let change: Node = .map([
                ("routing_key", .string(settings.channel)),
                ("payload", .map([("source", .string("Flux " + e.reportingController)), ("summary", .string(desc + ": " + name)),
                                  ("timestamp", .string(e.timestamp)), ("custom_details", details)])),
            ])
            try postJSON(endpoint + "/v2/change/enqueue", change, what: "failed sending change event")
        }
    }

    // MARK: alertmanager

    /// Go's cases.Title for one word: the first letter upper case, the rest lower case.
    static func title(_ s: String) -> String { s.prefix(1).uppercased() + s.dropFirst().lowercased() }

    func alertmanager(_ o: Outgoing) throws {
        let url = try requireAddress()
        let e = o.event
        var labels = o.metadata
        var annotations: [String: String] = ["message": e.message]
        if let s = labels.removeValue(forKey: "summary") { annotations["summary"] = s }
        labels["alertname"] = "Flux" + e.kind + Self.title(e.reason)
        labels["severity"] = e.severity
        labels["reason"] = e.reason
        labels["kind"] = e.kind
        labels["name"] = e.name
        labels["namespace"] = e.namespace
        labels["reportingcontroller"] = e.reportingController
        let alert: Node = .map([
            ("status", "firing"), ("labels", .map(sorted(labels).map { ($0.key, .string($0.value)) })),
            ("annotations", .map(sorted(annotations).map { ($0.key, .string($0.value)) })),
            ("startsAt", .string(e.timestamp)), ("endsAt", "0001-01-01T00:00:00Z"),
        ])
        var headers: [(String, String)] = []
        if !settings.username.isEmpty && !settings.password.isEmpty {
            headers.append(("Authorization", "Basic " + Base64.encode(settings.username + ":" + settings.password)))
        } else if !settings.token.isEmpty {
            headers.append(("Authorization", "Bearer " + settings.token))
        }
        try postJSON(url, .sequence([alert]), headers: headers)
    }

    // MARK: grafana

    func grafana(_ o: Outgoing) throws {
        let url = try requireAddress()
        let e = o.event
        var tags = ["flux", e.reportingController]
        for (k, v) in sorted(o.metadata) { tags.append("\(k.replacingAll(":", with: "|")): \(v.replacingAll(":", with: "|"))") }
        tags += ["kind: \(e.kind)", "name: \(e.name)", "namespace: \(e.namespace)"]
        let when = Int(Clock.parse(e.timestamp) ?? Clock.now())
        let payload: Node = .map([("when", .scalar(Scalar(String(when), tag: .int))), ("text", .string(Self.objectName(e))),
                                  ("tags", .sequence(tags.map { .string($0) }))])
        var headers: [(String, String)] = []
        if !settings.token.isEmpty {
            headers.append(("Authorization", "Bearer " + settings.token))
        } else if !settings.username.isEmpty && !settings.password.isEmpty {
            headers.append(("Authorization", "Basic " + Base64.encode(settings.username + ":" + settings.password)))
        }
        try postJSON(url, payload, headers: headers)
    }

    // MARK: datadog

    func datadog(_ o: Outgoing) throws {
        guard !settings.token.isEmpty else { throw NotifyError("token cannot be empty") }
        let address = settings.address.isEmpty ? "https://api.datadoghq.com" : settings.address
        guard let origin = HTTPOrigin(address) else { throw NotifyError("failed to parse the address") }
        var hostPort = String(address.dropFirst(origin.scheme.count + 3))
        if let end = hostPort.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) { hostPort = String(hostPort[..<end]) }
        let e = o.event
        var tags = ["flux_reporting_controller:\(e.reportingController)", "flux_reason:\(e.reason)", "kube_kind:\(e.kind)",
                    "kube_name:\(e.name)", "kube_namespace:\(e.namespace)"]
        for (k, v) in sorted(o.metadata) { tags.append("\(k):\(v)") }
        let when = Int(Clock.parse(e.timestamp) ?? Clock.now())
        // datadog-api-client-go marshals the request as a map: keys sorted.
        let payload: Node = .map([
            ("alert_type", .string(e.severity == "error" ? "error" : "info")),
            ("date_happened", .scalar(Scalar(String(when), tag: .int))),
            ("source_type_name", "fluxcd"),
            ("tags", .sequence(tags.map { .string($0.lowercased()) })),
            ("text", .string(e.message)),
            ("title", .string("Events from the \(e.kind) \(e.name)/\(e.namespace)")),
        ])
        try postJSON("\(origin.scheme)://\(hostPort)/api/v1/events", payload,
                     headers: [("Accept", "application/json"), ("DD-API-KEY", settings.token)], what: "failed to post event to DataDog")
    }
}
