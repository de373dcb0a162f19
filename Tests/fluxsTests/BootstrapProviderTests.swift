import Foundation
import FluxsTestSupport
import XCTest

/// `fluxs bootstrap gitlab|gitea|bitbucket-server` against the test environment's forge simulator (their REST APIs on
/// their real paths) and git servers. Each test bootstraps its own namespace.
final class BootstrapProviderTests: XCTestCase {
    var ns = ""
    var storage: URL!
    var e: [String: String] = [:]

    override func setUpWithError() throws {
        e = try TestEnv.require("FLUXS_TEST_KUBECONFIG", "FLUXS_TEST_GIT_ROOT", "FLUXS_TEST_FORGE_API", "FLUXS_TEST_FORGE_TOKEN",
                                "FLUXS_TEST_FORGE_OWNER", "FLUXS_TEST_FORGE_GROUP", "FLUXS_TEST_FORGE_OTHER_TOKEN")
        ns = "bp-\(UUID().uuidString.prefix(6).lowercased())"
        storage = try TestEnv.tempDir("fluxs-storage")
        XCTAssertEqual(try TestEnv.fluxs(["install"]).status, 0)
    }

    override func tearDownWithError() throws {
        if let storage { try? FileManager.default.removeItem(at: storage) }
        _ = try? TestEnv.run("kubectl", ["delete", "kustomization", ns, "-n", ns, "--wait=false"])
        _ = try? TestEnv.run("kubectl", ["label", "crd", "-l", "app.kubernetes.io/part-of=flux",
                                         "kustomize.toolkit.fluxcd.io/name-", "kustomize.toolkit.fluxcd.io/namespace-"])
    }

    func fluxs(_ args: [String], env extra: [String: String] = [:], stdin: String? = nil) throws -> TestEnv.Run {
        let env = ["FLUXS_STORAGE_PATH": storage.path, "GITLAB_TOKEN": e["FLUXS_TEST_FORGE_TOKEN"]!, "GITEA_TOKEN": e["FLUXS_TEST_FORGE_TOKEN"]!,
                   "BITBUCKET_TOKEN": e["FLUXS_TEST_FORGE_TOKEN"]!].merging(extra) { $1 }
        return try TestEnv.run(TestEnv.fluxsBinary.path, args + ["-n", ns, "--hostname=\(e["FLUXS_TEST_FORGE_API"]!)"], env: env, stdin: stdin)
    }

    func state() throws -> [String: Any] {
        let s = try TestEnv.run("curl", ["-s", e["FLUXS_TEST_FORGE_API"]! + "/__sim/state"]).stdout
        return try JSONSerialization.jsonObject(with: Data(s.utf8)) as! [String: Any]
    }

    func repo(_ forge: String, _ owner: String, _ name: String) throws -> [String: Any]? {
        (try state()["repos"] as? [[String: Any]])?.first { $0["forge"] as? String == forge && $0["owner"] as? String == owner && $0["name"] as? String == name }
    }

    func files(_ forge: String, _ owner: String, _ name: String) throws -> [String] {
        try TestEnv.run("git", ["--git-dir", "\(e["FLUXS_TEST_GIT_ROOT"]!)/\(forge)/\(owner)/\(name).git", "ls-tree", "-r", "--name-only", "main"])
            .stdout.split(separator: "\n").map(String.init)
    }

    func reconciled() throws -> String {
        try TestEnv.run("kubectl", ["get", "kustomization", ns, "-n", ns, "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].reason}"]).stdout
    }

    /// Token auth end to end, then SSH mode registering a read-only deploy key, for each provider.
    func testEveryProviderCreatesTheRepositoryAndSyncsIt() throws {
        let api = e["FLUXS_TEST_FORGE_API"]!, group = e["FLUXS_TEST_FORGE_GROUP"]!
        for (cmd, forge, owner, extra) in [("gitlab", "gitlab", group, [String]()), ("gitea", "gitea", group, []),
                                            ("bitbucket-server", "bitbucket", group, ["--username=\(e["FLUXS_TEST_FORGE_OWNER"]!)"])] {
            let name = "fleet-\(UUID().uuidString.prefix(6).lowercased())"
            let args = ["bootstrap", cmd, "--owner=\(owner)", "--repository=\(name)", "--path=clusters/dev"] + extra
            let r = try fluxs(args + ["--token-auth"])
            XCTAssertEqual(r.status, 0, "\(cmd): \(r.stderr)")
            XCTAssertTrue(r.stderr.hasPrefix("► connecting to \(api)\n✔ repository \"\(api)/\(owner)/\(name)\" created\n► cloning branch \"main\""), r.stderr)
            XCTAssertTrue(r.stderr.hasSuffix("◎ waiting for Kustomization \"\(ns)/\(ns)\" to be reconciled\n✔ Kustomization reconciled successfully\n"), r.stderr)
            XCTAssertEqual(try files(forge, owner, name), ["clusters/dev/\(ns)/gotk-components.yaml", "clusters/dev/\(ns)/gotk-sync.yaml", "clusters/dev/\(ns)/kustomization.yaml"])
            XCTAssertEqual(try reconciled(), "ReconciliationSucceeded")
            XCTAssertEqual(try repo(forge, owner, name)?["private"] as? Bool, true)
            let secretUser = cmd == "bitbucket-server" ? e["FLUXS_TEST_FORGE_OWNER"]! : "git"
            let user = try TestEnv.run("kubectl", ["get", "secret", "flux-system", "-n", ns, "-o", "jsonpath={.data.username}"]).stdout
            XCTAssertEqual(Data(base64Encoded: user).map { String(decoding: $0, as: UTF8.self) }, secretUser, cmd)
            // again: nothing to commit, the repository is found
            let again = try fluxs(args + ["--token-auth"])
            XCTAssertEqual(again.status, 0, again.stderr)
            XCTAssertTrue(again.stderr.hasPrefix("► connecting to \(api)\n► cloning branch"), again.stderr)
            XCTAssertTrue(again.stderr.contains("✔ sync manifests are up to date"), again.stderr)
            // SSH mode: a new key registered read-only (the test sshd does not know it, so the fetch itself fails)
            let ssh = try fluxs(args + ["--secret-name=ssh-key"])
            XCTAssertTrue(ssh.stderr.contains("✔ public key: ecdsa-sha2-nistp384 "), ssh.stderr)
            XCTAssertTrue(ssh.stderr.contains("✔ configured deploy key \"\(ns)-main-ssh-key-./clusters/dev\" for \"\(api)/\(owner)/\(name)\""), ssh.stderr)
            let keys = try repo(forge, owner, name)?["keys"] as? [[String: Any]] ?? []
            XCTAssertEqual(keys.map { $0["read_only"] as? Bool }, [true], cmd)
            _ = try? TestEnv.run("kubectl", ["delete", "namespace", ns, "--wait=false"])
            _ = try? TestEnv.run("kubectl", ["label", "crd", "-l", "app.kubernetes.io/part-of=flux",
                                             "kustomize.toolkit.fluxcd.io/name-", "kustomize.toolkit.fluxcd.io/namespace-"])
            ns = "bp-\(UUID().uuidString.prefix(6).lowercased())"
        }
    }

    func testGitLabDeployTokenAuthPersonalRepositoryAndTokenPrompt() throws {
        let owner = e["FLUXS_TEST_FORGE_OWNER"]!
        let name = "personal-\(UUID().uuidString.prefix(6).lowercased())"
        // GITLAB_TOKEN unset: the token is read from stdin after flux's prompt
        let r = try fluxs(["bootstrap", "gitlab", "--owner=\(owner)", "--repository=\(name)", "--personal", "--deploy-token-auth"],
                          env: ["GITLAB_TOKEN": ""], stdin: e["FLUXS_TEST_FORGE_TOKEN"]! + "\n")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "Please enter your GitLab personal access token (PAT): \n")
        XCTAssertTrue(r.stderr.contains("► checking to reconcile deploy token for source secret\n✔ configured deploy token \"\(ns)-main-flux-system-./\""), r.stderr)
        XCTAssertEqual(try reconciled(), "ReconciliationSucceeded")
        let user = try TestEnv.run("kubectl", ["get", "secret", "flux-system", "-n", ns, "-o", "jsonpath={.data.username}"]).stdout
        XCTAssertTrue(Data(base64Encoded: user).map { String(decoding: $0, as: UTF8.self) }?.hasPrefix("gitlab+deploy-token-") ?? false)
        let again = try fluxs(["bootstrap", "gitlab", "--owner=\(owner)", "--repository=\(name)", "--personal", "--deploy-token-auth"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stderr.contains("✔ reconciled deploy token for source secret\n") && again.stderr.contains("✔ source secret up to date\n"), again.stderr)
        // another user's token cannot create a personal project for this owner
        let other = try fluxs(["bootstrap", "gitlab", "--owner=\(owner)", "--repository=x-\(name)", "--personal", "--token-auth"],
                              env: ["GITLAB_TOKEN": e["FLUXS_TEST_FORGE_OTHER_TOKEN"]!])
        XCTAssertEqual(other.status, 1)
        XCTAssertTrue(other.stderr.contains("the specified owner '\(owner)' doesn't match the identity associated with the given token"), other.stderr)
    }

    func testValidationBeforeAnythingHappens() throws {
        let cases: [([String], String)] = [
            (["bootstrap", "gitlab", "--owner=o", "--repository=-bad", "--token-auth"],
             "-bad is an invalid project name for gitlab.\nIt can contain only letters, digits, emojis, '_', '.', dash, space. It must start with letter, digit, emoji or '_'."),
            (["bootstrap", "gitlab", "--owner=o", "--repository=r", "--token-auth", "--deploy-token-auth"], "--token-auth and --deploy-token-auth cannot be set both."),
            (["bootstrap", "gitea", "--owner=o", "--repository=r", "--team=dev"], "--team is not supported by fluxs yet: grant the access in the provider, or use the flux CLI"),
            (["bootstrap", "gitea", "--owner=o", "--repository=r", "--ssh-signing-reuse-private-key"],
             "--ssh-signing-reuse-private-key is not supported by 'bootstrap gitea'; the SSH transport key is generated in-process, use --ssh-signing-key-file instead"),
        ]
        for (args, want) in cases {
            let r = try fluxs(args)
            XCTAssertEqual(r.status, 1, "\(args)")
            XCTAssertEqual(r.stderr, "✗ \(want)\n", "\(args)")
        }
        let noHost = try TestEnv.fluxs(["bootstrap", "bitbucket-server", "--owner=o", "--repository=r"], env: ["BITBUCKET_TOKEN": "t"])
        XCTAssertEqual(noHost.stderr, "✗ invalid hostname \"\"\n")
        let bad = try fluxs(["bootstrap", "gitea", "--owner=o", "--repository=r", "--token-auth"], env: ["GITEA_TOKEN": "wrong"])
        XCTAssertEqual(bad.stderr, "► connecting to \(e["FLUXS_TEST_FORGE_API"]!)\n✗ Gitea API: bad credentials (check the token)\n")
    }

    /// flux's TestBootstrapValidate_signingFlags, through the CLI (nothing is changed when they fail).
    func testSigningFlagsAreValidatedAsFluxDoes() throws {
        let d = GoldenTests.testdata.appendingPathComponent("bootstrap").path
        let base = ["bootstrap", "git", "--url=https://127.0.0.1:1/none.git"]
        let cases: [([String], String)] = [
            (["--gpg-key-ring=\(d)/gpg.pgp", "--ssh-signing-key-file=\(d)/ed25519.private"], "--gpg-* and --ssh-signing-* are mutually exclusive; pick one signing format"),
            (["--gpg-key-ring=\(d)/gpg.pgp", "--private-key-file=\(d)/ed25519.private", "--ssh-signing-reuse-private-key"],
             "--gpg-* and --ssh-signing-* are mutually exclusive; pick one signing format"),
            (["--ssh-signing-key-file=\(d)/ed25519.private", "--private-key-file=\(d)/ed25519.private", "--ssh-signing-reuse-private-key"],
             "--ssh-signing-key-file and --ssh-signing-reuse-private-key are mutually exclusive"),
            (["--ssh-signing-reuse-private-key"], "--ssh-signing-reuse-private-key requires --private-key-file"),
            (["--ssh-signing-password=secret"], "--ssh-signing-password requires --ssh-signing-key-file"),
            (["--ssh-signing-key-file=\(d)/ed25519-encrypted.private", "--ssh-signing-password=right", "--ssh-signing-passphrase=wrong"],
             "--ssh-signing-password and --ssh-signing-passphrase are aliases; do not pass both"),
            (["--ssh-signing-key-file=\(d)/malformed.private"], "invalid SSH signing key"),
            (["--ssh-signing-key-file=\(d)/ed25519-encrypted.private"], "passphrase required"),
            (["--gpg-key-ring=\(d)/gpg-encrypted.pgp", "--gpg-passphrase=wrong"], "invalid GPG signing key"),
            (["--registry-creds=u:p"], "--registry-creds requires --image-pull-secret to be set"),
            (["--components=source-controller"], "component kustomize-controller is required"),
        ]
        for (args, want) in cases {
            let r = try TestEnv.fluxs(base + args + ["-n", ns])
            XCTAssertEqual(r.status, 1, "\(args)")
            XCTAssertTrue(r.stderr.hasPrefix("✗ ") && r.stderr.contains(want), "\(args): \(r.stderr)")
            XCTAssertFalse(r.stderr.contains("cloning"), "\(args)")
        }
    }

    /// Signed commits (GnuPG and SSH), verified by git itself; sparse checkout and the image pull secret.
    func testSignedCommitsSparseCheckoutAndPullSecret() throws {
        let http = try TestEnv.require("FLUXS_TEST_GIT_HTTP")["FLUXS_TEST_GIT_HTTP"]!
        let d = GoldenTests.testdata.appendingPathComponent("bootstrap").path
        guard FileManager.default.fileExists(atPath: d) else { throw XCTSkip("flux-testdata missing") }
        for (flags, verify) in [(["--gpg-key-ring=\(d)/gpg-encrypted.pgp", "--gpg-passphrase=right"], "gpg"),
                                (["--ssh-signing-key-file=\(d)/ed25519-encrypted.private", "--ssh-signing-passphrase=abcde12345"], "ssh")] {
            let name = "signed-\(UUID().uuidString.prefix(6).lowercased())"
            let bare = e["FLUXS_TEST_GIT_ROOT"]! + "/\(name).git"
            XCTAssertEqual(try TestEnv.run("git", ["init", "-q", "--bare", "-b", "main", bare]).status, 0)
            var args = ["bootstrap", "git", "--url=\(http)/git/\(name).git", "--allow-insecure-http", "--token-auth", "--username=u", "--password=p",
                        "--path=clusters/dev", "--sparse-checkout=clusters/dev", "--author-email=flux@example.com", "-n", ns] + flags
            if verify == "gpg" { args += ["--registry-creds=robot:pull-token", "--image-pull-secret=regcred"] }
            let r = try TestEnv.fluxs(args, env: ["FLUXS_STORAGE_PATH": storage.path])
            XCTAssertEqual(r.status, 0, r.stderr)
            let raw = try TestEnv.run("git", ["--git-dir", bare, "cat-file", "-p", "main"]).stdout
            XCTAssertTrue(raw.contains(verify == "gpg" ? "gpgsig -----BEGIN PGP SIGNATURE-----" : "gpgsig -----BEGIN SSH SIGNATURE-----"), raw)
            if verify == "gpg" {
                let home = try TestEnv.tempDir("fluxs-gpg")
                XCTAssertEqual(try TestEnv.run("gpg", ["--homedir", home.path, "--batch", "--import", "\(d)/gpg-encrypted.pgp"]).status, 0)
                let ok = try TestEnv.run("git", ["--git-dir", bare, "verify-commit", "main"], env: ["GNUPGHOME": home.path])
                XCTAssertEqual(ok.status, 0, ok.stderr)
                _ = try? TestEnv.run("gpgconf", ["--homedir", home.path, "--kill", "gpg-agent"])
                XCTAssertTrue(r.stderr.contains("✔ reconciled image pull secret regcred\n"), r.stderr)
                XCTAssertEqual(try TestEnv.run("kubectl", ["get", "secret", "regcred", "-n", ns, "-o", "jsonpath={.type}"]).stdout, "kubernetes.io/dockerconfigjson")
            } else {
                let key = try TestEnv.tempDir("fluxs-ssh").appendingPathComponent("k")
                try FileManager.default.copyItem(atPath: "\(d)/ed25519-encrypted.private", toPath: key.path)
                try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: key.path)
                let pub = try TestEnv.run("ssh-keygen", ["-y", "-P", "abcde12345", "-f", key.path]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                let signers = key.deletingLastPathComponent().appendingPathComponent("allowed")
                try TestEnv.write("flux@example.com \(pub)\n", to: signers)
                let ok = try TestEnv.run("git", ["--git-dir", bare, "-c", "gpg.format=ssh", "-c", "gpg.ssh.allowedSignersFile=\(signers.path)", "verify-commit", "main"])
                XCTAssertEqual(ok.status, 0, ok.stderr)
            }
            let sync = try TestEnv.run("git", ["--git-dir", bare, "show", "main:clusters/dev/\(ns)/gotk-sync.yaml"]).stdout
            XCTAssertTrue(sync.contains("  sparseCheckout:\n  - clusters/dev\n  url: "), sync)
            XCTAssertEqual(try reconciled(), "ReconciliationSucceeded")
            _ = try? TestEnv.run("kubectl", ["delete", "namespace", ns, "--wait=false"])
            _ = try? TestEnv.run("kubectl", ["label", "crd", "-l", "app.kubernetes.io/part-of=flux",
                                             "kustomize.toolkit.fluxcd.io/name-", "kustomize.toolkit.fluxcd.io/namespace-"])
            ns = "bp-\(UUID().uuidString.prefix(6).lowercased())"
        }
    }
}
