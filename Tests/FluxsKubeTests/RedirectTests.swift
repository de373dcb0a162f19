@testable import FluxsKube
import XCTest

/// The pieces of fluxs's redirect rule (docs/security.md) that need no server.
final class RedirectTests: XCTestCase {
    func testOriginsCompareSchemeHostAndPort() {
        XCTAssertEqual(HTTPOrigin("https://Git.Example.com/x"), HTTPOrigin("https://git.example.com:443/y?z"))
        XCTAssertEqual(HTTPOrigin("http://user:pw@h/x"), HTTPOrigin("http://h:80"))
        XCTAssertNotEqual(HTTPOrigin("http://h:8080/x"), HTTPOrigin("http://h/x"))
        XCTAssertNotEqual(HTTPOrigin("http://h/x"), HTTPOrigin("https://h/x"))
        XCTAssertNotEqual(HTTPOrigin("http://127.0.0.1/x"), HTTPOrigin("http://localhost/x"))
        XCTAssertEqual(HTTPOrigin("https://[::1]:6443/api")?.description, "https://[::1]:6443")
        XCTAssertNil(HTTPOrigin("not a url"))
    }

    func testLocationsResolveAsRFC3986() {
        let base = "https://h:1/a/b/info/refs?service=git-upload-pack"
        XCTAssertEqual(HTTPRedirect.resolve("https://o/x", against: base), "https://o/x")
        XCTAssertEqual(HTTPRedirect.resolve("//o/x", against: base), "https://o/x")
        XCTAssertEqual(HTTPRedirect.resolve("/c/d?q", against: base), "https://h:1/c/d?q")
        XCTAssertEqual(HTTPRedirect.resolve("../x/y", against: base), "https://h:1/a/b/x/y")
        XCTAssertEqual(HTTPRedirect.resolve("z", against: base), "https://h:1/a/b/info/z")
        XCTAssertEqual(HTTPRedirect.resolve("?n=2", against: base), "https://h:1/a/b/info/refs?n=2")
    }

    func testDowngradesAndMissingLocationsAreRefused() throws {
        func answer(_ location: String?) -> HTTPResponse {
            HTTPResponse(status: 302, headers: location.map { ["location": $0] } ?? [:], warnings: [], body: [])
        }
        XCTAssertThrowsError(try HTTPRedirect.target(answer("http://h/x"), from: "https://h/y")) { e in
            XCTAssertTrue("\(e)".contains("https to plain http"), "\(e)")
        }
        XCTAssertThrowsError(try HTTPRedirect.target(answer(nil), from: "https://h/y"))
        XCTAssertThrowsError(try HTTPRedirect.target(answer("file:///etc/passwd"), from: "http://h/y"))
        XCTAssertEqual(try HTTPRedirect.target(answer("https://o/x"), from: "http://h/y"), "https://o/x")
    }

    func testServerNameReplacesTheHostOfTheURL() {
        let r = HTTPClient.replacingHost("https://10.0.0.1:6443/api?x=1", with: "kubernetes.default")
        XCTAssertEqual(r?.url, "https://kubernetes.default:6443/api?x=1")
        XCTAssertEqual(r?.authority, "10.0.0.1:6443")
        XCTAssertEqual(HTTPClient.replacingHost("https://[::1]/api", with: "k")?.url, "https://k/api")
    }
}
