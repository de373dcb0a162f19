import XCTest
@testable import FluxsCore

final class SemverTests: XCTestCase {
    func check(_ c: String, _ v: String) throws -> Bool { try SemVerConstraint(c).check(SemVer(v)!) }

    func testVersions() {
        XCTAssertEqual(SemVer("v1.2.3")?.description, "1.2.3")
        XCTAssertEqual(SemVer("1.2")?.description, "1.2.0")
        XCTAssertNil(SemVer("1.2.3.4")); XCTAssertNil(SemVer("latest")); XCTAssertNil(SemVer("01.2.3"))
        XCTAssertLessThan(SemVer("1.0.0-alpha")!, SemVer("1.0.0-alpha.1")!)
        XCTAssertLessThan(SemVer("1.0.0-alpha.beta")!, SemVer("1.0.0-beta")!)
        XCTAssertLessThan(SemVer("1.0.0-rc.1")!, SemVer("1.0.0")!)
        XCTAssertLessThan(SemVer("1.0.0-2")!, SemVer("1.0.0-10")!)
    }

    func testConstraints() throws {
        XCTAssertTrue(try check(">=1.0.0", "1.2.0")); XCTAssertFalse(try check(">=1.0.0", "0.9.9"))
        XCTAssertFalse(try check(">=1.0.0", "2.0.0-rc.1"), "pre-releases only when the range asks")
        XCTAssertTrue(try check(">=2.0.0-0", "2.0.0-rc.1"))
        XCTAssertTrue(try check("~1.2", "1.2.9")); XCTAssertFalse(try check("~1.2", "1.3.0"))
        XCTAssertTrue(try check("~1.2.3", "1.2.4")); XCTAssertFalse(try check("~1.2.3", "1.3.0"))
        XCTAssertTrue(try check("^1.2.3", "1.9.0")); XCTAssertFalse(try check("^1.2.3", "2.0.0"))
        XCTAssertTrue(try check("^0.2.3", "0.2.9")); XCTAssertFalse(try check("^0.2.3", "0.3.0"))
        XCTAssertTrue(try check("1.2.x", "1.2.7")); XCTAssertFalse(try check("1.2.x", "1.3.0"))
        XCTAssertTrue(try check("*", "3.0.0"))
        XCTAssertTrue(try check(">= 1.2, < 1.4", "1.3.5")); XCTAssertFalse(try check(">=1.2 <1.4", "1.4.0"))
        XCTAssertTrue(try check("1.2 - 1.4.5", "1.4.5")); XCTAssertFalse(try check("1.2 - 1.4.5", "1.4.6"))
        XCTAssertTrue(try check("<1.0.0 || >=2.0.0", "2.1.0")); XCTAssertFalse(try check("<1.0.0 || >=2.0.0", "1.5.0"))
        XCTAssertTrue(try check("!=1.2.3", "1.2.4")); XCTAssertFalse(try check("!=1.2.3", "1.2.3"))
        XCTAssertTrue(try check(">1.2", "1.3.0")); XCTAssertFalse(try check(">1.2", "1.2.5"))
        XCTAssertThrowsError(try SemVerConstraint(">=abc"))
        let best = try SemVerConstraint(">=6.0.0").best(["6.3.5", "6.3.6", "v6.10.0", "7.0.0-rc.1", "latest"], version: { $0 })
        XCTAssertEqual(best, "v6.10.0")
    }
}

final class SourceIgnoreTests: XCTestCase {
    func testDefaultsAndUserPatterns() {
        let d = SourceIgnore(userPatterns: [])
        XCTAssertTrue(d.ignores(".git", isDir: true)); XCTAssertTrue(d.ignores("a/b/logo.png", isDir: false))
        XCTAssertTrue(d.ignores(".github/workflows/x.yml", isDir: false)); XCTAssertTrue(d.ignores("x/.sops.yaml", isDir: false))
        XCTAssertFalse(d.ignores("deploy/app.yaml", isDir: false))
        let u = SourceIgnore(userPatterns: SourceIgnore.read("# c\n/docs/\n*.md\n!README.md\nsub/**/tmp\n"))
        XCTAssertFalse(u.ignores("logo.png", isDir: false), "user patterns replace the default exclusions")
        XCTAssertTrue(u.ignores(".gitignore", isDir: false), "VCS files are always out")
        XCTAssertTrue(u.ignores("docs", isDir: true)); XCTAssertTrue(u.ignores("docs/a.txt", isDir: false))
        XCTAssertFalse(u.ignores("x/docs/a.txt", isDir: false), "a leading slash anchors the pattern")
        XCTAssertTrue(u.ignores("a/b.md", isDir: false)); XCTAssertFalse(u.ignores("a/README.md", isDir: false))
        XCTAssertTrue(u.ignores("sub/x/y/tmp", isDir: false)); XCTAssertTrue(u.ignores("sub/tmp", isDir: false))
        let scoped = SourceIgnore(userPatterns: SourceIgnore.read("*.yaml\n", domain: ["deploy"]))
        XCTAssertTrue(scoped.ignores("deploy/a.yaml", isDir: false)); XCTAssertFalse(scoped.ignores("other/a.yaml", isDir: false))
    }

    func testGoPathMatch() {
        XCTAssertTrue(fnmatch("*.y?ml", "a.yaml")); XCTAssertTrue(fnmatch("[a-c]x", "bx")); XCTAssertFalse(fnmatch("[^a-c]x", "bx"))
        XCTAssertTrue(fnmatch("\\*", "*")); XCTAssertFalse(fnmatch("a[", "a["))
    }
}
