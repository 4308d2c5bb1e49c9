// Models the VMA primitives of mm/vma.c (Linux 6.18): split_vma()/__split_vma(),
// vma_modify() with vma_merge_existing_range(), vma_merge_new_range() with
// vma_expand() (including mremap's vma_merge_copied_range() and its fork-child rule,
// the Jan-2026 stable fix present on 6.18.44), do_vmi_align_munmap(), and the
// top-down search of vm_unmapped_area() restricted to the arena, with the THP
// alignment of __thp_get_unmapped_area(). Leaves out mempolicy and anon VMA names
// (always equal here), vm_ops->close (anonymous VMAs have none), mseal, uffd unmap
// events, and allocation failures (the model never runs out of kernel memory).
import MopsABI

extension World {
  // MARK: Merge compatibility (spec vma-mmap-mremap §6.1)

  /// `is_mergeable_vma()`: flags equal except VM_SOFTDIRTY, same file (shmem object),
  /// same userfaultfd context.
  @inline(__always)
  func isMergeableVMA(_ existing: VMA, _ proposed: VMA) -> Bool {
    (existing.vmFlags.rawValue ^ proposed.vmFlags.rawValue) & ~VMFlags.softdirty.rawValue == 0
      && existing.shmem == proposed.shmem && existing.uffd == proposed.uffd
  }

  /// `is_mergeable_anon_vma()`, 6.16+ rule: `target` is the existing VMA that would
  /// absorb `proposed`, whose `anonVMA` is the one the merge brings in (`vmg->anon_vma`:
  /// the modified VMA's, an mremap copy's source's, a grown VMA's own, or none for a
  /// fresh mapping).
  /// - only `proposed` has an anon_vma: refused if the VMA being modified (`middle`) or
  ///   the VMA an mremap copy comes from (`copiedFrom`) is a fork child;
  /// - only the target has one: refused if the target is a fork child;
  /// - otherwise both must be the same anon_vma (or both none).
  @inline(__always)
  func isMergeableAnonVMA(target: VMA, proposed: VMA, middle: VMA?, copiedFrom: VMA?) -> Bool {
    switch (target.anonVMA == .none, proposed.anonVMA == .none) {
    case (true, false):
      return !(middle?.isForkChild ?? false) && !(copiedFrom?.isForkChild ?? false)
    case (false, true): return !target.isForkChild
    default: return target.anonVMA == proposed.anonVMA
    }
  }

  /// `can_vma_merge_left()`: `proposed` starts where `prev` ends and can extend it
  /// (`can_vma_merge_after`, including pgoff contiguity).
  @inline(__always)
  func canMergeAfter(_ prev: VMA, _ proposed: VMA, middle: VMA? = nil, copiedFrom: VMA? = nil)
    -> Bool
  {
    prev.vmEnd == proposed.vmStart && isMergeableVMA(prev, proposed)
      && isMergeableAnonVMA(
        target: prev, proposed: proposed, middle: middle, copiedFrom: copiedFrom)
      && prev.vmPgoff &+ prev.pageCount == proposed.vmPgoff
  }

  /// `can_vma_merge_before()` plus adjacency: `proposed` ends where `next` starts and
  /// `next` can be extended down over it.
  @inline(__always)
  func canMergeBefore(_ proposed: VMA, _ next: VMA, middle: VMA? = nil, copiedFrom: VMA? = nil)
    -> Bool
  {
    proposed.vmEnd == next.vmStart && isMergeableVMA(next, proposed)
      && isMergeableAnonVMA(
        target: next, proposed: proposed, middle: middle, copiedFrom: copiedFrom)
      && proposed.vmPgoff &+ proposed.pageCount == next.vmPgoff
  }

  /// The extra test of a 3-way merge (`can_vma_merge_right` with `can_merge_left`):
  /// prev and next, each compatible with the middle, must also be compatible with
  /// each other (both faulted ⇒ the same anon_vma).
  @inline(__always)
  func anonVMAsCompatible(_ prev: VMA, _ next: VMA) -> Bool {
    prev.anonVMA == .none || next.anonVMA == .none || prev.anonVMA == next.anonVMA
  }

  /// `dup_anon_vma()`: an unfaulted merge target takes the anon_vma and chain of the
  /// faulted VMA it absorbs.
  @inline(__always)
  func dupAnonVMA(_ dst: inout VMA, from src: VMA) {
    guard src.anonVMA != .none, dst.anonVMA == .none else { return }
    dst.anonVMA = src.anonVMA
    dst.anonVMAChainLength = src.anonVMAChainLength
  }

  /// A VMA removed by a merge: its range lives on in the merge target, so only the
  /// reference it held on a shmem object goes away.
  private func freeMergedVMA(_ mm: MM, startingAt start: VirtAddr) {
    let removed = mm.vmas.remove(startingAt: start)!
    if let id = removed.shmem { dropShmemRef(id) }
    cost.vmasFreed += 1
  }

  // MARK: Split

  /// `split_vma()`: splits the VMA strictly containing `addr` into `[vmStart, addr)`
  /// and `[addr, vmEnd)`. Both halves keep the flags, the anon_vma and its chain, the
  /// shmem object (one more reference) and the uffd context; the upper half's pgoff is
  /// carried (`vmPgoff + pages below addr`). Nothing happens if `addr` is not strictly
  /// inside a VMA.
  ///
  ///     before  |--------------- vma ----------------|
  ///     after   |---- vma ----|------ new ----------|
  ///                          addr
  ///
  /// Errors: ENOMEM when `map_count >= vm.max_map_count` (skipped with
  /// `checkMapCount: false`, which is `__split_vma` as munmap uses it).
  func splitVMA(_ mm: MM, at addr: VirtAddr, checkMapCount: Bool = true) throws(KernelError) {
    guard let i = mm.vmas.index(above: addr), mm.vmas[i].vmStart < addr else { return }
    try splitVMA(mm, i, at: addr, checkMapCount: checkMapCount)
  }

  /// ``splitVMA(_:at:checkMapCount:)`` of the VMA at position `i`, which strictly
  /// contains `addr`. Returns the position of the upper half.
  @discardableResult
  func splitVMA(_ mm: MM, _ i: VMATree.Index, at addr: VirtAddr, checkMapCount: Bool = true)
    throws(KernelError) -> VMATree.Index
  {
    if checkMapCount && mm.mapCount >= maxMapCount {
      throw KernelError(
        .ENOMEM,
        "split_vma at \(addr): map_count \(mm.mapCount) >= vm.max_map_count \(maxMapCount)")
    }
    let at = mm.vmas.split(i, at: addr)
    addShmemRef(mm.vmas[at].shmem)
    cost.vmaSplits += 1
    cost.vmasAllocated += 1
    return at
  }

  // MARK: Modify a range of one VMA

  /// `vma_modify()`: applies `change` to the part `[start, end)` of the one VMA that
  /// contains it (page aligned, non-empty). `change` may alter flags and the uffd
  /// context. Nothing happens when it changes nothing. Otherwise the changed range is
  /// first offered to its neighbours (`vma_merge_existing_range`, spec §6.3: only if it
  /// touches the VMA's start and/or end), else the VMA is split at `start` and/or
  /// `end` and the middle piece changed.
  ///
  ///     merge left        |-- prev --|**** vma ----|      prev grows, vma shrinks
  ///     merge both        |-- prev --|**** vma ****|-- next --|   one VMA remains
  ///     split             |--- vma ---|****|--- vma ---|  three VMAs
  ///
  /// Returns the VMA now covering `[start, end)`.
  ///
  /// Errors: ENOMEM from either split (`map_count >= vm.max_map_count`); a first split
  /// that succeeded stays (no rollback) and the flags are then unchanged.
  @discardableResult
  func vmaModify(
    _ mm: MM, _ start: VirtAddr, _ end: VirtAddr, _ change: (inout VMA) -> Void
  ) throws(KernelError) -> VMA {
    guard let i = mm.vmas.index(above: start) else {
      preconditionFailure("vmaModify: [\(start), \(end)) is not inside one VMA")
    }
    return try vmaModify(mm, at: i, mm.vmas[i], start, end, change)
  }

  /// ``vmaModify(_:_:_:_:)`` of `vma`, the VMA at position `i`, which the caller has
  /// just looked up.
  @discardableResult
  func vmaModify(
    _ mm: MM, at i: VMATree.Index, _ vma: VMA, _ start: VirtAddr, _ end: VirtAddr,
    _ change: (inout VMA) -> Void
  ) throws(KernelError) -> VMA {
    guard start < end, vma.vmStart <= start, end <= vma.vmEnd else {
      preconditionFailure("vmaModify: [\(start), \(end)) is not inside one VMA")
    }
    var proposed = vma
    change(&proposed)
    if proposed.vmFlags == vma.vmFlags && proposed.uffd == vma.uffd { return vma }
    proposed.vmStart = start
    proposed.vmEnd = end
    proposed.vmPgoff = vma.linearPageIndex(start)
    // Only a range touching the VMA's start or end can merge (checked here first: a
    // range strictly inside is the common case and has nothing to look up).
    if start == vma.vmStart || end == vma.vmEnd, let merged = mergeExistingRange(mm, vma, proposed) {
      return merged
    }
    if vma.vmStart < start && vma.vmEnd > end && mm.mapCount &+ 1 < maxMapCount {
      // Both splits will pass their map_count check: cut the VMA in three at once
      // (same VMAs, counters and shmem references as the two splits below).
      mm.vmas.split(i, at: start, end, middle: proposed)
      addShmemRef(vma.shmem)
      addShmemRef(vma.shmem)
      cost.vmaSplits += 2
      cost.vmasAllocated += 2
      return proposed
    }
    var at = i
    if vma.vmStart < start { at = try splitVMA(mm, at, at: start) }
    if vma.vmEnd > end {
      // The lower half directly precedes the upper one (the split may have moved it
      // into another chunk). Two statements: `mm.vmas.index(before: try splitVMA(…))`
      // would read the tree before the split changes it and make the split copy it.
      let upper = try splitVMA(mm, at, at: end)
      at = mm.vmas.index(before: upper)!
    }
    mm.vmas[at] = proposed
    return proposed
  }

  /// `vma_merge_existing_range()`: `proposed` is `[start, end)` of `middle` with its
  /// new attributes. Returns the merge target, or `nil` when no merge is possible.
  private func mergeExistingRange(_ mm: MM, _ middle: VMA, _ proposed: VMA) -> VMA? {
    guard proposed.vmFlags.isDisjoint(with: .special) else { return nil }
    let leftSide = proposed.vmStart == middle.vmStart
    let rightSide = proposed.vmEnd == middle.vmEnd
    guard leftSide || rightSide else { return nil }
    let prev = leftSide ? mm.vmas.vma(before: middle.vmStart) : nil
    let next = rightSide ? mm.vmas.vma(startingAtOrAbove: middle.vmEnd) : nil
    let mergeLeft = prev.map { canMergeAfter($0, proposed, middle: middle) } ?? false
    let mergeRight =
      next.map {
        canMergeBefore(proposed, $0, middle: middle)
          && (!mergeLeft || anonVMAsCompatible(prev!, $0))
      } ?? false
    guard mergeLeft || mergeRight else { return nil }
    let removeMiddle = leftSide && rightSide
    cost.vmaMerges += 1
    if mergeLeft {
      var target = prev!
      if mergeRight {
        let next = next!
        target.vmEnd = next.vmEnd
        dupAnonVMA(&target, from: next.anonVMA != .none ? next : middle)
        freeMergedVMA(mm, startingAt: middle.vmStart)
        freeMergedVMA(mm, startingAt: next.vmStart)
      } else {
        target.vmEnd = proposed.vmEnd
        dupAnonVMA(&target, from: middle)
        if removeMiddle {
          freeMergedVMA(mm, startingAt: middle.vmStart)
        } else {
          mm.vmas.update(startingAt: middle.vmStart) {
            $0.vmStart = proposed.vmEnd
            $0.vmPgoff = middle.linearPageIndex(proposed.vmEnd)
          }
        }
      }
      mm.vmas.update(startingAt: target.vmStart) { $0 = target }
      return target
    }
    var target = next!
    target.vmStart = proposed.vmStart
    target.vmPgoff = proposed.vmPgoff
    dupAnonVMA(&target, from: middle)
    if removeMiddle {
      freeMergedVMA(mm, startingAt: middle.vmStart)
    } else {
      mm.vmas.update(startingAt: middle.vmStart) { $0.vmEnd = proposed.vmStart }
    }
    mm.vmas.update(startingAt: next!.vmStart) { $0 = target }
    return target
  }

  // MARK: Add a new range

  /// `vma_merge_new_range()` + `vma_expand()`, else `vma_link()`: adds `vma` (a free
  /// range) to `mm`, extending a compatible neighbour instead of allocating a VMA when
  /// it can (spec §6.2): extend prev, extend next downwards, or extend prev over the
  /// range and absorb next.
  ///
  ///     extend prev      |-- prev --|+++ vma +++|
  ///     absorb next      |-- prev --|+++ vma +++|-- next --|   one VMA remains
  ///
  /// `vma.anonVMA` is the anon_vma the range brings: none for a fresh mapping, the
  /// VMA's own for an in-place mremap growth (`vma_merge_extend`), the source's for an
  /// mremap copy, which passes its source as `copiedFrom` (`vma_merge_copied_range`)
  /// with its anon_vma and chain in `vma`: a fork-child source never merges into an
  /// unfaulted neighbour, and a merge target without an anon_vma adopts the source's.
  ///
  /// The caller does not count a shmem reference for `vma`: a new VMA takes one, a
  /// merged one does not. Returns the VMA that now covers the range.
  @discardableResult
  func insertVMA(_ mm: MM, _ vma: VMA, copiedFrom: VMA? = nil) -> VMA {
    let ni = mm.vmas.index(above: vma.vmStart)
    let next = ni.map { mm.vmas[$0] }
    let pi = ni.map { mm.vmas.index(before: $0) } ?? mm.vmas.lastIndex
    let prev = pi.map { mm.vmas[$0] }
    precondition(
      next.map { $0.vmStart >= vma.vmEnd } ?? true, "insertVMA: \(vma) overlaps \(next!)")
    let mergeable = vma.vmFlags.isDisjoint(with: .special)
    let mergeLeft =
      mergeable && (prev.map { canMergeAfter($0, vma, copiedFrom: copiedFrom) } ?? false)
    let mergeRight =
      mergeable
      && (next.map {
        canMergeBefore(vma, $0, copiedFrom: copiedFrom)
          && (!mergeLeft || anonVMAsCompatible(prev!, $0))
      } ?? false)
    guard mergeLeft || mergeRight else {
      if let pi { mm.vmas.insert(vma, after: pi) } else { mm.vmas.insert(vma) }
      addShmemRef(vma.shmem)
      cost.vmasAllocated += 1
      return vma
    }
    cost.vmaMerges += 1
    if mergeLeft {
      var target = prev!
      target.vmEnd = vma.vmEnd
      if mergeRight {
        let next = next!
        target.vmEnd = next.vmEnd
        dupAnonVMA(&target, from: next)
        freeMergedVMA(mm, startingAt: next.vmStart)
        dupAnonVMA(&target, from: vma)
        mm.vmas.update(startingAt: target.vmStart) { $0 = target }
        return target
      }
      dupAnonVMA(&target, from: vma)
      mm.vmas[pi!] = target
      return target
    }
    var target = next!
    target.vmStart = vma.vmStart
    target.vmPgoff = vma.vmPgoff
    dupAnonVMA(&target, from: vma)
    mm.vmas[ni!] = target
    return target
  }

  // MARK: Unmap

  /// `do_vmi_align_munmap()`: removes everything mapped in `[start, end)` (page
  /// aligned, `start < end`), splitting VMAs that straddle either end, zapping the
  /// PTEs (one TLB flush range) and dropping shmem references. Holes are fine; an
  /// empty range does nothing.
  ///
  /// Errors: ENOMEM, before any change, when the range lies strictly inside one VMA
  /// (two splits, net +1 VMA) and `map_count >= vm.max_map_count`. Trimming a head or
  /// tail is allowed at the limit (net 0).
  func unmapRange(_ mm: MM, _ start: VirtAddr, _ end: VirtAddr) throws(KernelError) {
    guard let i = mm.vmas.index(above: start), case let first = mm.vmas[i], first.vmStart < end
    else { return }
    if start <= first.vmStart && end < first.vmEnd {
      // Only the head of `first` goes: splitting at `end` and removing the lower half
      // comes down to trimming it in place (same counts; the shmem reference the
      // split would take is the one the removal drops).
      //
      //     before   |------------ first ------------|
      //     after                  |---- first ------|
      //                           end
      var upper = first
      upper.vmPgoff = first.linearPageIndex(end)
      upper.vmStart = end
      mm.vmas[i] = upper
      cost.vmaSplits += 1
      cost.vmasAllocated += 1
      zapPTERange(mm, start, end)
      cost.vmasFreed += 1
      freePageTables(mm, start, end, next: i)
      return
    }
    if start > first.vmStart {
      if end < first.vmEnd && mm.mapCount >= maxMapCount {
        throw KernelError(
          .ENOMEM,
          "munmap of [\(start), \(end)) inside \(first) needs a split: map_count \(mm.mapCount) >= vm.max_map_count \(maxMapCount)"
        )
      }
      try splitVMA(mm, at: start, checkMapCount: false)
    }
    try splitVMA(mm, at: end, checkMapCount: false)
    zapPTERange(mm, start, end)
    var next = mm.vmas.index(above: start)
    while let i = next, mm.vmas[i].vmStart < end {
      let removed = mm.vmas.remove(at: i)
      if let id = removed.shmem { dropShmemRef(id) }
      cost.vmasFreed += 1
      next = mm.vmas.index(above: start)
    }
    freePageTables(mm, start, end, next: next)
  }

  // MARK: Placement

  /// `vm_unmapped_area()` top-down inside the arena: the highest free gap that holds
  /// `length` bytes, the mapping placed at the top end of it. With `alignForTHP` (a
  /// private anonymous mapping without a hint) and a length that is a multiple of
  /// 2 MiB, `__thp_get_unmapped_area()` first looks for a gap of `length + 2 MiB` and
  /// places the mapping at the highest 2 MiB boundary that fits below its top; if no
  /// gap is that large the plain search is used. `nil` when nothing fits (ENOMEM).
  func unmappedArea(_ mm: MM, length: UInt64, alignForTHP: Bool = true) -> VirtAddr? {
    guard length > 0, length <= Arena.end - Arena.start else { return nil }
    if alignForTHP && length % pmdSize == 0,
      let top = mm.vmas.highestGapTop(fitting: length + pmdSize, low: Arena.start, high: Arena.end)
    {
      return VirtAddr((top - length).rawValue & ~(pmdSize - 1))
    }
    return mm.vmas.highestGapTop(fitting: length, low: Arena.start, high: Arena.end).map {
      $0 - length
    }
  }
}
