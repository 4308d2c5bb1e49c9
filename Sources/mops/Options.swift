import ArgumentParser
import Foundation
import MopsFixtures

extension BackendKind: ExpressibleByArgument {}

/// `--backend`, accepted by every subcommand.
struct BackendOption: ParsableArguments {
  @Option(name: .long, help: "Where statements run: sim (the model), linux (the live kernel) or both (lockstep, stop at the first disagreement).")
  var backend: BackendKind = .sim
}

/// Whether standard output is a terminal that wants colour.
func wantsColor(_ fd: Int32 = 1) -> Bool {
  isatty(fd) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
}

/// Writes to standard error.
func printError(_ text: String) {
  FileHandle.standardError.write(Data(text.utf8))
}
