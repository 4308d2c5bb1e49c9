import ArgumentParser
import Foundation
import MopsFuzz

extension Mops {
  /// `mops fuzz`: random scripts on the model and the live kernel, shrinking every
  /// disagreement to a `.mops` reproducer.
  struct Fuzz: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Run random scripts under --backend both and write a minimal reproducer for every disagreement.",
      discussion: "Seeded and repeatable: the same --seed and --statements generate the same scripts. Exit status 1 when any disagreement was found.")

    @Option(name: .long, help: "The campaign's seed.")
    var seed: UInt64 = 1
    @Option(name: .shortAndLong, help: "How many scripts to run.")
    var count: Int = 300
    @Option(name: .long, help: "Statements per script.")
    var statements: Int = 50
    @Option(name: .long, help: "Directory for reproducers.")
    var output: String = "fuzz-out"
    @Flag(name: .long, help: "Report disagreements without shrinking them.")
    var noShrink = false
    @Flag(name: .long, help: "Print script N of the campaign and exit (to reproduce by hand).")
    var print = false
    @Option(name: .long, help: "With --print: which script.")
    var index: Int = 0

    func validate() throws {
      if count < 1 { throw ValidationError("--count must be at least 1") }
      if statements < 2 { throw ValidationError("--statements must be at least 2") }
    }

    func run() throws {
      let campaign = FuzzCampaign(
        seed: seed, scripts: count, statements: statements, outputDirectory: output, shrinks: !noShrink)
      if print {
        Swift.print(campaign.script(index).joined(separator: "\n"))
        return
      }
      let interactive = isatty(1) == 1
      let start = Date()
      let summary = try campaign.run { done, findings in
        guard interactive else { return }
        let rate = Double(done) / max(Date().timeIntervalSince(start), 0.001)
        let line = "\r\u{1B}[K[\(done)/\(count)] \(findings.count) disagreement(s), \(String(format: "%.1f", rate)) scripts/s"
        FileHandle.standardOutput.write(Data(line.utf8))
      }
      if interactive { Swift.print() }
      for f in summary.findings {
        Swift.print("disagreement in script \(f.scriptIndex) (shrunk \(f.originalStatements) → \(f.shrunkStatements) statements)\(f.path.map { ": \($0)" } ?? "")")
        Swift.print(f.message)
      }
      Swift.print(
        "\(summary.scripts) scripts, \(summary.statementsRun) statements, \(summary.findings.count) disagreements, "
          + String(format: "%.1f scripts/s", summary.scriptsPerSecond))
      if !summary.findings.isEmpty { throw ExitCode(1) }
    }
  }
}
