import Foundation
import MopsFixtures
import MopsInterpreter
import MopsSyntax

/// A disagreement between the model and the live kernel found by a campaign.
public struct FuzzFinding: Sendable {
  /// Which script of the campaign (its own seed is derived from the campaign's).
  public var scriptIndex: Int
  /// The rendered disagreement of the shrunk script.
  public var message: String
  /// The shrunk script, ready to become a fixture.
  public var reproducer: String
  /// Statements before and after shrinking.
  public var originalStatements: Int
  public var shrunkStatements: Int
  /// Where the reproducer was written, if it was.
  public var path: String?
}

/// What a campaign did.
public struct FuzzSummary: Sendable {
  public var scripts: Int
  public var statementsRun: Int
  public var findings: [FuzzFinding]
  public var seconds: Double
  public var scriptsPerSecond: Double { seconds > 0 ? Double(scripts) / seconds : 0 }
}

/// Runs generated scripts under `--backend both` and shrinks every disagreement to a
/// minimal reproducer.
public struct FuzzCampaign: Sendable {
  public var seed: UInt64
  public var scripts: Int
  public var statements: Int
  /// Directory for reproducers (`nil`: do not write files).
  public var outputDirectory: String?
  public var shrinks: Bool

  public init(seed: UInt64, scripts: Int, statements: Int, outputDirectory: String? = nil, shrinks: Bool = true) {
    self.seed = seed
    self.scripts = scripts
    self.statements = statements
    self.outputDirectory = outputDirectory
    self.shrinks = shrinks
  }

  /// The statements of script `index`: the same for the same campaign seed.
  public func script(_ index: Int) -> [String] {
    var g = ScriptGenerator(seed: seed &* 0x1_0000_0001 &+ UInt64(index))
    return g.script(statements: statements)
  }

  /// Runs the campaign; `progress` is called after each script with the number done
  /// and the findings so far.
  public func run(progress: (Int, [FuzzFinding]) -> Void = { _, _ in }) throws -> FuzzSummary {
    let start = Date()
    var findings: [FuzzFinding] = []
    var statementsRun = 0
    for i in 0..<scripts {
      let lines = script(i)
      let outcome = try Self.disagreement(lines)
      statementsRun += outcome.statementsRun
      if let message = outcome.message {
        let shrunk = shrinks ? try Self.shrink(lines) : lines
        let final = try Self.disagreement(shrunk).message ?? message
        var finding = FuzzFinding(
          scriptIndex: i, message: final, reproducer: reproducer(shrunk, i, final),
          originalStatements: lines.count, shrunkStatements: shrunk.count)
        if let dir = outputDirectory {
          try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
          let path = (dir as NSString).appendingPathComponent("disagreement-seed\(seed)-script\(i).mops")
          try finding.reproducer.write(toFile: path, atomically: true, encoding: .utf8)
          finding.path = path
        }
        findings.append(finding)
      }
      progress(i + 1, findings)
    }
    return FuzzSummary(
      scripts: scripts, statementsRun: statementsRun, findings: findings,
      seconds: Date().timeIntervalSince(start))
  }

  func reproducer(_ lines: [String], _ index: Int, _ message: String) -> String {
    var text = "# Found by `mops fuzz --seed \(seed) --statements \(statements)` (script \(index)):\n"
    text += "# the model and the live kernel disagree. Turn the last statement's behaviour into\n"
    text += "# assertions on what the kernel does, fix the model, and keep this as a fixture.\n#\n"
    for line in message.split(separator: "\n") { text += "#   \(line)\n" }
    return text + lines.joined(separator: "\n") + "\n"
  }

  /// Runs `lines` on both backends accepting any outcome; the disagreement, if any.
  static func disagreement(_ lines: [String]) throws -> (message: String?, statementsRun: Int) {
    let file = SourceFile(path: "<fuzz>", text: lines.joined(separator: "\n") + "\n")
    let checked = MopsCheck.check(file)
    guard let script = checked.checked else { return (nil, 0) }
    let backend = try BackendKind.both.make()
    defer { backend.shutdown() }
    let interpreter = Interpreter(
      backend: backend, options: RunOptions(keepGoing: true, acceptsAnyOutcome: true), output: { _ in })
    let report = interpreter.run(script, file: file)
    let disagreements = report.failures.filter { $0.id == .disagreement }
    guard !disagreements.isEmpty else { return (nil, report.records.count) }
    return (DiagnosticRenderer().render(disagreements, in: file), report.records.count)
  }

  /// Delta debugging over statements: removes chunks while the script still checks
  /// and the backends still disagree.
  static func shrink(_ lines: [String]) throws -> [String] {
    var current = lines
    var chunk = max(1, current.count / 2)
    while chunk >= 1 {
      var i = 0
      var removedAny = false
      while i < current.count {
        var candidate = current
        candidate.removeSubrange(i..<min(current.count, i + chunk))
        if !candidate.isEmpty, try disagreement(candidate).message != nil {
          current = candidate
          removedAny = true
        } else {
          i += chunk
        }
      }
      if !removedAny || chunk == 1 { chunk /= 2 }
    }
    return current
  }
}
