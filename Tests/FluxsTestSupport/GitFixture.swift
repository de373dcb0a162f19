// Test support needs XCTest, which a build with --static-swift-stdlib does not have (no static XCTest):
// there this module is empty, and only the test targets use it.
#if canImport(XCTest)
import Foundation
import XCTest

/// A bare repository on the test environment's git servers (under FLUXS_TEST_GIT_ROOT) and a work tree that pushes
/// to it.
public struct GitFixture {
    public var name: String
    public var work: URL
    public var bare: String

    /// A new repository whose first commit on `main` holds `files`.
    public init(root: String, files: [String: String]) throws {
        name = "r-\(UUID().uuidString.prefix(8).lowercased())"
        bare = root + "/\(name).git"
        XCTAssertEqual(try TestEnv.run("git", ["init", "-q", "--bare", "-b", "main", bare]).status, 0)
        work = try TestEnv.tempDir("fluxs-work")
        try git("init", "-q", "-b", "main")
        try commit(files, "initial")
    }

    @discardableResult
    public func git(_ args: String..., file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let r = try TestEnv.run("git", ["-C", work.path, "-c", "user.name=t", "-c", "user.email=t@example.com"] + args)
        XCTAssertEqual(r.status, 0, "git \(args): \(r.stderr)", file: file, line: line)
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Writes (or, for a nil text, removes) files, commits everything and pushes main.
    public func commit(_ files: [String: String?], _ message: String) throws {
        for (path, text) in files {
            let url = work.appendingPathComponent(path)
            if let text { try TestEnv.write(text, to: url) } else { try FileManager.default.removeItem(at: url) }
        }
        try git("add", "-A")
        try git("commit", "-q", "-m", message)
        try push()
    }

    public func push() throws {
        try git("push", "-q", "--force", "--tags", bare, "main")
    }
}
#endif
