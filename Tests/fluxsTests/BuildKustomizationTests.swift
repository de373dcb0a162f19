import Foundation
import FluxsTestSupport
import XCTest

/// `build kustomization` against flux's own golden outputs (offline, with --kustomization-file --dry-run).
final class BuildKustomizationTests: XCTestCase {
    var dir: URL { GoldenTests.testdata.appendingPathComponent("build-kustomization") }

    func golden(_ f: String) throws -> String {
        guard let s = try? String(contentsOf: dir.appendingPathComponent(f), encoding: .utf8) else {
            throw XCTSkip("../shared/reference/flux-testdata is not present")
        }
        return s.replacingOccurrences(of: "{{ .fluxns }}", with: "flux-system")
    }

    func ksFile() throws -> String {
        let f = try TestEnv.tempDir("fluxs-bk").appendingPathComponent("ks.yaml")
        try TestEnv.write(try golden("podinfo-kustomization.yaml"), to: f)
        return f.path
    }

    func testBuildsAsFluxDoes() throws {
        let ks = try ksFile()
        let cases: [([String], String)] = [
            (["--path", "podinfo"], "podinfo-result.yaml"),
            (["--path", "var-substitution"], "podinfo-with-var-substitution-result.yaml"),
            (["--path", "ignore", "--ignore-paths", "!configmap.yaml,!secret.yaml"], "podinfo-with-ignore-result.yaml"),
            (["--path", "podinfo-with-my-app", "--recursive", "--local-sources", "GitRepository/default/podinfo=."], "podinfo-with-my-app-result.yaml"),
        ]
        for (args, file) in cases {
            let r = try TestEnv.fluxs(["build", "kustomization", "podinfo", "--kustomization-file", ks, "--dry-run"] + args, cwd: dir)
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(r.stdout, try golden(file), file)
        }
    }

    func testErrors() throws {
        let ks = try ksFile()
        let cases: [([String], String)] = [
            (["build", "ks", "podinfo", "--path", ""], "✗ invalid resource path \"\"\n"),
            (["build", "ks", "podinfo", "--path", "podinfo", "--dry-run"], "✗ dry-run mode requires a kustomization file\n"),
            (["build", "ks", "podinfo", "--path", "podinfo", "--kustomization-file", "./wrongfile/", "--dry-run"], "✗ invalid kustomization file \"./wrongfile/\"\n"),
            (["build", "ks", "other", "--path", "podinfo", "--kustomization-file", ks, "--dry-run"],
             "✗ failed find kustomization with name 'other' and namespace 'flux-system' in file '\(ks)'\n"),
            (["build", "ks"], "✗ kustomization name is required\n"),
            (["build", "ks", "podinfo", "--path", "podinfo-with-my-app", "--kustomization-file", ks, "--dry-run", "-r"],
             "✗ cannot get local path for GitRepository/default/podinfo of kustomization my-app\n"),
            (["build", "ks", "podinfo", "--path", "podinfo-with-my-app", "--kustomization-file", ks, "--dry-run", "-r", "--local-sources", "nope"],
             "✗ invalid argument \"nope\" for \"--local-sources\" flag: nope must be formatted as key=value\n"),
        ]
        for (args, want) in cases {
            let r = try TestEnv.fluxs(args, cwd: dir)
            XCTAssertEqual(r.status, 1, "\(args)")
            XCTAssertEqual(r.stderr, want, "\(args)")
        }
    }

    /// flux's TestBuildKustomization: the Kustomization comes from the cluster (owner labels, targetNamespace,
    /// postBuild), and a name that is not there fails.
    func testBuildsTheLiveKustomizationAsFluxDoes() throws {
        _ = try TestEnv.require("FLUXS_TEST_KUBECONFIG")
        XCTAssertEqual(try TestEnv.fluxs(["install"]).status, 0)
        let ns = "bk-\(UUID().uuidString.prefix(6).lowercased())"
        let fixtures = TestEnv.packageRoot.appendingPathComponent("tools/testenv/fixtures.py").path
        for f in ["podinfo-source.yaml", "podinfo-kustomization.yaml"] {
            let r = try TestEnv.run("python3", [fixtures, "apply", dir.appendingPathComponent(f).path, "--ns", ns])
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        func golden(_ f: String) throws -> String {
            let r = try TestEnv.run("python3", [fixtures, "render", dir.appendingPathComponent(f).path, "--ns", ns])
            return r.stdout
        }
        let cases: [([String], String)] = [
            (["--path", "podinfo"], "podinfo-result.yaml"),
            (["--path", "podinfo", "--in-memory-build=true"], "podinfo-result.yaml"),
            (["--path", "delete-service"], "podinfo-without-service-result.yaml"),
            (["--path", "var-substitution"], "podinfo-with-var-substitution-result.yaml"),
            (["--path", "ignore", "--ignore-paths", "!configmap.yaml,!secret.yaml"], "podinfo-with-ignore-result.yaml"),
            (["--path", "podinfo-with-my-app", "--recursive", "--local-sources", "GitRepository/default/podinfo=."], "podinfo-with-my-app-result.yaml"),
        ]
        for (args, file) in cases {
            let r = try TestEnv.fluxs(["build", "kustomization", "podinfo", "-n", ns] + args, cwd: dir)
            XCTAssertEqual(r.status, 0, "\(args): \(r.stderr)")
            XCTAssertEqual(r.stdout, try golden(file), file)
        }
        let missing = try TestEnv.fluxs(["build", "kustomization", "nope", "-n", ns, "--path", "podinfo"], cwd: dir)
        XCTAssertEqual(missing.status, 1)
        XCTAssertEqual(missing.stdout, "")
        XCTAssertEqual(missing.stderr, "✗ failed to get kustomization object: kustomizations.kustomize.toolkit.fluxcd.io \"nope\" not found\n")
        // a local file does not stand for a Kustomization the cluster lacks unless --dry-run
        let ks = try ksFile()
        let noLive = try TestEnv.fluxs(["build", "kustomization", "podinfo", "-n", ns + "-x", "--path", "podinfo", "--kustomization-file", ks], cwd: dir)
        XCTAssertEqual(noLive.status, 1)
        XCTAssertTrue(noLive.stderr.hasPrefix("✗ failed to get kustomization object: "), noLive.stderr)
    }
}

