import Foundation
import FluxsKustomize
import FluxsTestSupport
import XCTest

/// The transformers' rules audited against kustomize v5.5 (docs/kustomize.md, "Rules audited", "Transformers"):
/// each tree is built by fluxs and by `kubectl kustomize` (the oracle) and compared; the expected shape is asserted
/// too, so each test names the rule it checks.
final class KustomizeTransformerRulesTests: XCTestCase {
    let oracle = KustomizeOracle(prefix: "fluxs-kz-trules") { try Kustomizer().render($0) }

    func tree(_ files: [String: String]) throws -> URL { try oracle.tree(files) }

    func build(_ files: [String: String], file: StaticString = #filePath, line: UInt = #line) throws -> String {
        try oracle.build(files, file: file, line: line)
    }

    /// Both refuse the tree; fluxs's message contains `message` (kubectl's words).
    func refuse(_ files: [String: String], _ message: String, file: StaticString = #filePath, line: UInt = #line) throws {
        try oracle.refuse(files, message, file: file, line: line)
    }

    /// commonlabels.go: selectors in Deployment and StatefulSet pod affinity terms and topology spread constraints
    /// get commonLabels where they exist (create: false).
    func testCommonLabelsReachAffinityAndTopologySelectors() throws {
        let out = try build([
            "d.yaml": """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: d}
            spec:
              template:
                spec:
                  affinity:
                    podAntiAffinity:
                      requiredDuringSchedulingIgnoredDuringExecution:
                      - labelSelector:
                          matchLabels: {app: d}
                        topologyKey: kubernetes.io/hostname
                      - topologyKey: zone
                    podAffinity:
                      preferredDuringSchedulingIgnoredDuringExecution:
                      - weight: 1
                        podAffinityTerm:
                          labelSelector:
                            matchLabels: {app: d}
                          topologyKey: zone
                  topologySpreadConstraints:
                  - maxSkew: 1
                    topologyKey: zone
                    whenUnsatisfiable: DoNotSchedule
                    labelSelector:
                      matchLabels: {app: d}
                  containers:
                  - {name: c, image: nginx}

            """,
            "kustomization.yaml": "resources: [d.yaml]\ncommonLabels: {team: a}\n",
        ])
        XCTAssertEqual(out.components(separatedBy: "app: d\n").count - 1, 3, out)
        XCTAssertEqual(out.components(separatedBy: "team: a\n").count - 1, 6, out)
    }

    /// metadatalabels.go, commonlabels.go, commonannotations.go: the pod template, selector and job template specs
    /// name API groups and versions (Job and CronJob batch, StatefulSet apps, Service and ReplicationController v1,
    /// PodDisruptionBudget policy, NetworkPolicy networking.k8s.io); a same-named kind of another group gets only
    /// metadata labels and annotations.
    func testDefaultLabelAndAnnotationSpecsHonourGroupsAndVersions() throws {
        let out = try build([
            "r.yaml": """
            apiVersion: example.com/v1
            kind: Job
            metadata: {name: j}
            spec:
              selector:
                matchLabels: {a: b}
              template:
                metadata:
                  labels: {a: b}
            ---
            apiVersion: example.com/v1
            kind: StatefulSet
            metadata: {name: s}
            spec:
              template: {}
            ---
            apiVersion: example.com/v2
            kind: Service
            metadata: {name: svc}
            spec: {}
            ---
            apiVersion: example.com/v1
            kind: PodDisruptionBudget
            metadata: {name: p}
            spec:
              selector:
                matchLabels: {a: b}

            """,
            "kustomization.yaml": "resources: [r.yaml]\ncommonLabels: {team: a}\ncommonAnnotations: {note: x}\n",
        ])
        XCTAssertTrue(out.contains("kind: Job\nmetadata:\n  annotations:\n    note: x\n  labels:\n    team: a\n  name: j\nspec:\n"
                                   + "  selector:\n    matchLabels:\n      a: b\n  template:\n    metadata:\n      labels:\n        a: b\n"), out)
        XCTAssertTrue(out.contains("  name: s\nspec:\n  template:\n    metadata:\n      annotations:\n        note: x\n---"), out)
        XCTAssertTrue(out.contains("  name: svc\nspec: {}\n"), out)
        XCTAssertFalse(out.contains("      team: a"), out)
    }

    /// fieldspec.go: a path field written `name[]` is never created, even with `create: true` (here a
    /// configurations field spec for a kind without the list).
    func testListFieldsOfFieldSpecsAreNotCreated() throws {
        let out = try build([
            "w.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: 1}\n---\n"
                + "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: v}\nspec:\n  items:\n  - {name: i}\n",
            "config.yaml": "commonLabels:\n- kind: Widget\n  path: spec/items[]/labels\n  create: true\n",
            "kustomization.yaml": "resources: [w.yaml]\nconfigurations: [config.yaml]\ncommonLabels: {team: a}\n",
        ])
        XCTAssertTrue(out.contains("  - labels:\n      team: a\n    name: i\n"), out)
        XCTAssertFalse(out.contains("spec:\n  items:\n    labels"), out)
    }

    /// fieldspec.go isMatchGVK: an empty kind, group or version in a field spec selects any (`group: ""` is not
    /// the core group): a Widget of group example.com gets the label at both paths, a core v1 ConfigMap too.
    func testEmptyGroupVersionKindOfFieldSpecsSelectAny() throws {
        let out = try build([
            "w.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n---\n"
                + "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
            "config.yaml": "commonLabels:\n- {group: \"\", version: \"\", kind: Widget, path: spec/a, create: true}\n"
                + "- {group: \"\", kind: \"\", path: data/b, create: true}\n",
            "kustomization.yaml": "resources: [w.yaml]\nconfigurations: [config.yaml]\ncommonLabels: {team: a}\n",
        ])
        XCTAssertTrue(out.contains("kind: Widget\nmetadata:\n  labels:\n    team: a\n  name: w\nspec:\n  a:\n    team: a\n"), out)
        XCTAssertTrue(out.contains("data:\n  b:\n    team: a\nkind: ConfigMap\n"), out)
    }

    /// FsSlice.MergeAll + sortFields: a new spec equal to one there (the new one's empty kind selects any) is dropped;
    /// a Widget spec for metadata/annotations sorts before the kind-less default, which is then dropped (only the
    /// Widget gets commonAnnotations); a kind-less spec/selector is dropped (the Service default equals it).
    func testFieldSpecsEqualToOnesThereAreDropped() throws {
        let objects = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {selector: {x: y}}\n---\n"
            + "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
        let out = try build([
            "w.yaml": objects,
            "config.yaml": "commonAnnotations:\n- {kind: Widget, path: metadata/annotations, create: true}\n"
                + "commonLabels:\n- {path: spec/selector, create: true}\n",
            "kustomization.yaml": "resources: [w.yaml]\nconfigurations: [config.yaml]\ncommonAnnotations: {team: a}\ncommonLabels: {app: b}\n",
        ])
        XCTAssertTrue(out.contains("kind: ConfigMap\nmetadata:\n  labels:\n    app: b\n  name: c\n"), out)
        XCTAssertTrue(out.contains("kind: Widget\nmetadata:\n  annotations:\n    team: a\n"), out)
        XCTAssertTrue(out.contains("spec:\n  selector:\n    x: \"y\"\n"), out)
    }

    /// The same merges refuse another `create`: the accumulator's merge (the Widget spec first after sorting), a
    /// kind-less spec against the Service default, a nameReference referrer against the default table's.
    func testConflictingFieldSpecsAreRefusedWhereKustomizeMergesThem() throws {
        let objects = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
        try refuse(["w.yaml": objects, "config.yaml": "commonAnnotations:\n- {kind: Widget, path: metadata/annotations, create: false}\n",
                    "kustomization.yaml": "resources: [w.yaml]\nconfigurations: [config.yaml]\ncommonAnnotations: {team: a}\n"],
                   "failed to merge CommonAnnotations fieldSpec: conflicting fieldspecs")
        try refuse(["w.yaml": objects, "config.yaml": "commonLabels:\n- {path: spec/selector, create: false}\n",
                    "kustomization.yaml": "resources: [w.yaml]\nconfigurations: [config.yaml]\n"],
                   "failed to merge CommonLabels fieldSpec: conflicting fieldspecs")
        try refuse(["w.yaml": objects,
                    "config.yaml": "nameReference:\n- kind: ConfigMap\n  version: v1\n  fieldSpecs:\n  - {kind: Pod, path: spec/volumes/configMap/name, create: true}\n",
                    "kustomization.yaml": "resources: [w.yaml]\nconfigurations: [config.yaml]\n"],
                   "failed to merge NameReference fieldSpec: conflicting fieldspecs")
    }

    /// kusttarget.go accumulateDirectory: after a component, the accumulator is merged into an empty one, so specs
    /// that merged in one order conflict in their sorted one (a v2 Widget spec sorts before the any-version one).
    func testComponentRemergesTheFieldSpecsInSortedOrder() throws {
        var files = [
            "base/w.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {selector: {x: y}}\n",
            "base/config.yaml": "commonLabels:\n- {kind: Widget, path: spec/selector, create: false}\n",
            "base/kustomization.yaml": "resources: [w.yaml]\nconfigurations: [config.yaml]\n",
            "config.yaml": "commonLabels:\n- {kind: Widget, version: v2, path: spec/selector, create: true}\n",
            "kustomization.yaml": "resources: [base]\nconfigurations: [config.yaml]\ncommonLabels: {app: b}\n",
        ]
        XCTAssertTrue(try build(files).contains("spec:\n  selector:\n    app: b\n    x: \"y\"\n"))
        files["comp/kustomization.yaml"] = "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\ncommonAnnotations: {comp: \"on\"}\n"
        files["kustomization.yaml"] = "resources: [base]\ncomponents: [comp]\nconfigurations: [config.yaml]\ncommonLabels: {app: b}\n"
        try refuse(files, "failed to merge CommonLabels fieldSpec: conflicting fieldspecs")
    }

    /// fieldspec.Filter and SetEntry: the label and annotation transformers refuse a scalar in the way of a field
    /// spec's path and a leaf that is neither a mapping nor null; a null leaf is made a mapping.
    func testLabelAndAnnotationFieldsThatAreNotMappingsAreRefused() throws {
        try refuse(["r.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: oops\n",
                    "kustomization.yaml": "resources: [r.yaml]\ncommonLabels: {a: b}\n"],
                   "considering field 'spec/selector' of object Service.v1.[noGrp]/s.[noNs]: expected sequence or mapping node")
        try refuse(["r.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, labels: plain}\n",
                    "kustomization.yaml": "resources: [r.yaml]\nlabels: [{pairs: {a: b}}]\n"],
                   "considering field 'metadata/labels' of object ConfigMap.v1.[noGrp]/c.[noNs]: wrong node kind: expected MappingNode but got ScalarNode")
        try refuse(["r.yaml": "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: s}\nspec:\n  volumeClaimTemplates:\n  - metadata: 5\n",
                    "kustomization.yaml": "resources: [r.yaml]\ncommonLabels: {a: b}\n"],
                   "considering field 'spec/volumeClaimTemplates[]/metadata/labels' of object StatefulSet.v1.apps/s.[noNs]: visit traversal on path: [metadata labels]: expected sequence or mapping node")
        try refuse(["r.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: none\n",
                    "kustomization.yaml": "resources: [r.yaml]\nimages: [{name: nginx, newTag: \"2\"}]\n"],
                   "considering field 'spec/containers[]/image' of object Service.v1.[noGrp]/s.[noNs]: expected sequence or mapping node")
        let out = try build(["r.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, labels: null, annotations: ~}\n",
                             "kustomization.yaml": "resources: [r.yaml]\ncommonLabels: {a: b}\ncommonAnnotations: {c: d}\n"])
        XCTAssertTrue(out.contains("  annotations:\n    c: d\n  labels:\n    a: b\n"), out)
    }

    /// PrefixTransformer.go with the whole NamePrefix list: a kind's metadata/name spec drops the kind-less default
    /// (only that kind is renamed); a spec of another field adds the prefix there (created empty with create) and
    /// keeps the default; with create on a kind's metadata/name spec the default survives the level's merge, and
    /// an object both select is prefixed twice.
    func testNamePrefixFieldSpecsAreTheWholeList() throws {
        let objects = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
        func tree(_ config: String) -> [String: String] {
            ["r.yaml": objects, "config.yaml": config, "kustomization.yaml": "resources: [r.yaml]\nconfigurations: [config.yaml]\nnamePrefix: p-\n"]
        }
        var out = try build(tree("namePrefix:\n- {kind: Deployment, path: metadata/name}\n"))
        XCTAssertTrue(out.contains("  name: c\n") && out.contains("  name: p-d\n"), out)
        out = try build(tree("namePrefix:\n- {kind: Deployment, path: spec/owner, create: true}\n"))
        XCTAssertTrue(out.contains("  name: p-c\n") && out.contains("  name: p-d\nspec:\n  owner: p-\n"), out)
        var files = tree("namePrefix:\n- {kind: Deployment, path: metadata/name, create: true}\n")
        files["base/r.yaml"] = objects
        files["base/kustomization.yaml"] = "resources: [r.yaml]\n"
        files["kustomization.yaml"] = "resources: [base]\nconfigurations: [config.yaml]\nnamePrefix: p-\n"
        out = try build(files)
        XCTAssertTrue(out.contains("  name: p-c\n") && out.contains("  name: p-p-d\n"), out)
    }

    /// ReplicaCountTransformer.go: a `replicas` entry that names no object of a replicas field spec kind fails.
    func testReplicasNamingNothingFails() throws {
        try refuse([
            "d.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n",
            "kustomization.yaml": "resources: [d.yaml]\nreplicas:\n- {name: missing, count: 2}\n",
        ], "resource with name missing does not match a config with the following GVK [Deployment.[noVer].[noGrp]")
    }

    /// ReplicaCountTransformer.go: the match is by any id (an earlier name, before a prefix) and creates spec/replicas.
    func testReplicasMatchEarlierNamesAndCreateTheField() throws {
        let out = try build([
            "base/d.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n",
            "base/kustomization.yaml": "resources: [d.yaml]\nnamePrefix: p-\n",
            "kustomization.yaml": "resources: [base]\nreplicas:\n- {name: d, count: 4}\n",
        ])
        XCTAssertTrue(out.contains("spec:\n  replicas: 4\n"), out)
    }

    /// kyaml/openapi precomputedIsNamespaceScoped: cluster scope is known by apiVersion and kind; a ClusterIssuer,
    /// a ValidatingAdmissionPolicy or a ClusterRole of another version is namespaced and gets the namespace.
    func testNamespaceGoesToTypesNotKnownClusterScoped() throws {
        let out = try build([
            "a.yaml": """
            apiVersion: cert-manager.io/v1
            kind: ClusterIssuer
            metadata: {name: a}
            ---
            apiVersion: rbac.authorization.k8s.io/v1alpha1
            kind: ClusterRole
            metadata: {name: b}
            ---
            apiVersion: rbac.authorization.k8s.io/v1
            kind: ClusterRole
            metadata: {name: c}

            """,
            "kustomization.yaml": "resources: [a.yaml]\nnamespace: foo\n",
        ])
        XCTAssertEqual(out.components(separatedBy: "namespace: foo").count - 1, 2, out)
    }
}

extension KustomizeTransformerRulesTests {
    /// PrefixTransformer.go prefixFieldSpecsToSkip: only APIServices of apiregistration.k8s.io keep their name;
    /// another group's APIService is renamed (CRDs and Namespaces of any group are not).
    func testPrefixSkipsOnlyRegistrationAPIServices() throws {
        let out = try build([
            "a.yaml": """
            apiVersion: apiregistration.k8s.io/v1
            kind: APIService
            metadata: {name: v1.a.example.com}
            ---
            apiVersion: example.com/v1
            kind: APIService
            metadata: {name: b}
            ---
            apiVersion: example.com/v1
            kind: Namespace
            metadata: {name: c}

            """,
            "kustomization.yaml": "resources: [a.yaml]\nnamePrefix: p-\nnameSuffix: -s\n",
        ])
        XCTAssertTrue(out.contains("name: v1.a.example.com\n"), out)
        XCTAssertTrue(out.contains("name: p-b-s\n"), out)
        XCTAssertTrue(out.contains("name: c\n"), out)
    }
}

extension KustomizeTransformerRulesTests {
    /// ImageTagTransformer.go, filters/imagetag, internal/image: `name` matches an image with an optional tag and
    /// sha256 digest (so `busybox:1.36` names that tagged image); `tagSuffix` extends the tag, and twice in pod
    /// templates (the legacy filter, then the images field specs); ephemeralContainers and CRDs are left alone.
    func testImagesFollowKustomizesMatchingAndFilters() throws {
        let out = try build([
            "a.yaml": """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: d}
            spec:
              template:
                spec:
                  containers:
                  - {name: a, image: "nginx:1.0"}
                  - {name: b, image: "busybox:1.36"}
                  ephemeralContainers:
                  - {name: e, image: "redis:7"}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: p}
            spec:
              containers:
              - {name: b, image: "redis:7+x"}
            ---
            apiVersion: apiextensions.k8s.io/v1
            kind: CustomResourceDefinition
            metadata: {name: c}
            spec:
              containers:
              - {name: a, image: "redis:1.0"}

            """,
            "kustomization.yaml": """
            resources: [a.yaml]
            images:
            - {name: nginx, tagSuffix: -x}
            - {name: "busybox:1.36", newTag: "2"}
            - {name: redis, newName: valkey}

            """,
        ])
        XCTAssertTrue(out.contains("image: nginx:1.0-x-x\n"), out)
        XCTAssertTrue(out.contains("image: busybox:2\n"), out)
        XCTAssertTrue(out.contains("image: redis:7\n"), out)
        XCTAssertTrue(out.contains("image: redis:7+x\n"), out)
        XCTAssertTrue(out.contains("image: redis:1.0\n"), out)
        XCTAssertFalse(out.contains("valkey"), out)
    }
}

extension KustomizeTransformerRulesTests {
    static let replacementObjects = """
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: d}
    spec: {replicas: 3, paused: true}
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: c}
    data: {x: "a", n: "7", word: hello}
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: s}

    """

    /// replacement.go setFieldValue: a scalar target keeps its tag and takes the value (an int into a ConfigMap's
    /// data stays a string, "7" into replicas an int); applyReplacement: no fieldPaths means metadata.name.
    func testReplacementKeepsTheTargetsTagAndDefaultsToTheName() throws {
        let out = try build([
            "a.yaml": Self.replacementObjects,
            "kustomization.yaml": """
            resources: [a.yaml]
            replacements:
            - source: {kind: Deployment, name: d, fieldPath: spec.replicas}
              targets:
              - select: {kind: ConfigMap}
                fieldPaths: [data.x]
            - source: {kind: ConfigMap, name: c, fieldPath: data.n}
              targets:
              - select: {kind: Deployment}
                fieldPaths: [spec.replicas]
              - select: {kind: Service}

            """,
        ])
        XCTAssertTrue(out.contains("  x: \"3\"\n"), out)
        XCTAssertTrue(out.contains("  replicas: 7\n"), out)
        XCTAssertTrue(out.contains("kind: Service\nmetadata:\n  name: \"7\"\n"), out)
    }

    /// A value the kept tag cannot hold fails as kustomize's decode does; a replacement without targets fails.
    func testReplacementRefusals() throws {
        try refuse([
            "a.yaml": Self.replacementObjects,
            "kustomization.yaml": """
            resources: [a.yaml]
            replacements:
            - source: {kind: ConfigMap, name: c, fieldPath: data.word}
              targets:
              - select: {kind: Deployment}
                fieldPaths: [spec.paused]

            """,
        ], "cannot decode !!str `hello` as a !!bool")
        try refuse([
            "a.yaml": Self.replacementObjects,
            "kustomization.yaml": "resources: [a.yaml]\nreplacements:\n- source: {kind: ConfigMap, name: c}\n",
        ], "replacements must specify a source and at least one target")
    }
}
