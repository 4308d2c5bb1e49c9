// End-to-end cost of a 100,000-line script: parse+check throughput, run time on the
// model, and how much of the run is spent inside the backend (the engine) rather than
// in the interpreter.
import MopsABI
import MopsBackend
import MopsInterpreter
import MopsSyntax
import SimBackend

/// Forwards to the sim backend and adds up the time spent inside it.
final class TimedBackend: Backend {
  let inner = SimBackend(checksInvariants: false)
  var seconds = 0.0

  func timedCall<T>(_ body: () throws(BackendError) -> T) throws(BackendError) -> T {
    let start = now()
    defer { seconds += Double(now() - start) / 1e9 }
    return try body()
  }

  var name: String { inner.name }
  var capabilities: Capabilities { inner.capabilities }
  var initialProcess: PID { inner.initialProcess }
  var processes: [PID] { inner.processes }
  func parent(of pid: PID) -> PID? { inner.parent(of: pid) }
  func setTag(_ tag: Int) { inner.setTag(tag) }
  var cost: CostCounters? { inner.cost }
  func perform(_ op: Operation, in pid: PID) throws(BackendError) -> OpOutcome {
    try timedCall { () throws(BackendError) in try inner.perform(op, in: pid) }
  }
  func vmas(of pid: PID) throws(BackendError) -> [VMAInfo] {
    try timedCall { () throws(BackendError) in try inner.vmas(of: pid) }
  }
  func pages(of pid: PID, at addr: VirtAddr, count: Int) throws(BackendError) -> [PageInfo] {
    try timedCall { () throws(BackendError) in try inner.pages(of: pid, at: addr, count: count) }
  }
  func processInfo(_ pid: PID) throws(BackendError) -> ProcessInfo {
    try timedCall { () throws(BackendError) in try inner.processInfo(pid) }
  }
  func snapshot() -> BackendSnapshot? { inner.snapshot() }
  func restore(_ snapshot: BackendSnapshot) throws(BackendError) { try inner.restore(snapshot) }
  func shutdown() { inner.shutdown() }
}

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
    let backend = TimedBackend()
    let interpreter = Interpreter(
      backend: backend, options: RunOptions(keepGoing: true, acceptsAnyOutcome: true), output: { _ in })
    var statements = 0
    let runSeconds = timed { statements = interpreter.run(checked, file: file).records.count }
    print(
      "script of \(lines) lines: parse+check \(fmt(Double(lines) / checkSeconds, 0)) lines/s; run \(fmt(runSeconds * 1e3, 1)) ms "
        + "(\(statements) operations, \(fmt(Double(statements) / runSeconds, 0))/s), "
        + "\(fmt(backend.seconds / runSeconds * 100, 1))% of the run inside the engine")
  }
}
