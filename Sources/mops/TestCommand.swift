import ArgumentParser
import Foundation
import MopsFixtures

extension Mops {
  /// `mops test [PATH…]`: run fixture suites.
  struct Test: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Run .mops fixtures: one line each and a final 'N passed, N failed, N skipped' line.",
      discussion: "Directories are searched for .mops files. Exit status: 0 when nothing failed, 1 otherwise.")

    @OptionGroup var backendOption: BackendOption
    @Flag(name: .long, help: "Write the results as TAP version 13.")
    var tap = false
    @Option(name: .long, help: "Also write the results as JUnit XML to this file.")
    var junit: String?
    @Option(name: .shortAndLong, help: "How many fixtures run at once.")
    var jobs: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)
    @Option(name: .long, help: "Run only fixtures whose path contains this text.")
    var filter: String?
    @Argument(help: "Fixture files or directories (default: examples and Tests/Fixtures).")
    var paths: [String] = []

    func validate() throws {
      if jobs < 1 { throw ValidationError("--jobs must be at least 1") }
    }

    func run() throws {
      let roots = paths.isEmpty ? ["examples", "Tests/Fixtures"].filter { FileManager.default.fileExists(atPath: $0) } : paths
      let files: [String]
      do { files = try FixtureRunner.discover(roots, filter: filter) } catch {
        throw ValidationError("\(error)")
      }
      let interactive = isatty(1) == 1 && !tap
      let total = files.count
      let done = DoneCounter()
      let runner = FixtureRunner.scripts(backend: backendOption.backend, jobs: jobs)
      let outcomes = runner.run(files) { outcome in
        let n = done.increment()
        guard !tap else { return }
        if interactive { print("\r\u{1B}[K", terminator: "") }
        print(FixtureReport.line(outcome))
        if outcome.status == .failed { print(outcome.message) }
        if interactive && n < total { print("[\(n)/\(total)] running…", terminator: "") }
        FileHandle.standardOutput.synchronizeFile()
      }
      if tap { print(FixtureReport.tap(outcomes)) }
      if let junit {
        do { try FixtureReport.junit(outcomes).write(toFile: junit, atomically: true, encoding: .utf8) } catch {
          printError("error: cannot write \(junit): \(error.localizedDescription)\n")
          throw ExitCode(70)
        }
      }
      print(FixtureReport.summary(outcomes))
      if outcomes.contains(where: { $0.status == .failed }) { throw ExitCode(1) }
    }
  }
}

/// Counts finished fixtures across the runner's threads.
final class DoneCounter: @unchecked Sendable {
  private let lock = NSLock()
  private var n = 0
  func increment() -> Int {
    lock.lock()
    defer { lock.unlock() }
    n += 1
    return n
  }
}
