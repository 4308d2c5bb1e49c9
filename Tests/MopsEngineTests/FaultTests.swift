import MopsABI
import Testing

@testable import MopsEngine

/// Page faults of user accesses (Ops/fault.swift): spec fork-cow-madvise §2.
@Suite struct FaultTests {
  // MARK: Private anonymous: none PTE

  @Test(arguments: Scenario.allCases)
  func readFaultMapsTheZeroPageWithoutAnonVMA(_ scenario: Scenario) throws {
    let (world, pid) = try scenario.world { w, p in w.mapAnon(p, page: 0, count: 4) }
    let before = world.cost
    world.read(pid, arena(1))
    #expect(world.pte(pid, arena(1)) == .zeroPage)
    #expect(world.vmaAt(pid, arena(1))!.anonVMA == .none)
    let d = world.cost.since(before)
    #expect(d.faults == 1 && d.pagesAllocated == 0)
    world.read(pid, arena(1))
    #expect(world.cost.since(before).faults == 1, "re-reading takes no fault")
    #expect(world.readBytes(pid, addr: arena(1) + 100, count: 3).bytes == [0, 0, 0])
  }

  @Test(arguments: Scenario.allCases)
  func writeFaultAllocatesAZeroedExclusiveWritablePage(_ scenario: Scenario) throws {
    let (world, pid) = try scenario.world { w, p in w.mapAnon(p, page: 0, count: 4) }
    let before = world.cost
    #expect(world.touch(pid, addr: arena(2) + 7, write: true, fill: nil) == .ok)
    let pte = world.pte(pid, arena(2))
    #expect(pte.isPage && pte.isWritable && pte.isDirty)
    let vma = world.vmaAt(pid, arena(2))!
    #expect(vma.anonVMA != .none && vma.anonVMAChainLength == 1)
    let f = world.folio(pte.pfn)
    #expect(f.mapcount == 1 && f.refcount == 1 && f.isAnonExclusive)
    #expect(f.index == arena(2).vpn && f.anonVMA == vma.anonVMA)
    #expect(world.contents(pte.pfn) == .zero)
    let d = world.cost.since(before)
    #expect(d.faults == 1 && d.pagesAllocated == 1 && d.pagesZeroed == 1 && d.pagesCopied == 0)
    world.write(pid, arena(2))
    #expect(world.cost.since(before).faults == 1, "a writable PTE takes no further fault")
  }

  /// Probe 02_write_after_read.
  @Test(arguments: Scenario.allCases)
  func writeAfterReadReplacesTheZeroPageWithAFreshPage(_ scenario: Scenario) throws {
    let (world, pid) = try scenario.world { w, p in w.mapAnon(p, page: 0, count: 1) }
    world.read(pid, arena(0))
    let before = world.cost
    world.write(pid, arena(0), 0)
    let pte = world.pte(pid, arena(0))
    #expect(pte.isPage && pte.isWritable && world.folio(pte.pfn).isAnonExclusive)
    let d = world.cost.since(before)
    #expect(d.faults == 1 && d.pagesZeroed == 1 && d.pagesCopied == 0)
    #expect(world.vmaAt(pid, arena(0))!.anonVMA != .none)
  }

  // MARK: do_wp_page

  @Test func anonExclusiveReadOnlyPageIsReusedWithoutCopy() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 1)
    world.write(pid, arena(0), 1)
    let pfn = world.pte(pid, arena(0)).pfn
    world.processes[pid]!.pageTable.set(arena(0), world.pte(pid, arena(0)).withWritable(false))
    let before = world.cost
    world.write(pid, arena(0), 2)
    #expect(world.pte(pid, arena(0)) == .page(pfn, writable: true, dirty: true))
    let d = world.cost.since(before)
    #expect(d.faults == 1 && d.pagesAllocated == 0)
  }

  /// Probe 07: the parent writes while the child still shares; the child's later
  /// write reuses the original.
  @Test func writeToASharedPageCopiesAndTheLastSharerReuses() throws {
    let world = World(checksInvariants: true)
    let parent = world.initialPID
    world.mapAnon(parent, page: 0, count: 1)
    world.write(parent, arena(0), 0x41)
    let original = world.pte(parent, arena(0)).pfn
    let child = try world.fork(parent)
    let before = world.cost
    world.write(parent, arena(0), 0x42)
    let copy = world.pte(parent, arena(0)).pfn
    #expect(copy != original)
    #expect(world.folio(copy).isAnonExclusive && world.folio(copy).mapcount == 1)
    #expect(world.folio(original).mapcount == 1 && !world.folio(original).isAnonExclusive)
    let d = world.cost.since(before)
    #expect(d.faults == 1 && d.pagesCopied == 1 && d.pagesZeroed == 0)
    #expect(world.readBytes(child, addr: arena(0), count: 1).bytes == [0x41])
    world.write(child, arena(0), 0x43)
    #expect(world.pte(child, arena(0)).pfn == original, "refcount 1: reused")
    #expect(world.folio(original).isAnonExclusive)
    #expect(world.readBytes(parent, addr: arena(0), count: 1).bytes == [0x42])
  }

  /// Probe 06: the child wrote first (copy), the parent reuses later.
  @Test func childWritesFirstThenParentReuses() throws {
    let world = World(checksInvariants: true)
    let parent = world.initialPID
    world.mapAnon(parent, page: 0, count: 1)
    world.write(parent, arena(0))
    let original = world.pte(parent, arena(0)).pfn
    let child = try world.fork(parent)
    world.write(child, arena(0), 0x44)
    #expect(world.pte(child, arena(0)).pfn != original)
    let before = world.cost
    world.write(parent, arena(0), 0x45)
    #expect(world.pte(parent, arena(0)).pfn == original)
    #expect(world.cost.since(before).faults == 1 && world.cost.since(before).pagesCopied == 0)
  }

  /// Probe 08: the child exits without writing: mapcount is back to 1 but the page is
  /// not anon-exclusive and the PTE read-only; the next write faults once and reuses.
  @Test func afterTheChildExitedTheParentsWriteFaultsOnceAndReuses() throws {
    let (world, pid) = try Scenario.afterChildExit.world { w, p in
      w.mapAnon(p, page: 0, count: 1)
      w.write(p, arena(0))
    }
    let pte = world.pte(pid, arena(0))
    #expect(!pte.isWritable)
    #expect(world.folio(pte.pfn).mapcount == 1 && !world.folio(pte.pfn).isAnonExclusive)
    let before = world.cost
    world.write(pid, arena(0), 0x50)
    #expect(world.pte(pid, arena(0)).pfn == pte.pfn)
    #expect(world.folio(pte.pfn).isAnonExclusive)
    #expect(world.cost.since(before).faults == 1 && world.cost.since(before).pagesAllocated == 0)
  }

  /// Probes 09 and 10: three sharers of which two exit (a child and a grandchild):
  /// the survivor reuses.
  @Test func lastOfThreeSharersReusesWhetherSiblingsOrGrandchildren() throws {
    for grandchild in [false, true] {
      let world = World(checksInvariants: true)
      let pid = world.initialPID
      world.mapAnon(pid, page: 0, count: 1)
      world.write(pid, arena(0))
      let pfn = world.pte(pid, arena(0)).pfn
      let a = try world.fork(pid)
      let b = try world.fork(grandchild ? a : pid)
      #expect(world.folio(pfn).mapcount == 3)
      try world.exit(b)
      try world.exit(a)
      world.write(pid, arena(0), 1)
      #expect(world.pte(pid, arena(0)).pfn == pfn)
    }
  }

  /// Probe 19: after mprotect(PROT_READ) and back, a page that was never shared
  /// writes without a fault; one that was shared (child exited) faults once and is
  /// reused.
  @Test func mprotectRoundTripRestoresWritesOnlyForExclusivePages() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    let addr = try world.mmap(pid, addr: VirtAddr(0), length: pages(2), prot: .readWrite, flags: [.private, .anonymous])
    world.write(pid, addr, pages: 2)
    try world.madvise(pid, addr: addr + pages(1), length: pages(1), advice: .DONTFORK)
    try world.exit(try world.fork(pid))
    try world.mprotect(pid, addr: addr, length: pages(2), prot: .read)
    try world.mprotect(pid, addr: addr, length: pages(2), prot: .readWrite)
    let shared = world.pte(pid, addr)
    let before = world.cost
    world.write(pid, addr + pages(1), 2)
    #expect(world.cost.since(before).faults == 0, "never shared: writable again")
    world.write(pid, addr, 2)
    #expect(world.cost.since(before).faults == 1 && world.pte(pid, addr).pfn == shared.pfn)
  }

  /// Probe 32: an extra reference (a pipe holding the page after vmsplice) forces a
  /// copy although the page is mapped once.
  @Test func extraReferenceForcesACopyAtMapcountOne() throws {
    let (world, pid) = try Scenario.afterChildExit.world { w, p in
      w.mapAnon(p, page: 0, count: 1)
      w.write(p, arena(0))
    }
    let old = world.pte(pid, arena(0)).pfn
    world.withFolio(old) { $0.extraRefs = 1 }
    world.write(pid, arena(0), 2)
    #expect(world.pte(pid, arena(0)).pfn != old)
    #expect(world.folio(old).isInUse && world.folio(old).mapcount == 0)
    #expect(world.contents(old) == PageContents(fill: 0x41))
  }

  @Test func copyOnWriteKeepsTheBytesOfTheOriginal() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 2)
    #expect(world.writeBytes(pid, addr: arena(0) + 4090, [1, 2, 3, 4, 5, 6, 7, 8]) == .ok)
    let child = try world.fork(pid)
    #expect(world.touch(child, addr: arena(1), write: true, fill: nil) == .ok)
    #expect(world.readBytes(child, addr: arena(0) + 4090, count: 8).bytes == [1, 2, 3, 4, 5, 6, 7, 8])
  }

  // MARK: Permissions (spec §2.4)

  @Test(arguments: Scenario.allCases)
  func accessWithoutVMAIsSEGVMapErr(_ scenario: Scenario) throws {
    let (world, pid) = try scenario.world { w, p in w.mapAnon(p, page: 0, count: 1) }
    let addr = arena(1) + 5
    #expect(world.touch(pid, addr: addr, write: false, fill: nil) == .signal(.mapErr(addr)))
    #expect(world.touch(pid, addr: addr, write: true, fill: 1) == .signal(.mapErr(addr)))
    #expect(world.touch(pid, addr: VirtAddr(UInt64.max), write: true, fill: 1) == .signal(.mapErr(VirtAddr(UInt64.max))))
  }

  @Test func writeToAReadOnlyVMAIsSEGVAccErrButReadWorks() {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 1, prot: .read)
    #expect(world.touch(pid, addr: arena(0), write: true, fill: 1) == .signal(.accErr(arena(0))))
    #expect(world.pte(pid, arena(0)).isNone)
    world.read(pid, arena(0))
    #expect(world.touch(pid, addr: arena(0), write: true, fill: 1) == .signal(.accErr(arena(0))))
  }

  @Test func protNoneIsSEGVAccErrForReadAndWrite() {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 1, prot: .none)
    #expect(world.touch(pid, addr: arena(0), write: false, fill: nil) == .signal(.accErr(arena(0))))
    #expect(world.touch(pid, addr: arena(0), write: true, fill: 1) == .signal(.accErr(arena(0))))
    #expect(world.cost.faults == 0)
  }

  /// x86 `access_error()`: a read needs any of VM_READ|VM_WRITE|VM_EXEC (observed:
  /// reading a PROT_WRITE-only mapping maps the zero page).
  @Test func readOfAWriteOnlyOrExecOnlyVMASucceeds() {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 1, prot: .write)
    world.mapAnon(pid, page: 2, count: 1, prot: .exec)
    world.read(pid, arena(0))
    world.read(pid, arena(2))
    #expect(world.pte(pid, arena(0)) == .zeroPage && world.pte(pid, arena(2)) == .zeroPage)
  }

  @Test func unknownProcessCannotAccess() {
    let world = World(checksInvariants: true)
    #expect(world.touch(PID(9), addr: arena(0), write: false, fill: nil) == .noSuchProcess(PID(9)))
    #expect(world.writeBytes(PID(9), addr: arena(0), [1]) == .noSuchProcess(PID(9)))
    #expect(world.readBytes(PID(9), addr: arena(0), count: 1).outcome == .noSuchProcess(PID(9)))
  }

  // MARK: Contents

  @Test func touchWithFillSetsEveryByteAndReadsChangeNothing() {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 1)
    #expect(world.writeBytes(pid, addr: arena(0) + 10, [9]) == .ok)
    world.write(pid, arena(0), 0x7a)
    #expect(world.contents(world.pte(pid, arena(0)).pfn) == PageContents(fill: 0x7a))
    #expect(world.touch(pid, addr: arena(0), write: true, fill: nil) == .ok)
    let (bytes, outcome) = world.readBytes(pid, addr: arena(0), count: 4096)
    #expect(outcome == .ok && bytes.allSatisfy { $0 == 0x7a })
    #expect(world.contents(world.pte(pid, arena(0)).pfn) == PageContents(fill: 0x7a))
  }

  @Test func writeBytesCrossesPagesAndStopsAtTheFirstFailingPage() {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 2)
    #expect(world.writeBytes(pid, addr: arena(1) + 4094, [1, 2, 3, 4]) == .signal(.mapErr(arena(2))))
    #expect(world.readBytes(pid, addr: arena(1) + 4093, count: 3).bytes == [0, 1, 2])
    #expect(world.writeBytes(pid, addr: arena(0) + 4095, [5, 6]) == .ok)
    #expect(world.readBytes(pid, addr: arena(0) + 4095, count: 2).bytes == [5, 6])
    let (bytes, outcome) = world.readBytes(pid, addr: arena(1) + 4095, count: 2)
    #expect(bytes == [2] && outcome == .signal(.mapErr(arena(2))))
    #expect(world.writeBytes(pid, addr: arena(0), []) == .ok)
    #expect(world.readBytes(pid, addr: arena(0), count: -1).bytes == [])
  }

  // MARK: Shared anonymous (shmem)

  @Test func sharedReadFaultAllocatesAPageInTheObjectNotTheZeroPage() {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 2, shared: true)
    world.read(pid, arena(1))
    let pte = world.pte(pid, arena(1))
    #expect(pte.isPage && pte.isWritable && !pte.isDirty)
    let f = world.folio(pte.pfn)
    #expect(f.flags.contains(.shmem) && f.mapcount == 1 && !f.isAnonExclusive && f.index == 1)
    let obj = world.shmemObjects[world.vmaAt(pid, arena(0))!.shmem!]!
    #expect(obj.pages == [1: pte.pfn])
    #expect(world.vmaAt(pid, arena(0))!.anonVMA == .none)
  }

  @Test func sharedPagesOfAReadOnlyVMAAreMappedReadOnly() {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 1, prot: .read, shared: true)
    world.read(pid, arena(0))
    #expect(world.pte(pid, arena(0)).isPage && !world.pte(pid, arena(0)).isWritable)
    #expect(world.touch(pid, addr: arena(0), write: true, fill: 1) == .signal(.accErr(arena(0))))
  }

  @Test func sharedWriteIsVisibleToEverySharerAndCountsOneMappingPerPTE() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 1, shared: true)
    let child = try world.fork(pid)
    world.write(child, arena(0), 0x33)
    world.read(pid, arena(0))
    #expect(world.pte(pid, arena(0)).pfn == world.pte(child, arena(0)).pfn)
    #expect(world.folioAt(pid, arena(0)).mapcount == 2)
    #expect(world.readBytes(pid, addr: arena(0), count: 1).bytes == [0x33])
    #expect(world.pte(child, arena(0)).isDirty && world.pte(child, arena(0)).isWritable)
  }

  /// Observed: after the PTEs of a fully written 32-page object were zapped, a read
  /// of page 5 maps pages 0–15, a read of page 20 maps 16–31, and a read of a missing
  /// page maps the cached pages of its window and allocates only itself.
  @Test func sharedReadFaultMapsTheCachedPagesOfItsSixteenPageWindow() {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    let mm = world.processes[pid]!
    world.mapAnon(pid, page: 0, count: 32, shared: true)
    world.write(pid, arena(0), pages: 32)
    func mapped() -> [UInt64] { (0..<32).filter { !world.pte(pid, arena($0)).isNone } }
    world.zapPTERange(mm, arena(0), arena(32))
    let before = world.cost
    world.read(pid, arena(5))
    #expect(mapped() == Array(0..<16))
    #expect(world.cost.since(before).faults == 1)
    world.zapPTERange(mm, arena(0), arena(32))
    world.write(pid, arena(5))
    #expect(mapped() == [5], "write faults do not fault around")
    world.zapPTERange(mm, arena(0), arena(32))
    world.read(pid, arena(20))
    #expect(mapped() == Array(16..<32))

    world.mapAnon(pid, page: 64, count: 32, shared: true)
    for p: UInt64 in [64, 67, 81] { world.write(pid, arena(p)) }
    world.zapPTERange(mm, arena(64), arena(96))
    let allocated = world.cost.pagesAllocated
    world.read(pid, arena(65))
    #expect((64..<96).filter { !world.pte(pid, arena($0)).isNone } == [64, 65, 67])
    #expect(world.cost.pagesAllocated == allocated + 1)
  }

  /// Observed: the window is aligned on the virtual address, not on the object
  /// offset (a shared VMA moved to an address 5 pages off a 16-page boundary).
  @Test func faultAroundWindowIsAlignedOnTheAddress() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 64, shared: true)
    world.write(pid, arena(0), pages: 64)
    let moved = try world.mremap(
      pid, oldAddr: arena(0), oldLength: pages(32), newLength: pages(32), flags: [.maymove, .fixed],
      newAddr: arena(1005))
    try world.madvise(pid, addr: moved, length: pages(32), advice: .DONTNEED)
    world.read(pid, arena(1017))
    #expect((1005..<1037).filter { !world.pte(pid, arena($0)).isNone } == Array(1008..<1024))
  }

  @Test func faultAroundStaysInsideTheVMAAndThePageTable() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    let mm = world.processes[pid]!
    // A 20-page shared VMA starting 4 pages before a 2 MiB boundary.
    let first: UInt64 = 512 - 4
    world.mapAnon(pid, page: first, count: 20, shared: true)
    world.write(pid, arena(first), pages: 20)
    world.zapPTERange(mm, arena(first), arena(first + 20))
    world.read(pid, arena(first + 1))
    #expect((first..<first + 20).filter { !world.pte(pid, arena($0)).isNone } == Array(first..<512))
    // Split off the first page: the window is clamped to the VMA start.
    try world.setFlags(pid, page: first, count: 1, insert: .dontdump)
    world.zapPTERange(mm, arena(first), arena(first + 20))
    world.read(pid, arena(first + 2))
    #expect((first..<first + 20).filter { !world.pte(pid, arena($0)).isNone } == Array(first + 1..<512))
  }

  /// A shared VMA grown past its object (mremap) raises SIGBUS past the object's end.
  @Test func sharedAccessPastTheObjectIsSIGBUS() {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 4, shared: true, objectPages: 2)
    world.write(pid, arena(1))
    world.zapPTERange(world.processes[pid]!, arena(0), arena(4))
    let addr = arena(2) + 9
    #expect(world.touch(pid, addr: addr, write: false, fill: nil) == .signal(.busAdrErr(addr)))
    #expect(world.touch(pid, addr: addr, write: true, fill: 1) == .signal(.busAdrErr(addr)))
    #expect(!world.pte(pid, arena(1)).isNone, "fault-around ran before the size check")
    #expect(world.pte(pid, arena(2)).isNone)
  }

  // MARK: userfaultfd MISSING

  @Test(arguments: [false, true])
  func missingRegisteredAccessIsAUserfaultWithNoPTEChange(_ write: Bool) throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 4)
    world.read(pid, arena(3))
    let uffd = world.makeUffd(pid)
    try world.registerMissing(pid, uffd, page: 0, count: 4)
    let before = world.cost
    #expect(world.touch(pid, addr: arena(1) + 3, write: write, fill: 1) == .userfault(uffd, arena(1) + 3))
    #expect(world.pte(pid, arena(1)).isNone)
    #expect(world.cost.since(before) == CostCounters())
    // Observed: a blocked write fault has already given the VMA its anon_vma, so a
    // fork copies the VMA's zero-page PTEs.
    #expect((world.vmaAt(pid, arena(1))!.anonVMA != .none) == write)
    #expect(world.touch(pid, addr: arena(3), write: false, fill: nil) == .ok, "present PTEs need no fault")
    let child = try world.fork(pid)
    #expect(world.pte(child, arena(3)) == (write ? .zeroPage : .none))
  }

  /// do_anonymous_page() allocates the page table before it checks for a
  /// userfault; a shmem fault does not.
  @Test func privateUserfaultLeavesAnEmptyPageTable() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 1)
    world.mapAnon(pid, page: 512, count: 1, shared: true)
    let uffd = world.makeUffd(pid)
    try world.registerMissing(pid, uffd, page: 0, count: 1)
    try world.registerMissing(pid, uffd, page: 512, count: 1)
    #expect(world.touch(pid, addr: arena(0), write: false, fill: nil) == .userfault(uffd, arena(0)))
    #expect(world.touch(pid, addr: arena(512), write: false, fill: nil) == .userfault(uffd, arena(512)))
    let pt = world.processes[pid]!.pageTable
    #expect(pt.hasTable(arena(0)) && !pt.hasTable(arena(512)) && pt.used == 0)
  }

  @Test func featureSIGBUSTurnsAMissingFaultIntoSIGBUS() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 1)
    let uffd = world.makeUffd(pid, features: .sigbus)
    try world.registerMissing(pid, uffd, page: 0, count: 1)
    #expect(world.touch(pid, addr: arena(0), write: false, fill: nil) == .signal(.busAdrErr(arena(0))))
    #expect(world.touch(pid, addr: arena(0), write: true, fill: 1) == .signal(.busAdrErr(arena(0))))
    #expect(world.pte(pid, arena(0)).isNone)
  }

  /// Observed: a registered shmem range faults in cached pages without a userfault;
  /// only a page missing from the object raises one.
  @Test func sharedMissingUserfaultOnlyForPagesNotInTheObject() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 4, shared: true)
    world.write(pid, arena(0))
    world.zapPTERange(world.processes[pid]!, arena(0), arena(4))
    let uffd = world.makeUffd(pid)
    try world.registerMissing(pid, uffd, page: 0, count: 4)
    world.read(pid, arena(0))
    #expect(world.touch(pid, addr: arena(1), write: false, fill: nil) == .userfault(uffd, arena(1)))
    #expect(world.touch(pid, addr: arena(1), write: true, fill: 1) == .userfault(uffd, arena(1)))
  }

  // MARK: THP

  @Test func faultInAHugepageVMAsAlignedRangeIsNotModelled() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 512, count: 1024)
    try world.setFlags(pid, page: 512, count: 1024, insert: .hugepage)
    for write in [false, true] {
      let outcome = world.touch(pid, addr: arena(600), write: write, fill: 1)
      guard case .notModelled(let why) = outcome else {
        Issue.record("expected not modelled, got \(outcome)")
        continue
      }
      #expect(why.contains("THP"))
    }
    #expect(world.pte(pid, arena(600)).isNone && world.cost.faults == 0)
    #expect(world.vmaAt(pid, arena(600))!.anonVMA == .none)
  }

  @Test func hugepageVMAWithoutAWhole2MiBRangeOrWithAPageTableFaultsNormally() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 510, count: 514)
    world.write(pid, arena(600))
    try world.setFlags(pid, page: 510, count: 514, insert: .hugepage)
    world.write(pid, arena(511))
    world.write(pid, arena(601))
    #expect(world.pte(pid, arena(601)).isPage)
  }
}
