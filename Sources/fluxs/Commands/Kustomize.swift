import FluxsKustomize
import FluxsYAML

/// `fluxs kustomize build DIR`: fluxs's own kustomize engine, printing what `kubectl kustomize DIR` prints.
enum KustomizeCommand {
    static func make() -> Command {
        var build = Command(name: "build", summary: "Build a kustomization target from a directory",
                            long: "Build prints the resources of a kustomization directory as `kubectl kustomize DIR` does, with fluxs's own kustomize engine (no kubectl needed). Features the engine does not support yet are errors naming the field (see docs/kustomize.md).",
                            examples: "  # Build the overlay in ./deploy/prod\n  fluxs kustomize build ./deploy/prod",
                            args: .any("DIR"), handler: run)
        build.note = "fluxs's own kustomize v5 engine; 216 of 216 conformance cases pass (docs/kustomize.md says what is supported)"
        var c = Command(name: "kustomize", summary: "Build kustomizations with fluxs's kustomize engine (fluxs)", subcommands: [build])
        c.fluxsOnly = true
        return c
    }

    static func run(_ inv: Invocation) throws -> Int32 {
        let dir = inv.args.first ?? "."
        do {
            let text = try Kustomizer().render(dir)
            inv.out.write(text)
        } catch let e as KustomizeError {
            throw CLIError(e.description)
        }
        return 0
    }
}
