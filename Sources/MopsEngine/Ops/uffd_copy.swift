// Models UFFDIO_COPY and UFFDIO_ZEROPAGE (Linux 6.18): userfaultfd_copy() and
// userfaultfd_zeropage() in fs/userfaultfd.c (argument checks, result protocol), and
// mfill_atomic() with mfill_atomic_pte_copy(), mfill_atomic_pte_zeropage(),
// mfill_atomic_install_pte() and shmem_mfill_atomic_pte() in mm/userfaultfd.c and
// mm/shmem.c.
//
// Both fill holes of a registered range in the fd's mm, which need not be the caller's:
// COPY reads its src from the caller's own memory with a normal kernel-mode user read
// (`copy_from_user`), so a src hole faults in (the zero page for anonymous memory) and a
// src the caller may not read gives EFAULT. That read happens before the dst PTE is
// checked. A src fault that would raise a userfault blocks the caller until another
// thread resolves it; the model has no other thread and refuses it as not modelled
// (an fd with UFFD_USER_MODE_ONLY or UFFD_FEATURE_SIGBUS turns it into EFAULT instead).
//
// Left out: hugetlb, UFFDIO_COPY_MODE_WP (uffd-wp PTE bits are not modelled: refused
// after the kernel's own checks), `mmap_changing` (no non-cooperative events),
// memcg/shmem accounting failures (ENOMEM), fatal signals, and the zero-page-forbidding
// mms (s390 KVM) that make ZEROPAGE allocate a zeroed page.
import MopsABI

extension World {
  /// `UFFDIO_COPY`: fills the holes `[dst, dst+length)` of a registered VMA in the fd's
  /// mm with new pages holding copies of the caller's memory at `[src, src+length)`
  /// (`src` need not be page aligned). Each new page is private to dst: PageAnonExclusive,
  /// mapcount 1, a dirty PTE that is writable iff the dst VMA is; src is unchanged. In a
  /// shared anonymous (shmem) dst the page goes into the object's page cache instead.
  ///
  /// Errors, in check order (the first group leaves `copy` untouched, the rest write
  /// −errno, and a partial result is EAGAIN with `copy` = bytes copied):
  /// - ESRCH (no such process), EBADF (`pid` does not hold `uffd`), EINVAL (UFFDIO_API
  ///   not done); EINVAL: src length unaligned or 0, src ≥ TASK_SIZE or the src range
  ///   past it; EINVAL: the same for dst plus dst alignment; EINVAL: `mode` has a bit
  ///   other than DONTWAKE|WP; ESRCH: the fd's mm has exited;
  /// - ENOENT: dst not inside one VMA of the fd's mm registered with any userfaultfd
  ///   (a private dst VMA gets its anon_vma first); EINVAL: WP mode on a VMA not
  ///   registered WP;
  /// - per page: EFAULT (the src read fails: no VMA, no access, SIGBUS), then for shmem
  ///   EFAULT (offset past the object's end) and EEXIST (page already in the cache),
  ///   then EEXIST (dst PTE not none).
  public func uffdioCopy(
    _ pid: PID, _ uffd: UserfaultfdCtx.ID, dst: VirtAddr, src: VirtAddr, length: UInt64, mode: UffdioCopyMode
  ) -> UffdioResult {
    defer { verify(after: "UFFDIO_COPY") }
    let (callerMM, dstMM): (MM, MM)
    do throws(KernelError) {
      let (caller, ctx) = try uffdContext(pid, uffd)
      try validateUnalignedUffdRange(src, length, "src")
      try validateUffdRange(dst, length, "dst")
      guard mode.isSubset(of: [.dontwake, .wp]) else {
        throw KernelError(.EINVAL, "mode 0x\(String(mode.rawValue, radix: 16)) has bits outside DONTWAKE|WP")
      }
      guard let m = processes[ctx.mm] else { throw KernelError(.ESRCH, "the mm of \(uffd) (\(ctx.mm)) has exited") }
      (callerMM, dstMM) = (caller, m)
    } catch {
      return .untouched(error)
    }
    let (done, error) = mfillAtomic(dstMM, dst: dst, length: length) { vma in
      if mode.contains(.wp) {
        guard vma.vmFlags.contains(.uffdWP) else {
          return KernelError(.EINVAL, "UFFDIO_COPY_MODE_WP on \(vma), which is not registered WP")
        }
        return KernelError.notModelled("UFFDIO_COPY_MODE_WP: uffd-wp write-protected PTEs")
      }
      return nil
    } perPage: { vma, d, offset, event in
      let data: PageContents
      switch self.readUserPage(callerMM, src + offset) {
      case .success(let c): data = c
      case .failure(let e): return e
      }
      return self.installNewPage(dstMM, vma, d, data, event: &event, copied: true)
    }
    return .walked(length: length, done: done, error: error)
  }

  /// `UFFDIO_ZEROPAGE`: fills the holes `[dst, dst+length)` of a registered VMA in the
  /// fd's mm with the shared zero page (no allocation; the first write COWs a new page).
  /// In a shared anonymous (shmem) dst a zeroed page is added to the object's page cache.
  ///
  /// Errors, in check order (the first group leaves `zeropage` untouched, the rest write
  /// −errno; partial results are EAGAIN with `zeropage` = bytes done): ESRCH, EBADF,
  /// EINVAL (UFFDIO_API not done); EINVAL (range, as for UFFDIO_REGISTER); EINVAL (`mode`
  /// has a bit other than DONTWAKE); ESRCH (the fd's mm has exited); ENOENT (dst not
  /// inside one registered VMA); per page, for shmem EFAULT (offset past the object's
  /// end) and EEXIST (page already in the cache); EEXIST (dst PTE not none).
  public func uffdioZeropage(_ pid: PID, _ uffd: UserfaultfdCtx.ID, dst: VirtAddr, length: UInt64, mode: UffdioCopyMode)
    -> UffdioResult
  {
    defer { verify(after: "UFFDIO_ZEROPAGE") }
    let dstMM: MM
    do throws(KernelError) {
      let (_, ctx) = try uffdContext(pid, uffd)
      try validateUffdRange(dst, length, "dst")
      guard mode.isSubset(of: .dontwake) else {
        throw KernelError(.EINVAL, "mode 0x\(String(mode.rawValue, radix: 16)) has bits outside DONTWAKE")
      }
      guard let m = processes[ctx.mm] else { throw KernelError(.ESRCH, "the mm of \(uffd) (\(ctx.mm)) has exited") }
      dstMM = m
    } catch {
      return .untouched(error)
    }
    let (done, error) = mfillAtomic(dstMM, dst: dst, length: length) { _ in
      nil
    } perPage: { vma, d, _, event in
      if vma.shmem != nil { return self.installNewPage(dstMM, vma, d, .zero, event: &event, copied: false) }
      guard dstMM.pageTable[d].isNone else {
        return KernelError(.EEXIST, "dst PTE at \(d) is not none (\(dstMM.pageTable[d]))")
      }
      dstMM.pageTable.set(d, .zeroPage)
      self.cost.ptesChanged += 1
      return nil
    }
    return .walked(length: length, done: done, error: error)
  }

  /// `mfill_atomic()`: looks up the dst VMA (ENOENT unless `[dst, dst+length)` lies in
  /// one registered VMA; a private one gets its anon_vma), runs `check` on it, then
  /// `perPage` for every page in ascending order after allocating its page table, until
  /// one fails. Returns the bytes done and the error that stopped the walk.
  private func mfillAtomic(
    _ mm: MM, dst: VirtAddr, length: UInt64, check: (VMA) -> KernelError?,
    perPage: (VMA, VirtAddr, UInt64, inout EventID) -> KernelError?
  ) -> (UInt64, KernelError?) {
    guard var vma = mm.vmas.vma(containing: dst) else {
      return (0, KernelError(.ENOENT, "no VMA contains dst \(dst)"))
    }
    if !vma.vmFlags.contains(.shared) && vma.anonVMA == .none {
      vma.anonVMA = anonVMAPrepare(mm, vmaStart: vma.vmStart)
    }
    guard dst + length <= vma.vmEnd else {
      return (0, KernelError(.ENOENT, "dst range ends at \(dst + length), past the end of \(vma)"))
    }
    guard vma.uffd != nil else {
      return (0, KernelError(.ENOENT, "dst \(vma) is not registered with a userfaultfd"))
    }
    if let e = check(vma) { return (0, e) }
    var done: UInt64 = 0
    var event = EventID.none
    while done < length {
      let d = dst + done
      mm.pageTable.allocateTable(d)
      if let e = perPage(vma, d, done, &event) { return (done, e) }
      done += pageSize
    }
    return (done, nil)
  }

  /// Installs a new page holding `data` at `d` of `vma` (`mfill_atomic_pte_copy` /
  /// `shmem_mfill_atomic_pte` + `mfill_atomic_install_pte`): for shmem it goes into the
  /// object's page cache first (EFAULT past the object's end, EEXIST if cached), then the
  /// PTE must be none (EEXIST). The page's origin is the call's event.
  private func installNewPage(
    _ mm: MM, _ vma: VMA, _ d: VirtAddr, _ data: PageContents, event: inout EventID, copied: Bool
  ) -> KernelError? {
    let index = vma.linearPageIndex(d)
    if let id = vma.shmem {
      guard index < shmemObjects[id]!.sizeInPages else {
        return KernelError(
          .EFAULT, "dst \(d) is at page \(index) of a shmem object of \(shmemObjects[id]!.sizeInPages) pages")
      }
      if let cached = shmemObjects[id]!.pages[index] {
        return KernelError(.EEXIST, "page \(index) of the shmem object behind dst \(d) is already cached (\(cached))")
      }
    }
    guard mm.pageTable[d].isNone else {
      return KernelError(.EEXIST, "dst PTE at \(d) is not none (\(mm.pageTable[d]))")
    }
    if event == .none { event = record(copied ? .uffdCopy : .uffdZeropage, mm.pid) }
    let pfn = allocFolio()
    let origin = event
    withFolio(pfn) { f in
      f.mapcount = 1
      f.index = index
      f.origin = origin
      if vma.shmem == nil {
        f.flags.insert(.anonExclusive)
        f.anonVMA = vma.anonVMA
      } else {
        f.flags.insert([.shmem, .dirty])  // the dirty PTE's bit reaches the folio at unmap
      }
    }
    if let id = vma.shmem { shmemObjects[id]!.pages[index] = pfn }
    if data != .zero { setContents(pfn, data) }
    if copied { cost.pagesCopied += 1 } else { cost.pagesZeroed += 1 }
    mm.pageTable.set(d, .page(pfn, writable: vma.vmFlags.contains(.write), dirty: true))
    cost.ptesChanged += 1
    return nil
  }

  /// `copy_from_user()` of one page's worth of bytes at `src` (any alignment) in `mm`,
  /// as the kernel does it for UFFDIO_COPY: each page touched is read as by a kernel-mode
  /// load, faulting in what is missing (`handle_mm_fault` without FAULT_FLAG_USER).
  private func readUserPage(_ mm: MM, _ src: VirtAddr) -> Result<PageContents, KernelError> {
    let offset = src.rawValue & (pageSize - 1)
    let first: PTE
    switch kernelReadFault(mm, src.pageDown) {
    case .success(let pte): first = pte
    case .failure(let e): return .failure(e)
    }
    if offset == 0 { return .success(pteContents(first)) }
    let second: PTE
    switch kernelReadFault(mm, src.pageDown + pageSize) {
    case .success(let pte): second = pte
    case .failure(let e): return .failure(e)
    }
    let (a, b) = (pteContents(first), pteContents(second))
    let split = Int(pageSize - offset)
    var data = PageContents(fill: a.fill)
    for i in 0..<Int(pageSize) {
      let byte = i < split ? a[UInt16(Int(offset) + i)] : b[UInt16(i - split)]
      data.write(byte, at: UInt16(i))
    }
    return .success(data)
  }

  /// The bytes a present PTE maps (the zero page reads as zeroes).
  private func pteContents(_ pte: PTE) -> PageContents {
    pte.isZeroPage ? .zero : contents(pte.pfn)
  }

  /// A kernel-mode read of the page at `page` in `mm`: the present PTE, or the one a
  /// read fault installs. EFAULT when there is no VMA, the VMA allows no access, or the
  /// fault ends in SIGBUS; a fault that would block on a userfaultfd is not modelled.
  private func kernelReadFault(_ mm: MM, _ page: VirtAddr) -> Result<PTE, KernelError> {
    guard let vma = mm.vmas.vma(containing: page) else {
      return .failure(KernelError(.EFAULT, "copy_from_user: no VMA contains src \(page)"))
    }
    guard !vma.vmFlags.isDisjoint(with: .access) else {
      return .failure(KernelError(.EFAULT, "copy_from_user: src \(vma) allows no access"))
    }
    let pte = mm.pageTable[page]
    if !pte.isNone { return .success(pte) }
    switch handleMMFault(mm, vma, page, pte, write: false, user: false) {
    case .done(let new): return .success(new)
    case .sigbus: return .failure(KernelError(.EFAULT, "copy_from_user: the read fault at src \(page) ends in SIGBUS"))
    case .userfault(let id):
      return .failure(
        .notModelled(
          "UFFDIO_COPY's read of src \(page) raises a userfault on \(id): the caller would block until "
            + "another thread resolves it"
        ))
    case .notModelled(let why): return .failure(.notModelled(why))
    }
  }
}
