/// One row of the name reference table: objects of the target type (kind, and group and version when given; nil
/// matches any) are named by the referrer fields in `specs` (each with its own kind, group and version).
struct NameReferenceEntry {
    var kind: String
    var group: String?
    var version: String?
    var specs: [FieldSpec]

    /// resid.Gvk.IsSelected: the target type selects an id of this kind, group and version.
    func selects(kind k: String, group g: String, version v: String) -> Bool {
        k == kind && (group == nil || group == "" || group == g) && (version == nil || version == "" || version == v)
    }

    func sameType(_ o: NameReferenceEntry) -> Bool {
        kind == o.kind && (group ?? "") == (o.group ?? "") && (version ?? "") == (o.version ?? "")
    }
}

/// Which fields name which kinds of objects: the default name reference table of kustomize v5.5
/// (api/internal/konfig/builtinpluginconsts/namereference.go), row by row with its groups and versions.
enum NameReferenceTable {
    /// Where each workload kind keeps its pod spec (the ConfigMap and Secret rows; Pod's own fields need version v1).
    static let podSpecs: [(kind: String, version: String?, path: String)] = [
        ("Pod", "v1", "spec"), ("PodTemplate", nil, "template/spec"), ("Deployment", nil, "spec/template/spec"),
        ("ReplicaSet", nil, "spec/template/spec"), ("DaemonSet", nil, "spec/template/spec"), ("StatefulSet", nil, "spec/template/spec"),
        ("Job", nil, "spec/template/spec"), ("CronJob", nil, "spec/jobTemplate/spec/template/spec"),
    ]
    /// Kinds whose pod spec names service accounts, claims and priority classes (no ReplicaSet or PodTemplate there).
    static let accountKinds: [(kind: String, version: String?, path: String)] = [
        ("Pod", nil, "spec"), ("StatefulSet", nil, "spec/template/spec"), ("Deployment", nil, "spec/template/spec"),
        ("ReplicationController", nil, "spec/template/spec"), ("CronJob", nil, "spec/jobTemplate/spec/template/spec"),
        ("Job", nil, "spec/template/spec"), ("DaemonSet", nil, "spec/template/spec"),
    ]

    static func spec(_ kind: String, _ path: String, group: String? = nil, version: String? = nil) -> FieldSpec {
        FieldSpec(group: group, version: version, kind: kind, path: path, create: false)
    }

    static func specs(_ pairs: [(String, String)], group: String? = nil) -> [FieldSpec] { pairs.map { spec($0.0, $0.1, group: group) } }

    static func inPodSpecs(_ kinds: [(kind: String, version: String?, path: String)], _ fields: [String]) -> [FieldSpec] {
        kinds.flatMap { k in fields.map { spec(k.kind, k.path + "/" + $0, version: k.version) } }
    }

    static let defaults: [NameReferenceEntry] = {
        let rbac = "rbac.authorization.k8s.io", admission = "admissionregistration.k8s.io"
        let scale = specs([("HorizontalPodAutoscaler", "spec/scaleTargetRef/name")])
        let configMaps = inPodSpecs(podSpecs, [
            "volumes/configMap/name", "containers/env/valueFrom/configMapKeyRef/name", "initContainers/env/valueFrom/configMapKeyRef/name",
            "containers/envFrom/configMapRef/name", "initContainers/envFrom/configMapRef/name", "volumes/projected/sources/configMap/name",
        ]) + specs([("Node", "spec/configSource/configMap"), ("Role", "rules/resourceNames"), ("ClusterRole", "rules/resourceNames"),
                    ("Ingress", "metadata/annotations/nginx.ingress.kubernetes.io\\/fastcgi-params-configmap")])
        let secrets = inPodSpecs(podSpecs, [
            "volumes/secret/secretName", "containers/env/valueFrom/secretKeyRef/name", "initContainers/env/valueFrom/secretKeyRef/name",
            "containers/envFrom/secretRef/name", "initContainers/envFrom/secretRef/name", "imagePullSecrets/name",
            "volumes/projected/sources/secret/name",
        ]) + specs([
            ("Ingress", "spec/tls/secretName"), ("Ingress", "metadata/annotations/ingress.kubernetes.io\\/auth-secret"),
            ("Ingress", "metadata/annotations/nginx.ingress.kubernetes.io\\/auth-secret"),
            ("Ingress", "metadata/annotations/nginx.ingress.kubernetes.io\\/auth-tls-secret"),
            ("ServiceAccount", "imagePullSecrets/name"), ("StorageClass", "parameters/secretName"), ("StorageClass", "parameters/adminSecretName"),
            ("StorageClass", "parameters/userSecretName"), ("StorageClass", "parameters/secretRef"), ("Role", "rules/resourceNames"),
            ("ClusterRole", "rules/resourceNames"),
        ]) + [spec("Service", "spec/template/spec/containers/env/valueFrom/secretKeyRef/name", group: "serving.knative.dev", version: "v1"),
              spec("PersistentVolume", "spec/azureFile/secretName")]
        let services = [spec("StatefulSet", "spec/serviceName", group: "apps")]
            + specs([("Ingress", "spec/rules/http/paths/backend/serviceName"), ("Ingress", "spec/backend/serviceName"),
                     ("Ingress", "spec/rules/http/paths/backend/service/name"), ("Ingress", "spec/defaultBackend/service/name")])
            + [spec("APIService", "spec/service/name", group: "apiregistration.k8s.io")]
            + specs([("ValidatingWebhookConfiguration", "webhooks/clientConfig/service"),
                     ("MutatingWebhookConfiguration", "webhooks/clientConfig/service")], group: admission)
        return [
            NameReferenceEntry(kind: "Deployment", specs: scale), NameReferenceEntry(kind: "ReplicationController", specs: scale),
            NameReferenceEntry(kind: "ReplicaSet", specs: scale), NameReferenceEntry(kind: "StatefulSet", specs: scale),
            NameReferenceEntry(kind: "ConfigMap", version: "v1", specs: configMaps),
            NameReferenceEntry(kind: "Secret", version: "v1", specs: secrets),
            NameReferenceEntry(kind: "Service", version: "v1", specs: services),
            NameReferenceEntry(kind: "Role", group: rbac, specs: specs([("RoleBinding", "roleRef/name")], group: rbac)),
            NameReferenceEntry(kind: "ClusterRole", group: rbac,
                               specs: specs([("RoleBinding", "roleRef/name"), ("ClusterRoleBinding", "roleRef/name")], group: rbac)),
            NameReferenceEntry(kind: "ServiceAccount", version: "v1",
                               specs: specs([("RoleBinding", "subjects"), ("ClusterRoleBinding", "subjects")], group: rbac)
                                   + inPodSpecs(accountKinds, ["serviceAccountName"])),
            NameReferenceEntry(kind: "PersistentVolumeClaim", version: "v1",
                               specs: inPodSpecs(accountKinds, ["volumes/persistentVolumeClaim/claimName"])),
            NameReferenceEntry(kind: "PersistentVolume", version: "v1",
                               specs: specs([("PersistentVolumeClaim", "spec/volumeName"), ("ClusterRole", "rules/resourceNames")])),
            NameReferenceEntry(kind: "StorageClass", group: "storage.k8s.io", version: "v1",
                               specs: specs([("PersistentVolume", "spec/storageClassName"), ("PersistentVolumeClaim", "spec/storageClassName"),
                                             ("StatefulSet", "spec/volumeClaimTemplates/spec/storageClassName")])),
            NameReferenceEntry(kind: "PriorityClass", group: "scheduling.k8s.io", version: "v1",
                               specs: inPodSpecs(accountKinds, ["priorityClassName"])),
            // Upstream writes this row's group as "networking.k8s.io/v1", which no object's group equals: kustomize
            // v5.5 never renames an Ingress's ingressClassName (kubectl kustomize leaves it), and neither do we.
            NameReferenceEntry(kind: "IngressClass", group: "networking.k8s.io/v1", version: "v1",
                               specs: specs([("Ingress", "spec/ingressClassName")])),
            NameReferenceEntry(kind: "ValidatingAdmissionPolicy", group: admission,
                               specs: specs([("ValidatingAdmissionPolicyBinding", "spec/policyName")], group: admission)),
        ]
    }()
}
