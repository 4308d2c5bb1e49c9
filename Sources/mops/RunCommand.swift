import ArgumentParser
import Foundation
import MopsFixtures
import MopsInterpreter

extension Mops {
  /// `mops run FILE…`: run scripts and report the first failure of each.
  struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Run .mops scripts.",
      discussion: "Exit status: 0 when every script passed, 1 when an expectation or assertion failed, 65 for a script with errors, 70 for an internal error.")

    @OptionGroup var backendOption: BackendOption
    @Flag(name: .long, help: "Print each statement with its outcome as it runs.")
    var trace = false
    @Flag(name: .long, help: "Print one JSON document per script with every statement's outcome and every failure.")
    var json = false
    @Flag(name: .long, help: "Report every failure instead of stopping at the first.")
    var keepGoing = false
    @Flag(name: .long, help: "After each script, print the time spent in each backend per operation class (with --backend both: sim, linux and their ratio); with --json, a `timing` field.")
    var timing = false
    @Argument(help: "Script files to run.")
    var files: [String] = []

    func validate() throws {
      if files.isEmpty { throw ValidationError("name at least one script to run, e.g. `mops run examples/01-remap-vs-mremap.mops`") }
    }

    func run() throws {
      var worst: Int32 = 0
      for path in files {
        let options = RunOptions(keepGoing: keepGoing, trace: trace && !json, useColor: wantsColor(2))
        let result = ScriptRun.run(path: path, backend: backendOption.backend, options: options, timing: timing) { line in
          if !json { print(line) }
        }
        if json {
          print(JSONReport.encode(path: path, backend: backendOption.backend, result: result))
        } else {
          if case .skipped(let why) = result.status { printError("\(path): skipped: \(why)\n") }
          if !result.message.isEmpty { printError(result.message) }
          if timing && !result.timings.isEmpty {
            print((files.count > 1 ? "\(path): " : "") + TimingReport.render(result.timings), terminator: "")
          }
        }
        worst = max(worst, result.exitCode)
      }
      if worst != 0 { throw ExitCode(worst) }
    }
  }
}
