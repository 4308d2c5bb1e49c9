import MopsABI
import MopsBackend

/// Runs every operation on a reference backend (the model) and on a second one (the
/// live kernel) in lockstep, and stops at the first statement after which their
/// outcomes or observable states differ.
///
/// Scripts see the reference's pids and uffd handles; they are translated for the
/// other side. Frames are compared as a one-to-one correspondence built up over the
/// run (never by number): the first time a model frame is seen opposite a kernel
/// frame the two are paired, and every later sighting must agree with the pairing in
/// both directions.
public final class DiffBackend: Backend {
  public let reference: Backend
  public let other: Backend
  var pids: [PID: PID] = [:]
  var uffds: [UffdHandle: UffdHandle] = [:]
  var framePairs = FramePairing()
  /// The description of the statement being run, for reports (set by `setTag`).
  var tag = 0

  public init(reference: Backend, other: Backend) {
    self.reference = reference
    self.other = other
    pids[reference.initialProcess] = other.initialProcess
  }

  public var name: String { "both" }
  public var capabilities: Capabilities {
    let o = other.capabilities
    return Capabilities(
      frames: o.frames, pteWritable: false, costCounters: true, snapshots: false,
      unavailableReason: o.unavailableReason)
  }
  public var initialProcess: PID { reference.initialProcess }
  public var processes: [PID] { reference.processes }
  public func parent(of pid: PID) -> PID? { reference.parent(of: pid) }
  public var cost: CostCounters? { reference.cost }

  public func setTag(_ tag: Int) {
    self.tag = tag
    reference.setTag(tag)
    other.setTag(tag)
  }

  public func perform(_ op: Operation, in pid: PID) throws(BackendError) -> OpOutcome {
    guard let otherPID = pids[pid] else { throw BackendError("no live process \(pid) on the \(other.name) side") }
    let translated = try translate(op)
    let r = try reference.perform(op, in: pid)
    let o = try other.perform(translated, in: otherPID)
    try compareOutcomes(op, r, o)
    switch op {
    case .fork:
      if let c = r.value, let oc = o.value { pids[PID(Int32(truncatingIfNeeded: c))] = PID(Int32(truncatingIfNeeded: oc)) }
    case .exit:
      pids[pid] = nil
    case .userfaultfd:
      if let h = r.value, let oh = o.value {
        uffds[UffdHandle(rawValue: Int32(truncatingIfNeeded: h))] = UffdHandle(rawValue: Int32(truncatingIfNeeded: oh))
      }
    default: break
    }
    try compareStates(after: op)
    return r
  }

  /// The operation with the other side's uffd handles.
  func translate(_ op: Operation) throws(BackendError) -> Operation {
    func h(_ u: UffdHandle) throws(BackendError) -> UffdHandle {
      guard let t = uffds[u] else { throw BackendError("userfaultfd \(u.rawValue) has no counterpart on the \(other.name) side") }
      return t
    }
    switch op {
    case .uffdioAPI(let u, let api, let f): return .uffdioAPI(uffd: try h(u), api: api, features: f)
    case .uffdioRegister(let u, let s, let l, let m): return .uffdioRegister(uffd: try h(u), start: s, length: l, mode: m)
    case .uffdioUnregister(let u, let s, let l): return .uffdioUnregister(uffd: try h(u), start: s, length: l)
    case .closeUffd(let u): return .closeUffd(uffd: try h(u))
    case .uffdioMove(let u, let d, let s, let l, let m): return .uffdioMove(uffd: try h(u), dst: d, src: s, length: l, mode: m)
    case .uffdioCopy(let u, let d, let s, let l, let m): return .uffdioCopy(uffd: try h(u), dst: d, src: s, length: l, mode: m)
    case .uffdioZeropage(let u, let d, let l, let m): return .uffdioZeropage(uffd: try h(u), dst: d, length: l, mode: m)
    default: return op
    }
  }

  func compareOutcomes(_ op: Operation, _ r: OpOutcome, _ o: OpOutcome) throws(BackendError) {
    var diffs: [String] = []
    switch (r.result, o.result) {
    case (.notModelled, .notModelled): break
    case (let a, let b) where a != b:
      diffs.append("outcome: \(reference.name) \(show(r.result)), \(other.name) \(show(o.result))")
    default: break
    }
    if r.field != o.field {
      diffs.append("result field: \(reference.name) \(r.field.map(String.init) ?? "untouched"), \(other.name) \(o.field.map(String.init) ?? "untouched")")
    }
    switch op {
    case .mmap, .mremap:
      if r.result == .ok && r.value != o.value {
        diffs.append("returned address: \(reference.name) \(r.value.map { VirtAddr($0).description } ?? "-"), \(other.name) \(o.value.map { VirtAddr($0).description } ?? "-")")
      }
    case .uffdioAPI, .uffdioRegister:
      if r.result == .ok && r.value != o.value {
        diffs.append("returned bits: \(reference.name) 0x\(String(r.value ?? 0, radix: 16)), \(other.name) 0x\(String(o.value ?? 0, radix: 16))")
      }
    case .readBytes:
      if r.bytes != o.bytes { diffs.append("bytes read differ") }
    default: break
    }
    if !diffs.isEmpty {
      throw BackendError(disagreement: "\(op.syscallName) disagrees:\n  " + diffs.joined(separator: "\n  ") + (r.reason.map { "\n  \(reference.name) says why: \($0)" } ?? ""))
    }
  }

  func show(_ r: OpOutcome.Result) -> String {
    switch r {
    case .ok: return "succeeded"
    case .errno(let e): return "failed with \(e.name)"
    case .signal(let s): return "raised \(s)"
    case .userfault(let a): return "hit a userfault at \(a)"
    case .notModelled(let why): return "refused (\(why))"
    }
  }

  /// Compares every live process: the same pids exist, the same VMAs, and for every
  /// page of every VMA the same state, mapcount, exclusivity, anon-exclusivity,
  /// contents and frame correspondence.
  func compareStates(after op: Operation) throws(BackendError) {
    var diffs: [String] = []
    var frames: [(PID, VirtAddr, PFN, PFN)] = []
    for pid in reference.processes {
      guard let opid = pids[pid] else {
        diffs.append("\(pid) exists only on the \(reference.name) side")
        continue
      }
      let rv = try reference.vmas(of: pid)
      let ov = try other.vmas(of: opid)
      let visible = FramePairing.visibleFlags
      let rl = rv.map { VMAKey($0, visible) }
      let ol = ov.map { VMAKey($0, visible) }
      if rl != ol {
        diffs.append(
          "VMAs of \(pid) differ\n    \(reference.name):\n" + rv.map { "      " + $0.mapsLine }.joined(separator: "\n")
            + "\n    \(other.name):\n" + ov.map { "      " + $0.mapsLine }.joined(separator: "\n"))
        continue
      }
      for vma in rv {
        let count = Int(vma.pageCount)
        let rp = try reference.pages(of: pid, at: vma.start, count: count)
        let op = try other.pages(of: opid, at: vma.start, count: count)
        for (a, b) in zip(rp, op) {
          if let d = FramePairing.compareFields(a, b, referenceName: reference.name, otherName: other.name) {
            diffs.append("\(pid) page \(a.addr): \(d)")
            if diffs.count >= 8 { break }
          } else if a.state == .present, let x = a.pfn, let y = b.pfn {
            frames.append((pid, a.addr, x, y))
          }
        }
      }
    }
    framePairs.forgetFramesNotIn(Set(frames.map(\.2)), Set(frames.map(\.3)))
    for (pid, addr, x, y) in frames where diffs.count < 8 {
      if let d = framePairs.pair(x, y, referenceName: reference.name, otherName: other.name) {
        diffs.append("\(pid) page \(addr): \(d)")
      }
    }
    if !diffs.isEmpty {
      throw BackendError(disagreement: "after \(op.syscallName) the states differ:\n  " + diffs.joined(separator: "\n  "))
    }
  }

  public func vmas(of pid: PID) throws(BackendError) -> [VMAInfo] { try reference.vmas(of: pid) }
  public func pages(of pid: PID, at addr: VirtAddr, count: Int) throws(BackendError) -> [PageInfo] {
    try reference.pages(of: pid, at: addr, count: count)
  }
  public func processInfo(_ pid: PID) throws(BackendError) -> ProcessInfo { try reference.processInfo(pid) }
  public func snapshot() -> BackendSnapshot? { nil }
  public func restore(_ snapshot: BackendSnapshot) throws(BackendError) {
    throw BackendError("the both backend cannot undo: the live kernel has no snapshots")
  }
  public func shutdown() {
    reference.shutdown()
    other.shutdown()
  }
}

/// The parts of a VMA both sides can see.
struct VMAKey: Equatable {
  var start: VirtAddr
  var end: VirtAddr
  var flags: VMFlags
  var mapsPgoff: UInt64
  var shared: Bool

  init(_ v: VMAInfo, _ visible: VMFlags) {
    start = v.start
    end = v.end
    flags = v.flags.intersection(visible)
    mapsPgoff = v.mapsPgoff
    shared = v.isShared
  }
}

/// The growing one-to-one correspondence between the two sides' frames.
struct FramePairing {
  var forward: [PFN: PFN] = [:]
  var backward: [PFN: PFN] = [:]

  /// Flags smaps prints on the reference kernel (no soft-dirty: CONFIG_MEM_SOFT_DIRTY
  /// is off there).
  static let visibleFlags: VMFlags = {
    var all = VMFlags()
    for (flag, _) in VMFlags.mnemonics where flag != .softdirty { all.insert(flag) }
    return all
  }()

  /// How `a` (reference) and `b` (other) differ in what they show of a page besides
  /// frame identity, or nil. A field one side did not observe (`nil`: e.g. mapcounts
  /// without root, or the contents of a page the linux backend cannot load because its
  /// VMA lacks PROT_READ) is not compared — never taken as zero or as equal.
  static func compareFields(_ a: PageInfo, _ b: PageInfo, referenceName: String, otherName: String) -> String? {
    func field<T: Equatable>(_ name: String, _ x: T?, _ y: T?) -> String? {
      guard let x, let y, x != y else { return nil }
      return "\(name): \(referenceName) \(x), \(otherName) \(y)"
    }
    if a.state != b.state { return "state: \(referenceName) \(a.state.rawValue), \(otherName) \(b.state.rawValue)" }
    if a.state == .none { return nil }
    return field("mapcount", a.mapcount, b.mapcount) ?? field("exclusive", a.exclusive, b.exclusive)
      ?? field("anon-exclusive", a.anonExclusive, b.anonExclusive) ?? field("contents", a.contents, b.contents)
  }

  /// Frames freed on both sides since the last comparison may be reused for other
  /// pages: pairs whose frames are no longer mapped anywhere, on either side, are
  /// dropped. A pair with only one side gone stays, so a page one side reused in
  /// place while the other copied it is reported.
  mutating func forgetFramesNotIn(_ referenceFrames: Set<PFN>, _ otherFrames: Set<PFN>) {
    for (x, y) in forward where !referenceFrames.contains(x) && !otherFrames.contains(y) {
      forward[x] = nil
      backward[y] = nil
    }
  }

  /// Records or checks that reference frame `x` corresponds to other frame `y`; a
  /// description of the conflict, or nil.
  mutating func pair(_ x: PFN, _ y: PFN, referenceName: String, otherName: String) -> String? {
    switch (forward[x], backward[y]) {
    case (nil, nil):
      forward[x] = y
      backward[y] = x
      return nil
    case (y?, x?): return nil
    case (let fx, let by):
      return "frame identity: \(referenceName) frame \(x) pairs with \(fx.map(\.description) ?? "nothing"), but here \(otherName) maps \(y) (paired with \(by.map(\.description) ?? "nothing"))"
    }
  }
}
