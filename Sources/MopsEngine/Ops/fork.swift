// Models fork()'s address-space copy in Linux 6.18: dup_mmap() (mm/mmap.c) with
// vm_area_dup(), dup_userfaultfd(), anon_vma_fork() and copy_page_range()
// (mm/memory.c: vma_needs_copy(), copy_present_ptes(), __folio_try_dup_anon_rmap(),
// copy_present_page()). The child also inherits the parent's open userfaultfds (the
// file table is copied).
//
// Left out: anon_vma_clone()'s reuse of an idle anon_vma (the child always gets a new
// anon_vma chained to the parent's), swap entries, THP (PMD-mapped folios are never
// created), UFFD_FEATURE_EVENT_FORK (the model refuses non-cooperative events, so no
// context can ask to follow the child), VM_PFNMAP/VM_MIXEDMAP and uffd-wp PTE bits.
import MopsABI

extension World {
  /// `fork()`: creates a child of `pid` whose address space is a copy of the
  /// parent's, as `dup_mmap()` builds it. Per parent VMA, in address order:
  /// - `VM_DONTCOPY` (MADV_DONTFORK): not copied, the range is a hole in the child;
  /// - otherwise duplicated with the same bounds, flags and pgoff, minus
  ///   `VM_LOCKED`/`VM_LOCKONFAULT`, minus its userfaultfd registration;
  /// - `VM_WIPEONFORK`: the child's VMA has no anon_vma and no PTEs;
  /// - else the child's VMA gets a new anon_vma chained to the parent's (one more
  ///   chain link), and the PTEs are copied only if the parent's VMA has an anon_vma
  ///   (`vma_needs_copy()`): a VMA that only took read faults (or a shared anonymous
  ///   one) starts empty in the child and refaults.
  ///
  /// Per copied PTE: the zero page is copied as it is; a page is shared (mapcount + 1,
  /// PageAnonExclusive cleared, writable PTEs write-protected in both processes, the
  /// dirty bit kept), except an anon-exclusive page that may be DMA-pinned while the
  /// parent has pinned anything (`MMF_HAS_PINNED`): the child gets its own copy at once
  /// and the parent's PTE and page are untouched. Shared pages remember this fork as
  /// the event that made them shared. The child's pid is returned.
  ///
  /// Errors: ESRCH if `pid` is not a live process.
  public func fork(_ pid: PID) throws(KernelError) -> PID {
    defer { verify(after: "fork \(pid)") }
    let parent = try mm(pid)
    let event = record(.fork, pid, other: PID(nextPID))
    forkEvents.append(event)
    let ordinal = forkEvents.count <= FolioArray.Hot.maxFork ? UInt32(forkEvents.count) : 0
    let child = createProcess(parent: pid, createdBy: event)
    child.uffds = parent.uffds
    for id in parent.uffds { uffds[id]!.holders.insert(child.pid) }
    for vma in parent.vmas where !vma.vmFlags.contains(.dontcopy) {
      var copy = vma
      copy.uffd = nil
      copy.vmFlags.subtract(VMFlags.uffdAll.union([.locked, .lockonfault]))
      if vma.vmFlags.contains(.wipeonfork) {
        copy.anonVMA = .none
        copy.anonVMAChainLength = 0
      } else if vma.anonVMA != .none {
        copy.anonVMA = newAnonVMA(parent: vma.anonVMA)
        copy.anonVMAChainLength = vma.anonVMAChainLength == .max ? .max : vma.anonVMAChainLength + 1
      }
      child.vmas.insert(copy)
      addShmemRef(copy.shmem)
      cost.vmasAllocated += 1
      if !vma.vmFlags.contains(.wipeonfork) && vma.anonVMA != .none {
        copyPageRange(from: parent, vma, to: child, copy, event: event, ordinal: ordinal)
      }
    }
    cost.tlbFlushRanges += 1
    return child.pid
  }

  /// `copy_page_range()` for one VMA, a 512-entry table at a time: the parent's
  /// entries are updated in place (write-protect, folio counts) and a table lying
  /// wholly inside the VMA is handed to the child as it is, sharing storage. Wherever
  /// the parent has a table (even an empty one) the child gets one (`pte_alloc`).
  private func copyPageRange(from parent: MM, _ src: VMA, to child: MM, _ dst: VMA, event: EventID, ordinal: UInt32) {
    let firstKey = src.vmStart.vpn >> 9
    let lastKey = (src.vmEnd.vpn - 1) >> 9
    var keys: [UInt64] = []
    parent.pageTable.forEachTable(from: firstKey, through: lastKey) { key, _ in keys.append(key) }
    let maybePinnedCopies = parent.hasPinned
    let share = FolioArray.Hot.ForkShare(ordinal: ordinal)
    var pinned: [VirtAddr] = []
    for key in keys {
      let base = key << 9
      let lo = Int(max(src.vmStart.vpn, base) - base)
      let hi = Int(min(src.vmEnd.vpn, base + 512) - base)
      var copied = 0
      var writeProtected = 0
      let table = parent.pageTable.modifyTable(key) { t in
        if !maybePinnedCopies && lo == 0 && hi == 512, let run = t.consecutiveFrames {
          // The table lies wholly inside the VMA and maps nothing but consecutive
          // frames from its first entry, as a run of faults leaves it: write-protect
          // it as a whole and share its frames in one pass over their fork-time words,
          // without visiting the entries (folio_pte_batch() batches a large folio's
          // PTEs the same way).
          if t.runIsWritable { writeProtected = run.count }
          t.writeProtectAll()
          folios.withUnsafeMutableAccess { f in
            f.updateHot(from: slot(run.first), count: run.count) { share($0) }
          }
          copied = run.count
          return t
        }
        t.withEntries { e in
          folios.withUnsafeMutableAccess { f in
            for i in lo..<hi {
              let pte = e[i]
              guard pte.isPage else {
                if !pte.isNone { copied &+= 1 }
                continue
              }
              let s = slot(pte.pfn)
              let folio = f.hot(s)
              if maybePinnedCopies && folio.pointee.flags.contains(.anonExclusive)
                && Folio(folio.pointee, f.cold(s).pointee).isMaybeDMAPinned
              {
                pinned.append(VirtAddr((base + UInt64(i)) << pageShift))
                continue
              }
              copied &+= 1
              folio.pointee.word = share(folio.pointee.word)
              if pte.isWritable {
                e[i] = pte.withWritable(false)
                writeProtected &+= 1
              }
            }
          }
        }
        return t
      }
      cost.ptesChanged += copied + writeProtected
      if lo == 0 && hi == 512 && pinned.isEmpty {
        child.pageTable.installTable(key, table)
        continue
      }
      child.pageTable.allocateTable(VirtAddr(base << pageShift))
      for i in lo..<hi {
        let at = VirtAddr((base + UInt64(i)) << pageShift)
        let pte = table[i]
        guard !pte.isNone, !pinned.contains(at) else { continue }
        child.pageTable.set(at, pte)
      }
      for at in pinned { copyPresentPage(from: parent.pageTable[at], to: child, dst, at, event: event) }
      pinned.removeAll(keepingCapacity: true)
    }
  }

  /// `copy_present_page()`: the child gets a private copy of a possibly pinned page,
  /// exclusive, dirty, writable iff the VMA is.
  private func copyPresentPage(from old: PTE, to child: MM, _ dst: VMA, _ at: VirtAddr, event: EventID) {
    let pfn = allocFolio()
    copyContents(from: old.pfn, to: pfn)
    withFolio(pfn) { f in
      f.mapcount = 1
      f.flags.insert(.anonExclusive)
      f.index = dst.linearPageIndex(at)
      f.anonVMA = dst.anonVMA
      f.origin = event
    }
    child.pageTable.set(at, .page(pfn, writable: dst.vmFlags.contains(.write), dirty: true))
    cost.pagesCopied += 1
    cost.ptesChanged += 1
  }
}

extension Folio {
  /// `folio_maybe_dma_pinned()` for an order-0 folio: the kernel's refcount, in which
  /// each FOLL_PIN counts `GUP_PIN_COUNTING_BIAS` (1024), reaches that bias.
  var isMaybeDMAPinned: Bool {
    pins > 0 || refcount >= 1024
  }
}
