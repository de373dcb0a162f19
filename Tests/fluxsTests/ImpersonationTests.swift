import Foundation
import FluxsTestSupport
import XCTest

/// spec.serviceAccountName and a least-privilege CI identity on the API simulator, which authorizes with RBAC and
/// impersonation as kube-apiserver does: the CI token holds exactly the Role docs/security.md gives, the tenant's
/// service account may write ConfigMaps in its namespace only.
final class ImpersonationTests: XCTestCase {
    var fx: ReconcileFixture!
    var token = ""

    override func setUpWithError() throws {
        fx = try ReconcileFixture(prefix: "tenant")
    }

    override func tearDownWithError() throws {
        fx?.cleanUp()
        for n in [fx?.ns, fx?.apps].compactMap({ $0 }) { _ = try? fx.kubectl("delete", "namespace", n, "--wait=false") }
    }

    /// The Role of docs/security.md for this tenant namespace.
    func ciRole() throws -> String {
        let doc = try String(contentsOf: TestEnv.packageRoot.appendingPathComponent("docs/security.md"), encoding: .utf8)
        let start = try XCTUnwrap(doc.range(of: "<!-- ci-rbac -->\n```yaml\n"))
        let end = try XCTUnwrap(doc.range(of: "```", range: start.upperBound..<doc.endIndex))
        return String(doc[start.upperBound..<end.lowerBound]).replacingOccurrences(of: "namespace: tenant-a", with: "namespace: \(fx.ns)")
    }

    func setUpIdentities() throws {
        let ns = fx.ns
        XCTAssertEqual(try fx.kubectl("create", "serviceaccount", "ci", "-n", ns).status, 0)
        XCTAssertEqual(try fx.kubectl("create", "serviceaccount", "tenant", "-n", ns).status, 0)
        let applied = try fx.kubectl("apply", "-f", "-", stdin: try ciRole() + """
            ---
            apiVersion: rbac.authorization.k8s.io/v1
            kind: RoleBinding
            metadata: {name: fluxs-ci, namespace: \(ns)}
            roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: fluxs-ci}
            subjects: [{kind: ServiceAccount, name: ci, namespace: \(ns)}]
            ---
            apiVersion: rbac.authorization.k8s.io/v1
            kind: Role
            metadata: {name: tenant, namespace: \(ns)}
            rules: [{apiGroups: [""], resources: [configmaps], verbs: [get, list, create, patch, update, delete]}]
            ---
            apiVersion: rbac.authorization.k8s.io/v1
            kind: RoleBinding
            metadata: {name: tenant, namespace: \(ns)}
            roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: tenant}
            subjects: [{kind: ServiceAccount, name: tenant, namespace: \(ns)}]
            """)
        XCTAssertEqual(applied.status, 0, applied.stderr)
        token = try fx.kubectl("create", "token", "ci", "-n", ns).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertFalse(token.isEmpty)
    }

    /// fluxs as the CI identity: its token and nothing else.
    func asCI(_ args: [String]) throws -> TestEnv.Run {
        try TestEnv.run(TestEnv.fluxsBinary.path, args + ["-n", fx.ns, "--server=\(fx.env["FLUXS_TEST_KUBE_SERVER"]!)", "--token=\(token)",
                                                         "--certificate-authority=\(fx.env["FLUXS_TEST_KUBE_CA"]!)", "--kubeconfig=/dev/null"],
                        env: ["FLUXS_STORAGE_PATH": fx.storage.path], removeEnv: ["KUBECONFIG"])
    }

    func configMap(_ name: String, namespace: String? = nil) -> String {
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \(name)\n" + (namespace.map { "  namespace: \($0)\n" } ?? "") + "data: {k: v}\n"
    }

    func testCIIdentityReconcilesAsTheTenantServiceAccount() throws {
        try setUpIdentities()
        let repo = try fx.source(["app/a.yaml": configMap("a"), "app/b.yaml": configMap("b")])
        let created = try fx.kubectl("apply", "-f", "-", stdin: """
            apiVersion: kustomize.toolkit.fluxcd.io/v1
            kind: Kustomization
            metadata: {name: app, namespace: \(fx.ns)}
            spec: {interval: 10m, path: ./app, prune: true, serviceAccountName: tenant, targetNamespace: \(fx.ns),
                   sourceRef: {kind: GitRepository, name: fleet}}
            """)
        XCTAssertEqual(created.status, 0, created.stderr)

        // The CI identity itself may not write ConfigMaps: the objects are applied as the tenant.
        let direct = try fx.kubectl("create", "configmap", "direct", "-n", fx.ns, "--token=\(token)", "--kubeconfig=/dev/null",
                                    "--server=\(fx.env["FLUXS_TEST_KUBE_SERVER"]!)", "--certificate-authority=\(fx.env["FLUXS_TEST_KUBE_CA"]!)")
        XCTAssertTrue(direct.stderr.contains("cannot create resource \"configmaps\""), direct.stderr)
        let ok = try asCI(["reconcile", "kustomization", "app", "--with-source"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertFalse(ok.stderr.contains("⚠"), "the Role covers events and notifications too: \(ok.stderr)")
        XCTAssertTrue(ok.stderr.hasSuffix("✔ applied revision main@sha1:\(try repo.git("rev-parse", "HEAD").trimmingCharacters(in: .whitespacesAndNewlines))\n"), ok.stderr)
        XCTAssertEqual(try fx.kubectl("get", "configmaps", "-n", fx.ns, "-l", "kustomize.toolkit.fluxcd.io/name=app",
                                      "-o", "jsonpath={.items[*].metadata.name}").stdout, "a b")
        XCTAssertEqual(try fx.kubectl("get", "configmap", "a", "-n", fx.ns, "-o", "jsonpath={.metadata.managedFields[0].manager}").stdout,
                       "kustomize-controller")

        // An object outside the tenant's namespace: forbidden in the dry run, so the new one in the namespace is not
        // applied and the removed one is not pruned.
        try repo.commit(["app/b.yaml": nil, "app/c.yaml": configMap("c"), "app/other.yaml": configMap("x", namespace: fx.apps)], "escape")
        let outside = try fx.kubectl("patch", "kustomization", "app", "-n", fx.ns, "--type=merge", "-p", "{\"spec\":{\"targetNamespace\":null}}")
        XCTAssertEqual(outside.status, 0, outside.stderr)
        try repo.commit(["app/a.yaml": configMap("a", namespace: fx.ns), "app/c.yaml": configMap("c", namespace: fx.ns)], "namespaces")
        let bad = try asCI(["reconcile", "kustomization", "app", "--with-source"])
        XCTAssertEqual(bad.status, 1)
        let forbidden = "ConfigMap/\(fx.apps)/x dry-run failed (Forbidden): configmaps \"x\" is forbidden: User \"system:serviceaccount:\(fx.ns):tenant\" cannot patch resource \"configmaps\" in API group \"\" in the namespace \"\(fx.apps)\""
        XCTAssertTrue(bad.stderr.contains(forbidden), bad.stderr)
        XCTAssertEqual(try fx.ready("app").reason, "ReconciliationFailed")
        XCTAssertEqual(try fx.kubectl("get", "configmaps", "-n", fx.ns, "-l", "kustomize.toolkit.fluxcd.io/name=app",
                                      "-o", "jsonpath={.items[*].metadata.name}").stdout, "a b")
        XCTAssertEqual(try fx.configMaps(), [])

        // Impersonating another service account is refused by the API server, as the Role allows only `tenant`.
        let other = try fx.kubectl("patch", "kustomization", "app", "-n", fx.ns, "--type=merge", "-p", "{\"spec\":{\"serviceAccountName\":\"admin\"}}")
        XCTAssertEqual(other.status, 0, other.stderr)
        let refused = try asCI(["reconcile", "kustomization", "app"])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("serviceaccounts \"admin\" is forbidden: User \"system:serviceaccount:\(fx.ns):ci\" cannot impersonate resource \"serviceaccounts\" in API group \"\" in the namespace \"\(fx.ns)\""), refused.stderr)
    }

    /// A delete the service account may not do fails the prune before anything is deleted.
    func testForbiddenPrunePrunesNothing() throws {
        try setUpIdentities()
        let repo = try fx.source(["app/a.yaml": configMap("a"), "app/s.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData: {k: v}\n",
                                  "app/b.yaml": configMap("b")])
        // First applied by the admin (no service account), then handed to the tenant, who may not delete Secrets.
        let created = try fx.fluxs(["create", "kustomization", "app", "--source=GitRepository/fleet", "--path=./app", "--prune=true",
                                    "--interval=10m", "--target-namespace=\(fx.ns)"])
        XCTAssertEqual(created.status, 0, created.stderr)
        try repo.commit(["app/s.yaml": nil, "app/b.yaml": nil], "drop")
        let reader = try fx.kubectl("apply", "-f", "-", stdin: """
            apiVersion: rbac.authorization.k8s.io/v1
            kind: Role
            metadata: {name: tenant-secrets, namespace: \(fx.ns)}
            rules: [{apiGroups: [""], resources: [secrets], verbs: [get, list]}]
            ---
            apiVersion: rbac.authorization.k8s.io/v1
            kind: RoleBinding
            metadata: {name: tenant-secrets, namespace: \(fx.ns)}
            roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: tenant-secrets}
            subjects: [{kind: ServiceAccount, name: tenant, namespace: \(fx.ns)}]
            """)
        XCTAssertEqual(reader.status, 0, reader.stderr)
        _ = try fx.kubectl("patch", "kustomization", "app", "-n", fx.ns, "--type=merge", "-p", "{\"spec\":{\"serviceAccountName\":\"tenant\"}}")
        let r = try asCI(["reconcile", "kustomization", "app", "--with-source"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("Secret/\(fx.ns)/s delete failed: secrets \"s\" is forbidden: User \"system:serviceaccount:\(fx.ns):tenant\" cannot delete resource \"secrets\""), r.stderr)
        XCTAssertEqual(try fx.ready("app").reason, "PruneFailed")
        XCTAssertEqual(try fx.kubectl("get", "configmap", "b", "-n", fx.ns, "-o", "name").stdout.trimmingCharacters(in: .whitespacesAndNewlines), "configmap/b")
        XCTAssertEqual(try fx.kubectl("get", "secret", "s", "-n", fx.ns, "-o", "name").stdout.trimmingCharacters(in: .whitespacesAndNewlines), "secret/s")
        XCTAssertTrue(try fx.inventory("app").contains("\(fx.ns)_b__ConfigMap"))
        // --default-service-account applies to Kustomizations that name none.
        _ = try fx.kubectl("patch", "kustomization", "app", "-n", fx.ns, "--type=json", "-p", "[{\"op\":\"remove\",\"path\":\"/spec/serviceAccountName\"}]")
        let d = try fx.fluxs(["reconcile", "kustomization", "app", "--default-service-account=tenant"])
        XCTAssertEqual(d.status, 1)
        XCTAssertTrue(d.stderr.contains("User \"system:serviceaccount:\(fx.ns):tenant\" cannot delete resource \"secrets\""), d.stderr)
        let admin = try fx.fluxs(["reconcile", "kustomization", "app"])
        XCTAssertEqual(admin.status, 0, admin.stderr)
        XCTAssertEqual(try fx.kubectl("get", "configmaps", "-n", fx.ns, "-l", "kustomize.toolkit.fluxcd.io/name=app",
                                      "-o", "jsonpath={.items[*].metadata.name}").stdout, "a")
    }
}
