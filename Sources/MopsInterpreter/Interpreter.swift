import MopsABI
import MopsBackend
import MopsSyntax

/// How a script is run.
public struct RunOptions: Sendable {
  /// Report every failure instead of stopping at the first.
  public var keepGoing: Bool
  /// Print each statement with its outcome as it runs.
  public var trace: Bool
  /// ANSI colours in rendered failures.
  public var useColor: Bool
  /// Accept whatever outcome each statement has (generated scripts compare backends,
  /// not expectations); only disagreements and assertions fail.
  public var acceptsAnyOutcome: Bool

  public init(keepGoing: Bool = false, trace: Bool = false, useColor: Bool = false, acceptsAnyOutcome: Bool = false) {
    self.keepGoing = keepGoing
    self.trace = trace
    self.useColor = useColor
    self.acceptsAnyOutcome = acceptsAnyOutcome
  }
}

/// One executed statement, for `--trace` and `--json`.
public struct StatementRecord: Sendable {
  public var line: Int
  public var source: String
  /// `ok`, `EBUSY`, `SIGSEGV (SEGV_MAPERR) at 0x…`, `userfault at 0x…`, `not modelled: …`.
  public var outcome: String
  /// The returned value (address, pid, handle), when there is one.
  public var value: UInt64?
  /// The uffd result field / remap_anon_pages return value.
  public var field: Int64?
}

/// What a run found.
public struct RunReport: Sendable {
  /// Failed expectations and assertions, as diagnostics on the script.
  public var failures: [Diagnostic] = []
  /// Checks that could not be made on this backend, each with its reason and line.
  public var skippedChecks: [String] = []
  /// Every statement executed, in order.
  public var records: [StatementRecord] = []
  /// Assertions and expectations that held.
  public var checksPassed = 0
  /// The run stopped at a failure before the end of the script.
  public var stoppedEarly = false

  public var passed: Bool { failures.isEmpty }
}

/// Runs checked scripts against a backend. Keeps names, processes and values across
/// runs, so a REPL can feed it one input at a time.
public final class Interpreter {
  public let backend: Backend
  public var options: RunOptions
  let output: (String) -> Void

  /// Values of bindings (regions as ranges, processes, uffds, captures).
  var values: [BindingID: Value] = [:]
  /// Why a binding has no value (its statement failed as expected).
  var unbound: [BindingID: String] = [:]
  /// Script names of processes, for messages and views.
  var processNames: [PID: String] = [:]
  /// The process statements run in.
  var current: PID
  /// The last operation's outcome (`moved`, `errno`, `result`).
  var lastOutcome: OpOutcome?
  /// Labels for frames in views (`#1`, `#2`, … in order of first sight).
  var frameLabels: [PFN: Int] = [:]
  /// The line of each fork, by child pid (for "since the fork at line 9").
  var forkLines: [PID: Int] = [:]
  /// The shared zero page's frame, once seen (labelled `zero` in views).
  var zeroPFNSeen: PFN?

  var file = SourceFile(path: "", bytes: [])
  var checked: CheckedScript?
  var report = RunReport()

  /// An interpreter on `backend`; `output` receives everything `show`, `print` and
  /// `--trace` print, line by line.
  public init(backend: Backend, options: RunOptions = RunOptions(), output: @escaping (String) -> Void) {
    self.backend = backend
    self.options = options
    self.output = output
    self.current = backend.initialProcess
    processNames[backend.initialProcess] = "main"
    values[0] = .process(backend.initialProcess)
  }

  /// The process statements currently run in.
  public var currentProcess: PID { current }
  /// The script name of `pid` (`main`, `child`) or `pid N`.
  public func processName(_ pid: PID) -> String { processNames[pid] ?? "pid \(pid.rawValue)" }

  /// Runs every statement of `script` (from `file`), stopping at the first failure
  /// unless `keepGoing`.
  public func run(_ script: CheckedScript, file: SourceFile) -> RunReport {
    self.file = file
    self.checked = script
    report = RunReport()
    do {
      try execute(script.script.statements)
    } catch {
      report.stoppedEarly = true
    }
    return report
  }

  /// Renders the failures of `report` for a person.
  public func render(_ report: RunReport) -> String {
    DiagnosticRenderer(useColor: options.useColor).render(report.failures, in: file)
  }

  // MARK: Failures

  /// Thrown to unwind after a failure when not keeping going.
  struct Stop: Error {}

  func fail(_ id: DiagnosticID, at range: SourceRange, _ message: String, notes: [DiagnosticNote] = []) throws(Stop) {
    report.failures.append(Diagnostic(id, .error, at: range, message, notes: notes))
    if !options.keepGoing { throw Stop() }
  }

  func line(of range: SourceRange) -> Int { file.location(of: range.start).line }

  /// The expression node `id` of the script being run.
  func node(_ id: ExprID) -> Expr { checked!.script[id] }
  /// The source range of expression `id`.
  func span(_ id: ExprID) -> SourceRange { checked!.script[id].range }
  /// The spelling of a name.
  func text(_ name: Name) -> String { checked!.script.text(name) }

  func sourceText(_ range: SourceRange) -> String {
    let lo = max(0, min(range.start, file.bytes.count))
    let hi = max(lo, min(range.end, file.bytes.count))
    return String(decoding: file.bytes[lo..<hi], as: UTF8.self)
  }
}

extension DiagnosticID {
  /// A statement's outcome differs from what the script expected.
  public static let unexpectedOutcome = DiagnosticID(rawValue: "F0001")
  /// An `assert` condition is false.
  public static let assertionFailed = DiagnosticID(rawValue: "F0002")
  /// An `expect VIEW { … }` block differs from the view.
  public static let viewMismatch = DiagnosticID(rawValue: "F0003")
  /// A statement could not run as written (overflowing address, exited process…).
  public static let runtimeFault = DiagnosticID(rawValue: "F0004")
  /// The backends of `--backend both` disagree after this statement.
  public static let disagreement = DiagnosticID(rawValue: "F0005")
}
