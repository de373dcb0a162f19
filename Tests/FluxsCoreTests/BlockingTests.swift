import Foundation
import XCTest
@testable import FluxsCore

/// Blocking.Pending: a result waited for on several threads at once reaches all of them when the work ends (the
/// applied record is waited for by the owner-list reader and by the reconcile; a wake-up for one waiter left the
/// other asleep until its deadline, five minutes in a reconcile).
final class BlockingTests: XCTestCase {
    func testEveryWaiterSeesTheResult() {
        for _ in 0..<20 {
            let pending = Blocking.start { () -> Int in
                usleep(20_000)
                return 42
            }
            let group = DispatchGroup()
            let results = Results()
            let t0 = Date()
            for _ in 0..<3 {
                group.enter()
                Thread.detachNewThread {
                    if case .success(let v)? = pending.result(within: 30) { results.add(v) }
                    group.leave()
                }
            }
            XCTAssertEqual(group.wait(timeout: .now() + 20), .success)
            XCTAssertEqual(results.values, [42, 42, 42])
            // all three woke at the end of the work, not at their deadline
            XCTAssertLessThan(Date().timeIntervalSince(t0), 5)
        }
    }

    final class Results: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [Int] = []
        func add(_ v: Int) { lock.lock(); items.append(v); lock.unlock() }
        var values: [Int] { lock.lock(); defer { lock.unlock() }; return items }
    }
}
