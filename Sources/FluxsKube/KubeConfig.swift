import FluxsYAML

/// Connection flags as kubectl and flux accept them; nil means "not given".
public struct ConnectionOverrides: Sendable, Equatable {
    public var kubeconfig: String?
    public var context: String?
    public var cluster: String?
    public var user: String?
    public var server: String?
    public var token: String?
    public var certificateAuthority: String?
    public var clientCertificate: String?
    public var clientKey: String?
    public var insecureSkipTLSVerify: Bool?
    public var tlsServerName: String?
    public var impersonate: String?
    public var impersonateUID: String?
    public var impersonateGroups: [String] = []

    public init() {}
}

public struct ExecConfig: Sendable, Equatable {
    public var command: String
    public var args: [String] = []
    public var env: [KeyValue] = []
    public var apiVersion: String = "client.authentication.k8s.io/v1"
    public var installHint: String?
    public var provideClusterInfo: Bool = false
    public var interactiveMode: String?

    public struct KeyValue: Sendable, Equatable {
        public var name: String
        public var value: String
    }
}

public enum Authentication: Sendable, Equatable {
    case none
    case token(String)
    case tokenFile(String)
    case basic(username: String, password: String)
    case exec(ExecConfig)
}

/// Everything needed to talk to one API server.
public struct RESTConfig: Sendable {
    public var server: String
    public var tls: TLSSettings
    public var auth: Authentication
    /// The namespace of the selected context, if any.
    public var namespace: String?
    public var contextName: String?
    public var clusterName: String?
    public var userName: String?
    public var impersonateUser: String?
    public var impersonateUID: String?
    public var impersonateGroups: [String] = []
    /// Where the configuration came from (for error messages).
    public var source: String

    public init(server: String, tls: TLSSettings = TLSSettings(), auth: Authentication = .none, source: String = "flags") {
        self.server = server
        self.tls = tls
        self.auth = auth
        self.source = source
    }
}

public struct KubeConfigError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Loads kubeconfig files as client-go does: --kubeconfig, else the KUBECONFIG
/// path list (missing files skipped, the first file to set a value wins), else
/// ~/.kube/config, else the in-cluster service account.
public struct KubeConfigLoader: Sendable {
    public var environment: [String: String]
    public var home: String
    public var serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

    public init(environment: [String: String], home: String) {
        self.environment = environment
        self.home = home
    }

    struct Entry {
        var node: Node
        var dir: String
    }

    struct Merged {
        var clusters: [String: Entry] = [:]
        var users: [String: Entry] = [:]
        var contexts: [String: Entry] = [:]
        var currentContext: String?
        var files: [String] = []
    }

    /// The kubeconfig files that are read, in precedence order.
    public func paths(explicit: String?) throws -> [String] {
        if let e = explicit, !e.isEmpty {
            guard Files.exists(e) else { throw KubeConfigError("kubeconfig file \"\(e)\" does not exist (--kubeconfig)") }
            return [e]
        }
        if let list = environment["KUBECONFIG"], !list.isEmpty {
            var seen = Set<String>()
            return list.split(separator: ":").map(String.init).filter { !$0.isEmpty && seen.insert($0).inserted && Files.exists($0) }
        }
        let def = home + "/.kube/config"
        return Files.exists(def) ? [def] : []
    }

    func merge(_ files: [String]) throws -> Merged {
        var m = Merged()
        m.files = files
        for f in files {
            let text: String
            do { text = try Files.readText(f) } catch { throw KubeConfigError("cannot read kubeconfig \(f): \(error)") }
            let doc: Node
            do { doc = try YAML.parse(text, file: f) } catch { throw KubeConfigError("invalid kubeconfig \(error)") }
            if doc.isNull { continue }
            guard doc.map != nil else { throw KubeConfigError("invalid kubeconfig \(f): expected a mapping") }
            let dir = Files.dirname(Files.absolute(f))
            func collect(_ key: String, _ inner: String, into dict: inout [String: Entry]) throws {
                for item in doc[key]?.array ?? [] {
                    guard let name = item["name"]?.text else { throw KubeConfigError("invalid kubeconfig \(f): an entry of \(key) has no name") }
                    if dict[name] == nil { dict[name] = Entry(node: item[inner] ?? .emptyMap, dir: dir) }
                }
            }
            try collect("clusters", "cluster", into: &m.clusters)
            try collect("users", "user", into: &m.users)
            try collect("contexts", "context", into: &m.contexts)
            if m.currentContext == nil, let cc = doc["current-context"]?.text, !cc.isEmpty { m.currentContext = cc }
        }
        return m
    }

    /// Context names of the merged configuration (for completion).
    public func contextNames(explicit: String?) -> [String] {
        guard let files = try? paths(explicit: explicit), let m = try? merge(files) else { return [] }
        return m.contexts.keys.sorted()
    }

    public func currentNamespace(_ o: ConnectionOverrides) -> String? {
        guard let files = try? paths(explicit: o.kubeconfig), let m = try? merge(files) else { return nil }
        guard let ctx = o.context ?? m.currentContext, let c = m.contexts[ctx] else { return nil }
        return c.node["namespace"]?.text
    }

    public func load(_ o: ConnectionOverrides) throws -> RESTConfig {
        let files = try paths(explicit: o.kubeconfig)
        let m = try merge(files)
        let source = files.isEmpty ? "flags" : files.joined(separator: ":")
        if files.isEmpty && o.server == nil {
            if let host = environment["KUBERNETES_SERVICE_HOST"], let port = environment["KUBERNETES_SERVICE_PORT"] {
                return try inCluster(host: host, port: port, o)
            }
            throw KubeConfigError("no Kubernetes configuration found: set --kubeconfig or KUBECONFIG, create ~/.kube/config, or pass --server")
        }
        let ctxName = o.context ?? m.currentContext
        var ctx: Node = .emptyMap
        if let n = ctxName {
            if let c = m.contexts[n] { ctx = c.node } else if o.context != nil || (o.cluster == nil && o.server == nil) {
                throw KubeConfigError("context \"\(n)\" not found in kubeconfig \(source)")
            }
        }
        let clusterName = o.cluster ?? ctx["cluster"]?.text
        let userName = o.user ?? ctx["user"]?.text
        var cluster: Entry? = nil
        if let cn = clusterName {
            cluster = m.clusters[cn]
            if cluster == nil && o.server == nil {
                throw KubeConfigError("cluster \"\(cn)\"\(ctxName.map { " of context \"\($0)\"" } ?? "") not found in kubeconfig \(source)")
            }
        }
        var user: Entry? = nil
        if let un = userName {
            user = m.users[un]
            if user == nil && o.token == nil && o.clientCertificate == nil {
                throw KubeConfigError("user \"\(un)\"\(ctxName.map { " of context \"\($0)\"" } ?? "") not found in kubeconfig \(source)")
            }
        }
        guard let server = o.server ?? cluster?.node["server"]?.text, !server.isEmpty else {
            throw KubeConfigError("no server set for \(ctxName.map { "context \"\($0)\"" } ?? "the current context") in kubeconfig \(source): pass --server or --context")
        }
        var cfg = RESTConfig(server: trimSlash(server), source: source)
        cfg.contextName = ctxName
        cfg.clusterName = clusterName
        cfg.userName = userName
        cfg.namespace = ctx["namespace"]?.text
        // TLS
        let cdir = cluster?.dir ?? "."
        if let insecure = o.insecureSkipTLSVerify {
            cfg.tls.insecure = insecure
        } else {
            cfg.tls.insecure = cluster?.node["insecure-skip-tls-verify"]?.bool ?? false
        }
        cfg.tls.serverName = o.tlsServerName ?? cluster?.node["tls-server-name"]?.text
        if let caFile = o.certificateAuthority {
            cfg.tls.caData = try readFile(caFile, "certificate authority (--certificate-authority)")
        } else if let data = cluster?.node["certificate-authority-data"]?.text {
            guard let d = Base64.decode(data) else { throw KubeConfigError("invalid certificate-authority-data of cluster \"\(clusterName ?? "")\" in \(source)") }
            cfg.tls.caData = d
        } else if let f = cluster?.node["certificate-authority"]?.text {
            cfg.tls.caData = try readFile(Files.absolute(f, relativeTo: cdir), "certificate-authority of cluster \"\(clusterName ?? "")\"")
        }
        // credentials
        let u = user?.node ?? .emptyMap
        let udir = user?.dir ?? "."
        if let cert = o.clientCertificate {
            cfg.tls.clientCertData = try readFile(cert, "client certificate (--client-certificate)")
        } else if let d = u["client-certificate-data"]?.text {
            cfg.tls.clientCertData = Base64.decode(d)
        } else if let f = u["client-certificate"]?.text {
            cfg.tls.clientCertData = try readFile(Files.absolute(f, relativeTo: udir), "client-certificate of user \"\(userName ?? "")\"")
        }
        if let key = o.clientKey {
            cfg.tls.clientKeyData = try readFile(key, "client key (--client-key)")
        } else if let d = u["client-key-data"]?.text {
            cfg.tls.clientKeyData = Base64.decode(d)
        } else if let f = u["client-key"]?.text {
            cfg.tls.clientKeyData = try readFile(Files.absolute(f, relativeTo: udir), "client-key of user \"\(userName ?? "")\"")
        }
        if let t = o.token, !t.isEmpty {
            cfg.auth = .token(t)
        } else if let t = u["token"]?.text, !t.isEmpty {
            cfg.auth = .token(t)
        } else if let f = u["tokenFile"]?.text {
            cfg.auth = .tokenFile(Files.absolute(f, relativeTo: udir))
        } else if let name = u["username"]?.text, let pw = u["password"]?.text {
            cfg.auth = .basic(username: name, password: pw)
        } else if let e = u["exec"], e.map != nil {
            cfg.auth = .exec(try execConfig(e, dir: udir, user: userName ?? ""))
        } else if let ap = u["auth-provider"]?["name"]?.text {
            throw KubeConfigError("user \"\(userName ?? "")\" uses the auth-provider \"\(ap)\", which fluxs does not support; use an exec credential plugin instead (e.g. gke-gcloud-auth-plugin, kubelogin)")
        }
        cfg.impersonateUser = o.impersonate ?? u["as"]?.text
        cfg.impersonateUID = o.impersonateUID ?? u["as-uid"]?.text
        cfg.impersonateGroups = o.impersonateGroups.isEmpty ? (u["as-groups"]?.array?.compactMap { $0.text } ?? []) : o.impersonateGroups
        return cfg
    }

    func execConfig(_ e: Node, dir: String, user: String) throws -> ExecConfig {
        guard var cmd = e["command"]?.text, !cmd.isEmpty else {
            throw KubeConfigError("exec plugin of user \"\(user)\" has no command")
        }
        if cmd.contains("/") && !cmd.hasPrefix("/") { cmd = Files.absolute(cmd, relativeTo: dir) }
        var x = ExecConfig(command: cmd)
        x.args = e["args"]?.array?.compactMap { $0.text } ?? []
        x.env = (e["env"]?.array ?? []).compactMap { item in
            guard let n = item["name"]?.text else { return nil }
            return ExecConfig.KeyValue(name: n, value: item["value"]?.text ?? "")
        }
        if let v = e["apiVersion"]?.text { x.apiVersion = v }
        guard ["client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"].contains(x.apiVersion) else {
            throw KubeConfigError("exec plugin of user \"\(user)\": apiVersion \"\(x.apiVersion)\" is not supported; use client.authentication.k8s.io/v1 or v1beta1")
        }
        x.installHint = e["installHint"]?.text
        x.provideClusterInfo = e["provideClusterInfo"]?.bool ?? false
        x.interactiveMode = e["interactiveMode"]?.text
        return x
    }

    func inCluster(host: String, port: String, _ o: ConnectionOverrides) throws -> RESTConfig {
        let h = host.contains(":") ? "[\(host)]" : host
        var cfg = RESTConfig(server: "https://\(h):\(port)", source: "in-cluster service account")
        cfg.auth = .tokenFile(serviceAccountDir + "/token")
        cfg.tls.caData = try readFile(serviceAccountDir + "/ca.crt", "in-cluster CA")
        if let ns = try? Files.readText(serviceAccountDir + "/namespace") { cfg.namespace = ns.trimmingWhitespace() }
        if let t = o.token { cfg.auth = .token(t) }
        return cfg
    }

    func readFile(_ path: String, _ what: String) throws -> [UInt8] {
        do { return try Files.read(path) } catch {
            throw KubeConfigError("cannot read \(what) \(path): \((error as? Files.Failure).map { String(cString: strerrorText($0.errno)) } ?? "\(error)")")
        }
    }

    func trimSlash(_ s: String) -> String {
        var s = s
        while s.hasSuffix("/") { s.removeLast() }
        return s
    }
}

import Glibc

func strerrorText(_ e: Int32) -> UnsafeMutablePointer<CChar> { strerror(e) }

extension String {
    public func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\n" || f == "\t" || f == "\r" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\n" || l == "\t" || l == "\r" { s.removeLast() }
        return String(s)
    }
}
