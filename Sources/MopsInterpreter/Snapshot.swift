import MopsABI
import MopsBackend
import MopsSyntax

extension Interpreter {
  /// A saved session state: the backend's and the interpreter's (values, names,
  /// current process, frame labels, fork lines). The REPL takes one before each
  /// input, to undo it or to roll back an input that failed.
  public struct Snapshot {
    let backend: BackendSnapshot
    let values: [BindingID: Value]
    let unbound: [BindingID: String]
    let processNames: [PID: String]
    let current: PID
    let lastOutcome: OpOutcome?
    let frameLabels: [PFN: Int]
    let forkLines: [PID: Int]
    let zeroPFNSeen: PFN?
  }

  /// Saves the current state; nil when the backend cannot snapshot (the live kernel).
  /// Cheap on the sim: storage is shared copy-on-write until one side changes.
  public func snapshot() -> Snapshot? {
    guard let b = backend.snapshot() else { return nil }
    return Snapshot(
      backend: b, values: values, unbound: unbound, processNames: processNames, current: current,
      lastOutcome: lastOutcome, frameLabels: frameLabels, forkLines: forkLines, zeroPFNSeen: zeroPFNSeen)
  }

  /// Returns to `snapshot`; it stays valid, so the same snapshot can be restored again.
  public func restore(_ snapshot: Snapshot) throws(BackendError) {
    try backend.restore(snapshot.backend)
    values = snapshot.values
    unbound = snapshot.unbound
    processNames = snapshot.processNames
    current = snapshot.current
    lastOutcome = snapshot.lastOutcome
    frameLabels = snapshot.frameLabels
    forkLines = snapshot.forkLines
    zeroPFNSeen = snapshot.zeroPFNSeen
  }
}
