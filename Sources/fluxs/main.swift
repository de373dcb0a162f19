#if canImport(Glibc)
import Glibc
#endif
import FluxsCore
import FluxsKube

/// Entry point: parse the command line against the command table, run the
/// handler, print errors as one `✗` line, exit with the handler's status.
func runMain(_ keeper: Keeper) -> Int32 {
    let signals = SignalCleanup.install()
    let env = Subprocess.environment()
    let out = Output(env: env)
    defer { out.flush() }
    let home = env["HOME"] ?? Files.homeDirectory()
    let root = RootCommand.make(env: env, home: home)
    let argv = Array(CommandLine.arguments.dropFirst())

    if let first = argv.first, first == "__complete" || first == "__completeNoDesc" {
        let words = Array(argv.dropFirst())
        let result = Completion.complete(root: root, words: words.isEmpty ? [""] : words) { parsed in
            Invocation(parsed: parsed, env: env, out: out)
        }
        for (c, d) in result.candidates {
            out.print(first == "__complete" && !d.isEmpty ? "\(c)\t\(d)" : c)
        }
        out.print(":\(result.directive)")
        out.flush()
        out.stderr("Completion ended with directive: \(directiveName(result.directive))")
        return 0
    }

    if let e = env["FLUX_SYSTEM_NAMESPACE"], !e.isEmpty, !isDNSLabel(e) {
        out.warning(" ignoring invalid FLUX_SYSTEM_NAMESPACE: \"\(e)\"")
    }

    let parsed: Parsed
    do {
        parsed = try ArgParser.parse(root: root, argv: argv)
    } catch let u as UsageError {
        out.failure(u.message)
        return 1
    } catch {
        out.failure("\(error)")
        return 1
    }
    let cmd = parsed.command
    if parsed.helpRequested {
        out.write(Help.render(parsed.path))
        return 0
    }
    if case .planned(let why) = cmd.availability {
        out.failure("\"\(parsed.commandPath)\" is not available in this fluxs build yet; \(why)")
        return 1
    }
    guard let handler = cmd.handler else {
        out.write(Help.render(parsed.path))
        return 0
    }
    let inv = Invocation(parsed: parsed, env: env, out: out, keeper: keeper)
    inv.signals = signals
    do {
        if parsed.path.count < 2 || parsed.path[1].name != "create" {
            _ = try inv.namespace()
        }
        return try handler(inv)
    } catch let e as CLIError {
        out.failure(e.message)
        return e.code
    } catch {
        out.failure("\(error)")
        return 1
    }
}

func directiveName(_ d: Int) -> String {
    var names: [String] = []
    if d & 1 != 0 { names.append("ShellCompDirectiveError") }
    if d & 2 != 0 { names.append("ShellCompDirectiveNoSpace") }
    if d & 4 != 0 { names.append("ShellCompDirectiveNoFileComp") }
    if d & 8 != 0 { names.append("ShellCompDirectiveFilterFileExt") }
    if d & 16 != 0 { names.append("ShellCompDirectiveFilterDirs") }
    return names.isEmpty ? "ShellCompDirectiveDefault" : names.joined(separator: ", ")
}

// Every file and connection is closed and every temporary directory removed by now; the C libraries' exit handlers
// (OpenSSL, GnuTLS, libgit2 freeing their globals) are skipped: ~0.5 ms of every run (docs/decisions.md). What the
// command kept (Keeper) is not freed either: `keeper` lives until _exit.
func main() -> Never {
    let keeper = Keeper()
    let status = runMain(keeper)
    fflush(nil)
    withExtendedLifetime(keeper) { _exit(status) }
}
main()
