// Models what a process's exit does to memory in Linux 6.18: exit_mm() → mmput() →
// exit_mmap() (unmap_vmas() over every VMA, free_pgtables(), remove_vma()), then
// exit_files() closing its userfaultfds (userfaultfd_release() for the last holder) and
// the io_uring instances holding its pinned buffers.
// Left out: everything that is not memory (signals, reaping, orphan re-parenting:
// children keep their parent pid).
import MopsABI

extension World {
  /// `exit()`: process `pid` ends. Every PTE is zapped (each page loses one mapcount
  /// and reference and is freed with its last one; shmem pages stay in their object
  /// while another VMA refers to it), every VMA is released, then the process's
  /// userfaultfds are closed: the last holder of a context releases it, which
  /// unregisters its VMAs in the context's mm if that process still lives; its pinned
  /// buffers are unpinned (frames nothing else references are freed). Exit never
  /// restores PageAnonExclusive on the pages other processes still map.
  ///
  /// Errors: ESRCH if `pid` is not a live process.
  public func exit(_ pid: PID) throws(KernelError) {
    defer { verify(after: "exit \(pid)") }
    let mm = try mm(pid)
    record(.exit, pid)
    zapAll(mm)
    for vma in mm.vmas {
      if let id = vma.shmem { dropShmemRef(id) }
      cost.vmasFreed += 1
    }
    mm.vmas = VMATree()
    for id in mm.uffds.sorted(by: { $0.rawValue < $1.rawValue }) { closeUffdFile(mm, id) }
    releasePinnedBuffers(mm)
    processes[pid] = nil
  }

  /// `unmap_vmas()` over the whole address space, a table at a time.
  private func zapAll(_ mm: MM) {
    for table in mm.pageTable.tables.values {
      if let run = table.consecutiveFrames {
        dropMappings(from: run.first, count: run.count)
      } else {
        for pte in table.stored where pte.isPage { dropMapping(pte.pfn) }
      }
    }
    if mm.pageTable.used > 0 {
      cost.ptesChanged += mm.pageTable.used
      cost.tlbFlushRanges += 1
    }
    mm.pageTable = PageTable()
  }

  /// ``dropMapping(_:)`` of `count` consecutive frames from `first` (a table's run of
  /// frames), in frame order: one pass lowers their mapcounts, and only the frames
  /// whose last mapping went are looked at again, to be freed unless pinned or
  /// otherwise referenced.
  private func dropMappings(from first: PFN, count: Int) {
    var unmapped: [PFN] = []
    folios.withUnsafeMutableAccess { f in
      let s = slot(first)
      for k in 0..<count {
        let hot = f.hot(s + k)
        hot.pointee.removeMapping()
        if hot.pointee.mapcount == 0 { unmapped.append(PFN(first.rawValue + UInt64(k))) }
      }
    }
    for pfn in unmapped where folio(pfn).refcount == 0 { freeFolio(pfn) }
  }
}
