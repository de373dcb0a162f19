import FluxsKube

enum FlagValue: Equatable {
    case bool(Bool)
    case string(String)
    case strings([String])
    case int(Int)
    case float(Double)
    case duration(Double)
}

/// Parsed flag values of one run: defaults, overridden by what was typed.
struct FlagValues {
    var values: [String: FlagValue] = [:]
    /// Flags given on the command line (not defaults).
    var given: Set<String> = []

    func bool(_ n: String) -> Bool { if case .bool(let b) = values[n] { return b }; return false }
    func string(_ n: String) -> String { if case .string(let s) = values[n] { return s }; return "" }
    func strings(_ n: String) -> [String] { if case .strings(let s) = values[n] { return s }; return [] }
    func int(_ n: String) -> Int { if case .int(let i) = values[n] { return i }; return 0 }
    func float(_ n: String) -> Double { if case .float(let d) = values[n] { return d }; return 0 }
    func duration(_ n: String) -> Double { if case .duration(let d) = values[n] { return d }; return 0 }
    func isSet(_ n: String) -> Bool { given.contains(n) }
}

struct UsageError: Error {
    var message: String
    /// The command whose help the hint points to.
    var commandPath: String
}

struct Parsed {
    var path: [Command]
    var args: [String]
    var flags: FlagValues
    var helpRequested: Bool
    var command: Command { path.last! }
    var commandPath: String { path.map(\.name).joined(separator: " ") }
}

enum ArgParser {
    /// Every flag visible at the end of a command path: local flags of the last command,
    /// persistent flags of it and of its ancestors, and -h/--help.
    static func visibleFlags(_ path: [Command]) -> [Flag] {
        var out: [Flag] = []
        var seen = Set<String>()
        for f in path.last!.flags + path.reversed().flatMap(\.persistentFlags) where seen.insert(f.name).inserted {
            out.append(f)
        }
        if seen.insert("help").inserted {
            out.append(Flag.bool("help", "h", "help for \(path.last!.name)"))
        }
        return out
    }

    /// Flags of the whole subtree (used only to skip flag values while locating the command).
    static func subtreeFlags(_ c: Command) -> [Flag] {
        c.flags + c.persistentFlags + c.subcommands.flatMap(subtreeFlags)
    }

    static func parse(root: Command, argv: [String]) throws -> Parsed {
        // Pass 1: locate the command, cobra-style (flags may come before sub-command names).
        var path = [root]
        var consumed = Set<Int>()
        let anyFlags = subtreeFlags(root)
        var i = 0
        while i < argv.count {
            let a = argv[i]
            if a == "--" { break }
            if a.hasPrefix("-") && a.count > 1 {
                let isLong = a.hasPrefix("--")
                let valueAttached = a.contains("=") || (!isLong && a.count > 2)
                if !valueAttached, let f = lookup(a, in: anyFlags), f.kind != .bool {
                    i += 1  // skip the flag's value
                }
                i += 1
                continue
            }
            if let s = path.last!.sub(a) {
                path.append(s)
                consumed.insert(i)
                i += 1
                continue
            }
            break
        }
        let cmdPath = path.map(\.name).joined(separator: " ")
        // A command that is not built yet accepts every flag flux's command takes (it only says it is not available).
        var lenient = false
        if case .planned = path.last!.availability { lenient = true }
        // Pass 2: parse flags of the located command.
        let flags = visibleFlags(path)
        var values = FlagValues()
        for f in flags {
            values.values[f.name] = try defaultValue(f, cmdPath: cmdPath)
        }
        var args: [String] = []
        var help = false
        var terminated = false
        i = 0
        func err(_ m: String) -> UsageError { UsageError(message: m, commandPath: cmdPath) }
        while i < argv.count {
            defer { i += 1 }
            if consumed.contains(i) { continue }
            let a = argv[i]
            if terminated { args.append(a); continue }
            if a == "--" { terminated = true; continue }
            if a.hasPrefix("--") {
                let body = String(a.dropFirst(2))
                if body.isEmpty || body.hasPrefix("-") || body.hasPrefix("=") { throw err("bad flag syntax: \(a)") }
                let name: String
                var inline: String? = nil
                if let eq = body.firstIndex(of: "=") {
                    name = String(body[..<eq])
                    inline = String(body[body.index(after: eq)...])
                } else {
                    name = body
                }
                guard let f = flags.first(where: { $0.name == name }) else {
                    if lenient { continue }
                    throw err("unknown flag: --\(name)" + suggestFlag(name, flags))
                }
                if f.name == "help" { help = true; continue }
                var value = inline
                if value == nil && f.kind != .bool {
                    guard i + 1 < argv.count else { throw err("flag needs an argument: --\(name)") }
                    i += 1
                    value = argv[i]
                }
                try set(f, value, into: &values, display: "--\(f.name)", cmdPath: cmdPath)
                continue
            }
            if a.hasPrefix("-") && a.count > 1 {
                // shorthand(s): -A, -n value, -nvalue, -n=value, -Aw
                var chars = Array(a.dropFirst())
                while !chars.isEmpty {
                    let c = chars.removeFirst()
                    guard let f = flags.first(where: { $0.short == c }) else {
                        if lenient { chars = []; continue }
                        throw err("unknown shorthand flag: '\(c)' in \(a)")
                    }
                    if f.name == "help" { help = true; continue }
                    if f.kind == .bool {
                        if chars.first == "=" {
                            try set(f, String(chars.dropFirst()), into: &values, display: "-\(c)", cmdPath: cmdPath)
                            chars = []
                        } else {
                            try set(f, nil, into: &values, display: "-\(c)", cmdPath: cmdPath)
                        }
                        continue
                    }
                    var value: String
                    if !chars.isEmpty {
                        value = String(chars)
                        if value.hasPrefix("=") { value.removeFirst() }
                        chars = []
                    } else {
                        guard i + 1 < argv.count else { throw err("flag needs an argument: '\(c)' in \(a)") }
                        i += 1
                        value = argv[i]
                    }
                    try set(f, value, into: &values, display: "-\(c), --\(f.name)", cmdPath: cmdPath)
                }
                continue
            }
            args.append(a)
        }
        let cmd = path.last!
        if !help && !args.isEmpty && !cmd.subcommands.isEmpty && (cmd.handler == nil || path.count == 1) {
            let word = args[0]
            throw err("unknown command \"\(word)\" for \"\(cmdPath)\"" + suggestCommand(word, cmd))
        }
        return Parsed(path: path, args: args, flags: values, helpRequested: help)
    }

    static func lookup(_ token: String, in flags: [Flag]) -> Flag? {
        if token.hasPrefix("--") {
            let name = String(token.dropFirst(2).prefix { $0 != "=" })
            return flags.first { $0.name == name }
        }
        guard let c = token.dropFirst().first else { return nil }
        return flags.first { $0.short == c }
    }

    static func defaultValue(_ f: Flag, cmdPath: String) throws -> FlagValue {
        switch f.kind {
        case .bool: return .bool(f.defaultValue == "true")
        case .string, .choice: return .string(f.defaultValue)
        case .stringSlice, .stringArray:
            return .strings(f.defaultValue.isEmpty ? [] : f.defaultValue.split(separator: ",").map(String.init))
        case .int: return .int(Int(f.defaultValue) ?? 0)
        case .float: return .float(Double(f.defaultValue) ?? 0)
        case .duration: return .duration(f.defaultValue.isEmpty ? 0 : (try? GoDuration.parse(f.defaultValue)) ?? 0)
        }
    }

    static func set(_ f: Flag, _ raw: String?, into values: inout FlagValues, display: String, cmdPath: String) throws {
        func invalid(_ why: String) -> UsageError {
            UsageError(message: "invalid argument \"\(raw ?? "")\" for \"\(display)\" flag: \(why)", commandPath: cmdPath)
        }
        let first = !values.given.contains(f.name)
        values.given.insert(f.name)
        switch f.kind {
        case .bool:
            guard let r = raw else { values.values[f.name] = .bool(true); return }
            switch r {
            case "1", "t", "T", "true", "TRUE", "True": values.values[f.name] = .bool(true)
            case "0", "f", "F", "false", "FALSE", "False": values.values[f.name] = .bool(false)
            default: throw invalid("strconv.ParseBool: parsing \"\(r)\": invalid syntax")
            }
        case .string:
            values.values[f.name] = .string(raw ?? "")
        case .choice(let allowed):
            let r = raw ?? ""
            guard allowed.contains(r) else { throw invalid("must be one of: \(allowed.joined(separator: ", "))") }
            values.values[f.name] = .string(r)
        case .stringSlice, .stringArray:
            let r = raw ?? ""
            let parts: [String]
            if f.kind == .stringSlice {
                parts = r.isEmpty ? [] : splitCSV(r)
            } else {
                parts = [r]
            }
            let prev = first ? [] : values.strings(f.name)
            values.values[f.name] = .strings(prev + parts)
        case .int:
            guard let r = raw, let v = Int(r) else { throw invalid("strconv.ParseInt: parsing \"\(raw ?? "")\": invalid syntax") }
            values.values[f.name] = .int(v)
        case .float:
            guard let r = raw, let v = Double(r) else { throw invalid("strconv.ParseFloat: parsing \"\(raw ?? "")\": invalid syntax") }
            values.values[f.name] = .float(v)
        case .duration:
            let seconds: Double
            do { seconds = try GoDuration.parse(raw ?? "") } catch { throw invalid("\(error)") }
            // Go accepts negative durations; as a timeout or interval one means "already over", so it is refused.
            if seconds < 0 { throw invalid("a negative duration is not allowed") }
            values.values[f.name] = .duration(seconds)
        }
    }

    /// pflag splits StringSlice values as CSV (quotes allowed).
    static func splitCSV(_ s: String) -> [String] {
        var out: [String] = []
        var cur = ""
        var quoted = false
        var chars = Array(s)[...]
        while let c = chars.first {
            chars = chars.dropFirst()
            if c == "\"" {
                if quoted && chars.first == "\"" { cur.append("\""); chars = chars.dropFirst(); continue }
                quoted.toggle()
                continue
            }
            if c == "," && !quoted { out.append(cur); cur = ""; continue }
            cur.append(c)
        }
        out.append(cur)
        return out
    }

    // MARK: suggestions

    static func suggestCommand(_ word: String, _ cmd: Command) -> String {
        let candidates = cmd.subcommands.filter { !$0.hidden }.flatMap { [$0.name] + $0.aliases }
        guard let best = closest(word, candidates) else { return "" }
        let target = cmd.subcommands.first { $0.name == best || $0.aliases.contains(best) }!.name
        return "; did you mean \"\(target)\"?"
    }

    static func suggestFlag(_ name: String, _ flags: [Flag]) -> String {
        guard let best = closest(name, flags.filter { !$0.hidden }.map(\.name)) else { return "" }
        return "; did you mean --\(best)?"
    }

    static func closest(_ word: String, _ candidates: [String]) -> String? {
        var best: (String, Int)? = nil
        for c in candidates {
            let d = levenshtein(word.lowercased(), c.lowercased())
            let ok = d <= max(2, word.count / 4) || (word.count >= 3 && c.hasPrefix(word))
            if ok, best == nil || d < best!.1 { best = (c, d) }
        }
        return best?.0
    }

    static func levenshtein(_ a: String, _ b: String) -> Int {
        let x = Array(a), y = Array(b)
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        var prev = Array(0...y.count)
        var cur = prev
        for i in 1...x.count {
            cur[0] = i
            for j in 1...y.count {
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
            }
            swap(&prev, &cur)
        }
        return prev[y.count]
    }
}
