import FluxsYAML

/// A kubeconfig held in a Secret (spec.kubeConfig.secretRef), read as kustomize-controller reads it: clientcmd's
/// current context, then fluxcd/pkg/runtime/client.KubeConfig's sanitising, which keeps only the server, the TLS
/// server name, inline CA, client certificate and key, a bearer token and basic credentials. Where the controller
/// silently drops a setting (an exec plugin without --insecure-kubeconfig-exec, file paths, insecure TLS without
/// --insecure-kubeconfig-tls, auth providers), fluxs refuses the kubeconfig naming it: running a command or reading
/// a file named by a Secret on the machine that runs fluxs is what the controller's default forbids.
public enum RemoteKubeConfig {
    public static func parse(_ text: String, source: String) throws -> RESTConfig {
        let doc: Node
        do { doc = try YAML.parse(text, file: source) } catch { throw KubeConfigError("invalid kubeconfig in \(source): \(error)") }
        guard doc.map != nil else { throw KubeConfigError("invalid kubeconfig in \(source): expected a mapping") }
        func named(_ key: String, _ inner: String, _ name: String) -> Node? {
            (doc[key]?.array ?? []).first { $0["name"]?.text == name }?[inner]
        }
        guard let ctxName = doc["current-context"]?.text, !ctxName.isEmpty else {
            throw KubeConfigError("invalid kubeconfig in \(source): no current-context is set")
        }
        guard let ctx = named("contexts", "context", ctxName) else {
            throw KubeConfigError("invalid kubeconfig in \(source): context \"\(ctxName)\" not found")
        }
        let clusterName = ctx["cluster"]?.text ?? ""
        guard let cluster = named("clusters", "cluster", clusterName) else {
            throw KubeConfigError("invalid kubeconfig in \(source): cluster \"\(clusterName)\" of context \"\(ctxName)\" not found")
        }
        guard var server = cluster["server"]?.text, !server.isEmpty else {
            throw KubeConfigError("invalid kubeconfig in \(source): cluster \"\(clusterName)\" has no server")
        }
        while server.hasSuffix("/") { server.removeLast() }
        var cfg = RESTConfig(server: server, source: source)
        cfg.contextName = ctxName
        cfg.clusterName = clusterName
        func refuse(_ what: String, _ why: String) -> KubeConfigError {
            KubeConfigError("the kubeconfig in \(source) uses \(what), which fluxs does not allow for remote clusters: \(why)")
        }
        if cluster["certificate-authority"] != nil {
            throw refuse("a certificate-authority file", "embed it as certificate-authority-data (kustomize-controller ignores file paths)")
        }
        if cluster["insecure-skip-tls-verify"]?.bool == true {
            throw refuse("insecure-skip-tls-verify", "kustomize-controller verifies remote clusters unless run with --insecure-kubeconfig-tls; give certificate-authority-data")
        }
        if cluster["proxy-url"] != nil { throw refuse("proxy-url", "kustomize-controller does not use a kubeconfig's proxy") }
        cfg.tls.serverName = cluster["tls-server-name"]?.text
        if let ca = cluster["certificate-authority-data"]?.text {
            guard let d = Base64.decode(ca) else { throw KubeConfigError("invalid kubeconfig in \(source): certificate-authority-data is not base64") }
            cfg.tls.caData = d
        }
        let userName = ctx["user"]?.text ?? ""
        let u = userName.isEmpty ? Node.emptyMap : (named("users", "user", userName) ?? .emptyMap)
        cfg.userName = userName
        if u["exec"] != nil {
            throw refuse("an exec credential plugin (users[\"\(userName)\"].user.exec)",
                         "kustomize-controller does not run exec plugins unless started with --insecure-kubeconfig-exec; put a token or client certificate in the Secret")
        }
        if u["auth-provider"] != nil { throw refuse("an auth-provider", "put a token or client certificate in the Secret") }
        for f in ["client-certificate", "client-key", "tokenFile"] where u[f] != nil {
            throw refuse("a \(f) file", "embed the credential (client-certificate-data, client-key-data, token)")
        }
        for f in ["as", "as-uid", "as-groups", "as-user-extra"] where u[f] != nil {
            throw refuse("impersonation (\(f))", "kustomize-controller drops it; use spec.serviceAccountName")
        }
        if let c = u["client-certificate-data"]?.text {
            guard let d = Base64.decode(c) else { throw KubeConfigError("invalid kubeconfig in \(source): client-certificate-data is not base64") }
            cfg.tls.clientCertData = d
        }
        if let k = u["client-key-data"]?.text {
            guard let d = Base64.decode(k) else { throw KubeConfigError("invalid kubeconfig in \(source): client-key-data is not base64") }
            cfg.tls.clientKeyData = d
        }
        if let t = u["token"]?.text, !t.isEmpty {
            cfg.auth = .token(t)
        } else if let n = u["username"]?.text, let p = u["password"]?.text {
            cfg.auth = .basic(username: n, password: p)
        }
        return cfg
    }
}
