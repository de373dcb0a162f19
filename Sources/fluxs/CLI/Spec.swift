/// The command tree is data: every command, alias, flag, help text and handler
/// is described once here, and the parser, help, completion scripts and docs
/// are all generated from it.

enum FlagKind: Equatable {
    case bool
    case string
    /// Repeatable; each value is also split on commas (pflag's StringSlice).
    case stringSlice
    /// Repeatable, no comma splitting (pflag's StringArray).
    case stringArray
    case int
    case float
    case duration
    /// One of a fixed set of values.
    case choice([String])
}

enum ValueCompletion: Equatable {
    case none
    case files
    case directories
    case contexts
    case namespaces
    case values([String])
}

struct Flag {
    var name: String
    var short: Character? = nil
    var kind: FlagKind
    /// The default as typed on the command line ("" for none).
    var defaultValue: String = ""
    var help: String
    var hidden: Bool = false
    var completion: ValueCompletion = .none
    /// The type word pflag shows in usage ("string", "duration", "strings").
    var typeName: String {
        switch kind {
        case .bool: return ""
        case .string, .choice: return "string"
        case .stringSlice: return "strings"
        case .stringArray: return "stringArray"
        case .int: return "int"
        case .float: return "float32"
        case .duration: return "duration"
        }
    }

    static func bool(_ name: String, _ short: Character? = nil, _ help: String, default d: Bool = false, hidden: Bool = false) -> Flag {
        Flag(name: name, short: short, kind: .bool, defaultValue: d ? "true" : "false", help: help, hidden: hidden)
    }
    static func string(_ name: String, _ short: Character? = nil, _ help: String, default d: String = "",
                       completion: ValueCompletion = .none, hidden: Bool = false) -> Flag {
        Flag(name: name, short: short, kind: .string, defaultValue: d, help: help, hidden: hidden, completion: completion)
    }
    static func strings(_ name: String, _ short: Character? = nil, _ help: String, default d: String = "", array: Bool = false,
                        completion: ValueCompletion = .none, hidden: Bool = false) -> Flag {
        Flag(name: name, short: short, kind: array ? .stringArray : .stringSlice, defaultValue: d, help: help, hidden: hidden, completion: completion)
    }
    static func duration(_ name: String, _ help: String, default d: String, hidden: Bool = false) -> Flag {
        Flag(name: name, kind: .duration, defaultValue: d, help: help, hidden: hidden)
    }
    static func int(_ name: String, _ help: String, default d: Int, hidden: Bool = false) -> Flag {
        Flag(name: name, kind: .int, defaultValue: String(d), help: help, hidden: hidden)
    }
    static func choice(_ name: String, _ short: Character? = nil, _ values: [String], _ help: String, default d: String = "") -> Flag {
        Flag(name: name, short: short, kind: .choice(values), defaultValue: d, help: help, completion: .values(values))
    }
}

/// What positional arguments a command takes (for validation and completion).
enum ArgSpec: Equatable {
    case none
    /// Object names of a Flux kind (completed from the cluster), at most one unless `many`.
    case names(kind: String, many: Bool)
    /// Free-form arguments.
    case any(String)
    /// Exactly one of these words.
    case words([String])
}

typealias Handler = (Invocation) throws -> Int32

/// Whether a command works in this build.
enum Availability: Equatable {
    case available
    /// Part of flux's tree but not yet built into fluxs; the text says what to use meanwhile.
    case planned(String)
}

struct Command {
    var name: String
    var aliases: [String] = []
    var summary: String
    var long: String? = nil
    var usage: String? = nil
    var examples: String = ""
    var flags: [Flag] = []
    /// Flags inherited by every sub-command.
    var persistentFlags: [Flag] = []
    var subcommands: [Command] = []
    var args: ArgSpec = .none
    var hidden: Bool = false
    var availability: Availability = .available
    var handler: Handler? = nil
    /// What docs/status.md says about the command beyond its state (limits, differences from flux).
    var note: String = ""
    /// A fluxs addition, not part of flux's command tree.
    var fluxsOnly = false

    func sub(_ word: String) -> Command? {
        subcommands.first { $0.name == word || $0.aliases.contains(word) }
    }
}
