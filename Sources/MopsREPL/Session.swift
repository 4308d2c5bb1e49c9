import MopsBackend
import MopsInterpreter
import MopsSyntax

/// One REPL session: a checker that remembers every name bound so far, an interpreter
/// on a backend, the accepted inputs (for `:save`) and undo points.
///
/// An input is checked as a whole against everything bound before it. One that does
/// not check runs nothing; one whose run fails is rolled back (where the backend can
/// snapshot), so the session's state is always what its transcript produces and
/// `:save` writes a script that passes.
final class Session {
  /// What became of one input.
  enum Outcome: Equatable {
    /// The input ends inside a block, after an operator or in an `expect` block, and
    /// that is its only error: read another line.
    case incomplete
    /// It ran; the rendered warnings, if any.
    case accepted(warnings: String)
    /// It has errors and nothing ran; the rendered diagnostics.
    case rejected(String)
    /// A statement failed (an expectation or assertion, or the backend); the rendered
    /// failures. `rolledBack` says whether the session is as before the input.
    case failed(String, rolledBack: Bool)
  }

  /// The inputs that can be undone, most recent last.
  private struct UndoPoint {
    var state: Interpreter.Snapshot
    var checker: Checker
    var transcriptCount: Int
    var firstLine: String
  }

  /// How many inputs `:undo` can go back.
  static let undoDepth = 32

  private(set) var backend: Backend
  private(set) var interpreter: Interpreter
  private(set) var checker = Checker(allowsRebinding: true)
  private(set) var transcript = Transcript()
  private var undoPoints: [UndoPoint] = []
  /// The path diagnostics print for typed input (`<repl>`, `<stdin>`).
  let path: String
  let useColor: Bool
  private let output: (String) -> Void

  init(backend: Backend, path: String, useColor: Bool, output: @escaping (String) -> Void) {
    self.backend = backend
    self.path = path
    self.useColor = useColor
    self.output = output
    interpreter = Interpreter(backend: backend, options: RunOptions(useColor: useColor), output: output)
  }

  // MARK: Inputs

  /// Checks and, when complete and well formed, runs `text`, which starts on session
  /// line `firstLine`. With `atEnd` (no more input will come) an incomplete input is
  /// rejected with its "unexpected end of input" error instead.
  func submit(_ text: String, firstLine: Int, atEnd: Bool = false) -> Outcome {
    run(SourceFile(path: path, text: text, firstLine: firstLine), text: text, atEnd: atEnd)
  }

  /// Runs a script file into the session, as one input.
  func load(_ file: SourceFile) -> Outcome {
    run(file, text: String(decoding: file.bytes, as: UTF8.self), atEnd: true)
  }

  private func run(_ file: SourceFile, text: String, atEnd: Bool) -> Outcome {
    let renderer = DiagnosticRenderer(useColor: useColor)
    var next = checker
    let result = next.check(file)
    if !atEnd && result.isIncomplete
      && result.diagnostics.allSatisfy({ $0.severity != .error || $0.isUnexpectedEndOfInput })
    {
      return .incomplete
    }
    guard let checked = result.checked else {
      return .rejected(renderer.render(result.diagnostics, in: file, suppressed: result.suppressedCount))
    }
    let warnings = renderer.render(result.diagnostics, in: file)
    if checked.script.statements.isEmpty { return .accepted(warnings: warnings) }

    let before = interpreter.snapshot()
    let report = interpreter.run(checked, file: file)
    guard report.passed else {
      let message = interpreter.render(report)
      guard let before else { return .failed(message, rolledBack: false) }
      do { try interpreter.restore(before) } catch {
        return .failed(message + "error: could not roll back: \(error.message)\n", rolledBack: false)
      }
      return .failed(message, rolledBack: true)
    }
    if let before {
      undoPoints.append(
        UndoPoint(state: before, checker: checker, transcriptCount: transcript.entries.count, firstLine: firstLine(of: text)))
      if undoPoints.count > Session.undoDepth { undoPoints.removeFirst() }
    }
    checker = next
    transcript.append(text, checked)
    return .accepted(warnings: warnings)
  }

  // MARK: Undo and reset

  /// Returns to the state before the last accepted input; what was undone, or why not.
  func undo() -> Result<String, SessionError> {
    guard let point = undoPoints.popLast() else {
      if transcript.entries.isEmpty { return .failure(SessionError("nothing to undo")) }
      return .failure(
        SessionError(
          backend.capabilities.snapshots
            ? "no more undo: the session keeps the last \(Session.undoDepth) inputs"
            : "the \(backend.name) backend cannot take snapshots, so it cannot undo"))
    }
    do { try interpreter.restore(point.state) } catch { return .failure(SessionError(error.message)) }
    checker = point.checker
    transcript.truncate(to: point.transcriptCount)
    return .success(point.firstLine)
  }

  /// Starts again on `backend` with nothing bound.
  func reset(on backend: Backend) {
    self.backend.shutdown()
    self.backend = backend
    interpreter = Interpreter(backend: backend, options: RunOptions(useColor: useColor), output: output)
    checker = Checker(allowsRebinding: true)
    transcript.removeAll()
    undoPoints.removeAll()
  }

  // MARK: What the session holds

  /// The script `:save` writes.
  var savedScript: String { transcript.script(bindings: checker.bindings, backend: backend.name) }

  /// Every name bound so far, for completion.
  var boundNames: [String] { Array(Set(checker.bindings.map(\.name))).sorted() }

  /// Each name's current binding (the latest), in binding order.
  var currentBindings: [(name: String, id: BindingID, kind: NameKind)] {
    var latest: [String: BindingID] = [:]
    for (id, b) in checker.bindings.enumerated() { latest[b.name] = id }
    return latest.values.sorted().map { (checker.bindings[$0].name, $0, checker.bindings[$0].kind) }
  }

  /// `mops> `, or `mops[child]> ` naming the current process when there are several.
  var prompt: String {
    guard backend.processes.count > 1 else { return "mops> " }
    return "mops[\(interpreter.processName(interpreter.currentProcess))]> "
  }

  private func firstLine(of text: String) -> String {
    text.split(separator: "\n", maxSplits: 1).first.map(String.init) ?? text
  }
}

/// Why a session command could not be done.
struct SessionError: Error, Equatable {
  var message: String
  init(_ message: String) { self.message = message }
}
