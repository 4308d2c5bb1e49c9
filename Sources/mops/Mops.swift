import ArgumentParser

/// `mops`: a sandbox for Linux anonymous memory.
@main
struct Mops: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "mops",
    abstract: "A sandbox for Linux anonymous memory: run .mops scripts on a model of the kernel, on the live kernel, or both.",
    subcommands: [Run.self, Check.self, Test.self, Fuzz.self],
    defaultSubcommand: Run.self)
}
