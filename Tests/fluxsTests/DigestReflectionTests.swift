import Foundation
import FluxsTestSupport
import XCTest

/// ImagePolicy digest reflection (`create image policy --reflect-digest`), in this process against docker-registry.
final class DigestReflectionTests: XCTestCase {
    func testPolicyReflectsTheManifestDigest() throws {
        let e = try TestEnv.require("FLUXS_TEST_KUBECONFIG", "FLUXS_TEST_REGISTRY")
        let id = UUID().uuidString.prefix(6).lowercased()
        let ns = "dig-\(id)", repo = "digest-\(id)/app", registry = e["FLUXS_TEST_REGISTRY"]!
        XCTAssertEqual(try TestEnv.fluxs(["install", "--components-extra=image-reflector-controller,image-automation-controller"]).status, 0)
        XCTAssertEqual(try TestEnv.run("kubectl", ["create", "namespace", ns]).status, 0)
        let push = try TestEnv.run("python3", [TestEnv.packageRoot.appendingPathComponent("tools/testenv/testenv.py").path, "push-image",
                                               "--registry", registry, repo, "1.0.0", "1.1.0"])
        XCTAssertEqual(push.status, 0, push.stderr)
        // the registry's own answer, asked the way a client asks it
        let head = try TestEnv.run("curl", ["-sI", "-H", "Accept: application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.v2+json",
                                            "http://\(registry)/v2/\(repo)/manifests/1.1.0"])
        let digest = head.stdout.split(separator: "\r\n").first { $0.lowercased().hasPrefix("docker-content-digest:") }
            .map { String($0.split(separator: " ").last ?? "") } ?? ""
        XCTAssertTrue(digest.hasPrefix("sha256:"), head.stdout)
        let image = "\(registry)/\(repo)"
        func fluxs(_ args: [String]) throws -> TestEnv.Run { try TestEnv.fluxs(args + ["-n", ns]) }
        XCTAssertEqual(try fluxs(["create", "image", "repository", "app", "--image=\(image)", "--interval=1m"]).status, 0)
        let p = try fluxs(["create", "image", "policy", "app", "--image-ref=app", "--select-semver=1.x", "--reflect-digest=Always", "--interval=5m"])
        XCTAssertEqual(p.status, 0, p.stderr)
        let got = try TestEnv.run("kubectl", ["get", "imagepolicy", "app", "-n", ns, "-o", "jsonpath={.status.latestRef.digest}"]).stdout
        XCTAssertEqual(got, digest)
        let r = try fluxs(["reconcile", "image", "policy", "app"])
        XCTAssertTrue(r.stderr.hasSuffix("✔ selected ref \(image):1.1.0@\(digest)\n"), r.stderr)
        let get = try fluxs(["get", "images", "policy", "app"])
        XCTAssertTrue(get.stdout.contains("Latest image tag for \(image) resolved to 1.1.0 with digest \(digest)"), get.stdout)
        // Always needs an interval (the CRD says so too)
        let noInterval = try fluxs(["create", "image", "policy", "bad", "--image-ref=app", "--select-semver=1.x", "--interval=1m", "--reflect-digest=IfNotPresent"])
        XCTAssertEqual(noInterval.status, 1)
        XCTAssertEqual(noInterval.stderr, "✗ the --interval flag can only be used with the 'Always' digest reflection policy, use --reflect-digest=Always\n")
    }
}
