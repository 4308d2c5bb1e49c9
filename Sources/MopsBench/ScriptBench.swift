// End-to-end cost of a 100,000-line script: parse+check throughput, run time on the
// model, and how much of the run is spent inside the backend (the engine) rather than
// in the interpreter.
import MopsABI
import MopsBackend
import MopsInterpreter
import MopsSyntax
import SimBackend

enum ScriptBench {
  /// Parses, checks and runs a generated script of `lines` lines on the model.
  static func run(lines: Int) {
    let file = SourceFile(path: "generated.mops", text: SyntaxThroughput.generateScript(lines: lines))
    var result: CheckResult?
    let checkSeconds = timed { result = MopsCheck.check(file) }
    guard let checked = result?.checked else {
      print("script bench: the generated script does not check")
      return
    }
    let backend = TimingBackend(SimBackend(checksInvariants: false))
    let interpreter = Interpreter(
      backend: backend, options: RunOptions(keepGoing: true, acceptsAnyOutcome: true), output: { _ in })
    var statements = 0
    let runSeconds = timed { statements = interpreter.run(checked, file: file).records.count }
    print(
      "script of \(lines) lines: parse+check \(fmt(Double(lines) / checkSeconds, 0)) lines/s; run \(fmt(runSeconds * 1e3, 1)) ms "
        + "(\(statements) operations, \(fmt(Double(statements) / runSeconds, 0))/s), "
        + "\(fmt(Double(backend.timings.operationsTotal.nanoseconds + backend.timings.observations.nanoseconds) / 1e9 / runSeconds * 100, 1))% of the run inside the engine")
  }
}
