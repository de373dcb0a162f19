// Test support needs XCTest, which a build with --static-swift-stdlib does not have: see TestEnv.swift.
#if canImport(XCTest)
import Foundation
import XCTest

/// The kustomize rule tests' comparison with `kubectl kustomize` (the oracle): a tree of files is written to a
/// temporary directory and built by kubectl and by `render` (fluxs's engine, passed in so this target does not
/// depend on it).
public struct KustomizeOracle {
    public let prefix: String
    public let render: (String) throws -> String

    public init(prefix: String, render: @escaping (String) throws -> String) {
        self.prefix = prefix
        self.render = render
    }

    public func tree(_ files: [String: String]) throws -> URL {
        let root = try TestEnv.tempDir(prefix)
        for (p, t) in files { try TestEnv.write(t, to: root.appendingPathComponent(p)) }
        return root
    }

    /// Both build the tree (at `sub` inside it) and print the same text, which is returned.
    public func build(_ files: [String: String], at sub: String = "", file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let root = try tree(files)
        defer { try? FileManager.default.removeItem(at: root) }
        let dir = sub.isEmpty ? root.path : root.appendingPathComponent(sub).path
        let want = try TestEnv.kustomize([dir])
        XCTAssertEqual(want.status, 0, want.stderr, file: file, line: line)
        let got = try render(dir)
        XCTAssertEqual(got, want.stdout, file: file, line: line)
        return got
    }

    /// Both refuse the tree; fluxs's message contains `message` (kubectl's words).
    public func refuse(_ files: [String: String], at sub: String = "", _ message: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let root = try tree(files)
        defer { try? FileManager.default.removeItem(at: root) }
        let dir = sub.isEmpty ? root.path : root.appendingPathComponent(sub).path
        let want = try TestEnv.kustomize([dir])
        XCTAssertNotEqual(want.status, 0, "kubectl accepted the tree", file: file, line: line)
        XCTAssertTrue(want.stderr.contains(message), want.stderr, file: file, line: line)
        XCTAssertThrowsError(try render(dir), file: file, line: line) { e in
            XCTAssertTrue("\(e)".contains(message), "\(e)", file: file, line: line)
        }
    }
}
#endif
