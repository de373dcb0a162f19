import Foundation
import FluxsTestSupport
import XCTest

/// trace, stats, debug kustomization, envsubst and logs against flux's goldens, with fixtures in the API simulator.
final class InspectTests: XCTestCase {
    var dir: URL { GoldenTests.testdata }
    var fixtures: String { TestEnv.packageRoot.appendingPathComponent("tools/testenv/fixtures.py").path }

    func namespace(_ prefix: String) throws -> String {
        _ = try TestEnv.require("FLUXS_TEST_KUBECONFIG")
        guard FileManager.default.fileExists(atPath: dir.path) else { throw XCTSkip("../shared/reference/flux-testdata is not present") }
        XCTAssertEqual(try TestEnv.fluxs(["install"]).status, 0)
        return "\(prefix)-\(UUID().uuidString.prefix(6).lowercased())"
    }

    func load(_ file: String, ns: String) throws {
        let r = try TestEnv.run("python3", [fixtures, "apply", dir.appendingPathComponent(file).path, "--ns", ns])
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    func render(_ file: String, ns: String, _ set: [String: String] = [:]) throws -> String {
        let r = try TestEnv.run("python3", [fixtures, "render", dir.appendingPathComponent(file).path, "--ns", ns] + set.flatMap { ["--set", "\($0.key)=\($0.value)"] })
        XCTAssertEqual(r.status, 0, r.stderr)
        return r.stdout
    }

    /// Go's time.Time.String() of the fixtures' UTC times (the command runs with TZ=UTC).
    func goTime(_ t: String) -> String { t.replacingOccurrences(of: "T", with: " ").replacingOccurrences(of: "Z", with: " +0000 UTC") }

    func testTraceAsFluxDoes() throws {
        let cases: [(String, [String], String, [String: String])] = [
            ("trace/deployment.yaml", ["podinfo", "--kind", "deployment", "--api-version=apps/v1"], "trace/deployment.golden",
             ["helmReleaseLastReconcile": "2021-07-16T15:42:20Z", "helmChartLastReconcile": "2021-07-16T15:32:09Z",
              "helmRepositoryLastReconcile": "2021-07-11T00:25:46Z"]),
            ("trace/helmrelease.yaml", ["podinfo", "--kind", "HelmRelease", "--api-version=helm.toolkit.fluxcd.io/v2"], "trace/helmrelease.golden",
             ["kustomizationLastReconcile": "2021-08-01T04:52:56Z", "gitRepositoryLastReconcile": "2021-07-20T00:48:16Z"]),
            ("trace/helmrelease-oci.yaml", ["podinfo", "--kind", "HelmRelease", "--api-version=helm.toolkit.fluxcd.io/v2"], "trace/helmrelease-oci.golden",
             ["kustomizationLastReconcile": "2021-08-01T04:52:56Z", "ociRepositoryLastReconcile": "2021-07-20T00:48:16Z"]),
            ("trace/deployment-hr-ocirepo.yaml", ["podinfo", "--kind", "deployment", "--api-version=apps/v1"], "trace/deployment-hr-ocirepo.golden",
             ["helmReleaseLastReconcile": "2021-07-16T15:42:20Z", "ociRepositoryLastReconcile": "2021-07-20T00:48:16Z"]),
        ]
        for (fixture, args, golden, times) in cases {
            let ns = try namespace("tr")
            try load(fixture, ns: ns)
            let r = try TestEnv.fluxs(["trace"] + args + ["-n", ns], env: ["TZ": "UTC"])
            XCTAssertEqual(r.status, 0, "\(golden): \(r.stderr)")
            XCTAssertEqual(r.stdout, try render(golden, ns: ns, times.mapValues(goTime)), golden)
        }
        XCTAssertEqual(try TestEnv.fluxs(["trace"]).stderr, "✗ either `<resource>/<name>` or `<resource> <name>` is required as an argument\n")
        // resource names as kubectl takes them, and an object nobody manages
        let ns = try namespace("tr")
        try load("trace/deployment.yaml", ns: ns)
        let dynamic = try TestEnv.fluxs(["trace", "deploy", "podinfo", "-n", ns], env: ["TZ": "UTC"])
        XCTAssertTrue(dynamic.stdout.hasPrefix("\nObject:         Deployment/podinfo\n"), dynamic.stdout)
        XCTAssertEqual(try TestEnv.run("kubectl", ["create", "configmap", "plain", "-n", ns]).status, 0)
        let plain = try TestEnv.fluxs(["trace", "cm/plain", "-n", ns])
        XCTAssertEqual(plain.stderr, "failed to trace ConfigMap/plain in namespace \(ns): object not managed by Flux")
    }

    func testStats() throws {
        let ns = try namespace("st")
        try load("get/objects.yaml", ns: ns)
        try load("get/status_objects.yaml", ns: ns)
        let r = try TestEnv.fluxs(["stats", "-n", ns])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first, "RECONCILERS          \tRUNNING\tFAILING\tSUSPENDED\tSTORAGE ")
        XCTAssertEqual(lines.count, 14)
        XCTAssertTrue(lines[1].hasPrefix("GitRepository        \t6      \t1      \t0        \t"), lines[1])
        XCTAssertTrue(lines[6].hasPrefix("Kustomization        \t0      \t0      \t0        \t-      \t"), lines[6])
    }

    func testDebugKustomization() throws {
        let ns = try namespace("dbg")
        try load("debug_kustomization/objects.yaml", ns: ns)
        let cases: [([String], String)] = [
            (["test", "--show-status", "--show-vars=false"], "status.golden.yaml"),
            (["test", "--show-vars", "--show-status=false"], "vars.golden.env"),
            (["test-from", "--show-vars", "--show-status=false"], "vars-from.golden.env"),
            (["test-with-history", "--show-history", "--show-status=false"], "history.golden.yaml"),
            (["test", "--show-history", "--show-status=false"], "history-empty.golden.yaml"),
        ]
        for (args, golden) in cases {
            let r = try TestEnv.fluxs(["debug", "ks"] + args + ["-n", ns])
            XCTAssertEqual(r.status, 0, "\(args): \(r.stderr)")
            XCTAssertEqual(r.stdout, try render("debug_kustomization/\(golden)", ns: ns), golden)
        }
        XCTAssertEqual(try TestEnv.fluxs(["debug", "ks", "test", "-n", ns]).stderr, "✗ exactly one of --show-status, --show-vars, or --show-history must be set\n")
    }

    func testEnvsubst() throws {
        guard let input = try? String(contentsOf: dir.appendingPathComponent("envsubst/file.yaml"), encoding: .utf8) else {
            throw XCTSkip("../shared/reference/flux-testdata is not present")
        }
        let r = try TestEnv.fluxs(["envsubst"], env: ["REPO_NAME": "test"], stdin: input)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, try String(contentsOf: dir.appendingPathComponent("envsubst/file.gold"), encoding: .utf8))
        let strict = try TestEnv.fluxs(["envsubst", "--strict"], stdin: input)
        XCTAssertEqual(strict.status, 1)
        XCTAssertTrue(strict.stderr.contains("variable not set (strict mode)"), strict.stderr)
    }
}
