import MopsBackend
import SimBackend

@testable import MopsREPL

/// A reader that hands the loop scripted lines and records the prompts it was shown.
final class ScriptedReader: LineReader {
  private var inputs: [LineInput]
  let isInteractive: Bool
  private(set) var prompts: [String] = []
  private(set) var boundNames: [String] = []

  init(_ inputs: [LineInput], interactive: Bool = true) {
    self.inputs = inputs
    self.isInteractive = interactive
  }

  convenience init(lines: [String], interactive: Bool = true) {
    self.init(lines.map(LineInput.line), interactive: interactive)
  }

  func readLine(prompt: String) -> LineInput {
    prompts.append(prompt)
    return inputs.isEmpty ? .endOfInput : inputs.removeFirst()
  }

  func updateBoundNames(_ names: [String]) { boundNames = names }
}

/// What one run of the loop printed and returned.
struct LoopRun {
  var out = ""
  var err = ""
  var status: Int32 = 0
}

/// Runs the loop over `reader` on the sim backend.
func runLoop(_ reader: ScriptedReader) throws -> LoopRun {
  let box = Box()
  let configuration = REPLConfiguration(
    backendName: "sim",
    makeBackend: { name throws(BackendError) in
      guard name == "sim" else { throw BackendError("the \(name) backend is not available in this build") }
      return SimBackend()
    }, colorOutput: false, colorErrors: false)
  let repl = try REPL(reader: reader, configuration: configuration, out: { box.value.out += $0 }) { box.value.err += $0 }
  box.value.status = repl.run()
  return box.value
}

final class Box {
  var value = LoopRun()
}
