import Foundation
import FluxsKustomize
import FluxsTestSupport
import XCTest

/// kustomize rules audited against upstream (docs/kustomize.md, "Rules audited"): each tree is built by fluxs and by
/// `kubectl kustomize` (the oracle) and the text compared; the expected shape is also asserted, so a test names
/// the rule it checks even where the oracle is the final word.
final class KustomizeRulesTests: XCTestCase {
    let oracle = KustomizeOracle(prefix: "fluxs-kz-rules") { try Kustomizer().render($0) }

    func build(_ files: [String: String], dir: String = "", file: StaticString = #filePath, line: UInt = #line) throws -> String {
        try oracle.build(files, at: dir, file: file, line: line)
    }

    let widget = """
    apiVersion: example.com/v1
    kind: Widget
    metadata:
      name: w
    spec:
      template:
        spec: {size: 1}

    """

    /// kusttarget_configplugin.go: every `labels` entry merges the configurations' `labels:` field specs (whatever
    /// its include flags); commonLabels uses only the `commonLabels:` ones, `templateLabels:` joins includeTemplates.
    func testLabelsEntriesHonourConfigurationsLabelsFieldSpecs() throws {
        let out = try build([
            "widget.yaml": widget,
            "config.yaml": """
            labels:
            - {kind: Widget, path: spec/selectors/labels, create: true}
            templateLabels:
            - {kind: Widget, path: spec/template/metadata/labels, create: true}
            commonLabels:
            - {kind: Widget, path: spec/common, create: true}

            """,
            "kustomization.yaml": """
            resources: [widget.yaml]
            configurations: [config.yaml]
            labels:
            - pairs: {env: dev}
            - pairs: {tier: web}
              includeTemplates: true
            commonLabels: {team: a}

            """,
        ])
        XCTAssertTrue(out.contains("  selectors:\n    labels:\n      env: dev\n      tier: web\n"), out)
        XCTAssertTrue(out.contains("  template:\n    metadata:\n      labels:\n        tier: web\n"), out)
        XCTAssertTrue(out.contains("  common:\n    team: a\n"), out)
    }

    /// LabelTransformer.go / AnnotationsTransformer.go, configured from a reused `transformers:` directory: the pairs
    /// go exactly where the plugin's fieldSpecs say, not to the kustomization's default label and annotation fields.
    func testTransformerPluginsFromADirectoryUseOnlyTheirFieldSpecs() throws {
        let out = try build([
            "shared/labeller.yaml": """
            apiVersion: builtin
            kind: LabelTransformer
            metadata: {name: labeller}
            labels: {pager: "867"}
            fieldSpecs:
            - {kind: Deployment, path: metadata/labels, create: true}
            - {kind: Widget, path: spec/owners, create: true}

            """,
            "shared/annotator.yaml": """
            apiVersion: builtin
            kind: AnnotationsTransformer
            metadata: {name: annotator}
            annotations: {status: probationary}
            fieldSpecs:
            - {kind: Role, path: metadata/annotations, create: true}

            """,
            "shared/kustomization.yaml": "resources: [labeller.yaml, annotator.yaml]\n",
            "app/widget.yaml": widget,
            "app/role.yaml": "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r}\n",
            "app/deploy.yaml": """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: d}
            spec:
              template:
                metadata:
                  labels: {app: d}

            """,
            "app/kustomization.yaml": "resources: [widget.yaml, role.yaml, deploy.yaml]\ntransformers: [../shared]\n",
        ], dir: "app")
        XCTAssertEqual(out.components(separatedBy: "pager:").count - 1, 2, out)
        XCTAssertEqual(out.components(separatedBy: "status: probationary").count - 1, 1, out)
    }

    let schema = #"{"definitions":{"v1.Pet":{"properties":{"spec":{"properties":{"toys":{"items":{"type":"object"},"type":"array","x-kubernetes-patch-merge-key":"name","x-kubernetes-patch-strategy":"merge"}},"type":"object"}},"type":"object","x-kubernetes-group-version-kind":[{"group":"example.com","kind":"Pet","version":"v1"}]}}}"#
    let pet = "apiVersion: example.com/v1\nkind: Pet\nmetadata: {name: rex}\nspec:\n  toys:\n  - {name: ball, color: red}\n"
    let petPatch = """
    patches:
    - patch: |-
        apiVersion: example.com/v1
        kind: Pet
        metadata: {name: rex}
        spec:
          toys:
          - {name: bone, color: white}

    """

    /// kyaml/openapi/openapi.go SetSchema: the first kustomization in load order whose `openapi:` names a version or
    /// a path sets the schema of the whole build; an overlay's version wins over its base's custom schema.
    func testOverlayOpenAPIVersionTakesPrecedenceOverBaseSchema() throws {
        let out = try build([
            "base/pet.yaml": pet,
            "base/schema.json": schema,
            "base/kustomization.yaml": "resources: [pet.yaml]\nopenapi: {path: schema.json}\n",
            "overlay/kustomization.yaml": "resources: [../base]\nopenapi: {version: v1.21.2}\n" + petPatch,
        ], dir: "overlay")
        XCTAssertFalse(out.contains("ball"), "the Pet schema of the base must not apply: the toys list is replaced\n" + out)
        // Without the overlay's version the base's schema applies to the overlay's patch too (one schema a build).
        let merged = try build([
            "base/pet.yaml": pet,
            "base/schema.json": schema,
            "base/kustomization.yaml": "resources: [pet.yaml]\nopenapi: {path: schema.json}\n",
            "overlay/kustomization.yaml": "resources: [../base]\n" + petPatch,
        ], dir: "overlay")
        XCTAssertTrue(merged.contains("ball") && merged.contains("bone"), merged)
    }

    /// kyaml/openapi/openapi.go initSchema: a custom schema replaces the built-in one (a Deployment's containers are
    /// then replaced by a patch), unless the built-in schema was consulted before it was set (here: an object of a
    /// kind it does not know was read first).
    func testCustomSchemaReplacesTheBuiltinOneUnlessAlreadyInUse() throws {
        let deploy = """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          template:
            spec:
              containers:
              - {name: a, image: x}
              - {name: b, image: y}

        """
        let base = [
            "base/deploy.yaml": deploy,
            "base/schema.json": schema,
            "base/kustomization.yaml": """
            resources: [deploy.yaml]
            openapi: {path: schema.json}
            patches:
            - patch: |-
                apiVersion: apps/v1
                kind: Deployment
                metadata: {name: web}
                spec:
                  template:
                    spec:
                      containers:
                      - {name: b, image: z}

            """,
        ]
        var first = base
        first["top/pet.yaml"] = pet
        first["top/kustomization.yaml"] = "resources: [../base, pet.yaml]\n"
        let replaced = try build(first, dir: "top")
        XCTAssertFalse(replaced.contains("name: a"), replaced)
        var later = base
        later["top/pet.yaml"] = pet
        later["top/kustomization.yaml"] = "resources: [pet.yaml, ../base]\n"
        let kept = try build(later, dir: "top")
        XCTAssertTrue(kept.contains("name: a"), kept)
    }
}
