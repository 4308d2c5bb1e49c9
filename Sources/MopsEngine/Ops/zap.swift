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
    let cleared = mm.pageTable.clear(in: start, end) { _, pte in
      if pte.isPage { dropMapping(pte.pfn) }
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
  func freePageTables(_ mm: MM, _ start: VirtAddr, _ end: VirtAddr) {
    guard start < end else { return }
    let firstKey = start.vpn >> 9
    let lastKey = (end.vpn &- 1) >> 9
    func free(_ key: UInt64) {
      guard mm.pageTable.hasTable(key: key) else { return }
      let regionStart = VirtAddr(key << 21)
      let regionEnd = VirtAddr((key &+ 1) << 21)
      var stillUsed = false
      var i = mm.vmas.index(above: regionStart)
      while let idx = i, !stillUsed {
        let v = mm.vmas[idx]
        if v.vmStart >= regionEnd { break }
        stillUsed = v.vmStart < start || v.vmEnd > end
        i = mm.vmas.index(after: idx)
      }
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
  func addShmemRef(_ id: ShmemObject.ID?) {
    if let id { shmemObjects[id]!.vmaRefs += 1 }
  }
}
