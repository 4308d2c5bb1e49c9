// Models mmap(2) of anonymous memory on x86-64 Linux 6.18: sys_mmap's offset check,
// ksys_mmap_pgoff(), do_mmap(), __get_unmapped_area() with the x86 top-down allocator
// (hint handling, THP alignment) confined to the arena, and __mmap_region() (MAP_FIXED
// replacement, VM_ACCOUNT, merge with neighbours, shmem_zero_setup() for MAP_SHARED).
// The offset argument is always 0 and the fd always -1. Left out, refused as not
// modelled once the checks that precede them have passed: MAP_HUGETLB, MAP_POPULATE
// (without MAP_NONBLOCK), MAP_LOCKED, MAP_GROWSDOWN, MAP_DROPPABLE and MAP_32BIT
// placement. Also left out: RLIMIT_AS/RLIMIT_MEMLOCK and the overcommit heuristic
// (the live kernel refuses one private writable mapping larger than RAM + swap),
// mseal, soft-dirty (off on the reference kernel), memory policies.
import MopsABI

extension World {
  /// x86 `MAP_32BIT`: place below 2 GiB (outside the arena), ignored with MAP_FIXED.
  static let map32Bit = MapFlags(rawValue: 0x40)

  /// `mmap(addr, length, prot, flags, -1, 0)`: creates an anonymous mapping and
  /// returns its address (`do_mmap` + `mmap_region`).
  ///
  /// Placement: MAP_FIXED (or MAP_FIXED_NOREPLACE) maps exactly at `addr`, replacing
  /// whatever was there atomically; otherwise a hint (rounded down to a page,
  /// then raised to `mmap_min_addr`) is used iff the whole range is free, else the highest
  /// free gap of the arena is used from its top (2 MiB aligned for hint-less private
  /// mappings whose length is a multiple of 2 MiB). The new range merges with
  /// compatible neighbours. MAP_PRIVATE gets `pgoff = addr >> 12`; MAP_SHARED gets a
  /// new shmem object of `length` bytes at pgoff 0 and never merges. Flags: VM_MAYREAD|
  /// VM_MAYWRITE|VM_MAYEXEC always; VM_ACCOUNT for private writable mappings without
  /// MAP_NORESERVE; VM_NORESERVE for MAP_NORESERVE; MAP_STACK gives VM_NOHUGEPAGE and
  /// MAP_SYNC VM_SYNC. Unknown prot bits and unknown flag bits are ignored.
  ///
  /// Errors, in check order:
  /// - EBADF: MAP_ANONYMOUS missing (the fd is -1);
  /// - not modelled: MAP_HUGETLB;
  /// - EINVAL: `length == 0`;
  /// - ENOMEM: `length` rounded up to pages wraps to 0;
  /// - ENOMEM: `map_count > vm.max_map_count` (before any merge is tried);
  /// - ENOMEM: `length > TASK_SIZE`; not modelled: MAP_32BIT without MAP_FIXED;
  ///   ENOMEM: no free gap in the arena;
  /// - ENOMEM: MAP_FIXED range beyond TASK_SIZE; EINVAL: MAP_FIXED `addr` unaligned;
  /// - EEXIST: MAP_FIXED_NOREPLACE and the range intersects a VMA;
  /// - EINVAL: mapping type not MAP_SHARED, MAP_PRIVATE or MAP_DROPPABLE (also
  ///   MAP_SHARED_VALIDATE); EINVAL: MAP_GROWSDOWN with MAP_SHARED or MAP_DROPPABLE,
  ///   MAP_LOCKED with MAP_DROPPABLE;
  /// - not modelled: MAP_DROPPABLE, MAP_GROWSDOWN, MAP_LOCKED, MAP_POPULATE;
  /// - ENOMEM: MAP_FIXED over the interior of a VMA at `map_count >= max_map_count`.
  public func mmap(
    _ pid: PID, addr: VirtAddr, length: UInt64, prot: Prot, flags: MapFlags
  ) throws(KernelError) -> VirtAddr {
    let mm = try mm(pid)
    defer { verify(after: "mmap") }
    guard flags.contains(.anonymous) else {
      throw KernelError(.EBADF, "mmap without MAP_ANONYMOUS looks up fd -1")
    }
    if flags.contains(.hugetlb) {
      throw .notModelled("MAP_HUGETLB (an anonymous hugetlbfs file)")
    }
    guard length != 0 else { throw KernelError(.EINVAL, "do_mmap: len == 0") }
    let fixed = flags.contains(.fixed) || flags.contains(.fixedNoreplace)
    guard let len = pageAlignUp(length), len != 0 else {
      throw KernelError(.ENOMEM, "do_mmap: PAGE_ALIGN(len) wraps to 0")
    }
    guard mm.mapCount <= maxMapCount else {
      throw KernelError(
        .ENOMEM, "do_mmap: map_count \(mm.mapCount) > vm.max_map_count \(maxMapCount)")
    }
    let isSharedType = flags.rawValue & MapFlags.shared.rawValue != 0
    let start = try mmapAddress(mm, addr, len, fixed: fixed, flags: flags, shared: isSharedType)
    let end = start + len
    if flags.contains(.fixedNoreplace), let vma = mm.vmas.findVMA(start), vma.vmStart < end {
      throw KernelError(.EEXIST, "MAP_FIXED_NOREPLACE: [\(start), \(end)) intersects \(vma)")
    }

    var vmFlags = VMFlags(prot: prot).union([.mayRead, .mayWrite, .mayExec])
    if flags.contains(.growsdown) { vmFlags.insert(.growsdown) }
    if flags.contains(.sync) { vmFlags.insert(.sync) }
    if flags.contains(.stack) { vmFlags.insert(.nohugepage) }
    var pgoff: UInt64
    switch flags.mapType {
    case MapFlags.shared.rawValue:
      if vmFlags.contains(.growsdown) {
        throw KernelError(.EINVAL, "do_mmap: MAP_GROWSDOWN with MAP_SHARED")
      }
      pgoff = 0
      vmFlags.formUnion([.shared, .mayShare])
    case MapFlags.droppable.rawValue:
      if flags.contains(.locked) {
        throw KernelError(.EINVAL, "do_mmap: MAP_DROPPABLE with MAP_LOCKED")
      }
      if vmFlags.contains(.growsdown) {
        throw KernelError(.EINVAL, "do_mmap: MAP_DROPPABLE with MAP_GROWSDOWN")
      }
      throw .notModelled("MAP_DROPPABLE")
    case MapFlags.private.rawValue:
      pgoff = start.vpn
    default:
      throw KernelError(
        .EINVAL,
        "do_mmap: mapping type 0x\(String(flags.mapType, radix: 16)) is invalid for anonymous memory"
      )
    }
    if flags.contains(.noreserve) { vmFlags.insert(.noreserve) }
    if flags.contains(.growsdown) { throw .notModelled("MAP_GROWSDOWN (stack guard gaps)") }
    if flags.contains(.locked) { throw .notModelled("MAP_LOCKED (mlock)") }
    if flags.contains(.populate) && !flags.contains(.nonblock) {
      throw .notModelled("MAP_POPULATE")
    }

    if fixed { try unmapRange(mm, start, end) }
    if vmFlags.intersection([.noreserve, .shared, .write]) == .write { vmFlags.insert(.account) }
    var vma = VMA(vmStart: start, vmEnd: end, vmFlags: vmFlags, vmPgoff: pgoff)
    if vmFlags.contains(.shared) {
      let id = ShmemObject.ID(rawValue: nextShmem)
      nextShmem += 1
      shmemObjects[id] = ShmemObject(sizeInPages: len >> pageShift, inode: UInt64(id.rawValue))
      vma.shmem = id
    }
    insertVMA(mm, vma)
    record(.mmap, pid)
    return start
  }

  /// `__get_unmapped_area()` with x86's `arch_get_unmapped_area_topdown()`, the search
  /// confined to the arena.
  private func mmapAddress(
    _ mm: MM, _ addr: VirtAddr, _ len: UInt64, fixed: Bool, flags: MapFlags, shared: Bool
  ) throws(KernelError) -> VirtAddr {
    guard len <= taskSize else {
      throw KernelError(.ENOMEM, "get_unmapped_area: len 0x\(String(len, radix: 16)) > TASK_SIZE")
    }
    var start: VirtAddr
    if fixed {
      start = addr
    } else {
      if flags.contains(World.map32Bit) { throw .notModelled("MAP_32BIT placement below 2 GiB") }
      let down = addr.pageDown
      let hint = down.rawValue == 0 ? down : VirtAddr(max(down.rawValue, mmapMinAddr))
      if hint.rawValue != 0 && hint.rawValue <= taskSize - len && isFree(mm, hint, len) {
        start = hint
      } else if let found = unmappedArea(
        mm, length: len, alignForTHP: !shared && hint.rawValue == 0)
      {
        start = found
      } else {
        throw KernelError(
          .ENOMEM,
          "get_unmapped_area: no free gap of 0x\(String(len, radix: 16)) bytes in the arena")
      }
    }
    guard start.rawValue <= taskSize - len else {
      throw KernelError(
        .ENOMEM, "get_unmapped_area: [\(start), +0x\(String(len, radix: 16))) ends beyond TASK_SIZE"
      )
    }
    guard start.isPageAligned else {
      throw KernelError(
        .EINVAL, "get_unmapped_area: MAP_FIXED address \(start) is not page aligned")
    }
    return start
  }

  /// Whether `[start, start + len)` intersects no VMA (`find_vma` + `vm_start_gap`).
  func isFree(_ mm: MM, _ start: VirtAddr, _ len: UInt64) -> Bool {
    guard let vma = mm.vmas.findVMA(start) else { return true }
    return vma.vmStart >= start && vma.vmStart - start >= len
  }
}
