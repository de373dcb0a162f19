import Foundation
import FluxsTestSupport
import XCTest

/// `fluxs reconcile kustomization` in this process (no kustomize-controller runs) against the API simulator and the
/// real git server: apply, prune, rollback by revert, failures that change nothing, health checks, dependencies.
final class KustomizationReconcileTests: XCTestCase {
    var ns = ""
    var apps = ""
    var storage: URL!
    var e: [String: String] = [:]

    let deployment = """
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: podinfo
    spec:
      replicas: 2
      selector:
        matchLabels: {app: podinfo}
      template:
        metadata:
          labels: {app: podinfo}
        spec:
          containers:
          - name: podinfod
            image: ghcr.io/stefanprodan/podinfo:6.3.5

    """
    let service = "apiVersion: v1\nkind: Service\nmetadata:\n  name: podinfo\nspec:\n  selector: {app: podinfo}\n  ports: [{port: 9898}]\n"
    let config = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: podinfo-config\ndata: {color: blue}\n"

    override func setUpWithError() throws {
        e = try TestEnv.require("FLUXS_TEST_KUBECONFIG", "FLUXS_TEST_GIT_ROOT", "FLUXS_TEST_GIT_HTTP")
        let id = UUID().uuidString.prefix(6).lowercased()
        ns = "ks-\(id)"
        apps = "apps-\(id)"
        storage = try TestEnv.tempDir("fluxs-storage")
        XCTAssertEqual(try TestEnv.fluxs(["install"]).status, 0)
        for n in [ns, apps] { XCTAssertEqual(try TestEnv.run("kubectl", ["create", "namespace", n]).status, 0) }
    }

    override func tearDownWithError() throws {
        if let storage { try? FileManager.default.removeItem(at: storage) }
    }

    func fluxs(_ args: [String]) throws -> TestEnv.Run {
        try TestEnv.fluxs(args + ["-n", ns], env: ["FLUXS_STORAGE_PATH": storage.path])
    }

    func kubectl(_ args: String...) throws -> TestEnv.Run { try TestEnv.run("kubectl", args) }

    func names(_ kind: String) throws -> [String] {
        let r = try kubectl("get", kind, "-n", apps, "-o", "jsonpath={.items[*].metadata.name}")
        return r.stdout.split(separator: " ").map(String.init).sorted()
    }

    func status(_ name: String, _ path: String) throws -> String {
        try kubectl("get", "kustomization", name, "-n", ns, "-o", "jsonpath={\(path)}").stdout
    }

    func ready(_ name: String) throws -> (status: String, reason: String, message: String) {
        (try status(name, ".status.conditions[?(@.type==\"Ready\")].status"),
         try status(name, ".status.conditions[?(@.type==\"Ready\")].reason"),
         try status(name, ".status.conditions[?(@.type==\"Ready\")].message"))
    }

    func source(_ files: [String: String]) throws -> GitFixture {
        let repo = try GitFixture(root: e["FLUXS_TEST_GIT_ROOT"]!, files: files)
        let r = try fluxs(["create", "source", "git", "fleet", "--url=\(e["FLUXS_TEST_GIT_HTTP"]!)/git/\(repo.name).git", "--branch=main", "--interval=1m"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return repo
    }

    func testApplyPruneAndRollbackByRevert() throws {
        let repo = try source(["apps/podinfo/deployment.yaml": deployment, "apps/podinfo/service.yaml": service, "apps/podinfo/config.yaml": config])
        let created = try fluxs(["create", "kustomization", "podinfo", "--source=GitRepository/fleet", "--path=./apps/podinfo", "--prune=true",
                                 "--interval=10m", "--target-namespace=\(apps)"])
        XCTAssertEqual(created.status, 0, created.stderr)
        let head = try repo.git("rev-parse", "HEAD")
        XCTAssertTrue(created.stderr.hasSuffix("✔ applied revision main@sha1:\(head)\n"), created.stderr)
        XCTAssertEqual(try names("configmaps").filter { $0 != "kube-root-ca.crt" }, ["podinfo-config"])
        XCTAssertEqual(try names("deployments"), ["podinfo"])
        // Owner labels, the controller's field manager, the status kustomize-controller writes.
        XCTAssertEqual(try kubectl("get", "deployment", "podinfo", "-n", apps, "-o", "jsonpath={.metadata.labels}").stdout,
                       "{\"kustomize.toolkit.fluxcd.io/name\":\"podinfo\",\"kustomize.toolkit.fluxcd.io/namespace\":\"\(ns)\"}")
        XCTAssertTrue(try kubectl("get", "deployment", "podinfo", "-n", apps, "-o", "jsonpath={.metadata.managedFields[*].manager}")
                        .stdout.contains("kustomize-controller"))
        XCTAssertEqual(try ready("podinfo").reason, "ReconciliationSucceeded")
        XCTAssertEqual(try ready("podinfo").message, "Applied revision: main@sha1:\(head)")
        XCTAssertEqual(try status("podinfo", ".status.lastAppliedRevision"), "main@sha1:\(head)")
        XCTAssertEqual(try status("podinfo", ".status.inventory.entries[*].id"),
                       "\(apps)_podinfo-config__ConfigMap \(apps)_podinfo__Service \(apps)_podinfo_apps_Deployment")
        XCTAssertEqual(try status("podinfo", ".status.observedGeneration"), "1")
        let get = try fluxs(["get", "kustomizations"])
        XCTAssertTrue(get.stdout.contains("podinfo\tmain@sha1:\(head.prefix(8))\tFalse    \tTrue \tApplied revision: main@sha1:\(head.prefix(8))"), get.stdout)

        // A file removed from Git: its object is pruned, the others are left unchanged.
        try repo.commit(["apps/podinfo/config.yaml": nil], "drop config")
        let pruned = try fluxs(["reconcile", "kustomization", "podinfo", "--with-source", "--verbose"])
        XCTAssertEqual(pruned.status, 0, pruned.stderr)
        XCTAssertTrue(pruned.stderr.contains("ConfigMap/\(apps)/podinfo-config deleted"), pruned.stderr)
        XCTAssertTrue(pruned.stderr.contains("Deployment/\(apps)/podinfo unchanged"), pruned.stderr)
        XCTAssertEqual(try names("configmaps").filter { $0 != "kube-root-ca.crt" }, [])
        // Rollback by git revert brings it back.
        try repo.git("revert", "--no-edit", "HEAD")
        try repo.push()
        let reverted = try fluxs(["reconcile", "kustomization", "podinfo", "--with-source"])
        XCTAssertEqual(reverted.status, 0, reverted.stderr)
        XCTAssertTrue(reverted.stderr.hasSuffix("✔ applied revision main@sha1:\(try repo.git("rev-parse", "HEAD"))\n"), reverted.stderr)
        XCTAssertEqual(try names("configmaps").filter { $0 != "kube-root-ca.crt" }, ["podinfo-config"])
        let events = try kubectl("get", "events", "-n", ns, "--field-selector", "involvedObject.kind=Kustomization", "-o", "jsonpath={.items[*].reason}")
        XCTAssertTrue(events.stdout.contains("ReconciliationSucceeded") && events.stdout.contains("Progressing"), events.stdout)
    }

    func testCustomResourceDefinitionAndItsObjectsInOneRevision() throws {
        let id = UUID().uuidString.prefix(6).lowercased()
        let group = "k\(id).example.com"
        let crd = """
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata:
          name: pets.\(group)
        spec:
          group: \(group)
          names: {kind: Pet, listKind: PetList, plural: pets, singular: pet}
          scope: Namespaced
          versions:
          - name: v1
            served: true
            storage: true
            schema:
              openAPIV3Schema:
                type: object
                properties:
                  spec:
                    type: object
                    properties:
                      sound: {type: string}

        """
        _ = try source(["crds/pet.yaml": crd, "apps/rex.yaml": "apiVersion: \(group)/v1\nkind: Pet\nmetadata:\n  name: rex\nspec:\n  sound: woof\n"])
        let r = try fluxs(["create", "kustomization", "pets", "--source=GitRepository/fleet", "--path=./", "--prune=true", "--interval=10m",
                           "--target-namespace=\(apps)"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try kubectl("get", "pets.\(group)", "rex", "-n", apps, "-o", "jsonpath={.spec.sound}").stdout, "woof")
    }

    func testFailuresChangeNothingAndSayWhy() throws {
        let repo = try source(["apps/podinfo/deployment.yaml": deployment, "apps/podinfo/config.yaml": config])
        XCTAssertEqual(try fluxs(["create", "kustomization", "podinfo", "--source=GitRepository/fleet", "--path=./apps/podinfo", "--prune=true",
                                  "--interval=10m", "--target-namespace=\(apps)"]).status, 0)
        let good = try status("podinfo", ".status.lastAppliedRevision")
        // A build error: the objects of the last good revision stay, nothing is pruned.
        try repo.commit(["apps/podinfo/kustomization.yaml": "resources:\n- deployment.yaml\n- missing.yaml\n"], "broken")
        let broken = try fluxs(["reconcile", "kustomization", "podinfo", "--with-source"])
        XCTAssertEqual(broken.status, 1)
        XCTAssertTrue(broken.stderr.contains("✗ Kustomization reconciliation failed: kustomize build failed:") &&
                      broken.stderr.contains("apps/podinfo/missing.yaml") && !broken.stderr.contains("fluxs-ks-"), broken.stderr)
        XCTAssertEqual(try ready("podinfo").reason, "BuildFailed")
        XCTAssertEqual(try status("podinfo", ".status.lastAppliedRevision"), good)
        XCTAssertEqual(try status("podinfo", ".status.lastAttemptedRevision"), "main@sha1:\(try repo.git("rev-parse", "HEAD"))")
        XCTAssertEqual(try status("podinfo", ".status.conditions[?(@.type==\"Reconciling\")].reason"), "ProgressingWithRetry")
        XCTAssertEqual(try names("configmaps").filter { $0 != "kube-root-ca.crt" }, ["podinfo-config"])
        // An object the API server rejects: the dry run stops it before anything is applied.
        try repo.commit(["apps/podinfo/kustomization.yaml": nil,
                         "apps/podinfo/config.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: podinfo-config\ndata: {color: green}\n",
                         "apps/podinfo/bad.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad\ndata:\n  list: [1, 2]\n"], "invalid")
        let invalid = try fluxs(["reconcile", "kustomization", "podinfo", "--with-source"])
        XCTAssertEqual(invalid.status, 1)
        XCTAssertTrue(invalid.stderr.contains("ConfigMap/\(apps)/bad dry-run failed"), invalid.stderr)
        XCTAssertEqual(try ready("podinfo").reason, "ReconciliationFailed")
        XCTAssertEqual(try kubectl("get", "configmap", "podinfo-config", "-n", apps, "-o", "jsonpath={.data.color}").stdout, "blue")
        // A service account without rights: the dry run is forbidden (impersonated), so nothing is applied.
        let impersonating = try fluxs(["create", "kustomization", "tenant", "--source=GitRepository/fleet", "--path=./apps/podinfo",
                                       "--prune=true", "--interval=10m", "--target-namespace=\(apps)", "--service-account=tenant"])
        XCTAssertEqual(impersonating.status, 1)
        XCTAssertTrue(impersonating.stderr.contains("dry-run failed (Forbidden): ") &&
                      impersonating.stderr.contains("is forbidden: User \"system:serviceaccount:\(ns):tenant\" cannot patch resource"), impersonating.stderr)
        // A missing source.
        XCTAssertEqual(try fluxs(["create", "kustomization", "orphan", "--source=GitRepository/nope", "--path=./", "--prune=true",
                                  "--interval=10m"]).status, 1)
        XCTAssertEqual(try ready("orphan").message, "Source 'GitRepository/\(ns)/nope' not found")
        XCTAssertEqual(try ready("orphan").reason, "ArtifactFailed")
    }

    func testEventsAreSentToMatchingAlerts() throws {
        let sink = try TestEnv.require("FLUXS_TEST_WEBHOOK")["FLUXS_TEST_WEBHOOK"]!
        func requests() throws -> [[String: Any]] {
            let data = Data(try TestEnv.run("curl", ["-sf", "\(sink)/__sink/requests"]).stdout.utf8)
            let all = (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["requests"] as? [[String: Any]] ?? []
            return all.filter { ($0["path"] as? String ?? "").hasPrefix("/\(ns)/") }
        }
        func body(_ r: [String: Any]) throws -> [String: Any] { r["body"] as? [String: Any] ?? [:] }
        let repo = try source(["apps/podinfo/config.yaml": config])
        XCTAssertEqual(try kubectl("create", "secret", "generic", "hmac", "-n", ns, "--from-literal=token=s3cret",
                                   "--from-literal=address=\(sink)/\(ns)/hmac").status, 0)
        for (name, args) in [("slack", ["--type=slack", "--channel=ops", "--address=\(sink)/\(ns)/slack"]),
                             ("generic", ["--type=generic", "--address=\(sink)/\(ns)/generic"]),
                             ("hmac", ["--type=generic-hmac", "--secret-ref=hmac"]),
                             ("errors", ["--type=generic", "--address=\(sink)/\(ns)/errors"])] {
            XCTAssertEqual(try fluxs(["create", "alert-provider", name] + args).status, 0)
        }
        for (name, args) in [("slack", ["--provider-ref=slack", "--event-source=Kustomization/*", "--event-severity=info"]),
                             ("errors", ["--provider-ref=errors", "--event-source=Kustomization/*", "--event-severity=error"])] {
            XCTAssertEqual(try fluxs(["create", "alert", name] + args).status, 0)
        }
        for (name, list) in [("generic", "exclusionList"), ("hmac", "inclusionList")] {
            let yaml = """
            apiVersion: notification.toolkit.fluxcd.io/v1beta3
            kind: Alert
            metadata: {name: \(name), namespace: \(ns)}
            spec:
              providerRef: {name: \(name)}
              eventSources: [{kind: Kustomization, name: podinfo}]
              \(list): ["^Reconciliation finished"]
            """
            XCTAssertEqual(try TestEnv.run("kubectl", ["apply", "-f", "-"], stdin: yaml).status, 0)
        }
        let r = try fluxs(["create", "kustomization", "podinfo", "--source=GitRepository/fleet", "--path=./apps/podinfo", "--prune=true",
                           "--interval=10m", "--target-namespace=\(apps)"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let revision = "main@sha1:\(try repo.git("rev-parse", "HEAD"))"
        let sent = try requests()
        let byPath = Dictionary(grouping: sent) { $0["path"] as? String ?? "" }
        // Slack: the change set, as notification-controller formats it (the success is a commit status update, which
        // notification-controller sends only to Git and generic providers).
        let slack = try XCTUnwrap(byPath["/\(ns)/slack"])
        XCTAssertEqual(slack.count, 1)
        let attachment = try XCTUnwrap((try body(slack[0])["attachments"] as? [[String: Any]])?.first)
        XCTAssertEqual(try body(slack[0])["channel"] as? String, "ops")
        XCTAssertEqual(try body(slack[0])["username"] as? String, "kustomize-controller")
        XCTAssertEqual(attachment["author_name"] as? String, "kustomization/podinfo.\(ns)")
        XCTAssertEqual(attachment["text"] as? String, "ConfigMap/\(apps)/podinfo-config created")
        XCTAssertEqual(attachment["color"] as? String, "good")
        XCTAssertEqual((attachment["fields"] as? [[String: Any]])?.first?["value"] as? String, revision)
        // Generic: the event itself; the exclusion list drops the success message.
        let generic = try XCTUnwrap(byPath["/\(ns)/generic"])
        XCTAssertEqual(generic.count, 1)
        let event = try body(generic[0])
        XCTAssertEqual((event["involvedObject"] as? [String: Any])?["kind"] as? String, "Kustomization")
        XCTAssertEqual(event["severity"] as? String, "info")
        XCTAssertEqual(event["reason"] as? String, "Progressing")
        XCTAssertEqual((event["metadata"] as? [String: String])?["revision"], revision)
        XCTAssertEqual((generic[0]["headers"] as? [String: String])?["gotk-component"], "kustomize-controller")
        // generic-hmac: only the success message (inclusion list), signed with the Secret's token.
        let hmac = try XCTUnwrap(byPath["/\(ns)/hmac"])
        XCTAssertEqual(hmac.count, 1)
        let raw = hmac[0]["raw"] as? String ?? ""
        XCTAssertTrue(raw.contains("Reconciliation finished in"), raw)
        let expected = try TestEnv.run("sh", ["-c", "printf %s \"$0\" | openssl dgst -sha256 -hmac s3cret -r | cut -d' ' -f1", raw]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual((hmac[0]["headers"] as? [String: String])?["X-Signature"], "sha256=\(expected)")
        // The error-only alert got nothing from a successful reconciliation; a failure reaches it.
        XCTAssertNil(byPath["/\(ns)/errors"])
        try repo.commit(["apps/podinfo/kustomization.yaml": "resources: [missing.yaml]\n"], "broken")
        XCTAssertEqual(try fluxs(["reconcile", "kustomization", "podinfo", "--with-source"]).status, 1)
        let errors = try requests().filter { $0["path"] as? String == "/\(ns)/errors" }
        XCTAssertEqual(errors.count, 1)
        XCTAssertEqual(try body(errors[0])["severity"] as? String, "error")
        XCTAssertEqual(try body(errors[0])["reason"] as? String, "BuildFailed")
        // A provider that fails: a warning that names the Provider, never its address; the reconciliation still succeeds.
        try repo.commit(["apps/podinfo/kustomization.yaml": nil], "fixed")
        let fail = try JSONSerialization.data(withJSONObject: ["count": 10, "status": 500])
        XCTAssertEqual(try TestEnv.run("curl", ["-s", "-o", "/dev/null", "-X", "POST", "--data-binary", String(decoding: fail, as: UTF8.self), "\(sink)/__sink/fail"]).status, 0)
        let warned = try fluxs(["reconcile", "kustomization", "podinfo", "--with-source"])
        XCTAssertEqual(warned.status, 0, warned.stderr)
        // (Nothing changed, so only the success goes out: to the generic-hmac provider, whose inclusion list takes it.)
        XCTAssertTrue(warned.stderr.contains("failed to send notification for Kustomization/\(ns)/podinfo through Provider \(ns)/hmac: postMessage failed: HTTP 500"), warned.stderr)
        XCTAssertFalse(warned.stderr.contains(sink), warned.stderr)
        _ = try TestEnv.run("curl", ["-s", "-o", "/dev/null", "-X", "POST", "--data-binary", "{\"count\": 0}", "\(sink)/__sink/fail"])
    }

    func testHealthChecksAndDependencies() throws {
        _ = try source(["apps/podinfo/deployment.yaml": deployment])
        let unhealthy = try fluxs(["create", "kustomization", "podinfo", "--source=GitRepository/fleet", "--path=./apps/podinfo", "--prune=true",
                                   "--interval=10m", "--target-namespace=\(apps)", "--health-check=Deployment/podinfo.\(apps)",
                                   "--health-check-timeout=2s"])
        XCTAssertEqual(unhealthy.status, 1)
        XCTAssertTrue(unhealthy.stderr.contains("health check failed after") &&
                      unhealthy.stderr.contains("timeout waiting for: [Deployment/\(apps)/podinfo status: 'InProgress']"), unhealthy.stderr)
        XCTAssertEqual(try ready("podinfo").reason, "HealthCheckFailed")
        XCTAssertEqual(try status("podinfo", ".status.conditions[?(@.type==\"Healthy\")].status"), "False")
        // A dependent waits for it.
        XCTAssertEqual(try fluxs(["create", "kustomization", "after", "--source=GitRepository/fleet", "--path=./apps/podinfo", "--prune=true",
                                  "--interval=10m", "--target-namespace=\(apps)", "--depends-on=podinfo"]).status, 1)
        XCTAssertEqual(try ready("after").reason, "DependencyNotReady")
        XCTAssertEqual(try ready("after").message, "Dependencies do not meet ready condition, retrying in 30s")
        // The rollout finishes (the simulator has no controllers: the test writes the Deployment's status).
        let st = "{\"status\":{\"observedGeneration\":1,\"replicas\":2,\"updatedReplicas\":2,\"readyReplicas\":2,\"availableReplicas\":2}}"
        XCTAssertEqual(try kubectl("patch", "deployment", "podinfo", "-n", apps, "--subresource=status", "--type=merge", "-p", st).status, 0)
        let healthy = try fluxs(["reconcile", "kustomization", "podinfo"])
        XCTAssertEqual(healthy.status, 0, healthy.stderr)
        XCTAssertTrue(try status("podinfo", ".status.conditions[?(@.type==\"Healthy\")].message").hasPrefix("Health check passed in "))
        let dependent = try fluxs(["reconcile", "kustomization", "after"])
        XCTAssertEqual(dependent.status, 0, dependent.stderr)
        XCTAssertEqual(try ready("after").reason, "ReconciliationSucceeded")
    }
}
