import FluxsYAML

/// What `install`/`bootstrap` render besides the CRDs: the objects of flux v2.9.4's `manifests/` (namespace, RBAC,
/// policies) and each controller's `config/manager` base as flux2's bases patch it, then flux's install overlay
/// (pkg/manifestgen/install: node selector, pull secret, tolerations, args, images, labels). Built from the types
/// below, not from YAML; Tests/Fixtures/install holds kustomize builds of the upstream bases to compare with.
public struct InstallOptions: Sendable {
    public var namespace = "flux-system"
    public var components: [String] = Components.defaults
    public var registry = "ghcr.io/fluxcd"
    public var imagePullSecret = ""
    public var watchAllNamespaces = true
    public var logLevel = "info"
    public var networkPolicy = true
    public var clusterDomain = "cluster.local"
    public var tolerationKeys: [String] = []
    /// fluxs: false renders the namespace and the CRDs only (the on-demand model), true what flux installs.
    public var controllers = false

    public init() {}
}

/// One controller of the Flux distribution: its Deployment's shape as its `config/manager` defines it.
public struct ControllerComponent: Sendable {
    public struct Port: Sendable { public var name: String; public var port: Int }
    public struct Mount: Sendable { public var name: String; public var path: String }

    public var name: String
    public var version: String
    public var gracePeriod: Int
    /// `strategy: Recreate` (controllers with storage, so two pods never share it).
    public var recreate = false
    public var ports: [Port]
    /// Extra env vars after RUNTIME_NAMESPACE.
    public var env: [(String, String)] = []
    /// Serves artifacts: `--storage-path`/`--storage-adv-addr` args, readiness on the http port.
    public var storage = false
    /// notification-controller sends no events, so it has no `--events-addr`.
    public var sendsEvents = true
    public var cpuRequest = "100m"
    public var mounts: [Mount]
    /// The order of `spec.volumes` (emptyDirs), which is not always the mounts' order.
    public var volumes: [String]
    public var systemClusterCritical: Bool
    /// Services: name, target port, the value of their `control-plane` label.
    public var services: [(name: String, targetPort: String, controlPlane: String)] = []

    public var image: String { "fluxcd/\(name):\(version)" }
}

public enum Components {
    public static let defaults = ["source-controller", "kustomize-controller", "helm-controller", "notification-controller"]
    public static let extras = ["image-reflector-controller", "image-automation-controller", "source-watcher"]

    static let http = ControllerComponent.Port(name: "http", port: 9090)
    static let prom = ControllerComponent.Port(name: "http-prom", port: 8080)
    static let healthz = ControllerComponent.Port(name: "healthz", port: 9440)
    static func mount(_ n: String, _ p: String) -> ControllerComponent.Mount { .init(name: n, path: p) }

    /// The controllers of flux v2.9.4 (manifests/bases/*/kustomization.yaml name their releases).
    public static let all: [ControllerComponent] = [
        ControllerComponent(name: "source-controller", version: "v1.9.4", gracePeriod: 10, recreate: true,
                            ports: [http, prom, healthz], env: [("TUF_ROOT", "/tmp/.sigstore")], storage: true, cpuRequest: "50m",
                            mounts: [mount("data", "/data"), mount("tmp", "/tmp")], volumes: ["data", "tmp"],
                            systemClusterCritical: true, services: [("source-controller", "http", "controller")]),
        ControllerComponent(name: "kustomize-controller", version: "v1.9.4", gracePeriod: 60, ports: [prom, healthz],
                            mounts: [mount("temp", "/tmp")], volumes: ["temp"], systemClusterCritical: true),
        ControllerComponent(name: "helm-controller", version: "v1.6.3", gracePeriod: 600, ports: [prom, healthz],
                            mounts: [mount("temp", "/tmp")], volumes: ["temp"], systemClusterCritical: true),
        ControllerComponent(name: "notification-controller", version: "v1.9.3", gracePeriod: 10,
                            ports: [http, .init(name: "http-webhook", port: 9292), prom, healthz], sendsEvents: false,
                            mounts: [mount("temp", "/tmp")], volumes: ["temp"], systemClusterCritical: false,
                            services: [("notification-controller", "http", "controller"), ("webhook-receiver", "http-webhook", "controller")]),
        ControllerComponent(name: "image-reflector-controller", version: "v1.2.4", gracePeriod: 10, ports: [prom, healthz],
                            mounts: [mount("temp", "/tmp"), mount("data", "/data")], volumes: ["temp", "data"], systemClusterCritical: false),
        ControllerComponent(name: "image-automation-controller", version: "v1.2.4", gracePeriod: 10, ports: [prom, healthz],
                            mounts: [mount("temp", "/tmp")], volumes: ["temp"], systemClusterCritical: false),
        ControllerComponent(name: "source-watcher", version: "v2.2.3", gracePeriod: 10, recreate: true, ports: [http, prom, healthz],
                            storage: true, cpuRequest: "50m", mounts: [mount("data", "/data"), mount("tmp", "/tmp")], volumes: ["data", "tmp"],
                            systemClusterCritical: true, services: [("source-watcher", "http", "source-watcher")]),
    ]

    public static func component(_ name: String) -> ControllerComponent? { all.first { $0.name == name } }

    // MARK: rendering

    static func labels(_ o: InstallOptions, component: String? = nil, extra: [(String, Node)] = []) -> Node {
        var l: [(String, Node)] = []
        if let component { l.append(("app.kubernetes.io/component", .string(component))) }
        l += [("app.kubernetes.io/instance", .string(o.namespace)), ("app.kubernetes.io/part-of", "flux"),
              ("app.kubernetes.io/version", .string(CRDs.fluxVersion))]
        return .map(l + extra)
    }

    static func meta(_ name: String, _ o: InstallOptions, namespaced: Bool = true, component: String? = nil,
                     extraLabels: [(String, Node)] = []) -> Node {
        var m: [(String, Node)] = [("labels", labels(o, component: component, extra: extraLabels)), ("name", .string(name))]
        if namespaced { m.append(("namespace", .string(o.namespace))) }
        return .map(m)
    }

    public static func namespace(_ o: InstallOptions) -> Node {
        .map([("apiVersion", "v1"), ("kind", "Namespace"),
              ("metadata", meta(o.namespace, o, namespaced: false, extraLabels: [
                  ("pod-security.kubernetes.io/warn", "restricted"), ("pod-security.kubernetes.io/warn-version", "latest")]))])
    }

    static let fluxGroups: [Node] = ["notification.toolkit.fluxcd.io", "source.toolkit.fluxcd.io", "source.extensions.fluxcd.io",
                                     "helm.toolkit.fluxcd.io", "image.toolkit.fluxcd.io", "kustomize.toolkit.fluxcd.io"]

    static func rule(_ groups: [Node], _ resources: [Node], _ verbs: [Node]) -> Node {
        .map([("apiGroups", .sequence(groups)), ("resources", .sequence(resources)), ("verbs", .sequence(verbs))])
    }

    /// manifests/rbac with `nameSuffix: -<namespace>` and the service account namespace replaced.
    public static func rbac(_ o: InstallOptions) -> [Node] {
        let sfx = "-" + o.namespace
        let crdRules: [Node] = ["source.toolkit.fluxcd.io", "kustomize.toolkit.fluxcd.io", "helm.toolkit.fluxcd.io",
                                "notification.toolkit.fluxcd.io", "image.toolkit.fluxcd.io", "source.extensions.fluxcd.io"]
            .map { rule([$0], ["*"], ["*"]) } + [
                rule([""], ["namespaces", "secrets", "configmaps", "serviceaccounts"], ["get", "list", "watch"]),
                rule([""], ["events"], ["create", "patch"]),
                rule([""], ["configmaps"], ["get", "list", "watch", "create", "update", "patch", "delete"]),
                rule([""], ["configmaps/status"], ["get", "update", "patch"]),
                rule(["coordination.k8s.io"], ["leases"], ["get", "list", "watch", "create", "update", "patch", "delete"]),
                rule([""], ["serviceaccounts/token"], ["create"]),
                .map([("nonResourceURLs", ["/livez/ping"]), ("verbs", ["head"])]),
            ]
        func role(_ name: String, _ rules: [Node], aggregate: [String] = []) -> Node {
            .map([("apiVersion", "rbac.authorization.k8s.io/v1"), ("kind", "ClusterRole"),
                  ("metadata", meta(name + sfx, o, namespaced: false,
                                    extraLabels: aggregate.map { ("rbac.authorization.k8s.io/aggregate-to-\($0)", "true") })),
                  ("rules", .sequence(rules))])
        }
        func binding(_ name: String, role: String, _ accounts: [String]) -> Node {
            .map([("apiVersion", "rbac.authorization.k8s.io/v1"), ("kind", "ClusterRoleBinding"),
                  ("metadata", meta(name + sfx, o, namespaced: false)),
                  ("roleRef", .map([("apiGroup", "rbac.authorization.k8s.io"), ("kind", "ClusterRole"), ("name", .string(role))])),
                  ("subjects", .sequence(accounts.map {
                      .map([("kind", "ServiceAccount"), ("name", .string($0)), ("namespace", .string(o.namespace))]) }))])
        }
        let quota: Node = .map([
            ("apiVersion", "v1"), ("kind", "ResourceQuota"), ("metadata", meta("critical-pods" + sfx, o)),
            ("spec", .map([("hard", .map([("pods", "1000")])),
                           ("scopeSelector", .map([("matchExpressions", [.map([
                               ("operator", "In"), ("scopeName", "PriorityClass"),
                               ("values", ["system-node-critical", "system-cluster-critical"])])])]))])),
        ])
        return [
            role("crd-controller", crdRules),
            binding("crd-controller", role: "crd-controller" + sfx, ["kustomize-controller", "helm-controller", "source-controller",
                "notification-controller", "image-reflector-controller", "image-automation-controller", "source-watcher"]),
            binding("cluster-reconciler", role: "cluster-admin", ["kustomize-controller", "helm-controller"]),
            role("flux-edit", [rule(fluxGroups, ["*"], ["create", "delete", "deletecollection", "patch", "update"])], aggregate: ["edit", "admin"]),
            role("flux-view", [rule(fluxGroups, ["*"], ["get", "list", "watch"])], aggregate: ["admin", "edit", "view"]),
            quota,
        ]
    }

    /// manifests/policies.
    public static func policies(_ o: InstallOptions) -> [Node] {
        func policy(_ name: String, _ spec: [(String, Node)]) -> Node {
            .map([("apiVersion", "networking.k8s.io/v1"), ("kind", "NetworkPolicy"), ("metadata", meta(name, o)), ("spec", .map(spec))])
        }
        func fromNamespaces(port: Int) -> Node {
            [.map([("from", [.map([("namespaceSelector", .emptyMap)])]), ("ports", [.map([("port", .int(port)), ("protocol", "TCP")])])])]
        }
        return [
            policy("allow-egress", [("egress", [.emptyMap]), ("ingress", [.map([("from", [.map([("podSelector", .emptyMap)])])])]),
                                    ("podSelector", .emptyMap), ("policyTypes", ["Ingress", "Egress"])]),
            policy("allow-scraping", [("ingress", fromNamespaces(port: 8080)), ("podSelector", .emptyMap), ("policyTypes", ["Ingress"])]),
            policy("allow-webhooks", [("ingress", fromNamespaces(port: 9292)),
                                      ("podSelector", .map([("matchLabels", .map([("app", "notification-controller")]))])),
                                      ("policyTypes", ["Ingress"])]),
        ]
    }

    public static func serviceAccount(_ c: ControllerComponent, _ o: InstallOptions) -> Node {
        .map([("apiVersion", "v1"), ("kind", "ServiceAccount"), ("metadata", meta(c.name, o, component: c.name))])
    }

    public static func services(_ c: ControllerComponent, _ o: InstallOptions) -> [Node] {
        c.services.map { s in
            .map([("apiVersion", "v1"), ("kind", "Service"),
                  ("metadata", meta(s.name, o, component: c.name, extraLabels: [("control-plane", .string(s.controlPlane))])),
                  ("spec", .map([("ports", [.map([("name", "http"), ("port", 80), ("protocol", "TCP"), ("targetPort", .string(s.targetPort))])]),
                                 ("selector", .map([("app", .string(c.name))])), ("type", "ClusterIP")]))])
        }
    }

    /// The controller's args after flux's install overlay.
    public static func args(_ c: ControllerComponent, _ o: InstallOptions) -> [String] {
        let events = o.components.contains("notification-controller")
            ? "http://notification-controller.$(RUNTIME_NAMESPACE).svc.\(o.clusterDomain)./" : ""
        var a: [String] = []
        if c.sendsEvents { a.append("--events-addr=\(events)") }
        a += ["--watch-all-namespaces=\(o.watchAllNamespaces)", "--log-level=\(o.logLevel)", "--log-encoding=json", "--enable-leader-election"]
        if c.storage { a += ["--storage-path=/data", "--storage-adv-addr=\(c.name).$(RUNTIME_NAMESPACE).svc.\(o.clusterDomain)."] }
        if o.components.contains("source-watcher") && ["kustomize-controller", "helm-controller"].contains(c.name) {
            a.append("--feature-gates=ExternalArtifact=true")
        }
        return a
    }

    public static func image(_ c: ControllerComponent, _ o: InstallOptions) -> String {
        o.registry.isEmpty ? c.image : "\(o.registry)/\(c.name):\(c.version)"
    }

    public static func deployment(_ c: ControllerComponent, _ o: InstallOptions) -> Node {
        func env(_ n: String, _ v: Node) -> Node { .map([("name", .string(n)), ("valueFrom", v)]) }
        var envs: [Node] = [env("RUNTIME_NAMESPACE", .map([("fieldRef", .map([("fieldPath", "metadata.namespace")]))]))]
        envs += c.env.map { .map([("name", .string($0.0)), ("value", .string($0.1))]) }
        envs.append(env("GOMEMLIMIT", .map([("resourceFieldRef", .map([("containerName", "manager"), ("resource", "limits.memory")]))])))
        func probe(_ path: String, _ port: String) -> Node { .map([("httpGet", .map([("path", .string(path)), ("port", .string(port))]))]) }
        let container: Node = .map([
            ("args", .sequence(args(c, o).map(Node.string))),
            ("env", .sequence(envs)),
            ("image", .string(image(c, o))),
            ("imagePullPolicy", "IfNotPresent"),
            ("livenessProbe", probe("/healthz", "healthz")),
            ("name", "manager"),
            ("ports", .sequence(c.ports.map { .map([("containerPort", .int($0.port)), ("name", .string($0.name)), ("protocol", "TCP")]) })),
            ("readinessProbe", c.storage ? probe("/", "http") : probe("/readyz", "healthz")),
            ("resources", .map([("limits", .map([("cpu", "1000m"), ("memory", "1Gi")])),
                                ("requests", .map([("cpu", .string(c.cpuRequest)), ("memory", "64Mi")]))])),
            ("securityContext", .map([("allowPrivilegeEscalation", false), ("capabilities", .map([("drop", ["ALL"])])),
                                      ("readOnlyRootFilesystem", true), ("runAsNonRoot", true),
                                      ("seccompProfile", .map([("type", "RuntimeDefault")]))])),
            ("volumeMounts", .sequence(c.mounts.map { .map([("mountPath", .string($0.path)), ("name", .string($0.name))]) })),
        ])
        var pod: [(String, Node)] = [("containers", [container])]
        if !o.imagePullSecret.isEmpty { pod.append(("imagePullSecrets", [.map([("name", .string(o.imagePullSecret))])])) }
        pod.append(("nodeSelector", .map([("kubernetes.io/os", "linux")])))
        if c.systemClusterCritical { pod.append(("priorityClassName", "system-cluster-critical")) }
        pod += [("securityContext", .map([("fsGroup", 1337)])), ("serviceAccountName", .string(c.name)),
                ("terminationGracePeriodSeconds", .int(c.gracePeriod))]
        if !o.tolerationKeys.isEmpty {
            pod.append(("tolerations", .sequence(o.tolerationKeys.map { .map([("key", .string($0)), ("operator", "Exists")]) })))
        }
        pod.append(("volumes", .sequence(c.volumes.map { .map([("emptyDir", .emptyMap), ("name", .string($0))]) })))
        var spec: [(String, Node)] = [("replicas", 1), ("selector", .map([("matchLabels", .map([("app", .string(c.name))]))]))]
        if c.recreate { spec.append(("strategy", .map([("type", "Recreate")]))) }
        spec.append(("template", .map([
            ("metadata", .map([("annotations", .map([("prometheus.io/port", "8080"), ("prometheus.io/scrape", "true")])),
                               ("labels", .map([("app", .string(c.name))] + (labels(o, component: c.name).map?.entries.map { ($0.key, $0.value) } ?? [])))])),
            ("spec", .map(pod)),
        ])))
        return .map([("apiVersion", "apps/v1"), ("kind", "Deployment"),
                     ("metadata", meta(c.name, o, component: c.name, extraLabels: [("control-plane", "controller")])),
                     ("spec", .map(spec))])
    }

    /// kustomize's legacy order of the kinds install renders; within a kind by namespace, then name.
    static let order = ["Namespace", "ResourceQuota", "CustomResourceDefinition", "ServiceAccount", "ClusterRole",
                        "ClusterRoleBinding", "Service", "Deployment"]

    /// Everything `install` renders for these options, in the order kustomize builds it.
    public static func manifests(_ o: InstallOptions) -> [Node] {
        var objects = [namespace(o)] + CRDs.crds(components: o.components, namespace: o.namespace)
        guard o.controllers else { return objects }
        objects += rbac(o)
        if o.networkPolicy { objects += policies(o) }
        for name in o.components {
            guard let c = component(name) else { continue }
            objects.append(serviceAccount(c, o))
            objects += services(c, o)
            objects.append(deployment(c, o))
        }
        func rank(_ n: Node) -> Int { order.firstIndex(of: n["kind"]?.string ?? "") ?? order.count }
        func key(_ n: Node) -> String { n["metadata"]?["name"]?.string ?? "" }
        return objects.enumerated().sorted { a, b in
            let ra = rank(a.element), rb = rank(b.element)
            if ra != rb { return ra < rb }
            if key(a.element) != key(b.element) { return key(a.element) < key(b.element) }
            return a.offset < b.offset
        }.map(\.element)
    }
}
