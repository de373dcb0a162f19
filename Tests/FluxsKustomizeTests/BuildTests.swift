import Foundation
import FluxsKustomize
import FluxsTestSupport
import XCTest

/// Each feature family built by fluxs and by `kubectl kustomize` (the oracle), text compared.
final class KustomizeBuildTests: XCTestCase {
    func tree(_ files: [String: String]) throws -> URL {
        let d = try TestEnv.tempDir("fluxs-kz")
        for (p, t) in files { try TestEnv.write(t, to: d.appendingPathComponent(p)) }
        return d
    }

    func assertSameAsKubectl(_ files: [String: String], dir: String = "", file: StaticString = #filePath, line: UInt = #line) throws {
        let root = try tree(files)
        defer { try? FileManager.default.removeItem(at: root) }
        let path = dir.isEmpty ? root.path : root.appendingPathComponent(dir).path
        let want = try TestEnv.kustomize([path])
        XCTAssertEqual(want.status, 0, want.stderr, file: file, line: line)
        let got = try Kustomizer().render(path)
        XCTAssertEqual(got, want.stdout, file: file, line: line)
    }

    let deployment = """
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
    spec:
      selector:
        matchLabels: {app: web}
      template:
        metadata:
          labels: {app: web}
        spec:
          containers:
          - name: web
            image: nginx:1.25
            envFrom:
            - configMapRef: {name: settings}
            volumeMounts:
            - {name: cfg, mountPath: /etc/cfg}
          volumes:
          - name: cfg
            configMap: {name: settings}

    """

    func testGeneratorsPrefixNamespaceAndNameReferences() throws {
        try assertSameAsKubectl([
            "base/deploy.yaml": deployment,
            "base/kustomization.yaml": "resources: [deploy.yaml]\nconfigMapGenerator:\n- name: settings\n  literals: [LEVEL=debug, 'QUOTE=\"x\"']\n",
            "prod/kustomization.yaml": """
            resources: [../base]
            namespace: prod
            namePrefix: prod-
            commonLabels: {env: prod}
            commonAnnotations: {owner: team-a}
            secretGenerator:
            - name: creds
              literals: [password=s3cr3t-value-long-enough-to-wrap-the-base64-line-at-seventy-characters-ok]
            configMapGenerator:
            - name: settings
              behavior: merge
              literals: [EXTRA=1]
            images:
            - name: nginx
              newTag: "1.26"
            replicas:
            - name: web
              count: 3

            """,
        ], dir: "prod")
    }

    func testStrategicMergeAndJSON6902Patches() throws {
        try assertSameAsKubectl([
            "deploy.yaml": deployment,
            "patch.yaml": """
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: web
            spec:
              template:
                spec:
                  containers:
                  - name: web
                    resources: {limits: {cpu: 100m}}
                  - name: sidecar
                    image: busybox
                  volumes:
                  - name: cfg
                    $patch: delete

            """,
            "kustomization.yaml": """
            resources: [deploy.yaml]
            patches:
            - path: patch.yaml
            - target: {kind: Deployment, name: "w.*"}
              patch: |-
                - op: add
                  path: /metadata/annotations
                  value: {patched: "yes"}
                - op: replace
                  path: /spec/template/spec/containers/0/image
                  value: nginx:latest

            """,
        ])
    }

    func testLegacyOrderAndComponents() throws {
        try assertSameAsKubectl([
            "app.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {selector: {app: web}}\n---\n" + deployment
                + "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: apps}\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: web}\n",
            "comp/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nlabels:\n- pairs: {tier: frontend}\n  includeTemplates: true\n",
            "kustomization.yaml": "resources: [app.yaml]\ncomponents: [comp]\n",
        ])
    }

    func testNameReferencesFollowKustomizesSelectionRules() throws {
        // Subjects in another namespace, roleRef by group and kind, webhook services (name and namespace follow),
        // a plugin PrefixSuffixTransformer limited by its field specs.
        try assertSameAsKubectl([
            "base/rbac.yaml": """
            apiVersion: v1
            kind: ServiceAccount
            metadata: {name: runner}
            ---
            apiVersion: rbac.authorization.k8s.io/v1
            kind: Role
            metadata: {name: reader}
            rules: []
            ---
            apiVersion: rbac.authorization.k8s.io/v1
            kind: RoleBinding
            metadata: {name: read}
            roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}
            subjects:
            - {kind: ServiceAccount, name: runner, namespace: base-ns}
            - {kind: User, name: someone}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: admission}
            ---
            apiVersion: admissionregistration.k8s.io/v1
            kind: ValidatingWebhookConfiguration
            metadata: {name: hooks}
            webhooks:
            - name: a.example.com
              clientConfig:
                service: {name: admission, namespace: base-ns, path: /check}

            """,
            "base/kustomization.yaml": "namespace: base-ns\nresources: [rbac.yaml]\n",
            "overlay/suffix.yaml": "apiVersion: builtin\nkind: PrefixSuffixTransformer\nmetadata: {name: s}\nsuffix: -x\nfieldSpecs:\n- {path: metadata/name, kind: Role}\n",
            "overlay/kustomization.yaml": "resources: [../base]\nnamespace: prod\nnamePrefix: p-\ntransformers: [suffix.yaml]\n",
        ], dir: "overlay")
    }

    func testNameReferenceErrorsAsKustomize() throws {
        let blank = try tree(["kustomization.yaml": "resources: [r.yaml]\n", "r.yaml": """
        apiVersion: rbac.authorization.k8s.io/v1
        kind: RoleBinding
        metadata: {name: test}
        subjects:
        - kind: ServiceAccount
          name: test
          namespace:
        roleRef: {kind: Role, name: test, apiGroup: rbac.authorization.k8s.io}

        """])
        defer { try? FileManager.default.removeItem(at: blank) }
        XCTAssertThrowsError(try Kustomizer().build(blank.path)) { e in
            XCTAssertEqual("\(e)", "Invalid Input: namespace is blank for resource \"RoleBinding.v1.rbac.authorization.k8s.io/test.[noNs]\"")
        }
        // Two service accounts once called "sa" whose prefixes and suffixes both fit the binding's: ambiguous.
        let two = try tree([
            "base/kustomization.yaml": "namePrefix: pfx-\nnameSuffix: -sfx\nresources: [sa.yaml, rb.yaml]\n",
            "base/sa.yaml": "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa}\n",
            "base/rb.yaml": "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: rb}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}\nsubjects:\n- {kind: ServiceAccount, name: sa}\n",
            "a/sa.yaml": "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa}\n",
            "a/kustomization.yaml": "namePrefix: a-\nnameSuffix: -x\nresources: [sa.yaml, ../base]\n",
        ])
        defer { try? FileManager.default.removeItem(at: two) }
        let oracle = try TestEnv.kustomize([two.appendingPathComponent("a").path])
        XCTAssertNotEqual(oracle.status, 0)
        XCTAssertTrue(oracle.stderr.contains("found multiple possible referrals: ServiceAccount.v1.[noGrp]/a-sa-x.[noNs], ServiceAccount.v1.[noGrp]/a-pfx-sa-sfx-x.[noNs]"), oracle.stderr)
        XCTAssertThrowsError(try Kustomizer().build(two.appendingPathComponent("a").path)) { e in
            XCTAssertTrue("\(e)".contains("found multiple possible referrals: ServiceAccount.v1.[noGrp]/a-sa-x.[noNs], ServiceAccount.v1.[noGrp]/a-pfx-sa-sfx-x.[noNs]"), "\(e)")
        }
    }

    func testCRDDefinitionsAddNameReferencesAndLabelFields() throws {
        let defs = """
        {
          "example.com/pets/v1.Pet": {"Schema": {"properties": {
            "apiVersion": {"type": "string"}, "kind": {"type": "string"},
            "metadata": {"$ref": "k8s.io/apimachinery/pkg/apis/meta/v1.ObjectMeta"},
            "spec": {"$ref": "example.com/pets/v1.PetSpec"}}}, "Dependencies": []},
          "example.com/pets/v1.PetSpec": {"Schema": {"properties": {
            "vetSecret": {"x-kubernetes-object-ref-api-version": "v1", "x-kubernetes-object-ref-kind": "Secret",
                          "$ref": "k8s.io/api/core/v1.LocalObjectReference"},
            "food": {"x-kubernetes-object-ref-api-version": "v1", "x-kubernetes-object-ref-kind": "ConfigMap",
                     "x-kubernetes-object-ref-name-key": "mapName"},
            "owners": {"x-kubernetes-label-selector": ""},
            "notes": {"x-kubernetes-annotation": ""}}}, "Dependencies": []}
        }
        """
        try assertSameAsKubectl([
            "defs.json": defs,
            "pet.yaml": "apiVersion: example.com/v1\nkind: Pet\nmetadata: {name: rex}\nspec:\n  vetSecret: {name: vet}\n  food: {mapName: menu}\n  owners: {}\n  notes: {}\n",
            "kustomization.yaml": """
            crds: [defs.json]
            resources: [pet.yaml]
            namePrefix: p-
            commonLabels: {team: a}
            commonAnnotations: {note: x}
            secretGenerator:
            - name: vet
              literals: [k=v]
            configMapGenerator:
            - name: menu
              literals: [food=bones]

            """,
        ])
    }

    func testTransformerAnnotationsRecordEachBuiltinTransformer() throws {
        try assertSameAsKubectl([
            "base/deploy.yaml": deployment,
            "base/kustomization.yaml": "resources: [deploy.yaml]\nnamePrefix: b-\ncommonLabels: {tier: web}\n",
            "prod/patch.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 2}\n",
            "prod/kustomization.yaml": """
            resources: [../base]
            namespace: prod
            nameSuffix: -p
            labels:
            - pairs: {env: prod}
            commonAnnotations: {owner: a}
            patches:
            - path: patch.yaml
            images:
            - {name: nginx, newTag: "1.27"}
            replicas:
            - {name: b-web, count: 4}
            configMapGenerator:
            - name: settings
              literals: [A=1]
            buildMetadata: [transformerAnnotations, originAnnotations]

            """,
        ], dir: "prod")
    }

    func testIAMPolicyGenerator() throws {
        try assertSameAsKubectl([
            "kustomization.yaml": "namespace: apps\ngenerators: [gke.yaml]\n",
            "gke.yaml": "apiVersion: builtin\nkind: IAMPolicyGenerator\nmetadata: {name: g}\ncloud: gke\nkubernetesService: {name: ksa}\nserviceAccount: {name: gsa, projectId: proj}\n",
        ])
        let aws = try tree(["kustomization.yaml": "generators: [g.yaml]\n",
                            "g.yaml": "apiVersion: builtin\nkind: IAMPolicyGenerator\nmetadata: {name: g}\ncloud: aws\nkubernetesService: {name: k}\nserviceAccount: {name: s, projectId: p}\n"])
        defer { try? FileManager.default.removeItem(at: aws) }
        XCTAssertThrowsError(try Kustomizer().build(aws.path)) { e in
            XCTAssertTrue("\(e)".contains("cloud provider 'aws' not supported"), "\(e)")
        }
    }

    func testErrorsNameTheProblem() throws {
        let outside = try tree(["k/kustomization.yaml": "resources: [../secret.yaml]\n", "secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n"])
        defer { try? FileManager.default.removeItem(at: outside) }
        XCTAssertThrowsError(try Kustomizer().build(outside.appendingPathComponent("k").path)) { e in
            XCTAssertTrue("\(e)".contains("is not in or below"), "\(e)")
        }
        let validators = try tree(["kustomization.yaml": "validators:\n- v.yaml\n"])
        defer { try? FileManager.default.removeItem(at: validators) }
        XCTAssertThrowsError(try Kustomizer().build(validators.path)) { e in
            XCTAssertTrue("\(e)".contains("field 'validators' is not supported"), "\(e)")
        }
        let crds = try tree(["kustomization.yaml": "crds:\n- crd.json\n"])
        defer { try? FileManager.default.removeItem(at: crds) }
        XCTAssertThrowsError(try Kustomizer().build(crds.path)) { e in
            XCTAssertTrue("\(e)".contains("crd.json"), "\(e)")
        }
        let vars = try tree(["kustomization.yaml": "vars:\n- name: X\n  objref: {kind: Service, name: a, apiVersion: v1}\n"])
        defer { try? FileManager.default.removeItem(at: vars) }
        XCTAssertThrowsError(try Kustomizer().build(vars.path)) { e in
            XCTAssertTrue("\(e)".contains("var '{X Service.v1.[noGrp] {metadata.name}}' cannot be mapped"), "\(e)")  // kubectl prints the var struct
        }
        let missing = try tree(["kustomization.yaml": "resources: [nope.yaml]\n"])
        defer { try? FileManager.default.removeItem(at: missing) }
        XCTAssertThrowsError(try Kustomizer().build(missing.path)) { e in
            XCTAssertTrue("\(e)".contains("nope.yaml") && "\(e)".contains("no such file or directory"), "\(e)")
        }
        let none = try tree(["a.yaml": "x: 1\n"])
        defer { try? FileManager.default.removeItem(at: none) }
        XCTAssertThrowsError(try Kustomizer().build(none.path)) { e in
            XCTAssertTrue("\(e)".contains("unable to find one of 'kustomization.yaml'"), "\(e)")
        }
    }

    func testVarsReplacementsAndPluginConfigs() throws {
        try assertSameAsKubectl([
            "deploy.yaml": deployment,
            "svc.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  ports: [{port: 8080}]\n",
            "prefix.yaml": "apiVersion: builtin\nkind: PrefixSuffixTransformer\nmetadata: {name: p}\nprefix: team-\nfieldSpecs:\n- path: metadata/name\n",
            "kustomization.yaml": """
            resources: [deploy.yaml, svc.yaml]
            configMapGenerator:
            - name: settings
              literals: [HOST=example.org]
            vars:
            - name: SVC
              objref: {kind: Service, name: web, apiVersion: v1}
            replacements:
            - source: {kind: ConfigMap, name: settings, fieldPath: data.HOST}
              targets:
              - select: {kind: Deployment, name: web}
                fieldPaths: [spec.template.metadata.annotations.host]
                options: {create: true}
            patches:
            - target: {kind: Deployment}
              patch: |-
                - op: add
                  path: /spec/template/spec/containers/0/args
                  value: ["--upstream=$(SVC)"]
            transformers: [prefix.yaml]

            """,
        ])
    }

    func testOpenAPISchemaMakesCustomKindsStrategic() throws {
        let schema = #"{"definitions":{"v1.Pet":{"properties":{"spec":{"properties":{"toys":{"items":{"type":"object"},"type":"array","x-kubernetes-patch-merge-key":"name","x-kubernetes-patch-strategy":"merge"}},"type":"object"}},"type":"object","x-kubernetes-group-version-kind":[{"group":"example.com","kind":"Pet","version":"v1"}]}}}"#
        try assertSameAsKubectl([
            "pet.yaml": "apiVersion: example.com/v1\nkind: Pet\nmetadata: {name: rex}\nspec:\n  toys:\n  - {name: ball, color: red}\n",
            "schema.json": schema,
            "kustomization.yaml": """
            resources: [pet.yaml]
            openapi: {path: schema.json}
            patches:
            - patch: |-
                apiVersion: example.com/v1
                kind: Pet
                metadata: {name: rex}
                spec:
                  toys:
                  - {name: bone, color: white}

            """,
        ])
    }
}
