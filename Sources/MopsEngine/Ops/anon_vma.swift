// Models anon_vma_prepare() and find_mergeable_anon_vma() from mm/rmap.c and
// mm/vma.c: the first page that needs reverse mapping gives its VMA an anon_vma,
// reusing a compatible neighbour's so that pieces split only by protection can merge
// again later. Leaves out the anon_vma degree/reuse heuristics of anon_vma_clone()
// at fork (a fork child always gets a new anon_vma chained to the parent's).
import MopsABI

extension World {
  /// `anon_vma_compatible(a, b)`: `a` directly below `b`, same file, flags equal but
  /// for access bits and soft-dirty, pgoff contiguous.
  func anonVMACompatible(_ a: VMA, _ b: VMA) -> Bool {
    a.vmEnd == b.vmStart && a.shmem == b.shmem
      && (a.vmFlags.rawValue ^ b.vmFlags.rawValue) & ~(VMFlags.access.rawValue | VMFlags.softdirty.rawValue) == 0
      && b.vmPgoff == a.vmPgoff &+ a.pageCount
  }

  /// `anon_vma_prepare`: makes sure the VMA starting at `vmaStart` has an anon_vma and
  /// returns it. Tries the next VMA, then the previous one (`find_mergeable_anon_vma`):
  /// a neighbour's anon_vma is reused when the two are compatible and the neighbour's
  /// chain has a single link; otherwise a new anon_vma is allocated.
  @discardableResult
  func anonVMAPrepare(_ mm: MM, vmaStart: VirtAddr) -> AnonVMA.ID {
    guard let i = mm.vmas.index(above: vmaStart) else { preconditionFailure("no VMA at \(vmaStart)") }
    let vma = mm.vmas[i]
    if vma.anonVMA != .none { return vma.anonVMA }
    var found = AnonVMA.ID.none
    if let n = mm.vmas.index(after: i) {
      let next = mm.vmas[n]
      if anonVMACompatible(vma, next), next.anonVMA != .none, next.anonVMAChainLength == 1 {
        found = next.anonVMA
      }
    }
    if found == .none, let p = mm.vmas.index(before: i) {
      let prev = mm.vmas[p]
      if anonVMACompatible(prev, vma), prev.anonVMA != .none, prev.anonVMAChainLength == 1 {
        found = prev.anonVMA
      }
    }
    if found == .none { found = newAnonVMA() }
    mm.vmas[i].anonVMA = found
    mm.vmas[i].anonVMAChainLength = 1
    return found
  }
}
