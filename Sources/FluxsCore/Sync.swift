import FluxsAPI
import FluxsKube
import FluxsYAML
#if canImport(Glibc)
import Glibc
#endif

/// One Flux object of a sync: `Kind/namespace/name`.
public struct SyncKey: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var kind: String
    public var namespace: String
    public var name: String
    public init(kind: String, namespace: String, name: String) { self.kind = kind; self.namespace = namespace; self.name = name }
    public init(_ o: Node) {
        kind = o["kind"]?.string ?? ""
        namespace = o["metadata"]?["namespace"]?.string ?? ""
        name = o["metadata"]?["name"]?.string ?? ""
    }
    public var description: String { "\(kind)/\(namespace)/\(name)" }
    public static func < (a: SyncKey, b: SyncKey) -> Bool { (a.kind, a.namespace, a.name) < (b.kind, b.namespace, b.name) }
}

/// What happened to one object.
public enum SyncOutcome: String, Sendable {
    /// Reconciled and Ready.
    case succeeded
    /// Reconciled (or attempted) and not Ready, or a dependency cycle.
    case failed
    /// Not reconciled because something it needs failed.
    case skipped
    /// spec.suspend: reported, not reconciled.
    case suspended
    /// --dry-run: would be reconciled.
    case planned
}

/// What one reconciliation reports back to the engine.
public struct SyncRun: Sendable {
    public var outcome: SyncOutcome
    public var revision = ""
    public var message = ""
    public var created = 0
    public var configured = 0
    public var pruned = 0
    /// Flux objects the reconciliation applied (a Kustomization's change set): each with whether it changed.
    public var applied: [(object: Node, changed: Bool)] = []
    public init(outcome: SyncOutcome, revision: String = "", message: String = "") {
        self.outcome = outcome; self.revision = revision; self.message = message
    }
}

/// One line of the report.
public struct SyncResult: Sendable {
    public var key: SyncKey
    public var outcome: SyncOutcome
    public var revision: String
    public var created: Int
    public var configured: Int
    public var pruned: Int
    /// Seconds spent reconciling (all runs).
    public var duration: Double
    public var message: String
    /// How many times it was reconciled in this run (a cascade may reconcile an object again after it changed).
    public var runs: Int
    /// Why it was added: "selected", or the Kustomization that applied it.
    public var via: String
}

/// The objects `sync` reconciles, in the order of the issue: sources, then Kustomizations, then image automation.
public enum SyncKinds {
    public static let sources: [FluxKind] = [FluxKinds.gitRepository, FluxKinds.ociRepository, FluxKinds.bucket, FluxKinds.helmRepository]
    public static let images: [FluxKind] = [FluxKinds.imageRepository, FluxKinds.imagePolicy, FluxKinds.imageUpdateAutomation]
    public static let all: [FluxKind] = sources + [FluxKinds.kustomization] + images

    /// The sync kind of an object, matched by group and kind.
    public static func of(_ o: Node) -> FluxKind? {
        let av = o["apiVersion"]?.string ?? ""
        let group = av.contains("/") ? String(av.split(separator: "/")[0]) : ""
        let kind = o["kind"]?.string ?? ""
        return all.first { $0.kind == kind && $0.group == group }
    }

    static func phase(_ kind: String) -> Int {
        if sources.contains(where: { $0.kind == kind }) { return 0 }
        if kind == FluxKinds.kustomization.kind { return 1 }
        return 2
    }
}

/// What an object needs before it is reconciled, read from its spec (see docs/sync.md).
public enum SyncDependencies {
    /// Objects that must succeed first: a Kustomization's source and dependsOn, an ImagePolicy's ImageRepository,
    /// an ImageUpdateAutomation's GitRepository, a GitRepository's included GitRepositories.
    public static func hard(_ o: Node) -> [SyncKey] {
        let k = SyncKey(o)
        let spec = o["spec"]
        func ref(_ r: Node?, kind: String?) -> SyncKey? {
            guard let r, let name = r["name"]?.string, !name.isEmpty else { return nil }
            let ns = r["namespace"]?.string.flatMap { $0.isEmpty ? nil : $0 } ?? k.namespace
            guard let kind = kind ?? r["kind"]?.string else { return nil }
            return SyncKey(kind: kind, namespace: ns, name: name)
        }
        var out: [SyncKey] = []
        switch k.kind {
        case FluxKinds.kustomization.kind:
            if let s = ref(spec?["sourceRef"], kind: nil) { out.append(s) }
            for d in spec?["dependsOn"]?.array ?? [] { if let s = ref(d, kind: FluxKinds.kustomization.kind) { out.append(s) } }
        case FluxKinds.imagePolicy.kind:
            if let s = ref(spec?["imageRepositoryRef"], kind: FluxKinds.imageRepository.kind) { out.append(s) }
        case FluxKinds.imageUpdateAutomation.kind:
            if let s = ref(spec?["sourceRef"], kind: FluxKinds.gitRepository.kind) { out.append(s) }
        case FluxKinds.gitRepository.kind:
            for i in spec?["include"]?.array ?? [] { if let s = ref(i["repository"], kind: FluxKinds.gitRepository.kind) { out.append(s) } }
        default: break
        }
        return out.filter { $0 != k }
    }

    /// The Kustomization that applied the object (kustomize-controller's owner labels), when it is another one.
    public static func owner(_ o: Node) -> SyncKey? {
        let labels = o["metadata"]?["labels"]
        guard let name = labels?["kustomize.toolkit.fluxcd.io/name"]?.string, let ns = labels?["kustomize.toolkit.fluxcd.io/namespace"]?.string else { return nil }
        let key = SyncKey(kind: FluxKinds.kustomization.kind, namespace: ns, name: name)
        return key == SyncKey(o) ? nil : key
    }
}

/// Reconciles a set of Flux objects as a graph: each object after what it needs (hard dependencies must succeed,
/// the Kustomization that applies it must have finished), image automation after every source and Kustomization,
/// at most `concurrency` at a time; objects a Kustomization applies join the run (again, when they changed after
/// they ran). A failure skips only what needs it; a cycle fails its members, naming it.
///
/// `execute` runs on worker threads (it must not share unsynchronised state); `progress` and everything else run
/// on the calling thread.
public final class SyncEngine {
    public enum Event {
        case started(SyncKey)
        case finished(SyncResult)
    }

    enum State { case pending, running, done }

    final class Item {
        let key: SyncKey
        var object: Node
        var hard: [SyncKey]
        var after: [SyncKey] = []
        var state = State.pending
        var result: SyncResult
        /// Set while running: it changed during its run and must run again.
        var again = false
        /// Objects with the same key never run at the same time (GitRepositories sharing a Git mirror).
        var exclusive: String? {
            guard key.kind == FluxKinds.gitRepository.kind, let url = object["spec"]?["url"]?.string else { return nil }
            return url
        }
        init(_ object: Node, via: String) {
            key = SyncKey(object)
            self.object = object
            hard = SyncDependencies.hard(object)
            result = SyncResult(key: key, outcome: .planned, revision: "", created: 0, configured: 0, pruned: 0, duration: 0,
                                message: "", runs: 0, via: via)
        }
    }

    /// The most times one object is reconciled in a run (a Kustomization that keeps changing what it applies).
    public static let maxRuns = 3

    let concurrency: Int
    let execute: @Sendable (SyncKey) -> SyncRun
    let progress: (Event) -> Void
    /// Whether objects a Kustomization applies join the run.
    public var cascade = true
    var items: [SyncKey: Item] = [:]
    var order: [SyncKey] = []

    public init(concurrency: Int, execute: @escaping @Sendable (SyncKey) -> SyncRun, progress: @escaping (Event) -> Void = { _ in }) {
        self.concurrency = max(1, concurrency)
        self.execute = execute
        self.progress = progress
    }

    /// Adds an object (a sync kind) to the run; an object already in it is left as it is.
    public func add(_ object: Node, via: String = "selected") {
        let key = SyncKey(object)
        guard SyncKinds.of(object) != nil, items[key] == nil else { return }
        let item = Item(object, via: via)
        items[key] = item
        order.append(key)
        if let owner = SyncDependencies.owner(object), items[owner] != nil, !reaches(from: owner, to: key) { item.after.append(owner) }
        // Objects already in the run that this Kustomization applies wait for it (unless that would be a cycle).
        if key.kind == FluxKinds.kustomization.kind {
            for other in items.values where other.key != key && other.state == .pending && SyncDependencies.owner(other.object) == key {
                if !reaches(from: key, to: other.key) { other.after.append(key) }
            }
        }
    }

    /// Every object of the run whose hard dependencies lead (transitively) to `root`, for `--with-dependents`.
    public static func dependents(of root: SyncKey, among objects: [Node]) -> [Node] {
        var found: Set<SyncKey> = [root]
        var out: [Node] = []
        var changed = true
        while changed {
            changed = false
            for o in objects where !found.contains(SyncKey(o)) {
                if SyncDependencies.hard(o).contains(where: found.contains) {
                    found.insert(SyncKey(o)); out.append(o); changed = true
                }
            }
        }
        return out
    }

    /// True when `from` needs `to`, directly or not.
    func reaches(from: SyncKey, to: SyncKey) -> Bool {
        var seen: Set<SyncKey> = []
        var stack = [from]
        while let k = stack.popLast() {
            if k == to { return true }
            guard seen.insert(k).inserted, let it = items[k] else { continue }
            stack += it.hard + it.after
        }
        return false
    }

    func deps(_ it: Item) -> [SyncKey] { (it.hard + it.after).filter { items[$0] != nil } }

    /// Runnable: pending, everything it needs finished, and (image automation) no source or Kustomization left.
    func runnable(_ it: Item) -> Bool {
        guard it.state == .pending else { return false }
        if let x = it.exclusive, items.values.contains(where: { $0.state == .running && $0.exclusive == x }) { return false }
        if deps(it).contains(where: { items[$0]?.state != .done }) { return false }
        let phase = SyncKinds.phase(it.key.kind)
        if phase == 2 && items.values.contains(where: { SyncKinds.phase($0.key.kind) < 2 && $0.state != .done }) { return false }
        return true
    }

    /// The hard dependency that failed or was skipped, if any.
    func blocker(_ it: Item) -> Item? {
        it.hard.compactMap { items[$0] }.first { $0.result.outcome == .failed || $0.result.outcome == .skipped }
    }

    /// A cycle among pending objects, as the keys around it (first repeated at the end).
    func cycle() -> [SyncKey]? {
        let pending = Set(items.values.filter { $0.state == .pending }.map(\.key))
        var color: [SyncKey: Int] = [:]
        var path: [SyncKey] = []
        func visit(_ k: SyncKey) -> [SyncKey]? {
            color[k] = 1
            path.append(k)
            for d in deps(items[k]!).sorted() where pending.contains(d) {
                if color[d] == 1, let i = path.firstIndex(of: d) { return Array(path[i...]) + [d] }
                if color[d] == nil, let c = visit(d) { return c }
            }
            path.removeLast()
            color[k] = 2
            return nil
        }
        for k in order where pending.contains(k) && color[k] == nil {
            if let c = visit(k) { return c }
        }
        return nil
    }

    /// Runs until nothing is left; the results in the order objects joined the run.
    public func run() -> [SyncResult] {
        let mailbox = Mailbox()
        var running = 0
        while true {
            // Objects whose dependency failed are skipped, with the reason.
            var progressed = true
            while progressed {
                progressed = false
                for k in order {
                    let it = items[k]!
                    guard it.state == .pending, deps(it).allSatisfy({ items[$0]?.state == .done }), let b = blocker(it) else { continue }
                    it.state = .done
                    it.result.outcome = .skipped
                    it.result.message = "dependency \(b.key) \(b.result.outcome == .failed ? "failed" : "was skipped")"
                    progress(.finished(it.result))
                    progressed = true
                }
            }
            // Start what may start.
            for k in order where running < concurrency {
                let it = items[k]!
                guard runnable(it) else { continue }
                it.state = .running
                running += 1
                progress(.started(k))
                let execute = self.execute
                Self.spawn {
                    let t0 = monotonicSeconds()
                    let r = execute(k)
                    mailbox.post(k, r, monotonicSeconds() - t0)
                }
            }
            if running == 0 {
                guard items.values.contains(where: { $0.state == .pending }) else { break }
                // Nothing runs and nothing may start: a cycle (the phase rule alone cannot block).
                let c = cycle()
                let text = c.map { "dependency cycle: " + $0.map(\.description).joined(separator: " -> ") } ?? "could not be ordered"
                for k in c.map(Set.init) ?? Set(items.values.filter { $0.state == .pending }.map(\.key)) {
                    let it = items[k]!
                    it.state = .done
                    it.result.outcome = .failed
                    it.result.message = text
                    progress(.finished(it.result))
                }
                continue
            }
            let (k, r, took) = mailbox.take()
            running -= 1
            finish(items[k]!, r, took)
        }
        return order.map { items[$0]!.result }
    }

    func finish(_ it: Item, _ r: SyncRun, _ took: Double) {
        let before = it.result.revision
        // Only reconciliations count as runs (not a look that found it suspended, or --dry-run).
        if r.outcome == .succeeded || r.outcome == .failed {
            it.result.runs += 1
            it.result.duration += took
        }
        it.result.outcome = r.outcome
        it.result.revision = r.revision
        it.result.message = r.message
        it.result.created += r.created
        it.result.configured += r.configured
        it.result.pruned += r.pruned
        it.state = .done
        if it.again && it.result.runs < Self.maxRuns {
            it.again = false
            it.state = .pending
        }
        progress(.finished(it.result))
        // A source that ran again with a new revision: what used it runs again too.
        if it.result.runs > 1 && r.outcome == .succeeded && before != r.revision {
            for other in items.values where other.state == .done && other.hard.contains(it.key) && other.result.runs < Self.maxRuns
                && other.result.outcome != .suspended {
                other.state = .pending
            }
        }
        guard cascade && r.outcome == .succeeded else { return }
        for (o, changed) in r.applied {
            let key = SyncKey(o)
            guard let existing = items[key] else {
                add(o, via: it.key.description)
                continue
            }
            guard changed, existing.key != it.key else { continue }
            existing.object = o
            existing.hard = SyncDependencies.hard(o)
            switch existing.state {
            case .pending: break
            case .running: existing.again = true
            case .done:
                if existing.result.runs < Self.maxRuns && existing.result.outcome != .suspended { existing.state = .pending }
            }
        }
    }

    final class Work: @unchecked Sendable {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    /// A thread of its own for each reconciliation (they block on the network; a pool the size of the CPUs would
    /// not give --concurrency), detached; SIGINT/SIGTERM stay blocked as in every thread.
    static func spawn(_ body: @escaping () -> Void) {
        let ctx = Unmanaged.passRetained(Work(body)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            let w = Unmanaged<Work>.fromOpaque(raw!).takeRetainedValue()
            var pipe = sigset_t()
            sigemptyset(&pipe)
            sigaddset(&pipe, SIGPIPE)
            pthread_sigmask(SIG_BLOCK, &pipe, nil)
            w.body()
            return nil
        }, ctx)
        if rc == 0 {
            pthread_detach(thread)
        } else {
            Unmanaged<Work>.fromOpaque(ctx).release()
            body()
        }
    }

    /// Results of worker threads, handed to the engine's thread.
    final class Mailbox: @unchecked Sendable {
        var mutex = pthread_mutex_t()
        var cond = pthread_cond_t()
        var queue: [(SyncKey, SyncRun, Double)] = []
        init() {
            pthread_mutex_init(&mutex, nil)
            pthread_cond_init(&cond, nil)
        }
        deinit {
            pthread_cond_destroy(&cond)
            pthread_mutex_destroy(&mutex)
        }
        func post(_ k: SyncKey, _ r: SyncRun, _ took: Double) {
            pthread_mutex_lock(&mutex)
            queue.append((k, r, took))
            pthread_cond_signal(&cond)
            pthread_mutex_unlock(&mutex)
        }
        func take() -> (SyncKey, SyncRun, Double) {
            pthread_mutex_lock(&mutex)
            while queue.isEmpty { pthread_cond_wait(&cond, &mutex) }
            let first = queue.removeFirst()
            pthread_mutex_unlock(&mutex)
            return first
        }
    }
}

/// A lock for what worker threads share (output lines).
public final class SyncLock: @unchecked Sendable {
    var mutex = pthread_mutex_t()
    public init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }
    public func with<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body()
    }
}

extension SyncEngine {
    /// The Flux objects (sync kinds) in a Kustomization's status.inventory.
    public static func inventoryKeys(_ ks: Node) -> [SyncKey] {
        (ks["status"]?["inventory"]?["entries"]?.array ?? []).compactMap { e in
            guard let id = e["id"]?.string, let p = KustomizationReconciler.parse(id),
                  SyncKinds.all.contains(where: { $0.kind == p.kind && $0.group == p.group }) else { return nil }
            return SyncKey(kind: p.kind, namespace: p.namespace, name: p.name)
        }
    }
}
