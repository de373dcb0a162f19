import FluxsKube
import FluxsYAML
#if canImport(Glibc)
import Glibc
#endif

/// One fluxs process at a time reconciles an object: a coordination.k8s.io/v1 Lease next to it, taken and renewed as
/// client-go's leader election takes and renews the Leases of Flux's controllers (holderIdentity, acquireTime,
/// renewTime, leaseDurationSeconds, leaseTransitions; compare-and-swap on resourceVersion; released by clearing the
/// holder). Two CI jobs that reconcile the same Kustomization or GitRepository therefore run one after the other; a
/// holder that was killed stops blocking when its Lease expires (35 s after its last renewal, as Flux's controllers'),
/// or at once when it ran on this machine and its process is gone.
public final class ObjectLease: @unchecked Sendable {
    public static let leases = ResourceRef(group: "coordination.k8s.io", version: "v1", resource: "leases", kind: "Lease", namespaced: true)
    /// Flux's controllers: --leader-election-lease-duration=35s, --leader-election-retry-period=5s.
    public static let duration = 35
    static let renewEvery = 5.0

    public let namespace: String
    public let name: String
    /// `Kustomization/<ns>/<name>`: what the Lease locks.
    public let subject: String
    public let identity: String

    let kube: KubeClient
    var mutex = pthread_mutex_t()
    /// Signalled (under `mutex`) when `stopping` or `renewerDone` changes: the renewer sleeps on it between renewals
    /// and `release` waits on it for the renewer, so neither polls (a 0.1 s poll made every run wait ~0.1 s at its end).
    var changed = pthread_cond_t()
    var held: Node?
    var lostTo: String?
    var stopping = false
    var renewerDone = true

    /// The Lease of an object: `fluxs-<kind>-<name>` in the object's namespace (hashed when that is too long a name).
    public init(kube: KubeClient, kind: String, namespace: String, name: String) {
        self.kube = kube
        self.namespace = namespace
        var n = "fluxs-\(kind.lowercased())-\(name)"
        if n.utf8.count > 253 { n = String(n.prefix(200)) + "-" + String(Hashing.sha256Hex(name).prefix(16)) }
        self.name = n
        self.subject = "\(kind)/\(namespace)/\(name)"
        self.identity = ObjectLease.myIdentity()
        pthread_mutex_init(&mutex, nil)
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(&changed, &attr)
        pthread_condattr_destroy(&attr)
    }

    deinit {
        pthread_cond_destroy(&changed)
        pthread_mutex_destroy(&mutex)
    }

    /// With `mutex` held: sleeps until `changed` is signalled or `seconds` (monotonic) pass; callers re-check their
    /// condition (a wakeup may be spurious).
    func waitChanged(_ seconds: Double) {
        guard seconds > 0 else { return }
        let until = monotonicSeconds() + seconds
        var ts = timespec()
        ts.tv_sec = Int(until)
        ts.tv_nsec = Int((until - Double(Int(until))) * 1e9)
        _ = pthread_cond_timedwait(&changed, &mutex, &ts)
    }

    public struct Held: Error, CustomStringConvertible {
        public var description: String
    }

    /// `<host>_fluxs_<pid>_<pid namespace>_<random>`: enough to tell, on the same machine, that the holder is gone.
    static func myIdentity() -> String {
        "\(hostName())_fluxs_\(getpid())_\(pidNamespace())_\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
    }

    static func hostName() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        guard gethostname(&buf, buf.count - 1) == 0 else { return "unknown" }
        let h = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return h.isEmpty ? "unknown" : h.replacing("_", with: "-")
    }

    static func pidNamespace() -> String {
        var buf = [CChar](repeating: 0, count: 128)
        let n = readlink("/proc/self/ns/pid", &buf, buf.count - 1)
        guard n > 0 else { return "0" }
        let s = String(decoding: buf.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)   // pid:[4026531836]
        return String(s.filter(\.isNumber))
    }

    /// "fluxs process 4242 on runner-7" for identities fluxs writes; other holders verbatim.
    public static func describe(_ holder: String) -> String {
        let p = holder.split(separator: "_", omittingEmptySubsequences: false)
        if p.count == 5, p[1] == "fluxs" { return "fluxs process \(p[2]) on \(p[0])" }
        return holder
    }

    /// True when the holder ran on this machine, in this pid namespace, and its process no longer exists.
    static func holderIsGone(_ holder: String) -> Bool {
        let p = holder.split(separator: "_", omittingEmptySubsequences: false)
        guard p.count == 5, p[1] == "fluxs", String(p[0]) == hostName(), String(p[3]) == pidNamespace(), let pid = Int32(p[2]) else { return false }
        if pid == getpid() { return true }   // an earlier process with this pid
        return kill(pid, 0) != 0 && errno == ESRCH
    }

    func spec(_ o: Node) -> (holder: String, renew: Double, duration: Double, transitions: Int) {
        let s = o["spec"]
        let renew = s?["renewTime"]?.string.flatMap(Clock.parse) ?? s?["acquireTime"]?.string.flatMap(Clock.parse) ?? 0
        return (s?["holderIdentity"]?.string ?? "", renew, Double(s?["leaseDurationSeconds"]?.int ?? 0), s?["leaseTransitions"]?.int ?? 0)
    }

    func record(acquire: String, transitions: Int) -> Node {
        .map([("holderIdentity", .string(identity)), ("leaseDurationSeconds", .int(Self.duration)),
              ("acquireTime", .string(acquire)), ("renewTime", .string(Clock.rfc3339Micro())), ("leaseTransitions", .int(transitions))])
    }

    /// Takes the Lease, waiting while another process holds it until `deadline` (monotonic); `waiting` is told once
    /// who holds it. Then renews it on a thread of its own until `release`. `free` is called each time the Lease was
    /// read free, just before the write that takes it, which is conditional on that read (create, or update at its
    /// resourceVersion): when that write succeeds, no other holder wrote the Lease after the read, so whatever
    /// another holder did to the cluster was done before `free` was called. The write that follows the last call
    /// is the one that succeeded.
    public func acquire(deadline: Double, waiting: (String) -> Void, free: () -> Void = {}) throws {
        var announced = false
        while true {
            let live: Node?
            do { live = try kube.getIfExists(Self.leases, namespace: namespace, name: name) } catch let e as KubeError {
                throw e.naming("Lease \(namespace)/\(name) (the lock of \(subject)) query failed")
            }
            do {
                guard let live else {
                    let now = Clock.rfc3339Micro()
                    let lease: Node = .map([
                        ("apiVersion", "coordination.k8s.io/v1"), ("kind", "Lease"),
                        ("metadata", .map([("name", .string(name)), ("namespace", .string(namespace)),
                                           ("labels", .map([("app.kubernetes.io/managed-by", "fluxs")]))])),
                        ("spec", record(acquire: now, transitions: 0)),
                    ])
                    free()
                    held = try kube.create(Self.leases, namespace: namespace, object: lease)
                    startRenewing()
                    return
                }
                let s = spec(live)
                let expired = Clock.now() > s.renew + s.duration
                if s.holder.isEmpty || s.holder == identity || expired || Self.holderIsGone(s.holder) {
                    var next = live
                    let mine = s.holder == identity
                    let acquire = mine ? (live["spec"]?["acquireTime"]?.string ?? Clock.rfc3339Micro()) : Clock.rfc3339Micro()
                    next["spec"] = record(acquire: acquire, transitions: s.transitions + (mine ? 0 : 1))
                    free()
                    held = try kube.update(Self.leases, namespace: namespace, object: next)
                    startRenewing()
                    return
                }
                let ago = GoDuration.format(max(0, Clock.now() - s.renew).rounded())
                if !announced {
                    announced = true
                    waiting("waiting for \(Self.describe(s.holder)), which reconciles \(subject) (Lease \(namespace)/\(name), renewed \(ago) ago)")
                }
                if monotonicSeconds() + 1 >= deadline {
                    throw Held(description: "\(subject) is being reconciled by \(Self.describe(s.holder)) (Lease \(namespace)/\(name) held by \(s.holder), renewed \(ago) ago); gave up waiting after --timeout \(GoDuration.format(kube.timeout))")
                }
                sleepSeconds(1)
            } catch let e as KubeError where e.kind == .alreadyExists || e.kind == .conflict {
                continue   // another process was faster: look again
            } catch let e as KubeError {
                throw e.naming("Lease \(namespace)/\(name) (the lock of \(subject)) update failed")
            }
        }
    }

    /// Throws when the Lease was taken over (this process stalled past its expiry): the caller must stop changing the
    /// cluster, another process now reconciles the object.
    public func check(_ step: String) throws {
        pthread_mutex_lock(&mutex)
        let lost = lostTo
        pthread_mutex_unlock(&mutex)
        if let lost {
            throw Held(description: "\(subject): the Lease \(namespace)/\(name) was taken over by \(Self.describe(lost)) (this process did not renew it within \(Self.duration)s); stopped before \(step)")
        }
    }

    func startRenewing() {
        renewerDone = false
        let ctx = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            let me = Unmanaged<ObjectLease>.fromOpaque(raw!).takeRetainedValue()
            me.renewLoop()
            return nil
        }, ctx)
        if rc == 0 { pthread_detach(thread) } else { Unmanaged<ObjectLease>.fromOpaque(ctx).release(); renewerDone = true }
    }

    func renewLoop() {
        defer {
            pthread_mutex_lock(&mutex)
            renewerDone = true
            pthread_cond_broadcast(&changed)
            pthread_mutex_unlock(&mutex)
        }
        guard let client = try? kube.sibling(grace: 5) else { return }
        var last = monotonicSeconds()
        while true {
            pthread_mutex_lock(&mutex)
            if !stopping && lostTo == nil {
                // until the next renewal or the client's deadline, whichever is first, unless release() says stop
                waitChanged(min(Self.renewEvery - (monotonicSeconds() - last), client.remaining))
            }
            let stop = stopping || lostTo != nil
            let current = held
            pthread_mutex_unlock(&mutex)
            if stop || client.remaining <= 0 { return }
            guard monotonicSeconds() - last >= Self.renewEvery else { continue }
            guard var next = current else { last = monotonicSeconds(); continue }
            last = monotonicSeconds()
            next.set(["spec", "renewTime"], .string(Clock.rfc3339Micro()))
            do {
                let out = try client.update(Self.leases, namespace: namespace, object: next)
                pthread_mutex_lock(&mutex)
                if !stopping { held = out }
                pthread_mutex_unlock(&mutex)
            } catch let e as KubeError where e.kind == .conflict || e.kind == .notFound {
                // Written by someone else: still ours when our own earlier write was the change (its answer lost).
                let live = try? client.getIfExists(Self.leases, namespace: namespace, name: name)
                pthread_mutex_lock(&mutex)
                if let live, spec(live).holder == identity { held = live } else { lostTo = live.map { spec($0).holder } ?? "nobody (the Lease was deleted)" }
                pthread_mutex_unlock(&mutex)
            } catch {
                continue   // the API did not answer: the next tick tries again, the Lease lasts 35 s
            }
        }
    }

    /// Stops renewing and releases the Lease as client-go does on a clean exit (holder cleared, 1 s duration), so the
    /// next process need not wait for it to expire.
    public func release() {
        pthread_mutex_lock(&mutex)
        stopping = true
        pthread_cond_broadcast(&changed)
        // The renewer stops at once, or after the call it is making (at most 5 s are waited for it).
        let until = monotonicSeconds() + 5
        while !renewerDone {
            let left = until - monotonicSeconds()
            if left <= 0 { break }
            waitChanged(left)
        }
        let current = held, lost = lostTo
        held = nil
        pthread_mutex_unlock(&mutex)
        guard var next = current, lost == nil else { return }
        next["spec"]?["holderIdentity"] = .string("")
        next["spec"]?["leaseDurationSeconds"] = .int(1)
        next.set(["spec", "renewTime"], .string(Clock.rfc3339Micro()))
        kube.allowGrace(2)
        _ = try? kube.update(Self.leases, namespace: namespace, object: next)
    }
}
