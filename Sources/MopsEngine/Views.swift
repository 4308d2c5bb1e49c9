// Observations: what a script can ask about the model, as the same records every
// backend produces (VMAInfo, PageInfo). Observing never changes state and never
// faults a page in.
import MopsABI

extension World {
  /// The VMAs of `pid` as maps and smaps show them.
  public func vmaInfos(_ pid: PID) throws(KernelError) -> [VMAInfo] {
    let mm = try mm(pid)
    return mm.vmas.map { vmaInfo($0) }
  }

  func vmaInfo(_ vma: VMA) -> VMAInfo {
    let obj = vma.shmem.flatMap { shmemObjects[$0] }
    return VMAInfo(
      start: vma.vmStart, end: vma.vmEnd, flags: vma.vmFlags,
      mapsPgoff: obj == nil ? 0 : vma.vmPgoff, shmemInode: obj?.inode)
  }

  /// The page at `addr` (rounded down) in `pid`, as pagemap, kpagecount and kpageflags
  /// show it. Fields that do not apply are `nil`: everything but the state for an
  /// empty PTE, anon-exclusivity for the zero page and shmem pages.
  public func pageInfo(_ pid: PID, _ addr: VirtAddr) throws(KernelError) -> PageInfo {
    let mm = try mm(pid)
    let page = addr.pageDown
    let pte = mm.pageTable[page]
    if pte.isNone {
      return PageInfo(
        addr: page, state: .none, pfn: nil, mapcount: nil, exclusive: nil, anonExclusive: nil,
        writable: nil, shared: false, contents: nil)
    }
    if pte.isZeroPage {
      return PageInfo(
        addr: page, state: .zeroPage, pfn: World.zeroPFN, mapcount: 0, exclusive: false,
        anonExclusive: nil, writable: false, shared: false, contents: .zero)
    }
    let f = folio(pte.pfn)
    let isShmem = f.flags.contains(.shmem)
    return PageInfo(
      addr: page, state: .present, pfn: pte.pfn, mapcount: Int(f.mapcount),
      exclusive: f.mapcount == 1, anonExclusive: isShmem ? nil : f.isAnonExclusive,
      writable: pte.isWritable, shared: isShmem, contents: contents(pte.pfn))
  }

  /// Totals for `pid`.
  public func processInfo(_ pid: PID) throws(KernelError) -> ProcessInfo {
    let mm = try mm(pid)
    var rss = 0
    var shmem = 0
    for (_, table) in mm.pageTable.tables {
      for pte in table.entries where pte.isPage {
        rss += 1
        if folios[slot(pte.pfn)].flags.contains(.shmem) { shmem += 1 }
      }
    }
    return ProcessInfo(
      pid: pid, parent: mm.parent, rssPages: rss, anonPages: rss - shmem, shmemPages: shmem,
      vmaCount: mm.mapCount)
  }

  /// `/proc/PID/maps`-style text, one line per VMA with its smaps VmFlags.
  public func mapsText(_ pid: PID) throws(KernelError) -> String {
    try vmaInfos(pid).map(\.mapsLine).joined(separator: "\n")
  }

  /// A per-page table of `[start, end)` in `pid`: address, state, frame (the PFN in
  /// hex), mapcount, exclusive (pagemap bit 56), anon-exclusive, writable, contents.
  public func pagesText(_ pid: PID, _ start: VirtAddr, _ end: VirtAddr) throws(KernelError) -> String {
    var infos: [PageInfo] = []
    var addr = start.pageDown
    while addr < end {
      infos.append(try pageInfo(pid, addr))
      let (next, overflow) = addr.rawValue.addingReportingOverflow(pageSize)
      if overflow { break }
      addr = VirtAddr(next)
    }
    return PageInfo.table(infos, showsWritable: true) { p in p.pfn.map { String($0.rawValue, radix: 16) } ?? "?" }
  }

  /// The process tree: each process under its parent, with its VMA count and RSS.
  public func treeText() -> String {
    var lines: [String] = []
    func walk(_ pid: PID, _ depth: Int) {
      guard let info = try? processInfo(pid) else { return }
      let indent = String(repeating: "  ", count: depth)
      lines.append("\(indent)\(pid): \(info.vmaCount) VMAs, rss \(info.rssPages) pages")
      for child in pids where processes[child]?.parent == pid { walk(child, depth + 1) }
    }
    for pid in pids where processes[pid]?.parent.flatMap({ processes[$0] }) == nil { walk(pid, 0) }
    return lines.joined(separator: "\n")
  }

  /// The cost counters, one `name value` per line.
  public func statsText(_ counters: CostCounters? = nil) -> String {
    (counters ?? cost).fields.map { "\($0.0) \($0.1)" }.joined(separator: "\n")
  }
}
