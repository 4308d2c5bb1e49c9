import MopsABI

/// Time spent inside a backend, per operation class.
public struct BackendTimings: Sendable {
  /// One operation class: `mmap`, `madvise(MADV_FREE)`, `write access`, … and
  /// `observation` for the state reads (maps, pages, totals) that assertions, views and
  /// `--backend both`'s comparison make.
  public struct Row: Sendable {
    public var name: String
    public var count = 0
    public var nanoseconds: UInt64 = 0
    public var secondsPerCall: Double { count == 0 ? 0 : Double(nanoseconds) / 1e9 / Double(count) }
  }

  /// The backend measured (`sim`, `linux`).
  public var backend: String
  /// Operation classes in the order they first ran; observations last.
  public var operations: [Row] = []
  public var observations = Row(name: "observation")

  public init(backend: String) { self.backend = backend }

  /// All operations together.
  public var operationsTotal: Row {
    Row(
      name: "all operations", count: operations.reduce(0) { $0 + $1.count },
      nanoseconds: operations.reduce(0) { $0 + $1.nanoseconds })
  }

  mutating func add(_ name: String, _ ns: UInt64) {
    if let i = operations.firstIndex(where: { $0.name == name }) {
      operations[i].count += 1
      operations[i].nanoseconds += ns
    } else {
      operations.append(Row(name: name, count: 1, nanoseconds: ns))
    }
  }
}

/// Forwards every call to `inner` and measures the wall time of each, per operation
/// class. For the live backend that is what the controller waits for: the syscall in
/// the worker plus the round trip to it.
public final class TimingBackend: Backend {
  public let inner: Backend
  public private(set) var timings: BackendTimings
  private let clock = ContinuousClock()

  public init(_ inner: Backend) {
    self.inner = inner
    timings = BackendTimings(backend: inner.name)
  }

  @inline(__always)
  private func measure<T>(_ body: () throws(BackendError) -> T) throws(BackendError) -> (T, UInt64) {
    let start = clock.now
    let value = try body()
    let d = clock.now - start
    let (s, atto) = d.components
    return (value, UInt64(max(0, s)) &* 1_000_000_000 &+ UInt64(max(0, atto / 1_000_000_000)))
  }

  private func observe<T>(_ body: () throws(BackendError) -> T) throws(BackendError) -> T {
    let (value, ns) = try measure(body)
    timings.observations.count += 1
    timings.observations.nanoseconds += ns
    return value
  }

  public var name: String { inner.name }
  public var capabilities: Capabilities { inner.capabilities }
  public var initialProcess: PID { inner.initialProcess }
  public var processes: [PID] { inner.processes }
  public func parent(of pid: PID) -> PID? { inner.parent(of: pid) }
  public func setTag(_ tag: Int) { inner.setTag(tag) }
  public var cost: CostCounters? { inner.cost }

  public func perform(_ op: Operation, in pid: PID) throws(BackendError) -> OpOutcome {
    let (outcome, ns) = try measure { () throws(BackendError) in try inner.perform(op, in: pid) }
    timings.add(op.syscallName, ns)
    return outcome
  }

  public func vmas(of pid: PID) throws(BackendError) -> [VMAInfo] {
    try observe { () throws(BackendError) in try inner.vmas(of: pid) }
  }
  public func pages(of pid: PID, at addr: VirtAddr, count: Int) throws(BackendError) -> [PageInfo] {
    try observe { () throws(BackendError) in try inner.pages(of: pid, at: addr, count: count) }
  }
  public func processInfo(_ pid: PID) throws(BackendError) -> ProcessInfo {
    try observe { () throws(BackendError) in try inner.processInfo(pid) }
  }

  public func snapshot() -> BackendSnapshot? { inner.snapshot() }
  public func restore(_ snapshot: BackendSnapshot) throws(BackendError) { try inner.restore(snapshot) }
  public func shutdown() { inner.shutdown() }
}
