import MopsABI
import Testing

@testable import MopsEngine

/// madvise() (Ops/madvise.swift): spec fork-cow-madvise §4–§5.
@Suite struct MadviseTests {
  /// A world whose pid 1 has the private read-write pages `[0, count)`, all written.
  func written(_ count: UInt64, _ scenario: Scenario = .fresh) throws -> (World, PID) {
    try scenario.world { w, p in
      w.mapAnon(p, page: 0, count: count)
      w.write(p, arena(0), pages: count)
    }
  }

  func layout(_ world: World, _ pid: PID) -> [String] {
    world.processes[pid]!.vmas.map {
      "\(($0.vmStart - Arena.start) / pageSize)-\(($0.vmEnd - Arena.start) / pageSize)"
    }
  }

  func madvise(_ world: World, _ pid: PID, page first: UInt64, count: UInt64, _ advice: Advice) throws(KernelError) {
    try world.madvise(pid, addr: arena(first), length: pages(count), advice: advice)
  }

  // MARK: Argument checks (§4.1)

  @Test func invalidAdviceIsEINVALBeforeAnyOtherCheck() throws {
    let world = World(checksInvariants: true)
    for value: Int32 in [5, 6, 7, 26, 99, 100, 101, 104, 1000, -1, .min] {
      expectErrno(.EINVAL) { () throws(KernelError) in
        try world.madvise(world.initialPID, addr: VirtAddr(1), length: 0, advice: Advice(rawValue: value))
      }
    }
    expectErrno(.ESRCH) { () throws(KernelError) in
      try world.madvise(PID(7), addr: arena(0), length: 0, advice: Advice(rawValue: 5))
    }
  }

  @Test func unalignedStartIsEINVALEvenWithLengthZero() {
    let world = World(checksInvariants: true)
    expectErrno(.EINVAL) { () throws(KernelError) in
      try world.madvise(world.initialPID, addr: arena(0) + 1, length: 0, advice: .DONTNEED)
    }
  }

  @Test func wrappingLengthOrEndIsEINVAL() {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    expectErrno(.EINVAL) { () throws(KernelError) in
      try world.madvise(pid, addr: arena(0), length: UInt64.max, advice: .DONTNEED)
    }
    expectErrno(.EINVAL) { () throws(KernelError) in
      try world.madvise(pid, addr: VirtAddr(UInt64.max - 4095), length: 4096, advice: .DONTNEED)
    }
  }

  @Test func lengthZeroSucceedsOnUnmappedMemory() throws {
    let world = World(checksInvariants: true)
    for advice in [Advice.DONTNEED, .DONTFORK, .POPULATE_WRITE, .COLLAPSE, .GUARD_INSTALL] {
      try world.madvise(world.initialPID, addr: arena(0), length: 0, advice: advice)
    }
  }

  @Test func lengthIsRoundedUpToWholePages() throws {
    let (world, pid) = try written(2)
    try world.madvise(pid, addr: arena(0), length: 1, advice: .DONTNEED)
    #expect(world.pte(pid, arena(0)).isNone && world.pte(pid, arena(1)).isPage)
  }

  @Test func collapseAndGuardRegionsAreNotModelled() throws {
    let (world, pid) = try written(1)
    for advice in [Advice.COLLAPSE, .GUARD_INSTALL, .GUARD_REMOVE] {
      do {
        try madvise(world, pid, page: 0, count: 1, advice)
        Issue.record("\(advice) succeeded")
      } catch {
        #expect(error.isNotModelled)
      }
    }
    expectErrno(.EINVAL) { () throws(KernelError) in
      try world.madvise(pid, addr: arena(0) + 1, length: 1, advice: .COLLAPSE)
    }
  }

  // MARK: The walk (§4.2)

  /// Probes 25, 26: a hole gives ENOMEM after the mapped parts on both sides got
  /// the advice.
  @Test(arguments: [Advice.DONTFORK, .DONTNEED])
  func holeGivesENOMEMButBothSidesGetTheAdvice(_ advice: Advice) throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 2)
    world.mapAnon(pid, page: 3, count: 2)
    world.write(pid, arena(0), pages: 2)
    world.write(pid, arena(3), pages: 2)
    expectErrno(.ENOMEM) { () throws(KernelError) in try madvise(world, pid, page: 1, count: 3, advice) }
    if advice == .DONTFORK {
      #expect(layout(world, pid) == ["0-1", "1-2", "3-4", "4-5"])
      #expect(world.vmaAt(pid, arena(1))!.vmFlags.contains(.dontcopy))
      #expect(world.vmaAt(pid, arena(3))!.vmFlags.contains(.dontcopy))
      #expect(!world.vmaAt(pid, arena(4))!.vmFlags.contains(.dontcopy))
    } else {
      #expect(world.pte(pid, arena(1)).isNone && world.pte(pid, arena(3)).isNone)
      #expect(world.pte(pid, arena(0)).isPage && world.pte(pid, arena(4)).isPage)
    }
  }

  @Test func rangePastTheLastVMAOrEntirelyUnmappedIsENOMEM() throws {
    let (world, pid) = try written(2)
    expectErrno(.ENOMEM) { () throws(KernelError) in try madvise(world, pid, page: 1, count: 4, .DONTFORK) }
    #expect(world.vmaAt(pid, arena(1))!.vmFlags.contains(.dontcopy))
    expectErrno(.ENOMEM) { () throws(KernelError) in try madvise(world, pid, page: 10, count: 4, .DONTNEED) }
    expectErrno(.ENOMEM) { () throws(KernelError) in
      try world.madvise(pid, addr: VirtAddr(0), length: pages(1), advice: .NORMAL)
    }
  }

  /// Probe 27: a per-VMA error returns at once; earlier VMAs keep the advice, later
  /// ones are untouched, and it wins over an earlier hole's ENOMEM.
  @Test func perVMAErrorStopsTheWalkAndWinsOverAHole() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 1)
    world.mapAnon(pid, page: 2, count: 1, shared: true)
    world.mapAnon(pid, page: 3, count: 1)
    expectErrno(.EINVAL) { () throws(KernelError) in try madvise(world, pid, page: 0, count: 4, .WIPEONFORK) }
    #expect(world.vmaAt(pid, arena(0))!.vmFlags.contains(.wipeonfork))
    #expect(!world.vmaAt(pid, arena(3))!.vmFlags.contains(.wipeonfork))
  }

  /// Probe 28: flag advice on the middle page of a 3-page VMA splits it in three and
  /// the inverse advice merges it back; NOHUGEPAGE does not undo HUGEPAGE's split.
  @Test(arguments: [
    (Advice.DONTFORK, Advice.DOFORK), (.WIPEONFORK, .KEEPONFORK), (.DONTDUMP, .DODUMP),
    (.RANDOM, .NORMAL), (.SEQUENTIAL, .NORMAL), (.MERGEABLE, .UNMERGEABLE),
  ])
  func flagAdviceSplitsAndItsInverseMergesBack(_ advice: Advice, _ inverse: Advice) throws {
    for scenario in Scenario.allCases {
      let (world, pid) = try written(3, scenario)
      try madvise(world, pid, page: 1, count: 1, advice)
      #expect(layout(world, pid) == ["0-1", "1-2", "2-3"])
      try madvise(world, pid, page: 1, count: 1, inverse)
      #expect(layout(world, pid) == ["0-3"], "\(scenario)")
      #expect(world.processes[pid]!.pageTable.used == 3, "flag advice leaves the pages alone")
    }
  }

  @Test func flagAdviceSetsAndClearsTheKernelFlags() throws {
    let (world, pid) = try written(1)
    func flags() -> VMFlags { world.vmaAt(pid, arena(0))!.vmFlags }
    let table: [(Advice, VMFlags, VMFlags)] = [
      (.DONTFORK, [.dontcopy], []), (.DOFORK, [], [.dontcopy]),
      (.WIPEONFORK, [.wipeonfork], []), (.KEEPONFORK, [], [.wipeonfork]),
      (.DONTDUMP, [.dontdump], []), (.DODUMP, [], [.dontdump]),
      (.RANDOM, [.randRead], [.seqRead]), (.SEQUENTIAL, [.seqRead], [.randRead]),
      (.NORMAL, [], [.seqRead, .randRead]),
      (.MERGEABLE, [.mergeable], []), (.UNMERGEABLE, [], [.mergeable]),
      (.HUGEPAGE, [.hugepage], [.nohugepage]), (.NOHUGEPAGE, [.nohugepage], [.hugepage]),
    ]
    for (advice, set, cleared) in table {
      try madvise(world, pid, page: 0, count: 1, advice)
      #expect(flags().isSuperset(of: set) && flags().isDisjoint(with: cleared), "\(advice)")
    }
  }

  /// Probe 28: advice that only acts on pages never splits the VMA.
  @Test func pageAdviceNeverSplits() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 3)
    world.mapAnon(pid, page: 4, count: 3, shared: true)
    for first: UInt64 in [0, 4] {
      for advice in [Advice.WILLNEED, .COLD, .PAGEOUT, .POPULATE_READ, .POPULATE_WRITE, .DONTNEED, .DONTNEED_LOCKED] {
        try madvise(world, pid, page: first + 1, count: 1, advice)
      }
    }
    try madvise(world, pid, page: 1, count: 1, .FREE)
    try madvise(world, pid, page: 5, count: 1, .REMOVE)
    #expect(layout(world, pid) == ["0-3", "4-7"])
  }

  @Test func nohugepageDoesNotMergeBackAfterHugepage() throws {
    let (world, pid) = try written(3)
    try madvise(world, pid, page: 1, count: 1, .HUGEPAGE)
    try madvise(world, pid, page: 1, count: 1, .NOHUGEPAGE)
    #expect(layout(world, pid) == ["0-1", "1-2", "2-3"])
  }

  @Test func mergeableIsIgnoredOnSharedMemory() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 3, shared: true)
    try madvise(world, pid, page: 1, count: 1, .MERGEABLE)
    #expect(layout(world, pid) == ["0-3"] && !world.vmaAt(pid, arena(1))!.vmFlags.contains(.mergeable))
    try madvise(world, pid, page: 1, count: 1, .HUGEPAGE)
    #expect(layout(world, pid) == ["0-1", "1-2", "2-3"], "hugepage_madvise does not look at the VMA")
  }

  @Test func flagAdviceErrorsPerVMA() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    let mm = world.processes[pid]!
    world.mapAnon(pid, page: 0, count: 1, shared: true)
    expectErrno(.EINVAL) { () throws(KernelError) in try madvise(world, pid, page: 0, count: 1, .WIPEONFORK) }
    world.insertVMA(mm, VMA(vmStart: arena(2), vmEnd: arena(3), vmFlags: [.read, .io, .pfnmap], vmPgoff: 0))
    expectErrno(.EINVAL) { () throws(KernelError) in try madvise(world, pid, page: 2, count: 1, .DOFORK) }
    expectErrno(.EINVAL) { () throws(KernelError) in try madvise(world, pid, page: 2, count: 1, .DODUMP) }
    try madvise(world, pid, page: 2, count: 1, .DONTFORK)
    try madvise(world, pid, page: 2, count: 1, .WIPEONFORK)
    #expect(world.vmaAt(pid, arena(2))!.vmFlags.isSuperset(of: [.dontcopy, .wipeonfork]))
    world.insertVMA(
      mm, VMA(vmStart: arena(4), vmEnd: arena(5), vmFlags: [.read, .write, .droppable, .wipeonfork, .dontdump], vmPgoff: 0))
    expectErrno(.EINVAL) { () throws(KernelError) in try madvise(world, pid, page: 4, count: 1, .KEEPONFORK) }
    expectErrno(.EINVAL) { () throws(KernelError) in try madvise(world, pid, page: 4, count: 1, .DODUMP) }
    try madvise(world, pid, page: 4, count: 1, .MERGEABLE)
    #expect(!world.vmaAt(pid, arena(4))!.vmFlags.contains(.mergeable))
  }

  /// Probe 36: a split at vm.max_map_count fails with ENOMEM inside, EAGAIN outside.
  @Test func splitAtMaxMapCountIsEAGAIN() throws {
    let (world, pid) = try written(3)
    world.maxMapCount = 1
    expectErrno(.EAGAIN) { () throws(KernelError) in try madvise(world, pid, page: 1, count: 1, .DONTFORK) }
    #expect(layout(world, pid) == ["0-3"])
    try madvise(world, pid, page: 0, count: 3, .DONTFORK)
  }

  // MARK: DONTNEED

  @Test(arguments: Scenario.allCases)
  func dontneedZapsThePagesAndTheNextAccessesStartOver(_ scenario: Scenario) throws {
    let (world, pid) = try written(2, scenario)
    let old = world.pte(pid, arena(0)).pfn
    let mapcount = world.folio(old).mapcount
    try madvise(world, pid, page: 0, count: 2, .DONTNEED)
    #expect(world.processes[pid]!.pageTable.used == 0)
    #expect(world.readBytes(pid, addr: arena(0), count: 1).bytes == [0])
    #expect(world.pte(pid, arena(0)) == .zeroPage)
    if mapcount == 1 {
      #expect(!world.folio(old).isInUse)
    } else {
      #expect(world.folio(old).mapcount == 1 && !world.folio(old).isAnonExclusive, "probe 11")
    }
    world.write(pid, arena(1), 0x11)
    #expect(world.folioAt(pid, arena(1)).isAnonExclusive)
    #expect(layout(world, pid) == ["0-2"])
  }

  @Test func dontneedOnSharedMemoryKeepsTheData() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 1, shared: true)
    world.write(pid, arena(0), 0x21)
    try madvise(world, pid, page: 0, count: 1, .DONTNEED)
    #expect(world.pte(pid, arena(0)).isNone)
    #expect(world.readBytes(pid, addr: arena(0), count: 1).bytes == [0x21])
  }

  @Test func dontneedOnLockedNeedsDontneedLocked() throws {
    let (world, pid) = try written(1)
    try world.setFlags(pid, page: 0, count: 1, insert: .locked)
    for advice in [Advice.DONTNEED, .FREE, .COLD, .PAGEOUT, .REMOVE] {
      expectErrno(.EINVAL) { () throws(KernelError) in try madvise(world, pid, page: 0, count: 1, advice) }
    }
    #expect(world.pte(pid, arena(0)).isPage)
    try madvise(world, pid, page: 0, count: 1, .DONTNEED_LOCKED)
    #expect(world.pte(pid, arena(0)).isNone)
  }

  // MARK: FREE and PAGEOUT (§5.1, probes 20–22)

  /// Probe 20: nothing visible changes; only the PTE is cleaned.
  @Test(arguments: Scenario.allCases)
  func freeCleansThePTEAndChangesNothingVisible(_ scenario: Scenario) throws {
    let (world, pid) = try written(1, scenario)
    let before = world.pte(pid, arena(0))
    try madvise(world, pid, page: 0, count: 1, .FREE)
    let after = world.pte(pid, arena(0))
    #expect(after.pfn == before.pfn && after.isWritable == before.isWritable && !after.isDirty)
    #expect(world.folio(after.pfn).flags.contains(.lazyfree))
    #expect(world.readBytes(pid, addr: arena(0), count: 1).bytes == [0x41])
    if after.isWritable {
      let cost = world.cost
      world.write(pid, arena(0), 0x42)
      #expect(world.cost.since(cost).faults == 0 && world.pte(pid, arena(0)).isDirty)
    }
  }

  @Test func freeSkipsTheZeroPageAndRefusesSharedMemory() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 1)
    world.mapAnon(pid, page: 2, count: 1, shared: true)
    world.read(pid, arena(0))
    try madvise(world, pid, page: 0, count: 1, .FREE)
    #expect(world.pte(pid, arena(0)) == .zeroPage)
    expectErrno(.EINVAL) { () throws(KernelError) in try madvise(world, pid, page: 2, count: 1, .FREE) }
  }

  /// Probe 21: under reclaim (PAGEOUT) a clean lazy-free page is discarded, a page
  /// written again after FREE is kept; pages never freed stay (no swap).
  @Test func pageoutDiscardsCleanLazyFreePagesOnly() throws {
    let (world, pid) = try written(3)
    try madvise(world, pid, page: 0, count: 2, .FREE)
    world.write(pid, arena(1), 0x51)
    let kept = world.pte(pid, arena(1)).pfn
    let before = world.cost
    try madvise(world, pid, page: 0, count: 3, .PAGEOUT)
    #expect(world.pte(pid, arena(0)).isNone && world.pte(pid, arena(1)).pfn == kept)
    #expect(!world.folio(kept).flags.contains(.lazyfree))
    #expect(world.pte(pid, arena(2)).isPage)
    #expect(world.cost.since(before).pagesFreed == 1)
    #expect(world.readBytes(pid, addr: arena(0), count: 1).bytes == [0])
    #expect(world.pte(pid, arena(0)) == .zeroPage)
  }

  /// Observed: POPULATE_WRITE through the clean PTE of a freed page marks the folio
  /// dirty (FOLL_TOUCH), so reclaim keeps it; FREE clears that again.
  @Test func populateWriteAfterFreeDirtiesTheFolioAndPageoutKeepsIt() throws {
    let (world, pid) = try written(2)
    try madvise(world, pid, page: 0, count: 2, .FREE)
    try madvise(world, pid, page: 1, count: 1, .POPULATE_WRITE)
    #expect(!world.pte(pid, arena(1)).isDirty && world.folioAt(pid, arena(1)).flags.contains(.dirty))
    try madvise(world, pid, page: 0, count: 2, .PAGEOUT)
    #expect(world.pte(pid, arena(0)).isNone && world.pte(pid, arena(1)).isPage)
    try madvise(world, pid, page: 1, count: 1, .FREE)
    #expect(!world.folioAt(pid, arena(1)).flags.contains(.dirty))
    try madvise(world, pid, page: 1, count: 1, .PAGEOUT)
    #expect(world.pte(pid, arena(1)).isNone)
  }

  /// Probe 22: FREE on a page shared after fork only cleans this process's PTE;
  /// PAGEOUT skips pages mapped twice; once the other sharer exits, the page goes.
  @Test func freeOfASharedPageIsDiscardedOnlyOnceItIsMappedOnce() throws {
    let (world, pid) = try written(1)
    let child = try world.fork(pid)
    try madvise(world, pid, page: 0, count: 1, .FREE)
    #expect(world.pte(child, arena(0)).isDirty && !world.pte(pid, arena(0)).isDirty)
    try madvise(world, pid, page: 0, count: 1, .PAGEOUT)
    try madvise(world, child, page: 0, count: 1, .PAGEOUT)
    #expect(world.pte(pid, arena(0)).isPage && world.pte(child, arena(0)).isPage)
    try world.exit(child)
    try madvise(world, pid, page: 0, count: 1, .PAGEOUT)
    #expect(world.pte(pid, arena(0)).isNone)
  }

  @Test func lazyFreePageWithAnExtraReferenceIsKept() throws {
    let (world, pid) = try written(1)
    try madvise(world, pid, page: 0, count: 1, .FREE)
    world.withFolio(world.pte(pid, arena(0)).pfn) { $0.extraRefs = 1 }
    try madvise(world, pid, page: 0, count: 1, .PAGEOUT)
    #expect(world.pte(pid, arena(0)).isPage && world.folioAt(pid, arena(0)).flags.contains(.lazyfree))
  }

  /// Observed: PAGEOUT unmaps shmem pages mapped once; they stay in the object.
  @Test func pageoutUnmapsSharedPagesMappedOnceAndKeepsTheirData() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 20, shared: true)
    world.write(pid, arena(0), pages: 20, 0x37)
    let pfn = world.pte(pid, arena(17)).pfn
    let child = try world.fork(pid)
    world.read(child, arena(0))  // faults around: the child maps pages 0-15
    try madvise(world, pid, page: 0, count: 20, .PAGEOUT)
    #expect((0..<20).filter { world.pte(pid, arena($0)).isNone } == Array(16..<20))
    world.read(pid, arena(17))
    #expect(world.pte(pid, arena(17)).pfn == pfn)
    #expect(world.readBytes(pid, addr: arena(17), count: 1).bytes == [0x37])
  }

  @Test func willneedAndColdChangeNothing() throws {
    let (world, pid) = try written(2)
    let before = world.cost
    try madvise(world, pid, page: 0, count: 2, .WILLNEED)
    try madvise(world, pid, page: 0, count: 2, .COLD)
    #expect(world.cost.since(before) == CostCounters() && world.processes[pid]!.pageTable.used == 2)
  }

  // MARK: REMOVE

  /// Observed: REMOVE punches a hole in the object, zapping every sharer's PTEs;
  /// later reads see zeroes.
  @Test func removePunchesAHoleForEverySharer() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 4, shared: true)
    world.write(pid, arena(0), pages: 4, 3)
    let child = try world.fork(pid)
    world.read(child, arena(1))
    let id = world.vmaAt(pid, arena(0))!.shmem!
    let before = world.cost
    try madvise(world, pid, page: 1, count: 1, .REMOVE)
    #expect(world.pte(pid, arena(1)).isNone && world.pte(child, arena(1)).isNone)
    #expect(world.pte(child, arena(2)).isPage && world.shmemObjects[id]!.pages[1] == nil)
    #expect(world.cost.since(before).pagesFreed == 1)
    #expect(world.readBytes(child, addr: arena(1), count: 1).bytes == [0])
  }

  @Test func removeNeedsASharedWritableMapping() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 1)
    world.mapAnon(pid, page: 2, count: 1, prot: .read, shared: true)
    expectErrno(.EINVAL) { () throws(KernelError) in try madvise(world, pid, page: 0, count: 1, .REMOVE) }
    try madvise(world, pid, page: 2, count: 1, .REMOVE)
    world.processes[pid]!.vmas.update(startingAt: arena(2)) { $0.vmFlags.remove(.mayWrite) }
    expectErrno(.EACCES) { () throws(KernelError) in try madvise(world, pid, page: 2, count: 1, .REMOVE) }
  }

  // MARK: POPULATE (§4.4)

  @Test(arguments: Scenario.allCases)
  func populateReadMapsZeroPagesAndDoesNotUnshare(_ scenario: Scenario) throws {
    let (world, pid) = try scenario.world { w, p in
      w.mapAnon(p, page: 0, count: 3)
      w.write(p, arena(0))
    }
    let first = world.pte(pid, arena(0))
    let before = world.cost
    try madvise(world, pid, page: 0, count: 3, .POPULATE_READ)
    #expect(world.pte(pid, arena(0)) == first)
    #expect(world.pte(pid, arena(1)) == .zeroPage && world.pte(pid, arena(2)) == .zeroPage)
    #expect(world.cost.since(before).faults == 2 && world.cost.since(before).pagesAllocated == 0)
  }

  /// Probe 29: POPULATE_WRITE faults every page for write: new pages, zero pages
  /// replaced, COW-shared pages copied or reused exactly as by a store.
  @Test(arguments: Scenario.allCases)
  func populateWriteFaultsLikeAStore(_ scenario: Scenario) throws {
    let (world, pid) = try scenario.world { w, p in
      w.mapAnon(p, page: 0, count: 3)
      w.write(p, arena(0))
      w.read(p, arena(1))
    }
    let old = world.pte(pid, arena(0)).pfn
    let shared = world.folio(old).mapcount > 1
    try madvise(world, pid, page: 0, count: 3, .POPULATE_WRITE)
    for p: UInt64 in 0..<3 {
      let pte = world.pte(pid, arena(p))
      #expect(pte.isPage && pte.isWritable && world.folio(pte.pfn).isAnonExclusive)
    }
    #expect((world.pte(pid, arena(0)).pfn == old) == !shared)
    #expect(world.readBytes(pid, addr: arena(0), count: 1).bytes == [0x41])
  }

  /// Probe 26: POPULATE stops at the first hole (ENOMEM) or refused VMA (EINVAL);
  /// pages before it stay populated, pages after it are not.
  @Test func populateStopsAtTheFirstHoleOrRefusedVMA() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 2)
    world.mapAnon(pid, page: 3, count: 1)
    world.mapAnon(pid, page: 4, count: 1, prot: .read)
    world.mapAnon(pid, page: 5, count: 1)
    expectErrno(.ENOMEM) { () throws(KernelError) in try madvise(world, pid, page: 0, count: 4, .POPULATE_WRITE) }
    #expect(world.pte(pid, arena(1)).isPage && world.pte(pid, arena(3)).isNone)
    expectErrno(.EINVAL) { () throws(KernelError) in try madvise(world, pid, page: 3, count: 3, .POPULATE_WRITE) }
    #expect(world.pte(pid, arena(3)).isPage && world.pte(pid, arena(5)).isNone)
    try madvise(world, pid, page: 3, count: 3, .POPULATE_READ)
  }

  /// Observed: POPULATE_READ needs PROT_READ (a CPU load would not), POPULATE_WRITE
  /// needs PROT_WRITE; PROT_NONE refuses both.
  @Test func populateNeedsTheMatchingProtection() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 1, prot: .write)
    world.mapAnon(pid, page: 2, count: 1, prot: .none)
    expectErrno(.EINVAL) { () throws(KernelError) in try madvise(world, pid, page: 0, count: 1, .POPULATE_READ) }
    try madvise(world, pid, page: 0, count: 1, .POPULATE_WRITE)
    expectErrno(.EINVAL) { () throws(KernelError) in try madvise(world, pid, page: 2, count: 1, .POPULATE_READ) }
    expectErrno(.EINVAL) { () throws(KernelError) in try madvise(world, pid, page: 2, count: 1, .POPULATE_WRITE) }
  }

  @Test func populateOfSharedPagesPastTheObjectIsEFAULT() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 4, shared: true, objectPages: 2)
    expectErrno(.EFAULT) { () throws(KernelError) in try madvise(world, pid, page: 0, count: 4, .POPULATE_WRITE) }
    #expect(world.pte(pid, arena(1)).isPage && world.pte(pid, arena(2)).isNone)
  }

  /// Observed: POPULATE on a MISSING-registered range blocks in handle_userfault()
  /// until the fault is resolved (refused here); with UFFD_FEATURE_SIGBUS or a
  /// UFFD_USER_MODE_ONLY context it fails with EFAULT.
  @Test func populateOnAMissingRegisteredRange() throws {
    for (flags, features, blocks) in [(Int32(0), UffdFeatures(), true), (0, .sigbus, false), (1, [], false)] {
      let world = World(checksInvariants: true)
      let pid = world.initialPID
      world.mapAnon(pid, page: 0, count: 3)
      world.write(pid, arena(0))
      let uffd = world.makeUffd(pid, flags: flags, features: features)
      try world.registerMissing(pid, uffd, page: 0, count: 3)
      let cost = world.cost
      do {
        try madvise(world, pid, page: 0, count: 3, .POPULATE_WRITE)
        Issue.record("populate succeeded")
      } catch {
        #expect(error.isNotModelled == blocks && (blocks || error.errno == .EFAULT), "\(error)")
      }
      #expect(world.pte(pid, arena(1)).isNone && world.cost.since(cost).faults == 0)
    }
  }

  @Test func populateOfAHugepageRangeIsNotModelled() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 512, count: 512)
    try madvise(world, pid, page: 512, count: 512, .HUGEPAGE)
    do {
      try madvise(world, pid, page: 512, count: 1, .POPULATE_READ)
      Issue.record("populate succeeded")
    } catch {
      #expect(error.isNotModelled)
    }
  }
}
