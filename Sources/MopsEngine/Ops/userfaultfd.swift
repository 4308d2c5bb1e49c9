// Models the userfaultfd plumbing of fs/userfaultfd.c and mm/userfaultfd.c (Linux 6.18):
// new_userfaultfd() behind userfaultfd(2) and USERFAULTFD_IOC_NEW, userfaultfd_api(),
// userfaultfd_register() / userfaultfd_register_range(), userfaultfd_unregister() /
// userfaultfd_clear_vma(), and close(). The release of a context with its last holder
// (userfaultfd_release_all) is in uffd_release.swift, fork's inheritance in fork.swift.
//
// Which mm a range ioctl acts on: the fd's (`ctx->mm`), not the caller's. Only UFFDIO_MOVE
// insists the two are the same (observed: a fork child holding the parent's fd registers,
// copies and zero-fills in the parent's address space). Once that mm has exited, REGISTER
// and UNREGISTER fail ENOMEM (`mmget_not_zero`), COPY and ZEROPAGE fail ESRCH.
//
// Left out: reading fault messages (read/poll), UFFDIO_WAKE, UFFDIO_WRITEPROTECT,
// UFFDIO_CONTINUE, UFFDIO_POISON, hugetlb ranges, and the non-cooperative events
// (EVENT_FORK/REMAP/REMOVE/UNMAP): each queues a message and makes the causing thread wait
// for a reader, which a single-threaded script never is, so UFFDIO_API refuses them as not
// modelled. With no events `ctx->mmap_changing` never rises, and the EAGAIN it causes in
// the range ioctls cannot happen in the model. Root is assumed: no EPERM for kernel-mode
// faults or EVENT_FORK.
import MopsABI

extension UserfaultfdCtx {
  /// `O_CLOEXEC` (`UFFD_CLOEXEC`).
  public static let O_CLOEXEC: Int32 = 0o2000000
  /// `O_NONBLOCK` (`UFFD_NONBLOCK`).
  public static let O_NONBLOCK: Int32 = 0o4000
  /// `UFFD_USER_MODE_ONLY`: faults taken by the kernel itself (e.g. a `copy_from_user`
  /// of UFFDIO_COPY's src) are not delivered; they fail instead of blocking.
  public static let UFFD_USER_MODE_ONLY: Int32 = 1
  /// `_UFFDIO_*` bits of the `ioctls` field UFFDIO_REGISTER returns.
  public static let ioctlWake: UInt64 = 1 << 2
  public static let ioctlCopy: UInt64 = 1 << 3
  public static let ioctlZeropage: UInt64 = 1 << 4
  public static let ioctlMove: UInt64 = 1 << 5
  public static let ioctlWriteprotect: UInt64 = 1 << 6
  public static let ioctlContinue: UInt64 = 1 << 7
  public static let ioctlPoison: UInt64 = 1 << 8
  /// `UFFD_API_RANGE_IOCTLS`: what a registered anon or shmem range supports (0x1fc).
  public static let rangeIoctls: UInt64 =
    ioctlWake | ioctlCopy | ioctlZeropage | ioctlMove | ioctlWriteprotect | ioctlContinue | ioctlPoison
  /// `UFFD_API`.
  public static let api: UInt64 = 0xAA
}

extension World {
  /// `userfaultfd(2)` (or `ioctl(/dev/userfaultfd, USERFAULTFD_IOC_NEW, flags)`): a new
  /// userfaultfd context bound to `pid`'s mm, held open by `pid`.
  ///
  /// Errors, in check order: ESRCH (no such process); EINVAL (`flags` has a bit other than
  /// `O_CLOEXEC`, `O_NONBLOCK`, `UFFD_USER_MODE_ONLY`).
  public func userfaultfd(_ pid: PID, flags: Int32) throws(KernelError) -> UserfaultfdCtx.ID {
    defer { verify(after: "userfaultfd") }
    let mm = try mm(pid)
    let known = UserfaultfdCtx.O_CLOEXEC | UserfaultfdCtx.O_NONBLOCK | UserfaultfdCtx.UFFD_USER_MODE_ONLY
    guard flags & ~known == 0 else {
      let bits = String(UInt32(bitPattern: flags), radix: 16)
      throw KernelError(.EINVAL, "flags 0x\(bits) has bits outside O_CLOEXEC|O_NONBLOCK|UFFD_USER_MODE_ONLY")
    }
    let id = UserfaultfdCtx.ID(rawValue: nextUffd)
    nextUffd += 1
    var ctx = UserfaultfdCtx(mm: pid, flags: flags)
    ctx.holders = [pid]
    uffds[id] = ctx
    mm.uffds.insert(id)
    return id
  }

  /// `UFFDIO_API`: the handshake that must precede every other ioctl on the fd. Returns the
  /// features the kernel supports (all of ``UffdFeatures/supported``, whatever was asked).
  /// `UFFD_FEATURE_MOVE` is advertised, not required: MOVE works on an fd that asked for
  /// no features.
  ///
  /// Errors, in check order: ESRCH; EBADF (`pid` does not hold `uffd`); EINVAL (`api` is
  /// not 0xAA); EINVAL (a requested feature is not supported); EINVAL (the fd already
  /// passed UFFDIO_API). Then the non-cooperative event features are refused as not
  /// modelled (``KernelError/notModelled(_:)``).
  public func uffdioAPI(_ pid: PID, _ uffd: UserfaultfdCtx.ID, api: UInt64, features: UffdFeatures) throws(KernelError)
    -> UffdFeatures
  {
    defer { verify(after: "UFFDIO_API") }
    let mm = try mm(pid)
    guard mm.uffds.contains(uffd), let ctx = uffds[uffd] else {
      throw KernelError(.EBADF, "\(pid) holds no fd for \(uffd)")
    }
    guard api == UserfaultfdCtx.api else {
      throw KernelError(.EINVAL, "uffdio_api.api is 0x\(String(api, radix: 16)), not UFFD_API (0xaa)")
    }
    var requested = features
    if requested.contains(.wpAsync) { requested.insert(.wpUnpopulated) }
    guard requested.isSubset(of: .supported) else {
      throw KernelError(
        .EINVAL, "features 0x\(String(requested.subtracting(.supported).rawValue, radix: 16)) are not supported")
    }
    guard !ctx.initialized else {
      throw KernelError(.EINVAL, "UFFDIO_API was already done on \(uffd)")
    }
    guard requested.isDisjoint(with: .events) else {
      throw KernelError.notModelled(
        "non-cooperative userfaultfd events (EVENT_FORK/REMAP/REMOVE/UNMAP): the thread causing one "
          + "waits until a reader takes the message")
    }
    uffds[uffd]!.initialized = true
    uffds[uffd]!.features = requested
    return .supported
  }

  /// `UFFDIO_REGISTER`: registers every VMA of the fd's mm inside `[start, start+length)`
  /// with `uffd` in `mode`, splitting VMAs at the range ends and merging where the
  /// registration makes neighbours equal. Holes in the range are allowed. A VMA already
  /// registered with `uffd` in a superset of `mode` is left alone; otherwise its mode bits
  /// are replaced by `mode` (registering WP over MISSING leaves WP only). Returns the
  /// `ioctls` bitmask: 0x13c for MISSING, plus WRITEPROTECT (0x40) for WP and CONTINUE
  /// (0x80) for MINOR.
  ///
  ///     before  [----------- one VMA -----------]
  ///     after   [ VMA ][ registered: um ][ VMA  ]      (1 → 3 VMAs)
  ///
  /// Errors, in check order: ESRCH; EBADF; EINVAL (not initialised); EINVAL (`mode` is 0
  /// or has an unknown bit); EINVAL (`start` unaligned, `length` unaligned or 0, `start` ≥
  /// TASK_SIZE, `length` > TASK_SIZE − `start`); ENOMEM (the fd's mm has exited); EINVAL
  /// (no VMA in the range); then per VMA, all checked before anything changes: EINVAL
  /// (VM_DROPPABLE, or MINOR on a VMA that is not shmem), EPERM (no VM_MAYWRITE), EBUSY
  /// (registered with another userfaultfd); finally ENOMEM from a split at
  /// `vm.max_map_count` (VMAs registered before it stay registered).
  public func uffdioRegister(
    _ pid: PID, _ uffd: UserfaultfdCtx.ID, start: VirtAddr, length: UInt64, mode: UffdRegisterMode
  ) throws(KernelError) -> UInt64 {
    defer { verify(after: "UFFDIO_REGISTER") }
    let (_, ctx) = try uffdContext(pid, uffd)
    guard !mode.isEmpty else { throw KernelError(.EINVAL, "uffdio_register.mode is 0") }
    let known: UffdRegisterMode = [.missing, .wp, .minor]
    guard mode.isSubset(of: known) else {
      throw KernelError(.EINVAL, "uffdio_register.mode 0x\(String(mode.rawValue, radix: 16)) has unknown bits")
    }
    try validateUffdRange(start, length, "range")
    guard let mm = processes[ctx.mm] else { throw KernelError(.ENOMEM, "the mm of \(uffd) (\(ctx.mm)) has exited") }
    let end = start + length
    let vmas = mm.vmas.vmas(intersecting: start, end)
    guard !vmas.isEmpty else { throw KernelError(.EINVAL, "no VMA in [\(start), \(end))") }
    var modeFlags: VMFlags = []
    if mode.contains(.missing) { modeFlags.insert(.uffdMissing) }
    if mode.contains(.wp) { modeFlags.insert(.uffdWP) }
    if mode.contains(.minor) { modeFlags.insert(.uffdMinor) }
    for vma in vmas {
      try vmaCanUserfault(vma, modeFlags)
      guard vma.vmFlags.contains(.mayWrite) else {
        throw KernelError(.EPERM, "\(vma) lacks VM_MAYWRITE")
      }
      if let other = vma.uffd, other != uffd {
        throw KernelError(.EBUSY, "\(vma) is already registered with \(other)")
      }
    }
    var cursor = start
    while cursor < end, let vma = mm.vmas.findVMA(cursor), vma.vmStart < end {
      if vma.uffd == uffd && vma.vmFlags.isSuperset(of: modeFlags) {
        cursor = vma.vmEnd
        continue
      }
      let modified = try vmaModify(mm, max(cursor, vma.vmStart), min(end, vma.vmEnd)) { v in
        v.vmFlags = v.vmFlags.subtracting(.uffdAll).union(modeFlags)
        v.uffd = uffd
      }
      cursor = modified.vmEnd
    }
    var ioctls = UserfaultfdCtx.rangeIoctls
    if !mode.contains(.wp) { ioctls &= ~UserfaultfdCtx.ioctlWriteprotect }
    if !mode.contains(.minor) { ioctls &= ~UserfaultfdCtx.ioctlContinue }
    return ioctls
  }

  /// `UFFDIO_UNREGISTER`: clears the registration of every VMA of the fd's mm inside
  /// `[start, start+length)`, splitting at the range ends and merging the pieces back with
  /// equal neighbours. Unregistered VMAs and holes in the range are skipped.
  ///
  /// Errors, in check order: ESRCH; EBADF; EINVAL (not initialised); EINVAL (range, as for
  /// UFFDIO_REGISTER); ENOMEM (the fd's mm has exited); EINVAL (no VMA in the range);
  /// EINVAL (a VMA in the range is VM_DROPPABLE, or is registered with another
  /// userfaultfd; checked for all VMAs before anything changes); ENOMEM from a split.
  public func uffdioUnregister(_ pid: PID, _ uffd: UserfaultfdCtx.ID, start: VirtAddr, length: UInt64)
    throws(KernelError)
  {
    defer { verify(after: "UFFDIO_UNREGISTER") }
    let (_, ctx) = try uffdContext(pid, uffd)
    try validateUffdRange(start, length, "range")
    guard let mm = processes[ctx.mm] else { throw KernelError(.ENOMEM, "the mm of \(uffd) (\(ctx.mm)) has exited") }
    let end = start + length
    let vmas = mm.vmas.vmas(intersecting: start, end)
    guard !vmas.isEmpty else { throw KernelError(.EINVAL, "no VMA in [\(start), \(end))") }
    for vma in vmas {
      try vmaCanUserfault(vma, vma.vmFlags.intersection(.uffdAll))
      if let other = vma.uffd, other != uffd {
        throw KernelError(.EINVAL, "\(vma) is registered with \(other), not \(uffd)")
      }
    }
    var cursor = start
    while cursor < end, let vma = mm.vmas.findVMA(cursor), vma.vmStart < end {
      guard vma.uffd != nil else {
        cursor = vma.vmEnd
        continue
      }
      let modified = try vmaModify(mm, max(cursor, vma.vmStart), min(end, vma.vmEnd)) { v in
        v.vmFlags.subtract(.uffdAll)
        v.uffd = nil
      }
      cursor = modified.vmEnd
    }
  }

  /// `close()` of `pid`'s fd for `uffd`. When the last process holding the context lets
  /// go, `userfaultfd_release` unregisters every VMA of the context's mm that is registered
  /// with it, merging each with equal neighbours (``closeUffdFile(_:_:)``).
  ///
  /// Errors: ESRCH; EBADF (`pid` does not hold `uffd`).
  public func closeUffd(_ pid: PID, _ uffd: UserfaultfdCtx.ID) throws(KernelError) {
    defer { verify(after: "close(userfaultfd)") }
    let mm = try mm(pid)
    guard mm.uffds.contains(uffd), uffds[uffd] != nil else {
      throw KernelError(.EBADF, "\(pid) holds no fd for \(uffd)")
    }
    closeUffdFile(mm, uffd)
  }

  // MARK: Shared checks

  /// The caller's mm and the context behind its fd for `uffd`, as every ioctl but
  /// UFFDIO_API sees them: ESRCH (no such process), EBADF (`pid` does not hold the fd),
  /// EINVAL (UFFDIO_API has not been done yet).
  func uffdContext(_ pid: PID, _ uffd: UserfaultfdCtx.ID) throws(KernelError) -> (MM, UserfaultfdCtx) {
    let (mm, _) = try uffdContextRef(pid, uffd)
    return (mm.takeUnretainedValue(), uffds[uffd]!)
  }

  /// The checks of ``uffdContext(_:_:)``, answering with the caller's mm unretained (see
  /// ``processRef(_:)``) and the pid of the fd's mm (`ctx->mm`), and remembering the
  /// lookup for the next ioctl on the same fd.
  @inline(__always)
  func uffdContextRef(_ pid: PID, _ uffd: UserfaultfdCtx.ID) throws(KernelError) -> (Unmanaged<MM>, PID) {
    let ref = try mmRef(pid)
    let ctxMM = try ref.borrow { mm throws(KernelError) -> PID in
      let generation = mm.uffdsGeneration
      if let last = lastUffd, last.pid == pid, last.id == uffd, last.generation == generation {
        return last.ctxMM
      }
      guard mm.uffds.contains(uffd), let ctx = uffds[uffd] else {
        throw KernelError(.EBADF, "\(pid) holds no fd for \(uffd)")
      }
      guard ctx.initialized else {
        throw KernelError(.EINVAL, "\(uffd) has not done UFFDIO_API")
      }
      lastUffd = UffdLookup(pid: pid, generation: generation, id: uffd, ctxMM: ctx.mm)
      return ctx.mm
    }
    return (ref, ctxMM)
  }

  /// `validate_range` (6.18 with the stable backport that dropped the `mmap_min_addr`
  /// bound): page-aligned start, non-empty page-multiple length, inside TASK_SIZE.
  @inline(__always)
  func validateUffdRange(_ start: VirtAddr, _ len: UInt64, _ what: StaticString) throws(KernelError) {
    if start.isPageAligned && isValidUffdLength(start, len) { return }
    guard start.isPageAligned else { throw KernelError(.EINVAL, "\(what) start \(start) is not page aligned") }
    try validateUnalignedUffdRange(start, len, what)
  }

  /// The conditions `validate_unaligned_range` checks, all at once (the checks that
  /// name the failing one run only when this is false).
  @inline(__always)
  private func isValidUffdLength(_ start: VirtAddr, _ len: UInt64) -> Bool {
    len & (pageSize - 1) == 0 && len != 0 && start.rawValue < taskSize && len <= taskSize - start.rawValue
  }

  /// `validate_unaligned_range`: the length and TASK_SIZE checks without the alignment of
  /// `start` (UFFDIO_COPY's src may be unaligned).
  func validateUnalignedUffdRange(_ start: VirtAddr, _ len: UInt64, _ what: StaticString) throws(KernelError) {
    guard len & (pageSize - 1) == 0 else {
      throw KernelError(.EINVAL, "length 0x\(String(len, radix: 16)) is not a page multiple")
    }
    guard len != 0 else { throw KernelError(.EINVAL, "length is 0") }
    guard start.rawValue < taskSize else {
      throw KernelError(.EINVAL, "\(what) start \(start) is at or above TASK_SIZE")
    }
    guard len <= taskSize - start.rawValue else {
      throw KernelError(.EINVAL, "\(what) [\(start), +0x\(String(len, radix: 16))) runs past TASK_SIZE")
    }
  }

  /// `vma_can_userfault`: not VM_DROPPABLE, and MINOR only on shmem (hugetlb is not
  /// modelled; every other VMA of the model is anonymous or shmem).
  private func vmaCanUserfault(_ vma: VMA, _ modeFlags: VMFlags) throws(KernelError) {
    if vma.vmFlags.contains(.droppable) {
      throw KernelError(.EINVAL, "\(vma) is VM_DROPPABLE")
    }
    if modeFlags.contains(.uffdMinor) && vma.shmem == nil {
      throw KernelError(.EINVAL, "MINOR mode needs shmem or hugetlb, \(vma) is private anonymous")
    }
  }
}
