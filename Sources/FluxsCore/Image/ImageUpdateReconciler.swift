import FluxsAPI
import FluxsGit
import FluxsKube
import FluxsYAML

/// ImageUpdateAutomation as image-automation-controller runs it: check out the GitRepository's branch, set the
/// marked image values from the ImagePolicies, commit with the configured author and message, and push.
public struct ImageUpdateReconciler: OnDemandReconciler {
    public static let controller = "image-automation-controller"

    public init() {}

    typealias Failure = ReconcileFailure

    public func reconcile(_ object: Node, env: ReconcileEnv) throws -> Node {
        let kube = env.kube
        let input = try ReconcileInput<ImageUpdateAutomationSpec, ImageUpdateAutomationStatus>(object, defaultStatus: ImageUpdateAutomationStatus())
        let (ns, name, generation, spec) = (input.namespace, input.name, input.generation, input.spec)
        var status = input.status
        let wasReady = status.conditions.get(ConditionType.ready)?.status == "True"
        let recorder = EventRecorder(kube: kube, component: Self.controller, storage: env.storage, warn: env.warn)
        let now = Clock.rfc3339()
        if let requested = input.requested { status.lastHandledReconcileAt = requested }
        var event: (type: String, reason: String, message: String)?
        var caFile: String?
        defer { if let caFile { Files.remove(caFile) } }
        do {
            guard let git = spec.git else { throw Failure(reason: "InvalidSourceConfiguration", message: "spec.git is required") }
            if git.commit.signingKey != nil { throw Failure(reason: "ReconciliationFailed", message: "commit signing is not supported by fluxs yet") }
            if let p = git.push, !p.refspec.isEmpty || !p.options.isEmpty {
                throw Failure(reason: "ReconciliationFailed", message: "push refspec and options are not supported by fluxs yet")
            }
            let update = spec.update ?? UpdateStrategy()
            guard update.strategy.isEmpty || update.strategy == "Setters" else {
                throw Failure(reason: "ReconciliationFailed", message: "update strategy '\(update.strategy)' is not supported")
            }
            // The GitRepository: its URL, credentials and, unless spec.git.checkout says otherwise, its branch.
            let srcNS = spec.sourceRef.namespace.isEmpty ? ns : spec.sourceRef.namespace
            guard let source = try kube.getIfExists(FluxKinds.gitRepository.resource, namespace: srcNS, name: spec.sourceRef.name) else {
                throw Failure(reason: "SourceManagerFailed", message: "GitRepository '\(srcNS)/\(spec.sourceRef.name)' not found")
            }
            let srcSpec = try APICoding.decode(GitRepositorySpec.self, from: source["spec"] ?? .emptyMap)
            let checkoutRef = git.checkout?.ref ?? srcSpec.ref ?? GitRepositoryRef()
            guard checkoutRef.tag.isEmpty, checkoutRef.semver.isEmpty, checkoutRef.name.isEmpty, checkoutRef.commit.isEmpty else {
                throw Failure(reason: "ReconciliationFailed", message: "only a branch can be checked out for image updates")
            }
            let branch = checkoutRef.branch.isEmpty ? "master" : checkoutRef.branch
            let pushBranch = git.push?.branch.isEmpty == false ? git.push!.branch : branch
            let auth: GitAuth
            do { auth = try GitRepositoryReconciler().credentials(kube, srcSpec, srcNS) } catch let f as GitRepositoryReconciler.Failure {
                throw Failure(reason: "AuthenticationFailed", message: f.message)
            }
            caFile = auth.caFile

            // The policies this automation uses.
            let selector = spec.policySelector
            if let s = selector, !s.matchExpressions.isEmpty {
                throw Failure(reason: "InvalidPolicySelector", message: "policySelector.matchExpressions is not supported by fluxs yet")
            }
            var policies: [String: ImageRef] = [:]
            var observed: [String: ImageRef] = [:]
            for p in (try kube.list(FluxKinds.imagePolicy.resource, namespace: ns)).items {
                let labels = p["metadata"]?["labels"]
                guard (selector?.matchLabels ?? [:]).allSatisfy({ labels?[$0.key]?.string == $0.value }) else { continue }
                guard let refNode = p["status"]?["latestRef"], let ref = try? APICoding.decode(ImageRef.self, from: refNode) else { continue }
                let pname = p["metadata"]?["name"]?.string ?? ""
                policies["\(ns):\(pname)"] = ref
                observed[pname] = ref
            }

            // Check out, set, commit, push.
            let url = srcSpec.url
            let mirror = env.storage.mirror(url: url)
            let timeout = min((try? GoDuration.parse(spec.interval.text)) ?? 60, max(1, kube.remaining))
            let deadline = monotonicSeconds() + timeout
            let mirrorLock = try FileLock.acquire(env.storage.lockFile(forMirror: mirror), deadline: deadline)
            defer { mirrorLock.unlock() }
            let updatePath = update.path.trimmingSlashes()
            let author = git.commit.author
            let result: (revision: String, pushed: ObjectID?, message: String, changes: [Setters.Change]) = try Blocking.run(seconds: timeout + 1) {
                try Files.makeDirectories(Files.dirname(mirror), mode: 0o700)
                var repo = try Repository.openOrInitBare(mirror)
                if !repo.shallowCommits.isEmpty {   // pushing needs the history libgit2 walks
                    Files.removeTree(mirror)
                    repo = try Repository.openOrInitBare(mirror)
                }
                let refName = "refs/heads/\(branch)"
                _ = try repo.sync(url: url, auth: auth, deadline: deadline) { refs in
                    guard refs.contains(where: { $0.name == refName }) else { throw GitError(.notFound, "couldn't find remote ref \"\(refName)\"") }
                    return ["+\(refName):\(refName)"]
                }
                guard let tipID = repo.resolve(refName), let tip = repo.peelToCommit(tipID) else {
                    throw GitError(.notFound, "branch '\(branch)' has no commit")
                }
                let revision = "\(branch)@sha1:\(tip.id.hex)"
                var files: [(path: String, content: [UInt8], executable: Bool)] = []
                var changes: [Setters.Change] = []
                try tip.walk { e in
                    guard e.kind == .file || e.kind == .executable,
                          e.path.hasSuffix(".yaml") || e.path.hasSuffix(".yml"),
                          updatePath.isEmpty || updatePath == "." || e.path.hasPrefix(updatePath + "/") else { return }
                    let text = String(decoding: try e.contents(), as: UTF8.self)
                    guard text.contains(Setters.marker) else { return }
                    let (updated, c) = Setters.apply(text, file: e.path, policies: policies)
                    if !c.isEmpty {
                        files.append((e.path, Array(updated.utf8), e.kind == .executable))
                        changes += c
                    }
                }
                guard !changes.isEmpty else { return (revision, nil, "", []) }
                let message = try MessageTemplate(automation: (name, ns), values: git.commit.messageTemplateValues, changes: changes)
                    .render(git.commit.messageTemplate)
                let localRef = "refs/fluxs/image-update/\(ns)/\(name)"
                let commit = try repo.commit(on: tip, replacing: files, author: author.name, email: author.email, message: message, ref: nil)
                try repo.setRef(localRef, to: commit)
                try repo.push(url: url, auth: auth, deadline: deadline, refspecs: ["\(localRef):refs/heads/\(pushBranch)"])
                if pushBranch == branch { try repo.setRef(refName, to: commit) }
                return (revision, commit, message, changes)
            }
            status.lastAutomationRunTime = Time(now)
            status.observedPolicies = observed
            status.observedSourceRevision = result.revision
            let message: String
            if let pushed = result.pushed {
                status.lastPushCommit = pushed.hex
                status.lastPushTime = Time(now)
                message = "pushed commit '\(pushed.hex.prefix(7))' to branch '\(pushBranch)'"
                event = ("Normal", "Succeeded", "\(message)\n\(result.message)")
                for c in result.changes { env.log("\(c.file): \(c.oldValue) -> \(c.newValue)") }
            } else {
                message = "repository up-to-date"
                // image-automation-controller's notify: an event when it becomes ready again without a push.
                if !wasReady { event = ("Normal", "Succeeded", message) }
            }
            status.conditions.delete(ConditionType.reconciling)
            status.conditions.delete(ConditionType.stalled)
            status.conditions.set(ConditionType.ready, true, reason: "Succeeded", message: message, generation: generation, now: now)
            status.observedGeneration = generation
        } catch let f as Failure {
            fail(f.reason, f.message)
        } catch let e as GitError {
            fail("GitOperationFailed", e.message)
        } catch is Blocking.DeadlineExceeded {
            fail("GitOperationFailed", "context deadline exceeded")
        } catch let e as MessageTemplate.Unsupported {
            fail("InvalidSourceConfiguration", e.description)
        }
        func fail(_ reason: String, _ message: String) {
            status.conditions.set(ConditionType.reconciling, true, reason: "ProgressingWithRetry", message: message, generation: generation, now: now)
            status.conditions.set(ConditionType.ready, false, reason: reason, message: message, generation: generation, now: now)
            event = ("Warning", reason, message)
        }
        let out = try ImageStatusWriter(kube: kube, ref: FluxKinds.imageUpdateAutomation.resource, object: object)
            .write(try APICoding.node(status), fieldManager: Self.controller)
        if let event { recorder.record(out, type: event.type, reason: event.reason, message: event.message) }
        return out
    }
}
