import FluxsAPI
import FluxsKube
import FluxsYAML

/// Reconciles an OCIRepository as source-controller does: resolve the reference (digest, semver range over the
/// tags, tag, or `latest`) to `<tag>@sha256:<manifest digest>`, pull the selected layer when the revision or the
/// content settings changed, store it (extracted and archived again with the ignore rules, or copied as it is), and
/// write the status and the NewArtifact event.
public struct OCIRepositoryReconciler: OnDemandReconciler {
    public static let controller = "source-controller"
    /// What one layer may hold once extracted (fluxcd/pkg/tar's default; source-controller has no limit).
    public static let maxExtracted = Tar.maxUntarSize

    public init() {}

    struct Failure: Error, CustomStringConvertible {
        var condition: String
        var reason: String
        var message: String
        /// Stalled: retrying cannot help until the object changes.
        var stalled = false
        var description: String { message }
    }

    public func reconcile(_ object: Node, env: ReconcileEnv) throws -> Node {
        let kube = env.kube
        let res = FluxKinds.ociRepository.resource
        let input = try ReconcileInput<OCIRepositorySpec, OCIRepositoryStatus>(object, defaultStatus: OCIRepositoryStatus())
        let ns = input.namespace, name = input.name, generation = input.generation, spec = input.spec
        let recorder = EventRecorder(kube: kube, component: Self.controller, warn: env.warn)
        func now() -> String { Clock.rfc3339() }
        var status = input.status
        let previous = status.artifact

        status.conditions.set(ConditionType.reconciling, true, reason: "Progressing", message: "reconciliation in progress", generation: generation, now: now())
        if status.conditions.get(ConditionType.ready)?.status != "False" {
            status.conditions.set(ConditionType.ready, Bool?.none, reason: "Progressing", message: "reconciliation in progress", generation: generation, now: now())
        }

        func fail(_ f: Failure) throws -> Node {
            kube.allowGrace(KustomizationReconciler.statusGrace)
            status.conditions.set(f.condition, true, reason: f.reason, message: f.message, generation: generation, now: now())
            if f.stalled {
                status.conditions.delete(ConditionType.reconciling)
                status.conditions.set(ConditionType.stalled, true, reason: f.reason, message: f.message, generation: generation, now: now())
                status.observedGeneration = generation
            } else {
                if let r = status.conditions.get(ConditionType.reconciling) {
                    status.conditions.set(r.type, true, reason: "ProgressingWithRetry", message: r.message, generation: generation, now: now())
                }
                status.conditions.delete(ConditionType.stalled)
            }
            status.conditions.set(ConditionType.ready, false, reason: f.reason, message: f.message, generation: generation, now: now())
            if let r = input.requested { status.lastHandledReconcileAt = r }
            let out = try patchStatus(kube, res, ns, name, status)
            recorder.record(out, type: "Warning", reason: f.reason, message: f.message)
            return out
        }

        do {
            try unsupported(spec)
            let (repoRef, _) = try repository(spec)
            let timeout = spec.timeout.flatMap { try? GoDuration.parse($0.text) } ?? 60
            let client = try self.client(kube, spec, ns, repoRef, timeout: min(timeout, max(1, kube.remaining)))
            // The reference and the revision.
            let ref: OCIReference
            do { ref = try artifactRef(spec, repoRef, client) } catch let e as RegistryError {
                throw Failure(condition: ConditionType.fetchFailed, reason: e.kind == .authentication ? "AuthenticationFailed" : "ReadOperationFailed",
                              message: "failed to determine the artifact tag for '\(spec.url)': \(e.description)")
            }
            let revision: String
            if let d = ref.digest {
                revision = d
            } else {
                do { revision = "\(ref.tag ?? "latest")@" + (try client.digest(ref.identifier)) } catch let e as RegistryError {
                    throw Failure(condition: ConditionType.fetchFailed, reason: e.kind == .authentication ? "AuthenticationFailed" : "OCIPullFailed",
                                  message: "failed to determine artifact digest: \(e.description)")
                }
            }
            let digest = String(revision.split(separator: "@").last ?? "")
            let configChanged = status.observedIgnore != spec.ignore || !Self.sameSelector(status.observedLayerSelector, spec.layerSelector)
            if let a = previous, a.revision == revision, !configChanged, env.storage.has(a) {
                env.log("artifact up-to-date with remote revision: '\(revision)'")
            } else {
                let message = "new revision '\(revision)' for '\(ref.description)'"
                if previous != nil && previous?.revision != revision {
                    status.conditions.set(ConditionType.artifactOutdated, true, reason: "NewRevision", message: message, generation: generation, now: now())
                }
                status.conditions.set(ConditionType.reconciling, true, reason: "Progressing", message: "building artifact: \(message)", generation: generation, now: now())
                let live = try patchStatus(kube, res, ns, name, status)
                var artifact = try pull(env: env, spec: spec, client: client, digest: digest, revision: revision, ns: ns, name: name)
                artifact.revision = revision
                status.artifact = artifact
                status.observedIgnore = spec.ignore
                status.observedLayerSelector = spec.layerSelector
                status.url = artifact.url
                if previous?.digest != artifact.digest {
                    var msg = "stored artifact with revision '\(revision)' from '\(spec.url)'"
                    if let s = artifact.metadata[OCIArtifact.sourceAnnotation], let r = artifact.metadata[OCIArtifact.revisionAnnotation], !s.isEmpty, !r.isEmpty {
                        msg += ", origin source '\(s)', origin revision '\(r)'"
                    }
                    recorder.record(live, type: "Normal", reason: "NewArtifact", message: msg,
                                    annotations: ["source.toolkit.fluxcd.io/revision": revision, "source.toolkit.fluxcd.io/digest": artifact.digest])
                }
            }
        } catch let f as Failure {
            return try fail(f)
        } catch let e as RegistryError {
            return try fail(Failure(condition: ConditionType.fetchFailed, reason: "OCIPullFailed", message: "failed to pull artifact from '\(spec.url)': \(e.description)"))
        }

        let message = "stored artifact for digest '\(status.artifact?.revision ?? "")'"
        status.conditions.set(ConditionType.artifactInStorage, true, reason: "Succeeded", message: message, generation: generation, now: now())
        for c in [ConditionType.fetchFailed, ConditionType.artifactOutdated, ConditionType.storageOperationFailed, ConditionType.stalled,
                  ConditionType.reconciling, ConditionType.sourceVerified] {
            status.conditions.delete(c)
        }
        status.conditions.set(ConditionType.ready, true, reason: "Succeeded", message: message, generation: generation, now: now())
        status.observedGeneration = generation
        if let r = input.requested { status.lastHandledReconcileAt = r }
        return try patchStatus(kube, res, ns, name, status)
    }

    static func sameSelector(_ a: OCILayerSelector?, _ b: OCILayerSelector?) -> Bool {
        switch (a, b) {
        case (nil, nil): return true
        case let (x?, y?): return x.mediaType == y.mediaType && x.operation == y.operation
        default: return false
        }
    }

    func patchStatus(_ kube: KubeClient, _ ref: ResourceRef, _ ns: String, _ name: String, _ status: OCIRepositoryStatus) throws -> Node {
        let body: Node = ["status": try APICoding.node(status)]
        do {
            return try kube.patch(ref, namespace: ns, name: name, type: .merge, patch: body, subresource: "status", fieldManager: Self.controller)
        } catch let e as KubeError {
            throw e.naming("OCIRepository/\(ns)/\(name) status update failed")
        }
    }

    /// What fluxs does not do yet fails before anything is pulled, naming the field.
    func unsupported(_ spec: OCIRepositorySpec) throws {
        if let v = spec.verify {
            throw Failure(condition: ConditionType.sourceVerified, reason: "VerificationError",
                          message: "spec.verify (\(v.provider) signature verification) is not supported by fluxs yet: nothing was pulled; remove spec.verify or reconcile this OCIRepository with source-controller",
                          stalled: true)
        }
        if !spec.provider.isEmpty && spec.provider != "generic" {
            throw Failure(condition: ConditionType.fetchFailed, reason: "AuthenticationFailed",
                          message: "spec.provider '\(spec.provider)' is not supported by fluxs yet; use a dockerconfigjson spec.secretRef or reconcile this OCIRepository with source-controller", stalled: true)
        }
        if !spec.serviceAccountName.isEmpty || spec.proxySecretRef != nil {
            throw Failure(condition: ConditionType.fetchFailed, reason: "AuthenticationFailed",
                          message: "\(spec.proxySecretRef != nil ? "spec.proxySecretRef" : "spec.serviceAccountName") is not supported by fluxs yet; reconcile this OCIRepository with source-controller", stalled: true)
        }
    }

    /// parseRepository: `oci://<registry>/<repository>` without a tag.
    func repository(_ spec: OCIRepositorySpec) throws -> (OCIReference, String) {
        func invalid(_ m: String) -> Failure {
            Failure(condition: ConditionType.fetchFailed, reason: "URLInvalid", message: "URL validation failed for '\(spec.url)': \(m)", stalled: true)
        }
        guard spec.url.hasPrefix(OCIURL.prefix) else { throw invalid("URL must be in format 'oci://<domain>/<org>/<repo>'") }
        let address = String(spec.url.dropFirst(OCIURL.prefix.count))
        let repo: OCIReference
        do { repo = try OCIReference.repositoryReference(address) } catch let e as RegistryError { throw invalid(e.description) }
        let image = address.hasPrefix(repo.registry) ? String(address.dropFirst(repo.registry.count)) : address
        let parts = image.split(separator: ":", omittingEmptySubsequences: false)
        if parts.count > 1 { throw invalid("URL must not contain a tag; remove ':\(parts[1])'") }
        return (repo, address)
    }

    /// The registry client: credentials from the dockerconfigjson secretRef (k8schain), TLS from certSecretRef
    /// (`ca.crt`, `tls.crt`/`tls.key`), `insecure` for plain HTTP and unverified TLS.
    func client(_ kube: KubeClient, _ spec: OCIRepositorySpec, _ ns: String, _ repo: OCIReference, timeout: Double) throws -> RegistryClient {
        func secret(_ name: String, _ what: String) throws -> [String: String] {
            let problem: String
            do {
                if let d = try kube.stringData(of: .secrets, namespace: ns, name: name) { return d }
                problem = "secrets \"\(name)\" not found"
            } catch let e as KubeError { problem = e.message }
            throw Failure(condition: ConditionType.fetchFailed, reason: "AuthenticationFailed", message: "\(what): failed to get secret '\(ns)/\(name)': \(problem)")
        }
        let client = RegistryClient(repo, insecure: spec.insecure, timeout: timeout)
        if let s = spec.secretRef {
            let data = try secret(s.name, "failed to get credential")
            guard let config = data[".dockerconfigjson"] ?? data[".dockercfg"].map({ "{\"auths\":\($0)}" }) else {
                throw Failure(condition: ConditionType.fetchFailed, reason: "AuthenticationFailed",
                              message: "failed to get credential: secret '\(ns)/\(s.name)' has no .dockerconfigjson (create it with `flux create secret oci` or `kubectl create secret docker-registry`)")
            }
            do { client.credentials = try RegistryCredentials.fromDockerConfig(config, registry: repo.registry) } catch let e as RegistryError {
                throw Failure(condition: ConditionType.fetchFailed, reason: "AuthenticationFailed", message: "failed to get credential: secret '\(ns)/\(s.name)': \(e.description)")
            }
        }
        if let c = spec.certSecretRef {
            let data = try secret(c.name, "failed to generate transport for '\(spec.url)'")
            if let ca = data["ca.crt"] ?? data["caFile"] { client.caData = Array(ca.utf8) }
            if let crt = data["tls.crt"] ?? data["certFile"], let key = data["tls.key"] ?? data["keyFile"] {
                client.clientCert = Array(crt.utf8)
                client.clientKey = Array(key.utf8)
            }
        }
        return client
    }

    /// getArtifactRef: digest, else the highest tag in the semver range (after semverFilter), else tag, else latest.
    func artifactRef(_ spec: OCIRepositorySpec, _ repo: OCIReference, _ client: RegistryClient) throws -> OCIReference {
        guard let r = spec.ref else { return repo.with(tag: "latest") }
        if !r.digest.isEmpty {
            guard OCIDigest.isValid(r.digest) else {
                throw Failure(condition: ConditionType.fetchFailed, reason: "URLInvalid", message: "URL validation failed for '\(spec.url)': invalid digest '\(r.digest)'", stalled: true)
            }
            return repo.with(digest: r.digest)
        }
        if !r.semver.isEmpty {
            var tags = try client.tags()
            if !r.semverFilter.isEmpty {
                guard let re = try? Regex(r.semverFilter) else {
                    throw RegistryError("failed to compile regex '\(r.semverFilter)'")
                }
                tags = tags.filter { $0.contains(re) }
            }
            let constraint: SemVerConstraint
            do { constraint = try SemVerConstraint(r.semver) } catch { throw RegistryError("semver '\(r.semver)' parse error: \(error)") }
            let helm = spec.layerSelector?.mediaType == "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
            let candidates = tags.compactMap { t -> (String, SemVer)? in
                let text = helm ? String(t.map { $0 == "_" ? "+" : $0 }) : t
                guard let v = SemVer(text), constraint.check(v) else { return nil }
                return (t, v)
            }
            guard let best = candidates.max(by: { $0.1 < $1.1 }) else { throw RegistryError("no match found for semver: \(r.semver)") }
            return repo.with(tag: best.0)
        }
        if !r.tag.isEmpty { return repo.with(tag: r.tag) }
        return repo.with(tag: "latest")
    }

    /// Pulls the selected layer and stores the artifact: extracted and archived again (`.sourceignore` files and
    /// spec.ignore applied, directories 0750), or copied as it is.
    func pull(env: ReconcileEnv, spec: OCIRepositorySpec, client: RegistryClient, digest: String, revision: String, ns: String, name: String) throws -> Artifact {
        let m: OCIManifest
        do { m = try OCIArtifact.manifest(client, digest) } catch let e as RegistryError {
            throw Failure(condition: ConditionType.fetchFailed, reason: e.kind == .authentication ? "AuthenticationFailed" : "OCIPullFailed",
                          message: "failed to pull artifact from '\(spec.url)': \(e.description)")
        } catch let e as OCIArtifact.Failure {
            throw Failure(condition: ConditionType.fetchFailed, reason: "OCILayerOperationFailed", message: "failed to parse artifact manifest: \(e.description)")
        }
        func layerFailure(_ msg: String) -> Failure { Failure(condition: ConditionType.fetchFailed, reason: "OCILayerOperationFailed", message: msg) }
        guard !m.layers.isEmpty else { throw layerFailure("no layers found in artifact") }
        let wanted = spec.layerSelector?.mediaType ?? ""
        guard let layer = wanted.isEmpty ? m.layers.first : m.layers.first(where: { $0.mediaType == wanted }) else {
            throw layerFailure("failed to find layer with media type '\(wanted)' in artifact")
        }
        let blob: [UInt8]
        do { blob = try client.blob(layer) } catch let e as RegistryError {
            throw Failure(condition: ConditionType.fetchFailed, reason: "OCIPullFailed", message: "failed to pull artifact from '\(spec.url)': \(e.description)")
        }
        let bytes: [UInt8]
        switch spec.layerSelector?.operation ?? "" {
        case "copy":
            bytes = blob
        case "", "extract":
            bytes = try rearchive(blob, ignore: spec.ignore)
        default:
            throw layerFailure("unsupported layer operation: \(spec.layerSelector?.operation ?? "")")
        }
        let file = digest + ".tar.gz"
        let rel = env.storage.artifactPath(kind: "OCIRepository", namespace: ns, name: name, file: file)
        do {
            let (d, size) = try env.storage.write(rel, bytes)
            env.storage.garbageCollect(kind: "OCIRepository", namespace: ns, name: name, keep: [file])
            var a = Artifact()
            a.path = rel
            a.url = env.storage.url(rel)
            a.revision = revision
            a.digest = d
            a.size = size
            a.lastUpdateTime = Time(Clock.rfc3339())
            a.metadata = m.annotations
            return a
        } catch {
            throw Failure(condition: ConditionType.storageOperationFailed, reason: "ArchiveOperationFailed", message: "unable to archive artifact to storage: \(error)")
        }
    }

    /// The layer's tree as source-controller stores it after Untar: directories 0750, files with their modes (less
    /// group and other write), symlinks left out, `.sourceignore` files and spec.ignore applied.
    func rearchive(_ blob: [UInt8], ignore: String?) throws -> [UInt8] {
        guard OCIArtifact.isGzip(blob) else {
            throw Failure(condition: ConditionType.fetchFailed, reason: "OCILayerOperationFailed",
                          message: "failed to extract layer contents from artifact: requires gzip-compressed body: gzip: invalid header")
        }
        var entries: [Tar.Entry] = []
        do { entries = try Tar.read(gzip: blob, maxSize: Self.maxExtracted) } catch {
            throw Failure(condition: ConditionType.fetchFailed, reason: "OCILayerOperationFailed", message: "failed to extract layer contents from artifact: \(error)")
        }
        // Directories a file implies exist too (Untar creates them).
        var byPath: [String: Tar.Entry] = [:]
        for e in entries {
            byPath[e.path] = e
            var parts = e.path.split(separator: "/").dropLast()
            while !parts.isEmpty {
                let p = parts.joined(separator: "/")
                if byPath[p] == nil { byPath[p] = Tar.Entry(path: p, kind: .directory, mode: 0o750) }
                parts = parts.dropLast()
            }
        }
        var patterns: [IgnorePattern] = []
        for e in byPath.values.sorted(by: { walkOrder($0.path, $1.path) }) where e.kind == .file {
            if e.path == ".sourceignore" || e.path.hasSuffix("/.sourceignore") {
                patterns += SourceIgnore.read(String(decoding: e.data, as: UTF8.self), domain: e.path.split(separator: "/").dropLast().map(String.init))
            }
        }
        if let ignore { patterns += SourceIgnore.read(ignore) }
        let filter = SourceIgnore(userPatterns: patterns)
        do {
            let w = try TarGzWriter()
            try w.append(Tar.Entry(path: ".", kind: .directory, mode: 0o750))
            var skipped: [String] = []
            for e in byPath.values.sorted(by: { walkOrder($0.path, $1.path) }) {
                if skipped.contains(where: { e.path.hasPrefix($0 + "/") }) { continue }
                if filter.ignores(e.path, isDir: e.kind == .directory) {
                    if e.kind == .directory { skipped.append(e.path) }
                    continue
                }
                switch e.kind {
                case .directory: try w.append(Tar.Entry(path: e.path, kind: .directory, mode: 0o750))
                case .file: try w.append(Tar.Entry(path: e.path, kind: .file, mode: e.mode & 0o755, data: e.data))
                }
            }
            return try w.finish()
        } catch {
            throw Failure(condition: ConditionType.storageOperationFailed, reason: "ArchiveOperationFailed", message: "unable to archive artifact to storage: \(error)")
        }
    }
}
