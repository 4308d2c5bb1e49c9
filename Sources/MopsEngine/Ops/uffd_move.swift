// Models UFFDIO_MOVE (Linux 6.18): userfaultfd_move() in fs/userfaultfd.c (argument
// checks and the result protocol) and move_pages(), validate_move_areas(),
// move_pages_ptes(), move_present_ptes() (with 6.18's batching of consecutive pages under
// one TLB flush) and move_zeropage_pte() in mm/userfaultfd.c.
//
// Left out: the THP paths (move_pages_huge_pmd, PMD and large-folio splits: the model has
// no THPs), swap and migration entries (no swap), KSM pages, per-VMA-lock contention and
// other internal EAGAIN retries (single-threaded, so they never happen), fatal signals
// (EINTR), and `mmap_changing` (raised only by non-cooperative events, which UFFDIO_API
// refuses, so checks B1 and C4 never fire). B7 (the mm is exiting: ESRCH) cannot happen
// either: the mm is the caller's own. Wake/DONTWAKE: the model has no blocked
// threads — an access that hits a registered hole reports `.userfault` and does nothing —
// so there is nobody to wake and DONTWAKE changes nothing.
import MopsABI

/// What a UFFDIO_MOVE, UFFDIO_COPY or UFFDIO_ZEROPAGE ioctl did, in the kernel's
/// protocol:
///
/// | situation | `errno` | `field` |
/// |---|---|---|
/// | everything done | nil | length |
/// | part done, then an error | EAGAIN | bytes done (the error is not reported) |
/// | nothing done, error after the argument checks | E | −E |
/// | rejected by the argument checks | E | nil (untouched) |
public struct UffdioResult: Hashable, Sendable, CustomStringConvertible {
  /// The ioctl's errno; `nil` when it returned 0.
  public var errno: Errno?
  /// The value written into the struct's last field (`move`, `copy`, `zeropage`): bytes
  /// done, or −errno; `nil` when the kernel left the field untouched.
  public var field: Int64?
  /// Bytes done (holes skipped under ALLOW_SRC_HOLES count as moved).
  public var bytes: UInt64
  /// Why the walk stopped, in kernel terms: the returned error, or — for a partial result —
  /// the error the kernel does not report (re-issuing from the stopping point shows it).
  /// `nil` when everything was done.
  public var error: KernelError? {
    get { errorBox?.error }
    set { errorBox = newValue.map(ErrorBox.init) }
  }

  /// The error behind one reference, so that a result without one copies and goes away
  /// as plain data (held inline, its strings and arrays cost every successful move a
  /// copy and a destroy of an empty `KernelError?`).
  private var errorBox: ErrorBox?

  private final class ErrorBox: Hashable, Sendable {
    let error: KernelError
    init(_ error: KernelError) { self.error = error }
    static func == (a: ErrorBox, b: ErrorBox) -> Bool { a.error == b.error }
    func hash(into hasher: inout Hasher) { hasher.combine(error) }
  }

  public init(errno: Errno?, field: Int64?, bytes: UInt64, error: KernelError?) {
    self.errno = errno
    self.field = field
    self.bytes = bytes
    self.errorBox = error.map(ErrorBox.init)
  }

  /// Everything done: `bytes` moved, copied or zero-filled.
  @inline(__always)
  static func done(_ bytes: UInt64) -> UffdioResult {
    UffdioResult(errno: nil, field: Int64(bytes), bytes: bytes, error: nil)
  }

  /// Rejected before the field is written (argument checks, unknown fd, cross-mm MOVE).
  static func untouched(_ error: KernelError) -> UffdioResult {
    UffdioResult(errno: error.errno, field: nil, bytes: 0, error: error)
  }

  /// The outcome of a walk over `length` bytes that did `done` bytes and stopped with
  /// `error` (if any).
  @inline(__always)
  static func walked(length: UInt64, done: UInt64, error: KernelError?) -> UffdioResult {
    guard let error else {
      return UffdioResult(errno: done == length ? nil : .EAGAIN, field: Int64(done), bytes: done, error: nil)
    }
    if error.isNotModelled {
      return UffdioResult(errno: error.errno, field: nil, bytes: done, error: error)
    }
    if done > 0 {
      return UffdioResult(errno: done == length ? nil : .EAGAIN, field: Int64(done), bytes: done, error: error)
    }
    return UffdioResult(errno: error.errno, field: -Int64(error.errno.rawValue), bytes: 0, error: error)
  }

  /// Whether the ioctl returned 0.
  public var succeeded: Bool { errno == nil }

  public var description: String {
    let f = field.map { " field=\($0)" } ?? " field untouched"
    guard let errno else { return "ok\(f)" }
    return "\(errno.name)\(f)" + (error.map { " (\($0))" } ?? "")
  }
}

extension World {
  /// `UFFDIO_MOVE`: moves the pages mapped at `[src, src+length)` to `[dst, dst+length)` in
  /// the caller's own mm without copying them — the same physical page ends up at dst, the
  /// src PTE becomes none, and no VMA is created, split or merged.
  ///
  /// Pages are walked in ascending order and everything before a failing page stays moved
  /// (partial result: EAGAIN with `field` = bytes moved). Overlapping ranges are accepted;
  /// the walk re-reads src PTEs it has just written, so src=A, dst=A+4K, len=8K with only A
  /// populated moves that page twice:
  ///
  ///     A      A+4K   A+8K          A      A+4K   A+8K
  ///     [ p ]  [   ]  [   ]   →     [   ]  [   ]  [ p ]     field = 8192
  ///
  /// A moved page keeps its PFN, contents, mapcount 1 and PageAnonExclusive; its PTE at dst
  /// is writable (dst VMA permissions) with the src PTE's dirty bit; the folio's anon_vma
  /// and index are switched to the dst VMA. A zero-page PTE moves as a zero-page PTE.
  ///
  /// Errors, in check order (A/B leave `field` untouched, the rest write −errno):
  /// - A: ESRCH (no such process), EBADF (`pid` does not hold `uffd`), EINVAL (UFFDIO_API
  ///   not done);
  /// - B3 EINVAL: the fd's mm is not the caller's (e.g. a fork child using the parent's
  ///   fd);
  /// - B4/B5 EINVAL: dst, then src: unaligned start, length unaligned or 0, start ≥
  ///   TASK_SIZE, length > TASK_SIZE − start;
  /// - B6 EINVAL: `mode` has a bit other than DONTWAKE|ALLOW_SRC_HOLES;
  /// - C2 ENOENT: no VMA contains dst (a private dst VMA gets its anon_vma here, even if a
  ///   later check fails); C3 ENOENT: no VMA contains src;
  /// - C5–C8 EINVAL: src VMA shared; src range runs past its VMA; dst VMA shared; dst
  ///   range runs past its VMA;
  /// - C9 EINVAL: VM_READ|VM_WRITE|VM_EXEC differ; VM_LOCKED differs; src not writable;
  ///   VM_PFNMAP|VM_IO|VM_HUGETLB|VM_MIXEDMAP on either; dst VMA not registered with
  ///   `uffd` (any mode; src need not be registered); either VMA not anonymous;
  /// - per page: ENOENT (no page table covers src, unless ALLOW_SRC_HOLES, which
  ///   allocates one) before EEXIST (dst PTE not none — checked before the src PTE, so it
  ///   wins over a src hole even with ALLOW_SRC_HOLES), then ENOENT (src PTE none, unless
  ///   ALLOW_SRC_HOLES: skipped and counted), EBUSY (src page not PageAnonExclusive: shared
  ///   with a fork child, or the parent's page after the child exited until the parent
  ///   writes it), EBUSY (src page DMA-pinned).
  public func uffdioMove(
    _ pid: PID, _ uffd: UserfaultfdCtx.ID, dst: VirtAddr, src: VirtAddr, length: UInt64, mode: UffdioMoveMode
  ) -> UffdioResult {
    defer { verify(after: "UFFDIO_MOVE") }
    let mm: Unmanaged<MM>
    do throws(KernelError) {
      let ctxMM: PID
      (mm, ctxMM) = try uffdContextRef(pid, uffd)
      guard ctxMM == pid else {
        throw KernelError(.EINVAL, "cross-mm move: \(uffd) belongs to \(ctxMM), the caller is \(pid)")
      }
      try validateUffdRange(dst, length, "dst")
      try validateUffdRange(src, length, "src")
      guard mode.isSubset(of: [.dontwake, .allowSrcHoles]) else {
        throw KernelError(
          .EINVAL, "mode 0x\(String(mode.rawValue, radix: 16)) has bits outside DONTWAKE|ALLOW_SRC_HOLES")
      }
    } catch {
      return .untouched(error)
    }
    // A move cannot end the process: the mm is borrowed, not retained.
    let (moved, error) = mm._withUnsafeGuaranteedRef {
      movePages($0, uffd, dst: dst, src: src, length: length, allowSrcHoles: mode.contains(.allowSrcHoles))
    }
    guard let error else { return .done(moved) }
    return .walked(length: length, done: moved, error: error)
  }

  /// `move_pages()`: the VMA stage and the page walk. Returns the bytes moved and the
  /// error that stopped the walk.
  @inline(__always)
  private func movePages(
    _ mm: MM, _ uffd: UserfaultfdCtx.ID, dst: VirtAddr, src: VirtAddr, length: UInt64, allowSrcHoles: Bool
  ) -> (UInt64, KernelError?) {
    guard var dstVMA = mm.vma(containing: dst) else {
      return (0, KernelError(.ENOENT, "no VMA contains dst \(dst)"))
    }
    if !dstVMA.vmFlags.contains(.shared) && dstVMA.anonVMA == .none {
      dstVMA.anonVMA = anonVMAPrepare(mm, vmaStart: dstVMA.vmStart)
    }
    let srcVMA: VMA
    if dstVMA.contains(src) {
      srcVMA = dstVMA
    } else if let v = mm.vma(containing: src) {
      srcVMA = v
    } else {
      return (0, KernelError(.ENOENT, "no VMA contains src \(src)"))
    }
    if let e = validateMoveVMAs(uffd, src: srcVMA, srcEnd: src + length, dst: dstVMA, dstEnd: dst + length) {
      return (0, e)
    }

    let dstWritable = dstVMA.vmFlags.contains(.write)
    let dstAnonVMA = dstVMA.anonVMA
    var moved: UInt64 = 0
    // The anon_vma of the first folio of the current batch of present pages (6.18 moves
    // consecutive pages in one PMD range under one TLB flush); nil when no batch is open.
    var batch: AnonVMA.ID?
    while moved < length {
      let s = src + moved
      let d = dst + moved
      let srcPTE: PTE
      if let pte = mm.pageTable.entryIfTable(s) {
        srcPTE = pte
      } else {
        guard allowSrcHoles else {
          return (moved, KernelError(.ENOENT, "no page table covers src \(s) (pmd_none)"))
        }
        mm.pageTable.allocateTable(s)
        srcPTE = .none
      }
      let dstPTE = mm.pageTable.allocateTableAndRead(d)
      guard dstPTE.isNone else {
        return (moved, KernelError(.EEXIST, "dst PTE at \(d) is not none (\(dstPTE))"))
      }
      if srcPTE.isNone {
        guard allowSrcHoles else {
          return (moved, KernelError(.ENOENT, "src PTE at \(s) is none"))
        }
        batch = nil
        moved += pageSize
        continue
      }
      if srcPTE.isZeroPage {
        mm.pageTable.movePTE(from: s, to: d, .zeroPage)
        cost.ptesChanged += 2
        cost.tlbFlushRanges += 1
        batch = nil
        moved += pageSize
        continue
      }
      let pfn = srcPTE.pfn
      let i = slot(pfn)
      let folio = folios[i]
      guard folio.isAnonExclusive else {
        return (moved, notExclusiveError(s, pfn, check: "UFFDIO_MOVE needs PageAnonExclusive"))
      }
      guard !folio.isMaybeDMAPinned else {
        return (moved, KernelError(.EBUSY, "src page at \(s) (\(pfn)) is DMA-pinned (folio_maybe_dma_pinned)"))
      }
      let pmdMask = pmdSize - 1
      if batch != folio.anonVMA || s.rawValue & pmdMask == 0 || d.rawValue & pmdMask == 0 {
        batch = folio.anonVMA
        cost.tlbFlushRanges += 1
      }
      mm.pageTable.movePTE(from: s, to: d, .page(pfn, writable: dstWritable, dirty: srcPTE.isDirty))
      // folio_move_anon_rmap() and the new index: fields apart from the mapcount and
      // flags, updated in place.
      let index = dstVMA.linearPageIndex(d)
      folios.modifyCold(i) { f in
        f.anonVMA = dstAnonVMA
        f.index = index
      }
      cost.ptesChanged += 2
      moved += pageSize
    }
    return (moved, nil)
  }

  /// The VMA checks of `move_pages()` after the lookups (C5–C8) and
  /// `validate_move_areas()` (C9), in the kernel's order.
  @inline(__always)
  private func validateMoveVMAs(_ uffd: UserfaultfdCtx.ID, src: VMA, srcEnd: VirtAddr, dst: VMA, dstEnd: VirtAddr)
    -> KernelError?
  {
    if src.vmFlags.contains(.shared) { return KernelError(.EINVAL, "src \(src) is VM_SHARED") }
    if srcEnd > src.vmEnd { return KernelError(.EINVAL, "src range ends at \(srcEnd), past the end of \(src)") }
    if dst.vmFlags.contains(.shared) { return KernelError(.EINVAL, "dst \(dst) is VM_SHARED") }
    if dstEnd > dst.vmEnd { return KernelError(.EINVAL, "dst range ends at \(dstEnd), past the end of \(dst)") }
    if src.vmFlags.intersection(.access) != dst.vmFlags.intersection(.access) {
      return KernelError(
        .EINVAL, "VM_READ|VM_WRITE|VM_EXEC differ: src is \(src.vmFlags.prot.rwx), dst is \(dst.vmFlags.prot.rwx)")
    }
    if src.vmFlags.contains(.locked) != dst.vmFlags.contains(.locked) {
      return KernelError(.EINVAL, "VM_LOCKED differs between src and dst")
    }
    if !src.vmFlags.contains(.write) { return KernelError(.EINVAL, "src \(src) is not writable") }
    let special: VMFlags = [.pfnmap, .io, .hugetlb, .mixedmap]
    if !src.vmFlags.isDisjoint(with: special) || !dst.vmFlags.isDisjoint(with: special) {
      return KernelError(.EINVAL, "VM_PFNMAP|VM_IO|VM_HUGETLB|VM_MIXEDMAP on src or dst")
    }
    guard dst.uffd == uffd else {
      let now = dst.uffd.map { "registered with \($0)" } ?? "not registered"
      return KernelError(.EINVAL, "dst \(dst) is \(now), not with \(uffd)")
    }
    if !src.isAnonymous || !dst.isAnonymous { return KernelError(.EINVAL, "src or dst VMA is not anonymous") }
    return nil
  }
}
