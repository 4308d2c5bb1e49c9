// The model's consistency checks, in the manner of swift-collections'
// `_checkInvariants`: run after every operation in debug and test builds.
import MopsABI

/// A broken invariant: what was wrong and the object it was found on.
public struct InvariantViolation: Error, CustomStringConvertible {
  public var message: String
  public var description: String { "mops engine invariant violated: \(message)" }
}

extension World {
  /// Checks every structural invariant of the model:
  /// - VMAs of each mm are page aligned, non-empty, sorted and non-overlapping, and
  ///   `map_count` matches; an unfaulted VMA has no chain, a faulted one has links;
  /// - every PTE lies inside a VMA; writable PTEs only in writable VMAs; a present
  ///   page PTE maps an allocated frame;
  /// - each frame's mapcount equals the PTEs mapping it across all processes;
  /// - PageAnonExclusive implies mapcount 1 (anonymous pages);
  /// - a writable PTE of a private VMA maps an anon-exclusive page;
  /// - no frame is allocated without a reference (no leak), none mapped while free;
  /// - shmem objects' pages are allocated and flagged as page cache.
  public func checkInvariants() throws(InvariantViolation) {
    var mapped = [Int32](repeating: 0, count: folios.count)
    for pid in pids {
      let mm = processes[pid]!
      var prevEnd = VirtAddr(0)
      var count = 0
      for vma in mm.vmas {
        count += 1
        guard vma.vmStart.isPageAligned, vma.vmEnd.isPageAligned, vma.vmStart < vma.vmEnd else {
          throw InvariantViolation(message: "\(pid): misaligned or empty \(vma)")
        }
        guard vma.vmStart >= prevEnd else {
          throw InvariantViolation(message: "\(pid): \(vma) overlaps or is out of order")
        }
        guard (vma.anonVMA == .none) == (vma.anonVMAChainLength == 0) else {
          throw InvariantViolation(message: "\(pid): anon_vma chain inconsistent on \(vma)")
        }
        if let s = vma.shmem, shmemObjects[s] == nil {
          throw InvariantViolation(message: "\(pid): \(vma) refers to a freed shmem object")
        }
        prevEnd = vma.vmEnd
      }
      guard count == mm.mapCount else {
        throw InvariantViolation(message: "\(pid): map_count \(mm.mapCount) but \(count) VMAs")
      }
      guard mm.vmas.chunkCachesAreConsistent else {
        throw InvariantViolation(message: "\(pid): the VMA tree's cached chunk gaps or ends are stale")
      }
      var ptes = 0
      for (key, table) in mm.pageTable.tables {
        guard table.runIsConsistent else {
          throw InvariantViolation(message: "\(pid): page table \(key) misdescribes its run of consecutive frames")
        }
        var used = 0
        for slot in 0..<512 {
          let pte = table[slot]
          if pte.isNone { continue }
          used += 1
          let addr = VirtAddr((key << 9 + UInt64(slot)) << pageShift)
          guard let vma = mm.vmas.vma(containing: addr) else {
            throw InvariantViolation(message: "\(pid): PTE \(pte) at \(addr) outside every VMA")
          }
          if pte.isWritable && !vma.vmFlags.contains(.write) {
            throw InvariantViolation(message: "\(pid): writable PTE at \(addr) in read-only \(vma)")
          }
          guard pte.isPage else { continue }
          let s = self.slot(pte.pfn)
          guard s >= 0, s < folios.count, folios[s].isInUse else {
            throw InvariantViolation(message: "\(pid): PTE at \(addr) maps free frame \(pte.pfn)")
          }
          mapped[s] += 1
          let f = folios[s]
          if pte.isWritable && !vma.vmFlags.contains(.shared) && !f.isAnonExclusive {
            throw InvariantViolation(
              message: "\(pid): writable PTE at \(addr) maps \(pte.pfn), which is not anon-exclusive")
          }
        }
        guard used == table.used else {
          throw InvariantViolation(message: "\(pid): page table \(key) counts \(table.used) entries, holds \(used)")
        }
        ptes += used
      }
      guard ptes == mm.pageTable.used else {
        throw InvariantViolation(message: "\(pid): page table counts \(mm.pageTable.used) entries, holds \(ptes)")
      }
    }
    var cached = [Bool](repeating: false, count: folios.count)
    for (id, obj) in shmemObjects {
      for (off, pfn) in obj.pages {
        let s = slot(pfn)
        guard s >= 0, s < folios.count, folios[s].isInUse, folios[s].flags.contains(.shmem) else {
          throw InvariantViolation(message: "shmem object \(id.rawValue) page \(off) is \(pfn), not a cached frame")
        }
        cached[s] = true
      }
    }
    for s in folios.indices {
      let f = folios[s]
      let pfn = PFN(UInt64(s) + World.firstPFN)
      guard f.isInUse else {
        if mapped[s] != 0 { throw InvariantViolation(message: "free frame \(pfn) is mapped") }
        continue
      }
      guard f.mapcount == mapped[s] else {
        throw InvariantViolation(message: "\(pfn): mapcount \(f.mapcount) but \(mapped[s]) PTEs map it")
      }
      if f.isAnonExclusive && f.mapcount > 1 {
        throw InvariantViolation(message: "\(pfn): anon-exclusive with mapcount \(f.mapcount)")
      }
      if f.flags.contains(.shmem) != cached[s] {
        throw InvariantViolation(message: "\(pfn): shmem flag disagrees with the page cache")
      }
      if f.refcount <= 0 {
        throw InvariantViolation(message: "\(pfn): allocated with no reference (leaked)")
      }
    }
  }

  /// Runs ``checkInvariants()`` when enabled and stops the program on a violation.
  @inline(__always)
  func verify(after operation: @autoclosure () -> String) {
    if checksInvariants { verifyNow(after: operation) }
  }

  private func verifyNow(after operation: () -> String) {
    do {
      try checkInvariants()
    } catch {
      fatalError("\(error) (after \(operation()))")
    }
  }
}
