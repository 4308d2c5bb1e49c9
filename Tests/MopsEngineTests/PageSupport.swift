import MopsABI
import Testing

@testable import MopsEngine

/// Page `n` of the arena.
func arena(_ n: UInt64) -> VirtAddr { Arena.start + pages(n) }

extension World {
  /// Maps `count` anonymous pages at arena page `first` the way mmap does (flags,
  /// pgoff, merging with a compatible neighbour), without going through mmap's
  /// argument checks. A shared mapping gets its own shmem object of `count` pages
  /// (`objectPages` overrides the object's size, as after an mremap grow).
  @discardableResult
  func mapAnon(
    _ pid: PID, page first: UInt64, count: UInt64, prot: Prot = .readWrite, shared: Bool = false,
    objectPages: UInt64? = nil
  ) -> VirtAddr {
    let mm = processes[pid]!
    var flags = VMFlags(prot: prot).union([.mayRead, .mayWrite, .mayExec])
    var vma = VMA(vmStart: arena(first), vmEnd: arena(first + count), vmFlags: flags, vmPgoff: arena(first).vpn)
    if shared {
      flags.formUnion([.shared, .mayShare])
      vma.vmFlags = flags
      vma.vmPgoff = 0
      let id = ShmemObject.ID(rawValue: nextShmem)
      nextShmem += 1
      shmemObjects[id] = ShmemObject(sizeInPages: objectPages ?? count, inode: UInt64(id.rawValue))
      vma.shmem = id
    } else if prot.contains(.write) {
      vma.vmFlags.insert(.account)
    }
    insertVMA(mm, vma)
    return arena(first)
  }

  /// Sets and clears flags on the part `[first, first + count)` of one VMA (what
  /// madvise or mprotect would do), splitting or merging as vma_modify does.
  func setFlags(_ pid: PID, page first: UInt64, count: UInt64, insert: VMFlags = [], remove: VMFlags = []) throws {
    try vmaModify(processes[pid]!, arena(first), arena(first + count)) { v in
      v.vmFlags.subtract(remove)
      v.vmFlags.formUnion(insert)
    }
  }

  /// A userfaultfd context created by `pid`, held open by it.
  func makeUffd(_ pid: PID, flags: Int32 = 0, features: UffdFeatures = []) -> UserfaultfdCtx.ID {
    let id = UserfaultfdCtx.ID(rawValue: nextUffd)
    nextUffd += 1
    uffds[id] = UserfaultfdCtx(mm: pid, flags: flags, initialized: true, features: features, holders: [pid])
    processes[pid]!.uffds.insert(id)
    return id
  }

  /// Registers `[first, first + count)` (inside one VMA) MISSING with `id`.
  func registerMissing(_ pid: PID, _ id: UserfaultfdCtx.ID, page first: UInt64, count: UInt64) throws {
    try vmaModify(processes[pid]!, arena(first), arena(first + count)) { v in
      v.uffd = id
      v.vmFlags.insert(.uffdMissing)
    }
  }

  /// The PTE of `pid` at `addr`.
  func pte(_ pid: PID, _ addr: VirtAddr) -> PTE { processes[pid]!.pageTable[addr] }

  /// The folio mapped by `pid` at `addr` (which must map a page).
  func folioAt(_ pid: PID, _ addr: VirtAddr) -> Folio { folio(pte(pid, addr).pfn) }

  /// The VMA of `pid` containing `addr`.
  func vmaAt(_ pid: PID, _ addr: VirtAddr) -> VMA? { processes[pid]!.vmas.vma(containing: addr) }

  /// Writes `fill` to every byte of `count` pages from `addr`, expecting success.
  func write(_ pid: PID, _ addr: VirtAddr, pages count: UInt64 = 1, _ fill: UInt8 = 0x41,
             sourceLocation: SourceLocation = #_sourceLocation) {
    for i in 0..<count {
      #expect(touch(pid, addr: addr + pages(i), write: true, fill: fill) == .ok, sourceLocation: sourceLocation)
    }
  }

  /// Reads one byte of each of `count` pages from `addr`, expecting success.
  func read(_ pid: PID, _ addr: VirtAddr, pages count: UInt64 = 1, sourceLocation: SourceLocation = #_sourceLocation) {
    for i in 0..<count {
      #expect(touch(pid, addr: addr + pages(i), write: false, fill: nil) == .ok, sourceLocation: sourceLocation)
    }
  }
}
