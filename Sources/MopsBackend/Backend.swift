import MopsABI

/// Why a backend could not answer (as opposed to an operation's own failure).
public struct BackendError: Error, Hashable, Sendable, CustomStringConvertible {
  public var message: String
  /// The backends of `--backend both` disagree (the message shows both sides).
  public var isDisagreement: Bool

  public init(_ message: String) {
    self.message = message
    self.isDisagreement = false
  }

  /// Two backends disagree about a statement's outcome or the state after it.
  public init(disagreement message: String) {
    self.message = message
    self.isDisagreement = true
  }

  public var description: String { message }
}

/// What a backend can observe. Observations it cannot make come back `nil` and
/// assertions on them are skipped with ``unavailableReason``.
public struct Capabilities: Hashable, Sendable {
  /// Frame numbers, kpagecount and kpageflags (root on the live kernel).
  public var frames: Bool
  /// PTE writability (the sim only; pagemap does not show it).
  public var pteWritable: Bool
  /// Cost counters (the sim only).
  public var costCounters: Bool
  /// Cheap snapshots for undo (the sim only).
  public var snapshots: Bool
  /// Why `frames` is false, for skip messages.
  public var unavailableReason: String?

  public init(frames: Bool, pteWritable: Bool, costCounters: Bool, snapshots: Bool, unavailableReason: String? = nil) {
    self.frames = frames
    self.pteWritable = pteWritable
    self.costCounters = costCounters
    self.snapshots = snapshots
    self.unavailableReason = unavailableReason
  }
}

/// Something that runs mops operations and answers observations: the model (sim),
/// the live kernel (linux) or both in lockstep. The interpreter never knows which.
public protocol Backend: AnyObject {
  /// `"sim"`, `"linux"`, `"both"`.
  var name: String { get }
  var capabilities: Capabilities { get }
  /// The process every script starts in.
  var initialProcess: PID { get }
  /// Live processes, in creation order.
  var processes: [PID] { get }
  /// The parent of `pid`, if it is alive and known.
  func parent(of pid: PID) -> PID?

  /// Sets the tag recorded with what follows (the language passes the source line).
  func setTag(_ tag: Int)

  /// Performs `op` as process `pid`. Addresses outside the arena are refused before
  /// any work is done.
  func perform(_ op: Operation, in pid: PID) throws(BackendError) -> OpOutcome

  /// The VMAs of `pid`, in address order.
  func vmas(of pid: PID) throws(BackendError) -> [VMAInfo]
  /// `count` consecutive pages of `pid` starting at `addr`, never faulting one in.
  func pages(of pid: PID, at addr: VirtAddr, count: Int) throws(BackendError) -> [PageInfo]
  /// Totals for `pid`.
  func processInfo(_ pid: PID) throws(BackendError) -> ProcessInfo
  /// Cost counters so far (`nil` where the backend has none).
  var cost: CostCounters? { get }

  /// Takes a snapshot the backend can return to (`nil` if it cannot).
  func snapshot() -> BackendSnapshot?
  /// Returns to `snapshot`.
  func restore(_ snapshot: BackendSnapshot) throws(BackendError)
  /// Ends every process; no worker outlives this call.
  func shutdown()
}

/// An opaque saved state of a backend.
public protocol BackendSnapshot: AnyObject {}

extension Operation {
  /// The arena check every backend applies first: an address range outside the arena
  /// is refused (the live backend must never touch the worker's own memory). Ranges
  /// the kernel rejects before looking at any mapping — starting at or above
  /// TASK_SIZE, or wrapping past 2^64 — are let through so their errnos can be seen.
  public func arenaViolation() -> String? {
    for (addr, length) in addressRanges where !Arena.contains(addr, length: length) {
      if addr.rawValue >= taskSize || addr.rawValue.addingReportingOverflow(length).overflow { continue }
      return "\(syscallName) at \(addr) (+\(length) bytes) is outside the arena \(Arena.start)-\(Arena.end)"
    }
    return nil
  }
}
