import Foundation
import FluxsTestSupport
import XCTest

/// `fluxs diff kustomization` against flux's own goldens, set up as flux's TestDiffKustomization* set them up: the
/// Kustomization in the API simulator, objects pre-applied by kustomize-controller's field manager, server-side dry runs.
final class DiffTests: XCTestCase {
    var dir: URL { GoldenTests.testdata }
    var fixtures: String { TestEnv.packageRoot.appendingPathComponent("tools/testenv/fixtures.py").path }

    func render(_ path: String, ns: String) throws -> String {
        guard FileManager.default.fileExists(atPath: dir.appendingPathComponent(path).path) else {
            throw XCTSkip("../shared/reference/flux-testdata is not present")
        }
        let r = try TestEnv.run("python3", [fixtures, "render", dir.appendingPathComponent(path).path, "--ns", ns])
        XCTAssertEqual(r.status, 0, r.stderr)
        return r.stdout
    }

    func kubectl(_ args: [String], stdin: String? = nil) throws {
        let r = try TestEnv.run("kubectl", args, stdin: stdin)
        XCTAssertEqual(r.status, 0, "kubectl \(args): \(r.stderr)")
    }

    /// A fresh namespace standing for flux-system (flux's tests allocate one per case).
    func namespace() throws -> String {
        _ = try TestEnv.require("FLUXS_TEST_KUBECONFIG")
        XCTAssertEqual(try TestEnv.fluxs(["install"]).status, 0)
        let ns = "diff-\(UUID().uuidString.prefix(6).lowercased())"
        try kubectl(["create", "namespace", ns])
        return ns
    }

    /// Applied as flux's tests apply them: normalized (a Secret's stringData moved into data), by kustomize-controller.
    func preApply(_ file: String, ns: String) throws {
        let normalize = """
        import base64, json, sys, yaml
        for d in yaml.safe_load_all(sys.stdin):
            if d and d.get("kind") == "Secret" and "stringData" in d:
                d.setdefault("data", {}).update({k: base64.b64encode(str(v).encode()).decode() for k, v in d.pop("stringData").items()})
            if d: print(json.dumps(d))
        """
        let objects = try TestEnv.run("python3", ["-c", normalize], stdin: try render(file, ns: ns))
        XCTAssertEqual(objects.status, 0, objects.stderr)
        try kubectl(["apply", "--server-side", "--force-conflicts", "--field-manager=kustomize-controller", "-f", "-"], stdin: objects.stdout)
    }

    func diff(_ args: [String], ns: String) throws -> TestEnv.Run {
        try TestEnv.fluxs(["diff", "kustomization"] + args + ["--progress-bar=false", "-n", ns], cwd: dir)
    }

    func testDiffsTheLiveKustomizationAsFluxDoes() throws {
        let ns = try namespace()
        for f in ["build-kustomization/podinfo-source.yaml", "build-kustomization/podinfo-kustomization.yaml"] {
            let r = try TestEnv.run("python3", [fixtures, "apply", dir.appendingPathComponent(f).path, "--ns", ns])
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        let podinfo = ["podinfo", "--path", "build-kustomization/podinfo"]
        let cases: [(String?, [String], String)] = [
            (nil, podinfo, "diff-new-kustomization"),
            ("deployment.yaml", podinfo, "diff-with-deployment"),
            ("service.yaml", podinfo, "diff-with-drifted-service"),
            ("secret.yaml", podinfo, "diff-with-drifted-secret"),
            ("key-sops-secret.yaml", podinfo, "diff-with-drifted-key-sops-secret"),
            ("value-sops-secret.yaml", podinfo, "diff-with-drifted-value-sops-secret"),
            ("dockerconfigjson-sops-secret.yaml", podinfo, "diff-with-dockerconfigjson-sops-secret"),
            ("stringdata-sops-secret.yaml", podinfo, "diff-with-drifted-stringdata-sops-secret"),
            (nil, podinfo + ["--kustomization-file", dir.appendingPathComponent("diff-kustomization/flux-kustomization-multiobj.yaml").path],
             "diff-new-kustomization"),
            ("my-app.yaml", ["podinfo", "--path", "build-kustomization/podinfo-with-my-app", "--recursive",
                             "--local-sources", "GitRepository/default/podinfo=./build-kustomization"], "diff-with-recursive"),
        ]
        for (object, args, golden) in cases {
            if let object { try preApply("diff-kustomization/" + object, ns: ns) }
            let r = try diff(args, ns: ns)
            XCTAssertEqual(r.status, 1, "\(golden): \(r.stderr)")
            XCTAssertEqual(r.stdout, try render("diff-kustomization/\(golden).golden", ns: ns), golden)
            XCTAssertEqual(r.stderr, "⚠️ identified at least one change, exiting with non-zero exit code\n", golden)
            if let object { try kubectl(["delete", "-f", "-"], stdin: try render("diff-kustomization/" + object, ns: ns)) }
        }
        let bad = try diff(["podinfo"], ns: ns)
        XCTAssertEqual(bad.status, 2)
        XCTAssertEqual(bad.stderr, "✗ invalid resource path \"\"\n")
    }

    /// flux's TestDiffKustomizationNotDeployed: a local file is not a Kustomization the cluster lacks unless --ignore-not-found.
    func testKustomizationMissingFromTheCluster() throws {
        let ns = try namespace()
        let args = ["podinfo", "--path", "build-kustomization/podinfo",
                    "--kustomization-file", dir.appendingPathComponent("diff-kustomization/flux-kustomization-local-only.yaml").path]
        let fails = try diff(args, ns: ns)
        XCTAssertEqual(fails.status, 2)
        XCTAssertEqual(fails.stderr, "✗ failed to get kustomization object: kustomizations.kustomize.toolkit.fluxcd.io \"podinfo\" not found\n")
        let ok = try diff(args + ["--ignore-not-found"], ns: ns)
        XCTAssertEqual(ok.status, 1, ok.stderr)
        XCTAssertEqual(ok.stdout, try render("diff-kustomization/diff-new-kustomization.golden", ns: ns))
        let noFile = try diff(["podinfo", "--path", "build-kustomization/podinfo", "--ignore-not-found"], ns: ns)
        XCTAssertEqual(noFile.stderr, "✗ kustomization file is required when assuming new kustomizations\n")
    }

    /// flux's TestDiffKustomizationTakeOwnership, ...NewNamespaceOnly and ...DriftIgnoreRules.
    func testOwnershipNewNamespaceAndDriftIgnoreRules() throws {
        let ns = try namespace()
        try preApply("diff-kustomization/existing-configmap.yaml", ns: ns)
        let own = try diff(["configmaps", "--path", "build-kustomization/configmaps", "--ignore-not-found", "--kustomization-file",
                            dir.appendingPathComponent("diff-kustomization/flux-kustomization-configmaps.yaml").path], ns: ns)
        XCTAssertEqual(own.stdout, try render("diff-kustomization/diff-taking-ownership.golden", ns: ns))
        let newNS = try diff(["new-namespace-only", "--path", "build-kustomization/new-namespace-only", "--ignore-not-found",
                              "--kustomization-file", dir.appendingPathComponent("diff-kustomization/flux-kustomization-new-namespace-only.yaml").path], ns: ns)
        XCTAssertEqual(newNS.stdout, try render("diff-kustomization/diff-new-namespace-only.golden", ns: ns))
        // flux fails here (the dry run cannot see the namespace the same build creates); fluxs reports both as new.
        let both = try diff(["new-namespace-and-configmap", "--path", "build-kustomization/new-namespace-and-configmap", "--ignore-not-found",
                             "--kustomization-file", dir.appendingPathComponent("diff-kustomization/flux-kustomization-new-namespace-and-configmap.yaml").path], ns: ns)
        XCTAssertEqual(both.status, 1, both.stderr)
        XCTAssertEqual(both.stdout, "► Namespace/new-ns created\n► ConfigMap/new-ns/app-config created\n")
        try kubectl(["apply", "--server-side", "--field-manager=kubectl", "-f", "-"],
                    stdin: try render("diff-kustomization/drifted-service-no-labels.yaml", ns: ns))
        let ignore = try diff(["podinfo", "--path", "build-kustomization/podinfo", "--ignore-not-found", "--kustomization-file",
                               dir.appendingPathComponent("diff-kustomization/flux-kustomization-drift-ignore.yaml").path], ns: ns)
        XCTAssertEqual(ignore.stdout, try render("diff-kustomization/diff-with-drift-ignore.golden", ns: ns))
        try kubectl(["delete", "-f", "-"], stdin: try render("diff-kustomization/drifted-service-no-labels.yaml", ns: ns))
    }
}
