// Models munmap(2) on Linux 6.18: __vm_munmap() and do_vmi_munmap(), whose core
// (gather, split, detach, zap, free) is unmapRange() in Ops/vma.swift. Left out: mseal
// (EPERM) and userfaultfd UNMAP events.
import MopsABI

extension World {
  /// `munmap(addr, length)`: removes every mapping in `[addr, addr + length)`
  /// (`length` rounded up to pages), splitting VMAs that straddle either end and
  /// freeing the pages only they mapped. Holes are fine; a range with nothing mapped
  /// succeeds and does nothing. All or nothing.
  ///
  /// Errors, in check order:
  /// - EINVAL: `addr` not page aligned;
  /// - EINVAL: `addr > TASK_SIZE` or `length > TASK_SIZE - addr`;
  /// - EINVAL: `length == 0`;
  /// - ENOMEM: the range lies strictly inside one VMA (net one more VMA) and
  ///   `map_count >= vm.max_map_count`.
  public func munmap(_ pid: PID, addr: VirtAddr, length: UInt64) throws(KernelError) {
    let mm = try mm(pid)
    defer { verify(after: "munmap") }
    try doVmiMunmap(mm, addr, length)
    record(.munmap, pid)
  }

  /// `do_vmi_munmap()`: the argument checks of munmap, then the unmap itself. Also
  /// what mremap's shrink uses on the tail it drops.
  func doVmiMunmap(_ mm: MM, _ start: VirtAddr, _ length: UInt64) throws(KernelError) {
    guard start.isPageAligned else {
      throw KernelError(.EINVAL, "do_vmi_munmap: start \(start) is not page aligned")
    }
    guard start.rawValue <= taskSize, length <= taskSize - start.rawValue else {
      throw KernelError(
        .EINVAL, "do_vmi_munmap: [\(start), +0x\(String(length, radix: 16))) goes beyond TASK_SIZE")
    }
    guard let len = pageAlignUp(length), len != 0 else {
      throw KernelError(.EINVAL, "do_vmi_munmap: len == 0")
    }
    try unmapRange(mm, start, start + len)
  }
}
