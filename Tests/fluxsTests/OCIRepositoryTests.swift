import Foundation
import FluxsTestSupport
import XCTest

/// OCIRepository reconciled in this process against the test environment's docker-registry, and a Kustomization
/// applying and pruning from it, with artifacts pushed by `fluxs push artifact`.
final class OCIRepositoryTests: XCTestCase {
    var ns = ""
    var storage: URL!
    var dir: URL!
    var e: [String: String] = [:]
    var repo = ""

    override func setUpWithError() throws {
        e = try TestEnv.require("FLUXS_TEST_KUBECONFIG", "FLUXS_TEST_REGISTRY", "FLUXS_TEST_REGISTRY_AUTH", "FLUXS_TEST_REGISTRY_USER",
                                "FLUXS_TEST_REGISTRY_PASSWORD")
        ns = "oci-\(UUID().uuidString.prefix(6).lowercased())"
        repo = "\(ns)/manifests"
        storage = try TestEnv.tempDir("fluxs-storage")
        dir = try TestEnv.tempDir("fluxs-oci")
        XCTAssertEqual(try TestEnv.fluxs(["install"]).status, 0)
        XCTAssertEqual(try TestEnv.run("kubectl", ["create", "namespace", ns]).status, 0)
    }

    override func tearDownWithError() throws {
        for d in [storage, dir] { if let d { try? FileManager.default.removeItem(at: d) } }
    }

    func fluxs(_ args: [String]) throws -> TestEnv.Run {
        try TestEnv.fluxs(args + ["-n", ns], env: ["FLUXS_STORAGE_PATH": storage.path, "DOCKER_CONFIG": dir.path])
    }

    func kubectl(_ args: [String]) throws -> TestEnv.Run { try TestEnv.run("kubectl", args + ["-n", ns]) }

    func jsonpath(_ kind: String, _ name: String, _ path: String) throws -> String {
        try kubectl(["get", kind, name, "-o", "jsonpath={\(path)}"]).stdout
    }

    func ready(_ name: String) throws -> (String, String, String) {
        let c = ".status.conditions[?(@.type==\"Ready\")]"
        return (try jsonpath("ocirepository", name, c + ".status"), try jsonpath("ocirepository", name, c + ".reason"), try jsonpath("ocirepository", name, c + ".message"))
    }

    /// Pushes ConfigMaps (name -> value) as an artifact; returns the manifest digest.
    @discardableResult
    func push(_ registry: String, _ tag: String, _ maps: [String: String], extra: [String: String] = [:], creds: String? = nil) throws -> String {
        let src = dir.appendingPathComponent("src-\(tag)")
        try? FileManager.default.removeItem(at: src)
        for (n, v) in maps {
            try TestEnv.write("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \(n)\ndata:\n  v: \"\(v)\"\n", to: src.appendingPathComponent("\(n).yaml"))
        }
        for (p, text) in extra { try TestEnv.write(text, to: src.appendingPathComponent(p)) }
        var args = ["push", "artifact", "oci://\(registry)/\(repo):\(tag)", "--path", src.path, "--source", "https://git.example/app.git",
                    "--revision", "\(tag)@sha1:0123456789abcdef", "--output", "json"]
        if let creds { args += ["--creds", creds] }
        let r = try fluxs(args)
        XCTAssertEqual(r.status, 0, r.stderr)
        let info = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: String]
        return info?["digest"] ?? ""
    }

    func artifactFiles(_ name: String) throws -> [String] {
        let file = storage.appendingPathComponent(try jsonpath("ocirepository", name, ".status.artifact.path")).path
        let t = try TestEnv.run("tar", ["-tzf", file])
        XCTAssertEqual(t.status, 0, t.stderr)
        return t.stdout.split(separator: "\n").map(String.init)
    }

    func testSemverSourceKustomizationAppliesAndPrunes() throws {
        let registry = e["FLUXS_TEST_REGISTRY_AUTH"]!
        let creds = "\(e["FLUXS_TEST_REGISTRY_USER"]!):\(e["FLUXS_TEST_REGISTRY_PASSWORD"]!)"
        let d1 = try push(registry, "1.0.0", ["app-a": "1", "app-b": "1"], creds: creds)
        try push(registry, "2.0.0-rc.1", ["app-a": "rc"], creds: creds)
        XCTAssertEqual(try kubectl(["create", "secret", "docker-registry", "regcred", "--docker-server=\(registry)",
                                    "--docker-username=\(e["FLUXS_TEST_REGISTRY_USER"]!)", "--docker-password=\(e["FLUXS_TEST_REGISTRY_PASSWORD"]!)"]).status, 0)
        let create = try fluxs(["create", "source", "oci", "app", "--url=oci://\(registry)/\(repo)", "--tag-semver=>=1.0.0", "--secret-ref=regcred", "--interval=10m"])
        XCTAssertEqual(create.status, 0, create.stderr)
        XCTAssertEqual(create.stderr, """
            ► applying OCIRepository
            ✔ OCIRepository created
            ◎ waiting for OCIRepository reconciliation
            ✔ OCIRepository reconciliation completed
            ✔ fetched revision: 1.0.0@\(d1)

            """)
        XCTAssertEqual(try ready("app").0, "True")
        XCTAssertEqual(try ready("app").2, "stored artifact for digest '1.0.0@\(d1)'")
        XCTAssertEqual(try jsonpath("ocirepository", "app", ".status.artifact.metadata.org\\.opencontainers\\.image\\.revision"), "1.0.0@sha1:0123456789abcdef")
        XCTAssertEqual(try jsonpath("ocirepository", "app", ".status.observedGeneration"), "1")
        XCTAssertEqual(try artifactFiles("app"), [".", "app-a.yaml", "app-b.yaml"])
        let event = try kubectl(["get", "events", "--field-selector", "reason=NewArtifact", "-o", "jsonpath={.items[0].message}"]).stdout
        XCTAssertEqual(event, "stored artifact with revision '1.0.0@\(d1)' from 'oci://\(registry)/\(repo)', origin source 'https://git.example/app.git', origin revision '1.0.0@sha1:0123456789abcdef'")
        // get shows it; a no-op reconcile answers from the registry's HEAD and keeps the artifact.
        let get = try fluxs(["get", "sources", "oci"])
        XCTAssertTrue(get.stdout.contains("app \t1.0.0@sha256:\(d1.dropFirst(7).prefix(8))\tFalse    \tTrue \tstored artifact for digest '1.0.0@sha256:\(d1.dropFirst(7).prefix(8))'"), get.stdout)
        let stamp = try jsonpath("ocirepository", "app", ".status.artifact.lastUpdateTime")
        let again = try fluxs(["reconcile", "source", "oci", "app"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stderr.hasSuffix("✔ fetched revision 1.0.0@\(d1)\n"), again.stderr)
        XCTAssertEqual(try jsonpath("ocirepository", "app", ".status.artifact.lastUpdateTime"), stamp)

        // A Kustomization from the OCIRepository applies it.
        let ks = try fluxs(["create", "kustomization", "app", "--source=OCIRepository/app", "--path=./", "--prune", "--interval=10m", "--target-namespace=\(ns)"])
        XCTAssertEqual(ks.status, 0, ks.stderr)
        XCTAssertEqual(try jsonpath("configmap", "app-a", ".data.v"), "1")
        XCTAssertEqual(try jsonpath("configmap", "app-b", ".data.v"), "1")
        XCTAssertEqual(try jsonpath("kustomization", "app", ".status.lastAppliedRevision"), "1.0.0@\(d1)")
        XCTAssertEqual(try jsonpath("kustomization", "app", ".status.lastAppliedOriginRevision"), "1.0.0@sha1:0123456789abcdef")

        // A new version in range: the source moves, the Kustomization applies it and prunes what it dropped.
        let d2 = try push(registry, "1.1.0", ["app-a": "2"], creds: creds)
        let next = try fluxs(["reconcile", "kustomization", "app", "--with-source"])
        XCTAssertEqual(next.status, 0, next.stderr)
        XCTAssertEqual(try jsonpath("ocirepository", "app", ".status.artifact.revision"), "1.1.0@\(d2)")
        XCTAssertEqual(try jsonpath("configmap", "app-a", ".data.v"), "2")
        XCTAssertEqual(try kubectl(["get", "configmap", "app-b"]).status, 1)
        XCTAssertEqual(try jsonpath("kustomization", "app", ".status.lastAppliedRevision"), "1.1.0@\(d2)")
        // The new artifact stored; the previous one kept a while, as source-controller's garbage collection keeps it.
        XCTAssertTrue(try TestEnv.run("ls", [storage.appendingPathComponent("ocirepository/\(ns)/app").path]).stdout.contains("\(d2).tar.gz\n"))

        // A wrong password: one line, Ready False, the artifact and the cluster as they were.
        XCTAssertEqual(try kubectl(["create", "secret", "docker-registry", "wrong", "--docker-server=\(registry)",
                                    "--docker-username=\(e["FLUXS_TEST_REGISTRY_USER"]!)", "--docker-password=nope"]).status, 0)
        XCTAssertEqual(try kubectl(["patch", "ocirepository", "app", "--type=merge", "-p", "{\"spec\":{\"secretRef\":{\"name\":\"wrong\"}}}"]).status, 0)
        let denied = try fluxs(["reconcile", "kustomization", "app", "--with-source"])
        XCTAssertEqual(denied.status, 1)
        XCTAssertTrue(denied.stderr.contains("✗ OCIRepository reconciliation failed: 'failed to determine artifact digest: ") ||
                      denied.stderr.contains("✗ OCIRepository reconciliation failed: 'failed to determine the artifact tag"), denied.stderr)
        XCTAssertTrue(denied.stderr.contains("authentication to \(registry) failed (HTTP 401)"), denied.stderr)
        XCTAssertFalse(denied.stderr.contains(e["FLUXS_TEST_REGISTRY_PASSWORD"]!))
        XCTAssertEqual(try ready("app").0, "False")
        XCTAssertEqual(try ready("app").1, "AuthenticationFailed")
        XCTAssertEqual(try jsonpath("ocirepository", "app", ".status.artifact.revision"), "1.1.0@\(d2)")
        XCTAssertEqual(try jsonpath("configmap", "app-a", ".data.v"), "2")

        // A registry that is down: the same.
        XCTAssertEqual(try kubectl(["patch", "ocirepository", "app", "--type=merge", "-p", "{\"spec\":{\"url\":\"oci://127.0.0.1:9/\(repo)\",\"secretRef\":null}}"]).status, 0)
        let down = try fluxs(["reconcile", "source", "oci", "app"])
        XCTAssertEqual(down.status, 1)
        XCTAssertTrue(down.stderr.contains("cannot reach the registry 127.0.0.1:9"), down.stderr)
        XCTAssertEqual(try jsonpath("ocirepository", "app", ".status.artifact.revision"), "1.1.0@\(d2)")
    }

    func testTagDigestLayerSelectorIgnoreAndRefusals() throws {
        let registry = e["FLUXS_TEST_REGISTRY"]!
        let d = try push(registry, "v1", ["one": "1", "two": "2"], extra: [".sourceignore": "two.yaml\n", "sub/three.yaml": "kind: x\n", "run.sh": "#!/bin/sh\n"])
        // A tag; .sourceignore and spec.ignore apply to the extracted tree.
        let tag = try fluxs(["create", "source", "oci", "bytag", "--url=oci://\(registry)/\(repo)", "--tag=v1", "--ignore-paths=sub/"])
        XCTAssertEqual(tag.status, 0, tag.stderr)
        XCTAssertEqual(try artifactFiles("bytag"), [".", ".sourceignore", "one.yaml", "run.sh"])
        XCTAssertEqual(try jsonpath("ocirepository", "bytag", ".status.observedIgnore"), "sub/")
        // A digest: the revision is the digest itself.
        let byDigest = try fluxs(["create", "source", "oci", "bydigest", "--url=oci://\(registry)/\(repo)", "--digest=\(d)"])
        XCTAssertEqual(byDigest.status, 0, byDigest.stderr)
        XCTAssertEqual(try jsonpath("ocirepository", "bydigest", ".status.artifact.revision"), d)
        // layerSelector copy: the layer stored as it is.
        let copy = try fluxs(["create", "source", "oci", "copy", "--url=oci://\(registry)/\(repo)", "--tag=v1",
                              "--layer-selector=application/vnd.cncf.flux.content.v1.tar+gzip:copy"])
        XCTAssertEqual(copy.status, 0, copy.stderr)
        let layer = try TestEnv.run("sh", ["-c", "skopeo inspect --raw --tls-verify=false docker://\(registry)/\(repo):v1"]).stdout
        let layerDigest = ((try JSONSerialization.jsonObject(with: Data(layer.utf8)) as! [String: Any])["layers"] as! [[String: Any]])[0]["digest"] as! String
        XCTAssertEqual(try jsonpath("ocirepository", "copy", ".status.artifact.digest"), layerDigest)
        XCTAssertEqual(try jsonpath("ocirepository", "copy", ".status.observedLayerSelector.operation"), "copy")
        // A media type the artifact does not have.
        let missing = try fluxs(["create", "source", "oci", "helm", "--url=oci://\(registry)/\(repo)", "--tag=v1",
                                 "--layer-selector=application/vnd.cncf.helm.chart.content.v1.tar+gzip:extract"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.hasSuffix("✗ failed to find layer with media type 'application/vnd.cncf.helm.chart.content.v1.tar+gzip' in artifact\n"), missing.stderr)
        // A tag in the URL, a missing tag, verification: refused with one line, nothing stored.
        let tagged = try fluxs(["create", "source", "oci", "tagged", "--url=oci://\(registry)/\(repo):v1", "--tag=v1"])
        XCTAssertEqual(tagged.status, 1)
        XCTAssertTrue(tagged.stderr.hasSuffix("✗ URL validation failed for 'oci://\(registry)/\(repo):v1': repository can only contain the characters `abcdefghijklmnopqrstuvwxyz0123456789_-./`: \(repo):v1\n"), tagged.stderr)
        XCTAssertEqual(try jsonpath("ocirepository", "tagged", ".status.conditions[?(@.type==\"Stalled\")].status"), "True")
        let nope = try fluxs(["create", "source", "oci", "nope", "--url=oci://\(registry)/\(repo)", "--tag=v9"])
        XCTAssertEqual(nope.status, 1)
        XCTAssertTrue(nope.stderr.contains("failed to determine artifact digest: fetching the manifest \(registry)/\(repo):v9: not found"), nope.stderr)
        let verify = try fluxs(["create", "source", "oci", "signed", "--url=oci://\(registry)/\(repo)", "--tag=v1", "--verify-provider=cosign"])
        XCTAssertEqual(verify.status, 1)
        XCTAssertTrue(verify.stderr.hasSuffix("✗ spec.verify (cosign signature verification) is not supported by fluxs yet: nothing was pulled; remove spec.verify or reconcile this OCIRepository with source-controller\n"), verify.stderr)
        XCTAssertEqual(try jsonpath("ocirepository", "signed", ".status.artifact"), "")
        XCTAssertEqual(try TestEnv.run("ls", [storage.appendingPathComponent("ocirepository/\(ns)").path]).stdout, "bydigest\nbytag\ncopy\n")
    }

    /// flux's TestSourceOCI sequence with its goldens, the registry's digest in place of podinfo's.
    func testFluxGoldensCreateGetReconcileSuspendResumeDelete() throws {
        let registry = e["FLUXS_TEST_REGISTRY"]!
        let digest = try push(registry, "6.3.5", ["podinfo": "6.3.5"])
        let golden = GoldenTests.testdata.appendingPathComponent("oci")
        func expect(_ file: String) throws -> String {
            try String(contentsOf: golden.appendingPathComponent(file), encoding: .utf8)
                .replacingOccurrences(of: "sha256:6c959c51ccbb952e5fe4737563338a0aaf975675dcf812912cf09e5463181871", with: digest)
                .replacingOccurrences(of: "sha256:6c959c51", with: String(digest.prefix(15)))
                .replacingOccurrences(of: "{{ .ns }}", with: ns)
        }
        let steps: [([String], String, Bool)] = [
            (["create", "source", "oci", "thrfg", "--url=oci://\(registry)/\(repo)", "--tag=6.3.5", "--interval", "10m"], "create_source_oci.golden", false),
            (["get", "source", "oci", "thrfg"], "get_oci.golden", true),
            (["reconcile", "source", "oci", "thrfg"], "reconcile_oci.golden", false),
            (["suspend", "source", "oci", "thrfg"], "suspend_oci.golden", false),
            (["resume", "source", "oci", "thrfg"], "resume_oci.golden", false),
            (["delete", "source", "oci", "thrfg", "--silent"], "delete_oci.golden", false),
        ]
        for (args, file, stdout) in steps {
            let r = try fluxs(args)
            XCTAssertEqual(r.status, 0, "\(args): \(r.stderr)")
            XCTAssertEqual(stdout ? r.stdout : r.stderr, try expect(file), file)
        }
    }

    /// A TLS registry: its CA from certSecretRef, credentials from secretRef; without the CA one line about the certificate.
    func testCertSecretRefForATLSRegistry() throws {
        let t = try TestEnv.require("FLUXS_TEST_REGISTRY_TLS", "FLUXS_TEST_CA")
        let registry = t["FLUXS_TEST_REGISTRY_TLS"]!, ca = t["FLUXS_TEST_CA"]!
        let user = e["FLUXS_TEST_REGISTRY_USER"]!, pass = e["FLUXS_TEST_REGISTRY_PASSWORD"]!
        let src = dir.appendingPathComponent("tls")
        try TestEnv.write("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: tls\n", to: src.appendingPathComponent("cm.yaml"))
        let push = try TestEnv.fluxs(["push", "artifact", "oci://\(registry)/\(repo):v1", "--path", src.path, "--source", "s", "--revision", "r",
                                      "--creds", "\(user):\(pass)"], env: ["SSL_CERT_FILE": ca, "DOCKER_CONFIG": dir.path])
        XCTAssertEqual(push.status, 0, push.stderr)
        XCTAssertEqual(try kubectl(["create", "secret", "docker-registry", "regcred", "--docker-server=\(registry)",
                                    "--docker-username=\(user)", "--docker-password=\(pass)"]).status, 0)
        XCTAssertEqual(try kubectl(["create", "secret", "generic", "tls-ca", "--from-file=ca.crt=\(ca)"]).status, 0)
        let untrusted = try fluxs(["create", "source", "oci", "untrusted", "--url=oci://\(registry)/\(repo)", "--tag=v1", "--secret-ref=regcred"])
        XCTAssertEqual(untrusted.status, 1)
        XCTAssertTrue(untrusted.stderr.contains("is not signed by a trusted authority"), untrusted.stderr)
        let ok = try fluxs(["create", "source", "oci", "trusted", "--url=oci://\(registry)/\(repo)", "--tag=v1", "--secret-ref=regcred", "--cert-ref=tls-ca"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertEqual(try artifactFiles("trusted"), [".", "cm.yaml"])
    }
}
