import Foundation
import FluxsKustomize
import FluxsTestSupport
import XCTest

/// Rules found by running kustomize's own krusty test trees against `kubectl kustomize` (docs/kustomize.md,
/// "Rules from the krusty suite"). Our trees, written for each rule: each is built by fluxs and by kubectl (the oracle)
/// and compared byte for byte, and the rule's effect is asserted on the output too.
final class KustomizeKrustyRulesTests: XCTestCase {
    let oracle = KustomizeOracle(prefix: "fluxs-kz-krusty") { try Kustomizer().render($0) }

    func tree(_ files: [String: String]) throws -> URL { try oracle.tree(files) }

    func build(_ files: [String: String], at sub: String = "", file: StaticString = #filePath, line: UInt = #line) throws -> String {
        try oracle.build(files, at: sub, file: file, line: line)
    }

    /// Both refuse the tree; fluxs's message contains `message` (kubectl's words).
    func refuse(_ files: [String: String], at sub: String = "", _ message: String, file: StaticString = #filePath, line: UInt = #line) throws {
        try oracle.refuse(files, at: sub, message, file: file, line: line)
    }

    /// RemoveBuildAnnotations (api/resource/resource.go) rewrites every object's annotations as sorted strings: a
    /// scalar keeps its text as written (`1.50`, `0x1F`, `~`, dates), mappings and sequences become "", and an empty
    /// or null `annotations:` is removed.
    func testAnnotationsAreWrittenBackAsStrings() throws {
        let out = try build([
            "kustomization.yaml": "resources:\n- r.yaml\n",
            "r.yaml": """
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: typed
              annotations:
                port: 8080
                ratio: 1.50
                hex: 0x1F
                happy: true
                tilde: ~
                empty:
                day: 2020-01-01
                nested: {k: v}
                list: [1, 2]
                text: plain
              labels:
                replicas: 5
            ---
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: braces
              annotations: {}
            ---
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: bare
              annotations:

            """,
        ])
        XCTAssertTrue(out.contains("""
              annotations:
                day: "2020-01-01"
                empty: ""
                happy: "true"
                hex: "0x1F"
                list: ""
                nested: ""
                port: "8080"
                ratio: "1.50"
                text: plain
                tilde: "~"
              labels:
                replicas: 5
            """), out)
        XCTAssertEqual(out.components(separatedBy: "annotations").count - 1, 1, out)
    }

    /// NamespaceTransformer.go stores every object's previous id, cluster-scoped and unchanged ones too. So the
    /// previous-name sieve of a name reference also keeps an overlay's unrenamed ClusterRole, and the affix sieve then
    /// prefers it over a sibling overlay's suffixed one (kustomize's TestIssue3489 shape).
    func testNamespaceRecordsEveryPreviousId() throws {
        let base = """
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRole
        metadata: {name: dns}
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRoleBinding
        metadata: {name: viewer}
        roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: dns}
        subjects:
        - {kind: ServiceAccount, name: dns}
        ---
        apiVersion: v1
        kind: ServiceAccount
        metadata: {name: dns}

        """
        let out = try build([
            "base/kustomization.yaml": "resources:\n- r.yaml\n",
            "base/r.yaml": base,
            "public/kustomization.yaml": "resources:\n- ../base\n",
            "private/kustomization.yaml": "resources:\n- ../base\nnameSuffix: -private\n",
            "kustomization.yaml": "namespace: kube-system\nresources:\n- public\n- private\n",
        ])
        XCTAssertTrue(out.contains("""
              name: viewer
            roleRef:
              apiGroup: rbac.authorization.k8s.io
              kind: ClusterRole
              name: dns
            subjects:
            - kind: ServiceAccount
              name: dns
              namespace: kube-system
            """), out)
        XCTAssertTrue(out.contains("""
              name: viewer-private
            roleRef:
              apiGroup: rbac.authorization.k8s.io
              kind: ClusterRole
              name: dns-private
            """), out)
    }

    /// buildMetadata: [transformerAnnotations] records transformers configured by `transformers:` plugin configs
    /// too (loader.go OriginFromCustomPlugin): configuredIn is the config's file (the kustomization file for an inline
    /// config), configuredBy its apiVersion, kind, name and namespace.
    func testPluginTransformersAreRecorded() throws {
        let out = try build([
            "kustomization.yaml": """
            resources:
            - cm.yaml
            buildMetadata: [transformerAnnotations]
            transformers:
            - |-
              apiVersion: builtin
              kind: NamespaceTransformer
              metadata:
                name: inline-ns
                namespace: team
              fieldSpecs:
              - path: metadata/namespace
                create: true
            - labels.yaml

            """,
            "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n",
            "labels.yaml": """
            apiVersion: builtin
            kind: LabelTransformer
            metadata: {name: add-team}
            labels: {team: a}
            fieldSpecs:
            - {path: metadata/labels, create: true}

            """,
        ])
        XCTAssertTrue(out.contains("""
                alpha.config.kubernetes.io/transformations: |
                  - configuredIn: kustomization.yaml
                    configuredBy:
                      apiVersion: builtin
                      kind: NamespaceTransformer
                      name: inline-ns
                      namespace: team
                  - configuredIn: labels.yaml
                    configuredBy:
                      apiVersion: builtin
                      kind: LabelTransformer
                      name: add-team
            """), out)
    }

    /// ApplySmPatch stores the previous id (kind included) when a patch may change the name or kind, and a patch
    /// without a target finds its object by one id, current or earlier (GetMatchingResourcesByAnyId): the overlay's
    /// patch of the old kind and old name reaches the renamed, rekinded object; old kind with the new name matches no id.
    func testKindChangeKeepsThePreviousIdForPatches() throws {
        func files(_ overlayPatchName: String) -> [String: String] {
            [
                "base/kustomization.yaml": """
                resources:
                - app.yaml
                patches:
                - target: {kind: Deployment}
                  options: {allowNameChange: true, allowKindChange: true}
                  patch: |-
                    apiVersion: apps/v1
                    kind: StatefulSet
                    metadata: {name: db}

                """,
                "base/app.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app}\nspec: {replicas: 1}\n",
                "overlay/kustomization.yaml": "resources:\n- ../base\npatches:\n- path: replicas.yaml\n",
                "overlay/replicas.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: \(overlayPatchName)}\nspec: {replicas: 7}\n",
            ]
        }
        let out = try build(files("app"), at: "overlay")
        XCTAssertEqual(out, "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: db\nspec:\n  replicas: 7\n")
        try refuse(files("db"), at: "overlay", "no matches for Id Deployment.v1.apps/db.[noNs]")
    }

    /// types.Kustomization.Unmarshal decodes with DisallowUnknownFields: an unknown field inside a `labels`, patch
    /// target, image, generator option or replacement entry is refused like one at the top.
    func testUnknownNestedKustomizationFieldsAreRefused() throws {
        let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n"
        for (entry, field) in [
            ("labels:\n- pairs: {a: b}\n  includeVolumeClaimTemplates: true\n", "includeVolumeClaimTemplates"),
            ("labels:\n- pairs: {a: b}\n  fields:\n  - {path: metadata/labels, creat: true}\n", "creat"),
            ("patches:\n- patch: '[]'\n  target: {kind: ConfigMap, labelselector: x, names: cm}\n", "names"),
            ("images:\n- {name: nginx, newTags: v2}\n", "newTags"),
            ("configMapGenerator:\n- name: g\n  literals: [a=b]\n  options: {disableHash: true}\n", "disableHash"),
            ("replacements:\n- source: {kind: ConfigMap, fieldPath: metadata.name}\n  targets:\n  - select: {kind: ConfigMap}\n    fieldpaths: [data.x]\n    option: {create: true}\n", "option"),
        ] {
            try refuse(["kustomization.yaml": "resources:\n- cm.yaml\n" + entry, "cm.yaml": cm], "invalid Kustomization: json: unknown field \"\(field)\"")
        }
    }

    /// PatchTransformer.go Config: a patch text of no documents (comments, blank lines, `---`, `null`) qualifies both
    /// as strategic merge and as JSON and is refused, with or without a target; an empty file is an empty JSON patch,
    /// refused without a target and a no-op with one; a blank inline patch is no patch.
    func testPatchesWithoutDocuments() throws {
        let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n"
        for (name, content) in [("comments.yaml", "# nothing here\n"), ("blank.yaml", "  \n\n"), ("dashes.yaml", "---\n"), ("null.yaml", "null\n")] {
            for target in ["", "  target: {kind: ConfigMap}\n"] {
                try refuse(["kustomization.yaml": "resources:\n- cm.yaml\npatches:\n- path: \(name)\n" + target, "cm.yaml": cm, name: content],
                           "illegally qualifies as both an SM and JSON patch: [path: \"\(name)\"]")
            }
        }
        try refuse(["kustomization.yaml": "resources:\n- cm.yaml\npatches:\n- patch: '# c'\n", "cm.yaml": cm],
                   "illegally qualifies as both an SM and JSON patch: [patch: \"# c\"]")
        try refuse(["kustomization.yaml": "resources:\n- cm.yaml\npatches:\n- path: empty.yaml\n", "cm.yaml": cm, "empty.yaml": ""],
                   "must specify a target for JSON patch [path: \"empty.yaml\"]")
        try refuse(["kustomization.yaml": "resources:\n- cm.yaml\npatches:\n- patch: '  '\n", "cm.yaml": cm], "must specify one of patch and path")
        let out = try build(["kustomization.yaml": "resources:\n- cm.yaml\npatches:\n- path: empty.yaml\n  target: {kind: ConfigMap}\n",
                             "cm.yaml": cm, "empty.yaml": ""])
        XCTAssertEqual(out, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n")
    }

    /// image.IsImageMatched: an `images:` name is a regular expression, `^` + name + optional tag and digest + `$`,
    /// searched (the name is not grouped: `redis|nginx` is an alternation of the whole pattern). An invalid one fails
    /// the build (kubectl v5.5 crashes on it once it compares an image).
    func testImageNamesAreRegularExpressions() throws {
        let d = """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: d}
        spec:
          template:
            spec:
              containers:
              - {name: a, image: nginx:1.0}
              - {name: b, image: redis}
              - {name: c, image: my-ngin/x:2}
              - {name: e, image: quay.io/nginx}

        """
        let out = try build(["kustomization.yaml": "resources:\n- d.yaml\nimages:\n- {name: 'ngin[a-z]|redis', newTag: v9}\n", "d.yaml": d])
        XCTAssertTrue(out.contains("image: nginx:v9") && out.contains("image: redis:v9"), out)
        XCTAssertTrue(out.contains("image: my-ngin/x:2") && out.contains("image: quay.io/nginx\n"), out)
        let dots = try build(["kustomization.yaml": "resources:\n- d.yaml\nimages:\n- {name: .*nginx, newName: mirror/nginx}\n", "d.yaml": d])
        XCTAssertTrue(dots.contains("image: mirror/nginx:1.0") && dots.contains("image: mirror/nginx\n"), dots)
        let root = try tree(["kustomization.yaml": "resources:\n- d.yaml\nimages:\n- {name: '[', newTag: v2}\n", "d.yaml": d])
        defer { try? FileManager.default.removeItem(at: root) }
        XCTAssertNotEqual(try TestEnv.run("kubectl", ["kustomize", root.path]).status, 0)
        XCTAssertThrowsError(try Kustomizer().render(root.path)) { e in XCTAssertTrue("\(e)".contains("not a valid regular expression"), "\(e)") }
    }

    /// Go's encoding/json matches struct field names case-insensitively, so nested kustomization fields written in
    /// another case (`Pairs`, `NEWTAG`, `Target`, `Options`, a var's `fieldpath`) take effect; string maps keep their keys.
    func testNestedKustomizationFieldsMatchCaseInsensitively() throws {
        let out = try build([
            "kustomization.yaml": """
            resources:
            - d.yaml
            labels:
            - Pairs: {Team: a}
            images:
            - {Name: nginx, NEWTAG: v2}
            configMapGenerator:
            - Name: g
              Literals: [x=y]
              Options: {DisableNameSuffixHash: true}
            vars:
            - name: IMG
              objref: {kind: Deployment, name: d, apiVersion: apps/v1}
              fieldref: {fieldpath: metadata.name}

            """,
            "d.yaml": """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: d}
            spec:
              template:
                spec:
                  containers: [{name: a, image: nginx, args: [$(IMG)]}]

            """,
        ])
        XCTAssertTrue(out.contains("Team: a") && out.contains("image: nginx:v2") && out.contains("name: g\n") && out.contains("- d\n"), out)
    }
}
