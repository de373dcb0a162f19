/// `fluxs completion bash|zsh|fish` and `fluxs help [command]`.
enum CompletionCommand {
    static func make() -> Command {
        func shell(_ name: String, _ summary: String, _ example: String, _ gen: @escaping (Command) -> String) -> Command {
            Command(name: name, summary: summary, examples: example, handler: { inv in
                inv.out.write(gen(inv.parsed.path.first!))
                return 0
            })
        }
        return Command(
            name: "completion",
            summary: "Generates completion scripts for various shells",
            long: "The completion sub-command generates completion scripts for various shells.",
            subcommands: [
                shell("bash", "Generates bash completion scripts", """
                  # To load completion run
                  . <(fluxs completion bash)

                  # To configure your bash shell to load completions for each session add to your bashrc
                  # ~/.bashrc or ~/.profile
                  command -v fluxs >/dev/null && . <(fluxs completion bash)
                """, Completion.bash),
                shell("fish", "Generates fish completion scripts", """
                  # To configure your fish shell to load completions for each session write this script to your completions dir:
                  fluxs completion fish > ~/.config/fish/completions/fluxs.fish
                """, Completion.fish),
                shell("zsh", "Generates zsh completion scripts", """
                  # To load completion run
                  . <(fluxs completion zsh) && compdef _fluxs fluxs

                  # To configure your zsh shell to load completions for each session add to your zshrc
                  # ~/.zshrc or ~/.profile
                  command -v fluxs >/dev/null && . <(fluxs completion zsh) && compdef _fluxs fluxs
                """, Completion.zsh),
                shell("powershell", "Generates powershell completion scripts", """
                  # To load completion run
                  . <(fluxs completion powershell)

                  # To configure your powershell shell to load completions for each session add to your powershell profile
                  # Windows:
                  cd "$env:USERPROFILE\\Documents\\WindowsPowerShell\\Modules"
                  fluxs completion powershell >> fluxs-completion.ps1
                  # Linux:
                  cd "${XDG_CONFIG_HOME:-"$HOME/.config/"}/powershell/modules"
                  fluxs completion powershell >> fluxs-completions.ps1
                """, Completion.powershell),
            ])
    }
}

enum HelpCommand {
    static func make() -> Command {
        Command(name: "help", summary: "Help about any command",
                long: "Help provides help for any command in the application.\nSimply type fluxs help [path to command] for full details.",
                args: .any("[command]"),
                handler: { inv in
                    var path = [inv.parsed.path.first!]
                    for w in inv.args {
                        guard let s = path.last!.sub(w) else {
                            throw CLIError("unknown help topic \"\(inv.args.joined(separator: " "))\"" +
                                           ArgParser.suggestCommand(w, path.last!))
                        }
                        path.append(s)
                    }
                    inv.out.write(Help.render(path))
                    return 0
                })
    }
}
