import ArgumentParser
import Foundation
import MopsBackend
import MopsFixtures
import MopsREPL

extension Mops {
  /// `mops repl` (and `mops` alone): the interactive session.
  struct Repl: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Explore statement by statement (the default when no file is named).",
      discussion: """
        At a terminal: line editing, history in ~/.mops_history (or $MOPS_HISTORY; empty for none), \
        Ctrl-R history search, TAB completion, `...>` for unfinished statements and blocks. \
        Type :help for the statements and the commands (:load, :save, :record, :undo, :reset, :backend).

        With standard input not a terminal (`mops < script.mops`), statements are read without \
        prompts and the output is that of `mops run`: exit status 65 at the first script error, \
        1 at the first failed expectation or assertion.
        """)

    @OptionGroup var backendOption: BackendOption

    func run() throws {
      let interactive = isatty(0) == 1
      let reader: LineReader =
        interactive
        ? EditLineReader(historyPath: historyPath(), promptsOnStandardError: isatty(1) != 1) : PlainLineReader()
      let configuration = REPLConfiguration(
        backendName: backendOption.backend.rawValue,
        makeBackend: { name throws(BackendError) in
          guard let kind = BackendKind(rawValue: name) else {
            throw BackendError("unknown backend `\(name)`; choose one of sim, linux, both")
          }
          return try kind.make()
        },
        colorOutput: wantsColor(1), colorErrors: wantsColor(2))
      let repl: REPL
      do {
        repl = try REPL(reader: reader, configuration: configuration, out: writeOut, err: printError)
      } catch {
        printError("error: \(error.message)\n")
        throw ExitCode(70)
      }
      let status = repl.run()
      if status != 0 { throw ExitCode(status) }
    }

    /// `$MOPS_HISTORY` (empty: keep no history file), else `~/.mops_history`.
    private func historyPath() -> String? {
      let environment = ProcessInfo.processInfo.environment
      if let path = environment["MOPS_HISTORY"] { return path.isEmpty ? nil : path }
      return environment["HOME"].map { $0 + "/.mops_history" }
    }
  }
}

/// Writes to standard output at once (unbuffered), so output and prompts keep their order.
private func writeOut(_ text: String) {
  FileHandle.standardOutput.write(Data(text.utf8))
}
