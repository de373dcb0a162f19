import FluxsAPI
import FluxsKube
import FluxsYAML
#if canImport(Glibc)
import Glibc
#endif

/// What a reconciler needs from the command that runs it.
public struct ReconcileEnv {
    public var kube: KubeClient
    public var storage: Storage
    /// Detail lines for --verbose (never secrets).
    public var log: (String) -> Void
    /// Whether `log` shows its lines: false when it drops them, so a line for each object is not made (a
    /// 1,000-object no-op made 1,000 change-set lines for nothing).
    public var logs = true
    /// Progress of long steps (a terminal shows it; scripts do not get it).
    public var progress: (String) -> Void
    /// Problems that do not fail the reconciliation (a notification that could not be sent).
    public var warn: (String) -> Void
    /// Throws when this process no longer holds the object's Lease (ObjectLease.check): called before the steps that
    /// change the cluster (apply, prune), naming the step.
    public var checkLease: (String) throws -> Void = { _ in }
    /// kustomize-controller's --default-service-account: impersonated when an object names no service account.
    public var defaultServiceAccount = ""
    /// A Kustomization's change set and prune lines after a successful apply (sync counts them and follows the
    /// Flux objects in it).
    public var applied: ([ChangeSetEntry], [String]) -> Void = { _, _ in }
    /// What `OnDemandReconciler.prepare` started for this run before the Lease was held; the reconciler takes it
    /// when it is for the object as read under the Lease, and discards it otherwise.
    public var prepared: PreparedWork?
    /// Takes what a run has finished with but is large (the change set, the lists, the run's trees): by default it
    /// is freed on a thread of its own (Blocking.dispose); a process that exits when the command ends keeps it, so
    /// that it is never taken apart (freeing a 5,000-object run took tens of ms at its end; docs/decisions.md).
    public var keep: (Any) -> Void = { Blocking.dispose($0) }

    public init(kube: KubeClient, storage: Storage, log: @escaping (String) -> Void = { _ in }, progress: @escaping (String) -> Void = { _ in },
                warn: @escaping (String) -> Void = { _ in }) {
        self.kube = kube; self.storage = storage; self.log = log; self.progress = progress; self.warn = warn
    }
}

/// A Flux kind fluxs reconciles in its own process, writing the status its controller would write.
public protocol OnDemandReconciler {
    /// Reconciles the object; returns it as it is after the status was written.
    func reconcile(_ object: Node, env: ReconcileEnv) throws -> Node
    /// Reads the run will make, started from the object as read before the Lease was taken (`object`), at the moment
    /// the Lease was seen free (ObjectLease.acquire's `free`): the server answers them while the Lease is taken and
    /// the object read again. Nil when there is nothing to start. Never changes anything; prints nothing.
    func prepare(_ object: Node, env: ReconcileEnv) -> PreparedWork?
}

extension OnDemandReconciler {
    public func prepare(_ object: Node, env: ReconcileEnv) -> PreparedWork? { nil }
}

/// Reads started by `OnDemandReconciler.prepare`. `discard` lets go of them (their request lines are printed); it
/// may be called more than once, also after the reconciler took them.
public protocol PreparedWork: AnyObject {
    func discard()
}

public enum OnDemand {
    /// The in-process reconciler of a kind, if fluxs has one.
    public static func reconciler(for kind: FluxKind) -> OnDemandReconciler? {
        switch kind.kind {
        case FluxKinds.gitRepository.kind: return GitRepositoryReconciler()
        case FluxKinds.ociRepository.kind: return OCIRepositoryReconciler()
        case FluxKinds.kustomization.kind: return KustomizationReconciler()
        case FluxKinds.imageRepository.kind: return ImageRepositoryReconciler()
        case FluxKinds.imagePolicy.kind: return ImagePolicyReconciler()
        case FluxKinds.imageUpdateAutomation.kind: return ImageUpdateReconciler()
        default: return nil
        }
    }
}

/// A step of a reconciliation that failed: the Ready condition's reason and the message users see.
struct ReconcileFailure: Error {
    var reason: String
    var message: String
}

/// What every reconciler reads first: the object's identity, its spec and its status (empty when it has none).
struct ReconcileInput<Spec: APIObject, Status: FluxStatus> {
    let namespace: String
    let name: String
    let generation: Int
    let spec: Spec
    var status: Status
    /// The `reconcile.fluxcd.io/requestedAt` value the status must echo in lastHandledReconcileAt.
    let requested: String?

    init(_ object: Node, defaultStatus: Status) throws {
        namespace = object["metadata"]?["namespace"]?.string ?? ""
        name = object["metadata"]?["name"]?.string ?? ""
        generation = object["metadata"]?["generation"]?.int ?? 0
        spec = try APICoding.decode(Spec.self, from: object["spec"] ?? .emptyMap)
        status = try object["status"].map { try APICoding.decode(Status.self, from: $0) } ?? defaultStatus
        requested = ReconcileRequest.value(object)
    }
}

/// The annotation `flux reconcile` sets, and the status field that records it was handled.
public enum ReconcileRequest {
    public static let annotation = "reconcile.fluxcd.io/requestedAt"
    public static func value(_ o: Node) -> String? { o["metadata"]?["annotations"]?[annotation]?.string }
}

/// Runs blocking work (libgit2 has no timeouts) on its own thread and stops waiting at the deadline.
/// On timeout the thread is left to finish on its own; its result is dropped.
public enum Blocking {
    public struct DeadlineExceeded: Error, CustomStringConvertible {
        public var description: String { "context deadline exceeded" }
    }

    /// One piece of work and the signal that it finished.
    final class Job: @unchecked Sendable {
        var mutex = pthread_mutex_t()
        var cond = pthread_cond_t()
        var done = false
        let work: () -> Void
        init(_ work: @escaping () -> Void) {
            self.work = work
            pthread_mutex_init(&mutex, nil)
            var attr = pthread_condattr_t()
            pthread_condattr_init(&attr)
            pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
            pthread_cond_init(&cond, &attr)
            pthread_condattr_destroy(&attr)
        }
        deinit {
            pthread_cond_destroy(&cond)
            pthread_mutex_destroy(&mutex)
        }
        func finish() {
            pthread_mutex_lock(&mutex)
            done = true
            // every waiter (a result may be waited for on two threads: the applied record by the list reader and
            // by the reconcile)
            pthread_cond_broadcast(&cond)
            pthread_mutex_unlock(&mutex)
        }
        /// Waits until done or `seconds` pass; true when done.
        func wait(_ seconds: Double) -> Bool {
            var ts = timespec()
            clock_gettime(CLOCK_MONOTONIC, &ts)
            let end = Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9 + max(0, seconds)
            var deadline = timespec(tv_sec: Int(end), tv_nsec: Int((end - Double(Int(end))) * 1e9))
            pthread_mutex_lock(&mutex)
            while !done {
                if pthread_cond_timedwait(&cond, &mutex, &deadline) == ETIMEDOUT { break }
            }
            let d = done
            pthread_mutex_unlock(&mutex)
            return d
        }
    }

    final class Box<T>: @unchecked Sendable { var result: Result<T, Error>? }

    final class Held<T>: @unchecked Sendable {
        var value: T?
        init(_ value: T) { self.value = value }
    }

    /// Lets `value` go on a thread of its own: the caller goes on while a large tree is taken apart (a reconcile's
    /// change set of 5,000 objects costs ~10-20 ms to free). Given with `consume`, nothing else holds it, so the
    /// thread is where it is freed.
    public static func dispose<T>(_ value: consuming T) {
        let held = Held(value)
        _ = start { held.value = nil }
    }

    /// Work started on a thread of its own, joined later (`result`).
    final class Pending<T>: @unchecked Sendable {
        let job: Job
        let box: Box<T>
        init(job: Job, box: Box<T>) { self.job = job; self.box = box }
        /// The work's result once it finished, waiting at most `seconds`; nil when it did not finish by then (its
        /// thread goes on alone and its result is dropped).
        func result(within seconds: Double) -> Result<T, Error>? { job.wait(seconds) ? box.result : nil }
        /// `result`, handed over: the box no longer holds it, so what the caller does with it decides where it is
        /// freed (the box itself may be freed last, on another thread).
        func take(within seconds: Double) -> Result<T, Error>? {
            guard job.wait(seconds) else { return nil }
            defer { box.result = nil }
            return box.result
        }
    }

    /// Starts `body` on a thread of its own (on this one, at once, when no thread can be started).
    static func start<T>(_ body: @escaping () throws -> T) -> Pending<T> {
        let box = Box<T>()
        let job = Job { box.result = Result { try body() } }
        let ctx = Unmanaged.passRetained(job).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            let j = Unmanaged<Job>.fromOpaque(raw!).takeRetainedValue()
            var pipe = sigset_t()
            sigemptyset(&pipe)
            sigaddset(&pipe, SIGPIPE)
            pthread_sigmask(SIG_BLOCK, &pipe, nil)
            j.work()
            j.finish()
            return nil
        }, ctx)
        if rc == 0 {
            pthread_detach(thread)
        } else {
            Unmanaged<Job>.fromOpaque(ctx).release()
            job.work()
            job.finish()
        }
        return Pending(job: job, box: box)
    }

    public static func run<T>(seconds: Double, _ body: @escaping () throws -> T) throws -> T {
        // A server that closes the connection while libgit2 (or libssh2) writes must be an error, not the SIGPIPE
        // that ends the process: blocked on the thread `start` makes, the write fails with EPIPE instead.
        guard let r = start(body).result(within: seconds) else { throw DeadlineExceeded() }
        return try r.get()
    }
}

/// Kubernetes Events as the Flux controllers record them (core/v1, with the revision annotation).
public struct EventRecorder {
    let kube: KubeClient
    let component: String
    /// Sends each event to the Alerts that match it, as notification-controller would.
    let notifier: Notifier
    let warn: (String) -> Void

    /// `storage` keeps the duplicate-event limit across runs (EventRateLimit); without it every event is sent.
    public init(kube: KubeClient, component: String, storage: Storage? = nil, warn: @escaping (String) -> Void = { _ in }) {
        self.kube = kube
        self.component = component
        self.notifier = Notifier(kube: kube, storage: storage, warn: warn)
        self.warn = warn
    }

    static let events = ResourceRef(group: "", version: "v1", resource: "events", kind: "Event", namespaced: true)

    /// Records an event; a failure to record it is a warning naming the object, not an error of the reconciliation
    /// (as for the controllers: the objects and the status are what count).
    /// Creates the core/v1 Event (no notification).
    static func create(kube: KubeClient, component: String, object: Node, type: String, reason: String, message: String,
                       annotations: [String: String], warn: (String) -> Void) {
        let meta = object["metadata"] ?? .map([])
        let ns = meta["namespace"]?.string ?? "default"
        let name = meta["name"]?.string ?? ""
        let now = Clock.rfc3339()
        let micro = Clock.rfc3339Micro()
        var anns: [(String, Node)] = []
        for (k, v) in annotations.sorted(by: { $0.key < $1.key }) { anns.append((k, .string(v))) }
        let suffix = String(UInt64(Clock.now() * 1e9), radix: 16)
        let event: Node = .map([
            ("apiVersion", "v1"), ("kind", "Event"),
            ("metadata", .map([("name", .string("\(name).\(suffix)")), ("namespace", .string(ns)), ("annotations", .map(anns))])),
            ("involvedObject", .map([
                ("apiVersion", object["apiVersion"] ?? ""), ("kind", object["kind"] ?? ""), ("name", .string(name)),
                ("namespace", .string(ns)), ("uid", meta["uid"] ?? ""), ("resourceVersion", meta["resourceVersion"] ?? ""),
            ])),
            ("type", .string(type)), ("reason", .string(reason)), ("message", .string(message)),
            ("source", .map([("component", .string(component))])),
            ("firstTimestamp", .string(now)), ("lastTimestamp", .string(now)), ("eventTime", .string(micro)), ("count", 1),
            ("reportingComponent", .string(component)), ("reportingInstance", .string("fluxs")), ("action", .string(reason)),
        ])
        do { _ = try kube.create(Self.events, namespace: ns, object: event) } catch {
            warn("\(object["kind"]?.string ?? "")/\(ns)/\(name): event create failed (\(reason) event not recorded): \(error)")
        }
    }

    public func record(_ object: Node, type: String, reason: String, message: String, annotations: [String: String] = [:]) {
        Self.create(kube: kube, component: component, object: object, type: type, reason: reason, message: message,
                    annotations: annotations, warn: warn)
        let meta = object["metadata"] ?? .map([])
        let ns = meta["namespace"]?.string ?? "default"
        let name = meta["name"]?.string ?? ""
        let now = Clock.rfc3339()
        let involved: Node = .map([
            ("kind", object["kind"] ?? ""), ("namespace", .string(ns)), ("name", .string(name)), ("uid", meta["uid"] ?? ""),
            ("apiVersion", object["apiVersion"] ?? ""), ("resourceVersion", meta["resourceVersion"] ?? ""),
        ])
        notifier.dispatch(NotificationEvent(involvedObject: involved, severity: type == "Warning" ? "error" : "info", timestamp: now,
                                            message: message, reason: reason, metadata: annotations, reportingController: component))
    }
}
