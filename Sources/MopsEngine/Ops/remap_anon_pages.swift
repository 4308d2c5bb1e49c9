// Models sys_remap_anon_pages() and remap_anon_pages_pte() from Andrea Arcangeli's
// "[PATCH 12/17] mm: sys_remap_anon_pages" (userfault v2 RFC, Oct 2014, never merged) —
// the design UFFDIO_MOVE descends from — run against the model's 6.18 state, so both
// designs can be compared on one scenario.
//
// What differs from UFFDIO_MOVE: no fd and no registration (acts on the caller's mm);
// missing VMAs are EINVAL, not ENOENT; no "src must be writable", special-VMA or
// registration checks; a page may move when its mapcount is 1 (PageAnonExclusive did not
// exist yet), so the parent's page moves once a fork child has exited; the zero page has no
// struct page for vm_normal_page() and gives EBUSY; DMA pins are not detected; the dst PTE
// is always dirty and writable only if the dst VMA is; one TLB flush per page. Mapping a
// page writable declares it exclusive in today's terms, so the model sets
// PageAnonExclusive on every page it moves (the 2014 kernel had no such flag to set).
//
// Left out: THP moves and splits, swap and migration entries, nonlinear file PTEs (none
// exist in the model), EINTR.
import MopsABI

/// What `remap_anon_pages()` returned.
public struct RemapAnonPagesResult: Hashable, Sendable, CustomStringConvertible {
  /// The syscall's return value: bytes moved (`length` on success, fewer when an error
  /// stopped the walk), or −errno when nothing moved. Never 0.
  public var value: Int64
  /// Why the walk stopped: the returned error, or — behind a short count — the error the
  /// syscall did not report. `nil` when everything moved.
  public var error: KernelError?

  public init(value: Int64, error: KernelError?) {
    self.value = value
    self.error = error
  }

  /// The returned errno, when the call failed outright.
  public var errno: Errno? { value < 0 ? Errno(rawValue: Int32(truncatingIfNeeded: -value)) : nil }
  /// Bytes moved.
  public var bytes: UInt64 { value > 0 ? UInt64(value) : 0 }

  public var description: String {
    if let errno { return "-\(errno.name)" + (error.map { " (\($0))" } ?? "") }
    return "\(value)" + (error.map { " (stopped: \($0))" } ?? "")
  }
}

extension World {
  /// `remap_anon_pages(dst, src, len, flags)` as proposed in 2014: moves the pages mapped
  /// at `[src, src+length)` of `pid`'s mm to `[dst, dst+length)` without copying, like
  /// UFFDIO_MOVE but with the rules of §9 of the spec (see the file comment).
  ///
  /// Errors, in check order: ESRCH (no such process); EINVAL (src, dst or length not page
  /// aligned; a flag other than RAP_ALLOW_SRC_HOLES; src or dst range wraps or is empty);
  /// EINVAL (no VMA contains src, it is shared, or the src range runs past it; then the
  /// same for dst); EINVAL (VM_READ|VM_WRITE|VM_EXEC differ); EINVAL (VM_LOCKED
  /// differs); EINVAL (a VMA is not anonymous); then per page: ENOENT (no page table covers
  /// src, unless RAP_ALLOW_SRC_HOLES), EEXIST (dst PTE not none), ENOENT (src PTE none,
  /// unless RAP_ALLOW_SRC_HOLES), EBUSY (the zero page, or a page with mapcount ≠ 1).
  public func remapAnonPages(_ pid: PID, dst: VirtAddr, src: VirtAddr, length: UInt64, flags: RemapAnonPagesFlags)
    -> RemapAnonPagesResult
  {
    defer { verify(after: "remap_anon_pages") }
    let mm: MM
    var dstVMA: VMA
    do throws(KernelError) {
      mm = try self.mm(pid)
      guard src.isPageAligned else { throw KernelError(.EINVAL, "src \(src) is not page aligned") }
      guard dst.isPageAligned else { throw KernelError(.EINVAL, "dst \(dst) is not page aligned") }
      guard length & (pageSize - 1) == 0 else {
        throw KernelError(.EINVAL, "len 0x\(String(length, radix: 16)) is not page aligned")
      }
      guard flags.isSubset(of: .allowSrcHoles) else {
        throw KernelError(
          .EINVAL, "flags 0x\(String(flags.rawValue, radix: 16)) has bits other than RAP_ALLOW_SRC_HOLES")
      }
      let (srcEnd, srcWraps) = src.rawValue.addingReportingOverflow(length)
      guard !srcWraps, srcEnd > src.rawValue else { throw KernelError(.EINVAL, "src range wraps or is empty") }
      let (dstEnd, dstWraps) = dst.rawValue.addingReportingOverflow(length)
      guard !dstWraps, dstEnd > dst.rawValue else { throw KernelError(.EINVAL, "dst range wraps or is empty") }
      let srcVMA = try rapVMA(mm, src, VirtAddr(srcEnd), "src")
      dstVMA = try rapVMA(mm, dst, VirtAddr(dstEnd), "dst")
      guard srcVMA.vmFlags.intersection(.access) == dstVMA.vmFlags.intersection(.access) else {
        throw KernelError(
          .EINVAL, "vm_page_prot differs: src is \(srcVMA.vmFlags.prot.rwx), dst is \(dstVMA.vmFlags.prot.rwx)")
      }
      guard srcVMA.vmFlags.contains(.locked) == dstVMA.vmFlags.contains(.locked) else {
        throw KernelError(.EINVAL, "VM_LOCKED differs between src and dst")
      }
      guard srcVMA.isAnonymous, dstVMA.isAnonymous else {
        throw KernelError(.EINVAL, "src or dst VMA has vm_ops (not anonymous)")
      }
    } catch {
      return RemapAnonPagesResult(value: -Int64(error.errno.rawValue), error: error)
    }
    dstVMA.anonVMA = anonVMAPrepare(mm, vmaStart: dstVMA.vmStart)

    let allowSrcHoles = flags.contains(.allowSrcHoles)
    let dstWritable = dstVMA.vmFlags.contains(.write)
    var moved: UInt64 = 0
    var stop: KernelError?
    while moved < length {
      let s = src + moved
      let d = dst + moved
      if !mm.pageTable.hasTable(s) {
        guard allowSrcHoles else {
          stop = KernelError(.ENOENT, "no page table covers src \(s) (pmd_none)")
          break
        }
        mm.pageTable.allocateTable(s)
      }
      mm.pageTable.allocateTable(d)
      guard mm.pageTable[d].isNone else {
        stop = KernelError(.EEXIST, "dst PTE at \(d) is not none (\(mm.pageTable[d]))")
        break
      }
      let srcPTE = mm.pageTable[s]
      if srcPTE.isNone {
        guard allowSrcHoles else {
          stop = KernelError(.ENOENT, "src PTE at \(s) is none")
          break
        }
        moved += pageSize
        continue
      }
      guard srcPTE.isPage else {
        stop = KernelError(.EBUSY, "src PTE at \(s) maps the zero page, which vm_normal_page() does not return")
        break
      }
      let pfn = srcPTE.pfn
      let i = slot(pfn)
      guard folios[i].mapcount == 1 else {
        let who = sharing(of: pfn).mappedBy.map(\.description).joined(separator: " and ")
        stop = KernelError(
          .EBUSY, "page_mapcount of \(pfn) at \(s) is \(folios[i].mapcount) (mapped by \(who)), not 1",
          sharing: sharing(of: pfn))
        break
      }
      folios[i].anonVMA = dstVMA.anonVMA
      folios[i].index = dstVMA.linearPageIndex(d)
      folios[i].flags.insert(.anonExclusive)
      mm.pageTable.set(s, .none)
      mm.pageTable.set(d, .page(pfn, writable: dstWritable, dirty: true))
      cost.ptesChanged += 2
      cost.tlbFlushRanges += 1
      moved += pageSize
    }
    if moved > 0 { return RemapAnonPagesResult(value: Int64(moved), error: stop) }
    return RemapAnonPagesResult(value: -Int64(stop!.errno.rawValue), error: stop)
  }

  /// The 2014 VMA lookup: `find_vma`, then "not shared" and "covers the whole range", all
  /// EINVAL.
  private func rapVMA(_ mm: MM, _ start: VirtAddr, _ end: VirtAddr, _ what: String) throws(KernelError) -> VMA {
    guard let vma = mm.vmas.findVMA(start) else { throw KernelError(.EINVAL, "no VMA at or above \(what) \(start)") }
    guard !vma.vmFlags.contains(.shared) else { throw KernelError(.EINVAL, "\(what) \(vma) is VM_SHARED") }
    guard start >= vma.vmStart, end <= vma.vmEnd else {
      throw KernelError(.EINVAL, "\(what) range [\(start), \(end)) is not inside one VMA")
    }
    return vma
  }
}
