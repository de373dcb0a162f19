/// Which fields name which kinds of objects: the default name reference table of kustomize v5 (the fields its
/// name reference transformer updates when a referenced object is renamed), in kustomize's order.
enum NameReferenceTable {
    /// Where each workload kind keeps its pod spec.
    static let podSpecs: [(kind: String, path: String)] = [
        ("Pod", "spec"), ("PodTemplate", "template/spec"), ("Deployment", "spec/template/spec"), ("ReplicaSet", "spec/template/spec"),
        ("DaemonSet", "spec/template/spec"), ("StatefulSet", "spec/template/spec"), ("Job", "spec/template/spec"),
        ("CronJob", "spec/jobTemplate/spec/template/spec"),
    ]
    /// Kinds whose pod spec names service accounts, claims and priority classes (no ReplicaSet or PodTemplate there).
    static let accountKinds: [(kind: String, path: String)] = [
        ("Pod", "spec"), ("StatefulSet", "spec/template/spec"), ("Deployment", "spec/template/spec"),
        ("ReplicationController", "spec/template/spec"), ("CronJob", "spec/jobTemplate/spec/template/spec"),
        ("Job", "spec/template/spec"), ("DaemonSet", "spec/template/spec"),
    ]

    static func specs(_ pairs: [(String, String)]) -> [FieldSpec] { pairs.map { FieldSpec(kind: $0.0, path: $0.1) } }

    static func inPodSpecs(_ kinds: [(kind: String, path: String)], _ fields: [String]) -> [FieldSpec] {
        kinds.flatMap { k in fields.map { FieldSpec(kind: k.kind, path: k.path + "/" + $0) } }
    }

    static let defaults: [(kind: String, group: String?, specs: [FieldSpec])] = {
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
            ("ClusterRole", "rules/resourceNames"), ("Service", "spec/template/spec/containers/env/valueFrom/secretKeyRef/name"),
            ("PersistentVolume", "spec/azureFile/secretName"),
        ])
        let services = specs([
            ("StatefulSet", "spec/serviceName"), ("Ingress", "spec/rules/http/paths/backend/serviceName"), ("Ingress", "spec/backend/serviceName"),
            ("Ingress", "spec/rules/http/paths/backend/service/name"), ("Ingress", "spec/defaultBackend/service/name"),
            ("APIService", "spec/service/name"), ("ValidatingWebhookConfiguration", "webhooks/clientConfig/service"),
            ("MutatingWebhookConfiguration", "webhooks/clientConfig/service"),
        ])
        return [
            ("Deployment", "apps", scale), ("ReplicationController", nil, scale), ("ReplicaSet", "apps", scale), ("StatefulSet", "apps", scale),
            ("ConfigMap", nil, configMaps), ("Secret", nil, secrets), ("Service", nil, services),
            ("Role", "rbac.authorization.k8s.io", specs([("RoleBinding", "roleRef/name")])),
            ("ClusterRole", "rbac.authorization.k8s.io", specs([("RoleBinding", "roleRef/name"), ("ClusterRoleBinding", "roleRef/name")])),
            ("ServiceAccount", nil, specs([("RoleBinding", "subjects"), ("ClusterRoleBinding", "subjects")]) + inPodSpecs(accountKinds, ["serviceAccountName"])),
            ("PersistentVolumeClaim", nil, inPodSpecs(accountKinds, ["volumes/persistentVolumeClaim/claimName"])),
            ("PersistentVolume", nil, specs([("PersistentVolumeClaim", "spec/volumeName"), ("ClusterRole", "rules/resourceNames")])),
            ("StorageClass", nil, specs([("PersistentVolume", "spec/storageClassName"), ("PersistentVolumeClaim", "spec/storageClassName"),
                                         ("StatefulSet", "spec/volumeClaimTemplates/spec/storageClassName")])),
            ("PriorityClass", nil, inPodSpecs(accountKinds, ["priorityClassName"])),
            ("IngressClass", nil, specs([("Ingress", "spec/ingressClassName")])),
            ("ValidatingAdmissionPolicy", nil, specs([("ValidatingAdmissionPolicyBinding", "spec/policyName")])),
        ]
    }()
}
