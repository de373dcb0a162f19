import Foundation
import FluxsKustomize
import FluxsTestSupport
import XCTest

/// The name reference rules of kustomize v5.5 (api/filters/nameref/nameref.go, api/internal/accumulator/
/// namereferencetransformer.go, the table in api/internal/konfig/builtinpluginconsts/namereference.go; docs/kustomize.md
/// "Name references (nameref)"), each on a tree built by fluxs and by `kubectl kustomize` and compared byte for byte
/// (the krusty rule tests' helpers), with the rule's effect asserted on the output.
extension KustomizeKrustyRulesTests {
    static let prefixed = "namePrefix: p-\nresources:\n- r.yaml\n"

    /// The table's types: ConfigMap targets are version v1 and Pod referrers too; the Service row's StatefulSet
    /// referrer is of group apps. Objects of another version or group are neither referrals nor referrers.
    func testNameReferenceTypesHaveGroupsAndVersions() throws {
        let out = try build(["kustomization.yaml": Self.prefixed, "r.yaml": """
            apiVersion: v2
            kind: ConfigMap
            metadata:
              name: cm2
            ---
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: cm1
            ---
            apiVersion: v1
            kind: Service
            metadata:
              name: svc
            ---
            apiVersion: example.com/v1
            kind: StatefulSet
            metadata:
              name: custom
            spec:
              serviceName: svc
            ---
            apiVersion: apps/v1
            kind: StatefulSet
            metadata:
              name: real
            spec:
              serviceName: svc
            ---
            apiVersion: v2
            kind: Pod
            metadata:
              name: pod2
            spec:
              volumes:
              - name: a
                configMap: {name: cm1}
            ---
            apiVersion: v1
            kind: Pod
            metadata:
              name: pod1
            spec:
              volumes:
              - name: a
                configMap: {name: cm1}
              - name: b
                configMap: {name: cm2}

            """])
        XCTAssertTrue(out.contains("  name: p-real\nspec:\n  serviceName: p-svc\n"), out)
        XCTAssertTrue(out.contains("  name: p-custom\nspec:\n  serviceName: svc\n"), out)
        XCTAssertTrue(out.contains("      name: p-cm1\n    name: a\n  - configMap:\n      name: cm2\n"), out)
        XCTAssertTrue(out.contains("  name: p-pod2\nspec:\n  volumes:\n  - configMap:\n      name: cm1\n"), out)
    }

    /// Upstream's IngressClass row names the group "networking.k8s.io/v1", which no object has: an Ingress's
    /// ingressClassName keeps the class's old name, and a ValidatingAdmissionPolicyBinding follows its policy.
    func testIngressClassNameIsNotFollowedButAdmissionPoliciesAre() throws {
        let out = try build(["kustomization.yaml": Self.prefixed, "r.yaml": """
            apiVersion: networking.k8s.io/v1
            kind: IngressClass
            metadata:
              name: nginx
            spec:
              controller: k8s.io/ingress-nginx
            ---
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata:
              name: web
            spec:
              ingressClassName: nginx
            ---
            apiVersion: admissionregistration.k8s.io/v1
            kind: ValidatingAdmissionPolicy
            metadata:
              name: pol
            ---
            apiVersion: admissionregistration.k8s.io/v1
            kind: ValidatingAdmissionPolicyBinding
            metadata:
              name: bind
            spec:
              policyName: pol

            """])
        XCTAssertTrue(out.contains("ingressClassName: nginx\n"), out)
        XCTAssertTrue(out.contains("  name: p-nginx\n"), out)
        XCTAssertTrue(out.contains("policyName: p-pol\n"), out)
    }

    /// roleRefFilter: a roleRef without `kind` (or `apiGroup`) lets a Role or ClusterRole of the old name through;
    /// with both, only an object of that kind and group.
    func testRoleRefWithoutKindAcceptsEitherRole() throws {
        let out = try build(["kustomization.yaml": Self.prefixed, "r.yaml": """
            apiVersion: rbac.authorization.k8s.io/v1
            kind: Role
            metadata:
              name: reader
            ---
            apiVersion: rbac.authorization.k8s.io/v1
            kind: RoleBinding
            metadata:
              name: rb
            roleRef:
              name: reader
            ---
            apiVersion: rbac.authorization.k8s.io/v1
            kind: RoleBinding
            metadata:
              name: rb2
            roleRef:
              apiGroup: rbac.authorization.k8s.io
              kind: ClusterRole
              name: reader

            """])
        XCTAssertTrue(out.contains("  name: p-rb\nroleRef:\n  name: p-reader\n"), out)
        XCTAssertTrue(out.contains("  kind: ClusterRole\n  name: reader\n"), out)
    }

    /// setMapping: a reference held in a map must have a `name`; a webhook's service without one fails the build.
    func testServiceReferenceWithoutNameIsRefused() throws {
        try refuse(["kustomization.yaml": Self.prefixed, "r.yaml": """
            apiVersion: v1
            kind: Service
            metadata:
              name: svc
            ---
            apiVersion: admissionregistration.k8s.io/v1
            kind: ValidatingWebhookConfiguration
            metadata:
              name: wh
            webhooks:
            - name: a.example.com
              clientConfig:
                service:
                  namespace: default
                  path: /x

            """], "path config error; no 'name' field in node")
    }

    /// seqFilter: a list of names holds strings or maps (null items are skipped); a nested list fails the build.
    func testNestedListOfNamesIsRefused() throws {
        try refuse(["kustomization.yaml": Self.prefixed, "r.yaml": """
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: cm1
            ---
            apiVersion: rbac.authorization.k8s.io/v1
            kind: Role
            metadata:
              name: r
            rules:
            - resourceNames: [[cm1], cm1, ~]

            """], "is expected to be either a string or a map of string")
        let out = try build(["kustomization.yaml": Self.prefixed, "r.yaml": """
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: cm1
            ---
            apiVersion: rbac.authorization.k8s.io/v1
            kind: Role
            metadata:
              name: r
            rules:
            - resourceNames: [cm1, ~, other]

            """])
        XCTAssertTrue(out.contains("  - p-cm1\n  - null\n  - other\n"), out)
    }

    /// A `configurations:` row of the same type as a default row (ConfigMap, version v1) adds its referrers to it;
    /// a row's own version restricts its referrals.
    func testConfigurationRowsMergeByType() throws {
        let out = try build([
            "kustomization.yaml": "namePrefix: p-\nresources:\n- r.yaml\nconfigurations:\n- conf.yaml\n",
            "conf.yaml": """
            nameReference:
            - kind: ConfigMap
              version: v1
              fieldSpecs:
              - kind: Tool
                path: spec/configRef
            - kind: Widget
              version: v2
              fieldSpecs:
              - kind: Tool
                path: spec/widget

            """,
            "r.yaml": """
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: settings
            ---
            apiVersion: example.com/v1
            kind: Widget
            metadata:
              name: w
            ---
            apiVersion: example.com/v1
            kind: Tool
            metadata:
              name: t
            spec:
              configRef: settings
              widget: w

            """])
        XCTAssertTrue(out.contains("configRef: p-settings\n"), out)
        XCTAssertTrue(out.contains("widget: w\n"), out)
    }
}
