import Foundation
import MopsBackend
import MopsInterpreter
import MopsSyntax
import DiffBackend
import LinuxBackend
import SimBackend

/// The backends a script can run on (`--backend`).
public enum BackendKind: String, CaseIterable, Sendable {
  case sim, linux, both

  /// A fresh backend of this kind.
  public func make() throws(BackendError) -> Backend {
    switch self {
    case .sim: return SimBackend()
    case .linux: return try LinuxBackend()
    case .both: return DiffBackend(reference: SimBackend(), other: try LinuxBackend())
    }
  }

  /// A fresh backend of this kind whose sim and live parts are timed per operation
  /// class; the timers are returned in that order.
  public func makeTimed() throws(BackendError) -> (Backend, [TimingBackend]) {
    switch self {
    case .sim:
      let t = TimingBackend(SimBackend())
      return (t, [t])
    case .linux:
      let t = TimingBackend(try LinuxBackend())
      return (t, [t])
    case .both:
      let sim = TimingBackend(SimBackend())
      let linux = TimingBackend(try LinuxBackend())
      return (DiffBackend(reference: sim, other: linux), [sim, linux])
    }
  }

  var directiveName: BackendName { BackendName(rawValue: rawValue)! }
}

/// What running one script came to.
public struct ScriptResult: Sendable {
  public enum Status: Sendable, Equatable {
    /// Every statement ran and every expectation and assertion held.
    case passed
    /// An expectation or assertion failed (exit status 1).
    case failed
    /// The script has errors and did not run (exit status 65).
    case scriptError
    /// A directive says not to run it here; the reason.
    case skipped(String)
    /// The backend broke down (exit status 70).
    case internalError
  }
  public var status: Status
  /// Diagnostics or failures, rendered for a person (empty when passed).
  public var message: String
  /// The run's report (nil when the script did not run).
  public var report: RunReport?
  /// The checked script's diagnostics (warnings when it ran).
  public var diagnostics: [Diagnostic]
  /// With `timing`: time inside each backend per operation class (sim first).
  public var timings: [BackendTimings] = []

  /// The process exit status `mops run` uses for this result.
  public var exitCode: Int32 {
    switch status {
    case .passed, .skipped: return 0
    case .failed: return 1
    case .scriptError: return 65
    case .internalError: return 70
    }
  }
}

/// Parses, checks and runs one script file.
public enum ScriptRun {
  /// Reads `path` and runs it on `backend`. `output` receives `show`/`print`/trace lines.
  public static func run(
    path: String, backend kind: BackendKind, options: RunOptions = RunOptions(), timing: Bool = false,
    output: @escaping (String) -> Void = { _ in }
  ) -> ScriptResult {
    guard let data = FileManager.default.contents(atPath: path) else {
      return ScriptResult(status: .scriptError, message: "\(path): error: cannot read the file\n", report: nil, diagnostics: [])
    }
    return run(SourceFile(path: path, bytes: Array(data)), backend: kind, options: options, timing: timing, output: output)
  }

  /// Runs the script in `file` on `backend`; with `timing`, measures the time spent in
  /// each backend per operation class.
  public static func run(
    _ file: SourceFile, backend kind: BackendKind, options: RunOptions = RunOptions(), timing: Bool = false,
    output: @escaping (String) -> Void = { _ in }
  ) -> ScriptResult {
    let result = MopsCheck.check(file)
    let renderer = DiagnosticRenderer(useColor: options.useColor)
    let expected = result.script.directives.flatMap { d -> [DiagnosticID] in
      if case .expectError(let ids) = d.kind { return ids }
      return []
    }
    if !expected.isEmpty {
      return expectErrors(expected, result, file, renderer)
    }
    guard let checked = result.checked else {
      return ScriptResult(
        status: .scriptError,
        message: renderer.render(result.diagnostics, in: file, suppressed: result.suppressedCount),
        report: nil, diagnostics: result.diagnostics)
    }
    if let why = skipReason(result.script.directives, kind) {
      return ScriptResult(status: .skipped(why), message: why, report: nil, diagnostics: result.diagnostics)
    }
    let backend: Backend
    var timers: [TimingBackend] = []
    do {
      if timing { (backend, timers) = try kind.makeTimed() } else { backend = try kind.make() }
    } catch {
      return ScriptResult(status: .internalError, message: "error: \(error.message)\n", report: nil, diagnostics: [])
    }
    defer { backend.shutdown() }
    let interpreter = Interpreter(backend: backend, options: options, output: output)
    let report = interpreter.run(checked, file: file)
    return ScriptResult(
      status: report.passed ? .passed : .failed, message: interpreter.render(report), report: report,
      diagnostics: result.diagnostics, timings: timers.map(\.timings))
  }

  /// A fixture of script errors passes when checking reports exactly the expected IDs.
  static func expectErrors(
    _ expected: [DiagnosticID], _ result: CheckResult, _ file: SourceFile, _ renderer: DiagnosticRenderer
  ) -> ScriptResult {
    let got = result.diagnostics.filter { $0.severity == .error }.map(\.id)
    if got.sorted(by: { $0.rawValue < $1.rawValue }) == expected.sorted(by: { $0.rawValue < $1.rawValue }) {
      return ScriptResult(status: .passed, message: "", report: nil, diagnostics: result.diagnostics)
    }
    let message =
      "\(file.path): error: expected diagnostics \(expected.map(\.rawValue).joined(separator: " ")), got "
      + (got.isEmpty ? "none" : got.map(\.rawValue).joined(separator: " ")) + "\n"
      + renderer.render(result.diagnostics, in: file, suppressed: result.suppressedCount)
    return ScriptResult(status: .failed, message: message, report: nil, diagnostics: result.diagnostics)
  }

  /// Why the directives say not to run on `kind` here, if they do.
  static func skipReason(_ directives: [Directive], _ kind: BackendKind) -> String? {
    for d in directives {
      switch d.kind {
      case .skip(let backends) where backends.contains(kind.directiveName):
        return "skipped on \(kind.rawValue): \(d.reason ?? "no reason given")"
      case .only(let backends) where !backends.contains(kind.directiveName):
        return "runs only on \(backends.map(\.rawValue).joined(separator: ", ")): \(d.reason ?? "no reason given")"
      case .needs(let requirements) where kind != .sim:
        if let missing = requirements.first(where: { !Requirements.available($0) }) {
          return "needs \(missing.rawValue), which this machine lacks\(d.reason.map { ": " + $0 } ?? "")"
        }
      default: continue
      }
    }
    return nil
  }
}

/// What the machine offers the live backend.
enum Requirements {
  static func available(_ r: Requirement) -> Bool {
    switch r {
    case .root: return geteuid() == 0
    case .userfaultfd: return access("/dev/userfaultfd", R_OK | W_OK) == 0
    case .ioUring: return access("/proc/sys/kernel/io_uring_disabled", F_OK) != 0 || readInt("/proc/sys/kernel/io_uring_disabled") == 0
    case .thp:
      guard let text = try? String(contentsOfFile: "/sys/kernel/mm/transparent_hugepage/enabled", encoding: .utf8) else { return false }
      return !text.contains("[never]")
    }
  }

  static func readInt(_ path: String) -> Int? {
    (try? String(contentsOfFile: path, encoding: .utf8)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
  }
}

extension FixtureRunner {
  /// A runner that runs each fixture on `backend` through ``ScriptRun``.
  public static func scripts(backend: BackendKind, jobs: Int) -> FixtureRunner {
    FixtureRunner(jobs: jobs) { path in
      let start = Date()
      let r = ScriptRun.run(path: path, backend: backend)
      let seconds = Date().timeIntervalSince(start)
      switch r.status {
      case .passed:
        return FixtureOutcome(path: path, status: .passed, seconds: seconds, skippedChecks: r.report?.skippedChecks ?? [])
      case .skipped(let why):
        return FixtureOutcome(path: path, status: .skipped, seconds: seconds, message: why)
      case .failed, .scriptError, .internalError:
        return FixtureOutcome(path: path, status: .failed, seconds: seconds, message: r.message)
      }
    }
  }
}
