import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Independent pure work spread over the machine's cores, its results in input order, so what a caller does with
/// them (and the first error it reports) is what a loop would give (docs/decisions.md, "kustomize build on two cores").
public enum Parallel {
    /// The processors online (at least 1).
    public static var processors: Int {
        #if canImport(Glibc)
        return max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        #else
        return 1
        #endif
    }

    /// `work(i)` for every `i` in `0..<count`, in chunks of consecutive indices run concurrently (one chunk, on this
    /// thread, below `minimum` items or on one processor); the results in index order. `work` must not touch
    /// shared mutable state.
    public static func map<T: Sendable>(_ count: Int, minimum: Int = 2, _ work: @Sendable (Int) -> T) -> [T] {
        let cpus = processors
        guard count >= max(minimum, 2), cpus > 1 else { return (0..<count).map(work) }
        // A few chunks per processor: a chunk of slow items does not leave the other threads idle.
        let chunks = min(count, cpus * 4)
        let results = Slots<[T]>(chunks)
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let lo = count * c / chunks, hi = count * (c + 1) / chunks
            results.set(c, (lo..<hi).map(work))
        }
        return results.values().flatMap { $0 }
    }

    /// One result per chunk, each stored once under a lock.
    final class Slots<T: Sendable>: @unchecked Sendable {
        private var items: [T?]
        private let lock = DispatchQueue(label: "fluxs.parallel.slots")

        init(_ n: Int) { items = Array(repeating: nil, count: n) }

        func set(_ i: Int, _ v: T) { lock.sync { items[i] = v } }

        /// Every slot's value (all are set when concurrentPerform returns).
        func values() -> [T] { lock.sync { items.compactMap { $0 } } }
    }
}
