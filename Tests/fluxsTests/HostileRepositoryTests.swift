import Foundation
import FluxsTestSupport
import XCTest

/// Repositories written by an attacker: what they ask fluxs to read must stay within what the GitRepository may
/// read (docs/security.md).
final class HostileRepositoryTests: XCTestCase {
    var ns = ""
    var storage: URL!
    var e: [String: String] = [:]

    override func setUpWithError() throws {
        e = try TestEnv.require("FLUXS_TEST_KUBECONFIG", "FLUXS_TEST_GIT_ROOT", "FLUXS_TEST_GIT_HTTP", "FLUXS_TEST_GIT_USER",
                                "FLUXS_TEST_GIT_PASSWORD")
        ns = "hr-\(UUID().uuidString.prefix(6).lowercased())"
        storage = try TestEnv.tempDir("fluxs-storage")
        XCTAssertEqual(try TestEnv.fluxs(["install"]).status, 0)
        XCTAssertEqual(try TestEnv.run("kubectl", ["create", "namespace", ns]).status, 0)
    }

    override func tearDownWithError() throws {
        if let storage { try? FileManager.default.removeItem(at: storage) }
    }

    func fluxs(_ args: [String]) throws -> TestEnv.Run {
        try TestEnv.fluxs(args + ["-n", ns], env: ["FLUXS_STORAGE_PATH": storage.path])
    }

    func jsonpath(_ kind: String, _ name: String, _ path: String) throws -> String {
        try TestEnv.run("kubectl", ["get", kind, name, "-n", ns, "-o", "jsonpath={\(path)}"]).stdout
    }

    func testLocalSubmodulesAreRefused() throws {
        // A repository served only with a password; on the disk of the machine running fluxs it is readable.
        let secret = try GitFixture(root: e["FLUXS_TEST_GIT_ROOT"]!, files: ["credentials.txt": "password=hunter2\n"])
        let secretHead = try secret.git("rev-parse", "HEAD")
        let local = "\(e["FLUXS_TEST_GIT_ROOT"]!)/\(secret.name).git"
        let top = try GitFixture(root: e["FLUXS_TEST_GIT_ROOT"]!, files: ["app.yaml": "a: 1\n"])
        for (i, url) in [local, "file://\(local)", "ext::sh -c touch% /tmp/pwned", "-uhttp://x/y.git"].enumerated() {
            try TestEnv.write("[submodule \"leak\"]\n\tpath = leak\n\turl = \(url)\n", to: top.work.appendingPathComponent(".gitmodules"))
            try top.git("add", ".gitmodules")
            try top.git("update-index", "--add", "--cacheinfo", "160000,\(secretHead),leak")
            try top.git("commit", "-q", "-m", "submodule \(i)")
            try top.push()
            let r = try fluxs(["create", "source", "git", "top\(i)", "--url=\(e["FLUXS_TEST_GIT_HTTP"]!)/git/\(top.name).git", "--branch=main",
                               "--interval=1m", "--recurse-submodules"])
            XCTAssertEqual(r.status, 1, "\(url): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("submodule 'leak': the URL '\(url)'"), r.stderr)
            if i < 2 { XCTAssertTrue(r.stderr.contains("fluxs refuses local submodules, as git does since CVE-2022-39253"), r.stderr) }
            XCTAssertEqual(try jsonpath("gitrepository", "top\(i)", ".status.artifact.path"), "", "no artifact from \(url)")
        }
        // Nothing of the protected repository reached the storage.
        let grep = try TestEnv.run("grep", ["-r", "-l", "hunter2", storage.path])
        XCTAssertEqual(grep.stdout, "")
        // git refuses the same submodule (the oracle for the rule).
        let clone = try TestEnv.tempDir("fluxs-clone")
        defer { try? FileManager.default.removeItem(at: clone) }
        try TestEnv.write("[submodule \"leak\"]\n\tpath = leak\n\turl = \(local)\n", to: top.work.appendingPathComponent(".gitmodules"))
        try top.git("add", ".gitmodules")
        try top.git("commit", "-q", "-m", "local again")
        try top.push()
        let git = try TestEnv.run("git", ["clone", "-q", "--recurse-submodules", "\(e["FLUXS_TEST_GIT_HTTP"]!)/git/\(top.name).git", clone.appendingPathComponent("d").path])
        XCTAssertTrue(git.stderr.contains("transport 'file' not allowed"), git.stderr)
    }

    /// Objects the API would refuse, or that cannot all exist: one line naming the file, nothing applied.
    func testInvalidObjectsFailNamingTheirFile() throws {
        let ok = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n"
        let repo = try GitFixture(root: e["FLUXS_TEST_GIT_ROOT"]!, files: ["app/ok.yaml": ok, "app/bad.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: My_Config\n"])
        XCTAssertEqual(try fluxs(["create", "source", "git", "src", "--url=\(e["FLUXS_TEST_GIT_HTTP"]!)/git/\(repo.name).git", "--branch=main", "--interval=1m"]).status, 0)
        // kube-apiserver's words for the name (kubesim answers as it does; the conformance corpus has this answer).
        let oracle = try TestEnv.run("kubectl", ["apply", "--dry-run=server", "-n", ns, "-f", "-"],
                                     stdin: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: My_Config\n")
        let apiMessage = try XCTUnwrap(oracle.stderr.components(separatedBy: " is invalid: ").last?.trimmingCharacters(in: .whitespacesAndNewlines))
        XCTAssertTrue(apiMessage.hasPrefix("metadata.name: Invalid value: \"My_Config\": a lowercase RFC 1123 subdomain"), oracle.stderr)
        let cases: [(String, [String: String?], String)] = [
            ("invalid name", [:], "app/bad.yaml: ConfigMap \"My_Config\" is invalid: \(apiMessage)"),
            ("Service name", ["app/bad.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: 1svc\nspec:\n  ports: [{port: 80}]\n"],
             "app/bad.yaml: Service \"1svc\" is invalid: metadata.name: Invalid value: \"1svc\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character"),
            ("label value", ["app/bad.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: labelled\n  labels: {team: \"a b\"}\n"],
             "app/bad.yaml: ConfigMap \"labelled\" is invalid: metadata.labels: Invalid value: \"a b\": a valid label must be an empty string or consist of"),
            ("RBAC name", ["app/bad.yaml": "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: a/b\nrules: []\n"],
             "app/bad.yaml: Role \"a/b\" is invalid: metadata.name: Invalid value: \"a/b\": may not contain '/'"),
            ("no object", ["app/bad.yaml": "foo: bar\n"], "app/bad.yaml"),
        ]
        for (i, (what, files, expect)) in cases.enumerated() {
            if !files.isEmpty { try repo.commit(files, what) }
            let r = try fluxs(i == 0 ? ["create", "kustomization", "app", "--source=GitRepository/src", "--path=./app", "--prune=true",
                                        "--interval=10m", "--target-namespace=\(ns)"]
                                     : ["reconcile", "kustomization", "app", "--with-source"])
            XCTAssertEqual(r.status, 1, "\(what): \(r.stderr)")
            let failures = r.stderr.split(separator: "\n").filter { $0.hasPrefix("✗") }
            XCTAssertEqual(failures.count, 1, "\(what): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(expect), "\(what): \(r.stderr)")
            XCTAssertFalse(r.stderr.contains("/tmp/"), "\(what): paths are the source's: \(r.stderr)")
            XCTAssertNotEqual(try TestEnv.run("kubectl", ["get", "configmap", "ok", "-n", ns]).status, 0, "\(what): nothing is applied")
        }
        // The same object twice (two namespaces made one by the target namespace): both files named.
        try repo.commit(["app/bad.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n  namespace: other\n"], "twice")
        let twice = try fluxs(["reconcile", "kustomization", "app", "--with-source"])
        XCTAssertEqual(twice.status, 1, twice.stderr)
        XCTAssertTrue(twice.stderr.contains("app/bad.yaml") && twice.stderr.contains("app/ok.yaml"), twice.stderr)
        XCTAssertNotEqual(try TestEnv.run("kubectl", ["get", "configmap", "ok", "-n", ns]).status, 0)
        // Fixed: it applies.
        try repo.commit(["app/bad.yaml": nil], "fixed")
        let fixed = try fluxs(["reconcile", "kustomization", "app", "--with-source"])
        XCTAssertEqual(fixed.status, 0, fixed.stderr)
        XCTAssertEqual(try TestEnv.run("kubectl", ["get", "configmap", "ok", "-n", ns]).status, 0)
    }

    /// A kustomization in Git that names files of the machine running fluxs (absolute, `..` out of the artifact, a
    /// symlink in a local checkout) fails naming the path in reconcile, build and diff, and nothing of those files
    /// reaches the cluster (docs/security.md).
    func testTheBuildStaysInsideTheArtifact() throws {
        let outside = try TestEnv.tempDir("fluxs-outside")
        defer { try? FileManager.default.removeItem(at: outside) }
        try TestEnv.write("password=hunter2\n", to: outside.appendingPathComponent("creds.env"))
        try TestEnv.write("configMapGenerator:\n- name: leak\n  envs:\n  - creds.env\n", to: outside.appendingPathComponent("kustomization.yaml"))
        let ok = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n"
        let repo = try GitFixture(root: e["FLUXS_TEST_GIT_ROOT"]!, files: ["app/ok.yaml": ok, "app/kustomization.yaml": "resources:\n- ok.yaml\n- \(outside.path)\n"])
        XCTAssertEqual(try fluxs(["create", "source", "git", "src", "--url=\(e["FLUXS_TEST_GIT_HTTP"]!)/git/\(repo.name).git", "--branch=main", "--interval=1m"]).status, 0)
        let up = String(repeating: "../", count: 12) + outside.path.dropFirst()
        let ksFile = outside.deletingLastPathComponent().appendingPathComponent("\(outside.lastPathComponent)-ks.yaml")
        defer { try? FileManager.default.removeItem(at: ksFile) }
        try TestEnv.write("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: app\n  namespace: \(ns)\nspec:\n  interval: 10m\n  path: ./app\n  prune: true\n  targetNamespace: \(ns)\n  sourceRef:\n    kind: GitRepository\n    name: src\n", to: ksFile)
        for (i, entry) in [outside.path, up].enumerated() {
            if i > 0 { try repo.commit(["app/kustomization.yaml": "resources:\n- ok.yaml\n- \(entry)\n"], "dot-dot") }
            let r = try fluxs(i == 0 ? ["create", "kustomization", "app", "--source=GitRepository/src", "--path=./app", "--prune=true",
                                        "--interval=10m", "--target-namespace=\(ns)"]
                                     : ["reconcile", "kustomization", "app", "--with-source"])
            XCTAssertEqual(r.status, 1, r.stderr)
            XCTAssertTrue(r.stderr.contains("security: resource '\(entry)' resolves to '\(outside.path)', which is not in or below the artifact"), r.stderr)
            XCTAssertFalse(r.stderr.contains("hunter2"), r.stderr)
            XCTAssertNotEqual(try TestEnv.run("kubectl", ["get", "configmap", "ok", "-n", ns]).status, 0, "nothing is applied")
            // build and diff of the same checkout fail the same way (the root is the Git work tree).
            for cmd in [["build", "kustomization", "app", "--dry-run"], ["diff", "kustomization", "app", "--progress-bar=false"]] {
                let b = try TestEnv.fluxs(cmd + ["--path", "./app", "--kustomization-file", ksFile.path, "-n", ns], cwd: repo.work)
                XCTAssertEqual(b.status, cmd[0] == "diff" ? 2 : 1, "\(cmd): \(b.stdout) \(b.stderr)")
                XCTAssertTrue(b.stderr.contains("security: resource '\(entry)' resolves to '\(outside.path)', which is not in or below the Git work tree"), "\(cmd): \(b.stderr)")
                XCTAssertFalse((b.stdout + b.stderr).contains("hunter2"), "\(cmd)")
            }
        }
        XCTAssertEqual(try TestEnv.run("kubectl", ["get", "configmaps", "-n", ns, "-o", "name"]).stdout.contains("leak"), false)
        // A symlink in the checkout (artifacts leave symlinks out; local builds follow them) to a file of the machine.
        try repo.commit(["app/kustomization.yaml": "resources:\n- ok.yaml\nconfigMapGenerator:\n- name: gen\n  envs:\n  - app.env\n"], "symlink")
        try FileManager.default.createSymbolicLink(at: repo.work.appendingPathComponent("app/app.env"), withDestinationURL: outside.appendingPathComponent("creds.env"))
        for cmd in [["build", "kustomization", "app", "--dry-run"], ["diff", "kustomization", "app", "--progress-bar=false"]] {
            let b = try TestEnv.fluxs(cmd + ["--path", "./app", "--kustomization-file", ksFile.path, "-n", ns], cwd: repo.work)
            XCTAssertEqual(b.status, cmd[0] == "diff" ? 2 : 1, "\(cmd): \(b.stderr)")
            XCTAssertTrue(b.stderr.contains("security: file 'app.env' resolves to '\(outside.path)/creds.env' (through a symlink)"), "\(cmd): \(b.stderr)")
            XCTAssertFalse((b.stdout + b.stderr).contains("hunter2"), "\(cmd)")
        }
        // Inside the artifact it applies.
        try FileManager.default.removeItem(at: repo.work.appendingPathComponent("app/app.env"))
        try repo.commit(["app/kustomization.yaml": "resources:\n- ok.yaml\n"], "fixed")
        let fixed = try fluxs(["reconcile", "kustomization", "app", "--with-source"])
        XCTAssertEqual(fixed.status, 0, fixed.stderr)
        XCTAssertEqual(try TestEnv.run("kubectl", ["get", "configmap", "ok", "-n", ns]).status, 0)
    }
}
