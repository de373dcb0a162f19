import Foundation
import FluxsTestSupport
import XCTest

/// `fluxs build|push|pull artifact` against the test environment's docker-registry instances (open, basic auth,
/// token auth, TLS), with skopeo, tar and Python's tarfile as the oracles for what was stored.
final class ArtifactTests: XCTestCase {
    var e: [String: String] = [:]
    var dir: URL!
    var env: [String: String] = [:]
    var repo = ""

    override func setUpWithError() throws {
        e = try TestEnv.require("FLUXS_TEST_REGISTRY", "FLUXS_TEST_REGISTRY_AUTH", "FLUXS_TEST_REGISTRY_TOKEN", "FLUXS_TEST_REGISTRY_TLS",
                                "FLUXS_TEST_REGISTRY_USER", "FLUXS_TEST_REGISTRY_PASSWORD", "FLUXS_TEST_REGISTRY_TOKEN_SERVER", "FLUXS_TEST_CA")
        dir = try TestEnv.tempDir("fluxs-artifact")
        // No docker config of the machine's user: credentials come only from what a test gives.
        let docker = dir.appendingPathComponent("docker")
        try FileManager.default.createDirectory(at: docker, withIntermediateDirectories: true)
        env = ["DOCKER_CONFIG": docker.path, "XDG_RUNTIME_DIR": "", "REGISTRY_AUTH_FILE": "", "SSL_CERT_FILE": ""]
        repo = "fluxs-\(UUID().uuidString.prefix(6).lowercased())/manifests"
    }

    override func tearDownWithError() throws {
        if let dir { try? FileManager.default.removeItem(at: dir) }
    }

    func fluxs(_ args: [String], env extra: [String: String] = [:], stdin: String? = nil) throws -> TestEnv.Run {
        try TestEnv.fluxs(args, env: env.merging(extra) { $1 }, stdin: stdin)
    }

    /// A manifests tree with files flux leaves out by default (VCS, images, archives), a symlink, an executable,
    /// nested directories and seeded contents.
    func tree(_ name: String, seed: UInt64 = 7) throws -> URL {
        let root = dir.appendingPathComponent(name)
        var rng = SeededRandom(seed: seed)
        for i in 0..<5 {
            let sub = i % 2 == 0 ? "apps" : "infra/base"
            try TestEnv.write("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-\(i)\ndata:\n  v: \"\(rng.next() % 100000)\"\n",
                              to: root.appendingPathComponent("\(sub)/cm-\(i).yaml"))
        }
        try TestEnv.write("[core]\n", to: root.appendingPathComponent(".git/config"))
        try TestEnv.write("png", to: root.appendingPathComponent("apps/logo.png"))
        try TestEnv.write("tgz", to: root.appendingPathComponent("old.tar.gz"))
        try TestEnv.write("#!/bin/sh\n", to: root.appendingPathComponent("run.sh"), mode: 0o755)
        try FileManager.default.createSymbolicLink(atPath: root.appendingPathComponent("link.yaml").path, withDestinationPath: "apps/cm-0.yaml")
        return root
    }

    func run(_ exe: String, _ args: [String]) throws -> TestEnv.Run {
        let r = try TestEnv.run(exe, args)
        XCTAssertEqual(r.status, 0, "\(exe) \(args): \(r.stderr)")
        return r
    }

    func testBuildArtifactLayoutAsFlux() throws {
        let src = try tree("src")
        let out = dir.appendingPathComponent("a.tgz")
        let r = try fluxs(["build", "artifact", "--path", src.path, "--output", out.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr, "► building artifact from \(src.path)\n✔ artifact created at \(out.path)\n")
        // GNU tar reads it; entries in filepath.WalkDir order from ".", ignored files and the symlink left out, modes kept.
        let listing = try run("tar", ["-tvzf", out.path]).stdout.split(separator: "\n").map { l in
            let f = l.split(separator: " ", omittingEmptySubsequences: true)
            return "\(f[0]) \(f[1]) \(f.last!)"
        }
        XCTAssertEqual(listing, ["d\(try modeString(src)) 0/0 .", "drwxr-xr-x 0/0 apps", "-rw-r--r-- 0/0 apps/cm-0.yaml", "-rw-r--r-- 0/0 apps/cm-2.yaml",
                                 "-rw-r--r-- 0/0 apps/cm-4.yaml", "drwxr-xr-x 0/0 infra", "drwxr-xr-x 0/0 infra/base",
                                 "-rw-r--r-- 0/0 infra/base/cm-1.yaml", "-rw-r--r-- 0/0 infra/base/cm-3.yaml", "-rwxr-xr-x 0/0 run.sh"])
        // Same tree, same bytes; --ignore-paths replaces the defaults.
        let again = dir.appendingPathComponent("b.tgz")
        XCTAssertEqual(try fluxs(["build", "artifact", "--path", src.path, "--output", again.path]).status, 0)
        XCTAssertEqual(try Data(contentsOf: out), try Data(contentsOf: again))
        let custom = dir.appendingPathComponent("c.tgz")
        XCTAssertEqual(try fluxs(["build", "artifact", "-p", src.path, "-o", custom.path, "--ignore-paths", "infra/,*.sh"]).status, 0)
        let names = try run("tar", ["-tzf", custom.path]).stdout
        XCTAssertTrue(names.contains(".git/config") && names.contains("apps/logo.png") && !names.contains("infra") && !names.contains("run.sh"), names)
        // A single file sits at the root under a "." of mode 0700; stdin is one file too.
        let one = dir.appendingPathComponent("one.tgz")
        XCTAssertEqual(try fluxs(["build", "artifact", "--path", src.appendingPathComponent("apps/cm-0.yaml").path, "--output", one.path]).status, 0)
        XCTAssertEqual(try run("tar", ["-tzf", one.path]).stdout, ".\ncm-0.yaml\n")
        let piped = dir.appendingPathComponent("stdin.tgz")
        XCTAssertEqual(try fluxs(["build", "artifact", "--path", "-", "--output", piped.path], stdin: "kind: List\n\n").status, 0)
        XCTAssertEqual(try run("tar", ["-xOzf", piped.path, "stdin.yaml"]).stdout, "kind: List")
        // Missing path: flux's line, exit 1, nothing written.
        let missing = try fluxs(["build", "artifact", "--path", dir.appendingPathComponent("nope").path, "--output", dir.appendingPathComponent("x.tgz").path])
        XCTAssertEqual(missing.status, 1)
        XCTAssertEqual(missing.stderr, "✗ invalid path '\(dir.appendingPathComponent("nope").path)', must point to an existing directory or file\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("x.tgz").path))
    }

    func modeString(_ url: URL) throws -> String {
        let p = (try FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as? Int) ?? 0
        let letters: [Character] = Array("rwxrwxrwx")
        var out = ""
        for i in 0..<9 { out.append((p >> (8 - i)) & 1 == 1 ? letters[i] : "-") }
        return out
    }

    /// The manifest and config skopeo reads back: flux's media types and annotations.
    func inspect(_ ref: String, creds: String? = nil, tls: Bool = false) throws -> (manifest: [String: Any], config: [String: Any]) {
        var args = ["inspect", "--raw", "--tls-verify=false"]
        if let creds { args += ["--creds", creds] }
        let raw = try run("skopeo", args + ["docker://\(ref)"]).stdout
        let m = try JSONSerialization.jsonObject(with: Data(raw.utf8)) as! [String: Any]
        // skopeo refuses configs of other media types than images': the blob straight from the registry API.
        let digest = (m["config"] as! [String: Any])["digest"] as! String
        let slash = ref.firstIndex(of: "/")!
        let name = ref[ref.index(after: slash)...].split(separator: ":")[0]
        var curl = ["-sf", "--cacert", e["FLUXS_TEST_CA"]!, "\(tls ? "https" : "http")://\(ref[..<slash])/v2/\(name)/blobs/\(digest)"]
        if let creds { curl += ["-u", creds] }
        let c = try run("curl", curl).stdout
        let cfg = try JSONSerialization.jsonObject(with: Data(c.utf8)) as! [String: Any]
        return (m, cfg)
    }

    func testPushPullRoundTripOpenRegistry() throws {
        let registry = e["FLUXS_TEST_REGISTRY"]!
        let src = try tree("src")
        let url = "oci://\(registry)/\(repo):v1.0.0"
        let push = try fluxs(["push", "artifact", url, "--path", src.path, "--source", "https://github.com/org/repo",
                              "--revision", "main@sha1:abc123", "-a", "org.opencontainers.image.licenses=Apache-2.0", "--output", "json"])
        XCTAssertEqual(push.status, 0, push.stderr)
        let info = try JSONSerialization.jsonObject(with: Data(push.stdout.utf8)) as! [String: String]
        let digest = info["digest"]!
        XCTAssertEqual(info["repository"], "\(registry)/\(repo)")
        XCTAssertEqual(info["tag"], "v1.0.0")
        XCTAssertEqual(info["url"], "oci://\(registry)/\(repo)@\(digest)")
        XCTAssertTrue(push.stdout.hasPrefix("{\n  \"url\": "), push.stdout)
        let (m, cfg) = try inspect("\(registry)/\(repo):v1.0.0")
        XCTAssertEqual(m["mediaType"] as? String, "application/vnd.oci.image.manifest.v1+json")
        XCTAssertEqual((m["config"] as? [String: Any])?["mediaType"] as? String, "application/vnd.cncf.flux.config.v1+json")
        let layers = m["layers"] as! [[String: Any]]
        XCTAssertEqual(layers.count, 1)
        XCTAssertEqual(layers[0]["mediaType"] as? String, "application/vnd.cncf.flux.content.v1.tar+gzip")
        let ann = m["annotations"] as! [String: String]
        XCTAssertEqual(ann["org.opencontainers.image.source"], "https://github.com/org/repo")
        XCTAssertEqual(ann["org.opencontainers.image.revision"], "main@sha1:abc123")
        XCTAssertEqual(ann["org.opencontainers.image.licenses"], "Apache-2.0")
        let created = ann["org.opencontainers.image.created"]!
        XCTAssertEqual(cfg["created"] as? String, created)
        XCTAssertNotNil(created.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/), created)
        // The layer is what build artifact writes for the same tree.
        let built = dir.appendingPathComponent("built.tgz")
        XCTAssertEqual(try fluxs(["build", "artifact", "--path", src.path, "--output", built.path]).status, 0)
        XCTAssertEqual(layers[0]["digest"] as? String, "sha256:" + (try run("sha256sum", [built.path]).stdout.prefix(64)))
        // Pull: flux's lines, the tree extracted as built (ignored files left out).
        let out = dir.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let pull = try fluxs(["pull", "artifact", url, "--output", out.path])
        XCTAssertEqual(pull.status, 0, pull.stderr)
        XCTAssertEqual(pull.stderr, """
            ► pulling artifact from \(registry)/\(repo):v1.0.0
            ✔ source https://github.com/org/repo
            ✔ revision main@sha1:abc123
            ✔ digest \(registry)/\(repo)@\(digest)
            ✔ artifact content extracted to \(out.path)

            """)
        let diff = try TestEnv.run("diff", ["-r", "-x", ".git", "-x", "*.png", "-x", "*.tar.gz", "-x", "link.yaml", src.path, out.path])
        XCTAssertEqual(diff.status, 0, diff.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.appendingPathComponent(".git").path))
        // By digest too.
        let byDigest = dir.appendingPathComponent("by-digest")
        try FileManager.default.createDirectory(at: byDigest, withIntermediateDirectories: true)
        XCTAssertEqual(try fluxs(["pull", "artifact", "oci://\(registry)/\(repo)@\(digest)", "-o", byDigest.path]).status, 0)
        XCTAssertTrue(FileManager.default.fileExists(atPath: byDigest.appendingPathComponent("infra/base/cm-3.yaml").path))
        // --reproducible: the same digest twice; default output is flux's success line.
        let r1 = try fluxs(["push", "artifact", "oci://\(registry)/\(repo):repro", "-f", src.path, "--source", "s", "--revision", "r", "--reproducible"])
        XCTAssertEqual(r1.status, 0, r1.stderr)
        let r2 = try fluxs(["push", "artifact", "oci://\(registry)/\(repo):repro", "-f", src.path, "--source", "s", "--revision", "r", "--reproducible", "-o", "yaml"])
        let d2 = r2.stdout.split(separator: "\n").first { $0.hasPrefix("digest: ") }!.dropFirst(8)
        XCTAssertTrue(r1.stderr.hasSuffix("✔ artifact successfully pushed to \(registry)/\(repo)@\(d2)\n"), r1.stderr)
        XCTAssertEqual(r2.stdout.split(separator: "\n").map { String($0.split(separator: ":")[0]) }, ["digest", "repository", "tag", "url"])
        XCTAssertEqual(try inspect("\(registry)/\(repo):repro").config["created"] as? String, "1970-01-01T00:00:00Z")
    }

    func testFlagErrorsAsFlux() throws {
        let registry = e["FLUXS_TEST_REGISTRY"]!
        let cases: [([String], String)] = [
            (["push", "artifact"], "artifact URL is required"),
            (["push", "artifact", "oci://\(registry)/ab:c", "--path", "."], "--source is required"),
            (["push", "artifact", "oci://\(registry)/ab:c", "--source", "s", "--path", "."], "--revision is required"),
            (["push", "artifact", "\(registry)/ab:c", "--source", "s", "--revision", "r", "--path", "."], "URL must be in format 'oci://<domain>/<org>/<repo>'"),
            (["pull", "artifact", "oci://\(registry)/ab:c"], "output path cannot be empty"),
            (["pull", "artifact", "oci://\(registry)/AB:c", "-o", "."], "'oci://\(registry)/AB:c' invalid URL: could not parse reference: \(registry)/AB:c"),
            (["pull", "artifact", "oci://\(registry)/ab:c", "-o", ".", "--provider", "ibm"],
             "invalid argument \"ibm\" for \"--provider\" flag: source OCI provider 'ibm' is not supported, must be one of: generic, aws, azure, gcp"),
        ]
        for (args, message) in cases {
            let r = try fluxs(args)
            XCTAssertEqual(r.status, 1, "\(args)")
            XCTAssertEqual(r.stderr, "✗ \(message)\n", "\(args)")
        }
    }

    func testBasicAuthCredsAndDockerConfig() throws {
        let registry = e["FLUXS_TEST_REGISTRY_AUTH"]!
        let user = e["FLUXS_TEST_REGISTRY_USER"]!, pass = e["FLUXS_TEST_REGISTRY_PASSWORD"]!
        let src = try tree("src")
        let url = "oci://\(registry)/\(repo):v1"
        let args = ["push", "artifact", url, "--path", src.path, "--source", "s", "--revision", "r"]
        // No credentials: one line naming the registry, exit 1.
        let denied = try fluxs(args)
        XCTAssertEqual(denied.status, 1)
        XCTAssertEqual(denied.stderr.split(separator: "\n").count, 2, denied.stderr)
        XCTAssertTrue(denied.stderr.contains("✗ pushing artifact failed: the registry \(registry) requires authentication"), denied.stderr)
        // Wrong password: authentication failed, the password never printed, nothing stored.
        let wrong = try fluxs(args + ["--creds", "\(user):not-\(pass)"])
        XCTAssertEqual(wrong.status, 1)
        XCTAssertTrue(wrong.stderr.contains("authentication to \(registry) failed (HTTP 401)"), wrong.stderr)
        XCTAssertFalse(wrong.stderr.contains(pass))
        XCTAssertEqual(try TestEnv.run("skopeo", ["inspect", "--raw", "--tls-verify=false", "--creds", "\(user):\(pass)", "docker://\(registry)/\(repo):v1"]).status, 1)
        // --creds.
        let ok = try fluxs(args + ["--creds", "\(user):\(pass)"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertTrue(ok.stderr.hasPrefix("► logging in to registry with credentials\n► pushing artifact to \(registry)/\(repo):v1\n"), ok.stderr)
        XCTAssertFalse(ok.stderr.contains(pass))
        XCTAssertEqual(try inspect("\(registry)/\(repo):v1", creds: "\(user):\(pass)").manifest["mediaType"] as? String, "application/vnd.oci.image.manifest.v1+json")
        // A docker config file (`auths.<host>.auth`), as `docker login` writes it.
        let auth = Data("\(user):\(pass)".utf8).base64EncodedString()
        try TestEnv.write("{\"auths\":{\"\(registry)\":{\"auth\":\"\(auth)\"}}}", to: URL(fileURLWithPath: env["DOCKER_CONFIG"]!).appendingPathComponent("config.json"), mode: 0o600)
        let out = dir.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let pull = try fluxs(["pull", "artifact", url, "-o", out.path])
        XCTAssertEqual(pull.status, 0, pull.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent("apps/cm-0.yaml").path))
    }

    func testTokenAuthBearerFlow() throws {
        let registry = e["FLUXS_TEST_REGISTRY_TOKEN"]!, tokenServer = e["FLUXS_TEST_REGISTRY_TOKEN_SERVER"]!
        let user = e["FLUXS_TEST_REGISTRY_USER"]!, pass = e["FLUXS_TEST_REGISTRY_PASSWORD"]!
        let src = try tree("src")
        let url = "oci://\(registry)/\(repo):v1"
        let push = try fluxs(["push", "artifact", url, "--path", src.path, "--source", "s", "--revision", "r", "--creds", "\(user):\(pass)"])
        XCTAssertEqual(push.status, 0, push.stderr)
        // The token was bought for push,pull on this repository, with the credentials sent to the realm only.
        let requests = try run("curl", ["-sf", tokenServer + "/__token/requests"]).stdout
        XCTAssertTrue(requests.contains("scope=repository%3A\(repo.replacingOccurrences(of: "/", with: "%2F"))%3Apush%2Cpull"), requests)
        XCTAssertTrue(requests.contains("service=fluxs-registry"), requests)
        let out = dir.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let pull = try fluxs(["pull", "artifact", url, "-o", out.path, "--creds", "\(user):\(pass)"])
        XCTAssertEqual(pull.status, 0, pull.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent("infra/base/cm-1.yaml").path))
        // Anonymous: the token grants nothing, the registry says so in one line.
        let anon = try fluxs(["pull", "artifact", url, "-o", out.path])
        XCTAssertEqual(anon.status, 1)
        XCTAssertTrue(anon.stderr.contains("✗ fetching the manifest \(registry)/\(repo):v1: authentication to \(registry) failed (HTTP 401)"), anon.stderr)
        // Wrong password: the token endpoint refuses.
        let wrong = try fluxs(["pull", "artifact", url, "-o", out.path, "--creds", "\(user):x\(pass)"])
        XCTAssertEqual(wrong.status, 1)
        XCTAssertTrue(wrong.stderr.contains("authentication to \(registry) failed: the token endpoint \(tokenServer) answered HTTP 401"), wrong.stderr)
        XCTAssertFalse(wrong.stderr.contains(pass))
    }

    func testTLSRegistryAndUnreachable() throws {
        let registry = e["FLUXS_TEST_REGISTRY_TLS"]!
        let user = e["FLUXS_TEST_REGISTRY_USER"]!, pass = e["FLUXS_TEST_REGISTRY_PASSWORD"]!
        let src = try tree("src")
        let args = ["push", "artifact", "oci://\(registry)/\(repo):v1", "--path", src.path, "--source", "s", "--revision", "r", "--creds", "\(user):\(pass)"]
        // The CA through SSL_CERT_FILE, as Go reads it.
        let ok = try fluxs(args, env: ["SSL_CERT_FILE": e["FLUXS_TEST_CA"]!])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        // Without the CA: localhost may fall back to plain HTTP, which a TLS port does not answer: one line, exit 1.
        let untrusted = try fluxs(args)
        XCTAssertEqual(untrusted.status, 1)
        XCTAssertTrue(untrusted.stderr.contains("✗ pushing artifact failed: cannot reach the registry \(registry)"), untrusted.stderr)
        XCTAssertEqual(untrusted.stderr.split(separator: "\n").count, 2 + 1, untrusted.stderr)   // and the login line
        // --insecure-registry skips verification.
        XCTAssertEqual(try fluxs(args + ["--insecure-registry"]).status, 0)
        // A registry that is down.
        let down = try fluxs(["pull", "artifact", "oci://127.0.0.1:9/\(repo):v1", "-o", dir.path])
        XCTAssertEqual(down.status, 1)
        XCTAssertTrue(down.stderr.hasSuffix("✗ cannot reach the registry 127.0.0.1:9: https: Failed to connect to 127.0.0.1 port 9 after 0 ms: Couldn't connect to server; http: Failed to connect to 127.0.0.1 port 9 after 0 ms: Couldn't connect to server\n")
                      || down.stderr.contains("✗ cannot reach the registry 127.0.0.1:9"), down.stderr)
        XCTAssertEqual(down.stderr.split(separator: "\n").count, 2, down.stderr)
    }

    func testTagListAndDiff() throws {
        let registry = e["FLUXS_TEST_REGISTRY"]!
        let src = try tree("src")
        for (tag, rev) in [("v1.0.0", "main@sha1:aaa"), ("v1.1.0", "main@sha1:bbb"), ("v2.0.0-rc.1", "main@sha1:ccc")] {
            let r = try fluxs(["push", "artifact", "oci://\(registry)/\(repo):\(tag)", "--path", src.path, "--source", "https://git.example/app", "--revision", rev])
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        let tag = try fluxs(["tag", "artifact", "oci://\(registry)/\(repo):v1.1.0", "--tag", "latest", "--tag", "sha256-x.sig"])
        XCTAssertEqual(tag.status, 0, tag.stderr)
        XCTAssertEqual(tag.stderr, "► tagging artifact\n✔ artifact tagged as \(registry)/\(repo):latest\n✔ artifact tagged as \(registry)/\(repo):sha256-x.sig\n")
        let digest = { (t: String) throws -> String in
            // skopeo's digest of the raw manifest (its inspect refuses non-image configs).
            "sha256:" + (try self.run("sh", ["-c", "skopeo inspect --raw --tls-verify=false docker://\(registry)/\(self.repo):\(t) | sha256sum"]).stdout.prefix(64))
        }
        let d11 = try digest("v1.1.0"), d10 = try digest("v1.0.0"), drc = try digest("v2.0.0-rc.1")
        XCTAssertEqual(try digest("latest"), d11)
        // Tags in reverse order, the cosign-style tag left out, flux's table.
        let list = try fluxs(["list", "artifacts", "oci://\(registry)/\(repo)"])
        XCTAssertEqual(list.status, 0, list.stderr)
        let rows = list.stdout.split(separator: "\n").map { $0.split(separator: "\t").map { $0.trimmingCharacters(in: .whitespaces) } }
        XCTAssertEqual(rows, [["ARTIFACT", "DIGEST", "SOURCE", "REVISION"],
                              ["\(registry)/\(repo):v2.0.0-rc.1", drc, "https://git.example/app", "main@sha1:ccc"],
                              ["\(registry)/\(repo):v1.1.0", d11, "https://git.example/app", "main@sha1:bbb"],
                              ["\(registry)/\(repo):v1.0.0", d10, "https://git.example/app", "main@sha1:aaa"],
                              ["\(registry)/\(repo):latest", d11, "https://git.example/app", "main@sha1:bbb"]])
        let semver = try fluxs(["list", "artifacts", "oci://\(registry)/\(repo)", "--filter-semver", ">=1.0.0"])
        XCTAssertEqual(semver.stdout.split(separator: "\n").dropFirst().map { String($0.split(separator: "\t")[0]).trimmingCharacters(in: .whitespaces) },
                       ["\(registry)/\(repo):v1.1.0", "\(registry)/\(repo):v1.0.0"])
        let regex = try fluxs(["list", "artifacts", "oci://\(registry)/\(repo)", "--filter-regex", "^v1\\.1|rc"])
        XCTAssertEqual(regex.stdout.split(separator: "\n").count, 3, regex.stdout)
        // diff: the same tree is no change; a changed file is, and says which.
        let same = try fluxs(["diff", "artifact", "oci://\(registry)/\(repo):v1.1.0", "--path", src.path])
        XCTAssertEqual(same.status, 0, same.stderr)
        XCTAssertEqual(same.stderr, try String(contentsOf: GoldenTests.testdata.appendingPathComponent("diff-artifact/success.golden"), encoding: .utf8))
        try TestEnv.write("kind: Changed\n", to: src.appendingPathComponent("apps/cm-2.yaml"))
        let changed = try fluxs(["diff", "artifact", "oci://\(registry)/\(repo):v1.1.0", "--path", src.path])
        XCTAssertEqual(changed.status, 1)
        XCTAssertEqual(changed.stderr, "  changed: apps/cm-2.yaml\n✗ the remote artifact contents differs from the local one\n")
        // Errors as flux's.
        XCTAssertEqual(try fluxs(["tag", "artifact", "oci://\(registry)/\(repo):v1.1.0"]).stderr, "✗ --tag is required\n")
        XCTAssertEqual(try fluxs(["list", "artifacts"]).stderr, "✗ artifact repository URL is required\n")
        let missing = try fluxs(["tag", "artifact", "oci://\(registry)/\(repo):nope", "--tag", "x"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.hasSuffix("✗ tagging artifact failed: fetching the manifest \(registry)/\(repo):nope: not found in \(registry)/\(repo) (HTTP 404): MANIFEST_UNKNOWN: manifest unknown\n"), missing.stderr)
    }

    func testCreateSourceOCIExportGoldens() throws {
        let golden = GoldenTests.testdata.appendingPathComponent("oci")
        let u = "--url=oci://ghcr.io/stefanprodan/manifests/podinfo"
        let cases: [([String], String)] = [
            (["--tag=6.3.5", "--interval", "10m"], "export.golden"),
            (["--tag=6.3.5", "--interval", "10m", "--secret-ref=creds"], "export_with_secret.golden"),
            (["--tag=6.3.5", "--interval", "10m", "--verify-provider=cosign", "--verify-secret-ref=cosign-pub"], "export_with_verify_secret.golden"),
            (["--tag=6.3.5", "--interval", "10m", "--layer-selector=application/vnd.cncf.helm.chart.content.v1.tar+gzip:copy"], "export_with_layer_selector.golden"),
            // flux's test harness leaves the interval at 0s for these.
            (["--tag=6.3.5", "--interval=0s", "--verify-issuer=github", "--verify-provider=cosign"], "export_with_issuer.golden"),
            (["--tag=6.3.5", "--interval=0s", "--verify-subject=stefanprodan", "--verify-provider=cosign"], "export_with_subject.golden"),
            (["--tag=6.3.5", "--interval=0s", "--verify-issuer=github", "--verify-subject=stefanprodan", "--verify-provider=cosign"], "export_with_complete_verification.golden"),
        ]
        for (args, file) in cases {
            let r = try fluxs(["create", "source", "oci", "podinfo", u, "--export", "-n", "flux-system"] + args)
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(r.stdout, try String(contentsOf: golden.appendingPathComponent(file), encoding: .utf8), file)
        }
        let errors: [([String], String)] = [
            ([], "name is required"), (["podinfo"], "url is required"),
            (["podinfo", u], "--tag, --tag-semver or --digest is required"),
            (["podinfo", u, "--tag=6.3.5", "--verify-secret-ref=cosign-pub"], "a verification provider must be specified when a secret is specified"),
            (["podinfo", u, "--tag=6.3.5", "--verify-issuer=github.com"], "a verification provider must be specified when OIDC issuer/subject is specified"),
            (["podinfo", u, "--tag=6.3.5", "--layer-selector=application/vnd.cncf.helm.chart.content.v1.tar+gzip:move"],
             "invalid --layer-selector \"application/vnd.cncf.helm.chart.content.v1.tar+gzip:move\": operation must be \"extract\" or \"copy\""),
            (["podinfo", u, "--tag=6.3.5", "--layer-selector=application/vnd.cncf.helm.chart.content.v1.tar+gzip"],
             "invalid --layer-selector \"application/vnd.cncf.helm.chart.content.v1.tar+gzip\": must be in the format '<media-type>:<operation>'"),
        ]
        for (args, message) in errors {
            let r = try fluxs(["create", "source", "oci"] + args + ["--export"])
            XCTAssertEqual(r.status, 1, "\(args)")
            XCTAssertEqual(r.stderr, "✗ \(message)\n", "\(args)")
        }
    }

    /// A registry whose manifests and blobs live elsewhere (307 to another origin, as blob storage answers): fluxs
    /// follows, checks the digests, and the credentials stay with the registry.
    func testCredentialsStayWithTheRegistryAcrossRedirects() throws {
        let h = try TestEnv.require("FLUXS_TEST_HOSTILE", "FLUXS_TEST_HOSTILE_ELSEWHERE")
        let origin = h["FLUXS_TEST_HOSTILE"]!, registry = String(origin.dropFirst("http://".count))
        XCTAssertEqual(try TestEnv.run("curl", ["-sf", "-X", "DELETE", origin + "/__hostile/requests"]).status, 0)
        let out = dir.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let pull = try fluxs(["pull", "artifact", "oci://\(registry)/hostile/app:v1", "-o", out.path, "--creds", "user:s3cret-pass"])
        XCTAssertEqual(pull.status, 0, pull.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent("cm.yaml").path))
        let log = try run("curl", ["-sf", origin + "/__hostile/requests"]).stdout
        let requests = (try JSONSerialization.jsonObject(with: Data(log.utf8)) as! [String: Any])["requests"] as! [[String: Any]]
        let elsewhere = requests.filter { ($0["listener"] as? String) == "elsewhere" }
        XCTAssertEqual(elsewhere.count, 2, log)   // the manifest and the layer, followed
        XCTAssertTrue(elsewhere.allSatisfy { ($0["authorization"] as? String) == "" && ($0["headers"] as? [String: String])?.isEmpty != false }, log)
        XCTAssertTrue(requests.contains { ($0["listener"] as? String) == "origin" && ($0["authorization"] as? String)?.hasPrefix("Basic ") == true }, log)
    }
}
