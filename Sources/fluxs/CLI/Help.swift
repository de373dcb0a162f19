/// Help text generated from the command table, in cobra's layout.
enum Help {
    static func render(_ path: [Command]) -> String {
        let cmd = path.last!
        let cmdPath = path.map(\.name).joined(separator: " ")
        var s = ""
        var intro = (cmd.long ?? cmd.summary).trimmingSpaces()
        if case .planned(let why) = cmd.availability { intro += "\n\nNot available in this fluxs build yet: \(why)" }
        if !intro.isEmpty { s += intro + "\n\n" }
        s += "Usage:"
        var runnable = cmd.handler != nil
        if case .planned = cmd.availability { runnable = true }
        if runnable { s += "\n  " + useLine(cmd, cmdPath) }
        let visibleSubs = cmd.subcommands.filter { !$0.hidden }
        if !visibleSubs.isEmpty { s += "\n  \(cmdPath) [command]" }
        if !cmd.aliases.isEmpty {
            s += "\n\nAliases:\n  " + ([cmd.name] + cmd.aliases).joined(separator: ", ")
        }
        if !cmd.examples.isEmpty {
            s += "\n\nExamples:\n" + cmd.examples.trimmingTrailingNewlines()
        }
        if !visibleSubs.isEmpty {
            s += "\n\nAvailable Commands:"
            let pad = max(visibleSubs.map(\.name.count).max() ?? 0, 11)
            for c in visibleSubs.sorted(by: { $0.name < $1.name }) {
                var summary = c.summary
                if case .planned = c.availability { summary += " (not yet in fluxs)" }
                s += "\n  " + c.name.padding(to: pad) + " " + summary
            }
        }
        let local = localFlags(path)
        if !local.isEmpty {
            s += "\n\nFlags:\n" + flagUsages(local)
        }
        let inherited = inheritedFlags(path)
        if !inherited.isEmpty {
            s += "\n\nGlobal Flags:\n" + flagUsages(inherited)
        }
        if !visibleSubs.isEmpty {
            s += "\n\nUse \"\(cmdPath) [command] --help\" for more information about a command."
        }
        return s + "\n"
    }

    static func useLine(_ cmd: Command, _ cmdPath: String) -> String {
        if let u = cmd.usage { return "\(cmdPath) \(u)".replacingOccurrences(of: "  ", with: " ") }
        var line = cmdPath
        switch cmd.args {
        case .names(_, let many): line += many ? " [name...]" : " [name]"
        case .any(let u): line += " " + u
        case .words(let w): line += " [" + w.joined(separator: "|") + "]"
        case .none: break
        }
        return line + " [flags]"
    }

    static func localFlags(_ path: [Command]) -> [Flag] {
        let cmd = path.last!
        var seen = Set<String>()
        var out = (cmd.flags + cmd.persistentFlags).filter { !$0.hidden && seen.insert($0.name).inserted }
        if !seen.contains("help") { out.append(Flag.bool("help", "h", "help for \(cmd.name)")) }
        return out
    }

    static func inheritedFlags(_ path: [Command]) -> [Flag] {
        let cmd = path.last!
        var seen = Set((cmd.flags + cmd.persistentFlags).map(\.name))
        seen.insert("help")
        return path.dropLast().reversed().flatMap(\.persistentFlags).filter { !$0.hidden && seen.insert($0.name).inserted }
    }

    /// pflag's FlagUsages: sorted by name, usage column aligned.
    static func flagUsages(_ flags: [Flag]) -> String {
        var lines: [(String, String)] = []
        var maxlen = 0
        for f in flags.sorted(by: { $0.name < $1.name }) {
            var line = f.short.map { "  -\($0), --\(f.name)" } ?? "      --\(f.name)"
            if !f.typeName.isEmpty { line += " " + f.typeName }
            maxlen = max(maxlen, line.count)
            var usage = f.help
            if let d = defaultText(f) { usage += " (default \(d))" }
            lines.append((line, usage))
        }
        return lines.map { l, u in l + String(repeating: " ", count: maxlen - l.count + 3) + u }.joined(separator: "\n")
    }

    static func defaultText(_ f: Flag) -> String? {
        switch f.kind {
        case .bool: return f.defaultValue == "true" ? "true" : nil
        case .string, .choice: return f.defaultValue.isEmpty ? nil : "\"\(f.defaultValue)\""
        case .stringSlice, .stringArray: return f.defaultValue.isEmpty ? nil : "[\(f.defaultValue)]"
        case .int, .float: return f.defaultValue.isEmpty || f.defaultValue == "0" ? nil : f.defaultValue
        case .duration: return f.defaultValue.isEmpty || f.defaultValue == "0s" ? nil : f.defaultValue
        }
    }
}

extension String {
    func padding(to n: Int) -> String { count >= n ? self : self + String(repeating: " ", count: n - count) }

    func trimmingTrailingNewlines() -> String {
        var s = self
        while s.hasSuffix("\n") { s.removeLast() }
        return s
    }

    func replacingOccurrences(of target: String, with rep: String) -> String {
        guard !target.isEmpty else { return self }
        var out = ""
        var rest = Substring(self)
        while let r = rest.firstRange(of: target) {
            out += rest[..<r.lowerBound]
            out += rep
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}
