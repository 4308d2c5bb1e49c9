import MopsABI

/// Everything the model knows: processes, physical frames, the shared zero page,
/// anon_vmas, shmem objects, userfaultfd contexts, cost counters and the event log.
///
/// Every public operation is a method (one file per syscall-level operation under
/// `Ops/`) that checks its arguments in the kernel's order, then acts, and either
/// returns a result or throws a ``KernelError`` carrying the errno.
public final class World {
  /// Processes by pid, including exited ones until they are reaped from the view.
  ///
  /// Changes go through `_modify`, which forgets the cached lookups (`lastProcess`,
  /// `lastUffd`) and changes the dictionary in place.
  public internal(set) var processes: [PID: MM] {
    get { storedProcesses }
    _modify {
      lastProcess = nil
      lastUffd = nil
      yield &storedProcesses
    }
  }
  private var storedProcesses: [PID: MM] = [:]
  /// The process the last ``process(_:)`` found: operations come in runs on one pid, and
  /// this spares them the dictionary lookup. Unretained: `processes` keeps it alive, and
  /// any change to `processes` forgets it.
  private var lastProcess: Unmanaged<MM>?
  /// Physical frames, indexed by `pfn - firstPFN`.
  public internal(set) var folios = FolioArray()
  var freeFrames: [UInt32] = []
  /// Byte-level writes, keyed by ``Folio/sparse``.
  var sparseContents: [UInt32: [UInt16: UInt8]] = [:]
  var nextSparse: UInt32 = 1
  public internal(set) var anonVMAs: [AnonVMA] = [AnonVMA(parent: .none)]
  public internal(set) var shmemObjects: [ShmemObject.ID: ShmemObject] = [:]
  var nextShmem: UInt32 = 1
  public internal(set) var uffds: [UserfaultfdCtx.ID: UserfaultfdCtx] {
    get { storedUffds }
    _modify {
      lastUffd = nil
      yield &storedUffds
    }
  }
  private var storedUffds: [UserfaultfdCtx.ID: UserfaultfdCtx] = [:]
  /// The last lookup that passed ``uffdContext(_:_:)``, valid while neither `uffds`,
  /// `processes` nor the holder's set of fds changed (a run of ioctls on one fd skips
  /// the hashing).
  var lastUffd: UffdLookup?

  struct UffdLookup {
    /// The holder (a pid names one MM for the world's life).
    var pid: PID
    /// The holder's ``MM/uffdsGeneration`` at the time.
    var generation: UInt32
    var id: UserfaultfdCtx.ID
    /// The context's `ctx->mm`.
    var ctxMM: PID
  }
  var nextUffd: UInt32 = 1
  var nextPID: Int32 = 1
  /// The event log; index 0 is a placeholder so `EventID.none` is never a real event.
  public internal(set) var events = EventLog(Event(kind: .other, pid: PID(0), tag: 0))
  /// The fork events in order; a folio's ``Folio/sharedSinceFork`` indexes it from 1.
  public internal(set) var forkEvents: [EventID] = []
  /// Work done so far.
  public var cost = CostCounters()
  /// `vm.max_map_count`.
  public var maxMapCount = defaultMaxMapCount
  /// The tag recorded with every event (the language sets it to the source line).
  public var currentTag = 0
  /// Run ``checkInvariants()`` after every operation and stop on a violation.
  public var checksInvariants: Bool

  /// The PFN of the shared zero page.
  public static let zeroPFN = PFN(0x1000)
  /// The PFN of the first allocatable frame.
  public static let firstPFN: UInt64 = 0x10000

  /// A world with one process (pid 1) and an empty address space.
  public init(checksInvariants: Bool? = nil) {
    #if DEBUG
      self.checksInvariants = checksInvariants ?? true
    #else
      self.checksInvariants = checksInvariants ?? false
    #endif
    _ = createProcess(parent: nil, createdBy: .none)
  }

  /// The first process.
  public var initialPID: PID { PID(1) }

  /// A deep copy that shares value-typed storage copy-on-write (cheap to take).
  public func snapshot() -> World {
    let w = World(copying: self)
    return w
  }

  private init(copying o: World) {
    checksInvariants = o.checksInvariants
    storedProcesses = o.processes.mapValues { $0.clone() }
    folios = o.folios
    freeFrames = o.freeFrames
    sparseContents = o.sparseContents
    nextSparse = o.nextSparse
    anonVMAs = o.anonVMAs
    shmemObjects = o.shmemObjects
    nextShmem = o.nextShmem
    storedUffds = o.uffds
    nextUffd = o.nextUffd
    nextPID = o.nextPID
    events = o.events
    forkEvents = o.forkEvents
    cost = o.cost
    maxMapCount = o.maxMapCount
    currentTag = o.currentTag
  }

  // MARK: Processes

  func createProcess(parent: PID?, createdBy: EventID) -> MM {
    let pid = PID(nextPID)
    nextPID += 1
    let mm = MM(pid: pid, parent: parent, createdBy: createdBy)
    processes[pid] = mm
    return mm
  }

  /// The live process `pid`, if there is one.
  @inline(__always)
  func process(_ pid: PID) -> MM? {
    processRef(pid)?.takeUnretainedValue()
  }

  /// ``process(_:)`` as an unretained reference, for hot paths that borrow it with
  /// `_withUnsafeGuaranteedRef` instead of paying a retain and release per operation.
  /// Valid while the process stays in `processes`.
  @inline(__always)
  func processRef(_ pid: PID) -> Unmanaged<MM>? {
    if let mm = lastProcess, mm._withUnsafeGuaranteedRef({ $0.pid == pid }) { return mm }
    guard let mm = processes[pid] else { return nil }
    lastProcess = Unmanaged.passUnretained(mm)
    return lastProcess
  }

  /// The live process `pid`, or ESRCH.
  func mm(_ pid: PID) throws(KernelError) -> MM {
    try mmRef(pid).takeUnretainedValue()
  }

  /// ``mm(_:)`` as an unretained reference (see ``processRef(_:)``).
  @inline(__always)
  func mmRef(_ pid: PID) throws(KernelError) -> Unmanaged<MM> {
    guard let mm = processRef(pid) else { throw KernelError(.ESRCH, "no process with \(pid)") }
    return mm
  }

  /// Runs `body` on the live process `pid` (ESRCH if there is none), borrowing its mm
  /// rather than retaining it: for operations that cannot end the process.
  @inline(__always)
  func withMM<R>(_ pid: PID, _ body: (MM) throws(KernelError) -> R) throws(KernelError) -> R {
    try mmRef(pid).borrow(body)
  }

  /// Pids of every live process, in order.
  public var pids: [PID] { processes.keys.sorted() }

  // MARK: Events

  /// Appends an event with the current tag and returns its id.
  @discardableResult @inline(__always)
  func record(_ kind: Event.Kind, _ pid: PID, other: PID? = nil) -> EventID {
    events.append(Event(kind: kind, pid: pid, tag: currentTag, otherPID: other))
    return EventID(rawValue: UInt32(events.count - 1))
  }

  /// The fork that last made frame `pfn` shared (`.none` if none is recorded).
  public func sharedSince(_ pfn: PFN) -> EventID {
    let n = Int(folio(pfn).sharedSinceFork)
    return n == 0 || n > forkEvents.count ? .none : forkEvents[n - 1]
  }

  /// The event `id` (`nil` for `.none`).
  public func event(_ id: EventID) -> Event? {
    id == .none || Int(id.rawValue) >= events.count ? nil : events[Int(id.rawValue)]
  }

  // MARK: Frames

  func slot(_ pfn: PFN) -> Int { Int(pfn.rawValue &- World.firstPFN) }

  /// The folio of `pfn` (which must be an allocated frame).
  public func folio(_ pfn: PFN) -> Folio { folios[slot(pfn)] }

  /// Mutates the folio of `pfn` in place.
  func withFolio<R>(_ pfn: PFN, _ body: (inout Folio) -> R) -> R {
    body(&folios[slot(pfn)])
  }

  /// Allocates a zeroed order-0 page (`folio_prealloc` + clear) and returns its pfn.
  /// The frame starts as `folio` (which must be `.inUse`); by default the caller sets
  /// mapcount, flags and index afterwards.
  func allocFolio(_ folio: Folio = Folio(flags: .inUse)) -> PFN {
    cost.pagesAllocated += 1
    if !freeFrames.isEmpty {
      let s = freeFrames.removeLast()
      folios[Int(s)] = folio
      return PFN(UInt64(s) + World.firstPFN)
    }
    folios.append(folio)
    return PFN(UInt64(folios.count - 1) + World.firstPFN)
  }

  /// Returns a frame whose last reference went away to the free list.
  func freeFolio(_ pfn: PFN) {
    let s = slot(pfn)
    precondition(folios[s].isInUse, "double free of \(pfn)")
    if folios[s].sparse != 0 { sparseContents[folios[s].sparse] = nil }
    folios[s] = Folio()
    freeFrames.append(UInt32(s))
    cost.pagesFreed += 1
  }

  /// Drops one mapping of a page that a PTE of some process pointed at, freeing the
  /// frame when nothing references it any more (`folio_remove_rmap_pte` + put).
  /// Never restores PageAnonExclusive on the remaining mappings.
  func dropMapping(_ pfn: PFN) {
    let s = slot(pfn)
    folios[s].mapcount -= 1
    if folios[s].refcount == 0 { freeFolio(pfn) }
  }

  /// The bytes of frame `pfn`.
  public func contents(_ pfn: PFN) -> PageContents {
    let f = folios[slot(pfn)]
    return PageContents(fill: f.fill, bytes: f.sparse == 0 ? [:] : sparseContents[f.sparse] ?? [:])
  }

  /// Replaces the bytes of frame `pfn`.
  func setContents(_ pfn: PFN, _ c: PageContents) {
    let s = slot(pfn)
    folios[s].fill = c.fill
    if c.bytes.isEmpty {
      if folios[s].sparse != 0 { sparseContents[folios[s].sparse] = nil }
      folios[s].sparse = 0
    } else {
      if folios[s].sparse == 0 {
        folios[s].sparse = nextSparse
        nextSparse += 1
      }
      sparseContents[folios[s].sparse] = c.bytes
    }
  }

  /// Copies the bytes of `from` into `to` (`copy_user_highpage`).
  func copyContents(from: PFN, to: PFN) {
    let f = folios[slot(from)]
    if f.sparse == 0 {
      let s = slot(to)
      folios[s].fill = f.fill
      if folios[s].sparse != 0 { sparseContents[folios[s].sparse] = nil }
      folios[s].sparse = 0
    } else {
      setContents(to, contents(from))
    }
  }

  // MARK: anon_vma

  /// Allocates a new anon_vma (`anon_vma_alloc`).
  func newAnonVMA(parent: AnonVMA.ID = .none) -> AnonVMA.ID {
    anonVMAs.append(AnonVMA(parent: parent))
    return AnonVMA.ID(rawValue: UInt32(anonVMAs.count - 1))
  }
}

extension Unmanaged {
  /// `_withUnsafeGuaranteedRef` with a typed error: `body` gets the object without a
  /// retain, so the caller must keep it alive by other means.
  @inline(__always)
  func borrow<R, E: Error>(_ body: (Instance) throws(E) -> R) throws(E) -> R {
    do {
      return try _withUnsafeGuaranteedRef(body)
    } catch {
      throw error as! E
    }
  }
}
