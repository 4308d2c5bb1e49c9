// Where the kernel would put an unhinted (or badly hinted) anonymous mapping, computed
// inside the arena so that the live backend can map exactly there with
// MAP_FIXED_NOREPLACE / MREMAP_FIXED and agree with the sim address for address.
//
// Models (x86-64, 6.18): __get_unmapped_area() → arch_get_unmapped_area_topdown() →
// vm_unmapped_area() → unmapped_area_topdown(), and the THP branch
// thp_get_unmapped_area_vmflags() → __thp_get_unmapped_area() taken for private
// anonymous mappings without a hint whose length is a multiple of PMD_SIZE. The search
// window is the arena instead of [mmap_min_addr, mmap_base).
// Leaves out: randomization, MAP_32BIT/MAP_ABOVE4G, shadow stacks' start gap, file and
// hugetlb alignment, huge shmem alignment (shmem_enabled = never on the reference machine).
import MopsABI

/// A mapped range as placement sees it.
public struct PlacementVMA: Hashable, Sendable {
  public var start: UInt64
  public var end: UInt64
  /// VM_GROWSDOWN: the gap below it is shrunk by ``Placement/stackGuardGap``.
  public var growsDown: Bool

  public init(start: UInt64, end: UInt64, growsDown: Bool = false) {
    self.start = start
    self.end = end
    self.growsDown = growsDown
  }
}

/// The kernel's top-down placement policy, restricted to a window (the arena).
public enum Placement {
  /// `stack_guard_gap`: 256 pages unless changed on the kernel command line.
  public static let stackGuardGap: UInt64 = 256 * pageSize

  /// `unmapped_area_topdown()`: the top end of the highest free gap in `[low, high)`
  /// that holds `length` bytes; `nil` (ENOMEM) when none does. `vmas` must be sorted by
  /// start and not overlap.
  ///
  /// As in the kernel, the gap is found from the VMA boundaries alone; if the VMA above
  /// it grows down and its guard gap reaches into the candidate, the search is repeated
  /// below that guard gap.
  public static func topDown(length: UInt64, vmas: [PlacementVMA], low: UInt64, high: UInt64) -> UInt64? {
    guard length > 0, low < high, length <= high - low else { return nil }
    var highLimit = high
    while true {
      guard let (gapEnd, nextIndex) = highestGap(length: length, vmas: vmas, low: low, high: highLimit) else {
        return nil
      }
      let gap = gapEnd - length
      // vma_next(): the VMA right above the gap. (The kernel's other branch, the
      // previous VMA's vm_end_gap, only matters for VM_GROWSUP, which x86 lacks.)
      if nextIndex < vmas.count, vmas[nextIndex].growsDown {
        let next = vmas[nextIndex]
        let startGap = next.start >= stackGuardGap ? next.start - stackGuardGap : 0
        if startGap < gapEnd {
          highLimit = startGap
          continue
        }
      }
      return gap
    }
  }

  /// The highest free range inside `[low, high)` that holds `length`: its clipped end and
  /// the index of the first VMA at or above that end.
  private static func highestGap(length: UInt64, vmas: [PlacementVMA], low: UInt64, high: UInt64)
    -> (UInt64, Int)?
  {
    guard low < high, length <= high - low else { return nil }
    var i = vmas.count
    while i >= 0 {
      let freeStart = i == 0 ? 0 : vmas[i - 1].end
      let freeEnd = i == vmas.count ? UInt64.max : vmas[i].start
      let start = max(freeStart, low)
      let end = min(freeEnd, high)
      if start < end, end - start >= length { return (end, i) }
      if i == 0 || vmas[i - 1].end <= low { return nil }
      i -= 1
    }
    return nil
  }

  /// `get_unmapped_area()` for an anonymous mmap or a moving mremap, inside `[low, high)`.
  ///
  /// - A non-zero `hint` (rounded down to a page, as x86 does) is used if
  ///   `[hint, hint + length)` lies inside the window and below the next VMA's start gap.
  /// - Otherwise top-down placement; for a private anonymous mapping without a hint whose
  ///   length is a multiple of 2 MiB, the search asks for `length + 2 MiB` and rounds the
  ///   result up to 2 MiB (or, already aligned, moves it up by 2 MiB to the gap's top),
  ///   falling back to the unaligned search when the padded length does not fit.
  ///   A hint that cannot be used disables the 2 MiB rule (`!addr` in the kernel).
  ///
  /// `length` is in bytes and rounded up to pages here; `nil` means ENOMEM.
  public static func unmappedArea(
    hint: UInt64, length: UInt64, privateAnon: Bool, vmas: [PlacementVMA], low: UInt64, high: UInt64
  ) -> UInt64? {
    guard let len = pageAlignUp(length), len > 0 else { return nil }
    if hint != 0 {
      let addr = hint & ~(pageSize - 1)
      if addr >= low, addr <= high, len <= high - addr {
        let next = vmas.first { $0.end > addr }
        let nextStartGap = next.map { $0.growsDown ? ($0.start >= stackGuardGap ? $0.start - stackGuardGap : 0) : $0.start }
        if nextStartGap.map({ addr + len <= $0 }) ?? true { return addr }
      }
      return topDown(length: len, vmas: vmas, low: low, high: high)
    }
    if privateAnon, len % pmdSize == 0 {
      let (padded, overflow) = len.addingReportingOverflow(pmdSize)
      if !overflow, let found = topDown(length: padded, vmas: vmas, low: low, high: high) {
        let offSub = (0 &- found) & (pmdSize - 1)
        return offSub == 0 ? found + pmdSize : found + offSub
      }
    }
    return topDown(length: len, vmas: vmas, low: low, high: high)
  }

  /// ``unmappedArea(hint:length:privateAnon:vmas:low:high:)`` inside the arena.
  public static func unmappedArea(hint: UInt64, length: UInt64, privateAnon: Bool, vmas: [PlacementVMA]) -> UInt64? {
    unmappedArea(
      hint: hint, length: length, privateAnon: privateAnon, vmas: vmas, low: Arena.start.rawValue,
      high: Arena.end.rawValue)
  }
}
