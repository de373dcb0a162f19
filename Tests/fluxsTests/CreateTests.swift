import Foundation
import FluxsTestSupport
import XCTest

/// `create ... --export` against flux's golden files, with the arguments flux's own tests use.
final class CreateExportTests: XCTestCase {
    var testdata: URL { GoldenTests.testdata }

    func export(_ args: String) throws -> TestEnv.Run {
        try TestEnv.fluxs(args.split(separator: " ").map(String.init))
    }

    func golden(_ f: String) throws -> String {
        guard let s = try? String(contentsOf: testdata.appendingPathComponent(f), encoding: .utf8) else {
            throw XCTSkip("../shared/reference/flux-testdata is not present")
        }
        return s
    }

    func testCreateSourceGitExports() throws {
        let base = "create source git podinfo --namespace=flux-system --url=https://github.com/stefanprodan/podinfo --interval=1m0s --export"
        let cases = [
            ("--commit=c88a2f41", "source-git-commit.yaml"),
            ("--ref-name=refs/heads/main", "source-git-refname.yaml"),
            ("--branch=main --commit=c88a2f41", "source-git-branch-commit.yaml"),
            ("--tag-semver=v1.01", "source-git-semver.yaml"),
            ("--tag=test", "source-git-tag.yaml"),
            ("--branch=test", "source-git-branch.yaml"),
            ("--provider generic --branch=test", "source-git-provider-generic.yaml"),
            ("--provider github --branch=test --secret-ref appinfo", "source-git-provider-github.yaml"),
        ]
        for (extra, file) in cases {
            let r = try export(base + " " + extra)
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(r.stdout, try golden("create_source_git/" + file), file)
        }
        let azure = try export("create source git podinfo --namespace=flux-system --url=https://dev.azure.com/foo/bar/_git/podinfo --provider azure --branch=test --interval=1m0s --export")
        XCTAssertEqual(azure.stdout, try golden("create_source_git/source-git-provider-azure.yaml"))
        let r = try TestEnv.fluxs(["create", "source", "git", "podinfo", "--url=https://github.com/stefanprodan/podinfo", "--branch=master",
                                   "--ignore-paths", ".cosign,non-existent-dir/", "--sparse-checkout-paths", ".cosign,non-existent-dir/",
                                   "-n", "default", "--export"])
        XCTAssertEqual(r.stdout, try golden("create_source_git/export.golden"))
    }

    func testCreateSourceGitErrors() throws {
        let cases: [(String, String)] = [
            ("create source git --url=https://github.com/stefanprodan/podinfo", "✗ name is required\n"),
            ("create source git podinfo --namespace=flux-system --url=https://dev.azure.com/foo/bar/_git/podinfo --provider dummy --branch=test --interval=1m0s --export",
             "✗ invalid argument \"dummy\" for \"--provider\" flag: source Git provider 'dummy' is not supported, must be one of: generic|github|aws|azure\n"),
            ("create source git Bad_Name --url=https://x/y --branch=main --export",
             "✗ name 'Bad_Name' is invalid, it should adhere to standard defined in RFC 1123, the name can only contain alphanumeric characters or '-'\n"),
            ("create source git podinfo --url=ftp://x/y --branch=main --export", "✗ git URL scheme 'ftp' not supported, can be: ssh, http and https\n"),
            ("create source git podinfo --url=https://x/y --export",
             "✗ a Git ref is required, use one of the following: --branch, --tag, --commit, --ref-name or --tag-semver\n"),
            ("create source git podinfo --url=ssh://git@x/y --branch=main --ca-file=/tmp/ca --export", "✗ specifying a CA file is not supported for Git over SSH\n"),
            ("create source git podinfo --url=https://x/y --branch=main --label=a --export", "✗ invalid label format 'a', must be key=value\n"),
        ]
        for (args, want) in cases {
            let r = try export(args)
            XCTAssertEqual(r.status, 1, args)
            XCTAssertEqual(r.stderr, want, args)
        }
        let empty = try TestEnv.fluxs(["create", "source", "git", "podinfo", "--url=https://x/y", "--provider", "", "--branch=test", "--export"])
        XCTAssertEqual(empty.stderr, "✗ invalid argument \"\" for \"--provider\" flag: no source Git provider given, please specify the Git provider name\n")
        let noArg = try TestEnv.fluxs(["create", "source", "git", "podinfo", "--url=https://x/y", "--branch=test", "--export", "--provider"])
        XCTAssertTrue(noArg.stderr.hasPrefix("✗ flag needs an argument: --provider"), noArg.stderr)
    }

    func testCreateKustomizationExportAndErrors() throws {
        let r = try export("create kustomization podinfo --source=podinfo --path=./kustomize --export")
        XCTAssertEqual(r.stdout, """
        ---
        apiVersion: kustomize.toolkit.fluxcd.io/v1
        kind: Kustomization
        metadata:
          name: podinfo
          namespace: flux-system
        spec:
          interval: 1m0s
          path: ./kustomize
          prune: false
          sourceRef:
            kind: GitRepository
            name: podinfo

        """)
        let full = try export("create ks app --source=OCIRepository/app.apps --path=deploy/../manifests --prune --wait --health-check-timeout=3m --depends-on=infra,ops/db --target-namespace=prod --export")
        XCTAssertTrue(full.stdout.contains("  path: ./manifests\n"), full.stdout)
        XCTAssertTrue(full.stdout.contains("  sourceRef:\n    kind: OCIRepository\n    name: app\n    namespace: apps\n"), full.stdout)
        XCTAssertTrue(full.stdout.contains("  dependsOn:\n  - name: infra\n  - name: db\n    namespace: ops\n"), full.stdout)
        XCTAssertTrue(full.stdout.contains("  timeout: 3m0s\n"), full.stdout)
        XCTAssertTrue(full.stdout.contains("  wait: true\n"), full.stdout)
        XCTAssertEqual(try export("create kustomization my-app --path=./deploy --export").stderr, "✗ source is required\n")
        XCTAssertEqual(try export("create ks ab --source=Helm/x --export").stderr,
                       "✗ invalid argument \"Helm/x\" for \"--source\" flag: source kind 'Helm' is not supported, must be one of: OCIRepository, GitRepository, Bucket\n")
        XCTAssertEqual(try export("create ks ab --source=x --health-check=Pod/x.y --export").stderr,
                       "✗ invalid health check kind 'Pod' can be HelmRelease, Deployment, DaemonSet or StatefulSet\n")
    }

    func testCreateSecretGitExports() throws {
        let basic = try export("create secret git podinfo-auth --url=https://github.com/stefanprodan/podinfo --username=my-username --password=my-password --namespace=my-namespace --export")
        XCTAssertEqual(basic.stdout, try golden("create_secret/git/secret-git-basic.yaml"))
        let bearer = try export("create secret git bearer-token-auth --url=https://github.com/stefanprodan/podinfo --bearer-token=ghp_baR2qnFF0O41WlucePL3udt2N9vVZS4R0hAS --namespace=my-namespace --export")
        XCTAssertEqual(bearer.stdout, try golden("create_secret/git/git-bearer-token.yaml"))
        let ca = try TestEnv.tempDir("ca")
        defer { try? FileManager.default.removeItem(at: ca) }
        try TestEnv.write("ca-data", to: ca.appendingPathComponent("ca.crt"))
        let withCA = try export("create secret git ca-crt --url=https://github.com/stefanprodan/podinfo --password=my-password --username=my-username --ca-crt-file=\(ca.appendingPathComponent("ca.crt").path) --namespace=my-namespace --export")
        XCTAssertEqual(withCA.stdout, try golden("create_secret/git/secret-ca-crt.yaml"))
        XCTAssertEqual(try export("create secret git podinfo-auth --url=https://github.com/stefanprodan/podinfo --username=aaa --password=zzzz --bearer-token=aaaa --namespace=my-namespace --export").stderr,
                       "✗ user credentials and bearer token cannot be used together\n")
        XCTAssertEqual(try export("create secret git").stderr, "✗ name is required\n")
    }

    func testCreateImageUpdateExports() throws {
        let base = "create image update flux-system --git-repo-ref=flux-system --checkout-branch=main --author-name=flux --author-email=flux@example.com --interval=1m0s --namespace=flux-system --export"
        XCTAssertEqual(try export(base).stdout, try golden("create_image_update/no-signing.yaml"))
        XCTAssertEqual(try export(base + " --signing-key-secret=my-key").stdout, try golden("create_image_update/signing-default-gpg.yaml"))
        XCTAssertEqual(try export(base + " --signing-key-secret=my-deploy-key --signing-key-type=ssh").stdout, try golden("create_image_update/signing-ssh.yaml"))
        XCTAssertEqual(try export(base + " --signing-key-type=ssh").stderr, "✗ --signing-key-type requires --signing-key-secret\n")
        XCTAssertEqual(try export(base + " --signing-key-secret=k --signing-key-type=pgp").stderr, "✗ --signing-key-type must be one of: gpg, ssh\n")
    }

    func testCreateImagePolicyAndRepositoryValidation() throws {
        let ok = try export("create image policy podinfo --image-ref=podinfo --select-semver=5.0.x --export")
        XCTAssertTrue(ok.stdout.contains("  policy:\n    semver:\n      range: 5.0.x\n"), ok.stdout)
        XCTAssertEqual(try export("create image policy podinfo --image-ref=podinfo --select-semver=1.x --select-alpha=asc --export").stderr,
                       "✗ only one of --select-semver, --select-alpha or --select-numeric can be specified\n")
        XCTAssertEqual(try export("create image policy podinfo --image-ref=podinfo --select-numeric=asc --filter-regex=^main-(?P<ts>[0-9]+) --filter-extract=$nope --export").stderr,
                       "✗ capture group $nope used in --filter-extract not found in --filter-regex\n")
        XCTAssertEqual(try export("create image policy podinfo --image-ref=podinfo --select-numeric=asc --interval=5m --export").stderr,
                       "✗ the --interval flag can only be used with the 'Always' digest reflection policy, use --reflect-digest=Always\n")
        let repo = try export("create image repository podinfo --image=ghcr.io/stefanprodan/podinfo --interval=1m --export")
        XCTAssertTrue(repo.stdout.contains("  image: ghcr.io/stefanprodan/podinfo\n  interval: 1m0s\n"), repo.stdout)
        XCTAssertEqual(try export("create image repository podinfo --export").stderr, "✗ an image repository (--image) is required\n")
    }

    func testCreateNotificationExports() throws {
        let p = try export("create alert-provider slack --type slack --channel general --secret-ref webhook --export")
        XCTAssertEqual(p.stdout, "---\napiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Provider\nmetadata:\n  name: slack\n  namespace: flux-system\nspec:\n  channel: general\n  secretRef:\n    name: webhook\n  type: slack\n")
        let a = try export("create alert flux-system --event-severity info --event-source Kustomization/flux-system,GitRepository/*.apps --provider-ref slack --export")
        XCTAssertTrue(a.stdout.contains("  eventSources:\n  - kind: Kustomization\n    name: flux-system\n  - kind: GitRepository\n    name: '*'\n    namespace: apps\n"), a.stdout)
        XCTAssertEqual(try export("create alert xy --export").stderr, "✗ provider ref is required\n")
        let r = try export("create receiver gh --type github --event ping --event push --secret-ref token --resource GitRepository/webapp --export")
        XCTAssertTrue(r.stdout.contains("  events:\n  - ping\n  - push\n"), r.stdout)
        XCTAssertEqual(try export("create receiver gh --type svn --secret-ref t --resource GitRepository/x --export").stderr,
                       "✗ receiver type 'svn' is not supported, must be one of: generic, generic-hmac, github, gitlab, bitbucket, harbor, dockerhub, quay, gcr, nexus, acr, cdevents\n")
    }
}

/// create without --export, against the API simulator.
final class CreateClusterTests: XCTestCase {
    var ns = ""

    override func setUpWithError() throws {
        _ = try TestEnv.require("FLUXS_TEST_KUBECONFIG")
        ns = "ct-\(UUID().uuidString.prefix(6).lowercased())"
        XCTAssertEqual(try TestEnv.fluxs(["install"]).status, 0)
        XCTAssertEqual(try TestEnv.run("kubectl", ["create", "namespace", ns]).status, 0)
    }

    func testCreateSourceGitWithCredentialsAndUpdate() throws {
        // Nothing listens on port 1: the objects are created, the reconciliation in this process fails.
        let r = try TestEnv.fluxs(["create", "source", "git", "app", "--url=https://127.0.0.1:1/app.git", "--branch=main", "-n", ns,
                                   "--username=u", "--password=secret-pw"])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.hasSuffix("✗ failed to checkout and determine revision: unable to clone 'https://127.0.0.1:1/app.git': failed to connect to 127.0.0.1: Connection refused\n"), r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("✚ generating GitRepository source\n► applying secret with repository credentials\n✔ authentication configured\n► applying GitRepository source\n✔ GitRepository source created\n◎ waiting for GitRepository source reconciliation\n"), r.stderr)
        XCTAssertFalse(r.stderr.contains("secret-pw") || r.stdout.contains("secret-pw"))
        let secret = try TestEnv.run("kubectl", ["get", "secret", "app", "-n", ns, "-o", "jsonpath={.data.password}"])
        XCTAssertEqual(secret.stdout, Data("secret-pw".utf8).base64EncodedString())
        let again = try TestEnv.fluxs(["create", "source", "git", "app", "--url=https://127.0.0.1:1/app.git", "--tag=v1", "-n", ns, "--secret-ref=app"])
        XCTAssertTrue(again.stderr.contains("✔ GitRepository source updated"), again.stderr)
        let live = try TestEnv.run("kubectl", ["get", "gitrepository", "app", "-n", ns, "-o", "jsonpath={.spec.ref}"])
        XCTAssertEqual(live.stdout, #"{"tag":"v1"}"#, "server-side apply drops the branch fluxs no longer sets")
    }

    func testCreateAlertProviderAndAlertAreReady() throws {
        let p = try TestEnv.fluxs(["create", "alert-provider", "slack", "--type=slack", "--address=https://hooks.example.com/x", "-n", ns])
        XCTAssertEqual(p.status, 0, p.stderr)
        XCTAssertEqual(p.stderr, "✚ generating Provider\n► applying Provider\n✔ Provider created\n◎ waiting for Provider reconciliation\n✔ Provider slack is ready\n")
        let a = try TestEnv.fluxs(["create", "alert", "all", "--provider-ref=slack", "--event-source=Kustomization/*", "-n", ns])
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertTrue(a.stderr.hasSuffix("✔ Alert all is ready\n"), a.stderr)
        let get = try TestEnv.fluxs(["get", "alerts", "-n", ns])
        XCTAssertEqual(get.stdout, "NAME\tSUSPENDED\tREADY\tMESSAGE        \nall \tFalse    \tTrue \tAlert is Ready\t\n")
    }

    func testSuspendResumeAndDelete() throws {
        // fluxs reconciles Kustomizations itself: the missing source fails the reconciliation, the object stays.
        let c = try TestEnv.fluxs(["create", "ks", "app", "--source=app", "--path=./deploy", "-n", ns])
        XCTAssertEqual(c.status, 1)
        XCTAssertTrue(c.stderr.contains("✔ Kustomization created") && c.stderr.contains("Source 'GitRepository/\(ns)/app' not found"), c.stderr)
        let s = try TestEnv.fluxs(["suspend", "ks", "app", "-n", ns])
        XCTAssertEqual(s.stderr, "► suspending kustomization app in \(ns) namespace\n✔ kustomization suspended\n")
        XCTAssertTrue(try TestEnv.fluxs(["get", "ks", "-n", ns]).stdout.contains("\tTrue     \t"))
        let missing = try TestEnv.fluxs(["suspend", "ks", "app", "ghost", "-n", ns])
        XCTAssertEqual(missing.status, 1, "a missing name is an error (flux exits 0 here)")
        XCTAssertTrue(missing.stderr.contains("✗ Kustomization ghost not found in \(ns) namespace"), missing.stderr)
        let r = try TestEnv.fluxs(["resume", "ks", "app", "-n", ns])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("► resuming kustomization app in \(ns) namespace\n✔ kustomization resumed\n"), r.stderr)
        XCTAssertTrue(r.stderr.contains("Source 'GitRepository/\(ns)/app' not found"), r.stderr)
        let noTTY = try TestEnv.fluxs(["delete", "ks", "app", "-n", ns])
        XCTAssertEqual(noTTY.status, 1)
        XCTAssertTrue(noTTY.stderr.contains("pass --silent"), noTTY.stderr)
        let d = try TestEnv.fluxs(["delete", "ks", "app", "-n", ns, "--silent"])
        XCTAssertEqual(d.stderr, "► deleting kustomization app in \(ns) namespace\n✔ kustomization deleted\n")
        let gone = try TestEnv.fluxs(["delete", "ks", "app", "-n", ns, "--silent"])
        XCTAssertEqual(gone.stderr, "✗ kustomizations.kustomize.toolkit.fluxcd.io \"app\" not found\n")
    }
}
