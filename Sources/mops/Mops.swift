import ArgumentParser

/// `mops`: a sandbox for Linux anonymous memory.
///
/// `mops` alone opens the REPL; `mops FILE…` is short for `mops run FILE…` (the first
/// argument names a file, not a subcommand or an option), as `lua FILE` and
/// `python FILE` run a script.
@main
struct Mops: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "mops",
    abstract: "A sandbox for Linux anonymous memory: run .mops scripts on a model of the kernel, on the live kernel, or both.",
    discussion: "`mops` alone opens the interactive session; `mops FILE…` is short for `mops run FILE…`.",
    subcommands: [Repl.self, Run.self, Check.self, Test.self, Fuzz.self],
    defaultSubcommand: Repl.self)

  static func main() {
    main(withRunInserted(Array(CommandLine.arguments.dropFirst())))
  }

  /// `arguments` with `run` in front when the first one is neither a subcommand nor an
  /// option, i.e. a script.
  static func withRunInserted(_ arguments: [String]) -> [String] {
    let subcommands = ["repl", "run", "check", "test", "fuzz", "help"]
    guard let first = arguments.first, !first.hasPrefix("-"), !subcommands.contains(first) else { return arguments }
    return ["run"] + arguments
  }
}
