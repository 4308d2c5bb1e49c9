// Models long-term DMA pinning as io_uring's IORING_REGISTER_BUFFERS does it in Linux
// 6.18 (io_uring/rsrc.c io_buffer_validate(), io_pin_pages(); mm/gup.c
// pin_user_pages_fast() with FOLL_PIN|FOLL_LONGTERM|FOLL_WRITE: the lockless fast
// path, then __gup_longterm_locked()), and its release (IORING_UNREGISTER_BUFFERS,
// unpin_user_folio()). Each pin is one fixed buffer, as if registered on an io_uring
// instance of the pinning process; the pins go away with unpin or the process's exit.
// Left out: io_uring's huge-page coalescing and RLIMIT_MEMLOCK accounting (the
// reference runs as root), migration of pinned pages (no ZONE_MOVABLE or CMA).
import MopsABI

/// A buffer pinned by ``World/pin(_:addr:length:)``: the range as given and the
/// frames it holds pinned, one pin each.
public struct PinnedBuffer: Hashable, Sendable {
  /// The buffer's start as given (not necessarily page aligned).
  public var addr: VirtAddr
  /// The buffer's length in bytes as given.
  public var length: UInt64
  /// The pinned frames, in address order.
  public var pfns: [PFN]
}

/// io_uring's limit on one fixed buffer (`SZ_1G`).
let maxPinnedBufferLength: UInt64 = 1 << 30

extension World {
  /// Pins the pages covering `[addr, addr + length)` for write, long-term (an io_uring
  /// fixed buffer): each page is faulted in for write first, so a page shared after
  /// fork (or the zero page) is copied or reused by a write fault, exactly as a store
  /// would, and then holds one more pin (`GUP_PIN_COUNTING_BIAS` references). The mm is
  /// marked `MMF_HAS_PINNED` once io_uring's checks pass (even if pinning then fails),
  /// so later forks copy pinned anon-exclusive pages for the child. `addr` need not be
  /// aligned. A NULL `addr` with length 0 registers nothing and succeeds.
  ///
  /// Pages are taken in ascending order: the lockless fast path pins the leading pages
  /// whose PTEs are present and writable; the rest go through GUP with FOLL_TOUCH (a
  /// clean writable PTE marks its folio dirty). If any page cannot be pinned, the pins
  /// taken so far are dropped (pages faulted in stay) and the call fails with EFAULT.
  ///
  /// Errors, in order: ESRCH (no such process); EFAULT: NULL `addr` with a length,
  /// `length` 0 or above 1 GiB; EOVERFLOW: `addr + length` rounded up to a page
  /// overflows; EFAULT: the range ends above TASK_SIZE; not modelled: a page whose
  /// fault would block on a userfaultfd or map a THP; EFAULT: a page without VMA, in a
  /// VMA without PROT_WRITE (or VM_IO/VM_PFNMAP), or whose fault raises SIGBUS.
  public func pin(_ pid: PID, addr: VirtAddr, length: UInt64) throws(KernelError) {
    defer { verify(after: "pin \(pid) \(addr)") }
    let mm = try mm(pid)
    if addr.rawValue == 0 {
      if length != 0 { throw KernelError(.EFAULT, "io_buffer_validate: NULL buffer with length \(length)") }
      return
    }
    guard length != 0 else { throw KernelError(.EFAULT, "io_buffer_validate: empty buffer at \(addr)") }
    guard length <= maxPinnedBufferLength else {
      throw KernelError(.EFAULT, "io_buffer_validate: length \(length) exceeds 1 GiB")
    }
    let (last, overflow) = addr.rawValue.addingReportingOverflow(length)
    guard !overflow, let end = pageAlignUp(last) else {
      throw KernelError(.EOVERFLOW, "io_pin_pages: \(addr) + \(length) overflows")
    }
    let start = addr.pageDown
    mm.hasPinned = true
    guard end <= taskSize else {
      throw KernelError(.EFAULT, "pin_user_pages_fast: [\(start), \(VirtAddr(end))) ends above TASK_SIZE")
    }
    if let refusal = gupRefusal(mm, start, VirtAddr(end), write: true, caller: "pinning") { throw refusal }
    var pfns: [PFN] = []
    var page = start
    while page.rawValue < end, case let pte = mm.pageTable[page], pte.isPage, pte.isWritable {
      pinFolio(pte.pfn)
      pfns.append(pte.pfn)
      page += pageSize
    }
    var vma: VMA?
    while page.rawValue < end {
      if vma.map({ page >= $0.vmEnd }) ?? true {
        vma = mm.vmas.vma(containing: page)
        guard let v = vma, gupVMAAllowed(v, write: true) else {
          pfns.forEach(unpinFolio)
          throw KernelError(
            .EFAULT, vma == nil ? "pin: no VMA at \(page)" : "pin: \(vma!) does not allow a long-term write pin")
        }
      }
      switch gupFaultIn(mm, vma!, page, write: true) {
      case .done(let pte):
        pinFolio(pte.pfn)
        pfns.append(pte.pfn)
      case .sigbus:
        pfns.forEach(unpinFolio)
        throw KernelError(.EFAULT, "pin: the write fault at \(page) raised SIGBUS")
      case .userfault, .notModelled:
        preconditionFailure("gupRefusal let a blocking fault through at \(page)")
      }
      if vma!.anonVMA == .none { vma = mm.vmas.vma(containing: page) }
      page += pageSize
    }
    mm.pinnedBuffers.append(PinnedBuffer(addr: addr, length: length, pfns: pfns))
  }

  /// Releases the buffer that ``pin(_:addr:length:)`` pinned at exactly `addr` and
  /// `length` (the most recent one if several match): each of its frames loses one pin
  /// and is freed if nothing else references it (it may no longer be mapped anywhere).
  ///
  /// Errors: ESRCH (no such process); EINVAL: no buffer pinned with this range.
  public func unpin(_ pid: PID, addr: VirtAddr, length: UInt64) throws(KernelError) {
    defer { verify(after: "unpin \(pid) \(addr)") }
    let mm = try mm(pid)
    guard let i = mm.pinnedBuffers.lastIndex(where: { $0.addr == addr && $0.length == length }) else {
      throw KernelError(.EINVAL, "no buffer of \(length) bytes at \(addr) is pinned by \(pid)")
    }
    mm.pinnedBuffers.remove(at: i).pfns.forEach(unpinFolio)
  }

  /// Drops every pin `mm`'s process holds (its io_uring instances closing at exit).
  func releasePinnedBuffers(_ mm: MM) {
    for buffer in mm.pinnedBuffers { buffer.pfns.forEach(unpinFolio) }
    mm.pinnedBuffers = []
  }

  private func pinFolio(_ pfn: PFN) {
    folios[slot(pfn)].pins += 1
  }

  /// `unpin_user_folio()`: one pin less; the frame is freed with its last reference.
  private func unpinFolio(_ pfn: PFN) {
    let s = slot(pfn)
    folios[s].pins -= 1
    if folios[s].refcount == 0 { freeFolio(pfn) }
  }
}
