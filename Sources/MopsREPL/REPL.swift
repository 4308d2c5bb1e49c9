import Foundation
import MopsBackend
import MopsInterpreter
import MopsSyntax

/// How a REPL starts.
public struct REPLConfiguration {
  /// The backend the session starts on (`sim`).
  public var backendName: String
  /// Makes a backend by name, for the start, `:reset` and `:backend NAME`; throws
  /// with a message a person can act on when there is no such backend.
  public var makeBackend: (String) throws(BackendError) -> Backend
  /// Colour for views on standard output.
  public var colorOutput: Bool
  /// Colour for diagnostics on standard error.
  public var colorErrors: Bool

  /// A configuration starting on `backendName`.
  public init(
    backendName: String, makeBackend: @escaping (String) throws(BackendError) -> Backend, colorOutput: Bool,
    colorErrors: Bool
  ) {
    self.backendName = backendName
    self.makeBackend = makeBackend
    self.colorOutput = colorOutput
    self.colorErrors = colorErrors
  }
}

/// The read-check-run loop, in the manner of `lua` and clox: a line that leaves the
/// input unfinished (only an "unexpected end of input" error) is continued on the next
/// line under `...>`; anything else is run or reported, and the loop goes on.
///
/// At a terminal errors never end the session. Reading plain input (`mops <
/// script.mops`), the loop prints what `mops run` prints and stops like it at the
/// first error (status 65) or failure (status 1).
public final class REPL {
  private let reader: LineReader
  private var configuration: REPLConfiguration
  private let session: Session
  private let painter: Painter
  private let out: (String) -> Void
  private let err: (String) -> Void
  /// Lines read so far: an input's diagnostics count lines across the session.
  private var linesRead = 0

  /// A loop reading from `reader`, writing to `out` (views, `print`) and `err`
  /// (diagnostics, messages). Throws when the starting backend cannot be made.
  public init(
    reader: LineReader, configuration: REPLConfiguration, out: @escaping (String) -> Void,
    err: @escaping (String) -> Void
  ) throws(BackendError) {
    self.reader = reader
    self.configuration = configuration
    self.out = out
    self.err = err
    let painter = Painter(enabled: configuration.colorOutput)
    self.painter = painter
    session = Session(
      backend: try configuration.makeBackend(configuration.backendName),
      path: reader.isInteractive ? "<repl>" : "<stdin>", useColor: configuration.colorErrors
    ) { out(painter.paint($0) + "\n") }
  }

  /// Runs until the input ends or `:quit`; returns the exit status.
  public func run() -> Int32 {
    defer { session.backend.shutdown() }
    // The banner and the newline after Ctrl-D go where a person reads, not into output
    // that may be redirected.
    if reader.isInteractive {
      err("mops: a sandbox for Linux anonymous memory (\(session.backend.name) backend). :help lists what you can type.\n")
    }
    var pending = ""
    var pendingFirstLine = 1
    while true {
      reader.updateBoundNames(session.boundNames)
      let prompt = session.prompt
      let input = reader.readLine(prompt: pending.isEmpty ? prompt : REPL.continuationPrompt(for: prompt))
      switch input {
      case .interrupted:
        pending = ""
      case .endOfInput:
        if reader.isInteractive {
          err("\n")
          return 0
        }
        guard !pending.isEmpty else { return 0 }
        return status(of: session.submit(pending, firstLine: pendingFirstLine, atEnd: true)) ?? 0
      case .line(let text):
        linesRead += 1
        if pending.isEmpty && text.drop(while: { $0 == " " || $0 == "\t" }).hasPrefix(":") {
          if let status = perform(MetaCommand.parse(text.trimmingCharacters(in: .whitespaces))) { return status }
          continue
        }
        if pending.isEmpty { pendingFirstLine = linesRead }
        pending += text + "\n"
        let outcome = session.submit(pending, firstLine: pendingFirstLine)
        if outcome == .incomplete { continue }
        pending = ""
        if let status = status(of: outcome) { return status }
      }
    }
  }

  /// `...> ` right-aligned under the prompt.
  static func continuationPrompt(for prompt: String) -> String {
    String(repeating: " ", count: max(0, prompt.count - 5)) + "...> "
  }

  /// Reports an input's outcome; the exit status when the loop must stop (plain input
  /// stops at the first error or failure, as `mops run` does).
  private func status(of outcome: Session.Outcome) -> Int32? {
    switch outcome {
    case .incomplete:
      return nil
    case .accepted(let warnings):
      if reader.isInteractive && !warnings.isEmpty { err(warnings) }
      return nil
    case .rejected(let diagnostics):
      err(diagnostics)
      return reader.isInteractive ? nil : 65
    case .failed(let failures, let rolledBack):
      err(failures)
      guard reader.isInteractive else { return 1 }
      err(
        rolledBack
          ? "(rolled back: the session is as it was before this input)\n"
          : "(the \(session.backend.name) backend cannot roll back: the session keeps what ran, but :save will not)\n")
      return nil
    }
  }

  // MARK: Meta commands

  /// Performs a `:` command; the exit status when the loop must stop.
  private func perform(_ parsed: Result<MetaCommand, MetaCommandError>) -> Int32? {
    let command: MetaCommand
    switch parsed {
    case .success(let c): command = c
    case .failure(let e): return fail(e.message, status: 64)
    }
    switch command {
    case .help(nil):
      out(Help.overview + "\n")
    case .help(let topic?):
      guard let text = Help.text(for: topic) else {
        return fail("no help on `\(topic)`; topics: " + Help.topics.joined(separator: " "), status: 64)
      }
      out(text + "\n")
    case .quit:
      return 0
    case .load(let path):
      let expanded = NSString(string: path).expandingTildeInPath
      guard let data = FileManager.default.contents(atPath: expanded) else {
        return fail("cannot read \(path)", status: 65)
      }
      return status(of: session.load(SourceFile(path: path, bytes: Array(data))))
    case .save(let path):
      let expanded = NSString(string: path).expandingTildeInPath
      do {
        try session.savedScript.write(toFile: expanded, atomically: true, encoding: .utf8)
      } catch {
        return fail("cannot write \(path): \(error.localizedDescription)", status: 1)
      }
      if reader.isInteractive {
        out("saved \(session.transcript.entries.count) inputs to \(path); `mops run \(path)` replays them\n")
      }
    case .record:
      return record()
    case .undo:
      switch session.undo() {
      case .success(let line): if reader.isInteractive { out("undone: \(line)\n") }
      case .failure(let e): return fail(e.message, status: 1)
      }
    case .reset:
      return restart(on: configuration.backendName)
    case .backend(let name):
      return restart(on: name)
    }
    return nil
  }

  private func record() -> Int32? {
    let recorder = Recorder(interpreter: session.interpreter, backend: session.backend, bindings: session.currentBindings)
    let text: String?
    do { text = try recorder.assertions() } catch { return fail(error.message, status: 70) }
    guard let text else { return fail("no named regions to record; bind one first, e.g. `r = mmap 4 pages`", status: 1) }
    let outcome = session.submit(text, firstLine: linesRead + 1)
    if case .accepted = outcome, reader.isInteractive {
      let count = text.split(separator: "\n").count - 1
      out("recorded \(count) assertion lines (:save writes them):\n" + text)
    }
    return status(of: outcome)
  }

  private func restart(on name: String) -> Int32? {
    let backend: Backend
    do { backend = try configuration.makeBackend(name) } catch {
      return fail("\(error.message); the session stays on \(session.backend.name)", status: 64)
    }
    session.reset(on: backend)
    configuration.backendName = name
    if reader.isInteractive { out("the session is empty, on the \(name) backend\n") }
    return nil
  }

  /// Prints `message` as an error; at a terminal the session goes on, else it stops
  /// with `status`.
  private func fail(_ message: String, status: Int32) -> Int32? {
    let word = configuration.colorErrors ? "\u{1B}[1;31merror\u{1B}[0m" : "error"
    err("\(word): \(message)\n")
    return reader.isInteractive ? nil : status
  }
}
