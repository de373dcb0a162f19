import FluxsYAML

/// After prefixes, suffixes and hashes changed names, references to the renamed objects follow them
/// (a subset of kustomize's name reference table: ConfigMaps, Secrets, ServiceAccounts, PVCs, Services, roles).
enum NameReferences {
    static func fix(_ res: inout [Resource], config: FieldConfig = FieldConfig()) {
        // old name (any previous) → new name, per kind and namespace
        for i in res.indices {
            let referrer = res[i]
            func renamed(_ kind: String, _ old: String, _ ns: String) -> String? {
                let candidates = res.filter { r in
                    r.kind == kind && !r.previous.isEmpty && r.previous.contains(where: { $0.name == old })
                        && (ns.isEmpty || r.namespace == ns || r.namespace.isEmpty || r.previous.contains { $0.namespace == ns })
                }
                if candidates.count <= 1 { return candidates.first?.name }
                if let s = candidates.first(where: { $0.prefixes == referrer.prefixes && $0.suffixes == referrer.suffixes }) { return s.name }
                if let s = candidates.first(where: { $0.prefixes == referrer.prefixes }) { return s.name }
                if let s = candidates.first(where: { $0.suffixes == referrer.suffixes }) { return s.name }
                let sameNS = candidates.filter { $0.namespace == referrer.namespace }
                return (sameNS.first ?? candidates.first)?.name
            }
            let ns = res[i].namespace
            var n = res[i].node
            func fixPodSpec(_ path: [String]) {
                guard var spec = n.value(at: path), spec.map != nil else { return }
                if var vols = spec["volumes"]?.array {
                    for j in vols.indices {
                        if let c = vols[j]["configMap"]?["name"]?.string, let new = renamed("ConfigMap", c, ns) { vols[j].set(["configMap", "name"], .string(new)) }
                        if let s = vols[j]["secret"]?["secretName"]?.string, let new = renamed("Secret", s, ns) { vols[j].set(["secret", "secretName"], .string(new)) }
                        if let p = vols[j]["persistentVolumeClaim"]?["claimName"]?.string, let new = renamed("PersistentVolumeClaim", p, ns) {
                            vols[j].set(["persistentVolumeClaim", "claimName"], .string(new))
                        }
                        if var sources = vols[j]["projected"]?["sources"]?.array {
                            for k in sources.indices {
                                if let c = sources[k]["configMap"]?["name"]?.string, let new = renamed("ConfigMap", c, ns) { sources[k].set(["configMap", "name"], .string(new)) }
                                if let s = sources[k]["secret"]?["name"]?.string, let new = renamed("Secret", s, ns) { sources[k].set(["secret", "name"], .string(new)) }
                            }
                            vols[j].set(["projected", "sources"], .sequence(sources))
                        }
                    }
                    spec["volumes"] = .sequence(vols)
                }
                for key in ["containers", "initContainers", "ephemeralContainers"] {
                    guard var cs = spec[key]?.array else { continue }
                    for j in cs.indices {
                        if var env = cs[j]["env"]?.array {
                            for k in env.indices {
                                if let c = env[k]["valueFrom"]?["configMapKeyRef"]?["name"]?.string, let new = renamed("ConfigMap", c, ns) {
                                    env[k].set(["valueFrom", "configMapKeyRef", "name"], .string(new))
                                }
                                if let s = env[k]["valueFrom"]?["secretKeyRef"]?["name"]?.string, let new = renamed("Secret", s, ns) {
                                    env[k].set(["valueFrom", "secretKeyRef", "name"], .string(new))
                                }
                            }
                            cs[j]["env"] = .sequence(env)
                        }
                        if var from = cs[j]["envFrom"]?.array {
                            for k in from.indices {
                                if let c = from[k]["configMapRef"]?["name"]?.string, let new = renamed("ConfigMap", c, ns) { from[k].set(["configMapRef", "name"], .string(new)) }
                                if let s = from[k]["secretRef"]?["name"]?.string, let new = renamed("Secret", s, ns) { from[k].set(["secretRef", "name"], .string(new)) }
                            }
                            cs[j]["envFrom"] = .sequence(from)
                        }
                    }
                    spec[key] = .sequence(cs)
                }
                if var ips = spec["imagePullSecrets"]?.array {
                    for j in ips.indices { if let s = ips[j]["name"]?.string, let new = renamed("Secret", s, ns) { ips[j]["name"] = .string(new) } }
                    spec["imagePullSecrets"] = .sequence(ips)
                }
                if let sa = spec["serviceAccountName"]?.string, let new = renamed("ServiceAccount", sa, ns) { spec["serviceAccountName"] = .string(new) }
                n.set(path, spec)
            }
            switch res[i].kind {
            case "Pod": fixPodSpec(["spec"])
            case "Deployment", "ReplicaSet", "DaemonSet", "StatefulSet", "Job", "ReplicationController": fixPodSpec(["spec", "template", "spec"])
            case "CronJob": fixPodSpec(["spec", "jobTemplate", "spec", "template", "spec"])
            case "RoleBinding", "ClusterRoleBinding":
                if let kind = n["roleRef"]?["kind"]?.string, let name = n["roleRef"]?["name"]?.string, let new = renamed(kind, name, kind == "Role" ? ns : "") {
                    n.set(["roleRef", "name"], .string(new))
                }
                if var subjects = n["subjects"]?.array {
                    for j in subjects.indices where subjects[j]["kind"]?.string == "ServiceAccount" {
                        if let s = subjects[j]["name"]?.string, let new = renamed("ServiceAccount", s, subjects[j]["namespace"]?.string ?? "") {
                            subjects[j]["name"] = .string(new)
                        }
                    }
                    n["subjects"] = .sequence(subjects)
                }
            case "Ingress":
                func fixBackend(_ b: inout Node) {
                    if let s = b["service"]?["name"]?.string, let new = renamed("Service", s, ns) { b.set(["service", "name"], .string(new)) }
                    if let s = b["serviceName"]?.string, let new = renamed("Service", s, ns) { b["serviceName"] = .string(new) }
                }
                if var d = n["spec"]?["defaultBackend"] { fixBackend(&d); n.set(["spec", "defaultBackend"], d) }
                if var rules = n["spec"]?["rules"]?.array {
                    for j in rules.indices {
                        guard var paths = rules[j]["http"]?["paths"]?.array else { continue }
                        for k in paths.indices { if var b = paths[k]["backend"] { fixBackend(&b); paths[k]["backend"] = b } }
                        rules[j].set(["http", "paths"], .sequence(paths))
                    }
                    n.set(["spec", "rules"], .sequence(rules))
                }
                if var tls = n["spec"]?["tls"]?.array {
                    for j in tls.indices { if let s = tls[j]["secretName"]?.string, let new = renamed("Secret", s, ns) { tls[j]["secretName"] = .string(new) } }
                    n.set(["spec", "tls"], .sequence(tls))
                }
            default: break
            }
            if res[i].kind == "StatefulSet", let svc = n["spec"]?["serviceName"]?.string, let new = renamed("Service", svc, ns) {
                n.set(["spec", "serviceName"], .string(new))
            }
            for ref in config.nameReferences {
                for spec in ref.specs where spec.applies(to: referrer) && !spec.path.isEmpty {
                    FieldSpec.visit(&n, spec.path[...], create: false) { v in
                        if let old = v?.string, let new = renamed(ref.kind, old, ns) { v = .string(new) }
                        else if case .mapping(var m)? = v, let old = m["name"]?.string, let new = renamed(ref.kind, old, ns) {
                            m["name"] = .string(new); v = .mapping(m)
                        }
                    }
                }
            }
            res[i].node = n
        }
    }
}
