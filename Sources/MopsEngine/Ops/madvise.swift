// Models madvise(2) of Linux 6.18 (mm/madvise.c): do_madvise() with
// madvise_behavior_valid() and check_input_range(), madvise_walk_vmas() and
// madvise_vma_behavior() for every advice, madvise_update_vma() through vma_modify()
// (ENOMEM from a split reported as EAGAIN), madvise_dontneed_free() with
// madvise_free_pte_range(), madvise_cold_or_pageout_pte_range() plus the reclaim of
// the pages it isolates (shrink_folio_list(), try_to_unmap_one() on a swapless
// machine), madvise_remove() punching a hole in a shmem object, and madvise_populate()
// through GUP.
//
// Left out: mseal (no VMA is ever sealed), MADV_COLLAPSE and the guard-region advice
// (refused as not modelled after the argument checks), KSM merging itself (ksmd is off
// on the reference machine, so MERGEABLE only sets the flag), hugetlb, file mappings,
// swap (WILLNEED and COLD change nothing observable), the per-CPU LRU and lazy-free
// batches (pages behave as if every batch was drained), mlocked folios mapped in
// other processes' VM_LOCKED VMAs, and UFFD_EVENT_REMOVE (non-cooperative events are
// refused by the model).
import MopsABI

/// The advice `madvise_behavior_valid()` accepts on the reference kernel
/// (CONFIG_KSM and CONFIG_TRANSPARENT_HUGEPAGE on, CONFIG_MEMORY_FAILURE off).
private let validAdvice: Set<Advice> = [
  .NORMAL, .RANDOM, .SEQUENTIAL, .WILLNEED, .DONTNEED, .FREE, .REMOVE, .DONTFORK, .DOFORK,
  .MERGEABLE, .UNMERGEABLE, .HUGEPAGE, .NOHUGEPAGE, .DONTDUMP, .DODUMP, .WIPEONFORK,
  .KEEPONFORK, .COLD, .PAGEOUT, .POPULATE_READ, .POPULATE_WRITE, .DONTNEED_LOCKED, .COLLAPSE,
  .GUARD_INSTALL, .GUARD_REMOVE,
]

extension World {
  /// `madvise()`: applies `advice` to `[addr, addr + length)` of process `pid`, with
  /// `length` rounded up to whole pages.
  ///
  /// Every advice except POPULATE walks the VMAs overlapping the range in address
  /// order and applies itself to each overlap; a hole anywhere is remembered as
  /// ENOMEM and the walk goes on (the mapped parts get the advice), while a per-VMA
  /// error ends the call at once (earlier VMAs keep the advice). Flag advice changes
  /// the overlap through `vma_modify()`: it splits a VMA it covers partially and merges
  /// pieces whose flags become equal again. POPULATE_READ/WRITE fault the pages in
  /// like GUP and stop at the first problem.
  ///
  /// Errors, in order: ESRCH (no such process); EINVAL: unknown advice (5–7, 26–101,
  /// 104 and up, negative; HWPOISON and SOFT_OFFLINE need CONFIG_MEMORY_FAILURE),
  /// `addr` not page aligned, `length` rounding up past 2^64, or `addr + length`
  /// wrapping; then `length` 0 succeeds with nothing done. COLLAPSE, GUARD_INSTALL and
  /// GUARD_REMOVE are refused as not modelled. Walk: ENOMEM when part of the range is
  /// unmapped (reported after the walk), or the per-VMA error of the first VMA that
  /// refuses the advice:
  /// - DOFORK: EINVAL on VM_IO; WIPEONFORK: EINVAL on a shared or file VMA (shared
  ///   anonymous memory included); KEEPONFORK: EINVAL on VM_DROPPABLE; DODUMP: EINVAL
  ///   on VM_SPECIAL or VM_DROPPABLE; flag advice: EAGAIN when a split hits
  ///   `vm.max_map_count`;
  /// - DONTNEED, FREE: EINVAL on VM_LOCKED or VM_PFNMAP (DONTNEED_LOCKED: VM_PFNMAP
  ///   only); FREE: EINVAL on a non-anonymous (shared) VMA;
  /// - COLD, PAGEOUT: EINVAL on VM_LOCKED, VM_PFNMAP or VM_HUGETLB;
  /// - REMOVE: EINVAL on VM_LOCKED, EINVAL on a private (fileless) VMA, EACCES unless
  ///   the VMA is shared and may be written.
  ///
  /// POPULATE: ENOMEM at the first address without VMA, EINVAL at the first VMA that
  /// GUP refuses (VM_IO/VM_PFNMAP, no PROT_READ for READ, no PROT_WRITE for WRITE),
  /// EFAULT at the first page whose fault raises SIGBUS; pages before the stop stay
  /// populated. A page whose fault would block on a userfaultfd (or map a THP) makes
  /// the call refuse as not modelled before anything is done.
  public func madvise(_ pid: PID, addr: VirtAddr, length: UInt64, advice: Advice) throws(KernelError) {
    defer { verify(after: "madvise \(pid) \(addr) \(advice)") }
    let mm = try mm(pid)
    guard validAdvice.contains(advice) else {
      throw KernelError(.EINVAL, "madvise_behavior_valid: \(advice) is not valid on this kernel")
    }
    guard addr.isPageAligned else { throw KernelError(.EINVAL, "madvise: start \(addr) is not page aligned") }
    guard let len = pageAlignUp(length) else {
      throw KernelError(.EINVAL, "madvise: length \(length) rounded up to a page wraps to 0")
    }
    let (endRaw, wraps) = addr.rawValue.addingReportingOverflow(len)
    guard !wraps else { throw KernelError(.EINVAL, "madvise: \(addr) + \(len) wraps") }
    guard length != 0 else { return }
    let end = VirtAddr(endRaw)
    switch advice {
    case .COLLAPSE, .GUARD_INSTALL, .GUARD_REMOVE:
      throw .notModelled("\(advice) (THP collapse and guard regions are not modelled yet)")
    case .POPULATE_READ, .POPULATE_WRITE:
      try madvisePopulate(mm, addr, end, write: advice == .POPULATE_WRITE)
    default:
      try madviseWalkVMAs(mm, addr, end, advice)
    }
  }

  // MARK: The VMA walk

  /// `madvise_walk_vmas()`: each VMA overlapping `[start, end)` gets the advice on its
  /// overlap. After a flag change the walk resumes at the end of the VMA that now
  /// covers the overlap (a merge may have absorbed the next one).
  ///
  ///     range          [------------------------------)
  ///     VMAs      |--- a ---|   hole   |--- b ---|         |--- c ---|
  ///     advised        [****]          [*********]  hole   [***]       → ENOMEM
  private func madviseWalkVMAs(_ mm: MM, _ start: VirtAddr, _ end: VirtAddr, _ advice: Advice) throws(KernelError) {
    var start = start
    var unmapped: KernelError?
    var next = mm.vmas.findVMA(start)
    while true {
      guard let vma = next else {
        throw KernelError(.ENOMEM, "madvise: nothing is mapped in [\(start), \(end))")
      }
      if start < vma.vmStart {
        unmapped = KernelError(.ENOMEM, "madvise: [\(start), \(min(vma.vmStart, end))) is not mapped")
        start = vma.vmStart
        if start >= end { break }
      }
      let rangeEnd = min(vma.vmEnd, end)
      let covering = try madviseVMA(mm, vma, start, rangeEnd, advice)
      if covering.vmEnd >= end { break }
      start = covering.vmEnd
      next = mm.vmas.findVMA(covering.vmEnd)
    }
    if let unmapped { throw unmapped }
  }

  /// `madvise_vma_behavior()` on `[start, end)`, part of `vma`. Returns the VMA that
  /// covers the range afterwards.
  private func madviseVMA(
    _ mm: MM, _ vma: VMA, _ start: VirtAddr, _ end: VirtAddr, _ advice: Advice
  ) throws(KernelError) -> VMA {
    var flags = vma.vmFlags
    switch advice {
    case .REMOVE:
      try madviseRemove(vma, start, end)
      return vma
    case .WILLNEED:
      return vma
    case .COLD, .PAGEOUT:
      guard vma.vmFlags.isDisjoint(with: [.locked, .pfnmap, .hugetlb]) else {
        throw KernelError(.EINVAL, "\(advice): \(vma) is locked, VM_PFNMAP or hugetlb")
      }
      if advice == .PAGEOUT { madvisePageout(mm, vma, start, end) }
      return vma
    case .DONTNEED, .DONTNEED_LOCKED, .FREE:
      try madviseDontneedFree(mm, vma, start, end, advice)
      return vma
    case .NORMAL:
      flags.subtract([.randRead, .seqRead])
    case .SEQUENTIAL:
      flags.remove(.randRead)
      flags.insert(.seqRead)
    case .RANDOM:
      flags.remove(.seqRead)
      flags.insert(.randRead)
    case .DONTFORK:
      flags.insert(.dontcopy)
    case .DOFORK:
      guard !flags.contains(.io) else { throw KernelError(.EINVAL, "MADV_DOFORK: \(vma) is VM_IO") }
      flags.remove(.dontcopy)
    case .WIPEONFORK:
      guard vma.shmem == nil && !flags.contains(.shared) else {
        throw KernelError(.EINVAL, "MADV_WIPEONFORK: \(vma) is shared or file-backed")
      }
      flags.insert(.wipeonfork)
    case .KEEPONFORK:
      guard !flags.contains(.droppable) else {
        throw KernelError(.EINVAL, "MADV_KEEPONFORK: \(vma) is VM_DROPPABLE")
      }
      flags.remove(.wipeonfork)
    case .DONTDUMP:
      flags.insert(.dontdump)
    case .DODUMP:
      guard flags.isDisjoint(with: VMFlags.special.union(.droppable)) else {
        throw KernelError(.EINVAL, "MADV_DODUMP: \(vma) is VM_SPECIAL or VM_DROPPABLE")
      }
      flags.remove(.dontdump)
    case .MERGEABLE:
      // ksm_madvise(): already mergeable, or not KSM-compatible → ignored.
      let incompatible: VMFlags = [.shared, .mayShare, .pfnmap, .io, .dontexpand, .hugetlb, .mixedmap, .droppable]
      if flags.isDisjoint(with: incompatible) { flags.insert(.mergeable) }
    case .UNMERGEABLE:
      flags.remove(.mergeable)
    case .HUGEPAGE:
      flags.remove(.nohugepage)
      flags.insert(.hugepage)
    case .NOHUGEPAGE:
      flags.remove(.hugepage)
      flags.insert(.nohugepage)
    default:
      preconditionFailure("madviseVMA: \(advice) does not walk VMAs")
    }
    do {
      return try vmaModify(mm, start, end) { $0.vmFlags = flags }
    } catch {
      guard error.errno == .ENOMEM else { throw error }
      throw KernelError(.EAGAIN, "\(advice): \(error.reason)")
    }
  }

  // MARK: DONTNEED, FREE

  /// `madvise_dontneed_free()`: DONTNEED zaps the PTEs of the range (pages lose a
  /// mapping and are freed with their last reference, shmem pages stay in their
  /// object); FREE marks private anonymous pages lazy-free (`madvise_free_pte_range()`).
  private func madviseDontneedFree(
    _ mm: MM, _ vma: VMA, _ start: VirtAddr, _ end: VirtAddr, _ advice: Advice
  ) throws(KernelError) {
    var forbidden: VMFlags = .pfnmap
    if advice != .DONTNEED_LOCKED { forbidden.insert(.locked) }
    guard vma.vmFlags.isDisjoint(with: forbidden) else {
      throw KernelError(.EINVAL, "\(advice): \(vma) is \(vma.vmFlags.contains(.locked) ? "locked" : "VM_PFNMAP")")
    }
    guard advice == .FREE else {
      zapPTERange(mm, start, end)
      return
    }
    guard vma.isAnonymous else { throw KernelError(.EINVAL, "MADV_FREE: \(vma) is not anonymous") }
    var cleaned = 0
    for (at, pte) in mm.pageTable.present(in: start, end) where pte.isPage {
      let s = slot(pte.pfn)
      if folios[s].flags.contains(.dirty) {
        if folios[s].mapcount != 1 { continue }
        folios[s].flags.remove(.dirty)
      }
      if pte.isDirty {
        mm.pageTable.set(at, pte.withDirty(false))
        cleaned += 1
      }
      folios[s].flags.insert(.lazyfree)
    }
    if cleaned > 0 {
      cost.ptesChanged += cleaned
      cost.tlbFlushRanges += 1
    }
  }

  // MARK: PAGEOUT

  /// MADV_PAGEOUT on a swapless machine: each page of the range mapped only here is
  /// reclaimed. A shmem page is unmapped (`try_to_unmap_one()` moves a dirty PTE's bit
  /// to the folio); a clean one (never written: it reads back as zeroes) that nothing
  /// else references is then dropped from its object's page cache and freed
  /// (`__remove_mapping()`), a dirty or pinned one stays in the object (writeback has no
  /// swap). A lazy-free anonymous page whose PTE and folio are clean and that nothing
  /// else references is discarded (the PTE becomes none); if it was written again it
  /// is kept and stops being lazy-free. Every other anonymous page stays (it could only
  /// go to swap). The zero page and pages mapped more than once are skipped.
  private func madvisePageout(_ mm: MM, _ vma: VMA, _ start: VirtAddr, _ end: VirtAddr) {
    var unmapped = 0
    for (at, pte) in mm.pageTable.present(in: start, end) where pte.isPage {
      let s = slot(pte.pfn)
      let f = folios[s]
      guard f.mapcount == 1 else { continue }
      if f.flags.contains(.shmem) {
        mm.pageTable.set(at, .none)
        // `__remove_mapping()` needs the page cache's reference and the mapping's to be
        // the only ones: a pinned page stays cached.
        if !pte.isDirty && !f.flags.contains(.dirty) && f.refcount == f.mapcount + 1, let id = vma.shmem {
          shmemObjects[id]!.pages[f.index] = nil
          folios[s].flags.remove(.shmem)
        }
        dropMapping(pte.pfn)
        unmapped += 1
      } else if f.flags.contains(.lazyfree) {
        if pte.isDirty { folios[s].flags.insert(.dirty) }
        if folios[s].flags.contains(.dirty) && !vma.vmFlags.contains(.droppable) {
          folios[s].flags.remove(.lazyfree)
        } else if f.refcount == f.mapcount {
          mm.pageTable.set(at, .none)
          dropMapping(pte.pfn)
          unmapped += 1
        }
      }
    }
    if unmapped > 0 {
      cost.ptesChanged += unmapped
      cost.tlbFlushRanges += 1
    }
  }

  // MARK: REMOVE

  /// `madvise_remove()` → `shmem_fallocate(PUNCH_HOLE)`: every process's PTEs mapping
  /// the object's pages at the range's offsets are zapped (`unmap_mapping_range()`),
  /// then the pages leave the object (`shmem_truncate_range()`) and are freed unless
  /// something else (a pin) still references them. Later accesses see zeroes.
  private func madviseRemove(_ vma: VMA, _ start: VirtAddr, _ end: VirtAddr) throws(KernelError) {
    guard !vma.vmFlags.contains(.locked) else { throw KernelError(.EINVAL, "MADV_REMOVE: \(vma) is locked") }
    guard let id = vma.shmem else { throw KernelError(.EINVAL, "MADV_REMOVE: \(vma) has no file") }
    guard vma.vmFlags.isSuperset(of: [.shared, .mayWrite]) else {
      throw KernelError(.EACCES, "MADV_REMOVE: \(vma) is not a shared mapping that may be written")
    }
    let first = vma.linearPageIndex(start)
    let last = vma.linearPageIndex(end)
    for pid in pids {
      let mapper = processes[pid]!
      for other in mapper.vmas where other.shmem == id {
        let lo = max(first, other.vmPgoff)
        let hi = min(last, other.vmPgoff + other.pageCount)
        guard lo < hi else { continue }
        zapPTERange(mapper, other.vmStart + ((lo - other.vmPgoff) << pageShift),
                    other.vmStart + ((hi - other.vmPgoff) << pageShift))
      }
    }
    let offsets = shmemObjects[id]!.pages.keys.filter { $0 >= first && $0 < last }
    for offset in offsets {
      let pfn = shmemObjects[id]!.pages.removeValue(forKey: offset)!
      folios[slot(pfn)].flags.remove(.shmem)
      if folio(pfn).refcount == 0 { freeFolio(pfn) }
    }
  }

  // MARK: POPULATE

  /// `madvise_populate()` → `faultin_page_range()`: faults every page in address order
  /// as GUP does (FOLL_TOUCH, not a user-mode fault), read or write. Stops at the first
  /// address without VMA (ENOMEM), VMA GUP refuses (EINVAL) or fault raising SIGBUS
  /// (EFAULT). A write faults COW-shared pages like a store (copy or reuse) and
  /// replaces zero pages.
  private func madvisePopulate(_ mm: MM, _ start: VirtAddr, _ end: VirtAddr, write: Bool) throws(KernelError) {
    let advice: Advice = write ? .POPULATE_WRITE : .POPULATE_READ
    if let refusal = gupRefusal(mm, start, end, write: write, caller: "\(advice)") { throw refusal }
    var page = start
    while page < end {
      guard var vma = mm.vmas.vma(containing: page) else {
        throw KernelError(.ENOMEM, "\(advice): no VMA at \(page)")
      }
      guard gupVMAAllowed(vma, write: write) else {
        throw KernelError(.EINVAL, "\(advice): GUP refuses \(vma)")
      }
      let stop = min(vma.vmEnd, end)
      while page < stop {
        switch gupFaultIn(mm, vma, page, write: write) {
        case .done: break
        case .sigbus: throw KernelError(.EFAULT, "\(advice): the fault at \(page) raised SIGBUS")
        case .userfault, .notModelled: preconditionFailure("gupRefusal let a blocking fault through at \(page)")
        }
        if vma.anonVMA == .none, let refreshed = mm.vmas.vma(containing: page) { vma = refreshed }
        page += pageSize
      }
    }
  }
}
