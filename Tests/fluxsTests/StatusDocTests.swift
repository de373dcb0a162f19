import Foundation
import FluxsTestSupport
import XCTest

/// docs/status.md's command table is generated from the command table; it must be what this build prints.
final class StatusDocTests: XCTestCase {
    func testStatusTableIsTheGeneratedOne() throws {
        let r = try TestEnv.fluxs(["docgen", "status"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let doc = try String(contentsOf: TestEnv.packageRoot.appendingPathComponent("docs/status.md"), encoding: .utf8)
        XCTAssertTrue(doc.contains(r.stdout), "docs/status.md is stale: regenerate it with `fluxs docgen status --file docs/status.md`")
        // every leaf of flux's tree is listed, each with a state
        XCTAssertTrue(r.stdout.contains("of the 142 leaf commands of flux v2.9.4's tree"), r.stdout)
        for line in r.stdout.split(separator: "\n") where line.hasPrefix("| `fluxs ") {
            XCTAssertTrue(line.contains(" | available | ") || line.contains(" | not yet | "), String(line))
        }
    }
}
