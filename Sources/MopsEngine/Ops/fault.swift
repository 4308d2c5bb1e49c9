// Models the x86-64 user page fault of Linux 6.18 for anonymous memory:
// do_user_addr_fault() (VMA lookup, access_error()), handle_mm_fault() and
// handle_pte_fault() with do_anonymous_page() (zero page on read, zeroed exclusive page
// on write), do_wp_page() (wp_can_reuse_anon_folio(), wp_page_reuse(), wp_page_copy(),
// wp_page_shared()), the shmem path of shared anonymous VMAs (do_read_fault() with
// do_fault_around()/filemap_map_pages(), do_shared_fault(), shmem_get_folio_gfp()), and
// handle_userfault() for MISSING registrations. The same core serves GUP
// (MADV_POPULATE_*, pinning) through `handleMMFault`.
//
// Left out: THP (a fault that would map a PMD-sized folio or the huge zero page is
// refused as not modelled), stack expansion of VM_GROWSDOWN VMAs, protection keys,
// KSM, swap, uffd-wp PTE markers, and the per-CPU LRU batches: a folio parked in one
// holds a reference that makes a real kernel copy instead of reuse until the batch
// drains (the model gives the outcome with every batch drained, and the live backend
// drains them after each operation).
import MopsABI

/// What a user-space access did.
public enum AccessOutcome: Hashable, Sendable {
  /// The access completed (possibly after page faults).
  case ok
  /// The access raised a synchronous signal (SIGSEGV or SIGBUS) and was not performed.
  case signal(Signal)
  /// The access hit a range registered MISSING with this userfaultfd and nothing
  /// satisfies it: the thread would block in `handle_userfault()` until the fault is
  /// resolved. The model reports it and performs no access; no PTE changes (as in the
  /// kernel, a private VMA may have got an empty page table and, for a store, its
  /// anon_vma).
  case userfault(UserfaultfdCtx.ID, VirtAddr)
  /// The access needs behaviour the model deliberately leaves out (THP); nothing was
  /// changed. The text says what and why.
  case notModelled(String)
  /// No live process has this pid (the access could not be attempted: ESRCH).
  case noSuchProcess(PID)
}

/// What `handleMMFault` did with one fault.
enum FaultResult {
  /// The PTE now allows the access (this is the new PTE); one fault was counted.
  case done(PTE)
  /// `VM_FAULT_SIGBUS` (shmem offset past the object's end, or a userfault that the
  /// context turns into SIGBUS).
  case sigbus
  /// The fault blocks in `handle_userfault()` on this context.
  case userfault(UserfaultfdCtx.ID)
  /// THP territory: refused, nothing changed.
  case notModelled(String)
}

/// `UFFD_USER_MODE_ONLY`: the context only handles faults raised by user-mode accesses.
let uffdUserModeOnly: Int32 = 1

/// Pages mapped around a shmem read fault (`fault_around_bytes` = 64 KiB).
let faultAroundPages: UInt64 = 16

extension World {
  // MARK: Public accesses

  /// A load or store of one byte at `addr` by process `pid`, as a CPU instruction would
  /// do it: `do_user_addr_fault()` then `handle_mm_fault()` when the PTE does not allow
  /// the access. A store with `fill` writes `fill` to every byte of the page; without
  /// `fill` it leaves the bytes as they are (only the fault and the dirty bit happen).
  ///
  /// Outcomes, in the kernel's order: no VMA → SIGSEGV `SEGV_MAPERR`; a store to a VMA
  /// without PROT_WRITE, or any access to a VMA without PROT_READ/WRITE/EXEC →
  /// SIGSEGV `SEGV_ACCERR`; a THP-eligible fault → not modelled; a shared anonymous
  /// page past the object's end → SIGBUS `BUS_ADRERR`; a MISSING-registered userfaultfd
  /// range with nothing mapped → userfault (SIGBUS `BUS_ADRERR` if the context asked
  /// for `UFFD_FEATURE_SIGBUS`).
  public func touch(_ pid: PID, addr: VirtAddr, write: Bool, fill: UInt8?) -> AccessOutcome {
    defer { verify(after: "touch \(pid) \(addr)") }
    // The access cannot end the process, so the mm is borrowed, not retained.
    guard let mm = processRef(pid) else { return .noSuchProcess(pid) }
    let (pte, outcome) = mm._withUnsafeGuaranteedRef { userAccess($0, addr, write: write) }
    guard case .ok = outcome else { return outcome }
    if write, let fill {
      let sparse = folios.modifyCold(slot(pte.pfn)) { f in
        f.fill = fill
        defer { f.sparse = 0 }
        return f.sparse
      }
      if sparse != 0 { sparseContents[sparse] = nil }
    }
    return .ok
  }

  /// Stores `bytes` at `addr` (the range may cross pages), page by page in ascending
  /// order, each page accessed as by ``touch(_:addr:write:fill:)``. The first page
  /// whose access fails stops the copy: bytes before it stay written, the outcome is
  /// that page's.
  public func writeBytes(_ pid: PID, addr: VirtAddr, _ bytes: [UInt8]) -> AccessOutcome {
    defer { verify(after: "write \(pid) \(addr)") }
    guard let mm = process(pid) else { return .noSuchProcess(pid) }
    var done = 0
    while done < bytes.count {
      let at = addr + UInt64(done)
      let offset = Int(at.rawValue & (pageSize - 1))
      let n = min(bytes.count - done, Int(pageSize) - offset)
      let (pte, outcome) = userAccess(mm, at, write: true)
      guard case .ok = outcome else { return outcome }
      var c = contents(pte.pfn)
      for i in 0..<n { c.write(bytes[done + i], at: UInt16(offset + i)) }
      setContents(pte.pfn, c)
      done += n
    }
    return .ok
  }

  /// Loads `count` bytes from `addr` (the range may cross pages), page by page, each
  /// page accessed as by a read ``touch(_:addr:write:fill:)``. Reading never changes
  /// contents. The first failing page stops the read: the bytes before it are
  /// returned with that page's outcome.
  public func readBytes(_ pid: PID, addr: VirtAddr, count: Int) -> (bytes: [UInt8], outcome: AccessOutcome) {
    defer { verify(after: "read \(pid) \(addr)") }
    guard let mm = process(pid) else { return ([], .noSuchProcess(pid)) }
    var result: [UInt8] = []
    while result.count < count {
      let at = addr + UInt64(result.count)
      let offset = Int(at.rawValue & (pageSize - 1))
      let n = min(count - result.count, Int(pageSize) - offset)
      let (pte, outcome) = userAccess(mm, at, write: false)
      guard case .ok = outcome else { return (result, outcome) }
      if pte.isZeroPage {
        result.append(contentsOf: repeatElement(0, count: n))
      } else {
        let c = contents(pte.pfn)
        for i in 0..<n { result.append(c[UInt16(offset + i)]) }
      }
    }
    return (result, .ok)
  }

  // MARK: The fault path of a user access

  /// `do_user_addr_fault()` for one access at `addr`: VMA lookup, `access_error()`,
  /// then a fault when the PTE is none or the store meets a read-only PTE. A store to a
  /// writable clean PTE sets its dirty bit without a fault (the MMU does it). Returns
  /// the PTE that satisfied the access (valid only with `.ok`).
  private func userAccess(_ mm: MM, _ addr: VirtAddr, write: Bool) -> (PTE, AccessOutcome) {
    guard let vma = mm.vma(containing: addr) else { return (.none, .signal(.mapErr(addr))) }
    if write ? !vma.vmFlags.contains(.write) : vma.vmFlags.isDisjoint(with: .access) {
      return (.none, .signal(.accErr(addr)))
    }
    let page = addr.pageDown
    let pte = mm.pageTable[page]
    if pte.isNone || (write && !pte.isWritable) {
      switch handleMMFault(mm, vma, page, pte, write: write, user: true) {
      case .done(let new): return (new, .ok)
      case .sigbus: return (.none, .signal(.busAdrErr(addr)))
      case .userfault(let id): return (.none, .userfault(id, addr))
      case .notModelled(let why): return (.none, .notModelled(why))
      }
    }
    if write && !pte.isDirty { mm.pageTable.set(page, pte.withDirty(true)) }
    return (pte, .ok)
  }

  // MARK: handle_mm_fault

  /// `handle_mm_fault()` for the page at `page` in `vma`, whose PTE `pte` is none or,
  /// for a store, read-only. `user` is FAULT_FLAG_USER (false for GUP: POPULATE,
  /// pinning). The caller has checked the VMA's permissions.
  ///
  /// When the fault stops short (``faultStop(_:_:_:_:write:user:)``), what the kernel
  /// did before giving up stays done: a shmem load has faulted around; a private
  /// fault has allocated the page table (`pte_alloc`) and, for a store, prepared the
  /// anon_vma.
  func handleMMFault(_ mm: MM, _ vma: VMA, _ page: VirtAddr, _ pte: PTE, write: Bool, user: Bool) -> FaultResult {
    if let stop = faultStop(mm, vma, page, pte, write: write, user: user) {
      if case .notModelled = stop { return stop }
      if vma.shmem != nil {
        if !write && faultsAround(vma) { faultAround(mm, vma, page) }
      } else {
        mm.pageTable.allocateTable(page)
        if write { anonVMAPrepare(mm, vmaStart: vma.vmStart) }
      }
      return stop
    }
    if vma.shmem != nil { return shmemFault(mm, vma, page, pte, write: write) }
    if pte.isNone { return doAnonymousPage(mm, vma, page, write: write) }
    return doWPPage(mm, vma, page, pte)
  }

  /// How a fault at `page` would stop short of mapping it, decided without changing
  /// anything (GUP callers use it to refuse a range up front): THP (not modelled),
  /// SIGBUS past a shmem object's end, or a MISSING userfault (a page missing from a
  /// shmem object, or a none PTE of a private VMA). `nil`: the fault would succeed.
  func faultStop(_ mm: MM, _ vma: VMA, _ page: VirtAddr, _ pte: PTE, write: Bool, user: Bool) -> FaultResult? {
    if vma.shmem == nil, vma.vmFlags.contains(.hugepage), !mm.pageTable.hasTable(page) {
      let haddr = VirtAddr(page.rawValue & ~(pmdSize - 1))
      if haddr >= vma.vmStart && haddr + pmdSize <= vma.vmEnd {
        return .notModelled(
          "THP: the fault at \(page) lies in [\(haddr), \(haddr + pmdSize)) inside a MADV_HUGEPAGE VMA, "
            + "where the kernel would map a PMD-sized folio or the huge zero page")
      }
    }
    guard pte.isNone else { return nil }
    if let id = vma.shmem {
      let offset = vma.linearPageIndex(page)
      let obj = shmemObjects[id]!
      if offset >= obj.sizeInPages { return .sigbus }
      if obj.pages[offset] == nil, let ctx = missingContext(vma) { return userfault(ctx, user: user) }
      return nil
    }
    return missingContext(vma).map { userfault($0, user: user) }
  }

  /// `should_fault_around()`: not in a VMA registered for uffd-wp or minor faults.
  private func faultsAround(_ vma: VMA) -> Bool {
    vma.vmFlags.isDisjoint(with: [.uffdWP, .uffdMinor])
  }

  /// `handle_userfault()` for a MISSING fault on context `id`: SIGBUS if the context
  /// has `UFFD_FEATURE_SIGBUS`, or is `UFFD_USER_MODE_ONLY` and the fault is not a
  /// user-mode one; otherwise the faulting thread blocks.
  private func userfault(_ id: UserfaultfdCtx.ID, user: Bool) -> FaultResult {
    let ctx = uffds[id]!
    if ctx.features.contains(.sigbus) { return .sigbus }
    if !user && ctx.flags & uffdUserModeOnly != 0 { return .sigbus }
    return .userfault(id)
  }

  /// `userfaultfd_missing()`: the VMA is registered MISSING with a context.
  private func missingContext(_ vma: VMA) -> UserfaultfdCtx.ID? {
    vma.vmFlags.contains(.uffdMissing) ? vma.uffd : nil
  }

  /// The fault event new pages are attributed to: one per process and tag, so a
  /// statement faulting many pages records one event.
  private func faultEvent(_ pid: PID) -> EventID {
    let last = events.count - 1
    if events[last].kind == .fault && events[last].pid == pid && events[last].tag == currentTag {
      return EventID(rawValue: UInt32(last))
    }
    return record(.fault, pid)
  }

  /// Allocates a zeroed page mapped once, anon-exclusive, for `vma` at `page`
  /// (`folio_add_new_anon_rmap(..., RMAP_EXCLUSIVE)`); in a VM_DROPPABLE VMA the page is
  /// never swap-backed, i.e. lazy-free from birth.
  private func newExclusiveAnonPage(_ mm: MM, _ vma: VMA, _ page: VirtAddr, anonVMA: AnonVMA.ID) -> PFN {
    var flags: Folio.Flags = [.inUse, .anonExclusive]
    if vma.vmFlags.contains(.droppable) { flags.insert(.lazyfree) }
    return allocFolio(
      Folio(
        index: vma.linearPageIndex(page), mapcount: 1, anonVMA: anonVMA, origin: faultEvent(mm.pid),
        flags: flags))
  }

  // MARK: Private anonymous

  /// `do_anonymous_page()`. Read: the shared zero page, read-only; no anon_vma, no
  /// page. Write: `anon_vma_prepare()`, then a zeroed page, writable and dirty.
  private func doAnonymousPage(_ mm: MM, _ vma: VMA, _ page: VirtAddr, write: Bool) -> FaultResult {
    let new: PTE
    if !write {
      new = .zeroPage
    } else {
      let anonVMA = vma.anonVMA != .none ? vma.anonVMA : anonVMAPrepare(mm, vmaStart: vma.vmStart)
      new = .page(newExclusiveAnonPage(mm, vma, page, anonVMA: anonVMA), writable: true, dirty: true)
      cost.pagesZeroed += 1
    }
    mm.pageTable.set(page, new)
    cost.ptesChanged += 1
    cost.faults += 1
    return .done(new)
  }

  /// `do_wp_page()` for a store to a read-only present PTE of a private VMA, in the
  /// kernel's order:
  /// 1. the zero page → copy path with a fresh zeroed page;
  /// 2. PageAnonExclusive → reuse at once;
  /// 3. `wp_can_reuse_anon_folio()`: the only reference is this mapping (refcount 1:
  ///    no other mapping, pin or extra reference) → reuse, set PageAnonExclusive and
  ///    move the folio's rmap to this VMA's anon_vma;
  /// 4. otherwise copy the page (`wp_page_copy()`).
  /// Every case is one fault; afterwards the PTE is writable and dirty.
  private func doWPPage(_ mm: MM, _ vma: VMA, _ page: VirtAddr, _ pte: PTE) -> FaultResult {
    cost.faults += 1
    cost.ptesChanged += 1
    if pte.isZeroPage { return .done(wpPageCopy(mm, vma, page, pte)) }
    let f = folio(pte.pfn)
    if !f.isAnonExclusive {
      guard f.refcount == 1 else { return .done(wpPageCopy(mm, vma, page, pte)) }
      withFolio(pte.pfn) { f in
        f.flags.insert(.anonExclusive)
        f.anonVMA = vma.anonVMA
      }
    }
    let new = pte.withWritable(true).withDirty(true)
    mm.pageTable.set(page, new)
    return .done(new)
  }

  /// `wp_page_copy()`: a new exclusive page (zeroed when replacing the zero page, else
  /// a copy of the old one) replaces the PTE; the old page loses this mapping and
  /// reference (freed if it was the last).
  private func wpPageCopy(_ mm: MM, _ vma: VMA, _ page: VirtAddr, _ old: PTE) -> PTE {
    let anonVMA = vma.anonVMA != .none ? vma.anonVMA : anonVMAPrepare(mm, vmaStart: vma.vmStart)
    let pfn = newExclusiveAnonPage(mm, vma, page, anonVMA: anonVMA)
    if old.isZeroPage {
      cost.pagesZeroed += 1
    } else {
      copyContents(from: old.pfn, to: pfn)
      cost.pagesCopied += 1
    }
    let new = PTE.page(pfn, writable: true, dirty: true)
    mm.pageTable.set(page, new)
    if old.isPage { dropMapping(old.pfn) }
    cost.tlbFlushRanges += 1
    return new
  }

  // MARK: Shared anonymous (shmem)

  /// The shmem fault of a shared anonymous VMA (``faultStop(_:_:_:_:write:user:)``
  /// has ruled out SIGBUS and userfaults). A store to a read-only present PTE makes it
  /// writable (`wp_page_shared()`). Otherwise, for a read, fault-around first maps the
  /// object's cached pages near `page` (`do_fault_around()`); if that mapped `page`,
  /// done. Then `shmem_get_folio_gfp()`: a cached page is mapped, a missing one is
  /// added to the object zeroed. Every shmem PTE is writable iff the VMA is, dirty only
  /// after a store, which also marks the folio dirty (`fault_dirty_shared_page()`);
  /// pages are never anon-exclusive.
  private func shmemFault(_ mm: MM, _ vma: VMA, _ page: VirtAddr, _ pte: PTE, write: Bool) -> FaultResult {
    if !pte.isNone {
      let new = pte.withWritable(true).withDirty(true)
      folios[slot(pte.pfn)].flags.insert(.dirty)
      mm.pageTable.set(page, new)
      cost.ptesChanged += 1
      cost.faults += 1
      return .done(new)
    }
    let id = vma.shmem!
    let offset = vma.linearPageIndex(page)
    if !write && faultsAround(vma) {
      faultAround(mm, vma, page)
      let mapped = mm.pageTable[page]
      if !mapped.isNone {
        cost.faults += 1
        return .done(mapped)
      }
    }
    let pfn: PFN
    if let cached = shmemObjects[id]!.pages[offset] {
      pfn = cached
    } else {
      pfn = allocFolio()
      let origin = faultEvent(mm.pid)
      withFolio(pfn) { f in
        f.flags.insert(.shmem)
        f.index = offset
        f.origin = origin
      }
      shmemObjects[id]!.pages[offset] = pfn
      cost.pagesZeroed += 1
    }
    withFolio(pfn) { f in
      f.mapcount += 1
      if write { f.flags.insert(.dirty) }
    }
    let new = PTE.page(pfn, writable: vma.vmFlags.contains(.write), dirty: write)
    mm.pageTable.set(page, new)
    cost.ptesChanged += 1
    cost.faults += 1
    return .done(new)
  }

  /// `do_fault_around()` + `filemap_map_pages()`: maps every page of the object cached
  /// at the offsets of the 16-page aligned window around `page`, clamped to the VMA,
  /// to the 2 MiB page table and to the object's size, whose PTE is none. The PTEs are
  /// clean, writable iff the VMA is.
  ///
  ///     VMA        |----------------------------------------|
  ///     window           |...............*................|     16 pages, aligned
  ///                                       page
  private func faultAround(_ mm: MM, _ vma: VMA, _ page: VirtAddr) {
    let id = vma.shmem!
    let obj = shmemObjects[id]!
    let pteOff = page.vpn & (PageTable.ptesPerTable - 1)
    let vmaOff = (page - vma.vmStart) >> pageShift
    let fromPTE = max(pteOff & ~(faultAroundPages - 1), pteOff - min(pteOff, vmaOff))
    let toPTE = min(fromPTE + faultAroundPages, PageTable.ptesPerTable, pteOff + vma.pageCount - vmaOff)
    let writable = vma.vmFlags.contains(.write)
    for ptePos in fromPTE..<toPTE {
      let at = VirtAddr((page.vpn - pteOff + ptePos) << pageShift)
      let offset = vma.linearPageIndex(at)
      guard offset < obj.sizeInPages, let pfn = obj.pages[offset], mm.pageTable[at].isNone else { continue }
      withFolio(pfn) { $0.mapcount += 1 }
      mm.pageTable.set(at, .page(pfn, writable: writable, dirty: false))
      cost.ptesChanged += 1
    }
  }
}
