import MopsABI
import MopsBackend
import MopsEngine

/// The model as a backend: every operation is a call into ``World``.
public final class SimBackend: Backend {
  public private(set) var world: World

  /// A sim backend on a fresh world. `checksInvariants` defaults to the build's
  /// setting (on in debug builds).
  public init(checksInvariants: Bool? = nil) {
    world = World(checksInvariants: checksInvariants)
    do {
      _ = try world.mmap(
        world.initialPID, addr: Arena.guardPage, length: pageSize, prot: [],
        flags: [.shared, .anonymous, .fixedNoreplace])
    } catch {
      preconditionFailure("a fresh world cannot map the guard page: \(error)")
    }
  }

  public var name: String { "sim" }
  public var capabilities: Capabilities {
    Capabilities(frames: true, pteWritable: true, costCounters: true, snapshots: true)
  }
  public var initialProcess: PID { world.initialPID }
  public var processes: [PID] { world.pids }
  public func parent(of pid: PID) -> PID? { world.processes[pid]?.parent }
  public func setTag(_ tag: Int) { world.currentTag = tag }
  public var cost: CostCounters? { world.cost }

  public func perform(_ op: Operation, in pid: PID) throws(BackendError) -> OpOutcome {
    if let why = op.arenaViolation() { throw BackendError(why) }
    guard world.processes[pid] != nil else { throw BackendError("no live process \(pid)") }
    let w = world
    do {
      switch op {
      case .mmap(let addr, let length, let prot, let flags):
        return OpOutcome(.ok, value: try w.mmap(pid, addr: addr, length: length, prot: prot, flags: flags).rawValue)
      case .munmap(let addr, let length):
        try w.munmap(pid, addr: addr, length: length)
      case .mprotect(let addr, let length, let prot):
        try w.mprotect(pid, addr: addr, length: length, prot: prot)
      case .madvise(let addr, let length, let advice):
        try w.madvise(pid, addr: addr, length: length, advice: advice)
      case .mremap(let oldAddr, let oldLength, let newLength, let flags, let newAddr):
        let r = try w.mremap(
          pid, oldAddr: oldAddr, oldLength: oldLength, newLength: newLength, flags: flags, newAddr: newAddr)
        return OpOutcome(.ok, value: r.rawValue)
      case .touch(let addr, let write, let fill):
        return outcome(w.touch(pid, addr: addr, write: write, fill: fill))
      case .writeBytes(let addr, let bytes):
        return outcome(w.writeBytes(pid, addr: addr, bytes))
      case .readBytes(let addr, let count):
        let r = w.readBytes(pid, addr: addr, count: count)
        var o = outcome(r.outcome)
        o.bytes = r.bytes
        return o
      case .fork:
        return OpOutcome(.ok, value: UInt64(try w.fork(pid).rawValue))
      case .exit:
        try w.exit(pid)
      case .pin(let addr, let length):
        try w.pin(pid, addr: addr, length: length)
      case .unpin(let addr, let length):
        try w.unpin(pid, addr: addr, length: length)
      case .userfaultfd(let flags):
        return OpOutcome(.ok, value: UInt64(try w.userfaultfd(pid, flags: flags).rawValue))
      case .uffdioAPI(let uffd, let api, let features):
        return OpOutcome(.ok, value: try w.uffdioAPI(pid, ctx(uffd), api: api, features: features).rawValue)
      case .uffdioRegister(let uffd, let start, let length, let mode):
        return OpOutcome(.ok, value: try w.uffdioRegister(pid, ctx(uffd), start: start, length: length, mode: mode))
      case .uffdioUnregister(let uffd, let start, let length):
        try w.uffdioUnregister(pid, ctx(uffd), start: start, length: length)
      case .closeUffd(let uffd):
        try w.closeUffd(pid, ctx(uffd))
      case .uffdioMove(let uffd, let dst, let src, let length, let mode):
        return outcome(w.uffdioMove(pid, ctx(uffd), dst: dst, src: src, length: length, mode: mode))
      case .uffdioCopy(let uffd, let dst, let src, let length, let mode):
        return outcome(w.uffdioCopy(pid, ctx(uffd), dst: dst, src: src, length: length, mode: mode))
      case .uffdioZeropage(let uffd, let dst, let length, let mode):
        return outcome(w.uffdioZeropage(pid, ctx(uffd), dst: dst, length: length, mode: mode))
      case .remapAnonPages(let dst, let src, let length, let flags):
        let r = w.remapAnonPages(pid, dst: dst, src: src, length: length, flags: flags)
        if let e = r.error, e.isNotModelled { return failure(e) }
        return OpOutcome(
          r.errno.map { .errno($0) } ?? .ok, field: r.value,
          reason: r.error.map { r.errno == nil ? "stopped early: \($0)" : $0.reason }, sharing: r.error?.sharing)
      }
      return .ok
    } catch {
      return failure(error)
    }
  }

  private func ctx(_ h: UffdHandle) -> UserfaultfdCtx.ID { UserfaultfdCtx.ID(rawValue: UInt32(bitPattern: h.rawValue)) }

  private func failure(_ e: KernelError) -> OpOutcome {
    if e.isNotModelled { return OpOutcome(.notModelled(e.reason)) }
    return OpOutcome(.errno(e.errno), reason: e.reason, sharing: e.sharing)
  }

  private func outcome(_ a: AccessOutcome) -> OpOutcome {
    switch a {
    case .ok: return .ok
    case .signal(let s): return OpOutcome(.signal(s))
    case .userfault(_, let addr): return OpOutcome(.userfault(addr))
    case .notModelled(let why): return OpOutcome(.notModelled(why))
    case .noSuchProcess(let pid): return OpOutcome(.errno(.ESRCH), reason: "no process with \(pid)")
    }
  }

  /// The ioctl's errno decides the result (EAGAIN for a partial move); the reason is
  /// the error that stopped the walk, which the kernel does not report.
  private func outcome(_ r: UffdioResult) -> OpOutcome {
    if let e = r.error, e.isNotModelled { return failure(e) }
    var reason = r.error?.reason
    if let e = r.error, r.errno != e.errno { reason = "stopped after \(r.bytes) bytes by \(e.errno.name): \(e.reason)" }
    return OpOutcome(r.errno.map { .errno($0) } ?? .ok, field: r.field, reason: reason, sharing: r.error?.sharing)
  }

  /// The VMAs inside the arena (the guard page above it is not shown).
  public func vmas(of pid: PID) throws(BackendError) -> [VMAInfo] {
    do { return try world.vmaInfos(pid).filter { $0.start < Arena.end } } catch { throw BackendError(error.reason) }
  }

  public func pages(of pid: PID, at addr: VirtAddr, count: Int) throws(BackendError) -> [PageInfo] {
    var result: [PageInfo] = []
    result.reserveCapacity(max(0, count))
    var a = addr.pageDown
    for _ in 0..<max(0, count) {
      do { result.append(try world.pageInfo(pid, a)) } catch { throw BackendError(error.reason) }
      a += pageSize
    }
    return result
  }

  /// Totals over the arena (the guard page above it is not counted).
  public func processInfo(_ pid: PID) throws(BackendError) -> ProcessInfo {
    var info: ProcessInfo
    do { info = try world.processInfo(pid) } catch { throw BackendError(error.reason) }
    info.vmaCount = arenaVMACount(pid)
    return info
  }

  /// map_count less the VMAs above the arena (the guard page), counted from the top of
  /// the tree so the cost does not grow with the number of VMAs.
  private func arenaVMACount(_ pid: PID) -> Int {
    guard let mm = world.processes[pid] else { return 0 }
    var outside = 0
    var i = mm.vmas.last.flatMap { mm.vmas.index(above: $0.vmStart) }
    while let idx = i, mm.vmas[idx].vmStart >= Arena.end {
      outside += 1
      i = mm.vmas.index(before: idx)
    }
    return mm.mapCount - outside
  }

  private final class Snapshot: BackendSnapshot {
    let world: World
    init(_ world: World) { self.world = world }
  }

  public func snapshot() -> BackendSnapshot? { Snapshot(world.snapshot()) }

  public func restore(_ snapshot: BackendSnapshot) throws(BackendError) {
    guard let s = snapshot as? Snapshot else { throw BackendError("not a sim snapshot") }
    world = s.world.snapshot()
  }

  public func shutdown() {}
}
