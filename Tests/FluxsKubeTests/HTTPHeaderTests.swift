@testable import FluxsKube
import FluxsYAML
import XCTest

/// Response header lines are taken apart as bytes when they are ASCII; that must read them exactly as the
/// Character-based reading (kept for other lines) does.
final class HTTPHeaderTests: XCTestCase {
    static let lines = [
        "HTTP/1.1 200 OK\r\n", "HTTP/2 201 \r\n", "HTTP/1.1 204\r\n", "HTTP/1.1  404  Not Found\r\n",
        "Content-Type: application/json\r\n", "content-type:text/plain\r\n", "X-Tabs:\t \tvalue \t\r\n",
        "X-Trailing: value \u{0B}\u{0C} \r\n", "X-Empty:\r\n", "X-Empty-Space:   \r\n", "Warning: 299 - \"one\"\r\n",
        "WARNING: 299 - \"two\"\r\n", "X-Colons: a:b:c\r\n", "no colon here\r\n", ": nameless\r\n", "\r\n",
        "X-LF-Only: v\n", "X-Unicode: caf\u{E9} \u{85}\r\n", "X-Combining: e\u{301}\r\n", "X-Line-Sep: v\u{2028}\r\n",
    ]

    func read(_ lines: [String], bytes: Bool) -> HTTPClient.Context {
        let c = HTTPClient.Context()
        for l in lines {
            if bytes {
                Array(l.utf8).withUnsafeBytes { c.header($0) }
            } else {
                c.headerText(l)
            }
        }
        return c
    }

    func testByteReadingMatchesTextReading() {
        // Each line after each other line: a status line resets what came before it.
        for a in Self.lines {
            for b in Self.lines {
                let x = read([a, b], bytes: true), y = read([a, b], bytes: false)
                XCTAssertEqual(x.status, y.status, "\(a.debugDescription) \(b.debugDescription)")
                XCTAssertEqual(x.headers, y.headers, "\(a.debugDescription) \(b.debugDescription)")
                XCTAssertEqual(x.warnings, y.warnings, "\(a.debugDescription) \(b.debugDescription)")
            }
        }
    }

    func testWhatALineGives() {
        let c = read(["HTTP/1.1 200 OK\r\n", "Content-Type: application/json\r\n", "X-Tabs:\t v \t\r\n", "Warning: 299 - \"a\"\r\n",
                      "warning: 299 - \"b\"\r\n", "X-Trailing: v \u{0B}\r\n"], bytes: true)
        XCTAssertEqual(c.status, 200)
        XCTAssertEqual(c.headers["content-type"], "application/json")
        XCTAssertEqual(c.headers["x-tabs"], "v \t")
        XCTAssertEqual(c.headers["x-trailing"], "v")
        XCTAssertEqual(c.headers["warning"], "299 - \"a\", 299 - \"b\"")
        XCTAssertEqual(c.warnings, ["299 - \"a\"", "299 - \"b\""])
        let redirected = read(["HTTP/1.1 302 Found\r\n", "Location: /x\r\n", "HTTP/1.1 201 Created\r\n", "X-A: 1\r\n"], bytes: true)
        XCTAssertEqual(redirected.status, 201)
        XCTAssertEqual(redirected.headers, ["x-a": "1"])
    }

    func testPathEscapeKeepsUnreservedNamesAndEscapesTheRest() {
        XCTAssertEqual(pathEscape("cm-00001.a_b~c"), "cm-00001.a_b~c")
        XCTAssertEqual(pathEscape("system:controller:x"), "system:controller:x")
        XCTAssertEqual(pathEscape("a b/c"), "a%20b%2Fc")
        XCTAssertEqual(pathEscape("%3A"), "%253A")
        XCTAssertEqual(pathEscape("\u{FC}:"), "%C3%BC:")
        XCTAssertEqual(queryEscape("kustomize-controller"), "kustomize-controller")
        XCTAssertEqual(queryEscape("app.kubernetes.io/name=a b"), "app.kubernetes.io%2Fname%3Da%20b")
        XCTAssertEqual(queryEscape("a:b,c"), "a%3Ab%2Cc")
        for s in ["", "A-Z", "x?y", "x#y", "x%y", "@", "[", "`", "{"] {
            XCTAssertEqual(pathEscape(s), queryEscape(s).replacingAll("%3A", with: ":"), s)
        }
    }
}
