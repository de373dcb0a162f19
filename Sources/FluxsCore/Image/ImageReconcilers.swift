import FluxsAPI
import FluxsKube
import FluxsYAML

/// The tags of an ImageRepository's image, as image-reflector-controller scans them: credentials from its
/// dockerconfigjson Secret, its CA from certSecretRef, tags matching the exclusion list left out.
enum ImageScan {
    typealias Failure = ReconcileFailure

    static func secretData(_ kube: KubeClient, _ ns: String, _ name: String) throws -> [String: String] {
        guard let data = try kube.stringData(of: .secrets, namespace: ns, name: name) else {
            throw Failure(reason: "AuthenticationFailed", message: "secret '\(ns)/\(name)' not found")
        }
        return data
    }

    /// The registry client of an ImageRepository: its image, credentials, CA and timeout.
    static func client(_ spec: ImageRepositorySpec, namespace ns: String, kube: KubeClient) throws -> RegistryClient {
        let name: ImageName
        do { name = try ImageName(spec.image) } catch { throw Failure(reason: "ImageURLInvalid", message: "\(error)") }
        if !spec.provider.isEmpty && spec.provider != "generic" {
            throw Failure(reason: "AuthenticationFailed", message: "provider '\(spec.provider)' is not supported by fluxs yet")
        }
        if spec.proxySecretRef != nil || !spec.serviceAccountName.isEmpty {
            throw Failure(reason: "AuthenticationFailed", message: "proxySecretRef and serviceAccountName are not supported by fluxs yet")
        }
        let client = RegistryClient(name: name, insecure: spec.insecure, timeout: 60)
        client.timeout = min(spec.timeout.flatMap { try? GoDuration.parse($0.text) } ?? (try? GoDuration.parse(spec.interval.text)) ?? 60,
                             max(1, kube.remaining))
        if let ref = spec.secretRef {
            let data = try secretData(kube, ns, ref.name)
            guard let config = data[".dockerconfigjson"] ?? data[".dockercfg"] else {
                throw Failure(reason: "AuthenticationFailed", message: "secret '\(ns)/\(ref.name)' has no .dockerconfigjson")
            }
            client.credentials = (try? RegistryCredentials.fromDockerConfig(config, registry: name.registry)) ?? nil
        }
        if let ref = spec.certSecretRef {
            let data = try secretData(kube, ns, ref.name)
            if let ca = data["ca.crt"] ?? data["caFile"] { client.caData = Array(ca.utf8) }
        }
        return client
    }

    static func scan(_ spec: ImageRepositorySpec, namespace ns: String, kube: KubeClient) throws -> (ImageName, [String]) {
        let client = try client(spec, namespace: ns, kube: kube)
        let name = client.name
        let tags: [String]
        do { tags = try client.tags() } catch let e as ImageError {
            let auth = e.description.contains("authentication")
            throw Failure(reason: auth ? "AuthenticationFailed" : "ReadOperationFailed", message: e.description)
        }
        let exclusion = spec.exclusionList.isEmpty ? ["^.*\\.sig$"] : spec.exclusionList
        var regexes: [Regex<AnyRegexOutput>] = []
        for p in exclusion {
            do { regexes.append(try Regex(p)) } catch {
                throw Failure(reason: "ReconciliationFailed", message: "invalid exclusion regex '\(p)': \(error)")
            }
        }
        return (name, tags.filter { t in !regexes.contains { t.contains($0) } })
    }
}

/// Shared status writing of the image reconcilers (image-reflector-controller's field manager and conditions).
struct ImageStatusWriter {
    static let controller = "image-reflector-controller"
    let kube: KubeClient
    let ref: ResourceRef
    let object: Node

    func write(_ status: Node, fieldManager: String = Self.controller) throws -> Node {
        try kube.patch(ref, namespace: object["metadata"]?["namespace"]?.string ?? "", name: object["metadata"]?["name"]?.string ?? "",
                       type: .merge, patch: ["status": status], subresource: "status", fieldManager: fieldManager)
    }
}

/// ImageRepository: scans the registry and records what image-reflector-controller records.
public struct ImageRepositoryReconciler: OnDemandReconciler {
    public init() {}

    public func reconcile(_ object: Node, env: ReconcileEnv) throws -> Node {
        let input = try ReconcileInput<ImageRepositorySpec, ImageRepositoryStatus>(object, defaultStatus: ImageRepositoryStatus())
        let (ns, generation, spec) = (input.namespace, input.generation, input.spec)
        var status = input.status
        let recorder = EventRecorder(kube: env.kube, component: ImageStatusWriter.controller, storage: env.storage, warn: env.warn)
        let now = Clock.rfc3339()
        if let requested = input.requested { status.lastHandledReconcileAt = requested }
        let message: String
        let failed: Bool
        do {
            let (name, tags) = try ImageScan.scan(spec, namespace: ns, kube: env.kube)
            status.canonicalImageName = name.canonical
            var result = ScanResult()
            result.tagCount = tags.count
            result.scanTime = Time(now)
            let sorted = tags.sorted()
            result.latestTags = Array(sorted.reversed().prefix(10))
            result.revision = Hashing.sha256Hex(Array(sorted.joined(separator: "\n").utf8))
            status.lastScanResult = result
            status.observedExclusionList = spec.exclusionList
            message = "successful scan: found \(tags.count) tags"
            status.conditions.delete(ConditionType.reconciling)
            status.conditions.delete(ConditionType.stalled)
            status.conditions.set(ConditionType.ready, true, reason: "Succeeded", message: message, generation: generation, now: now)
            status.observedGeneration = generation
            env.log(message)
            failed = false
        } catch let f as ImageScan.Failure {
            message = f.message
            status.conditions.set(ConditionType.reconciling, true, reason: "ProgressingWithRetry", message: f.message, generation: generation, now: now)
            status.conditions.set(ConditionType.ready, false, reason: f.reason, message: f.message, generation: generation, now: now)
            failed = true
        }
        let out = try ImageStatusWriter(kube: env.kube, ref: FluxKinds.imageRepository.resource, object: object).write(try APICoding.node(status))
        if failed {
            recorder.record(out, type: "Warning", reason: Obj.condition(out, "Ready")?["reason"]?.string ?? "ReconciliationFailed", message: message)
        }
        return out
    }
}

/// ImagePolicy: selects the latest tag of its ImageRepository by semver range, alphabetical or numerical order.
public struct ImagePolicyReconciler: OnDemandReconciler {
    public init() {}

    typealias Failure = ReconcileFailure

    public func reconcile(_ object: Node, env: ReconcileEnv) throws -> Node {
        let kube = env.kube
        let input = try ReconcileInput<ImagePolicySpec, ImagePolicyStatus>(object, defaultStatus: ImagePolicyStatus())
        let (ns, generation, spec) = (input.namespace, input.generation, input.spec)
        var status = input.status
        let recorder = EventRecorder(kube: kube, component: ImageStatusWriter.controller, storage: env.storage, warn: env.warn)
        let now = Clock.rfc3339()
        if let requested = input.requested { status.lastHandledReconcileAt = requested }
        var event: (type: String, reason: String, message: String)?
        do {
            let repoNS = spec.imageRepositoryRef.namespace.isEmpty ? ns : spec.imageRepositoryRef.namespace
            let repoName = spec.imageRepositoryRef.name
            guard let repoObject = try kube.getIfExists(FluxKinds.imageRepository.resource, namespace: repoNS, name: repoName) else {
                throw Failure(reason: "DependencyNotReady", message: "referenced ImageRepository '\(repoNS)/\(repoName)' not found")
            }
            if spec.digestReflectionPolicy == "Always" && spec.interval == nil {
                throw Failure(reason: "IntervalNotConfigured", message: "spec.interval must be set when spec.digestReflectionPolicy is set to 'Always'")
            }
            let repoSpec = try APICoding.decode(ImageRepositorySpec.self, from: repoObject["spec"] ?? .emptyMap)
            let tags: [String]
            do { tags = try ImageScan.scan(repoSpec, namespace: repoNS, kube: kube).1 } catch let f as ImageScan.Failure {
                throw Failure(reason: "DependencyNotReady", message: "cannot list the tags of ImageRepository '\(repoNS)/\(repoName)': \(f.message)")
            }
            let tag = try select(tags, spec)
            var ref = ImageRef()
            ref.name = repoSpec.image
            ref.tag = tag
            // Digest reflection (image-reflector-controller updateImageRefs): IfNotPresent keeps a known digest of
            // the same name and tag, Always asks the registry every time.
            let previous = status.latestRef
            switch spec.digestReflectionPolicy {
            case "IfNotPresent", "Always":
                if spec.digestReflectionPolicy == "IfNotPresent", let p = previous, p.name == ref.name, p.tag == ref.tag, !p.digest.isEmpty {
                    ref.digest = p.digest
                } else {
                    do { ref.digest = try ImageScan.client(repoSpec, namespace: repoNS, kube: kube).digest(tag: tag) } catch let e as ImageError {
                        throw Failure(reason: "ReconciliationFailed", message: "failed fetching digest of \(ref.name):\(tag): \(e.description)")
                    }
                }
            default:
                break
            }
            if previous != ref {
                status.observedPreviousRef = previous
                status.latestRef = ref
            }
            let message = Self.readyMessage(status)
            if let p = previous, p != ref {
                event = ("Normal", "Succeeded", "Latest image tag for \(ref.name) updated from \(p.tag) to \(tag)")
            } else if previous == nil {
                event = ("Normal", "Succeeded", message)
            }
            status.conditions.delete(ConditionType.reconciling)
            status.conditions.delete(ConditionType.stalled)
            status.conditions.set(ConditionType.ready, true, reason: "Succeeded", message: message, generation: generation, now: now)
            status.observedGeneration = generation
        } catch let f as Failure {
            status.conditions.set(ConditionType.reconciling, true, reason: "ProgressingWithRetry", message: f.message, generation: generation, now: now)
            status.conditions.set(ConditionType.ready, false, reason: f.reason, message: f.message, generation: generation, now: now)
            event = ("Warning", f.reason, f.message)
        }
        let out = try ImageStatusWriter(kube: kube, ref: FluxKinds.imagePolicy.resource, object: object).write(try APICoding.node(status))
        if let event { recorder.record(out, type: event.type, reason: event.reason, message: event.message) }
        return out
    }

    /// image-reflector-controller's composeImagePolicyReadyMessage.
    static func readyMessage(_ status: ImagePolicyStatus) -> String {
        guard let ref = status.latestRef else { return "" }
        var m = "Latest image tag for \(ref.name) resolved to \(ref.tag)"
        if !ref.digest.isEmpty { m += " with digest \(ref.digest)" }
        if let p = status.observedPreviousRef, p != ref {
            m += " (previously \(p.name):\(p.tag)" + (p.digest.isEmpty ? "" : "@\(p.digest)") + ")"
        }
        return m
    }

    /// The policy's choice among the tags (after filterTags: the pattern, and the extracted value compared).
    func select(_ tags: [String], _ spec: ImagePolicySpec) throws -> String {
        var candidates: [(tag: String, value: String)] = tags.map { ($0, $0) }
        if let filter = spec.filterTags, !filter.pattern.isEmpty {
            let regex: Regex<AnyRegexOutput>
            do { regex = try Regex(filter.pattern) } catch {
                throw Failure(reason: "InvalidPolicySelector", message: "invalid regular expression pattern '\(filter.pattern)': \(error)")
            }
            candidates = tags.compactMap { t in
                guard let m = t.firstMatch(of: regex) else { return nil }
                return (t, filter.extract.isEmpty ? t : Self.expand(filter.extract, m))
            }
        }
        let policy = spec.policy
        let chosen: (tag: String, value: String)?
        if let semver = policy.semver {
            let constraint: SemVerConstraint
            do { constraint = try SemVerConstraint(semver.range) } catch {
                throw Failure(reason: "InvalidPolicySelector", message: "semver parse error: \(error)")
            }
            chosen = constraint.best(candidates) { $0.value }
        } else if let order = policy.alphabetical {
            let sorted = candidates.sorted { $0.value < $1.value }
            chosen = order.order == "desc" ? sorted.first : sorted.last
        } else if let order = policy.numerical {
            let numeric = candidates.compactMap { c in Double(c.value).map { (c, $0) } }
            if numeric.count != candidates.count, let bad = candidates.first(where: { Double($0.value) == nil }) {
                throw Failure(reason: "ReconciliationFailed", message: "failed to parse invalid numeric value '\(bad.value)'")
            }
            let sorted = numeric.sorted { $0.1 < $1.1 }.map(\.0)
            chosen = order.order == "desc" ? sorted.first : sorted.last
        } else {
            throw Failure(reason: "InvalidPolicySelector", message: "no policy set: use semver, alphabetical or numerical")
        }
        guard let chosen else {
            throw Failure(reason: "ReconciliationFailed", message: "unable to determine latest version from provided list")
        }
        return chosen.tag
    }

    /// Go's regexp.Expand for `$name`, `${name}` and `$1`.
    static func expand(_ template: String, _ m: Regex<AnyRegexOutput>.Match) -> String {
        var out = ""
        var chars = Substring(template)
        func group(_ key: String) -> String {
            if let i = Int(key), i < m.output.count { return m.output[i].substring.map(String.init) ?? "" }
            return m.output[key]?.substring.map(String.init) ?? ""
        }
        while let c = chars.first {
            chars.removeFirst()
            guard c == "$" else { out.append(c); continue }
            if chars.first == "{", let close = chars.firstIndex(of: "}") {
                out += group(String(chars[chars.index(after: chars.startIndex)..<close]))
                chars = chars[chars.index(after: close)...]
            } else {
                let name = chars.prefix { $0.isLetter || $0.isNumber || $0 == "_" }
                if name.isEmpty { out.append("$"); continue }
                out += group(String(name))
                chars = chars.dropFirst(name.count)
            }
        }
        return out
    }
}
