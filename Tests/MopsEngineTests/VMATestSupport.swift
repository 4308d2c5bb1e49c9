import MopsABI
import Testing

@testable import MopsEngine

/// Helpers shared by the mmap, munmap, mprotect, mremap and VMA primitive tests.
extension World {
  /// The process `pid`'s address space.
  func mmOf(_ pid: PID) -> MM { processes[pid]! }

  /// Page `n` of the arena.
  static func page(_ n: UInt64) -> VirtAddr { Arena.start + n * pageSize }

  /// Installs a fresh exclusive page at `addr` the way a write fault does (anon_vma
  /// prepared, PageAnonExclusive, mapcount 1, writable dirty PTE), filled with `fill`.
  @discardableResult
  func writePage(_ pid: PID, _ addr: VirtAddr, fill: UInt8 = 0xAA) -> PFN {
    let mm = processes[pid]!
    let vma = mm.vmas.vma(containing: addr)!
    precondition(!vma.vmFlags.contains(.shared), "writePage is for private VMAs")
    let anonVMA = anonVMAPrepare(mm, vmaStart: vma.vmStart)
    let pfn = allocFolio()
    withFolio(pfn) {
      $0.mapcount = 1
      $0.flags.insert(.anonExclusive)
      $0.anonVMA = anonVMA
      $0.index = vma.linearPageIndex(addr)
      $0.fill = fill
    }
    mm.pageTable.set(addr, .page(pfn, writable: vma.vmFlags.contains(.write), dirty: true))
    return pfn
  }

  /// Installs the shared zero page at `addr` the way a read fault does.
  func readZeroPage(_ pid: PID, _ addr: VirtAddr) {
    processes[pid]!.pageTable.set(addr, .zeroPage)
  }

  /// Maps the page of shmem object `vma.shmem` behind `addr` (allocating it in the page
  /// cache), as a fault on a shared anonymous mapping does.
  @discardableResult
  func touchShared(_ pid: PID, _ addr: VirtAddr, fill: UInt8 = 0x55) -> PFN {
    let mm = processes[pid]!
    let vma = mm.vmas.vma(containing: addr)!
    let id = vma.shmem!
    let index = vma.linearPageIndex(addr)
    let pfn: PFN
    if let cached = shmemObjects[id]!.pages[index] {
      pfn = cached
    } else {
      pfn = allocFolio()
      withFolio(pfn) {
        $0.flags.insert(.shmem)
        $0.index = index
        $0.fill = fill
      }
      shmemObjects[id]!.pages[index] = pfn
    }
    withFolio(pfn) { $0.mapcount += 1 }
    mm.pageTable.set(addr, .page(pfn, writable: vma.vmFlags.contains(.write), dirty: true))
    return pfn
  }

  /// The VMAs of `pid` as `"first-end:rwxp"` strings in arena pages, with invisible
  /// flags that matter for merging appended (`ac`, `nr`, `dc`).
  func layout(_ pid: PID) -> [String] {
    processes[pid]!.vmas.map { vma in
      var s = "\((vma.vmStart - Arena.start) / pageSize)-\((vma.vmEnd - Arena.start) / pageSize):"
      s += vma.vmFlags.prot.rwx + (vma.vmFlags.contains(.shared) ? "s" : "p")
      for (flag, name) in [(VMFlags.account, "ac"), (.noreserve, "nr"), (.dontcopy, "dc")]
      where vma.vmFlags.contains(flag) {
        s += ":" + name
      }
      return s
    }
  }
}

/// mmap flags of the common cases.
extension MapFlags {
  static let privateAnon: MapFlags = [.private, .anonymous]
  static let sharedAnon: MapFlags = [.shared, .anonymous]
  static let fixedPrivateAnon: MapFlags = [.private, .anonymous, .fixed]
  static let noreplacePrivateAnon: MapFlags = [.private, .anonymous, .fixedNoreplace]
}

/// Expects `body` to be refused as not modelled.
func expectNotModelled(
  sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
) {
  do {
    try body()
    Issue.record("expected a not-modelled refusal, got success", sourceLocation: sourceLocation)
  } catch let error as KernelError {
    #expect(error.isNotModelled, "\(error)", sourceLocation: sourceLocation)
  } catch {
    Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
  }
}

/// Expects `body` to throw a KernelError with `errno` (untyped-throws closures, so the
/// call sites need no `throws(KernelError)` annotation).
func expectFailure(
  _ errno: Errno, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
) {
  do {
    try body()
    Issue.record("expected \(errno.name), got success", sourceLocation: sourceLocation)
  } catch let error as KernelError {
    #expect(
      error.errno == errno && !error.isNotModelled, "\(error)", sourceLocation: sourceLocation)
  } catch {
    Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
  }
}

/// A suite that works on a fresh world's first process, mapping by page number.
protocol FirstProcessSuite {
  var world: World { get }
}

extension FirstProcessSuite {
  var pid: PID { world.initialPID }
  var mm: MM { world.mmOf(pid) }
  func page(_ n: UInt64) -> VirtAddr { World.page(n) }

  /// Maps `count` pages at page `first` (MAP_FIXED private anonymous by default).
  func map(
    _ first: UInt64, _ count: UInt64, _ prot: Prot = .readWrite, _ flags: MapFlags = .fixedPrivateAnon
  ) throws {
    _ = try world.mmap(pid, addr: page(first), length: pages(count), prot: prot, flags: flags)
  }
}
