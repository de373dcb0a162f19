/// Condition bookkeeping as the Flux runtime does it: a status keeps its lastTransitionTime while it does not
/// change, and the list is ordered Ready first, then by type.
public enum ConditionType {
    public static let ready = "Ready"
    public static let reconciling = "Reconciling"
    public static let stalled = "Stalled"
    public static let healthy = "Healthy"
    public static let artifactInStorage = "ArtifactInStorage"
    public static let artifactOutdated = "ArtifactOutdated"
    public static let fetchFailed = "FetchFailed"
    public static let storageOperationFailed = "StorageOperationFailed"
    public static let includeUnavailable = "IncludeUnavailable"
    public static let sourceVerified = "SourceVerified"
}

extension Array where Element == Condition {
    public func get(_ type: String) -> Condition? { first { $0.type == type } }

    public func isTrue(_ type: String) -> Bool { get(type)?.status == "True" }

    /// Sets a condition; keeps lastTransitionTime when the status is unchanged.
    public mutating func set(_ type: String, _ status: Bool?, reason: String, message: String, generation: Int, now: String) {
        let s = status.map { $0 ? "True" : "False" } ?? "Unknown"
        var c = Condition(type: type, status: s, reason: reason, message: message, observedGeneration: generation, time: now)
        if let i = firstIndex(where: { $0.type == type }) {
            if self[i].status == s { c.lastTransitionTime = self[i].lastTransitionTime }
            self[i] = c
        } else {
            append(c)
        }
        sortFlux()
    }

    public mutating func delete(_ type: String) { removeAll { $0.type == type } }

    mutating func sortFlux() {
        sort { a, b in
            if a.type == b.type { return false }
            if a.type == ConditionType.ready { return true }
            if b.type == ConditionType.ready { return false }
            return a.type < b.type
        }
    }
}
