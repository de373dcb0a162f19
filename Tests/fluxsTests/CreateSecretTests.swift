import Foundation
import FluxsTestSupport
import XCTest

/// `create secret tls|helm|oci|proxy|notation|githubapp|receiver` and `create tenant` against flux's goldens
/// (offline, --export), and applied to the API simulator.
final class CreateSecretTests: XCTestCase {
    var dir: URL { GoldenTests.testdata }

    func golden(_ path: String) throws -> String {
        guard let s = try? String(contentsOf: dir.appendingPathComponent(path), encoding: .utf8) else {
            throw XCTSkip("../shared/reference/flux-testdata is not present")
        }
        return s
    }

    func fluxs(_ args: [String]) throws -> TestEnv.Run { try TestEnv.fluxs(args, cwd: dir) }

    func testSecretGoldens() throws {
        let cases: [([String], String)] = [
            (["tls", "certs", "--namespace=my-namespace", "--tls-crt-file=create_secret/tls/test-cert.pem",
              "--tls-key-file=create_secret/tls/test-key.pem", "--ca-crt-file=create_secret/tls/test-ca.pem"], "create_secret/tls/secret-tls.yaml"),
            (["helm", "helm-secret", "--username=my-username", "--password=my-password", "--namespace=my-namespace"], "create_secret/helm/secret-helm.yaml"),
            (["oci", "ghcr", "--namespace=my-namespace", "--url", "ghcr.io", "--username", "stefanprodan", "--password=password"],
             "create_secret/oci/create-secret.yaml"),
            (["proxy", "proxy-secret", "--address=https://my-proxy.com", "--username=my-username", "--password=my-password", "--namespace=my-namespace"],
             "create_secret/proxy/secret-proxy.yaml"),
            (["receiver", "receiver-secret", "--type=github", "--token=test-token", "--hostname=flux.example.com", "--namespace=my-namespace"],
             "create_secret/receiver/secret-receiver.yaml"),
            (["receiver", "gcr-secret", "--type=gcr", "--token=test-token", "--hostname=flux.example.com",
              "--email-claim=sa@project.iam.gserviceaccount.com", "--namespace=my-namespace"], "create_secret/receiver/secret-receiver-gcr.yaml"),
            (["receiver", "gcr-secret", "--type=gcr", "--token=test-token", "--hostname=flux.example.com",
              "--email-claim=sa@project.iam.gserviceaccount.com", "--audience-claim=https://custom.audience.example.com", "--namespace=my-namespace"],
             "create_secret/receiver/secret-receiver-gcr-audience.yaml"),
            (["githubapp", "appinfo", "--app-id=1", "--app-installation-owner=my-org", "--app-private-key=create_secret/githubapp/test-private-key.pem",
              "--namespace=my-namespace"], "create_secret/githubapp/secret.yaml"),
            (["githubapp", "appinfo", "--app-id=1", "--app-installation-id=2", "--app-base-url=www.example.com/api/v3",
              "--app-private-key=create_secret/githubapp/test-private-key.pem", "--namespace=my-namespace"], "create_secret/githubapp/secret-with-baseurl.yaml"),
        ]
        for (args, file) in cases {
            let r = try fluxs(["create", "secret"] + args + ["--export"])
            XCTAssertEqual(r.status, 0, "\(args): \(r.stderr)")
            XCTAssertEqual(r.stdout, try golden(file), file)
        }
    }

    func testNotationGoldens() throws {
        let tmp = try TestEnv.tempDir("fluxs-notation")
        let crt = tmp.appendingPathComponent("ca.crt"), pem = tmp.appendingPathComponent("ca.pem"), p12 = tmp.appendingPathComponent("ca.p12")
        try TestEnv.write("ca-data-crt", to: crt)
        try TestEnv.write("ca-data-pem", to: pem)
        try TestEnv.write("", to: p12)
        let policy = dir.appendingPathComponent("create_secret/notation/test-trust-policy.json").path
        let base = ["create", "secret", "notation", "notation-config"]
        for (extra, file) in [(["--ca-cert-file=\(crt.path)"], "secret-ca-crt.yaml"), (["--ca-cert-file=\(pem.path)"], "secret-ca-pem.yaml"),
                              (["--ca-cert-file=\(crt.path)", "--ca-cert-file=\(pem.path)"], "secret-ca-multi.yaml")] {
            let r = try fluxs(base + extra + ["--trust-policy-file=\(policy)", "--namespace=my-namespace", "--export"])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(r.stdout, try golden("create_secret/notation/\(file)"), file)
        }
        let invalid = dir.appendingPathComponent("create_secret/notation/invalid-trust-policy.json").path
        let invalidJSON = dir.appendingPathComponent("create_secret/notation/invalid.json").path
        let errors: [([String], String)] = [
            (["create", "secret", "notation"], "name is required"),
            (base + ["--ca-cert-file=\(tmp.path)"], "--trust-policy-file is required"),
            (base + ["--trust-policy-file=\(policy)"], "--ca-cert-file is required"),
            (base + ["--ca-cert-file=\(p12.path)", "--trust-policy-file=\(policy)"], "ca.p12 must end with either .crt or .pem"),
            (base + ["--ca-cert-file=\(tmp.path)", "--trust-policy-file=\(invalid)"],
             "invalid trust policy: trust policy: a trust policy statement is missing a name, every statement requires a name"),
            (base + ["--ca-cert-file=\(tmp.path)", "--trust-policy-file=\(invalidJSON)"],
             "failed to unmarshal trust policy \(invalidJSON): json: cannot unmarshal string into Go value of type trustpolicy.Document"),
        ]
        for (args, want) in errors {
            let r = try fluxs(args)
            XCTAssertEqual(r.status, 1, "\(args)")
            XCTAssertEqual(r.stderr, "✗ \(want)\n", "\(args)")
        }
    }

    func testSecretErrors() throws {
        let cases: [([String], String)] = [
            (["create", "secret", "tls"], "name is required"),
            (["create", "secret", "helm"], "name is required"),
            (["create", "secret", "oci"], "name is required"),
            (["create", "secret", "oci", "ghcr"], "--url is required"),
            (["create", "secret", "proxy", "proxy-secret"], "address is required"),
            (["create", "secret", "receiver", "test-secret", "--token=t", "--hostname=h"], "--type is required"),
            (["create", "secret", "receiver", "test-secret", "--type=invalid", "--token=t", "--hostname=h"],
             "invalid argument \"invalid\" for \"--type\" flag: receiver type 'invalid' is not supported, must be one of: generic, generic-hmac, github, gitlab, bitbucket, harbor, dockerhub, quay, gcr, nexus, acr, cdevents"),
            (["create", "secret", "receiver", "test-secret", "--type=github", "--token=t"], "--hostname is required"),
            (["create", "secret", "receiver", "test-secret", "--type=gcr", "--token=t", "--hostname=h"], "--email-claim is required for gcr receiver type"),
            (["create", "secret", "tls", "certs", "--tls-crt-file=create_secret/tls/test-cert.pem"], "found certificate but missing private key"),
            (["create", "secret", "githubapp", "app", "--app-id=1", "--app-private-key=create_secret/githubapp/test-private-key.pem"],
             "exactly one of githubAppInstallationOwner or githubAppInstallationID must be provided"),
        ]
        for (args, want) in cases {
            let r = try fluxs(args + ["--export"])
            XCTAssertEqual(r.status, 1, "\(args)")
            XCTAssertEqual(r.stderr, "✗ \(want)\n", "\(args)")
        }
    }

    /// Applied: the Secret is in the cluster, the command says so with flux's line, and no value is printed.
    func testSecretsAreAppliedWithoutPrintingThem() throws {
        _ = try TestEnv.require("FLUXS_TEST_KUBECONFIG")
        let ns = "cs-\(UUID().uuidString.prefix(6).lowercased())"
        XCTAssertEqual(try TestEnv.run("kubectl", ["create", "namespace", ns]).status, 0)
        let r = try fluxs(["create", "secret", "proxy", "proxy-secret", "--address=https://my-proxy.com", "-u", "me", "-p", "s3cr3t-value", "-n", ns])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "")
        XCTAssertEqual(r.stderr, "► proxy secret 'proxy-secret' created in '\(ns)' namespace\n")
        let got = try TestEnv.run("kubectl", ["get", "secret", "proxy-secret", "-n", ns, "-o", "jsonpath={.data.password}"])
        XCTAssertEqual(got.stdout, Data("s3cr3t-value".utf8).base64EncodedString())
        let token = try fluxs(["create", "secret", "receiver", "hook", "--type=generic", "--hostname=flux.example.com", "-n", ns])
        XCTAssertEqual(token.stderr, "► receiver secret 'hook' created in '\(ns)' namespace\n")
        let t = try TestEnv.run("kubectl", ["get", "secret", "hook", "-n", ns, "-o", "jsonpath={.data.token}"]).stdout
        XCTAssertEqual(Data(base64Encoded: t).map { $0.count }, 64)   // 32 random bytes, hex
    }

    func testTenantGoldens() throws {
        let base = ["create", "tenant", "dev-team", "--with-namespace=apps"]
        for (extra, file) in [(["--cluster-role=cluster-admin"], "tenant-basic.yaml"),
                              (["--cluster-role=cluster-admin", "--with-service-account=flux-tenant"], "tenant-with-service-account.yaml"),
                              (["--cluster-role=custom-role"], "tenant-with-cluster-role.yaml"),
                              (["--cluster-role=cluster-admin", "--skip-namespace"], "tenant-with-skip-namespace.yaml")] {
            let r = try fluxs(base + extra + ["--export"])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(r.stdout, try golden("create_tenant/\(file)"), file)
        }
        XCTAssertEqual(try fluxs(["create", "tenant"]).stderr, "✗ name is required\n")
        XCTAssertEqual(try fluxs(["create", "tenant", "dev-team", "--cluster-role=cluster-admin"]).stderr, "✗ with-namespace is required\n")
    }

    func testTenantIsApplied() throws {
        _ = try TestEnv.require("FLUXS_TEST_KUBECONFIG")
        let id = UUID().uuidString.prefix(6).lowercased()
        let r = try fluxs(["create", "tenant", "team-\(id)", "--with-namespace=apps-\(id)", "--label=env=dev"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr, "► applying namespace apps-\(id)\n► applying service account team-\(id)\n► applying role binding team-\(id)-reconciler\n✔ tenant setup completed\n")
        let rb = try TestEnv.run("kubectl", ["get", "rolebinding", "team-\(id)-reconciler", "-n", "apps-\(id)", "-o", "jsonpath={.roleRef.name} {.subjects[0].name} {.metadata.labels.env}"])
        XCTAssertEqual(rb.stdout, "cluster-admin gotk:apps-\(id):reconciler dev")
        // another cluster role replaces the binding (roleRef is immutable)
        let again = try fluxs(["create", "tenant", "team-\(id)", "--with-namespace=apps-\(id)", "--cluster-role=view"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(try TestEnv.run("kubectl", ["get", "rolebinding", "team-\(id)-reconciler", "-n", "apps-\(id)", "-o", "jsonpath={.roleRef.name}"]).stdout, "view")
    }

    func testBucketExportAndApply() throws {
        let r = try fluxs(["create", "source", "bucket", "podinfo", "--bucket-name=podinfo", "--endpoint=s3.amazonaws.com", "--provider=aws",
                           "--region=us-east-1", "--interval=5m", "--fetch-timeout=30s", "-n", "flux-system", "--export"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, """
        ---
        apiVersion: source.toolkit.fluxcd.io/v1
        kind: Bucket
        metadata:
          name: podinfo
          namespace: flux-system
        spec:
          bucketName: podinfo
          endpoint: s3.amazonaws.com
          interval: 5m0s
          provider: aws
          region: us-east-1
          timeout: 30s

        """)
        XCTAssertEqual(try fluxs(["create", "source", "bucket", "bk", "--endpoint=x"]).stderr, "✗ bucket-name is required\n")
        XCTAssertEqual(try fluxs(["create", "source", "bucket", "bk", "--bucket-name=x"]).stderr, "✗ endpoint is required\n")
        XCTAssertEqual(try fluxs(["create", "source", "bucket", "bk", "--bucket-name=x", "--endpoint=y", "--provider=minio"]).stderr,
                       "✗ invalid argument \"minio\" for \"--provider\" flag: source bucket provider 'minio' is not supported, must be one of: generic, aws, azure, gcp\n")
        _ = try TestEnv.require("FLUXS_TEST_KUBECONFIG")
        XCTAssertEqual(try TestEnv.fluxs(["install"]).status, 0)
        let ns = "bkt-\(UUID().uuidString.prefix(6).lowercased())"
        XCTAssertEqual(try TestEnv.run("kubectl", ["create", "namespace", ns]).status, 0)
        let applied = try fluxs(["create", "source", "bucket", "podinfo", "--bucket-name=podinfo", "--endpoint=minio:9000", "--insecure",
                                 "--access-key=AKIA", "--secret-key=s3cr3t", "-n", ns])
        XCTAssertEqual(applied.status, 0, applied.stderr)
        XCTAssertFalse(applied.stderr.contains("s3cr3t"))
        XCTAssertTrue(applied.stderr.hasPrefix("✚ generating Bucket source\n► applying secret with the bucket credentials\n✔ authentication configured\n► applying Bucket source\n✔ Bucket source created\n◎ waiting for Bucket source reconciliation\n"), applied.stderr)
        XCTAssertTrue(applied.stderr.contains("fluxs cannot reconcile Bucket objects on demand yet"), applied.stderr)
        XCTAssertEqual(try TestEnv.run("kubectl", ["get", "bucket", "podinfo", "-n", ns, "-o", "jsonpath={.spec.secretRef.name}"]).stdout, "bucket-podinfo")
    }
}
