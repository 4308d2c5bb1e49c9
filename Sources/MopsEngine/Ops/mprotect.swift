// Models mprotect(2) on x86-64 Linux 6.18: do_mprotect_pkey() (argument checks, the
// VMA walk that stops at holes keeping earlier changes), mprotect_fixup() (VM_ACCOUNT
// charge/uncharge, vma_modify_flags) and change_protection() on anonymous PTEs
// (write-protect, or the write upgrade of anon-exclusive private pages and of shared
// pages). Left out: protection keys, READ_IMPLIES_EXEC, memory-deny-write-execute,
// mseal (EPERM), RLIMIT_AS/overcommit failures, uffd-wp and NUMA hinting PTEs.
import MopsABI

extension World {
  /// `mprotect(addr, length, prot)`: sets the access bits of every VMA in
  /// `[addr, addr + length)` (`length` rounded up), splitting VMAs at the range ends
  /// or merging pieces that become identical to a neighbour. VM_ACCOUNT is set when a
  /// private, unaccounted VMA becomes writable and cleared when an unfaulted private
  /// VMA becomes read-only (a faulted one keeps it). PTEs made read-only are
  /// write-protected; made writable, a private PTE becomes writable only if its page
  /// is anon-exclusive (never the zero page), a shared one always. Not atomic: a hole
  /// or a failure stops the walk and keeps the changes already made.
  ///
  /// Errors, in check order:
  /// - EINVAL: both PROT_GROWSDOWN and PROT_GROWSUP;
  /// - EINVAL: `addr` not page aligned;
  /// - success, nothing done: `length == 0`;
  /// - ENOMEM: the range end overflows;
  /// - EINVAL: prot bits other than READ, WRITE, EXEC, SEM (and the GROWS bits);
  /// - ENOMEM: no VMA intersects the range, or the first one starts above `addr`
  ///   (PROT_GROWSDOWN: EINVAL unless the first VMA is VM_GROWSDOWN; PROT_GROWSUP:
  ///   EINVAL, x86 has no VM_GROWSUP);
  /// - then per VMA, in address order: ENOMEM at a hole; EACCES if the protection
  ///   exceeds VM_MAYREAD/VM_MAYWRITE/VM_MAYEXEC; ENOMEM if a split hits
  ///   `vm.max_map_count`;
  /// - ENOMEM: a hole after the last VMA before the range end.
  public func mprotect(_ pid: PID, addr: VirtAddr, length: UInt64, prot: Prot) throws(KernelError) {
    try withMM(pid) { mm throws(KernelError) in try mprotect(mm, pid, addr: addr, length: length, prot: prot) }
  }

  private func mprotect(_ mm: MM, _ pid: PID, addr: VirtAddr, length: UInt64, prot: Prot) throws(KernelError) {
    defer { verify(after: "mprotect") }
    let grows = prot.intersection([.growsdown, .growsup])
    let prot = prot.subtracting([.growsdown, .growsup])
    if grows == [.growsdown, .growsup] {
      throw KernelError(.EINVAL, "mprotect: PROT_GROWSDOWN and PROT_GROWSUP together")
    }
    guard addr.isPageAligned else {
      throw KernelError(.EINVAL, "mprotect: start \(addr) is not page aligned")
    }
    if length == 0 { return }
    guard let len = pageAlignUp(length),
      case (let sum, let overflow) = addr.rawValue.addingReportingOverflow(len),
      !overflow, sum > addr.rawValue
    else {
      throw KernelError(
        .ENOMEM, "mprotect: end of [\(addr), +0x\(String(length, radix: 16))) overflows")
    }
    let end = VirtAddr(sum)
    guard prot.isSubset(of: [.read, .write, .exec, .sem]) else {
      throw KernelError(
        .EINVAL, "mprotect: unknown prot bits 0x\(String(prot.rawValue, radix: 16))")
    }
    guard let firstIndex = mm.vmas.index(above: addr), case let first = mm.vmas[firstIndex],
      first.vmStart < end
    else {
      throw KernelError(.ENOMEM, "mprotect: nothing mapped in [\(addr), \(end))")
    }
    var start = addr
    if grows.contains(.growsdown) {
      start = first.vmStart
      guard first.vmFlags.contains(.growsdown) else {
        throw KernelError(
          .EINVAL, "mprotect: PROT_GROWSDOWN on \(first), which is not VM_GROWSDOWN")
      }
    } else {
      guard first.vmStart <= start else {
        throw KernelError(.ENOMEM, "mprotect: \(addr) is not mapped (the first VMA is \(first))")
      }
      if grows.contains(.growsup) {
        throw KernelError(.EINVAL, "mprotect: PROT_GROWSUP (x86 has no VM_GROWSUP)")
      }
    }
    record(.mprotect, pid)

    var changedPTEs = 0
    defer {
      if changedPTEs > 0 {
        cost.ptesChanged += changedPTEs
        cost.tlbFlushRanges += 1
      }
    }
    var nstart = start
    var tmp = first.vmStart
    // The VMA to change next and its position (the first one is already read).
    var next: (VMATree.Index, VMA)? = (firstIndex, first)
    while let (i, vma) = next, vma.vmStart < end {
      guard vma.vmStart == tmp else {
        throw KernelError(
          .ENOMEM, "mprotect: hole at [\(tmp), \(vma.vmStart)); earlier VMAs keep the change")
      }
      let newFlags = VMFlags(prot: prot).union(vma.vmFlags.subtracting(.access))
      let allowed = VMFlags(rawValue: (newFlags.rawValue >> 4) & VMFlags.access.rawValue)
      guard newFlags.intersection(.access).isSubset(of: allowed) else {
        throw KernelError(.EACCES, "mprotect: \(prot.rwx) exceeds the VM_MAY* bits of \(vma)")
      }
      let rangeEnd = min(vma.vmEnd, end)
      let covering = try mprotectFixup(mm, vma, i, nstart, rangeEnd, newFlags, &changedPTEs)
      tmp = covering.vmEnd
      nstart = tmp
      // A VMA starting at or past `end` ends the walk, so there is nothing to look up.
      next = nstart < end ? mm.vmas.index(above: nstart).map { ($0, mm.vmas[$0]) } : nil
    }
    if tmp < end {
      throw KernelError(
        .ENOMEM, "mprotect: [\(tmp), \(end)) is not mapped; earlier VMAs keep the change")
    }
  }

  /// `mprotect_fixup()`: gives `[start, end)` of `vma` (at position `i`) the flags
  /// `newFlags` (adjusted for VM_ACCOUNT) and updates its PTEs. Returns the VMA covering
  /// the range after any merge or split.
  private func mprotectFixup(
    _ mm: MM, _ vma: VMA, _ i: VMATree.Index, _ start: VirtAddr, _ end: VirtAddr,
    _ requested: VMFlags,
    _ changedPTEs: inout Int
  ) throws(KernelError) -> VMA {
    let oldFlags = vma.vmFlags
    if requested == oldFlags { return vma }
    var newFlags = requested
    if newFlags.contains(.write) {
      if oldFlags.isDisjoint(with: [.account, .write, .hugetlb, .shared, .noreserve]) {
        newFlags.insert(.account)
      }
    } else if oldFlags.contains(.account) && vma.isAnonymous && vma.anonVMA == .none {
      newFlags.remove(.account)
    }
    let covering = try vmaModify(mm, at: i, vma, start, end) { $0.vmFlags = newFlags }
    changedPTEs += changeProtection(
      mm, start, end, writable: newFlags.contains(.write), shared: newFlags.contains(.shared))
    return covering
  }

  /// `change_protection()` on `[start, end)`: PTEs lose write permission unless the
  /// VMA is writable; then a shared PTE is writable, a private one only if it maps an
  /// anon-exclusive page (`can_change_private_pte_writable`). Returns how many PTEs
  /// changed.
  private func changeProtection(
    _ mm: MM, _ start: VirtAddr, _ end: VirtAddr, writable: Bool, shared: Bool
  ) -> Int {
    var changed = 0
    for (addr, pte) in mm.pageTable.present(in: start, end) where pte.isPage {
      let makeWritable = writable && (shared || folio(pte.pfn).isAnonExclusive)
      if pte.isWritable != makeWritable {
        mm.pageTable.set(addr, pte.withWritable(makeWritable))
        changed += 1
      }
    }
    return changed
  }
}
