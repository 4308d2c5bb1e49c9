// Explanations in the kernel's terms: who maps a page and which event made it so.
import MopsABI

extension World {
  /// Who maps frame `pfn` and since which fork it has been shared. Walks every page
  /// table (an error path only, never on a hot path).
  public func sharing(of pfn: PFN) -> Sharing {
    var mappers: [PID] = []
    for pid in pids {
      let mm = processes[pid]!
      var found = false
      for (_, table) in mm.pageTable.tables where !found {
        for pte in table.entries where pte.isPage && pte.pfn == pfn {
          found = true
          break
        }
      }
      if found { mappers.append(pid) }
    }
    let since = event(sharedSince(pfn))
    return Sharing(pfn: pfn, mappedBy: mappers, sinceTag: since?.tag, sinceForkChild: since?.otherPID)
  }

  /// "page 0x… (pfn …) is not anon-exclusive: mapped by pid 1 and pid 2, shared since
  /// the fork at tag 9" — the reason attached to EBUSY on a page that is not exclusive.
  func notExclusiveError(_ addr: VirtAddr, _ pfn: PFN, check: String) -> KernelError {
    let s = sharing(of: pfn)
    var why = "\(check): page at \(addr) (\(pfn)) is not anon-exclusive"
    if s.mappedBy.count > 1 {
      why += "; mapped by " + s.mappedBy.map(\.description).joined(separator: " and ")
    } else if let only = s.mappedBy.first {
      why += "; only \(only) maps it now, but exit and unmap never restore exclusivity until a write fault reuses the page"
    }
    if let tag = s.sinceTag, let child = s.sinceForkChild {
      why += "; shared since the fork that created \(child) (tag \(tag))"
    }
    return KernelError(.EBUSY, why, sharing: s)
  }
}
