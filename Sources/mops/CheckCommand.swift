import ArgumentParser
import Foundation
import MopsSyntax

extension Mops {
  /// `mops check FILE…`: parse and check only, every error in one pass.
  struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Parse and check .mops scripts without running them.",
      discussion: "Exit status: 0 when every script is well formed, 65 when any has errors.")

    @OptionGroup var backendOption: BackendOption
    @Argument(help: "Script files to check.")
    var files: [String] = []

    func validate() throws {
      if files.isEmpty { throw ValidationError("name at least one script to check") }
    }

    func run() throws {
      var failed = false
      let renderer = DiagnosticRenderer(useColor: wantsColor(2))
      for path in files {
        guard let data = FileManager.default.contents(atPath: path) else {
          printError("\(path): error: cannot read the file\n")
          failed = true
          continue
        }
        let file = SourceFile(path: path, bytes: Array(data))
        let result = MopsCheck.check(file)
        if !result.diagnostics.isEmpty || result.suppressedCount > 0 {
          printError(renderer.render(result.diagnostics, in: file, suppressed: result.suppressedCount))
        }
        if result.hasErrors { failed = true }
      }
      if failed { throw ExitCode(65) }
    }
  }
}
