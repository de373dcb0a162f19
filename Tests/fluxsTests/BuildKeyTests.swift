import Foundation
import FluxsTestSupport
import XCTest

/// The build key (docs/decisions.md "Build key"): a reconcile of the same revision, spec, substitution data and
/// program, whose objects are all as the last apply from this machine left them, skips the build; each of these
/// inputs changed, or an unreadable record, makes the build again. Against the API simulator and the real git server.
final class BuildKeyTests: XCTestCase {
    var fx: ReconcileFixture!

    override func setUpWithError() throws { fx = try ReconcileFixture(prefix: "bkey") }
    override func tearDownWithError() throws { fx?.cleanUp() }

    static let skipped = "build skipped: key matches"

    static func configMap(_ name: String, _ value: String) -> String {
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \(name)\ndata:\n  v: \"\(value)\"\n"
    }

    /// `fluxs reconcile kustomization apps --verbose`, which must succeed.
    func reconcile(withSource: Bool = false, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let r = try fx.fluxs(["reconcile", "kustomization", "apps", "--verbose"] + (withSource ? ["--with-source"] : []))
        XCTAssertEqual(r.status, 0, r.stderr, file: file, line: line)
        return r.stderr
    }

    func value(_ name: String) throws -> String { try fx.jsonpath("configmap", name, ".data.v", namespace: fx.apps) }

    func testSameInputsSkipTheBuildAndEveryChangedInputBuildsAgain() throws {
        let repo = try fx.source(["apps/a.yaml": Self.configMap("a", "${greeting}"), "apps/b.yaml": Self.configMap("b", "1")])
        XCTAssertEqual(try fx.kubectl("create", "configmap", "vars", "-n", fx.ns, "--from-literal=greeting=hello").status, 0)
        let created = try fx.fluxs(["create", "kustomization", "apps", "--source=GitRepository/fleet", "--path=./apps", "--prune=true",
                                    "--interval=10m", "--target-namespace=\(fx.apps)", "--export"])
        XCTAssertEqual(created.status, 0, created.stderr)
        let manifest = created.stdout + "  postBuild:\n    substituteFrom:\n    - kind: ConfigMap\n      name: vars\n"
        XCTAssertEqual(try fx.kubectl("apply", "-f", "-", stdin: manifest).status, 0)
        var log = try reconcile()
        XCTAssertFalse(log.contains(Self.skipped), log)
        XCTAssertEqual(try value("a"), "hello")

        // Nothing changed: no build, every object unchanged.
        log = try reconcile()
        XCTAssertTrue(log.contains(Self.skipped), log)
        XCTAssertTrue(log.contains("ConfigMap/\(fx.apps)/a unchanged"), log)
        XCTAssertFalse(log.contains("Building manifests"), log)

        // The substitution data changed: built again, the object follows.
        XCTAssertEqual(try fx.kubectl("patch", "configmap", "vars", "-n", fx.ns, "--type=merge", "-p", "{\"data\":{\"greeting\":\"hi\"}}").status, 0)
        log = try reconcile()
        XCTAssertFalse(log.contains(Self.skipped), log)
        XCTAssertTrue(log.contains("ConfigMap/\(fx.apps)/a configured"), log)
        XCTAssertEqual(try value("a"), "hi")
        XCTAssertTrue(try reconcile().contains(Self.skipped))

        // The spec changed (a common label): built again.
        XCTAssertEqual(try fx.kubectl("patch", "kustomization", "apps", "-n", fx.ns, "--type=merge",
                                      "-p", "{\"spec\":{\"commonMetadata\":{\"labels\":{\"team\":\"blue\"}}}}").status, 0)
        log = try reconcile()
        XCTAssertFalse(log.contains(Self.skipped), log)
        XCTAssertEqual(try fx.jsonpath("configmap", "b", ".metadata.labels.team", namespace: fx.apps), "blue")
        XCTAssertTrue(try reconcile().contains(Self.skipped))

        // A new revision: built again.
        try repo.commit(["apps/b.yaml": Self.configMap("b", "2")], "b is 2")
        log = try reconcile(withSource: true)
        XCTAssertFalse(log.contains(Self.skipped), log)
        XCTAssertEqual(try value("b"), "2")
        XCTAssertTrue(try reconcile().contains(Self.skipped))

        // Drift: the object is not as fluxs left it, so the build decides and puts it back.
        XCTAssertEqual(try fx.kubectl("patch", "configmap", "b", "-n", fx.apps, "--type=merge", "-p", "{\"data\":{\"v\":\"edited\"}}").status, 0)
        log = try reconcile()
        XCTAssertFalse(log.contains(Self.skipped), log)
        XCTAssertEqual(try value("b"), "2")

        // A corrupted record: built again (and recorded again).
        let records = try FileManager.default.contentsOfDirectory(atPath: fx.storage.appendingPathComponent("applied").path)
        XCTAssertEqual(records.count, 1, "\(records)")
        let record = fx.storage.appendingPathComponent("applied").appendingPathComponent(records[0])
        let text = try String(contentsOf: record, encoding: .utf8)
        XCTAssertTrue(text.hasPrefix("fluxs-applied-record 1\n") && text.contains("\nk\t"), text)   // the build key line
        try Data(text.prefix(text.count / 2).utf8).write(to: record)
        log = try reconcile()
        XCTAssertFalse(log.contains(Self.skipped), log)
        XCTAssertTrue(try reconcile().contains(Self.skipped))
        // A record whose key was altered: built again.
        let altered = try String(contentsOf: record, encoding: .utf8)
        guard let keyRange = altered.range(of: "\nk\t") else { return XCTFail(altered) }
        var bad = altered
        bad.replaceSubrange(keyRange.upperBound..<altered.index(keyRange.upperBound, offsetBy: 4), with: "zzzz")
        try Data(bad.utf8).write(to: record)
        log = try reconcile()
        XCTAssertFalse(log.contains(Self.skipped), log)
    }
}
