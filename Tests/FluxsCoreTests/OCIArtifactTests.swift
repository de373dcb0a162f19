import Foundation
import XCTest
@testable import FluxsCore
import FluxsKube
import FluxsTestSupport

/// OCI references as go-containerregistry parses them, and artifact comparison independent of the compressor.
final class OCIArtifactTests: XCTestCase {
    func testReferencesAsGoContainerRegistry() throws {
        let cases: [(String, String, String, String?, String?)] = [
            ("ghcr.io/org/app:v1", "ghcr.io", "org/app", "v1", nil),
            ("localhost:5000/app", "localhost:5000", "app", "latest", nil),
            ("nginx", "index.docker.io", "library/nginx", "latest", nil),
            ("docker.io/org/app:1.0", "index.docker.io", "org/app", "1.0", nil),
            ("localhost/app:1", "index.docker.io", "localhost/app", "1", nil),
            ("127.0.0.1:5000/a/b@sha256:" + String(repeating: "a", count: 64), "127.0.0.1:5000", "a/b", nil, "sha256:" + String(repeating: "a", count: 64)),
            ("r.io/a/b:t@sha256:" + String(repeating: "b", count: 64), "r.io", "a/b", nil, "sha256:" + String(repeating: "b", count: 64)),
        ]
        for (s, reg, repo, tag, digest) in cases {
            let r = try OCIReference(s)
            XCTAssertEqual([r.registry, r.repository, r.tag ?? "-", r.digest ?? "-"], [reg, repo, tag ?? "-", digest ?? "-"], s)
        }
        for bad in ["", "a", "Org/App", "r.io/a:b:c/d", "r.io/ab@sha256:abc", "r.io/ab:" + String(repeating: "t", count: 129)] {
            XCTAssertThrowsError(try OCIReference(bad), bad)
        }
        XCTAssertTrue(OCIReference(registry: "10.1.2.3:5000", repository: "x").plainHTTPFallback(insecure: false))
        XCTAssertTrue(OCIReference(registry: "registry.localhost", repository: "x").plainHTTPFallback(insecure: false))
        XCTAssertFalse(OCIReference(registry: "ghcr.io", repository: "x").plainHTTPFallback(insecure: false))
        XCTAssertFalse(OCIReference(registry: "172.32.0.1", repository: "x").plainHTTPFallback(insecure: false))
    }

    func testChallengeAndDockerConfig() throws {
        let c = RegistryClient.parseChallenge(#"Bearer realm="https://auth.io/token",service="registry.io",scope="repository:a/b:pull,push""#)
        XCTAssertEqual(c.scheme, "bearer")
        XCTAssertEqual(c.params, ["realm": "https://auth.io/token", "service": "registry.io", "scope": "repository:a/b:pull,push"])
        let cfg = #"{"auths":{"https://index.docker.io/v1/":{"auth":"dTpw"},"ghcr.io":{"username":"x","password":"y"},"r.io":{"registrytoken":"t"}}}"#
        XCTAssertEqual(try RegistryCredentials.fromDockerConfig(cfg, registry: "index.docker.io"), .basic(username: "u", password: "p"))
        XCTAssertEqual(try RegistryCredentials.fromDockerConfig(cfg, registry: "ghcr.io"), .basic(username: "x", password: "y"))
        XCTAssertEqual(try RegistryCredentials.fromDockerConfig(cfg, registry: "r.io"), .token("t"))
        XCTAssertNil(try RegistryCredentials.fromDockerConfig(cfg, registry: "quay.io"))
        XCTAssertEqual(try RegistryCredentials.parse("user:pa:ss"), .basic(username: "user", password: "pa:ss"))
        XCTAssertEqual(try RegistryCredentials.parse("tok"), .token("tok"))
    }

    /// The same tree compressed by another gzip (GNU gzip -9, as Go's compressor also differs from zlib's) is no
    /// change; a changed file, a new file and a changed mode are.
    func testDifferencesIgnoreTheCompressor() throws {
        let dir = try TestEnv.tempDir("fluxs-oci-diff")
        defer { try? FileManager.default.removeItem(at: dir) }
        var rng = SeededRandom(seed: 11)
        for i in 0..<20 {
            try TestEnv.write("kind: ConfigMap\nmetadata:\n  name: c\(i)\ndata:\n  v: \"\(rng.next())\"\n", to: dir.appendingPathComponent("d\(i % 3)/c\(i).yaml"))
        }
        let local = try OCIArtifact.build(path: dir.path, ignore: [])
        let tar = try Gzip.decompress(local)
        let tarFile = dir.appendingPathComponent("x.tar")
        try Data(tar).write(to: tarFile)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "gzip -9 -n -c '\(tarFile.path)' > '\(tarFile.path).gz'"]
        try p.run(); p.waitUntilExit()
        try FileManager.default.removeItem(at: tarFile)
        let remote = Array(try Data(contentsOf: URL(fileURLWithPath: tarFile.path + ".gz")))
        try FileManager.default.removeItem(at: URL(fileURLWithPath: tarFile.path + ".gz"))
        XCTAssertNotEqual(remote, local)
        XCTAssertEqual(try OCIArtifact.differences(local: local, remote: remote, maxSize: 1 << 20), [])
        try TestEnv.write("changed\n", to: dir.appendingPathComponent("d1/c4.yaml"))
        try TestEnv.write("new\n", to: dir.appendingPathComponent("d2/new.yaml"))
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: dir.appendingPathComponent("d0/c0.yaml").path)
        let changed = try OCIArtifact.build(path: dir.path, ignore: [])
        XCTAssertEqual(try OCIArtifact.differences(local: changed, remote: remote, maxSize: 1 << 20),
                       ["mode changed: d0/c0.yaml (644 -> 600)", "changed: d1/c4.yaml", "added: d2/new.yaml"])
    }
}
