import FluxsYAML

/// A credential from an exec plugin (client.authentication.k8s.io ExecCredential).
public struct ExecCredential: Sendable, Equatable {
    public var token: String?
    public var clientCertificateData: String?
    public var clientKeyData: String?
    /// Seconds since the epoch; nil: valid for this process only.
    public var expiration: Double?

    func isValid(at now: Double) -> Bool {
        guard let e = expiration else { return true }
        return now + 5 < e
    }
}

public struct ExecPluginError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}

/// Runs exec credential plugins as client-go does: the process environment plus
/// the plugin's env and KUBERNETES_EXEC_INFO, stdin closed, the plugin's stderr
/// passed through; a credential with an expiry is reused until it expires, also
/// across fluxs runs through a 0600 cache file.
public struct ExecPluginRunner: Sendable {
    public var cacheDir: String?
    public var environment: [String: String]

    public init(cacheDir: String?, environment: [String: String]) {
        self.cacheDir = cacheDir
        self.environment = environment
    }

    func cacheKey(_ x: ExecConfig, server: String) -> String {
        var key = x.command
        for a in x.args { key += "\u{0}" + a }
        for e in x.env { key += "\u{1}" + e.name + "=" + e.value }
        key += "\u{2}" + x.apiVersion + "\u{2}" + server
        return Hashing.sha256Hex(key)
    }

    public func cached(_ x: ExecConfig, server: String, now: Double = Clock.now()) -> ExecCredential? {
        guard let dir = cacheDir else { return nil }
        let path = dir + "/" + cacheKey(x, server: server) + ".json"
        guard let text = try? Files.readText(path), let doc = try? JSON.decode(text) else { return nil }
        let c = ExecCredential(token: doc["token"]?.string, clientCertificateData: doc["clientCertificateData"]?.string,
                               clientKeyData: doc["clientKeyData"]?.string,
                               expiration: doc["expirationTimestamp"]?.string.flatMap(Clock.parse))
        guard c.expiration != nil, c.isValid(at: now) else { return nil }
        return c
    }

    public func forget(_ x: ExecConfig, server: String) {
        guard let dir = cacheDir else { return }
        Files.remove(dir + "/" + cacheKey(x, server: server) + ".json")
    }

    /// Runs the plugin for at most `timeout` seconds (what is left of --timeout); past it the plugin and what it
    /// started are killed.
    public func run(_ x: ExecConfig, cluster: RESTConfig, user: String, timeout: Double = 120) throws -> ExecCredential {
        if let c = cached(x, server: cluster.server) { return c }
        var env = environment
        for e in x.env { env[e.name] = e.value }
        var spec: [(String, Node)] = [("interactive", .bool(false))]
        if x.provideClusterInfo {
            var c: [(String, Node)] = [("server", .string(cluster.server))]
            if let ca = cluster.tls.caData { c.append(("certificate-authority-data", .string(Base64.encode(ca)))) }
            if cluster.tls.insecure { c.append(("insecure-skip-tls-verify", .bool(true))) }
            if let sn = cluster.tls.serverName { c.append(("tls-server-name", .string(sn))) }
            spec.append(("cluster", .map(c)))
        }
        let info: Node = .map([("kind", "ExecCredential"), ("apiVersion", .string(x.apiVersion)), ("spec", .map(spec))])
        env["KUBERNETES_EXEC_INFO"] = (try? info.jsonString()) ?? ""
        let result: Subprocess.Result
        do {
            result = try Subprocess.run(x.command, x.args, env: env, passStderr: true, timeout: max(0.001, timeout))
        } catch Subprocess.Failure.notFound(let c) {
            var msg = "exec credential plugin \"\(c)\" of user \"\(user)\" not found in PATH"
            msg += x.installHint.map { "; \($0.trimmingWhitespace())" } ?? "; install it or fix users[].user.exec.command in the kubeconfig"
            throw ExecPluginError(message: msg)
        } catch Subprocess.Failure.timedOut(_, _) {
            throw ExecPluginError(message: "exec credential plugin \"\(x.command)\" of user \"\(user)\" did not finish within \(GoDuration.format((timeout * 1000).rounded() / 1000)) (what --timeout left); it was killed")
        } catch {
            throw ExecPluginError(message: "exec credential plugin of user \"\(user)\": \(error)")
        }
        guard result.status == 0 else {
            throw ExecPluginError(message: "exec credential plugin \"\(x.command)\" of user \"\(user)\" failed with exit code \(result.status)")
        }
        let doc: Node
        do { doc = try JSON.decode(bytes: result.stdout) } catch {
            throw ExecPluginError(message: "exec credential plugin \"\(x.command)\" of user \"\(user)\" printed no valid ExecCredential JSON")
        }
        let got = doc["apiVersion"]?.string ?? ""
        guard doc["kind"]?.string == "ExecCredential" else {
            throw ExecPluginError(message: "exec credential plugin \"\(x.command)\" returned kind \"\(doc["kind"]?.string ?? "")\", expected ExecCredential")
        }
        guard got == x.apiVersion else {
            throw ExecPluginError(message: "exec credential plugin \"\(x.command)\" is configured to use API version \(x.apiVersion), plugin returned version \(got)")
        }
        let st = doc["status"] ?? .emptyMap
        let cred = ExecCredential(token: st["token"]?.string, clientCertificateData: st["clientCertificateData"]?.string,
                                  clientKeyData: st["clientKeyData"]?.string,
                                  expiration: st["expirationTimestamp"]?.string.flatMap(Clock.parse))
        guard cred.token != nil || (cred.clientCertificateData != nil && cred.clientKeyData != nil) else {
            throw ExecPluginError(message: "exec credential plugin \"\(x.command)\" returned neither a token nor a client certificate and key")
        }
        if let dir = cacheDir, let exp = st["expirationTimestamp"]?.string {
            var m: [(String, Node)] = [("expirationTimestamp", .string(exp))]
            if let t = cred.token { m.append(("token", .string(t))) }
            if let c = cred.clientCertificateData { m.append(("clientCertificateData", .string(c))) }
            if let k = cred.clientKeyData { m.append(("clientKeyData", .string(k))) }
            if let text = try? Node.map(m).jsonString() {
                try? Files.writeAtomically(dir + "/" + cacheKey(x, server: cluster.server) + ".json", Array(text.utf8), mode: 0o600)
            }
        }
        return cred
    }
}
