import Foundation
import FluxsTestSupport
import XCTest

/// The fluxs binary, run as a user runs it.
final class CLITests: XCTestCase {
    func fluxs(_ args: String..., env: [String: String] = [:]) throws -> TestEnv.Run {
        try TestEnv.fluxs(args, env: env)
    }

    func testRootHelpListsTheCommandTree() throws {
        let r = try fluxs("--help")
        XCTAssertEqual(r.status, 0)
        XCTAssertEqual(r.stderr, "")
        for c in ["bootstrap", "get", "reconcile", "suspend", "resume", "version", "completion"] {
            XCTAssertTrue(r.stdout.contains("\n  \(c) "), "missing \(c) in help")
        }
        let get = try fluxs("get", "--help")
        XCTAssertTrue(get.stdout.contains("Usage:\n  fluxs get [command]"), get.stdout)
        XCTAssertTrue(get.stdout.contains("kustomizations"), get.stdout)
        XCTAssertTrue(get.stdout.contains("Global Flags:"), get.stdout)
        XCTAssertEqual(try fluxs("help", "get").stdout, get.stdout)
        // a group without sub-command prints its help and succeeds, as flux
        XCTAssertEqual(try fluxs("get").status, 0)
    }

    func testAliasesResolve() throws {
        for path in [["get", "ks", "--help"], ["get", "kustomization", "--help"], ["get", "kustomizations", "--help"]] {
            let r = try TestEnv.fluxs(path)
            XCTAssertTrue(r.stdout.contains("Usage:\n  fluxs get kustomizations"), "\(path): \(r.stdout)")
        }
        XCTAssertTrue(try fluxs("reconcile", "ks", "--help").stdout.contains("fluxs reconcile kustomization"))
        XCTAssertTrue(try fluxs("get", "sources", "git", "--help").stdout.contains("Get GitRepository source statuses"))
    }

    func testMistypedCommandExitsOneWithASuggestion() throws {
        let r = try fluxs("get", "kustomizatons")
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stdout, "")
        XCTAssertEqual(r.stderr, "✗ unknown command \"kustomizatons\" for \"fluxs get\"; did you mean \"kustomizations\"?\n")
        let top = try fluxs("verison")
        XCTAssertEqual(top.status, 1)
        XCTAssertTrue(top.stderr.contains("did you mean \"version\"?"), top.stderr)
    }

    func testMistypedFlagExitsOneWithASuggestion() throws {
        let r = try fluxs("version", "--clinet")
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stderr, "✗ unknown flag: --clinet; did you mean --client?\n")
    }

    func testInvalidDurationAndNamespace() throws {
        let d = try fluxs("version", "--client", "--timeout=1y")
        XCTAssertEqual(d.status, 1)
        XCTAssertTrue(d.stderr.contains("invalid argument \"1y\" for \"--timeout\" flag"), d.stderr)
        let n = try fluxs("version", "--client", "-n", "Not_Valid")
        XCTAssertEqual(n.status, 1)
        XCTAssertEqual(n.stderr, "✗ namespace must be a valid DNS label: \"Not_Valid\"\n")
        let env = try fluxs("version", "--client", env: ["FLUX_SYSTEM_NAMESPACE": "@bad"])
        XCTAssertEqual(env.status, 0)
        XCTAssertEqual(env.stderr, "⚠️  ignoring invalid FLUX_SYSTEM_NAMESPACE: \"@bad\"\n")
        XCTAssertTrue(try fluxs("get", "--help", env: ["FLUX_SYSTEM_NAMESPACE": "apps"]).stdout.contains("(default \"apps\")"))
    }

    func testVersionClient() throws {
        let y = try fluxs("version", "--client")
        XCTAssertEqual(y.status, 0)
        XCTAssertTrue(y.stdout.hasPrefix("flux: v2.9.4\nfluxs: v"), y.stdout)
        let j = try fluxs("version", "--client", "-o", "json")
        let obj = try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [String: String]
        XCTAssertEqual(obj?["flux"], "v2.9.4")
        XCTAssertTrue(j.stdout.hasPrefix("{\n  \"flux\": "), j.stdout)
        let bad = try fluxs("version", "--client", "-o", "table")
        XCTAssertEqual(bad.status, 1)
        XCTAssertEqual(bad.stderr, "✗ --output must be json or yaml, not table\n")
        XCTAssertTrue(try fluxs("--version").stdout.hasPrefix("fluxs version "))
    }

    func testPlannedCommandsSayTheyAreNotAvailable() throws {
        let r = try fluxs("migrate", "--help")
        XCTAssertEqual(r.status, 0)
        XCTAssertTrue(r.stdout.contains("Not available in this fluxs build yet"), r.stdout)
        let run = try fluxs("migrate")
        XCTAssertEqual(run.status, 1)
        XCTAssertTrue(run.stderr.hasPrefix("✗ \"fluxs migrate\" is not available in this fluxs build yet"), run.stderr)
    }

    func testCompletionFilesAreTheGeneratedOutput() throws {
        for shell in ["bash", "zsh", "fish"] {
            let r = try fluxs("completion", shell)
            XCTAssertEqual(r.status, 0)
            let file = TestEnv.packageRoot.appendingPathComponent("completions/fluxs.\(shell)")
            let checkedIn = try String(contentsOf: file, encoding: .utf8)
            XCTAssertEqual(r.stdout, checkedIn, "completions/fluxs.\(shell) is stale: regenerate it with `fluxs completion \(shell) > completions/fluxs.\(shell)`")
        }
    }

    /// Drives the bash script as bash does (COMP_WORDS/COMP_CWORD).
    func testBashCompletionCompletesCommandsFlagsAndValues() throws {
        let bin = TestEnv.fluxsBinary.deletingLastPathComponent().path
        let script = """
        source "\(TestEnv.packageRoot.path)/completions/fluxs.bash"
        t() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); COMPREPLY=(); _fluxs; echo "${COMPREPLY[*]}"; }
        t fluxs ge
        t fluxs get ""
        t fluxs get sources g
        t fluxs version --cl
        t fluxs version -o ""
        t fluxs -n x completion ""
        t fluxs reconcile ""
        """
        let r = try TestEnv.run("bash", ["-c", script], env: ["PATH": bin + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "")])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        XCTAssertEqual(lines[0], "get")
        XCTAssertTrue(lines[1].contains("sources") && lines[1].contains("images"), lines[1])
        XCTAssertEqual(lines[3].split(separator: " ").sorted(), ["--client", "--client-certificate", "--client-key", "--cluster"])
        XCTAssertEqual(lines[4], "json yaml")
        XCTAssertEqual(lines[5], "bash fish powershell zsh")
        XCTAssertTrue(lines[6].contains("image") && lines[6].contains("source"), lines[6])
    }

    func testCompletionHelperProtocol() throws {
        let r = try fluxs("__complete", "version", "-o", "")
        XCTAssertEqual(r.stdout, "json\nyaml\n:4\n")
        XCTAssertEqual(r.stderr, "Completion ended with directive: ShellCompDirectiveNoFileComp\n")
        let flags = try fluxs("__complete", "version", "--cli")
        XCTAssertTrue(flags.stdout.hasPrefix("--client\tprint only client version\n"), flags.stdout)
        XCTAssertTrue(flags.stdout.hasSuffix("\n:4\n"), flags.stdout)
    }

    func testShellScriptsParse() throws {
        let b = try TestEnv.run("bash", ["-n", TestEnv.packageRoot.appendingPathComponent("completions/fluxs.bash").path])
        XCTAssertEqual(b.status, 0, b.stderr)
        for (shell, file) in [("zsh", "fluxs.zsh"), ("fish", "fluxs.fish")] {
            guard (try? TestEnv.run("which", [shell]))?.status == 0 else { continue }
            let r = try TestEnv.run(shell, ["-n", TestEnv.packageRoot.appendingPathComponent("completions/\(file)").path])
            XCTAssertEqual(r.status, 0, "\(shell): \(r.stderr)")
        }
    }
}

/// Commands that talk to the API simulator.
final class CLIClusterTests: XCTestCase {
    func testVersionReadsDistributionAndControllersFromTheCluster() throws {
        _ = try TestEnv.require("FLUXS_TEST_KUBECONFIG")
        let ns = "fv-\(UUID().uuidString.prefix(6).lowercased())"
        let manifests = """
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata:
          name: gitrepositories.source.toolkit.fluxcd.io
          labels: {app.kubernetes.io/part-of: flux, app.kubernetes.io/version: v2.9.4}
        spec:
          group: source.toolkit.fluxcd.io
          names: {kind: GitRepository, plural: gitrepositories, singular: gitrepository, listKind: GitRepositoryList}
          scope: Namespaced
          versions:
          - name: v1
            served: true
            storage: true
            schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
        ---
        apiVersion: v1
        kind: Namespace
        metadata: {name: \(ns)}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: source-controller, namespace: \(ns), labels: {app.kubernetes.io/part-of: flux}}
        spec:
          selector: {matchLabels: {app: sc}}
          template:
            metadata: {labels: {app: sc}}
            spec: {containers: [{name: manager, image: "ghcr.io/fluxcd/source-controller:v1.9.4"}]}
        """
        let apply = try TestEnv.run("kubectl", ["apply", "--server-side", "-f", "-"], stdin: manifests)
        XCTAssertEqual(apply.status, 0, apply.stderr)
        let r = try TestEnv.fluxs(["version", "-n", ns])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "flux: v2.9.4\nfluxs: v0.1.0\ndistribution: flux-v2.9.4\nsource-controller: v1.9.4\n")
        let verbose = try TestEnv.fluxs(["version", "-n", ns, "--verbose"])
        XCTAssertTrue(verbose.stderr.contains("GET https://127.0.0.1:"), verbose.stderr)
        let token = TestEnv.env["FLUXS_TEST_KUBE_ADMIN_TOKEN"] ?? "unset"
        XCTAssertFalse(verbose.stderr.contains(token), "the token must never be printed")
    }

    func testUnreachableClusterIsOneClearLine() throws {
        let r = try TestEnv.fluxs(["version", "--server", "https://127.0.0.1:1", "--timeout", "5s"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.hasPrefix("✗ cannot reach the Kubernetes API at https://127.0.0.1:1: connection refused"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1)
    }
}
