import Foundation
import FluxsTestSupport
import XCTest

/// spec.kubeConfig.secretRef against a second API simulator: the objects go to the remote cluster, the status stays
/// on the Kustomization here; kubeconfigs that would make fluxs run a plugin or read local files are refused.
final class RemoteClusterTests: XCTestCase {
    var fx: ReconcileFixture!
    var remote: [String: String] = [:]
    let remoteNS = "remote-" + UUID().uuidString.prefix(6).lowercased()

    override func setUpWithError() throws {
        remote = try TestEnv.require("FLUXS_TEST_REMOTE_KUBECONFIG", "FLUXS_TEST_REMOTE_KUBE_SERVER", "FLUXS_TEST_REMOTE_KUBE_CA",
                                     "FLUXS_TEST_REMOTE_KUBE_ADMIN_TOKEN")
        fx = try ReconcileFixture(prefix: "remote")
        XCTAssertEqual(try remoteKubectl("create", "namespace", remoteNS).status, 0)
    }

    override func tearDownWithError() throws {
        fx?.cleanUp()
        _ = try? remoteKubectl("delete", "namespace", remoteNS, "--wait=false")
    }

    @discardableResult
    func remoteKubectl(_ args: String...) throws -> TestEnv.Run {
        try TestEnv.run("kubectl", ["--kubeconfig", remote["FLUXS_TEST_REMOTE_KUBECONFIG"]!] + args)
    }

    func kubeconfig(user: String) throws -> String {
        let ca = try Data(contentsOf: URL(fileURLWithPath: remote["FLUXS_TEST_REMOTE_KUBE_CA"]!)).base64EncodedString()
        return """
        apiVersion: v1
        kind: Config
        clusters:
        - name: remote
          cluster: {server: "\(remote["FLUXS_TEST_REMOTE_KUBE_SERVER"]!)", certificate-authority-data: \(ca)}
        contexts:
        - name: remote
          context: {cluster: remote, user: ci}
        current-context: remote
        users:
        - name: ci
          user: \(user)

        """
    }

    func secret(_ name: String, key: String, _ value: String) throws {
        let r = try fx.kubectl("create", "secret", "generic", name, "-n", fx.ns, "--from-literal=\(key)=\(value)")
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    func kustomization(_ name: String, secret: String, key: String? = nil) throws {
        let keyField = key.map { ", key: \($0)" } ?? ""
        let r = try fx.kubectl("apply", "-f", "-", stdin: """
            apiVersion: kustomize.toolkit.fluxcd.io/v1
            kind: Kustomization
            metadata: {name: \(name), namespace: \(fx.ns)}
            spec: {interval: 10m, path: ./app, prune: true, targetNamespace: \(remoteNS), sourceRef: {kind: GitRepository, name: fleet},
                   kubeConfig: {secretRef: {name: \(secret)\(keyField)}}}
            """)
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    func remoteConfigMaps() throws -> String {
        try remoteKubectl("get", "configmaps", "-n", remoteNS, "-l", "kustomize.toolkit.fluxcd.io/name=app",
                          "-o", "jsonpath={.items[*].metadata.name}").stdout
    }

    func cm(_ name: String) -> String { "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \(name)\ndata: {k: v}\n" }

    func testAppliesAndPrunesOnTheRemoteCluster() throws {
        let repo = try fx.source(["app/a.yaml": cm("a"), "app/b.yaml": cm("b")])
        try secret("remote", key: "value", try kubeconfig(user: "{token: \(remote["FLUXS_TEST_REMOTE_KUBE_ADMIN_TOKEN"]!)}"))
        try kustomization("app", secret: "remote")
        let r = try fx.fluxs(["reconcile", "kustomization", "app"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try remoteConfigMaps(), "a b")
        XCTAssertEqual(try fx.kubectl("get", "namespace", remoteNS).status, 1, "nothing goes to the local cluster")
        XCTAssertEqual(try fx.inventory("app"), ["\(remoteNS)_a__ConfigMap", "\(remoteNS)_b__ConfigMap"])
        XCTAssertEqual(try fx.ready("app").reason, "ReconciliationSucceeded")
        try repo.commit(["app/b.yaml": nil], "drop b")
        let again = try fx.fluxs(["reconcile", "kustomization", "app", "--with-source"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(try remoteConfigMaps(), "a")

        // The key named by secretRef.key, else value, else value.yaml; a missing one says which.
        try secret("other-key", key: "config", try kubeconfig(user: "{token: \(remote["FLUXS_TEST_REMOTE_KUBE_ADMIN_TOKEN"]!)}"))
        try kustomization("app", secret: "other-key")
        let missing = try fx.fluxs(["reconcile", "kustomization", "app"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("KubeConfig secret '\(fx.ns)/other-key' does not contain a 'value' key with a kubeconfig"), missing.stderr)
        try kustomization("app", secret: "other-key", key: "config")
        XCTAssertEqual(try fx.fluxs(["reconcile", "kustomization", "app"]).status, 0)
        // Deleting the Kustomization garbage-collects its objects on the remote cluster, as the finalizer does.
        let deleted = try fx.fluxs(["delete", "kustomization", "app", "--silent"])
        XCTAssertEqual(deleted.status, 0, deleted.stderr)
        XCTAssertTrue(deleted.stderr.contains("ConfigMap/\(remoteNS)/a deleted"), deleted.stderr)
        XCTAssertEqual(try remoteConfigMaps(), "")
    }

    func testExecPluginsAndLocalFilesAreRefused() throws {
        _ = try fx.source(["app/a.yaml": cm("a")])
        let marker = try TestEnv.tempDir("fluxs-exec").appendingPathComponent("ran")
        let exec = "{exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/sh, args: [-c, 'touch \(marker.path); echo {}']}}"
        try secret("exec", key: "value.yaml", try kubeconfig(user: exec))
        try kustomization("app", secret: "exec")
        let r = try fx.fluxs(["reconcile", "kustomization", "app"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("the kubeconfig in Secret '\(fx.ns)/exec' uses an exec credential plugin (users[\"ci\"].user.exec), which fluxs does not allow for remote clusters"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker.path), "the plugin ran")
        XCTAssertEqual(try fx.ready("app").reason, "ReconciliationFailed")
        XCTAssertEqual(try remoteConfigMaps(), "")

        try secret("files", key: "value", try kubeconfig(user: "{tokenFile: /etc/hostname}"))
        try kustomization("app", secret: "files")
        let files = try fx.fluxs(["reconcile", "kustomization", "app"])
        XCTAssertEqual(files.status, 1)
        XCTAssertTrue(files.stderr.contains("uses a tokenFile file, which fluxs does not allow for remote clusters"), files.stderr)
    }
}
