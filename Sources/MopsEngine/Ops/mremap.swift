// Models mremap(2) of anonymous memory on Linux 6.18 (mm/mremap.c): do_mremap(),
// check_mremap_params(), the 6.17+ multi-VMA pure move remap_move(), check_prep_vma(),
// mremap_at() (no-op, in-place shrink, in-place growth via vma_merge_extend(), or a
// move to a top-down address), mremap_to() (FIXED/DONTUNMAP) and move_vma() with
// copy_vma(), move_page_tables() (PTE by PTE or whole PMD tables) and the DONTUNMAP
// finish. Pages never move or change: PTEs are transferred with the same PFN, mapcount
// and PageAnonExclusive. Left out: hugetlb, THP and file VMAs, mseal (EPERM), VM_LOCKED
// (mlock is not modelled), RLIMIT_AS/RLIMIT_MEMLOCK and commit-charge failures,
// soft-dirty, PUD-level moves (the same tables end up moved PMD by PMD), and the
// UFFD_FEATURE_EVENT_REMAP message (refused as not modelled).
import MopsABI

extension World {
  /// The state threaded through one mremap (`struct vma_remap_struct`).
  struct Remap {
    var addr: VirtAddr
    var oldLen: UInt64
    var newLen: UInt64
    let flags: MremapFlags
    var newAddr: VirtAddr

    /// `vrm_implies_new_addr`: MREMAP_FIXED or MREMAP_DONTUNMAP.
    var impliesNewAddr: Bool { !flags.isDisjoint(with: [.fixed, .dontunmap]) }
    var isShrink: Bool { newLen < oldLen }
    var isExpand: Bool { newLen > oldLen }
    var delta: UInt64 { isShrink ? oldLen - newLen : newLen - oldLen }
  }

  /// `mremap(oldAddr, oldLength, newLength, flags, newAddr)`: resizes and/or moves a
  /// mapping and returns its (new) address. Lengths are rounded up to pages.
  ///
  /// - Same size without MREMAP_FIXED: nothing happens (only a VMA at `oldAddr` is
  ///   needed, however far `oldLength` reaches).
  /// - Shrink in place: the tail `[oldAddr + newLength, oldAddr + oldLength)` is
  ///   unmapped, across VMAs and holes.
  /// - Grow: in place if the range ends at its VMA's end and the space after it is
  ///   free (the VMA grows and may absorb a compatible next VMA); else with
  ///   MREMAP_MAYMOVE the range moves to a top-down address, else ENOMEM.
  /// - MREMAP_FIXED: `[newAddr, newAddr + newLength)` is unmapped first, then the range
  ///   moves there; with equal lengths this is a pure move that may span several VMAs
  ///   and holes (each VMA keeps its offset; a hole at the start is EFAULT; a failure
  ///   part-way keeps the VMAs already moved).
  /// - MREMAP_DONTUNMAP: the PTEs move to a new VMA (at `newAddr` if free, or top-down)
  ///   and the old VMA stays, empty, keeping VM_ACCOUNT; it loses its anon_vma if it
  ///   moved whole.
  /// - `oldLength == 0` on a shared mapping with MREMAP_MAYMOVE maps the same shmem
  ///   pages a second time.
  ///
  /// A move keeps every page: same PFN, mapcount and anon-exclusive state, folio index
  /// unchanged. A VMA that was never faulted gets `pgoff = newAddr >> 12`; a faulted one
  /// keeps its pgoff (so it only merges with pieces of its own anon_vma). A shared
  /// mapping grown past its shmem object raises SIGBUS there; the object keeps its size.
  ///
  /// Errors, in check order (spec vma-mmap-mremap §7.1, §7.3, §7.4):
  /// - EINVAL: a flag outside MAYMOVE|FIXED|DONTUNMAP; `oldAddr` not page aligned;
  ///   `newLength` rounds to 0; `newLength > TASK_SIZE`;
  /// - only with FIXED or DONTUNMAP — EINVAL: `newAddr > TASK_SIZE - newLength`;
  ///   `newAddr` not page aligned; MAYMOVE missing; DONTUNMAP with
  ///   `oldLength != newLength`; old and new ranges overlap; ENOMEM:
  ///   `map_count + 2 >= vm.max_map_count - 3`;
  /// - EFAULT: no VMA at `oldAddr` (for a pure move: nothing mapped at `oldAddr`, or a
  ///   uffd-registered VMA that is not the only one in the range);
  /// - when growing or moving — EINVAL: `oldLength == 0` on a private mapping;
  ///   EINVAL: DONTUNMAP on a VM_DONTEXPAND/VM_PFNMAP VMA; EFAULT: the range (the kept
  ///   part when shrinking) runs past the VMA's end; when growing — EINVAL: the pgoff
  ///   overflows; EFAULT: VM_DONTEXPAND/VM_PFNMAP;
  /// - EINVAL: the shrunk tail reaches beyond TASK_SIZE; ENOMEM: unmapping an interior
  ///   tail or the FIXED target at `map_count >= vm.max_map_count`;
  /// - ENOMEM: growth not possible in place without MAYMOVE; no free gap in the arena;
  ///   `map_count >= vm.max_map_count - 3` when a move starts.
  public func mremap(
    _ pid: PID, oldAddr: VirtAddr, oldLength: UInt64, newLength: UInt64, flags: MremapFlags,
    newAddr: VirtAddr
  ) throws(KernelError) -> VirtAddr {
    try withMM(pid) { mm throws(KernelError) in
      try mremap(mm, pid, oldAddr: oldAddr, oldLength: oldLength, newLength: newLength, flags: flags, newAddr: newAddr)
    }
  }

  private func mremap(
    _ mm: MM, _ pid: PID, oldAddr: VirtAddr, oldLength: UInt64, newLength: UInt64, flags: MremapFlags,
    newAddr: VirtAddr
  ) throws(KernelError) -> VirtAddr {
    defer { verify(after: "mremap") }
    var req = Remap(
      addr: oldAddr, oldLen: pageAlignUp(oldLength) ?? 0, newLen: pageAlignUp(newLength) ?? 0,
      flags: flags, newAddr: newAddr)
    try checkMremapParams(mm, req)
    record(.mremap, pid)
    if req.flags.contains(.fixed) && req.oldLen == req.newLen {
      return try remapMove(mm, req)
    }
    guard let vma = mm.vmas.vma(containing: req.addr) else {
      throw KernelError(.EFAULT, "mremap: no VMA contains \(req.addr)")
    }
    try checkPrepVMA(&req, vma)
    return req.impliesNewAddr ? try mremapTo(mm, &req, vma) : try mremapAt(mm, &req, vma)
  }

  /// `check_mremap_params()`: everything checked before the VMA lookup.
  private func checkMremapParams(_ mm: MM, _ req: Remap) throws(KernelError) {
    guard req.flags.isSubset(of: .all) else {
      throw KernelError(.EINVAL, "mremap: unknown flags 0x\(String(req.flags.rawValue, radix: 16))")
    }
    guard req.addr.isPageAligned else {
      throw KernelError(.EINVAL, "mremap: old_address \(req.addr) is not page aligned")
    }
    guard req.newLen != 0 else { throw KernelError(.EINVAL, "mremap: new_len rounds to 0") }
    guard req.newLen <= taskSize else {
      throw KernelError(.EINVAL, "mremap: new_len 0x\(String(req.newLen, radix: 16)) > TASK_SIZE")
    }
    guard req.impliesNewAddr else { return }
    guard req.newAddr.rawValue <= taskSize - req.newLen else {
      throw KernelError(.EINVAL, "mremap: [\(req.newAddr), +new_len) goes beyond TASK_SIZE")
    }
    guard req.newAddr.isPageAligned else {
      throw KernelError(.EINVAL, "mremap: new_address \(req.newAddr) is not page aligned")
    }
    guard req.flags.contains(.maymove) else {
      throw KernelError(.EINVAL, "mremap: MREMAP_FIXED/MREMAP_DONTUNMAP without MREMAP_MAYMOVE")
    }
    if req.flags.contains(.dontunmap) && req.oldLen != req.newLen {
      throw KernelError(.EINVAL, "mremap: MREMAP_DONTUNMAP with old_len != new_len")
    }
    let oldEnd = req.addr.rawValue &+ req.oldLen
    let newEnd = req.newAddr.rawValue + req.newLen
    if oldEnd > req.newAddr.rawValue && newEnd > req.addr.rawValue {
      throw KernelError(
        .EINVAL, "mremap: [\(req.addr), +old_len) overlaps [\(req.newAddr), +new_len)")
    }
    if mm.mapCount + 2 >= maxMapCount - 3 {
      throw KernelError(
        .ENOMEM,
        "mremap: map_count \(mm.mapCount) + 2 >= vm.max_map_count \(maxMapCount) - 3 (room for the splits of both ranges)"
      )
    }
  }

  /// `check_prep_vma()`: validates the source VMA for this request.
  private func checkPrepVMA(_ req: inout Remap, _ vma: VMA) throws(KernelError) {
    if !req.impliesNewAddr { req.newAddr = req.addr }
    guard req.isExpand || req.impliesNewAddr else { return }
    if req.oldLen == 0 && vma.vmFlags.isDisjoint(with: [.shared, .mayShare]) {
      throw KernelError(
        .EINVAL, "mremap: old_len 0 duplicates only shared mappings, \(vma) is private")
    }
    if req.flags.contains(.dontunmap) && !vma.vmFlags.isDisjoint(with: [.dontexpand, .pfnmap]) {
      throw KernelError(.EINVAL, "mremap: MREMAP_DONTUNMAP on VM_DONTEXPAND/VM_PFNMAP \(vma)")
    }
    let kept = req.isShrink ? req.newLen : req.oldLen
    guard kept <= vma.vmEnd - req.addr else {
      throw KernelError(
        .EFAULT, "mremap: [\(req.addr), +0x\(String(kept, radix: 16))) runs past the end of \(vma)")
    }
    if req.newLen == req.oldLen { return }
    let pgoff = vma.linearPageIndex(req.addr)
    if pgoff &+ (req.newLen >> pageShift) < pgoff {
      throw KernelError(
        .EINVAL, "mremap: pgoff 0x\(String(pgoff, radix: 16)) + new pages overflows")
    }
    if !vma.vmFlags.isDisjoint(with: [.dontexpand, .pfnmap]) {
      throw KernelError(.EFAULT, "mremap: \(vma) is VM_DONTEXPAND/VM_PFNMAP and cannot grow")
    }
  }

  /// `remap_move()` (6.17+): a pure move (FIXED, equal lengths) of every VMA in
  /// `[addr, addr + len)`, each to `newAddr` plus its offset, so holes stay holes and
  /// whatever is mapped in the target inside a hole is left alone.
  ///
  ///     src   |-- A --|   |- B -|  ........
  ///     dst                                 |-- A'--|   |- B'-|
  private func remapMove(_ mm: MM, _ req: Remap) throws(KernelError) -> VirtAddr {
    let start = req.addr
    let end = VirtAddr(req.addr.rawValue &+ req.oldLen)
    var result: VirtAddr?
    var target = req.newAddr
    var lastEnd = start
    var cursor = start
    while cursor < end, let vma = mm.vmas.findVMA(cursor), vma.vmStart < end {
      let addr = max(vma.vmStart, start)
      let len = min(end, vma.vmEnd) - addr
      if result == nil && start < vma.vmStart {
        throw KernelError(
          .EFAULT, "mremap: [\(start), \(vma.vmStart)) at the start of the range is not mapped")
      }
      let offset = result == nil ? 0 : vma.vmStart - lastEnd
      lastEnd = vma.vmEnd
      if !vma.vmFlags.isDisjoint(with: .uffdAll) && (result != nil || vma.vmEnd < end) {
        throw KernelError(.EFAULT, "mremap: uffd-registered \(vma) can only be moved alone")
      }
      var sub = Remap(
        addr: addr, oldLen: len, newLen: len, flags: req.flags, newAddr: target + offset)
      try checkPrepVMA(&sub, vma)
      let moved = try mremapTo(mm, &sub, vma)
      if result == nil { result = moved }
      target = moved + len
      cursor = addr + len
    }
    guard let result else {
      throw KernelError(.EFAULT, "mremap: nothing is mapped at \(start)")
    }
    return result
  }

  /// `mremap_at()`: no FIXED, no DONTUNMAP.
  private func mremapAt(_ mm: MM, _ req: inout Remap, _ vma: VMA) throws(KernelError) -> VirtAddr {
    if req.oldLen == req.newLen { return req.addr }
    if req.isShrink {
      try doVmiMunmap(mm, req.addr + req.newLen, req.delta)
      return req.addr
    }
    if vma.vmEnd - req.addr == req.oldLen && canExpand(mm, vma, by: req.delta) {
      var growth = vma
      growth.vmStart = vma.vmEnd
      growth.vmEnd = vma.vmEnd + req.delta
      growth.vmPgoff = vma.linearPageIndex(vma.vmEnd)
      insertVMA(mm, growth)
      return req.addr
    }
    guard req.flags.contains(.maymove) else {
      throw KernelError(
        .ENOMEM, "mremap: \(vma) cannot grow in place and MREMAP_MAYMOVE is not set")
    }
    try refuseRemapEvent(vma)
    guard
      let found = unmappedArea(
        mm, length: req.newLen, alignForTHP: !vma.vmFlags.contains(.mayShare))
    else {
      throw KernelError(
        .ENOMEM, "mremap: no free gap of 0x\(String(req.newLen, radix: 16)) bytes in the arena")
    }
    req.newAddr = found
    return try moveVMA(mm, req, vma)
  }

  /// `vma_expandable()`: `[vma.end, vma.end + delta)` is free and below TASK_SIZE.
  private func canExpand(_ mm: MM, _ vma: VMA, by delta: UInt64) -> Bool {
    let (end, overflow) = vma.vmEnd.rawValue.addingReportingOverflow(delta)
    return !overflow && end <= taskSize && isFree(mm, vma.vmEnd, delta)
  }

  /// `mremap_to()`: FIXED (unmap the target first) or DONTUNMAP (target is a hint).
  /// `vma` is the VMA containing `req.addr`.
  private func mremapTo(_ mm: MM, _ req: inout Remap, _ vma: VMA) throws(KernelError) -> VirtAddr {
    var vma = vma
    try refuseRemapEvent(vma)
    if req.flags.contains(.fixed) {
      let newEnd = req.newAddr + req.newLen
      try unmapRange(mm, req.newAddr, newEnd)
      // The unmap changes only VMAs that reach into the target: the source VMA is
      // looked up again only if it is one of them.
      if vma.vmEnd > req.newAddr && vma.vmStart < newEnd {
        guard let current = mm.vmas.vma(containing: req.addr) else {
          throw KernelError(.EFAULT, "mremap: no VMA contains \(req.addr) after unmapping the target")
        }
        vma = current
      }
    }
    if req.isShrink {
      try doVmiMunmap(mm, req.addr + req.newLen, req.delta)
      guard let current = mm.vmas.vma(containing: req.addr) else {
        throw KernelError(.EFAULT, "mremap: no VMA contains \(req.addr) after the shrink")
      }
      vma = current
      req.oldLen = req.newLen
    }
    if !req.flags.contains(.fixed) {
      let hint = req.newAddr
      if hint.rawValue != 0 && hint.rawValue <= taskSize - req.newLen
        && isFree(mm, hint, req.newLen)
      {
        req.newAddr = hint
      } else if let found = unmappedArea(
        mm, length: req.newLen, alignForTHP: hint.rawValue == 0 && !vma.vmFlags.contains(.mayShare))
      {
        req.newAddr = found
      } else {
        throw KernelError(
          .ENOMEM, "mremap: no free gap of 0x\(String(req.newLen, radix: 16)) bytes in the arena")
      }
    }
    return try moveVMA(mm, req, vma)
  }

  /// A move of a VMA whose userfaultfd asked for UFFD_FEATURE_EVENT_REMAP would queue
  /// a REMAP message and block until it is read: not modelled.
  private func refuseRemapEvent(_ vma: VMA) throws(KernelError) {
    if let id = vma.uffd, let ctx = uffds[id], ctx.features.contains(.eventRemap) {
      throw .notModelled("mremap of a VMA registered with a UFFD_FEATURE_EVENT_REMAP userfaultfd")
    }
  }

  /// `move_vma()`: copies the VMA range to `req.newAddr` (merging there if it can),
  /// moves the PTEs, then unmaps the source, or with DONTUNMAP leaves it empty.
  ///
  ///     before   |---- src ----|               (free)
  ///     copy     |---- src ----|            |---- new ----|
  ///     after    (unmapped, or kept empty)  |---- new ----|   same pages
  /// `source` is the VMA containing `req.addr`.
  private func moveVMA(_ mm: MM, _ req: Remap, _ source: VMA) throws(KernelError) -> VirtAddr {
    guard mm.mapCount < maxMapCount - 3 else {
      throw KernelError(
        .ENOMEM,
        "mremap: map_count \(mm.mapCount) >= vm.max_map_count \(maxMapCount) - 3 before a move")
    }
    var copy = source
    copy.vmStart = req.newAddr
    copy.vmEnd = req.newAddr + req.newLen
    copy.vmPgoff =
      source.isAnonymous && source.anonVMA == .none
      ? req.newAddr.vpn : source.linearPageIndex(req.addr)
    let newVMA = insertVMA(mm, copy, copiedFrom: source)
    // Merging the copy changes only VMAs next to it: the source VMA is looked up again
    // only if it is one of them.
    let oldVMA =
      source.vmEnd == copy.vmStart || source.vmStart == copy.vmEnd
      ? mm.vmas.vma(containing: req.addr)! : source
    movePageTables(
      mm, old: oldVMA, new: newVMA, from: req.addr, to: req.newAddr, length: req.oldLen)
    if source.uffd != nil {
      mm.vmas.update(startingAt: newVMA.vmStart) {
        $0.uffd = nil
        $0.vmFlags.subtract(.uffdAll)
      }
    }
    if req.flags.contains(.dontunmap) {
      let old = mm.vmas.vma(containing: req.addr)!
      if old.vmStart != newVMA.vmStart && old.vmStart == req.addr
        && old.vmEnd == req.addr + req.oldLen
      {
        mm.vmas.update(startingAt: old.vmStart) {
          $0.anonVMA = .none
          $0.anonVMAChainLength = 0
        }
      }
    } else if req.oldLen > 0 {
      try unmapRange(mm, req.addr, req.addr + req.oldLen)
    }
    return req.newAddr
  }

  /// `move_page_tables()`: the page tables of `[from, from + length)` move to the same
  /// offset from `to`, one PMD extent at a time. Entries are unchanged: same PFN,
  /// mapcount, PageAnonExclusive and folio index.
  /// - An extent without a source table is skipped (nothing is allocated at `to`).
  /// - A whole 2 MiB extent (both sides aligned, possibly after `try_realign_addr`
  ///   rounded the start down) moves the table itself (`move_normal_pmd`), leaving no
  ///   table at the source; not for a uffd-registered VMA, whose PTEs are moved one by
  ///   one so their uffd-wp state can be cleared.
  /// - Otherwise a table is allocated at the destination (even for an empty source
  ///   table) and each present PTE moves (`move_ptes`); the source table stays.
  ///
  /// Counts one changed entry per moved table and two per moved PTE, and one TLB flush
  /// range per extent that moved something.
  private func movePageTables(
    _ mm: MM, old oldVMA: VMA, new newVMA: VMA, from: VirtAddr, to: VirtAddr, length: UInt64
  ) {
    guard length > 0 else { return }
    let oldEnd = from + length
    var old = from
    var new = to
    let offsetInPMD = from.rawValue & (pmdSize - 1)
    if offsetInPMD != 0 && length >= pmdSize - offsetInPMD
      && offsetInPMD == to.rawValue & (pmdSize - 1)
      && canAlignDown(mm, oldVMA, from) && canAlignDown(mm, newVMA, to)
    {
      old = VirtAddr(from.rawValue & ~(pmdSize - 1))
      new = VirtAddr(to.rawValue & ~(pmdSize - 1))
    }
    let movesTables = oldVMA.uffd == nil
    var changed = 0
    var flushes = 0
    while old < oldEnd {
      let extent = Swift.min(
        pmdSize - (old.rawValue & (pmdSize - 1)), oldEnd - old,
        pmdSize - (new.rawValue & (pmdSize - 1)))
      defer {
        old += extent
        new += extent
      }
      if extent == pageSize {
        // One page: one lookup finds the source table and its PTE. A present PTE
        // moves in one step, which allocates the destination table (the destination
        // PTE is none: nothing is mapped there); without one, only the table is
        // allocated.
        guard let pte = mm.pageTable.entryIfTable(old) else { continue }
        if pte.isNone {
          mm.pageTable.allocateTable(new)
        } else {
          mm.pageTable.movePTE(from: old, to: new, pte)
          changed += 2
          flushes += 1
        }
        continue
      }
      let oldKey = old.vpn >> 9
      let newKey = new.vpn >> 9
      guard mm.pageTable.hasTable(key: oldKey) else { continue }
      if extent == pmdSize && movesTables && !mm.pageTable.hasTable(key: newKey) {
        mm.pageTable.moveTable(from: oldKey, to: newKey)
        changed += 1
        flushes += 1
        continue
      }
      mm.pageTable.allocateTable(new)
      let present = mm.pageTable.present(in: old, old + extent)
      for (addr, pte) in present {
        mm.pageTable.set(addr, .none)
        mm.pageTable.set(new + (addr - old), pte)
      }
      if !present.isEmpty {
        changed += 2 * present.count
        flushes += 1
      }
    }
    cost.ptesChanged += changed
    cost.tlbFlushRanges += flushes
  }

  /// `can_align_down()`: `addr` is where `vma` starts and nothing is mapped between
  /// the 2 MiB boundary below it and `addr`.
  private func canAlignDown(_ mm: MM, _ vma: VMA, _ addr: VirtAddr) -> Bool {
    guard vma.vmStart == addr else { return false }
    let masked = VirtAddr(addr.rawValue & ~(pmdSize - 1))
    guard let first = mm.vmas.findVMA(masked) else { return true }
    return first.vmStart >= addr
  }
}
