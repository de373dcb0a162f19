import FluxsKube
import XCTest

final class FilesTests: XCTestCase {
    /// Files.absolute cleans a path lexically: empty and `.` components go, `..` takes the one before (none above
    /// the root); relative paths join the base. ASCII paths are cleaned on bytes, others on Characters: both give this.
    func testAbsoluteCleansPaths() {
        let cases: [(String, String?, String)] = [
            ("/a/b/c", nil, "/a/b/c"), ("/a//b/./c/", nil, "/a/b/c"), ("/a/b/../c", nil, "/a/c"), ("/../..", nil, "/"),
            ("/", nil, "/"), ("//", nil, "/"), ("/a/..", nil, "/"), ("/a/.../b", nil, "/a/.../b"), ("/a/..b/.c", nil, "/a/..b/.c"),
            ("b/c", "/a", "/a/b/c"), ("../x", "/a/b", "/a/x"), ("./", "/a/", "/a"), ("/abs", "/base", "/abs"), ("x", "", "/x"),
            ("c", "rel/b", "/rel/b/c"), ("/é/./ü/../ß", nil, "/é/ß"), ("d/../é", "/a", "/a/é"), ("/a/b/../../..", nil, "/"),
        ]
        for (path, base, expected) in cases {
            XCTAssertEqual(Files.absolute(path, relativeTo: base), expected, "\(path) relative to \(base ?? "nil")")
        }
    }
}
