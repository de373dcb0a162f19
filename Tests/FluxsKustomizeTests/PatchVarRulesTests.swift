import Foundation
import FluxsKustomize
import FluxsTestSupport
import FluxsYAML
import XCTest

/// The patch, vars and name reference rules audited against kustomize v5.5 (docs/kustomize.md, "Patches (kdiff)",
/// "Vars (kdiff)", "Name references (kdiff)"): each tree is built by fluxs and by `kubectl kustomize` (the oracle)
/// and compared; the expected shape is asserted too, so each test names the rule it checks.
final class KustomizePatchVarRulesTests: XCTestCase {
    let oracle = KustomizeOracle(prefix: "fluxs-kz-prules") { try Kustomizer().render($0) }

    func tree(_ files: [String: String]) throws -> URL { try oracle.tree(files) }

    func build(_ files: [String: String], dir: String = "", file: StaticString = #filePath, line: UInt = #line) throws -> String {
        try oracle.build(files, at: dir, file: file, line: line)
    }

    /// Both refuse the tree; fluxs's message contains `message` (kubectl's words).
    func refuse(_ files: [String: String], _ message: String, file: StaticString = #filePath, line: UInt = #line) throws {
        try oracle.refuse(files, message, file: file, line: line)
    }

    static let deployment = """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          template:
            spec:
              containers:
              - name: main
                image: nginx
                env:
                - {name: A, value: "$(NAME)"}
                - {name: B, value: "$$(NAME)"}
                - {name: C, value: "x-$(NAME)-$(NOPE)"}
                - {name: D, value: "$$$(NAME)"}
                - {name: E, value: "$(REPLICAS)"}

        """

    /// RemoveBuildAnnotations: annotations end as strings of their text; empty ones are removed. A JSON 6902 patch
    /// first round-trips the object through JSON (`0x10` becomes "16", `e:` "null"); a kind of a List in a file of
    /// several documents too.
    func testAnnotationsEndAsStringsOfTheirText() throws {
        let out = try build([
            "cm.yaml": """
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: a
              annotations: {n: 3, b: true, h: 0x10, e: , t: ~, f: 1.50}
              labels: {n: 3}
            ---
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: b
              annotations:
                h: 0x10
                e:
            ---
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: c
              annotations: {}

            """,
            "kustomization.yaml": """
            resources: [cm.yaml]
            patches:
            - target: {name: b}
              patch: |-
                - {op: add, path: /metadata/annotations/x, value: 1}

            """,
        ])
        XCTAssertTrue(out.contains("    b: \"true\"\n    e: \"\"\n    f: \"1.50\"\n    h: \"0x10\"\n    \"n\": \"3\"\n    t: \"~\"\n"), out)
        XCTAssertTrue(out.contains("    e: \"null\"\n    h: \"16\"\n    x: \"1\"\n"), out)
        XCTAssertFalse(out.contains("annotations: {}"), out)
    }

    /// refvar/expand.go DoReplacements: `$$` is one `$`, an unknown `$(NAME)` stays, a whole-value var keeps its type;
    /// only string scalars of varReference fields change.
    func testVarsFollowDoReplacements() throws {
        let out = try build([
            "d.yaml": Self.deployment,
            "kustomization.yaml": """
            resources: [d.yaml]
            replicas: [{name: web, count: 3}]
            vars:
            - {name: NAME, objref: {kind: Deployment, name: web, apiVersion: apps/v1}}
            - {name: REPLICAS, objref: {kind: Deployment, name: web, apiVersion: apps/v1}, fieldref: {fieldpath: spec.replicas}}

            """,
        ])
        XCTAssertTrue(out.contains("value: web\n"), out)
        XCTAssertTrue(out.contains("value: $(NAME)\n"), out)
        XCTAssertTrue(out.contains("value: x-web-$(NOPE)\n"), out)
        XCTAssertTrue(out.contains("value: $web\n"), out)
        XCTAssertTrue(out.contains("value: 3\n"), out)
    }

    /// MergeVars: a var is matched where it is declared, by group, version, kind and name of any id; none there is
    /// "cannot be mapped" even if another base has the object; a list field with a non-string item is refused.
    func testVarsAreMatchedWhereDeclared() throws {
        try refuse([
            "a/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n",
            "a/kustomization.yaml": "resources: [cm.yaml]\n",
            "b/d.yaml": Self.deployment,
            "b/kustomization.yaml": "resources: [d.yaml]\nvars:\n- {name: NAME, objref: {kind: ConfigMap, name: settings, apiVersion: v1}}\n",
            "kustomization.yaml": "resources: [a, b]\n",
        ], "cannot be mapped to a field in the set of known resources")
        try refuse([
            "d.yaml": Self.deployment.replacingOccurrences(of: "image: nginx\n", with: "image: nginx\n        args: [1, \"$(NAME)\"]\n"),
            "kustomization.yaml": "resources: [d.yaml]\nvars:\n- {name: NAME, objref: {kind: Deployment, name: web, apiVersion: apps/v1}}\n",
        ], "invalid value type expect a string")
    }

    /// resWrangler.Select: name and namespace match the original or the current id (not one in between), the
    /// namespace is the effective one (`default` for none), group and version are regular expressions.
    func testPatchTargetsFollowSelect() throws {
        let out = try build([
            "base/d.yaml": Self.deployment,
            "base/kustomization.yaml": "resources: [d.yaml]\nnamePrefix: p-\n",
            "kustomization.yaml": """
            resources: [base]
            nameSuffix: -s
            patches:
            - target: {name: web, namespace: default, group: app.*, version: v.*}
              patch: |-
                - {op: add, path: /metadata/labels, value: {original: "yes"}}
            - target: {name: p-web}
              patch: |-
                - {op: add, path: /metadata/annotations, value: {between: "yes"}}

            """,
        ])
        XCTAssertTrue(out.contains("original: \"yes\""), out)
        XCTAssertTrue(out.contains("between: \"yes\""), out)  // patches run before this level's suffix: p-web is current
    }

    /// PatchTransformer without a target (GetById): the patch's apiVersion must equal the object's; the namespace is
    /// set back after the merge; a field written as nothing (`a:`) in a walked map is dropped; `$patch: delete` list
    /// items naming nothing are not added.
    func testStrategicMergeRules() throws {
        try refuse([
            "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: b}\n",
            "kustomization.yaml": "resources: [cm.yaml]\npatches:\n- patch: |-\n    kind: ConfigMap\n    metadata: {name: x}\n    data: {c: d}\n",
        ], "no resource matches strategic merge patch")
        let out = try build([
            "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n  a:\n  b: null\n",
            "d.yaml": Self.deployment,
            "kustomization.yaml": """
            resources: [cm.yaml, d.yaml]
            patches:
            - patch: |-
                apiVersion: v1
                kind: ConfigMap
                metadata: {name: x, namespace: default}
                data: {c: d}
            - patch: |-
                apiVersion: apps/v1
                kind: Deployment
                metadata: {name: web}
                spec:
                  template:
                    spec:
                      volumes:
                      - {name: gone, $patch: delete}

            """,
        ])
        XCTAssertFalse(out.contains("namespace:"), out)
        XCTAssertFalse(out.contains("  a:"), out)
        XCTAssertTrue(out.contains("  b: null\n"), out)
        XCTAssertFalse(out.contains("gone"), out)
    }

    /// A JSON 6902 patch in YAML is read as YAML 1.1 (sigs.k8s.io/yaml): `n` as a key is false.
    func testJSONPatchIsYAML11() throws {
        let out = try build([
            "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: b}\n",
            "kustomization.yaml": "resources: [cm.yaml]\npatches:\n- target: {kind: ConfigMap}\n  patch: |-\n    - {op: add, path: /spec, value: {n: 1, v: yes}}\n",
        ])
        XCTAssertTrue(out.contains("  \"false\": 1\n  v: true\n"), out)
    }

    /// allowKindChange: the object keeps its earlier kind as an id (replacements and replicas find it by it), and
    /// name references select it as a referrer by its original kind.
    func testKindChangeKeepsTheEarlierKind() throws {
        let out = try build([
            "d.yaml": Self.deployment.replacingOccurrences(of: "image: nginx\n", with: "image: nginx\n        envFrom: [{configMapRef: {name: cfg}}]\n"),
            "kustomization.yaml": """
            resources: [d.yaml]
            namePrefix: p-
            configMapGenerator: [{name: cfg, literals: [a=b]}]
            replicas: [{name: web, count: 2}]
            patches:
            - target: {kind: Deployment}
              options: {allowKindChange: true}
              patch: |-
                apiVersion: apps/v1
                kind: Copy
                metadata: {name: web}

            """,
        ])
        XCTAssertTrue(out.contains("kind: Copy"), out)
        XCTAssertTrue(out.contains("name: p-cfg-"), out)
        XCTAssertFalse(out.contains("replicas: 2"), out)
    }

    /// A List's items come back from JSON only in a file of more than one part (`1.50` is "1.5"; alone a List keeps
    /// its text), whether the engine reads the file or is handed its documents parsed (flux's generated
    /// kustomization): then the file's text is read again to tell.
    func testListItemsRoundTripInMultiPartFilesOnBothReadPaths() throws {
        let list = """
            apiVersion: v1
            kind: List
            items:
            - apiVersion: v1
              kind: ConfigMap
              metadata: {name: l, annotations: {f: 1.50}}

            """
        for (text, want) in [(list, "f: \"1.50\""), ("---\n" + list + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: m}\n", "f: \"1.5\"")] {
            let files = ["l.yaml": text, "kustomization.yaml": "resources: [l.yaml]\n"]
            let out = try build(files)
            XCTAssertTrue(out.contains(want), out)
            let root = try tree(files)
            defer { try? FileManager.default.removeItem(at: root) }
            let file = root.appendingPathComponent("l.yaml").path
            let docs = try YAML.parseDocuments(text, file: file)
            let handed = try YAMLEmitter().emit(documents: try Kustomizer().build(root.path, parsed: [file: docs]))
            XCTAssertEqual(handed, out)
        }
    }

    /// DropLocalNodes: `config.kubernetes.io/local-config: "false"` keeps the object.
    func testLocalConfigFalseIsKept() throws {
        let out = try build([
            "cm.yaml": """
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: kept, annotations: {config.kubernetes.io/local-config: "false"}}
            ---
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: dropped, annotations: {config.kubernetes.io/local-config: "true"}}

            """,
            "kustomization.yaml": "resources: [cm.yaml]\n",
        ])
        XCTAssertTrue(out.contains("name: kept"), out)
        XCTAssertFalse(out.contains("dropped"), out)
    }

    static let widget = """
        apiVersion: example.com/v1
        kind: Widget
        metadata: {name: w}
        spec:
          owner: web
          selector: {app: w}
          notes: {n: "1"}
          secretRef: {name: creds}
          configRef: {name: creds}

        """

    /// A `crds:` file of OpenAPI definitions (loadconfigfromcrds.go); `spec` is a `$ref` to another definition.
    static func crd(_ spec: String) -> String {
        """
        {"example.com.v1.Widget": {"Schema": {"properties": {"apiVersion": {}, "kind": {}, "metadata": {}, "spec": {"$ref": "example.com.v1.WidgetSpec"}}}},
         "example.com.v1.WidgetSpec": {"Schema": {"properties": {\(spec)}}}}

        """
    }

    /// `crds:` extensions count only with a string value (Extensions.GetString): a label selector marked `true` gets
    /// no labels, an annotation field marked "" gets the annotations; x-kubernetes-identity takes the name prefix
    /// (not the suffix); an object reference's api-version must be the referent's version (`v2` renames nothing).
    func testCRDExtensionsFollowLoadConfigFromCRDs() throws {
        let out = try build([
            "w.yaml": Self.widget,
            "crd.json": Self.crd("""
                "selector": {"x-kubernetes-label-selector": true}, "notes": {"x-kubernetes-annotation": ""},
                "owner": {"x-kubernetes-identity": ""},
                "secretRef": {"x-kubernetes-object-ref-api-version": "v1", "x-kubernetes-object-ref-kind": "Secret"},
                "configRef": {"x-kubernetes-object-ref-api-version": "v2", "x-kubernetes-object-ref-kind": "Secret"}
                """),
            "kustomization.yaml": """
            resources: [w.yaml]
            crds: [crd.json]
            namePrefix: p-
            nameSuffix: -s
            commonLabels: {team: a}
            commonAnnotations: {note: x}
            secretGenerator: [{name: creds, literals: [a=b]}]

            """,
        ])
        XCTAssertTrue(out.contains("  owner: p-web\n"), out)
        XCTAssertTrue(out.hasSuffix("  selector:\n    app: w\n"), out)
        XCTAssertTrue(out.contains("  notes:\n    \"n\": \"1\"\n    note: x\n"), out)
        XCTAssertTrue(out.contains("  configRef:\n    name: creds\n"), out)
        XCTAssertTrue(out.contains("  secretRef:\n    name: p-creds-s-"), out)
    }

    /// The name reference walk (fieldspec.Filter) fails where the path meets a scalar with path left, for every
    /// referrer of the spec's kind, renamed or not.
    func testNameReferenceThroughAScalarIsRefused() throws {
        try refuse([
            "w.yaml": Self.widget.replacingOccurrences(of: "configRef: {name: creds}", with: "configRef: creds"),
            "crd.json": Self.crd(#""configRef": {"x-kubernetes-object-ref-api-version": "v1", "x-kubernetes-object-ref-kind": "Secret"}"#),
            "kustomization.yaml": "resources: [w.yaml]\ncrds: [crd.json]\n",
        ], "considering field 'spec/configRef/name' of object Widget.v1.example.com/w.[noNs]: expected sequence or mapping node")
    }

    /// FsSlice.MergeOne: a field spec equal to one already in the list but for `create` is refused, across
    /// `configurations:` and `crds:`.
    func testConflictingFieldSpecsAreRefused() throws {
        try refuse([
            "w.yaml": Self.widget,
            "crd.json": Self.crd(#""selector": {"x-kubernetes-label-selector": ""}"#),
            "config.yaml": "commonLabels:\n- kind: Widget\n  path: spec/selector\n  create: true\n",
            "kustomization.yaml": "resources: [w.yaml]\nconfigurations: [config.yaml]\ncrds: [crd.json]\n",
        ], "failed to merge CommonLabels fieldSpec: conflicting fieldspecs")
    }

    /// A custom `openapi:` schema that defines a kind gives its patches that definition's list keys only: a custom
    /// Deployment without container schemas has its containers replaced; the custom Widget's items merge by name.
    /// The top kustomization's `openapi:` wins over a base's.
    func testCustomOpenAPISchemaKindsUseTheirOwnListKeys() throws {
        let schema = """
            {"definitions": {
              "io.k8s.api.apps.v1.Deployment": {"x-kubernetes-group-version-kind": [{"group": "apps", "kind": "Deployment", "version": "v1"}],
                "properties": {"spec": {"type": "object"}}},
              "com.example.v1.Widget": {"x-kubernetes-group-version-kind": [{"group": "example.com", "kind": "Widget", "version": "v1"}],
                "properties": {"spec": {"properties": {"items": {"type": "array", "x-kubernetes-patch-merge-key": "name",
                  "x-kubernetes-patch-strategy": "merge", "items": {"type": "object"}}}}}}}}

            """
        let files = [
            "base/d.yaml": Self.deployment,
            "base/w.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec:\n  items: [{name: one, v: 1}]\n",
            "base/schema.json": schema,
            "base/kustomization.yaml": "resources: [d.yaml, w.yaml]\nopenapi: {path: schema.json}\n",
            "overlay/kustomization.yaml": """
            resources: [../base]
            patches:
            - patch: |-
                apiVersion: apps/v1
                kind: Deployment
                metadata: {name: web}
                spec: {template: {spec: {containers: [{name: side, image: busybox}]}}}
            - patch: |-
                apiVersion: example.com/v1
                kind: Widget
                metadata: {name: w}
                spec: {items: [{name: two}]}

            """,
        ]
        let custom = try build(files, dir: "overlay")
        XCTAssertFalse(custom.contains("name: main"), custom)
        XCTAssertTrue(custom.contains("- name: two\n  - name: one\n"), custom)
        var top = files
        top["overlay/kustomization.yaml"]! += "openapi: {version: v1.21.2}\n"
        let builtin = try build(top, dir: "overlay")
        XCTAssertTrue(builtin.contains("name: main"), builtin)
        XCTAssertTrue(builtin.contains("  items:\n  - name: two\n"), builtin)
        XCTAssertFalse(builtin.contains("name: one"), builtin)
    }

    /// types.Kustomization.Unmarshal: YAMLToJSON (YAML 1.1) then encoding/json into the Go types: a value of another
    /// JSON type than the field's is refused in Go's words, naming the innermost struct and the JSON path; whole
    /// numbers go into integers, YAML 1.1 booleans into booleans, a null leaves a field unset.
    func testTypedFieldsDecodeAsGoJSON() throws {
        let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
        for (field, message) in [
            ("namePrefix: 1", "json: cannot unmarshal number into Go struct field Kustomization.namePrefix of type string"),
            ("namespace: yes", "json: cannot unmarshal bool into Go struct field Kustomization.namespace of type string"),
            ("nameSuffix: [a]", "json: cannot unmarshal array into Go struct field Kustomization.nameSuffix of type string"),
            ("images: [{name: a, newTag: 1.2}]", "json: cannot unmarshal number into Go struct field Image.images.newTag of type string"),
            ("replicas: [{name: web, count: \"3\"}]", "json: cannot unmarshal string into Go struct field Replica.replicas.count of type int64"),
            ("replicas: [{name: web, count: 2.5}]", "json: cannot unmarshal number 2.5 into Go struct field Replica.replicas.count of type int64"),
            ("commonLabels: {a: 1}", "json: cannot unmarshal number into Go struct field Kustomization.commonLabels of type string"),
            ("labels: [{pairs: {a: b}, includeSelectors: \"true\"}]", "json: cannot unmarshal string into Go struct field Label.labels.includeSelectors of type bool"),
            ("resources: [d.yaml, 1]", "json: cannot unmarshal number into Go struct field Kustomization.resources of type string"),
            ("replicas: {name: web}", "json: cannot unmarshal object into Go struct field Kustomization.replicas of type []types.Replica"),
            ("sortOptions: {order: 1}", "json: cannot unmarshal number into Go struct field SortOptions.sortOptions.order of type types.SortOrder"),
            ("patches: [{path: p.yaml, options: {allowNameChange: \"no\"}}]", "json: cannot unmarshal string into Go struct field Patch.patches.options of type bool"),
            ("generatorOptions: {immutable: 1}", "json: cannot unmarshal number into Go struct field GeneratorOptions.generatorOptions.immutable of type bool"),
            ("namePrefix: 1\nbogus: x", "json: unknown field \"bogus\""),
        ] {
            try refuse(["d.yaml": Self.deployment, "c.yaml": cm, "kustomization.yaml": "resources: [d.yaml]\n" + field + "\n"], message)
        }
        let out = try build([
            "d.yaml": Self.deployment,
            "kustomization.yaml": """
            resources: [d.yaml]
            namePrefix: null
            replicas: [{name: web, count: 3.0}]
            labels: [{pairs: {a: b}, includeSelectors: yes}]
            generatorOptions: {disableNameSuffixHash: on}
            configMapGenerator: [{name: g, literals: [a=b]}]

            """,
        ])
        XCTAssertTrue(out.contains("replicas: 3\n"), out)
        XCTAssertTrue(out.contains("matchLabels:\n      a: b\n"), out)
        XCTAssertTrue(out.contains("  name: g\n"), out)
    }
}
