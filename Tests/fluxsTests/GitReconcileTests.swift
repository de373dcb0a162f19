import Foundation
import FluxsTestSupport
import XCTest

/// `fluxs reconcile source git` (and create, which reconciles) against the real git servers of the test environment.
final class GitReconcileTests: XCTestCase {
    var ns = ""
    var storage: URL!
    var e: [String: String] = [:]

    override func setUpWithError() throws {
        e = try TestEnv.require("FLUXS_TEST_KUBECONFIG", "FLUXS_TEST_GIT_ROOT", "FLUXS_TEST_GIT_HTTP", "FLUXS_TEST_GIT_HTTPS",
                                "FLUXS_TEST_GIT_USER", "FLUXS_TEST_GIT_PASSWORD", "FLUXS_TEST_GIT_TOKEN", "FLUXS_TEST_GIT_REQUEST_LOG",
                                "FLUXS_TEST_SSH_URL", "FLUXS_TEST_SSH_KEY_ECDSA", "FLUXS_TEST_SSH_KEY_ED25519", "FLUXS_TEST_SSH_KNOWN_HOSTS",
                                "FLUXS_TEST_CA")
        ns = "gr-\(UUID().uuidString.prefix(6).lowercased())"
        storage = try TestEnv.tempDir("fluxs-storage")
        XCTAssertEqual(try TestEnv.fluxs(["install"]).status, 0)
        XCTAssertEqual(try TestEnv.run("kubectl", ["create", "namespace", ns]).status, 0)
    }

    override func tearDownWithError() throws {
        if let storage { try? FileManager.default.removeItem(at: storage) }
    }

    // MARK: helpers

    typealias Repo = GitFixture

    @discardableResult
    func git(_ repo: Repo, _ args: String...) throws -> String {
        let r = try TestEnv.run("git", ["-C", repo.work.path, "-c", "user.name=t", "-c", "user.email=t@example.com"] + args)
        XCTAssertEqual(r.status, 0, "git \(args): \(r.stderr)")
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func makeRepo(_ files: [String: String]) throws -> Repo { try GitFixture(root: e["FLUXS_TEST_GIT_ROOT"]!, files: files) }

    func commit(_ repo: Repo, _ files: [String: String], _ message: String) throws { try repo.commit(files, message) }

    func fluxs(_ args: [String]) throws -> TestEnv.Run {
        try TestEnv.fluxs(args + ["-n", ns], env: ["FLUXS_STORAGE_PATH": storage.path])
    }

    func jsonpath(_ name: String, _ path: String) throws -> String {
        try TestEnv.run("kubectl", ["get", "gitrepository", name, "-n", ns, "-o", "jsonpath={\(path)}"]).stdout
    }

    func condition(_ name: String, _ type: String) throws -> (status: String, reason: String, message: String) {
        let s = try jsonpath(name, ".status.conditions[?(@.type==\"\(type)\")].status")
        let r = try jsonpath(name, ".status.conditions[?(@.type==\"\(type)\")].reason")
        let m = try jsonpath(name, ".status.conditions[?(@.type==\"\(type)\")].message")
        return (s, r, m)
    }

    /// The artifact's entries as GNU tar lists them; tar -xzf and Python's tarfile must read it too.
    func artifactFiles(_ name: String) throws -> [String] {
        let file = storage.appendingPathComponent(try jsonpath(name, ".status.artifact.path")).path
        let t = try TestEnv.run("tar", ["-tzf", file])
        XCTAssertEqual(t.status, 0, t.stderr)
        let out = try TestEnv.tempDir("fluxs-untar")
        defer { try? FileManager.default.removeItem(at: out) }
        let x = try TestEnv.run("tar", ["-xzf", file, "-C", out.path])
        XCTAssertEqual(x.status, 0, x.stderr)
        let py = try TestEnv.run("python3", ["-c", "import sys, tarfile\nwith tarfile.open(sys.argv[1], 'r:gz') as t:\n    for m in t:\n        t.extractfile(m).read() if m.isfile() else None\n        print(m.name)", file])
        XCTAssertEqual(py.status, 0, py.stderr)
        XCTAssertEqual(py.stdout, t.stdout.split(separator: "\n").map { $0.hasSuffix("/") ? String($0.dropLast()) : String($0) }.joined(separator: "\n") + "\n")
        return t.stdout.split(separator: "\n").map(String.init)
    }

    var http: String { e["FLUXS_TEST_GIT_HTTP"]! }

    // MARK: tests

    func testBranchTagSemverNameAndCommit() throws {
        let repo = try makeRepo(["apps/cm.yaml": "kind: ConfigMap\n"])
        let first = try git(repo, "rev-parse", "HEAD")
        try git(repo, "tag", "-a", "v1.0.0", "-m", "release 1")
        try commit(repo, ["apps/cm.yaml": "kind: ConfigMap\nv: 2\n"], "second")
        let second = try git(repo, "rev-parse", "HEAD")
        try git(repo, "tag", "v1.1.0")
        try git(repo, "tag", "v2.0.0-rc.1")
        try git(repo, "push", "-q", "--tags", repo.bare)
        let url = "--url=\(http)/git/\(repo.name).git"
        let cases: [([String], String)] = [
            (["--branch=main"], "main@sha1:\(second)"),
            (["--tag=v1.0.0"], "v1.0.0@sha1:\(first)"),
            (["--tag-semver=>=1.0.0"], "v1.1.0@sha1:\(second)"),
            (["--tag-semver=~1.0"], "v1.0.0@sha1:\(first)"),
            (["--tag-semver=>=2.0.0-0"], "v2.0.0-rc.1@sha1:\(second)"),
            (["--ref-name=refs/heads/main"], "refs/heads/main@sha1:\(second)"),
            (["--commit=\(first)"], "sha1:\(first)"),
            (["--branch=main", "--commit=\(first)"], "main@sha1:\(first)"),
        ]
        for (i, (flags, revision)) in cases.enumerated() {
            let r = try fluxs(["create", "source", "git", "s\(i)", url, "--interval=1m"] + flags)
            XCTAssertEqual(r.status, 0, "\(flags): \(r.stderr)")
            XCTAssertTrue(r.stderr.hasSuffix("✔ GitRepository source reconciliation completed\n✔ fetched revision: \(revision)\n"), "\(flags): \(r.stderr)")
            XCTAssertEqual(try jsonpath("s\(i)", ".status.artifact.revision"), revision)
            XCTAssertEqual(try condition("s\(i)", "Ready").reason, "Succeeded")
            XCTAssertEqual(try condition("s\(i)", "ArtifactInStorage").message, "stored artifact for revision '\(revision)'")
        }
        let rec = try fluxs(["reconcile", "source", "git", "s0"])
        XCTAssertEqual(rec.status, 0, rec.stderr)
        XCTAssertEqual(rec.stderr, "► annotating GitRepository s0 in \(ns) namespace\n✔ GitRepository annotated\n◎ waiting for GitRepository reconciliation\n✔ fetched revision main@sha1:\(second)\n")
        let handled = try jsonpath("s0", ".status.lastHandledReconcileAt")
        XCTAssertEqual(handled, try TestEnv.run("kubectl", ["get", "gitrepository", "s0", "-n", ns, "-o", "jsonpath={.metadata.annotations.reconcile\\.fluxcd\\.io/requestedAt}"]).stdout)
        let get = try fluxs(["get", "sources", "git", "s0"])
        XCTAssertEqual(get.stdout, "NAME\tREVISION          \tSUSPENDED\tREADY\tMESSAGE                                           \ns0  \tmain@sha1:\(second.prefix(8))\tFalse    \tTrue \tstored artifact for revision 'main@sha1:\(second.prefix(8))'\t\n")
        // A commit that is not on the branch.
        try git(repo, "checkout", "-q", "-b", "side")
        try commit(repo, ["side.txt": "x\n"], "side")
        try git(repo, "push", "-q", repo.bare, "side")
        let off = try git(repo, "rev-parse", "HEAD")
        let bad = try fluxs(["create", "source", "git", "off", url, "--branch=main", "--commit=\(off)", "--interval=1m"])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("unable to resolve commit object for '\(off)'"), bad.stderr)
    }

    func testIgnoreRulesAndArtifactLayout() throws {
        let repo = try makeRepo(["deploy/app.yaml": "a: 1\n", "deploy/logo.png": "png", ".github/workflows/ci.yml": "x\n",
                                 "docs/readme.md": "# x\n", "run.sh": "#!/bin/sh\n", ".sops.yaml": "x\n"])
        let url = "--url=\(http)/git/\(repo.name).git"
        XCTAssertEqual(try fluxs(["create", "source", "git", "defaults", url, "--branch=main", "--interval=1m"]).status, 0)
        XCTAssertEqual(try artifactFiles("defaults"), [".", "deploy", "deploy/app.yaml", "docs", "docs/readme.md", "run.sh"])
        let path = try jsonpath("defaults", ".status.artifact.path")
        XCTAssertTrue(path.hasPrefix("gitrepository/\(ns)/defaults/") && path.hasSuffix(".tar.gz"), path)
        let listing = try TestEnv.run("tar", ["-tzvf", storage.appendingPathComponent(path).path]).stdout
        XCTAssertTrue(listing.contains("-rw------- 0/0") && listing.contains("drwxr-x--- 0/0"), listing)
        var mode = stat()
        XCTAssertEqual(stat(storage.appendingPathComponent(path).path, &mode), 0)
        XCTAssertEqual(mode.st_mode & 0o777, 0o600)
        let digest = try jsonpath("defaults", ".status.artifact.digest")
        let sha = try TestEnv.run("sha256sum", [storage.appendingPathComponent(path).path]).stdout.prefix(64)
        XCTAssertEqual(digest, "sha256:\(sha)")
        // spec.ignore replaces the default exclusions (VCS files stay out).
        XCTAssertEqual(try fluxs(["create", "source", "git", "custom", url, "--branch=main", "--interval=1m", "--ignore-paths=docs/,*.sh"]).status, 0)
        XCTAssertEqual(try artifactFiles("custom"), [".", ".github", ".github/workflows", ".github/workflows/ci.yml", ".sops.yaml", "deploy",
                                                     "deploy/app.yaml", "deploy/logo.png"])
        // .sourceignore files, scoped to their folder, with negation.
        try commit(repo, [".sourceignore": "*.md\n", "deploy/.sourceignore": "*.yaml\n!keep.yaml\n", "deploy/keep.yaml": "k: 1\n"], "ignore")
        XCTAssertEqual(try fluxs(["reconcile", "source", "git", "defaults"]).status, 0)
        XCTAssertEqual(try artifactFiles("defaults"), [".", ".github", ".github/workflows", ".github/workflows/ci.yml", ".sops.yaml",
                                                       ".sourceignore", "deploy", "deploy/.sourceignore", "deploy/keep.yaml", "deploy/logo.png",
                                                       "docs", "run.sh"])
        // The same tree gives the same artifact digest on another machine (another storage).
        let other = try TestEnv.tempDir("fluxs-storage2")
        defer { try? FileManager.default.removeItem(at: other) }
        let before = try jsonpath("defaults", ".status.artifact.digest")
        XCTAssertEqual(try TestEnv.fluxs(["reconcile", "source", "git", "defaults", "-n", ns], env: ["FLUXS_STORAGE_PATH": other.path]).status, 0)
        XCTAssertEqual(try jsonpath("defaults", ".status.artifact.digest"), before)
    }

    func testNoOpReconcileIsOneRoundTripAndForcePushIsFollowed() throws {
        let repo = try makeRepo(["a.yaml": "a: 1\n"])
        let url = "--url=\(http)/git/\(repo.name).git"
        XCTAssertEqual(try fluxs(["create", "source", "git", "noop", url, "--branch=main", "--interval=1m"]).status, 0)
        func requests() throws -> [String] {
            try String(contentsOfFile: e["FLUXS_TEST_GIT_REQUEST_LOG"]!, encoding: .utf8).split(separator: "\n")
                .map(String.init).filter { $0.contains("/\(repo.name).git/") }
        }
        let afterFirst = try requests()
        XCTAssertEqual(afterFirst.count, 2, "\(afterFirst)")   // GET info/refs, POST git-upload-pack
        let again = try fluxs(["reconcile", "source", "git", "noop", "--verbose"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stderr.contains("no changes since last reconciliation"), again.stderr)
        XCTAssertTrue(again.stderr.contains("remote ref unchanged (one smart-HTTP request"), again.stderr)
        XCTAssertEqual(Array(try requests().dropFirst(afterFirst.count)), ["GET /git/\(repo.name).git/info/refs?service=git-upload-pack"])
        // A rewritten branch (force push) is followed.
        try git(repo, "commit", "-q", "--amend", "-m", "rewritten")
        try git(repo, "push", "-q", "--force", repo.bare, "main")
        let head = try git(repo, "rev-parse", "HEAD")
        let forced = try fluxs(["reconcile", "source", "git", "noop"])
        XCTAssertTrue(forced.stderr.hasSuffix("✔ fetched revision main@sha1:\(head)\n"), forced.stderr)
        // Older artifacts of the object are removed as source-controller's garbage collection removes them: the
        // previous one stays for 60 s (a reader of the old status still finds it), no more than two are kept.
        let dir = storage.appendingPathComponent("gitrepository/\(ns)/noop")
        let kept = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        XCTAssertTrue(kept.contains("\(head).tar.gz") && kept.count == 2, "\(kept)")
    }

    func testHTTPFetchesAreShallowAndStayIncremental() throws {
        let repo = try makeRepo(["a.yaml": "a: 1\n"])
        try commit(repo, ["b.yaml": "b: 1\n"], "second")
        try commit(repo, ["c.yaml": "c: 1\n"], "third")
        let url = "\(http)/git/\(repo.name).git"
        let r = try fluxs(["create", "source", "git", "shallow", "--url=\(url)", "--branch=main", "--interval=1m", "--verbose"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("fetched refs/heads/main at depth 1"), r.stderr)
        let mirrors = storage.appendingPathComponent("mirrors/git")
        let mirror = mirrors.appendingPathComponent(try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: mirrors.path).first)).path
        func gitDir(_ args: String...) throws -> String {
            try TestEnv.run("git", ["--git-dir", mirror] + args).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        XCTAssertEqual(try gitDir("rev-list", "--count", "refs/heads/main"), "1")   // one commit, not three
        XCTAssertEqual(try gitDir("cat-file", "-t", try git(repo, "rev-parse", "HEAD~1")), "")
        XCTAssertEqual(try artifactFiles("shallow"), [".", "a.yaml", "b.yaml", "c.yaml"])
        // A new commit: fetched on top of the shallow mirror; the artifact follows.
        try commit(repo, ["d.yaml": "d: 1\n"], "fourth")
        let next = try fluxs(["reconcile", "source", "git", "shallow"])
        XCTAssertTrue(next.stderr.hasSuffix("✔ fetched revision main@sha1:\(try git(repo, "rev-parse", "HEAD"))\n"), next.stderr)
        XCTAssertEqual(try artifactFiles("shallow"), [".", "a.yaml", "b.yaml", "c.yaml", "d.yaml"])
        XCTAssertEqual(try TestEnv.run("git", ["--git-dir", mirror, "fsck", "--no-dangling"]).status, 0)
        // A pinned commit on the branch needs history: the mirror is fetched whole by libgit2.
        let first = try git(repo, "rev-list", "--max-parents=0", "HEAD")
        let pinned = try fluxs(["create", "source", "git", "shallow", "--url=\(url)", "--branch=main", "--commit=\(first)", "--interval=1m"])
        XCTAssertEqual(pinned.status, 0, pinned.stderr)
        XCTAssertEqual(try artifactFiles("shallow"), [".", "a.yaml"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: mirror + "/shallow"))
        XCTAssertEqual(try gitDir("rev-list", "--count", "refs/heads/main"), "4")
    }

    func testDeletedTagAndUnreachableServerLeaveFailedStatus() throws {
        let repo = try makeRepo(["a.yaml": "a: 1\n"])
        try git(repo, "tag", "v1")
        try git(repo, "push", "-q", "--tags", repo.bare)
        let url = "\(http)/git/\(repo.name).git"
        XCTAssertEqual(try fluxs(["create", "source", "git", "tagged", "--url=\(url)", "--tag=v1", "--interval=1m"]).status, 0)
        let good = try jsonpath("tagged", ".status.artifact.revision")
        XCTAssertEqual(try TestEnv.run("git", ["--git-dir", repo.bare, "tag", "-d", "v1"]).status, 0)
        let r = try fluxs(["reconcile", "source", "git", "tagged"])
        XCTAssertEqual(r.status, 1)
        let msg = "failed to checkout and determine revision: unable to clone '\(url)': couldn't find remote ref \"refs/tags/v1\""
        XCTAssertTrue(r.stderr.hasSuffix("✗ GitRepository reconciliation failed: '\(msg)'\n"), r.stderr)
        let ready = try condition("tagged", "Ready")
        XCTAssertEqual(ready.status, "False"); XCTAssertEqual(ready.reason, "GitOperationFailed"); XCTAssertEqual(ready.message, msg)
        XCTAssertEqual(try condition("tagged", "FetchFailed").status, "True")
        XCTAssertEqual(try condition("tagged", "Reconciling").reason, "ProgressingWithRetry")
        XCTAssertEqual(try jsonpath("tagged", ".status.artifact.revision"), good, "the last good artifact stays")
        // Nothing listens on port 1.
        let down = try fluxs(["create", "source", "git", "down", "--url=http://127.0.0.1:1/x.git", "--branch=main", "--interval=1m"])
        XCTAssertEqual(down.status, 1)
        XCTAssertTrue(down.stderr.contains("unable to clone 'http://127.0.0.1:1/x.git'"), down.stderr)
        XCTAssertEqual(try condition("down", "Ready").reason, "GitOperationFailed")
        // Suspended objects are not reconciled.
        XCTAssertEqual(try fluxs(["suspend", "source", "git", "tagged"]).status, 0)
        let s = try fluxs(["reconcile", "source", "git", "tagged"])
        XCTAssertEqual(s.status, 1)
        XCTAssertEqual(s.stderr, "✗ resource is suspended\n")
    }

    func testTimeoutOnLargeRepository() throws {
        var big = [UInt8](repeating: 0, count: 24 << 20)
        for i in big.indices { big[i] = UInt8(truncatingIfNeeded: (i &* 2654435761) >> 13) }
        let repo = try makeRepo(["small.txt": "x\n"])
        try Data(big).write(to: repo.work.appendingPathComponent("big.bin"))
        try commit(repo, [:], "big")
        let r = try fluxs(["create", "source", "git", "big", "--url=\(http)/git/\(repo.name).git", "--branch=main", "--interval=1m", "--fetch-timeout=20ms"])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("context deadline exceeded"), r.stderr)
        XCTAssertEqual(try condition("big", "FetchFailed").status, "True")
    }

    func testHTTPAuthAndTLS() throws {
        let repo = try makeRepo(["a.yaml": "a: 1\n"])
        let user = e["FLUXS_TEST_GIT_USER"]!, pass = e["FLUXS_TEST_GIT_PASSWORD"]!, token = e["FLUXS_TEST_GIT_TOKEN"]!
        let basic = try fluxs(["create", "source", "git", "basic", "--url=\(http)/basic/\(repo.name).git", "--branch=main", "--interval=1m",
                               "--username=\(user)", "--password=\(pass)"])
        XCTAssertEqual(basic.status, 0, basic.stderr)
        let wrong = try fluxs(["create", "source", "git", "wrong", "--url=\(http)/basic/\(repo.name).git", "--branch=main", "--interval=1m",
                               "--username=\(user)", "--password=not-\(pass)"])
        XCTAssertEqual(wrong.status, 1)
        XCTAssertTrue(wrong.stderr.contains("authentication") && wrong.stderr.contains("Secret '\(ns)/wrong'"), wrong.stderr)
        XCTAssertFalse(wrong.stderr.contains(pass) || wrong.stdout.contains(pass))
        // Bearer token from a Secret.
        XCTAssertEqual(try TestEnv.run("kubectl", ["create", "secret", "generic", "tok", "-n", ns, "--from-literal=bearerToken=\(token)"]).status, 0)
        let bearer = try fluxs(["create", "source", "git", "bearer", "--url=\(http)/bearer/\(repo.name).git", "--branch=main", "--interval=1m", "--secret-ref=tok"])
        XCTAssertEqual(bearer.status, 0, bearer.stderr)
        XCTAssertFalse(bearer.stderr.contains(token))
        let noCreds = try fluxs(["create", "source", "git", "nocreds", "--url=\(http)/bearer/\(repo.name).git", "--branch=main", "--interval=1m"])
        XCTAssertEqual(noCreds.status, 1)
        XCTAssertTrue(noCreds.stderr.contains("authentication required"), noCreds.stderr)
        // HTTPS: the test CA in ca.crt is trusted; without it the certificate is rejected.
        let https = "\(e["FLUXS_TEST_GIT_HTTPS"]!)/git/\(repo.name).git"
        let ca = try String(contentsOfFile: e["FLUXS_TEST_CA"]!, encoding: .utf8)
        XCTAssertEqual(try TestEnv.run("kubectl", ["create", "secret", "generic", "ca", "-n", ns, "--from-literal=ca.crt=\(ca)"]).status, 0)
        let tls = try fluxs(["create", "source", "git", "tls", "--url=\(https)", "--branch=main", "--interval=1m", "--secret-ref=ca"])
        XCTAssertEqual(tls.status, 0, tls.stderr)
        // No-op reconciles ask the remote with one request, with the same credentials and CA.
        for name in ["basic", "bearer", "tls"] {
            let again = try fluxs(["reconcile", "source", "git", name, "--verbose"])
            XCTAssertEqual(again.status, 0, again.stderr)
            XCTAssertTrue(again.stderr.contains("remote ref unchanged"), "\(name): \(again.stderr)")
        }
        let untrusted = try fluxs(["create", "source", "git", "untrusted", "--url=\(https)", "--branch=main", "--interval=1m"])
        XCTAssertEqual(untrusted.status, 1)
        XCTAssertTrue(untrusted.stderr.lowercased().contains("certificate"), untrusted.stderr)
        let missing = try fluxs(["create", "source", "git", "nosecret", "--url=\(http)/git/\(repo.name).git", "--branch=main", "--interval=1m", "--secret-ref=ghost"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("failed to get secret '\(ns)/ghost'"), missing.stderr)
        XCTAssertEqual(try condition("nosecret", "Ready").reason, "AuthenticationFailed")
    }

    func testRecurseSubmodulesChecksOutNestedSubmodules() throws {
        // inner <- middle (absolute URL) <- top (relative URL), as `git submodule add` records them.
        let inner = try makeRepo(["inner.yaml": "i: 1\n"])
        let middle = try makeRepo(["middle.yaml": "m: 1\n"])
        func addSubmodule(_ repo: Repo, path: String, url: String, commit id: String) throws {
            try TestEnv.write("[submodule \"\(path)\"]\n\tpath = \(path)\n\turl = \(url)\n", to: repo.work.appendingPathComponent(".gitmodules"))
            try git(repo, "add", ".gitmodules")
            try git(repo, "update-index", "--add", "--cacheinfo", "160000,\(id),\(path)")
            try git(repo, "commit", "-q", "-m", "add \(path)")
            try git(repo, "push", "-q", repo.bare, "main")
        }
        try addSubmodule(middle, path: "deps/inner", url: "\(http)/git/\(inner.name).git", commit: try git(inner, "rev-parse", "HEAD"))
        let top = try makeRepo(["top.yaml": "t: 1\n"])
        try addSubmodule(top, path: "vendor/middle", url: "../\(middle.name).git", commit: try git(middle, "rev-parse", "HEAD"))
        let url = "--url=\(http)/git/\(top.name).git"

        let plain = try fluxs(["create", "source", "git", "plain", url, "--branch=main", "--interval=1m"])
        XCTAssertEqual(plain.status, 0, plain.stderr)
        XCTAssertEqual(try artifactFiles("plain"), [".", "top.yaml", "vendor", "vendor/middle"])
        let r = try fluxs(["create", "source", "git", "deep", url, "--branch=main", "--interval=1m", "--recurse-submodules"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try artifactFiles("deep"), [".", "top.yaml", "vendor", "vendor/middle", "vendor/middle/deps", "vendor/middle/deps/inner",
                                                   "vendor/middle/deps/inner/inner.yaml", "vendor/middle/middle.yaml"])
        XCTAssertEqual(try jsonpath("deep", ".status.observedRecurseSubmodules"), "true")
        // Unchanged: a no-op. A submodule commit that its remote lacks fails and names the submodule.
        XCTAssertTrue(try fluxs(["reconcile", "source", "git", "deep", "--verbose"]).stderr.contains("no changes since last reconciliation"))
        try git(top, "update-index", "--cacheinfo", "160000,\(String(repeating: "1", count: 40)),vendor/middle")
        try git(top, "commit", "-q", "-m", "dangling submodule")
        try git(top, "push", "-q", top.bare, "main")
        let bad = try fluxs(["reconcile", "source", "git", "deep"])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("submodule 'vendor/middle': commit 1111111111111111111111111111111111111111 is not on any branch or tag"), bad.stderr)
        XCTAssertEqual(try condition("deep", "FetchFailed").status, "True")
    }

    func testSSHWithKnownHosts() throws {
        let repo = try makeRepo(["a.yaml": "a: 1\n"])
        let url = "\(e["FLUXS_TEST_SSH_URL"]!)/\(repo.name).git"
        let kh = e["FLUXS_TEST_SSH_KNOWN_HOSTS"]!
        for (name, key) in [("ecdsa", e["FLUXS_TEST_SSH_KEY_ECDSA"]!), ("ed25519", e["FLUXS_TEST_SSH_KEY_ED25519"]!)] {
            XCTAssertEqual(try TestEnv.run("kubectl", ["create", "secret", "generic", "ssh-\(name)", "-n", ns, "--from-file=identity=\(key)",
                                                       "--from-file=known_hosts=\(kh)"]).status, 0)
            let r = try fluxs(["create", "source", "git", "ssh-\(name)", "--url=\(url)", "--branch=main", "--interval=1m", "--secret-ref=ssh-\(name)"])
            XCTAssertEqual(r.status, 0, "\(name): \(r.stderr)")
        }
        // A known_hosts entry with another key for this host is a mismatch, and names the host.
        let port = URL(string: url)!.port!
        let otherKey = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
        XCTAssertEqual(try TestEnv.run("kubectl", ["create", "secret", "generic", "ssh-bad", "-n", ns, "--from-file=identity=\(e["FLUXS_TEST_SSH_KEY_ED25519"]!)",
                                                   "--from-literal=known_hosts=[127.0.0.1]:\(port) ssh-ed25519 \(otherKey)"]).status, 0)
        let bad = try fluxs(["create", "source", "git", "ssh-bad", "--url=\(url)", "--branch=main", "--interval=1m", "--secret-ref=ssh-bad"])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("key mismatch") && bad.stderr.contains("[127.0.0.1]:\(port)"), bad.stderr)
        XCTAssertEqual(try TestEnv.run("kubectl", ["create", "secret", "generic", "ssh-nokh", "-n", ns, "--from-file=identity=\(e["FLUXS_TEST_SSH_KEY_ED25519"]!)"]).status, 0)
        let nokh = try fluxs(["create", "source", "git", "ssh-nokh", "--url=\(url)", "--branch=main", "--interval=1m", "--secret-ref=ssh-nokh"])
        XCTAssertEqual(nokh.status, 1)
        XCTAssertTrue(nokh.stderr.contains("'known_hosts' is required"), nokh.stderr)
    }

    func testSSHCredentialsFromAKeyFile() throws {
        let repo = try makeRepo(["a.yaml": "a: 1\n"])
        let url = "\(e["FLUXS_TEST_SSH_URL"]!)/\(repo.name).git"
        let key = e["FLUXS_TEST_SSH_KEY_ECDSA"]!
        let pub = try TestEnv.run("ssh-keygen", ["-y", "-f", key]).stdout.split(separator: " ").prefix(2).joined(separator: " ")
        let export = try fluxs(["create", "secret", "git", "deploy", "--url=\(url)", "--private-key-file=\(key)", "--export"])
        XCTAssertEqual(export.status, 0, export.stderr)
        XCTAssertTrue(export.stdout.contains("  identity.pub: |\n    \(pub)\n"), export.stdout)
        let port = URL(string: url)!.port!
        XCTAssertTrue(export.stdout.contains("known_hosts: '[127.0.0.1]:\(port) "), export.stdout)
        // The scanned host key is the one sshd serves: the source reconciles with it.
        let noTTY = try fluxs(["create", "source", "git", "viakey", "--url=\(url)", "--branch=main", "--interval=1m", "--private-key-file=\(key)"])
        XCTAssertEqual(noTTY.status, 1)
        XCTAssertTrue(noTTY.stderr.contains("pass --silent once it is added"), noTTY.stderr)
        let r = try fluxs(["create", "source", "git", "viakey", "--url=\(url)", "--branch=main", "--interval=1m", "--private-key-file=\(key)", "--silent"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("✔ collected public key from SSH server:\n[127.0.0.1]:\(port) "), r.stderr)
        XCTAssertTrue(r.stderr.contains("✚ deploy key: \(pub)\n\n"), r.stderr)
        XCTAssertFalse(r.stderr.contains("PRIVATE KEY"))
    }

    func testGeneratedDeployKeysAreValidAndAuthenticate() throws {
        let ak = try TestEnv.require("FLUXS_TEST_SSH_AUTHORIZED_KEYS")["FLUXS_TEST_SSH_AUTHORIZED_KEYS"]!
        let repo = try makeRepo(["a.yaml": "a: 1\n"])
        let url = "\(e["FLUXS_TEST_SSH_URL"]!)/\(repo.name).git"
        let dir = try TestEnv.tempDir("fluxs-keys")
        defer { try? FileManager.default.removeItem(at: dir) }
        for (i, flags) in [["--ssh-key-algorithm=ecdsa"], ["--ssh-key-algorithm=ed25519"], ["--ssh-ecdsa-curve=p256"], ["--ssh-ecdsa-curve=p521"]].enumerated() {
            let r = try fluxs(["create", "secret", "git", "gen\(i)", "--url=\(url)"] + flags)
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stderr.hasPrefix("✚ deploy key: "), r.stderr)
            let identity = try TestEnv.run("kubectl", ["get", "secret", "gen\(i)", "-n", ns, "-o", "jsonpath={.data.identity}"]).stdout
            let pub = try TestEnv.run("kubectl", ["get", "secret", "gen\(i)", "-n", ns, "-o", "jsonpath={.data.identity\\.pub}"]).stdout
            let keyFile = dir.appendingPathComponent("k\(i)")
            try TestEnv.write(String(decoding: Data(base64Encoded: identity)!, as: UTF8.self), to: keyFile, mode: 0o600)
            // OpenSSH reads the private key and derives the same public key.
            let derived = try TestEnv.run("ssh-keygen", ["-y", "-f", keyFile.path])
            XCTAssertEqual(derived.status, 0, derived.stderr)
            let pubText = String(decoding: Data(base64Encoded: pub)!, as: UTF8.self)
            XCTAssertEqual(derived.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ").prefix(2).joined(separator: " "),
                           pubText.trimmingCharacters(in: .whitespacesAndNewlines))
            if i == 0 {
                // The deploy key, once authorized on the server, authenticates the GitRepository.
                let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: ak))
                handle.seekToEndOfFile(); handle.write(Data(pubText.utf8)); handle.closeFile()
                let src = try fluxs(["create", "source", "git", "generated", "--url=\(url)", "--branch=main", "--interval=1m", "--secret-ref=gen0"])
                XCTAssertEqual(src.status, 0, src.stderr)
            }
        }
        let rsa = try fluxs(["create", "secret", "git", "rsa", "--url=\(url)", "--ssh-key-algorithm=rsa"])
        XCTAssertEqual(rsa.status, 1)
        XCTAssertTrue(rsa.stderr.contains("generating RSA keys is not supported"), rsa.stderr)
    }

    func testIncludeCopiesAnotherRepositorysArtifact() throws {
        let shared = try makeRepo(["base/cm.yaml": "kind: ConfigMap\n", "other/x.yaml": "x: 1\n"])
        let app = try makeRepo(["app.yaml": "kind: Deployment\n"])
        XCTAssertEqual(try fluxs(["create", "source", "git", "shared", "--url=\(http)/git/\(shared.name).git", "--branch=main", "--interval=1m"]).status, 0)
        let spec = """
        apiVersion: source.toolkit.fluxcd.io/v1
        kind: GitRepository
        metadata: {name: app, namespace: \(ns)}
        spec:
          interval: 1m
          url: \(http)/git/\(app.name).git
          ref: {branch: main}
          include:
          - repository: {name: shared}
            fromPath: base
            toPath: vendor/base

        """
        XCTAssertEqual(try TestEnv.run("kubectl", ["apply", "-f", "-"], stdin: spec).status, 0)
        let r = try fluxs(["reconcile", "source", "git", "app"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try artifactFiles("app"), [".", "app.yaml", "vendor", "vendor/base", "vendor/base/cm.yaml"])
        XCTAssertEqual(try jsonpath("app", ".status.observedInclude[0].toPath"), "vendor/base")
        // An include without an artifact is reported, not skipped.
        let missing = spec.replacingOccurrences(of: "name: app,", with: "name: app2,").replacingOccurrences(of: "{name: shared}", with: "{name: ghost}")
        XCTAssertEqual(try TestEnv.run("kubectl", ["apply", "-f", "-"], stdin: missing).status, 0)
        let m = try fluxs(["reconcile", "source", "git", "app2"])
        XCTAssertEqual(m.status, 1)
        XCTAssertTrue(m.stderr.contains("could not get resource for include 'ghost'"), m.stderr)
    }
}
