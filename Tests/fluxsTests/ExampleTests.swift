import Foundation
import FluxsTestSupport
import XCTest

/// examples/ stays true: every kustomization in it builds with `fluxs kustomize build` exactly as with
/// `kubectl kustomize`, and the Flux Kustomizations of examples/app build what they promise. The case study
/// that uses them end to end is scripts/demo, run by scripts/test.
final class ExampleTests: XCTestCase {
    /// Every folder under examples/ that has a kustomization.yaml.
    private func kustomizations() throws -> [String] {
        let root = TestEnv.packageRoot.appendingPathComponent("examples")
        guard let walker = FileManager.default.enumerator(atPath: root.path) else { return [] }
        var dirs: [String] = []
        for case let rel as String in walker where (rel as NSString).lastPathComponent == "kustomization.yaml" {
            dirs.append("examples/" + (rel as NSString).deletingLastPathComponent)
        }
        return dirs.sorted()
    }

    func testEveryKustomizationBuildsAsKubectlDoes() throws {
        let root = TestEnv.packageRoot
        let dirs = try kustomizations()
        for d in ["examples/app/deploy/base", "examples/app/deploy/staging", "examples/app/deploy/production",
                  "examples/app/flux"] {
            XCTAssertTrue(dirs.contains(d), "\(d) is missing from \(dirs)")
        }
        for d in dirs {
            let ours = try TestEnv.fluxs(["kustomize", "build", d], cwd: root)
            XCTAssertEqual(ours.status, 0, "fluxs kustomize build \(d): \(ours.stderr)")
            let kubectl = try TestEnv.kustomize([d], cwd: root)
            XCTAssertEqual(kubectl.status, 0, "kubectl kustomize \(d): \(kubectl.stderr)")
            XCTAssertFalse(kubectl.stdout.isEmpty, d)
            XCTAssertEqual(ours.stdout, kubectl.stdout, "fluxs and kubectl build \(d) differently")
        }
    }

    /// What kustomize-controller would apply for each environment: the overlay's namespace, the substituted
    /// settings, production's replicas, the image tag automation updates, the owner labels.
    func testFluxKustomizationsOfTheApp() throws {
        let root = TestEnv.packageRoot
        let expected = [("staging", "Hello from staging", "minReplicas: 1"),
                        ("production", "Hello from production", "minReplicas: 2")]
        for (env, message, replicas) in expected {
            let r = try TestEnv.fluxs(["build", "kustomization", "webapp-\(env)", "--path", "examples/app/deploy/\(env)",
                                       "--kustomization-file", "examples/app/flux/kustomizations.yaml", "--dry-run"],
                                      cwd: root)
            XCTAssertEqual(r.status, 0, r.stderr)
            for want in ["  PODINFO_UI_MESSAGE: Hello from \(env == "staging" ? "staging" : "production")\n",
                         "  namespace: webapp-\(env)\n", "  \(replicas)\n", "  type: LoadBalancer\n",
                         "image: ghcr.io/stefanprodan/podinfo:6.3.5\n", "kustomize.toolkit.fluxcd.io/name: webapp-\(env)\n",
                         "kind: HorizontalPodAutoscaler\n"] {
                XCTAssertTrue(r.stdout.contains(want), "webapp-\(env) lacks \(want.debugDescription):\n\(r.stdout)")
            }
            XCTAssertTrue(r.stdout.contains(message), r.stdout)
            XCTAssertFalse(r.stdout.contains("${"), "unsubstituted variable in webapp-\(env):\n\(r.stdout)")
        }
    }

    /// The Flux objects of examples/app are what the case study needs, and the image marker points at its policy.
    func testFluxObjectsOfTheApp() throws {
        let root = TestEnv.packageRoot
        let r = try TestEnv.fluxs(["kustomize", "build", "examples/app/flux"], cwd: root)
        XCTAssertEqual(r.status, 0, r.stderr)
        for kind in ["GitRepository", "Kustomization", "ImageRepository", "ImagePolicy", "ImageUpdateAutomation",
                     "Provider", "Alert"] {
            XCTAssertTrue(r.stdout.contains("kind: \(kind)\n"), "examples/app/flux has no \(kind)")
        }
        for want in ["  dependsOn:\n  - name: webapp-staging\n", "  healthChecks:\n", "  postBuild:\n", "  type: slack\n",
                     "  type: discord\n", "  url: https://github.com/my-org/webapp\n",
                     "  image: ghcr.io/stefanprodan/podinfo\n"] {
            XCTAssertTrue(r.stdout.contains(want), "examples/app/flux lacks \(want.debugDescription)")
        }
        let base = try String(contentsOf: root.appendingPathComponent("examples/app/deploy/base/kustomization.yaml"),
                              encoding: .utf8)
        XCTAssertTrue(base.contains("newTag: 6.3.5 # {\"$imagepolicy\": \"flux-system:webapp:tag\"}\n"), base)
    }

    func testCIScriptRefusesBadArguments() throws {
        let root = TestEnv.packageRoot
        let script = root.appendingPathComponent("examples/ci/fluxs-ci.sh").path
        let none = try TestEnv.run(script, [], cwd: root)
        XCTAssertEqual(none.status, 2)
        XCTAssertTrue(none.stderr.contains("usage:"), none.stderr)
        let noPath = try TestEnv.run(script, ["diff", "webapp-staging"], env: ["FLUXS": TestEnv.fluxsBinary.path], cwd: root)
        XCTAssertEqual(noPath.status, 2)
        XCTAssertTrue(noPath.stderr.contains("✗ webapp-staging: expected NAME=PATH"), noPath.stderr)
    }
}
