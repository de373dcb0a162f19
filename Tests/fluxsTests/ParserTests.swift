import FluxsTestSupport
import XCTest
@testable import fluxs

/// Table-driven tests of the flag parser on a small command tree.
final class ParserTests: XCTestCase {
    var root: Command {
        var leaf = Command(name: "kustomizations", aliases: ["ks", "kustomization"], summary: "Get Kustomization statuses",
                           args: .names(kind: "Kustomization", many: false), handler: { _ in 0 })
        leaf.flags = [.bool("show-source", nil, "show the source"), .strings("label", "l", "labels"),
                      .strings("header", nil, "headers", array: true), .int("count", "the count", default: 3)]
        var get = Command(name: "get", summary: "Get")
        get.persistentFlags = [.bool("all-namespaces", "A", "all"), .bool("watch", "w", "watch"), .bool("no-header", nil, "no header")]
        get.subcommands = [leaf, Command(name: "sources", summary: "sources")]
        var r = Command(name: "fluxs", summary: "root")
        r.persistentFlags = [.duration("timeout", "timeout", default: "5m0s"), .string("namespace", "n", "ns", default: "flux-system"),
                             .bool("verbose", nil, "verbose")]
        r.subcommands = [get]
        return r
    }

    func parse(_ args: [String]) throws -> Parsed { try ArgParser.parse(root: root, argv: args) }

    func testFlagSyntaxes() throws {
        let p = try parse(["get", "ks", "podinfo", "--namespace=apps", "--timeout", "90s", "-A", "--show-source=false",
                           "-l", "a=b,c=d", "--label", "e=f", "--header", "x,y", "--header", "z", "--count=7"])
        XCTAssertEqual(p.commandPath, "fluxs get kustomizations")
        XCTAssertEqual(p.args, ["podinfo"])
        XCTAssertEqual(p.flags.string("namespace"), "apps")
        XCTAssertEqual(p.flags.duration("timeout"), 90)
        XCTAssertTrue(p.flags.bool("all-namespaces"))
        XCTAssertFalse(p.flags.bool("show-source"))
        XCTAssertTrue(p.flags.isSet("show-source"))
        XCTAssertEqual(p.flags.strings("label"), ["a=b", "c=d", "e=f"])
        XCTAssertEqual(p.flags.strings("header"), ["x,y", "z"])
        XCTAssertEqual(p.flags.int("count"), 7)
    }

    func testShortFormsAndDefaults() throws {
        let p = try parse(["-nfoo", "get", "-Aw", "kustomization"])
        XCTAssertEqual(p.flags.string("namespace"), "foo")
        XCTAssertTrue(p.flags.bool("all-namespaces"))
        XCTAssertTrue(p.flags.bool("watch"))
        XCTAssertEqual(p.flags.duration("timeout"), 300)
        XCTAssertFalse(p.flags.isSet("timeout"))
        XCTAssertEqual(try parse(["get", "ks", "-n=bar"]).flags.string("namespace"), "bar")
    }

    func testTerminatorAndHelp() throws {
        let p = try parse(["get", "ks", "--", "--not-a-flag", "-A"])
        XCTAssertEqual(p.args, ["--not-a-flag", "-A"])
        XCTAssertFalse(p.flags.bool("all-namespaces"))
        XCTAssertTrue(try parse(["get", "-h"]).helpRequested)
        XCTAssertTrue(try parse(["get", "ks", "--help"]).helpRequested)
    }

    func testErrors() {
        let cases: [([String], String)] = [
            (["get", "ks", "--bogus"], "unknown flag: --bogus"),
            (["get", "ks", "--show-sorce"], "unknown flag: --show-sorce; did you mean --show-source?"),
            (["get", "ks", "-x"], "unknown shorthand flag: 'x' in -x"),
            (["get", "ks", "--namespace"], "flag needs an argument: --namespace"),
            (["get", "ks", "-n"], "flag needs an argument: 'n' in -n"),
            (["--timeout", "5x", "get"], "invalid argument \"5x\" for \"--timeout\" flag: time: unknown unit \"x\" in duration \"5x\""),
            (["--timeout=5", "get"], "invalid argument \"5\" for \"--timeout\" flag: time: missing unit in duration \"5\""),
            (["get", "ks", "--show-source=maybe"], "invalid argument \"maybe\" for \"--show-source\" flag: strconv.ParseBool: parsing \"maybe\": invalid syntax"),
            (["get", "ks", "--count", "x"], "invalid argument \"x\" for \"--count\" flag: strconv.ParseInt: parsing \"x\": invalid syntax"),
            (["get", "kustomizatons"], "unknown command \"kustomizatons\" for \"fluxs get\"; did you mean \"kustomizations\"?"),
            (["get", "zzz"], "unknown command \"zzz\" for \"fluxs get\""),
        ]
        for (args, want) in cases {
            XCTAssertThrowsError(try parse(args), "\(args)") { e in
                XCTAssertEqual((e as? UsageError)?.message, want, "\(args)")
            }
        }
    }

    func testHelpIsGeneratedFromTheTable() {
        let r = root
        let text = Help.render([r, r.subcommands[0], r.subcommands[0].subcommands[0]])
        XCTAssertTrue(text.hasPrefix("Get Kustomization statuses\n\nUsage:\n  fluxs get kustomizations [name] [flags]\n"), text)
        XCTAssertTrue(text.contains("Aliases:\n  kustomizations, ks, kustomization\n"), text)
        XCTAssertTrue(text.contains("\n      --count int            the count (default 3)\n"), text)
        XCTAssertTrue(text.contains("\n      --header stringArray   headers\n"), text)
        XCTAssertTrue(text.contains("Global Flags:\n  -A, --all-namespaces"), text)
        XCTAssertTrue(text.contains("  -n, --namespace string   ns (default \"flux-system\")"), text)
    }

    /// flux's own golden table (../shared/reference/flux-testdata/get/get.golden).
    func testTableMatchesFluxGolden() throws {
        let golden = TestEnv.packageRoot.deletingLastPathComponent().appendingPathComponent("shared/reference/flux-testdata/get/get.golden")
        guard let want = try? String(contentsOf: golden, encoding: .utf8) else { throw XCTSkip("no ../shared/reference") }
        let rows = ["podinfo", "podinfo-shard1", "podinfo-shard2"].map {
            [$0, "main@sha1:696f056d", "False", "True", "Fetched revision: main@sha1:696f056d"]
        }
        XCTAssertEqual(Table.render(header: ["NAME", "REVISION", "SUSPENDED", "READY", "MESSAGE"], rows: rows), want)
        XCTAssertEqual(Table.title("last_seen.at"), "LAST SEEN AT")
        XCTAssertEqual(Table.title("v1.2"), "V1.2")
    }
}
