import FluxsKube
import FluxsYAML
#if canImport(Glibc)
import Glibc
#endif

/// notification-controller's duplicate-event limit (its `--rate-limit-interval`, 5 minutes): one token per event key
/// and interval, the key being a SHA-256 of the involved object, the message and the revision, origin revision and
/// token metadata (eventKeyFunc). The controller keeps the buckets in memory; fluxs runs once per command, so they are
/// kept in `<storage>/notifications/ratelimit.json` (0600, under an flock) and separate runs honour each other.
public struct EventRateLimit {
    public static let interval: Double = 300
    let path: String?

    public init(storage: Storage?) {
        path = storage.map { $0.root + "/notifications/ratelimit.json" }
    }

    /// notification-controller's eventKeyFunc.
    static func key(_ e: NotificationEvent) -> String {
        var comps = ["event", "name=" + e.name, "namespace=" + e.namespace, "kind=" + e.kind, "message=" + e.message]
        let g = e.group
        if let v = e.metadata[g + "/originRevision"] { comps.append("originRevision=" + v) }
        if let v = e.metadata[g + "/revision"] { comps.append("revision=" + v) }
        if let v = e.metadata[g + "/token"] { comps.append("token=" + v) }
        return Hashing.sha256Hex(comps.joined(separator: "/"))
    }

    /// True when the event may be sent now (and takes its token); false for a duplicate inside the interval.
    /// Without a storage (or when the file cannot be used) every event is sent.
    func admit(_ e: NotificationEvent, now: Double = Clock.now()) -> Bool {
        guard let path else { return true }
        let dir = Files.dirname(path)
        guard (try? Files.makeDirectories(dir, mode: 0o700)) != nil else { return true }
        let lockFD = open(dir + "/ratelimit.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lockFD >= 0 else { return true }
        defer { close(lockFD) }
        flock(lockFD, LOCK_EX)
        defer { flock(lockFD, LOCK_UN) }
        var seen: [(String, Double)] = []
        if let bytes = try? Files.read(path), let node = try? JSON.decode(bytes: bytes), let m = node.map {
            for (k, v) in m.entries {
                if let t = v.text.flatMap(Double.init), now - t < Self.interval, t <= now + 1 { seen.append((k, t)) }
            }
        }
        let key = Self.key(e)
        if seen.contains(where: { $0.0 == key }) { return false }
        seen.append((key, now))
        let node: Node = .map(seen.map { ($0.0, .string(String($0.1))) })
        if let bytes = try? JSON.encodeBytes(node) { try? Files.writeAtomically(path, bytes, mode: 0o600) }
        return true
    }
}
