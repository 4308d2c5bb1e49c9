// Models zap_pte_range() (mm/memory.c) for anonymous and shmem pages: clearing PTEs
// on munmap, exit, MADV_DONTNEED and mremap's source teardown. Swap entries and
// file-backed pages are out of scope.
import MopsABI

extension World {
  /// Clears every PTE in `[start, end)` of `mm`: a normal page loses one mapcount and is
  /// freed with its last reference (a shmem page stays in its object's page cache);
  /// zero-page PTEs are simply cleared. Returns the number of PTEs cleared. One TLB
  /// flush range is counted when anything was cleared.
  @discardableResult
  func zapPTERange(_ mm: MM, _ start: VirtAddr, _ end: VirtAddr) -> Int {
    let cleared: Int
    if end.rawValue &- start.rawValue == pageSize {
      // One page (mremap's and munmap's common case): no walk, and no closure, whose
      // capture of the world costs a retain and a release.
      let pte = mm.pageTable.set(start, .none)
      if pte.isPage { dropMapping(pte.pfn) }
      cleared = pte.isNone ? 0 : 1
    } else {
      cleared = mm.pageTable.clear(in: start, end) { _, pte in
        if pte.isPage { dropMapping(pte.pfn) }
      }
    }
    if cleared > 0 {
      cost.ptesChanged += cleared
      cost.tlbFlushRanges += 1
    }
    return cleared
  }

  /// Called when a VMA leaves an mm for good (munmap, exit, the unmapped part of a
  /// MAP_FIXED mapping): zaps its PTEs and drops its reference on a shmem object,
  /// freeing the object's pages with the last reference.
  func releaseVMA(_ mm: MM, _ vma: VMA) {
    zapPTERange(mm, vma.vmStart, vma.vmEnd)
    if let id = vma.shmem { dropShmemRef(id) }
    cost.vmasFreed += 1
  }

  /// `free_pgtables` for `[start, end)`, a range just unmapped (its VMAs already removed
  /// from the tree): releases the empty page tables whose 2 MiB range no VMA outside
  /// `[start, end)` still touches (the kernel's floor/ceiling rule). Tables that stay
  /// allocated keep answering "present" to UFFDIO_MOVE's src walk.
  ///
  /// `next` is the position of the first VMA above the range (`nil`: there is none),
  /// which the caller has just looked up.
  func freePageTables(_ mm: MM, _ start: VirtAddr, _ end: VirtAddr, next: VMATree.Index?) {
    guard start < end else { return }
    let firstKey = start.vpn >> 9
    let lastKey = (end.vpn &- 1) >> 9
    // No VMA lies in [start, end) any more, so a VMA touching a table's 2 MiB region
    // from outside the range is the nearest one below `start` or above `end`.
    let above = next.map { mm.vmas[$0].vmStart }
    // A range inside one table that the VMA above still reaches into (a small unmap,
    // the head of a VMA trimmed): nothing to free, and no need to look further.
    if firstKey == lastKey, let above, above < VirtAddr((lastKey &+ 1) << 21) { return }
    let below = (next.map { mm.vmas.index(before: $0) } ?? mm.vmas.lastIndex).map { mm.vmas[$0].vmEnd }
    // The neighbours are compared first: a table they still use is not looked up at
    // all (`freeTable` leaves a missing or non-empty table alone).
    func free(_ key: UInt64) {
      let regionStart = VirtAddr(key << 21)
      let regionEnd = VirtAddr((key &+ 1) << 21)
      let stillUsed = below.map { $0 > regionStart } ?? false || above.map { $0 < regionEnd } ?? false
      if !stillUsed { mm.pageTable.freeTable(key: key) }
    }
    if lastKey &- firstKey <= UInt64(mm.pageTable.tableCount) {
      var key = firstKey
      while true {
        free(key)
        if key == lastKey { break }
        key &+= 1
      }
    } else {
      var keys: [UInt64] = []
      mm.pageTable.forEachTable(from: firstKey, through: lastKey) { key, _ in keys.append(key) }
      for key in keys { free(key) }
    }
  }

  /// Drops one VMA reference on a shmem object; the last one frees its pages.
  func dropShmemRef(_ id: ShmemObject.ID) {
    shmemObjects[id]!.vmaRefs -= 1
    guard shmemObjects[id]!.vmaRefs == 0 else { return }
    let obj = shmemObjects.removeValue(forKey: id)!
    for pfn in obj.pages.values {
      folios[slot(pfn)].flags.remove(.shmem)
      if folio(pfn).refcount == 0 { freeFolio(pfn) }
    }
  }

  /// Records that one more VMA refers to a shmem object (split, fork, mremap copy).
  @inline(__always)
  func addShmemRef(_ id: ShmemObject.ID?) {
    if let id { shmemObjects[id]!.vmaRefs += 1 }
  }
}
