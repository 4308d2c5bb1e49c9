// The live kernel as a backend: every process of a script is a real, single-threaded
// worker process (C, in CMopsLinux) that makes the real syscalls; the controller (this
// class) places mappings in the arena, foresees userfaults, and observes the workers
// through /proc (smaps, pagemap, kpagecount, kpageflags) and, for page contents, through
// plain loads made by the worker itself (no /proc/PID/mem: see ``pages(of:at:count:)``).
// No observation takes a page reference or faults a page in.
//
// Workers: forked by a spawner thread of the controller that never ends (so
// PR_SET_PDEATHSIG only fires when the controller dies), pinned to one CPU, and reaped on
// every path: `exit`, a worker that stops answering, `shutdown()` and deinit. A script's
// `fork` is a clone(CLONE_PARENT) of the worker — fork() semantics for the address space,
// but the child is the controller's child, so the controller can waitpid() every worker.
//
// The arena: an operation naming an address outside it is refused before anything is
// sent. Unhinted mmap (and a hint whose range is not free inside the arena) is placed by
// ``Placement`` and mapped with MAP_FIXED_NOREPLACE. When no gap fits, the call is made
// with MAP_FIXED_NOREPLACE at 2^64-4096, an address no kernel can map: the kernel then
// reports exactly what it would have reported before placement, or ENOMEM at placement,
// as an unplaceable unhinted mmap does.
//
// mremap that may move without MREMAP_FIXED must never let the kernel choose the
// destination (it would search the whole address space):
// - MAYMOVE alone is issued first without MREMAP_MAYMOVE (the kernel tries in place first
//   anyway, after the same checks); if growing in place fails with ENOMEM, the
//   destination is placed like an unhinted mmap (2 MiB rule for private anon VMAs) and
//   the call is reissued with MAYMOVE|FIXED. The FIXED path adds the early checks of
//   spec §7.1 rows 5-10, which the placed destination passes except row 10: it refuses
//   at `map_count >= max_map_count - 5` where the kernel's own move refuses only at
//   `max_map_count - 3`; with 4 or 5 VMAs of headroom the backend therefore answers
//   "not modelled" instead of a wrong ENOMEM.
// - MAYMOVE|DONTUNMAP is first checked by the kernel itself with RLIMIT_AS at 0, then
//   made with FIXED at the arena placement of the hint (see ``dontunmapMove``).
// Both answer ENOMEM when the arena has no gap that fits, where the kernel could still
// have found room outside it.
//
// Userfaults: an access that would block in a userfault must not hang the worker. Before
// a touch, a byte read or write, MADV_POPULATE_(READ|WRITE), a pin, or the source read of
// UFFDIO_COPY, the controller looks at the VMAs the access reaches: in a VMA whose smaps
// VmFlags show `um` (and that allows the access), a page whose pagemap entry is empty (no
// present, no swap/marker bit) blocks — for a shared (shmem) VMA only if mincore() in the
// worker also finds it absent from the page cache; in a `uw` VMA a write to a present page
// whose pagemap uffd-wp bit (57) is set blocks. The access is then performed up to that
// page only and the outcome is `.userfault(addr)`. A worker-side 1 s watchdog turns an
// access that blocks anyway into `.userfault` too; kernel-internal accesses have no
// watchdog, and a worker that stops answering is killed after `replyTimeoutMS`.
// When a process holds a uffd with UFFD_FEATURE_SIGBUS (or, for kernel-internal
// accesses, one created with UFFD_USER_MODE_ONLY), the kernel may answer SIGBUS/EFAULT
// instead of blocking and which uffd owns a VMA is not visible in /proc: the access is
// then made and the watchdog decides. The check costs nothing for a process none of
// whose own uffds has registered a range.
//
// Pins: `pin` registers the range as one io_uring fixed buffer (FOLL_PIN|FOLL_LONGTERM|
// FOLL_WRITE) on an io_uring instance of its own; `unpin` closes the most recent instance
// pinning exactly that range, as the model's unpin drops that buffer's pins (EINVAL if
// there is none). A fork child drops the inherited rings, so
// pins stay with the process that made them.
//
// Descriptors: the uffd operations accept only descriptors the process got from
// `userfaultfd` (or inherited by fork); any other number is EBADF without a syscall, so a
// script can never close or ioctl the worker's own socket or rings.
import CMopsLinux
import Glibc
import MopsABI
import MopsBackend

/// The live Linux kernel as a ``Backend``: each process of a script is a real worker
/// process; observations come from /proc (pagemap, kpagecount, kpageflags, smaps).
public final class LinuxBackend: Backend {
  /// An address no kernel maps (above every TASK_SIZE): MAP_FIXED_NOREPLACE there fails
  /// at the placement step with ENOMEM, after every check that precedes placement.
  static let unmappableAddress: UInt64 = 0xffff_ffff_ffff_f000

  /// How long the controller waits for a worker's answer before killing it.
  public var replyTimeoutMS: Int32 = 10_000

  /// `"linux"`.
  public var name: String { "linux" }
  /// Frames (PFN, kpagecount, kpageflags) need root; PTE writability, cost counters and
  /// snapshots are not observable on the live kernel.
  public let capabilities: Capabilities
  /// The real pid of the first worker.
  public private(set) var initialProcess: PID
  /// Real pids of the live workers, in creation order.
  public private(set) var processes: [PID] = []

  private var workers: [PID: Worker] = [:]
  /// Bumped by every operation that may change a VMA; cached smaps older than this are
  /// re-read for VMA ranges and flags.
  private var generation = 0
  /// Bumped by every operation; cached smaps older than this are re-read for Rss.
  private var operations = 0
  /// Whether any mmap asked for MAP_GROWSDOWN: until then an access cannot grow a VMA.
  private var anyGrowsDown = false
  private var kpagecountFD: Int32 = -1
  private var kpageflagsFD: Int32 = -1

  /// Starts the initial worker. `frames: false` observes as an unprivileged user would
  /// (no PFNs, kpagecount or kpageflags) even when running as root. Throws when the
  /// worker cannot be started or its arena is not empty.
  public init(frames wantFrames: Bool = true) throws(BackendError) {
    var frames = false
    var reason: String? = "frame numbers, /proc/kpagecount and /proc/kpageflags need root (CAP_SYS_ADMIN)"
    if !wantFrames {
      reason = "frame observations were turned off for this run"
    } else if geteuid() == 0 {
      kpagecountFD = open("/proc/kpagecount", O_RDONLY | O_CLOEXEC)
      kpageflagsFD = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC)
      frames = kpagecountFD >= 0 && kpageflagsFD >= 0
      if frames { reason = nil }
    }
    capabilities = Capabilities(
      frames: frames, pteWritable: false, costCounters: false, snapshots: false, unavailableReason: reason)
    initialProcess = PID(0)

    var sv: [Int32] = [-1, -1]
    guard socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &sv) == 0 else {
      throw BackendError("socketpair failed: errno \(errno)")
    }
    let pid = mops_spawn_worker(sv[1])
    close(sv[1])
    guard pid > 0 else {
      close(sv[0])
      throw BackendError("cannot start a worker: errno \(-pid)")
    }
    let worker = Worker(pid: PID(pid), parent: nil, sock: sv[0])
    add(worker)
    initialProcess = worker.pid
    do throws(BackendError) {
      _ = try worker.receive(timeoutMS: replyTimeoutMS)
      if let vma = try smaps(worker).first {
        throw BackendError("the arena is not empty in a fresh worker: \(vma.info.mapsLine)")
      }
      let guardFlags: MapFlags = [.shared, .anonymous, .fixedNoreplace]
      let g = try call(
        worker, MOPS_OP_MMAP, [Arena.guardPage.rawValue, pageSize, 0, UInt64(guardFlags.rawValue)])
      guard g.raw.value == Arena.guardPage.rawValue else {
        throw BackendError("cannot map the guard page above the arena at \(Arena.guardPage)")
      }
    } catch {
      shutdown()
      throw error
    }
  }

  deinit { shutdown() }

  /// The worker whose `fork` created `pid`, while it is alive.
  public func parent(of pid: PID) -> PID? {
    guard let parent = workers[pid]?.parent, workers[parent] != nil else { return nil }
    return parent
  }

  /// Tags are not recorded live.
  public func setTag(_ tag: Int) {}
  /// The live kernel has no cost counters.
  public var cost: CostCounters? { nil }
  /// Not supported live: `nil`.
  public func snapshot() -> BackendSnapshot? { nil }
  /// Always throws: there are no live snapshots.
  public func restore(_ snapshot: BackendSnapshot) throws(BackendError) {
    throw BackendError("the linux backend cannot restore snapshots")
  }

  /// Kills and reaps every worker. Idempotent.
  public func shutdown() {
    for pid in processes { workers[pid]?.end(kill: true) }
    workers = [:]
    processes = []
    for fd in [kpagecountFD, kpageflagsFD] where fd >= 0 { close(fd) }
    kpagecountFD = -1
    kpageflagsFD = -1
  }

  private func add(_ w: Worker) {
    workers[w.pid] = w
    processes.append(w.pid)
  }

  private func remove(_ w: Worker, kill: Bool) {
    w.end(kill: kill)
    workers[w.pid] = nil
    processes.removeAll { $0 == w.pid }
  }

  /// Sends `op` to `w`; a worker that does not answer (or died) is killed, reaped and
  /// dropped before the error is passed on.
  private func call(
    _ w: Worker, _ op: mops_op, _ args: [UInt64] = [], payload: ArraySlice<UInt8> = [], passFD: Int32 = -1
  ) throws(BackendError) -> WorkerReply {
    do {
      return try w.call(op, args, payload: payload, passFD: passFD, timeoutMS: replyTimeoutMS)
    } catch {
      remove(w, kill: true)
      throw error
    }
  }

  // MARK: - Operations

  /// Performs `op` in the worker `pid` with the real syscall (after the arena check and,
  /// for accesses, the userfault check). Throws when `op` leaves the arena, `pid` is not
  /// a live worker, or the worker stops answering (it is then killed and reaped).
  public func perform(_ op: Operation, in pid: PID) throws(BackendError) -> OpOutcome {
    if let why = op.arenaViolation() { throw BackendError(why) }
    guard let w = workers[pid] else { throw BackendError("no live process \(pid)") }
    // Cached smaps read while performing an operation describe the state before it.
    defer { operations += 1 }
    let mayChangeVMAs: Bool
    switch op {
    case .touch, .writeBytes, .readBytes: mayChangeVMAs = false
    default: mayChangeVMAs = true
    }
    defer { if mayChangeVMAs { generation += 1 } }
    switch op {
    case .mmap(let addr, let length, let prot, let flags):
      return try mmap(w, addr: addr.rawValue, length: length, prot: prot, flags: flags)
    case .munmap(let addr, let length):
      return plain(try call(w, MOPS_OP_MUNMAP, [addr.rawValue, length]))
    case .mprotect(let addr, let length, let prot):
      return plain(try call(w, MOPS_OP_MPROTECT, [addr.rawValue, length, UInt64(prot.rawValue)]))
    case .madvise(let addr, let length, let advice):
      return try madvise(w, addr: addr.rawValue, length: length, advice: advice)
    case .mremap(let oldAddr, let oldLength, let newLength, let flags, let newAddr):
      return try mremap(w, oldAddr.rawValue, oldLength, newLength, flags, newAddr.rawValue)
    case .touch(let addr, let write, let fill):
      return try touch(w, addr: addr.rawValue, write: write, fill: fill)
    case .writeBytes(let addr, let bytes):
      return try writeBytes(w, addr: addr.rawValue, bytes)
    case .readBytes(let addr, let count):
      return try readBytes(w, addr: addr.rawValue, count: count)
    case .fork:
      return try fork(w)
    case .exit:
      let sent = (try? w.send(MOPS_OP_EXIT)) != nil
      remove(w, kill: !sent)
      return .ok
    case .pin(let addr, let length):
      return try pin(w, addr: addr.rawValue, length: length)
    case .unpin(let addr, let length):
      return plain(try call(w, MOPS_OP_UNPIN, [addr.rawValue, length]))
    case .userfaultfd(let flags):
      let r = try call(w, MOPS_OP_USERFAULTFD, [UInt64(UInt32(bitPattern: flags))])
      if r.status == WorkerStatus.ok { w.uffds[Int32(r.raw.value)] = UffdState(owner: w.pid, flags: flags) }
      return plain(r, value: r.raw.value)
    case .uffdioAPI(let uffd, let api, let features):
      return try uffdioAPI(w, uffd.rawValue, api: api, features: features)
    case .uffdioRegister(let uffd, let start, let length, let mode):
      guard w.uffds[uffd.rawValue] != nil else { return notUffd(uffd) }
      let r = try call(w, MOPS_OP_UFFDIO_REGISTER, [UInt64(uffd.rawValue), start.rawValue, length, mode.rawValue])
      if r.status == WorkerStatus.ok, let owner = w.uffds[uffd.rawValue].flatMap({ workers[$0.owner] }) {
        owner.mayHaveRegistrations = true
      }
      return plain(r, value: r.raw.value)
    case .uffdioUnregister(let uffd, let start, let length):
      guard w.uffds[uffd.rawValue] != nil else { return notUffd(uffd) }
      return plain(try call(w, MOPS_OP_UFFDIO_UNREGISTER, [UInt64(uffd.rawValue), start.rawValue, length]))
    case .closeUffd(let uffd):
      guard w.uffds[uffd.rawValue] != nil else { return notUffd(uffd) }
      let r = try call(w, MOPS_OP_CLOSE, [UInt64(uffd.rawValue)])
      if r.status == WorkerStatus.ok { w.uffds[uffd.rawValue] = nil }
      return plain(r)
    case .uffdioMove(let uffd, let dst, let src, let length, let mode):
      guard w.uffds[uffd.rawValue] != nil else { return notUffd(uffd) }
      return uffdio(
        try call(w, MOPS_OP_UFFDIO_MOVE, [UInt64(uffd.rawValue), dst.rawValue, src.rawValue, length, mode.rawValue]))
    case .uffdioCopy(let uffd, let dst, let src, let length, let mode):
      guard w.uffds[uffd.rawValue] != nil else { return notUffd(uffd) }
      return try uffdioCopy(w, uffd.rawValue, dst: dst.rawValue, src: src.rawValue, length: length, mode: mode)
    case .uffdioZeropage(let uffd, let dst, let length, let mode):
      guard w.uffds[uffd.rawValue] != nil else { return notUffd(uffd) }
      return uffdio(try call(w, MOPS_OP_UFFDIO_ZEROPAGE, [UInt64(uffd.rawValue), dst.rawValue, length, mode.rawValue]))
    case .remapAnonPages:
      return OpOutcome(.notModelled("remap_anon_pages (2014) was never merged into Linux; run it on the sim backend"))
    }
  }

  /// mmap: MAP_FIXED / MAP_FIXED_NOREPLACE go to the kernel as they are; anything else is
  /// placed in the arena here (see the file comment).
  private func mmap(_ w: Worker, addr: UInt64, length: UInt64, prot: Prot, flags: MapFlags) throws(BackendError)
    -> OpOutcome
  {
    var addr = addr
    var flags = flags
    if flags.contains(.growsdown) { anyGrowsDown = true }
    if !flags.contains(.fixed), !flags.contains(.fixedNoreplace) {
      // MAP_SHARED (and MAP_SHARED_VALIDATE) go through shmem_get_unmapped_area: no 2 MiB rule.
      let privateAnon = flags.rawValue & MapFlags.shared.rawValue == 0
      addr =
        Placement.unmappedArea(hint: addr, length: length, privateAnon: privateAnon, vmas: try placementVMAs(w))
        ?? Self.unmappableAddress
      flags.insert(.fixedNoreplace)
    }
    let r = try call(w, MOPS_OP_MMAP, [addr, length, UInt64(prot.rawValue), UInt64(flags.rawValue)])
    return plain(r, value: r.raw.value)
  }

  private func mremap(
    _ w: Worker, _ oldAddr: UInt64, _ oldLength: UInt64, _ newLength: UInt64, _ flags: MremapFlags,
    _ newAddr: UInt64
  ) throws(BackendError) -> OpOutcome {
    let args = (oldAddr, oldLength, newLength)
    if flags.contains(.fixed) || !flags.contains(.maymove) { return try mremapCall(w, args, flags, newAddr) }
    if flags.contains(.dontunmap) { return try dontunmapMove(w, args, flags, newAddr) }
    let inPlace = try call(w, MOPS_OP_MREMAP, [oldAddr, oldLength, newLength, UInt64(flags.subtracting(.maymove).rawValue), newAddr])
    let cannotGrow = inPlace.status == WorkerStatus.errno && inPlace.raw.err == ENOMEM
    let grows = (pageAlignUp(newLength) ?? 0) > (pageAlignUp(oldLength) ?? UInt64.max)
    guard cannotGrow, grows else { return plain(inPlace, value: inPlace.raw.value) }
    // The in-place attempt ran every check the kernel's MAYMOVE path makes before it
    // decides to move (one VMA, growth limits) and failed only for want of room, or of
    // memory, which the move below charges again.
    let privateAnon = try isPrivate(w, oldAddr)
    guard let dst = Placement.unmappedArea(hint: 0, length: newLength, privateAnon: privateAnon, vmas: try placementVMAs(w))
    else { return plain(inPlace, value: inPlace.raw.value) }
    let moved = try mremapCall(w, args, flags.union(.fixed), dst)
    // (Matched with `case`, not through `errno`: Swift 6.3's optimizer crashes on the
    // borrow that `moved.errno == .ENOMEM` makes before `return moved`.)
    guard case .errno(.ENOMEM) = moved.result else { return moved }
    // MREMAP_FIXED adds check_mremap_params()' `map_count + 2 >= max_map_count - 3`; the
    // kernel's own move only refuses at `map_count >= max_map_count - 3` (prep_move_vma).
    let (count, max) = try mapCount(w)
    if count + 2 >= max - 3, count < max - 3 {
      return OpOutcome(
        .notModelled(
          "with map_count \(count) of vm.max_map_count \(max), the kernel would try this move (its own check is map_count < max - 3), but placing it in the arena needs MREMAP_FIXED, which refuses at map_count >= max - 5"
        ))
    }
    return moved
  }

  /// MAYMOVE|DONTUNMAP without FIXED: `new_addr` is only a hint, and a hint that is not
  /// free makes the kernel search top-down in the whole address space, i.e. outside the
  /// arena. The kernel must never place it itself, and rewriting the call to
  /// MREMAP_FIXED is not the same call: MAYMOVE|FIXED|DONTUNMAP with equal lengths is a
  /// pure move, which may span several VMAs (spec §7.2), while this call must lie inside
  /// one VMA (EFAULT otherwise, §7.3 row 5). (Undoing a move that landed outside the
  /// arena is not possible either: DONTUNMAP clears VM_LOCKED and may unlink the source
  /// VMA's anon_vma, and the stray VMA would sit among the worker's own mappings.)
  ///
  /// So the call is made twice. First exactly as the script gave it but with RLIMIT_AS
  /// at 0 (MOPS_OP_MREMAP_NOGROW): the kernel runs every check up to may_expand_vm() in
  /// mremap_to() — flags, alignment, hint range, overlap with the hint, map_count, the
  /// VMA lookup and the single-VMA rule, mseal, VM_DONTEXPAND/PFNMAP — and answers with
  /// its own errno, or ENOMEM at may_expand_vm() without having changed anything. Every
  /// check after that one (placement, map_count again, the commit charge, copy_vma, the
  /// page-table move) can only fail with ENOMEM. Then, with the source known to lie in
  /// one VMA, the move is made with MREMAP_FIXED at the arena placement of the hint
  /// (the hint itself when it is free, else top-down with the 2 MiB rule off, as the
  /// kernel's hinted search): free, so FIXED unmaps nothing there, and a single-VMA pure
  /// move is the same move. The kernel's answer is exact except that it could find room
  /// outside a full arena.
  private func dontunmapMove(
    _ w: Worker, _ args: (UInt64, UInt64, UInt64), _ flags: MremapFlags, _ newAddr: UInt64
  ) throws(BackendError) -> OpOutcome {
    let checked = try call(w, MOPS_OP_MREMAP_NOGROW, [args.0, args.1, args.2, UInt64(flags.rawValue), newAddr])
    if checked.status == WorkerStatus.ok {
      // Cannot happen (may_expand_vm() precedes placement); if it did, the mapping may lie
      // outside the arena: the worker must not go on.
      remove(w, kill: true)
      throw BackendError(
        "mremap(MAYMOVE|DONTUNMAP) moved to \(VirtAddr(checked.raw.value)) although RLIMIT_AS was 0; the worker was ended")
    }
    guard checked.status == WorkerStatus.errno, checked.raw.err == ENOMEM else { return plain(checked) }
    // ENOMEM: may_expand_vm() under the zero limit, or check_mremap_params()' map_count
    // check, which comes after the hint checks but before the VMA lookup.
    let (count, max) = try mapCount(w)
    if count + 2 >= max - 3 { return plain(checked) }
    guard let len = pageAlignUp(args.2), len > 0 else { return plain(checked) }
    let privateAnon = try isPrivate(w, args.0)
    guard let dst = Placement.unmappedArea(hint: newAddr, length: len, privateAnon: privateAnon, vmas: try placementVMAs(w))
    else { return OpOutcome(.errno(.ENOMEM), reason: "no free gap of \(len) bytes in the arena") }
    return try mremapCall(w, args, flags.union(.fixed), dst)
  }

  /// The worker's `mm->map_count` (the lines of /proc/PID/maps but the [vsyscall] gate
  /// area, which is no VMA of the mm) and vm.max_map_count.
  private func mapCount(_ w: Worker) throws(BackendError) -> (Int, Int) {
    guard let maps = ProcFS.readFile("/proc/\(w.pid.rawValue)/maps"),
      let limit = ProcFS.readFile("/proc/sys/vm/max_map_count"),
      let max = Int(String(decoding: limit, as: UTF8.self).trimmingSpaces.filter { $0 != "\n" })
    else { throw BackendError("cannot read /proc/\(w.pid.rawValue)/maps or vm.max_map_count: errno \(errno)") }
    let lines = maps.split(separator: 0x0a)
    let gate = Array("[vsyscall]".utf8)
    let count = lines.count { line in !line.reversed().starts(with: gate.reversed()) }
    return (count, max)
  }

  private func mremapCall(
    _ w: Worker, _ args: (UInt64, UInt64, UInt64), _ flags: MremapFlags, _ newAddr: UInt64
  ) throws(BackendError) -> OpOutcome {
    let r = try call(w, MOPS_OP_MREMAP, [args.0, args.1, args.2, UInt64(flags.rawValue), newAddr])
    return plain(r, value: r.raw.value)
  }

  private func isPrivate(_ w: Worker, _ addr: UInt64) throws(BackendError) -> Bool {
    let vma = try smaps(w).first { $0.info.start.rawValue <= addr && addr < $0.info.end.rawValue }
    return vma.map { !$0.info.isShared } ?? true
  }

  private func madvise(_ w: Worker, addr: UInt64, length: UInt64, advice: Advice) throws(BackendError) -> OpOutcome {
    let args = [addr, length, UInt64(UInt32(bitPattern: advice.rawValue))]
    if advice == .POPULATE_READ || advice == .POPULATE_WRITE, addr & (pageSize - 1) == 0,
      let len = pageAlignUp(length), !addr.addingReportingOverflow(len).overflow,
      let page = try blockingPage(
        w, addr, addr + len, write: advice == .POPULATE_WRITE, kernel: true, gupWalk: true)
    {
      // The kernel would populate up to the blocking page and then wait inside the
      // syscall, which nothing in a single-threaded script can resolve: refused, like
      // the model, before anything changes.
      return kernelWouldBlock(page, "MADV_\(advice.name)")
    }
    return plain(try call(w, MOPS_OP_MADVISE, args))
  }

  private func touch(_ w: Worker, addr: UInt64, write: Bool, fill: UInt8?) throws(BackendError) -> OpOutcome {
    let page = addr & ~(pageSize - 1)
    if page <= UInt64.max - pageSize, try blockingPage(w, page, page + pageSize, write: write, kernel: false) != nil {
      try blockingAccess(w, addr, write: write)
      return blocked(addr, "the access would wait in a userfault")
    }
    let r = try call(w, MOPS_OP_TOUCH, [addr, write ? 1 : 0, fill == nil ? 0 : 1, UInt64(fill ?? 0)])
    try noteAccess(w, addr)
    return access(r)
  }

  private func writeBytes(_ w: Worker, addr: UInt64, _ bytes: [UInt8]) throws(BackendError) -> OpOutcome {
    guard !bytes.isEmpty else { return .ok }
    let stop = try firstBlocked(w, addr, UInt64(bytes.count), write: true)
    let limit = stop.map { Int($0 - addr) } ?? bytes.count
    var done = 0
    while done < limit {
      let n = min(limit - done, Int(MOPS_PAYLOAD_MAX))
      let r = try call(w, MOPS_OP_WRITE, [addr &+ UInt64(done)], payload: bytes[done..<done + n])
      try noteAccess(w, addr &+ UInt64(done))
      if r.status != WorkerStatus.ok { return access(r) }
      done += n
    }
    if let stop {
      try blockingAccess(w, stop, write: true)
      return blocked(stop, "the write would wait in a userfault")
    }
    return .ok
  }

  /// Makes an access that is known to wait in a userfault, interrupted after 50 ms, so
  /// the kernel does what comes before the wait: a write fault on a missing page
  /// prepares the VMA's anon_vma first (do_anonymous_page), which later decides
  /// VM_ACCOUNT on mprotect and VMA merging; a read fault in a shared (shmem) VMA first
  /// maps the object's cached pages around it (do_fault_around). A read of a private
  /// page changes nothing before the wait and is not made. The contents are left alone
  /// (a write is a locked OR of zero).
  private func blockingAccess(_ w: Worker, _ addr: UInt64, write: Bool) throws(BackendError) {
    if !write, try isPrivate(w, addr) { return }
    _ = try call(w, MOPS_OP_TOUCH, [addr, write ? 1 : 0, 0, 0, 50])
    try noteAccess(w, addr)
  }

  private func readBytes(_ w: Worker, addr: UInt64, count: Int) throws(BackendError) -> OpOutcome {
    guard count > 0 else { return OpOutcome(.ok, bytes: []) }
    let stop = try firstBlocked(w, addr, UInt64(count), write: false)
    let limit = stop.map { Int($0 - addr) } ?? count
    var bytes: [UInt8] = []
    bytes.reserveCapacity(limit)
    while bytes.count < limit {
      let n = min(limit - bytes.count, Int(MOPS_PAYLOAD_MAX))
      let r = try call(w, MOPS_OP_READ, [addr &+ UInt64(bytes.count), UInt64(n)])
      try noteAccess(w, addr &+ UInt64(bytes.count))
      bytes += r.payload
      if r.status != WorkerStatus.ok {
        var o = access(r)
        o.bytes = bytes
        return o
      }
    }
    if let stop { try blockingAccess(w, stop, write: false) }
    var o = stop.map { blocked($0, "the read would wait in a userfault") } ?? .ok
    o.bytes = bytes
    return o
  }

  /// The first address of `[addr, addr + count)` whose page would block, if any.
  private func firstBlocked(_ w: Worker, _ addr: UInt64, _ count: UInt64, write: Bool) throws(BackendError) -> UInt64? {
    let first = addr & ~(pageSize - 1)
    let (last, overflow) = addr.addingReportingOverflow(count - 1)
    guard !overflow, last <= UInt64.max - pageSize else { return nil }
    let end = (last & ~(pageSize - 1)) + pageSize
    return try blockingPage(w, first, end, write: write, kernel: false).map { max($0, addr) }
  }

  /// A touch outside every known VMA may grow a MAP_GROWSDOWN VMA: forget cached VMAs.
  private func noteAccess(_ w: Worker, _ addr: UInt64) throws(BackendError) {
    guard anyGrowsDown else { return }
    let known = try smaps(w).contains { $0.info.start.rawValue <= addr && addr < $0.info.end.rawValue }
    if !known { generation += 1 }
  }

  private func fork(_ w: Worker) throws(BackendError) -> OpOutcome {
    var sv: [Int32] = [-1, -1]
    guard socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &sv) == 0 else {
      throw BackendError("socketpair failed: errno \(errno)")
    }
    let r: WorkerReply
    do {
      r = try call(w, MOPS_OP_FORK, passFD: sv[1])
    } catch {
      close(sv[0])
      close(sv[1])
      throw error
    }
    close(sv[1])
    guard r.status == WorkerStatus.ok else {
      close(sv[0])
      return plain(r)
    }
    let child = Worker(pid: PID(Int32(r.raw.value)), parent: w.pid, sock: sv[0])
    child.uffds = w.uffds
    add(child)
    do {
      _ = try child.receive(timeoutMS: replyTimeoutMS)
    } catch {
      remove(child, kill: true)
      throw error
    }
    return OpOutcome(.ok, value: UInt64(r.raw.value))
  }

  private func pin(_ w: Worker, addr: UInt64, length: UInt64) throws(BackendError) -> OpOutcome {
    let (end, overflow) = addr.addingReportingOverflow(length)
    if length > 0, !overflow, end <= UInt64.max - pageSize,
      let page = try blockingPage(
        w, addr & ~(pageSize - 1), (end + pageSize - 1) & ~(pageSize - 1), write: true, kernel: true,
        gupWalk: true)
    {
      return kernelWouldBlock(page, "the pin")
    }
    let r = try call(w, MOPS_OP_PIN, [addr, length])
    if r.status == WorkerStatus.errno, r.raw.value2 == 1 {
      return OpOutcome(
        .notModelled(
          "long-term pins are made with io_uring fixed buffers, and io_uring_setup failed with \(r.errno) (see kernel.io_uring_disabled)"
        ))
    }
    return plain(r)
  }

  private func uffdioAPI(_ w: Worker, _ fd: Int32, api: UInt64, features: UffdFeatures) throws(BackendError)
    -> OpOutcome
  {
    guard let state = w.uffds[fd] else { return notUffd(UffdHandle(rawValue: fd)) }
    if !state.initialized, api == 0xAA, UffdFeatures.supported.isSuperset(of: features),
      !features.isDisjoint(with: UffdFeatures.events)
    {
      return OpOutcome(
        .notModelled(
          "non-cooperative events (EVENT_FORK/REMAP/REMOVE/UNMAP) make the causing thread wait until the event is read; a single-threaded worker would hang"
        ))
    }
    let r = try call(w, MOPS_OP_UFFDIO_API, [UInt64(fd), api, features.rawValue])
    guard r.status == WorkerStatus.ok else { return plain(r) }
    w.uffds[fd]?.initialized = true
    w.uffds[fd]?.features = features
    return OpOutcome(.ok, value: r.raw.value)
  }

  private func uffdioCopy(
    _ w: Worker, _ fd: Int32, dst: UInt64, src: UInt64, length: UInt64, mode: UffdioCopyMode
  ) throws(BackendError) -> OpOutcome {
    func copy(_ src: UInt64, _ length: UInt64) throws(BackendError) -> WorkerReply {
      try call(w, MOPS_OP_UFFDIO_COPY, [UInt64(fd), dst, src, length, mode.rawValue])
    }
    let aligned = (dst | src | length) & (pageSize - 1) == 0
    guard aligned, length > 0, !src.addingReportingOverflow(length).overflow,
      let page = try blockingPage(w, src, src + length, write: false, kernel: true)
    else { return uffdio(try copy(src, length)) }
    if page > src { return kernelWouldBlock(page, "UFFDIO_COPY reading its source") }
    // Nothing is copied before the wait: let the kernel run its checks with a source that
    // faults (an unmapped arena page gives EFAULT at the first page, after every check).
    let vmas = try placementVMAs(w)
    guard let probe = Placement.topDown(length: pageSize, vmas: vmas, low: Arena.start.rawValue, high: Arena.end.rawValue),
      !probe.addingReportingOverflow(length).overflow, probe + length <= taskSize
    else { return kernelWouldBlock(page, "UFFDIO_COPY reading its source") }
    let checked = try copy(probe, length)
    let faulted = checked.status == WorkerStatus.errno && checked.raw.err == EFAULT && checked.raw.field == -Int64(EFAULT)
    return faulted ? kernelWouldBlock(page, "UFFDIO_COPY reading its source") : uffdio(checked)
  }

  // MARK: - Outcomes

  private func plain(_ r: WorkerReply, value: UInt64? = nil) -> OpOutcome {
    switch r.status {
    case WorkerStatus.ok: return OpOutcome(.ok, value: value)
    case WorkerStatus.errno: return OpOutcome(.errno(r.errno))
    default: return access(r)
    }
  }

  private func uffdio(_ r: WorkerReply) -> OpOutcome {
    var o = plain(r)
    o.field = r.field
    return o
  }

  private func access(_ r: WorkerReply) -> OpOutcome {
    switch r.status {
    case WorkerStatus.ok: return .ok
    case WorkerStatus.signal:
      return OpOutcome(.signal(Signal(signo: r.raw.signo, code: r.raw.code, addr: VirtAddr(r.raw.addr))))
    case WorkerStatus.stuck:
      return blocked(r.raw.addr, "the access did not finish within 1 s: it waits in a userfault")
    default: return OpOutcome(.errno(r.errno))
    }
  }

  private func blocked(_ addr: UInt64, _ why: String) -> OpOutcome {
    OpOutcome(.userfault(VirtAddr(addr)), reason: why)
  }

  /// A syscall that would fault a page in itself (GUP) and wait in a userfault there:
  /// the worker's only thread would never return, so the call is refused before any
  /// work, as the model refuses it.
  private func kernelWouldBlock(_ addr: UInt64, _ what: String) -> OpOutcome {
    OpOutcome(
      .notModelled(
        "\(what) would wait inside the kernel in a userfault at \(VirtAddr(addr)); a single-threaded script cannot resolve it"
      ))
  }

  private func notUffd(_ uffd: UffdHandle) -> OpOutcome {
    OpOutcome(.errno(.EBADF), reason: "fd \(uffd.rawValue) is not a userfaultfd of this process")
  }

  // MARK: - Userfaults

  /// The first page of `[from, to)` (page aligned) on which the access would block in a
  /// userfault (see the file comment), or `nil`.
  private func blockingPage(
    _ w: Worker, _ from: UInt64, _ to: UInt64, write: Bool, kernel: Bool, gupWalk: Bool = false
  ) throws(BackendError) -> UInt64? {
    guard w.mayHaveRegistrations, from < to else { return nil }
    let sigbus = w.uffds.values.contains { $0.features.contains(.sigbus) }
    let userModeOnly = w.uffds.values.contains { $0.flags & 1 != 0 }
    if sigbus || (kernel && userModeOnly) { return nil }
    // A GUP walk (MADV_POPULATE_*, a pin) goes page by page and stops at the first hole
    // (ENOMEM), VMA it refuses (EINVAL) or SIGBUS (EFAULT): a blocking page behind
    // one of those is never reached.
    var cursor = from
    for vma in try smaps(w) where vma.info.end.rawValue > from && vma.info.start.rawValue < to {
      let f = vma.info.flags
      if gupWalk {
        let gupAllowed = f.isDisjoint(with: [.io, .pfnmap]) && f.contains(write ? .write : .read)
        if vma.info.start.rawValue > cursor || !gupAllowed { return nil }
        cursor = vma.info.end.rawValue
      }
      let start = max(from, vma.info.start.rawValue)
      let end = min(to, vma.info.end.rawValue)
      // Pages of a shared VMA at or past its shmem object's size raise SIGBUS before
      // any userfault (shmem_get_folio_gfp() checks i_size first).
      var sigbusFrom = end
      if vma.info.isShared, let size = shmemSizeInPages(w, vma.info) {
        let first = vma.info.mapsPgoff + (start - vma.info.start.rawValue) >> pageShift
        if size <= first {
          sigbusFrom = start
        } else if size - first < (end - start) >> pageShift {
          sigbusFrom = start + (size - first) << pageShift
        }
      }
      let missing = f.contains(.uffdMissing)
      let wp = write && f.contains(.uffdWP)
      guard missing || wp else {
        if gupWalk && sigbusFrom < end { return nil }
        continue
      }
      // A denied access faults (SIGSEGV, or EFAULT in GUP) before any userfault.
      let allowed =
        write ? f.contains(.write) : kernel ? f.contains(.read) : !f.isDisjoint(with: VMFlags.access)
      guard allowed else { continue }
      let count = Int((end - start) >> pageShift)
      guard let entries = ProcFS.records(w.pagemapFD, at: start >> pageShift, count: count) else {
        throw BackendError("cannot read /proc/\(w.pid.rawValue)/pagemap: errno \(errno)")
      }
      let sigbusIndex = Int((sigbusFrom - start) >> pageShift)
      var firstWP: Int?
      var absent: [Int] = []
      for (i, e) in entries.enumerated() {
        let present = e & (1 << 63) != 0
        if wp, present, e & (1 << 57) != 0 {
          firstWP = i
          break
        }
        if missing, !present, e & (1 << 62) == 0, i < sigbusIndex {
          if !vma.info.isShared { return start + UInt64(i) << pageShift }
          absent.append(i)
        }
      }
      // A shared (shmem) page missing from this page table may still be in the page cache.
      let blocking = [try firstNotResident(w, start, absent), firstWP].compactMap { $0 }.min()
      if let i = blocking, !(gupWalk && sigbusIndex < i) { return start + UInt64(i) << pageShift }
      if gupWalk && sigbusIndex < count { return nil }
    }
    return nil
  }

  /// The size in pages of the shmem object behind a shared anonymous VMA: stat() of its
  /// /proc/PID/map_files entry (root only; `nil` when it cannot be read).
  private func shmemSizeInPages(_ w: Worker, _ vma: VMAInfo) -> UInt64? {
    let path = "/proc/\(w.pid.rawValue)/map_files/"
      + String(vma.start.rawValue, radix: 16) + "-" + String(vma.end.rawValue, radix: 16)
    var st = stat()
    guard stat(path, &st) == 0, st.st_size >= 0 else { return nil }
    return (UInt64(st.st_size) + pageSize - 1) >> pageShift
  }

  /// The first of the `candidates` (page indexes from `start`) that mincore() in the
  /// worker finds absent from the page cache.
  private func firstNotResident(_ w: Worker, _ start: UInt64, _ candidates: [Int]) throws(BackendError) -> Int? {
    guard let last = candidates.last else { return nil }
    var base = 0
    var vec: [UInt8] = []
    while base <= last {
      let n = min(last + 1 - base, Int(MOPS_PAYLOAD_MAX))
      let r = try call(w, MOPS_OP_RESIDENT, [start + UInt64(base) << pageShift, UInt64(n)])
      guard r.status == WorkerStatus.ok else { throw BackendError("mincore failed in worker: \(r.errno)") }
      vec += r.payload
      base += n
    }
    return candidates.first { $0 < vec.count && vec[$0] & 1 == 0 }
  }

  // MARK: - Observations

  /// The arena VMAs of `w`, re-read when an operation may have changed them.
  private func smaps(_ w: Worker) throws(BackendError) -> [SmapsVMA] {
    if let cached = w.smaps, w.smapsGeneration == generation { return cached }
    return try readSmaps(w)
  }

  private func readSmaps(_ w: Worker) throws(BackendError) -> [SmapsVMA] {
    guard let text = ProcFS.readFile("/proc/\(w.pid.rawValue)/smaps") else {
      throw BackendError("cannot read /proc/\(w.pid.rawValue)/smaps: errno \(errno)")
    }
    let vmas = ProcFS.parseSmaps(text)
    w.smaps = vmas
    w.smapsGeneration = generation
    w.smapsOperations = operations
    return vmas
  }

  private func placementVMAs(_ w: Worker) throws(BackendError) -> [PlacementVMA] {
    try smaps(w).map {
      PlacementVMA(start: $0.info.start.rawValue, end: $0.info.end.rawValue, growsDown: $0.info.flags.contains(.growsdown))
    }
  }

  private func worker(_ pid: PID) throws(BackendError) -> Worker {
    guard let w = workers[pid] else { throw BackendError("no live process \(pid)") }
    return w
  }

  /// The arena VMAs of `pid` from /proc/PID/smaps (maps line and VmFlags).
  public func vmas(of pid: PID) throws(BackendError) -> [VMAInfo] {
    try smaps(try worker(pid)).map(\.info)
  }

  /// Totals over the arena VMAs of `pid` from /proc/PID/smaps: Rss, Anonymous, the Rss
  /// of shared (shmem) VMAs, and the VMA count.
  public func processInfo(_ pid: PID) throws(BackendError) -> ProcessInfo {
    let w = try worker(pid)
    let fresh = w.smapsGeneration == generation && w.smapsOperations == operations
    let vmas = try fresh ? smaps(w) : readSmaps(w)
    var info = ProcessInfo(pid: pid, parent: parent(of: pid), rssPages: 0, anonPages: 0, shmemPages: 0, vmaCount: vmas.count)
    for v in vmas {
      info.rssPages += v.rssPages
      info.anonPages += v.anonPages
      if v.info.isShared { info.shmemPages += v.rssPages }
    }
    return info
  }

  /// Pages of `pid` from /proc/PID/pagemap (present bit 63, shared/file bit 61, exclusive
  /// bit 56, PFN), /proc/kpagecount (mapcount) and /proc/kpageflags (ZERO_PAGE bit 24;
  /// bit 34 = PG_anon_exclusive on ANON bit 12 pages). Without frames, the zero page is
  /// recognised with PAGEMAP_SCAN. The range must lie in the arena.
  ///
  /// Observing changes nothing: none of these reads takes a page reference or faults a
  /// page in. Contents are read only for present pages, inside the worker with plain
  /// loads (``peek(_:_:)``), never through /proc/PID/mem or process_vm_readv: those go
  /// through GUP with FOLL_TOUCH, which marks the folio accessed and, the second time,
  /// activates it — parking it with an extra reference in the reader's per-CPU LRU
  /// batch. The next write fault then copies a page the kernel would otherwise reuse
  /// (wp_can_reuse_anon_folio() sees refcount 2), and MADV_PAGEOUT keeps a lazy-free page
  /// it would discard (probed on 6.18.44). A present page in a VMA without PROT_READ
  /// cannot be loaded without a fault: its contents are `nil` (not observed).
  public func pages(of pid: PID, at addr: VirtAddr, count: Int) throws(BackendError) -> [PageInfo] {
    let w = try worker(pid)
    guard count > 0 else { return [] }
    let start = addr.pageDown
    let (length, overflow) = UInt64(count).multipliedReportingOverflow(by: pageSize)
    guard !overflow, Arena.contains(start, length: length) else {
      throw BackendError("pages \(start) (+\(count) pages) lie outside the arena \(Arena.start)-\(Arena.end)")
    }
    guard let entries = ProcFS.records(w.pagemapFD, at: start.vpn, count: count) else {
      throw BackendError("cannot read /proc/\(pid.rawValue)/pagemap: errno \(errno)")
    }
    var zero: [UInt8] = []
    if !capabilities.frames, entries.contains(where: { $0 & (1 << 63) != 0 }) {
      zero = [UInt8](repeating: 0, count: count)
      let rc = zero.withUnsafeMutableBufferPointer {
        mops_pagemap_zero_pages(w.pagemapFD, start.rawValue, UInt64(count), $0.baseAddress)
      }
      if rc < 0 { throw BackendError("PAGEMAP_SCAN failed on /proc/\(pid.rawValue)/pagemap: errno \(-rc)") }
    }
    var result: [PageInfo] = []
    result.reserveCapacity(count)
    var loadable: [Int] = []
    var readable = try readableRanges(w, start.rawValue, start.rawValue + length)
    for (i, e) in entries.enumerated() {
      let page = start + UInt64(i) << pageShift
      guard e & (1 << 63) != 0 else {
        result.append(
          PageInfo(
            addr: page, state: .none, pfn: nil, mapcount: nil, exclusive: nil, anonExclusive: nil, writable: nil,
            shared: false, contents: nil))
        continue
      }
      let exclusive = e & (1 << 56) != 0
      let shared = e & (1 << 61) != 0
      var pfn: PFN?
      var mapcount: Int?
      var anonExclusive: Bool?
      var isZero = !zero.isEmpty && zero[i] != 0
      if capabilities.frames {
        let frame = e & ((1 << 55) - 1)
        guard let count = ProcFS.records(kpagecountFD, at: frame, count: 1),
          let flags = ProcFS.records(kpageflagsFD, at: frame, count: 1)
        else { throw BackendError("cannot read /proc/kpagecount or /proc/kpageflags: errno \(errno)") }
        pfn = PFN(frame)
        mapcount = Int(count[0])
        isZero = flags[0] & (1 << 24) != 0
        if !isZero, flags[0] & (1 << 12) != 0 { anonExclusive = flags[0] & (1 << 34) != 0 }
      }
      while let r = readable.first, r.upperBound <= page.rawValue { readable.removeFirst() }
      if !isZero, let r = readable.first, r.contains(page.rawValue) { loadable.append(i) }
      result.append(
        PageInfo(
          addr: page, state: isZero ? .zeroPage : .present, pfn: pfn, mapcount: mapcount, exclusive: exclusive,
          anonExclusive: anonExclusive, writable: nil, shared: shared, contents: isZero ? .zero : nil))
    }
    for (i, c) in try peek(w, loadable.map { start.rawValue + UInt64($0) << pageShift }) {
      result[loadable[i]].contents = c
    }
    return result
  }

  /// The parts of `[from, to)` covered by VMAs with PROT_READ (VM_READ), in order.
  private func readableRanges(_ w: Worker, _ from: UInt64, _ to: UInt64) throws(BackendError) -> [Range<UInt64>] {
    try smaps(w).compactMap { v in
      guard v.info.flags.contains(.read) else { return nil }
      let lo = max(from, v.info.start.rawValue)
      let hi = min(to, v.info.end.rawValue)
      return lo < hi ? lo..<hi : nil
    }
  }

  /// The contents of the present, readable pages at `addrs` (ascending), read by the
  /// worker with plain loads (MOPS_OP_PEEK), by index into `addrs`. A page the worker
  /// could not load is left out (not observed).
  private func peek(_ w: Worker, _ addrs: [UInt64]) throws(BackendError) -> [(Int, PageContents)] {
    var found: [(Int, PageContents)] = []
    var i = 0
    while i < addrs.count {
      // One run of consecutive pages per request.
      var n = 1
      while i + n < addrs.count, n < 4096, addrs[i + n] == addrs[i] + UInt64(n) << pageShift { n += 1 }
      let r = try call(w, MOPS_OP_PEEK, [addrs[i], UInt64(n)])
      guard r.status == WorkerStatus.ok, r.raw.value > 0, r.raw.value <= UInt64(n) else {
        throw BackendError("worker \(w.pid.rawValue) could not read page contents at \(VirtAddr(addrs[i])): \(r.errno)")
      }
      let p = r.payload
      var at = 0
      for k in 0..<Int(r.raw.value) {
        guard at < p.count else { throw BackendError("worker \(w.pid.rawValue) sent a short page-contents answer") }
        switch Int32(p[at]) {
        case Int32(MOPS_PEEK_UNIFORM.rawValue) where at + 1 < p.count:
          found.append((i + k, PageContents(fill: p[at + 1], bytes: [:])))
          at += 2
        case Int32(MOPS_PEEK_PAGE.rawValue) where at + 1 + Int(pageSize) <= p.count:
          found.append((i + k, PageContents(page: Array(p[(at + 1)..<(at + 1 + Int(pageSize))]))))
          at += 1 + Int(pageSize)
        case Int32(MOPS_PEEK_FAULT.rawValue):
          at += 1
        default:
          throw BackendError("worker \(w.pid.rawValue) sent a malformed page-contents answer")
        }
      }
      i += Int(r.raw.value)
    }
    return found
  }
}

/// `mops_status` values as `mops_reply.status` carries them.
enum WorkerStatus {
  static let ok = Int32(MOPS_OK.rawValue)
  static let errno = Int32(MOPS_ERRNO.rawValue)
  static let signal = Int32(MOPS_SIGNAL.rawValue)
  static let stuck = Int32(MOPS_STUCK.rawValue)
}

extension PageContents {
  /// The contents of a whole page: `fill` is the byte found at most offsets (a tie goes
  /// to the byte at offset 0 if it is among the most frequent, else to the smallest),
  /// `bytes` every offset that differs from it. A page filled with 'A' and then given one
  /// 'B' reads as fill 'A' plus one byte, as the sim records it.
  public init(page: [UInt8]) {
    var histogram = [Int](repeating: 0, count: 256)
    for b in page { histogram[Int(b)] += 1 }
    let top = histogram.max() ?? 0
    var fill = UInt8(0)
    if let first = page.first, histogram[Int(first)] == top {
      fill = first
    } else if let value = histogram.firstIndex(of: top) {
      fill = UInt8(value)
    }
    var bytes: [UInt16: UInt8] = [:]
    for (offset, b) in page.enumerated() where b != fill { bytes[UInt16(offset)] = b }
    self.init(fill: fill, bytes: bytes)
  }
}
