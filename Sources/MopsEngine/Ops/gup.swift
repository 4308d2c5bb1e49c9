// Models the parts of get_user_pages (mm/gup.c, Linux 6.18) that MADV_POPULATE_* and
// long-term pinning go through: check_vma_flags() without FOLL_FORCE,
// follow_page_pte() with FOLL_TOUCH, and faultin_page() into handle_mm_fault()
// (not a user-mode fault). Left out: FOLL_FORCE, stack expansion, hugetlb, device
// pages, migration of pinned pages out of ZONE_MOVABLE/CMA (the reference machine has
// neither).
import MopsABI

extension World {
  /// `check_vma_flags()`: VM_IO/VM_PFNMAP are refused; a write needs VM_WRITE, a read
  /// VM_READ (unlike a CPU load, which any of r/w/x allows).
  func gupVMAAllowed(_ vma: VMA, write: Bool) -> Bool {
    vma.vmFlags.isDisjoint(with: [.io, .pfnmap]) && vma.vmFlags.contains(write ? .write : .read)
  }

  /// `follow_page_mask()`, then `faultin_page()` when the PTE is none or a write meets
  /// a read-only PTE (the zero page included). FOLL_TOUCH on a write through a clean
  /// writable PTE marks the folio dirty (the PTE stays clean). `.done` carries the PTE
  /// that satisfies the access.
  func gupFaultIn(_ mm: MM, _ vma: VMA, _ page: VirtAddr, write: Bool) -> FaultResult {
    let pte = mm.pageTable[page]
    if pte.isNone || (write && !pte.isWritable) {
      return handleMMFault(mm, vma, page, pte, write: write, user: false)
    }
    if write && pte.isPage && !pte.isDirty { folios[slot(pte.pfn)].flags.insert(.dirty) }
    return .done(pte)
  }

  /// Walks `[start, end)` as `__get_user_pages()` would, without changing anything, up
  /// to the first page where the real walk stops, and returns a refusal if that stop
  /// is a fault the model cannot answer: one that blocks in `handle_userfault()` (a
  /// GUP fault has no thread a script could resume) or one that would map a THP. A
  /// walk stopping at a hole, a refused VMA or a SIGBUS is left to the real walk.
  func gupRefusal(_ mm: MM, _ start: VirtAddr, _ end: VirtAddr, write: Bool, caller: String) -> KernelError? {
    var page = start
    while page < end {
      guard let vma = mm.vmas.vma(containing: page), gupVMAAllowed(vma, write: write) else { return nil }
      let stop = min(vma.vmEnd, end)
      while page < stop {
        let pte = mm.pageTable[page]
        if pte.isNone || (write && !pte.isWritable),
          let result = faultStop(mm, vma, page, pte, write: write, user: false)
        {
          switch result {
          case .userfault(let id):
            return .notModelled(
              "\(caller) would block at \(page) in handle_userfault() on \(id) until the fault is resolved")
          case .notModelled(let why): return .notModelled(why)
          case .done, .sigbus: return nil
          }
        }
        page += pageSize
      }
    }
    return nil
  }
}
