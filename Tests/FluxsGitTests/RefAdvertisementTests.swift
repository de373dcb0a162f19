@testable import FluxsGit
import FluxsTestSupport
import Foundation
import XCTest

final class RefAdvertisementTests: XCTestCase {
    func git(_ dir: URL, _ args: String...) throws -> String {
        let r = try TestEnv.run("git", ["-C", dir.path, "-c", "user.name=t", "-c", "user.email=t@e", "-c", "init.defaultBranch=main"] + args)
        XCTAssertEqual(r.status, 0, r.stderr)
        return r.stdout
    }

    /// What `git http-backend` serves: the service header, a flush, then upload-pack's advertisement.
    func advertisement(_ dir: URL) throws -> [UInt8] {
        let refs = try TestEnv.run("git", ["upload-pack", "--advertise-refs", "--stateless-rpc", dir.path])
        XCTAssertEqual(refs.status, 0, refs.stderr)
        let header = "# service=git-upload-pack\n"
        return Array((String(format: "%04x", header.utf8.count + 4) + header + "0000").utf8) + Array(refs.stdout.utf8)
    }

    func testParsesWhatGitAdvertisesAsLsRemoteListsIt() throws {
        let dir = try TestEnv.tempDir("fluxs-adv")
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = try git(dir, "init", "-q")
        try TestEnv.write("a\n", to: dir.appendingPathComponent("a.txt"))
        _ = try git(dir, "add", ".")
        _ = try git(dir, "commit", "-qm", "one")
        _ = try git(dir, "tag", "v1.0.0")
        _ = try git(dir, "tag", "-a", "v2.0.0", "-m", "annotated")
        _ = try git(dir, "branch", "feature")
        _ = try git(dir, "update-ref", "refs/pull/1/head", "HEAD")

        let refs = try RefAdvertisement.parse(try advertisement(dir))
        // git ls-remote prints "<id>\t<name>", annotated tags followed by "<name>^{}" with the commit.
        var expected: [String] = []
        for r in refs {
            expected.append("\(r.oid.hex)\t\(r.name)")
            if let p = r.peeled { expected.append("\(p.hex)\t\(r.name)^{}") }
        }
        let lsRemote = try git(dir, "ls-remote", dir.path).split(separator: "\n").map(String.init)
        XCTAssertEqual(expected, lsRemote)
        let tag = try XCTUnwrap(refs.first { $0.name == "refs/tags/v2.0.0" })
        XCTAssertEqual(tag.commit.hex, try git(dir, "rev-parse", "HEAD").trimmingCharacters(in: .whitespacesAndNewlines))
        XCTAssertNotEqual(tag.oid, tag.commit)
    }

    func testEmptyRepositoryAdvertisesNoRefs() throws {
        let dir = try TestEnv.tempDir("fluxs-adv-empty")
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = try git(dir, "init", "-q", "--bare")
        XCTAssertEqual(try RefAdvertisement.parse(try advertisement(dir)), [])
    }

    func testMalformedAdvertisementsAreErrors() {
        for body in ["zzzz", "0032not-a-sha refs/heads/main\n", "00ff0000", "001e# service=git-receive-pack\n0000"] {
            XCTAssertThrowsError(try RefAdvertisement.parse(Array(body.utf8)), body)
        }
        XCTAssertEqual(RefAdvertisement.url("https://h/r.git/"), "https://h/r.git/info/refs?service=git-upload-pack")
    }
}

final class GitModulesTests: XCTestCase {
    func testParsesSubmoduleSections() {
        let m = GitModules("""
        # comment
        [submodule "libs/a"]
        \tpath = libs/a
        \turl = ../a.git ; trailing comment
        [core]
        \tbare = false
        [submodule "b"]
        \tPath = "vendor/b"
        \tURL = https://example.com/org/b.git
        [submodule "no-url"]
        \tpath = c
        """)
        XCTAssertEqual(m.modules.map { "\($0.name)|\($0.path)|\($0.url)" },
                       ["libs/a|libs/a|../a.git", "b|vendor/b|https://example.com/org/b.git"])
        XCTAssertEqual(m.module(at: "vendor/b")?.name, "b")
        XCTAssertNil(m.module(at: "c"))
    }

    func testRelativeURLsResolveAsGitDoes() {
        let cases: [(String, String, String)] = [
            ("../b.git", "https://h/org/a.git", "https://h/org/b.git"),
            ("../../other/b.git", "https://h/org/a.git/", "https://h/other/b.git"),
            ("./b", "https://h/org/a", "https://h/org/a/b"),
            ("../b.git", "git@github.com:org/a.git", "git@github.com:org/b.git"),
            ("../b.git", "ssh://git@h:2222/org/a.git", "ssh://git@h:2222/org/b.git"),
            ("../b.git", "/srv/git/a.git", "/srv/git/b.git"),
            ("https://x/y.git", "https://h/org/a.git", "https://x/y.git"),
        ]
        for (url, base, want) in cases {
            XCTAssertEqual(GitModules.resolve(url, relativeTo: base), want, "\(url) against \(base)")
        }
    }
}

final class UploadPackTests: XCTestCase {
    func testShallowFetchFromGitUploadPackIsIndexed() throws {
        let dir = try TestEnv.tempDir("fluxs-up")
        defer { try? FileManager.default.removeItem(at: dir) }
        let src = dir.appendingPathComponent("src")
        func git(_ args: String...) throws -> String {
            let r = try TestEnv.run("git", ["-C", src.path, "-c", "user.name=t", "-c", "user.email=t@e"] + args)
            XCTAssertEqual(r.status, 0, r.stderr)
            return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        try FileManager.default.createDirectory(at: src, withIntermediateDirectories: true)
        _ = try git("init", "-q", "-b", "main")
        for i in 1...3 {
            try TestEnv.write("\(i)\n", to: src.appendingPathComponent("f\(i).txt"))
            _ = try git("add", ".")
            _ = try git("commit", "-qm", "c\(i)")
        }
        let head = try XCTUnwrap(ObjectID(hex: try git("rev-parse", "HEAD")))
        // What the server answers to fluxs's request, as git http-backend would pass it on.
        let request = UploadPack.request(want: [head], haves: [], shallow: [], depth: 1)
        XCTAssertTrue(String(decoding: request, as: UTF8.self).contains("deepen 1\n0000"))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["git", "upload-pack", "--stateless-rpc", src.path]
        let input = Pipe(), output = Pipe()
        p.standardInput = input
        p.standardOutput = output
        try p.run()
        input.fileHandleForWriting.write(Data(request))
        try input.fileHandleForWriting.close()
        let answer = [UInt8](output.fileHandleForReading.readDataToEndOfFile())
        p.waitUntilExit()
        let result = try UploadPack.parse(answer)
        XCTAssertEqual(result.shallow, [head])
        let mirror = try Repository.openOrInitBare(dir.appendingPathComponent("mirror.git").path)
        try mirror.addPack(result.pack)
        try mirror.setRef("refs/heads/main", to: head)
        try mirror.writeShallow(result.shallow)
        XCTAssertEqual(mirror.shallowCommits, [head])
        XCTAssertEqual(mirror.refTips(), [head])
        var files: [String] = []
        try XCTUnwrap(mirror.peelToCommit(head)).walk { files.append($0.path) }
        XCTAssertEqual(files, ["f1.txt", "f2.txt", "f3.txt"])
        let parent = try XCTUnwrap(ObjectID(hex: try git("rev-parse", "HEAD~1")))
        XCTAssertNil(mirror.peelToCommit(parent))   // depth 1: the history stayed on the server
    }

    func testServerErrorsAndMalformedAnswers() {
        let err = Array("0013\u{3}access denied\n0000".utf8)
        XCTAssertThrowsError(try UploadPack.parse(Array("0008NAK\n".utf8) + err)) { e in
            XCTAssertTrue("\(e)".contains("access denied"), "\(e)")
        }
        XCTAssertThrowsError(try UploadPack.parse(Array("0010ERR no repo".utf8)))
        XCTAssertThrowsError(try UploadPack.parse(Array("00zz".utf8)))
        XCTAssertEqual(UploadPack.url("https://h/r.git/"), "https://h/r.git/git-upload-pack")
    }
}

/// Limits on what a server may send (docs/security.md), on generated input.
final class AdvertisementLimitTests: XCTestCase {
    func pkt(_ s: String) -> [UInt8] { Array((String(format: "%04x", s.utf8.count + 4) + s).utf8) }

    func testStreamedInAnyChunksAsWhole() throws {
        var body = pkt("# service=git-upload-pack\n") + Array("0000".utf8)
        var g = SystemRandomNumberGenerator()
        var expected: [String] = []
        for i in 0..<500 {
            let id = (0..<40).map { _ in "0123456789abcdef".randomElement(using: &g)! }
            let name = "refs/tags/v\(i)"
            body += pkt(String(id) + " " + name + (i == 0 ? "\0shallow side-band-64k" : "") + "\n")
            expected.append(name)
        }
        body += Array("0000".utf8)
        let whole = try RefAdvertisement.parse(body)
        XCTAssertEqual(whole.map(\.name), expected)
        for _ in 0..<20 {
            var r = RefAdvertisement.Reader()
            var i = 0
            while i < body.count {
                let n = Int.random(in: 1...300, using: &g)
                try r.feed(Array(body[i..<min(body.count, i + n)]))
                i += n
            }
            XCTAssertEqual(try r.finish(), whole)
            XCTAssertEqual(r.capabilities, ["shallow", "side-band-64k"])
        }
    }

    func testLimitsStopTheReader() throws {
        let line = pkt(String(repeating: "1", count: 40) + " refs/heads/x\n")
        var r = RefAdvertisement.Reader(maxRefs: 10)
        XCTAssertThrowsError(try r.feed(Array((0..<11).map { _ in line }.joined()))) { e in
            XCTAssertEqual((e as? GitError)?.kind, .tooLarge)
        }
        var kept = RefAdvertisement.Reader(keep: { $0.hasPrefix("refs/tags/") }, maxKept: 3)
        let tags = (0..<4).map { pkt(String(repeating: "2", count: 40) + " refs/tags/t\($0)\n") }
        XCTAssertThrowsError(try kept.feed(Array(([line, line] + tags).joined())))
        var bytes = RefAdvertisement.Reader(maxBytes: 100)
        XCTAssertThrowsError(try bytes.feed([UInt8](repeating: 0x30, count: 101)))
    }

    func testTLSFailuresSayWhy() {
        XCTAssertTrue(tlsFailure(host: "h", libgit2Message: "the SSL certificate is invalid: 0x04 - The certificate Common Name (CN) does not match with the expected CN")
            .contains("is not valid for the name h"))
        XCTAssertTrue(tlsFailure(host: "h", libgit2Message: "the SSL certificate is invalid: 0x08 - not trusted").contains("not signed by a trusted authority"))
        XCTAssertTrue(tlsFailure(host: "h", libgit2Message: "the SSL certificate is invalid: 0x0c - both").contains("not valid for the name"))
        XCTAssertTrue(tlsFailure(host: "h", libgit2Message: "the SSL certificate is invalid: 0x01 - expired").contains("expired"))
    }
}
