import FluxsAPI
import FluxsKube

/// Shell completion generated from the command table. Commands, aliases and
/// flags are written into the script; object names, namespaces and contexts
/// are asked of `fluxs __complete` at completion time (cobra's protocol:
/// one candidate per line, then `:<directive>`).
enum Completion {
    struct Entry {
        var path: String
        var command: Command
        /// Flags of this path other than the global ones.
        var flags: [Flag]
    }

    /// The root's persistent flags, accepted everywhere.
    static func globals(_ root: Command) -> [Flag] { root.persistentFlags.filter { !$0.hidden } }

    /// Every available, visible command path with the flags it accepts besides the global ones.
    static func entries(_ root: Command) -> [Entry] {
        var out: [Entry] = []
        let global = Set(root.persistentFlags.map(\.name))
        func walk(_ path: [Command]) {
            let c = path.last!
            let name = path.dropFirst().map(\.name).joined(separator: " ")
            let own = ArgParser.visibleFlags(path).filter { !$0.hidden && !global.contains($0.name) }
            out.append(Entry(path: name, command: c, flags: own))
            for s in c.subcommands where !s.hidden && s.availability == .available { walk(path + [s]) }
        }
        walk([root])
        return out
    }

    static func visibleSubs(_ c: Command) -> [Command] {
        c.subcommands.filter { !$0.hidden && $0.availability == .available }.sorted { $0.name < $1.name }
    }

    static func takesValue(_ f: Flag) -> Bool { f.kind != .bool }

    static func dynamicFlag(_ f: Flag) -> Bool {
        f.completion == .contexts || f.completion == .namespaces
    }

    static func takesNames(_ c: Command) -> Bool {
        if case .names = c.args { return true }
        return false
    }

    static func shellQuote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    // MARK: __complete

    struct Result {
        var candidates: [(String, String)] = []
        var directive = 4  // NoFileComp
    }

    /// Completes the last word given the ones before it.
    static func complete(root: Command, words: [String], inv: (Parsed) -> Invocation) -> Result {
        var r = Result()
        guard let toComplete = words.last else { return r }
        let prior = Array(words.dropLast())
        // resolve the command path tolerantly
        var path = [root]
        var i = 0
        var pendingFlag: Flag? = nil
        var positionals = 0
        while i < prior.count {
            let w = prior[i]
            let flags = ArgParser.visibleFlags(path)
            if w.hasPrefix("-") && w.count > 1 {
                if !w.contains("="), let f = ArgParser.lookup(w, in: flags), f.kind != .bool {
                    if i == prior.count - 1 { pendingFlag = f }
                    i += 1
                }
                i += 1
                continue
            }
            if let s = path.last!.sub(w) { path.append(s) } else { positionals += 1 }
            i += 1
        }
        let flags = ArgParser.visibleFlags(path)
        let usable = pendingFlag == nil ? prior : Array(prior.dropLast())
        var parsed = (try? ArgParser.parse(root: root, argv: usable.filter { $0 != "--" })) ?? {
            var v = FlagValues()
            for f in flags { v.values[f.name] = try? ArgParser.defaultValue(f, cmdPath: "") }
            return Parsed(path: path, args: [], flags: v, helpRequested: false)
        }()
        // completion must answer quickly even when the cluster does not
        parsed.flags.values["timeout"] = .duration(min(parsed.flags.duration("timeout"), 5))
        if let f = pendingFlag, !toComplete.hasPrefix("-") {
            switch f.completion {
            case .contexts:
                let inv = inv(parsed)
                r.candidates = inv.kubeConfigLoader.contextNames(explicit: inv.connection.kubeconfig).map { ($0, "") }
            case .namespaces:
                let inv = inv(parsed)
                if let kube = try? inv.kube(),
                   let list = try? kube.list(ResourceRef.namespaces, namespace: nil) {
                    r.candidates = list.items.compactMap { $0["metadata"]?["name"]?.string }.map { ($0, "") }
                } else { r.directive = 1 }
            case .values(let v): r.candidates = v.map { ($0, "") }
            case .files: r.directive = 0
            case .directories: r.directive = 16
            case .none: r.directive = 0
            }
            return filter(r, toComplete)
        }
        if toComplete.hasPrefix("-") {
            r.candidates = flags.filter { !$0.hidden }.map { ("--\($0.name)", $0.help) }
            return filter(r, toComplete)
        }
        let cmd = path.last!
        let subs = visibleSubs(cmd)
        if !subs.isEmpty && cmd.handler == nil {
            r.candidates = subs.map { ($0.name, $0.summary) }
            return filter(r, toComplete)
        }
        if case .names(let kind, let many) = cmd.args, many || positionals == 0, let k = FluxKinds.named(kind) {
            let inv = inv(parsed)
            guard let kube = try? inv.kube(), let ns = try? inv.namespace() else { r.directive = 1; return r }
            let ref = ResourceRef(group: k.group, version: k.version, resource: k.plural, kind: k.kind, namespaced: true)
            guard let list = try? kube.list(ref, namespace: ns) else { r.directive = 1; return r }
            r.candidates = list.items.compactMap { $0["metadata"]?["name"]?.string }.map { ($0, "") }
            return filter(r, toComplete)
        }
        if case .words(let w) = cmd.args, positionals == 0 {
            r.candidates = w.map { ($0, "") }
            return filter(r, toComplete)
        }
        if case .any = cmd.args { r.directive = 0 }
        return r
    }

    static func filter(_ r: Result, _ prefix: String) -> Result {
        var out = r
        out.candidates = r.candidates.filter { $0.0.hasPrefix(prefix) }
        return out
    }
}
