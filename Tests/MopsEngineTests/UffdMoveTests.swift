import MopsABI
import Testing

@testable import MopsEngine

/// UFFDIO_MOVE (Ops/uffd_move.swift): spec uffd-move §3–§7. Cases marked "probe" were
/// run on the 6.18.44 oracle kernel.
@Suite struct UffdMoveTests {
  /// src = arena pages 0..<n (private anon, rw), dst = arena pages 32..<32+n registered
  /// MISSING with an initialised uffd; both in the same 2 MiB range.
  struct Setup {
    let world: World
    let pid: PID
    let uffd: UserfaultfdCtx.ID
    let n: UInt64
    var src: VirtAddr { arena(0) }
    var dst: VirtAddr { arena(32) }

    func move(
      dst: VirtAddr? = nil, src: VirtAddr? = nil, pages count: UInt64? = nil, mode: UffdioMoveMode = [],
      by caller: PID? = nil
    ) -> UffdioResult {
      world.uffdioMove(
        caller ?? pid, uffd, dst: dst ?? self.dst, src: src ?? self.src, length: pages(count ?? n), mode: mode)
    }
  }

  /// A setup in `scenario`: `before` runs before the fork (its pages end up shared or
  /// formerly shared), the uffd is created after it.
  func setUp(_ scenario: Scenario = .fresh, pages n: UInt64 = 4, before: (World, PID) -> Void = { _, _ in }) throws
    -> Setup
  {
    let (world, pid) = try scenario.world { w, p in
      w.mapAnon(p, page: 0, count: n)
      w.mapAnon(p, page: 32, count: n)
      before(w, p)
    }
    let uffd = try world.userfaultfd(pid, flags: 0)
    _ = try world.uffdioAPI(pid, uffd, api: 0xAA, features: [])
    _ = try world.uffdioRegister(pid, uffd, start: arena(32), length: pages(n), mode: .missing)
    return Setup(world: world, pid: pid, uffd: uffd, n: n)
  }

  func expectMoved(_ r: UffdioResult, _ bytes: UInt64, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(
      r.errno == nil && r.field == Int64(bytes) && r.bytes == bytes && r.error == nil, "\(r)",
      sourceLocation: sourceLocation)
  }

  func expectFailed(_ r: UffdioResult, _ errno: Errno, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(
      r.errno == errno && r.field == -Int64(errno.rawValue) && r.bytes == 0 && r.error?.errno == errno, "\(r)",
      sourceLocation: sourceLocation)
  }

  func expectUntouched(_ r: UffdioResult, _ errno: Errno, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(
      r.errno == errno && r.field == nil && r.bytes == 0 && r.error?.errno == errno, "\(r)",
      sourceLocation: sourceLocation)
  }

  func expectPartial(
    _ r: UffdioResult, _ bytes: UInt64, stoppedBy errno: Errno, sourceLocation: SourceLocation = #_sourceLocation
  ) {
    #expect(
      r.errno == .EAGAIN && r.field == Int64(bytes) && r.bytes == bytes && r.error?.errno == errno, "\(r)",
      sourceLocation: sourceLocation)
  }

  // MARK: What a move does (§6)

  @Test(arguments: Scenario.allCases)
  func movingPagesKeepsTheFramesAndLeavesSrcEmpty(_ scenario: Scenario) throws {
    let s = try setUp(scenario)
    let w = s.world
    #expect(w.writeBytes(s.pid, addr: s.src + 5, [1, 2, 3]) == .ok)
    w.write(s.pid, s.src + pages(1), pages: 3, 0x42)
    let pfns = (0..<s.n).map { w.pte(s.pid, s.src + pages($0)).pfn }
    let layout = w.layout(s.pid)
    let before = w.cost
    expectMoved(s.move(), pages(4))
    let dstVMA = w.vmaAt(s.pid, s.dst)!
    for i in 0..<s.n {
      let pte = w.pte(s.pid, s.dst + pages(i))
      #expect(pte == .page(pfns[Int(i)], writable: true, dirty: true))
      #expect(w.pte(s.pid, s.src + pages(i)).isNone)
      let f = w.folio(pfns[Int(i)])
      #expect(f.mapcount == 1 && f.isAnonExclusive && f.anonVMA == dstVMA.anonVMA)
      #expect(f.index == dstVMA.linearPageIndex(s.dst + pages(i)))
    }
    #expect(w.readBytes(s.pid, addr: s.dst + 4, count: 5).bytes == [0, 1, 2, 3, 0])
    #expect(w.readBytes(s.pid, addr: s.dst + pages(3), count: 1).bytes == [0x42])
    #expect(w.layout(s.pid) == layout)
    let d = w.cost.since(before)
    #expect(
      d.ptesChanged == 8 && d.tlbFlushRanges == 1 && d.pagesAllocated == 0 && d.vmaSplits == 0 && d.vmaMerges == 0)
  }

  /// Probe: a read of the emptied src faults the zero page in; a write allocates.
  @Test func srcReadsZeroAfterTheMoveAndDstWritesWithoutAFault() throws {
    let s = try setUp()
    s.world.write(s.pid, s.src, pages: 1, 0x11)
    expectMoved(s.move(pages: 1), pages(1))
    let faults = s.world.cost.faults
    #expect(s.world.touch(s.pid, addr: s.dst, write: true, fill: 0x22) == .ok)
    #expect(s.world.cost.faults == faults)
    s.world.read(s.pid, s.src)
    #expect(s.world.pte(s.pid, s.src) == .zeroPage)
  }

  @Test func theDirtyBitOfTheSrcPTEIsCopied() throws {
    let s = try setUp()
    s.world.write(s.pid, s.src, pages: 2)
    try s.world.madvise(s.pid, addr: s.src, length: pages(1), advice: .FREE)
    expectMoved(s.move(pages: 2), pages(2))
    #expect(!s.world.pte(s.pid, s.dst).isDirty && s.world.pte(s.pid, s.dst).isWritable)
    #expect(s.world.pte(s.pid, s.dst + pages(1)).isDirty)
  }

  /// Probe: the zero page moves as a zero-page PTE; the first write to dst COWs.
  @Test(arguments: Scenario.allCases)
  func aZeroPagePTEMovesAsTheZeroPage(_ scenario: Scenario) throws {
    let s = try setUp(scenario) { w, p in w.read(p, arena(0)) }
    if s.world.pte(s.pid, s.src).isNone { s.world.read(s.pid, s.src) }
    let before = s.world.cost
    expectMoved(s.move(pages: 1), pages(1))
    #expect(s.world.pte(s.pid, s.dst) == .zeroPage && s.world.pte(s.pid, s.src).isNone)
    #expect(s.world.cost.since(before).pagesAllocated == 0)
    #expect(s.world.touch(s.pid, addr: s.dst, write: true, fill: 1) == .ok)
    #expect(s.world.pte(s.pid, s.dst).isPage && s.world.cost.since(before).faults == 1)
  }

  @Test func aMoveResolvesAUserfaultAtDst() throws {
    let s = try setUp()
    s.world.write(s.pid, s.src, pages: 1, 0x33)
    #expect(s.world.touch(s.pid, addr: s.dst + 7, write: false, fill: nil) == .userfault(s.uffd, s.dst + 7))
    expectMoved(s.move(pages: 1, mode: .dontwake), pages(1))
    #expect(s.world.readBytes(s.pid, addr: s.dst + 7, count: 1) == ([0x33], .ok))
  }

  /// A page moved between two VMAs switches to the dst VMA's anon_vma; a dst VMA without
  /// one gets it at the lookup (C2), even when the move then fails.
  @Test func theDstVMAGetsAnAnonVMAAtLookupEvenWhenTheMoveFails() throws {
    let s = try setUp()
    #expect(s.world.vmaAt(s.pid, s.dst)!.anonVMA == .none)
    expectFailed(s.move(src: arena(100)), .ENOENT)
    #expect(s.world.vmaAt(s.pid, s.dst)!.anonVMA != .none)
    #expect(s.world.vmaAt(s.pid, s.src)!.anonVMA == .none)
  }

  // MARK: Result protocol and partial progress (§3, §5)

  /// Probe: 8 pages with dst page 3 populated: pages 0–2 move, EAGAIN with move=12288;
  /// the retry from there reports EEXIST.
  @Test func aPopulatedDstPageStopsTheWalkWithEAGAINAndTheRetryShowsEEXIST() throws {
    let s = try setUp(pages: 8)
    s.world.write(s.pid, s.src, pages: 8)
    s.world.processes[s.pid]!.pageTable.set(s.dst + pages(3), .zeroPage)
    let pfns = (0..<8).map { s.world.pte(s.pid, s.src + pages(UInt64($0))).pfn }
    expectPartial(s.move(), 12288, stoppedBy: .EEXIST)
    for i in 0..<3 { #expect(s.world.pte(s.pid, s.dst + pages(UInt64(i))).pfn == pfns[i]) }
    for i in 3..<8 { #expect(s.world.pte(s.pid, s.src + pages(UInt64(i))).pfn == pfns[i]) }
    for i in 4..<8 { #expect(s.world.pte(s.pid, s.dst + pages(UInt64(i))).isNone) }
    expectFailed(s.move(dst: s.dst + 12288, src: s.src + 12288, pages: 5), .EEXIST)
  }

  /// Probe: a src hole at page 5 without ALLOW_SRC_HOLES stops at 20480.
  @Test func aSrcHoleStopsTheWalkWithEAGAINAndTheRetryShowsENOENT() throws {
    let s = try setUp(pages: 8)
    s.world.write(s.pid, s.src, pages: 8)
    try s.world.madvise(s.pid, addr: s.src + pages(5), length: pages(1), advice: .DONTNEED)
    expectPartial(s.move(), 20480, stoppedBy: .ENOENT)
    expectFailed(s.move(dst: s.dst + 20480, src: s.src + 20480, pages: 3), .ENOENT)
  }

  @Test func allowSrcHolesCountsHolesAsMovedAndLeavesDstEmpty() throws {
    let s = try setUp(pages: 8)
    s.world.write(s.pid, s.src + pages(2), pages: 2)
    let before = s.world.cost
    expectMoved(s.move(mode: .allowSrcHoles), pages(8))
    #expect(s.world.pte(s.pid, s.dst + pages(2)).isPage && s.world.pte(s.pid, s.dst + pages(3)).isPage)
    #expect(s.world.processes[s.pid]!.pageTable.present(in: s.dst, s.dst + pages(8)).count == 2)
    #expect(s.world.cost.since(before).tlbFlushRanges == 1)
  }

  @Test func anAllHoleRangeWithAllowSrcHolesSucceedsWithNothingMoved() throws {
    let s = try setUp()
    expectMoved(s.move(mode: [.allowSrcHoles, .dontwake]), pages(4))
    #expect(s.world.processes[s.pid]!.pageTable.used == 0)
  }

  /// Probe: the dst PTE is checked before the src PTE: a populated dst wins over a src
  /// hole even with ALLOW_SRC_HOLES, and over a shared src page.
  @Test func eexistIsCheckedBeforeTheSrcPage() throws {
    let s = try setUp(.afterFork) { w, p in w.write(p, arena(1)) }
    s.world.write(s.pid, s.src)
    try s.world.madvise(s.pid, addr: s.src, length: pages(1), advice: .DONTNEED)
    s.world.processes[s.pid]!.pageTable.set(s.dst, .zeroPage)
    s.world.processes[s.pid]!.pageTable.set(s.dst + pages(1), .zeroPage)
    expectFailed(s.move(pages: 1, mode: .allowSrcHoles), .EEXIST)
    expectFailed(s.move(dst: s.dst + pages(1), src: s.src + pages(1), pages: 1), .EEXIST)
    expectFailed(s.move(dst: s.dst + pages(2), src: s.src + pages(1), pages: 1), .EBUSY)
  }

  /// Probe p6: with no page table at all behind src, ENOENT comes before the dst check;
  /// ALLOW_SRC_HOLES allocates the table, which then stays (EEXIST from then on), as it
  /// does after MADV_DONTNEED; munmap frees it again.
  @Test func aSrcRangeWithoutAPageTableIsENOENTBeforeTheDstCheck() throws {
    let s = try setUp()
    s.world.mapAnon(s.pid, page: 2048, count: 4)
    let far = arena(2048)
    s.world.processes[s.pid]!.pageTable.set(s.dst, .zeroPage)
    expectFailed(s.move(src: far, pages: 1), .ENOENT)
    expectFailed(s.move(src: far, pages: 1, mode: .allowSrcHoles), .EEXIST)
    expectFailed(s.move(src: far, pages: 1), .EEXIST)
    s.world.mapAnon(s.pid, page: 4096, count: 4)
    s.world.write(s.pid, arena(4096 + 1))
    try s.world.madvise(s.pid, addr: arena(4096), length: pages(4), advice: .DONTNEED)
    expectFailed(s.move(src: arena(4096), pages: 1), .EEXIST)
    try s.world.munmap(s.pid, addr: arena(4096), length: pages(4))
    s.world.mapAnon(s.pid, page: 4096, count: 4)
    expectFailed(s.move(src: arena(4096), pages: 1), .ENOENT)
  }

  @Test func zeroPagesCountAsMovedAndAPinnedPageStopsTheWalk() throws {
    let s = try setUp(pages: 4)
    s.world.write(s.pid, s.src, pages: 2)
    s.world.read(s.pid, s.src + pages(2))
    try s.world.pin(s.pid, addr: s.src + pages(3), length: pages(1))
    expectPartial(s.move(), pages(3), stoppedBy: .EBUSY)
    #expect(s.world.pte(s.pid, s.dst + pages(2)) == .zeroPage)
  }

  // MARK: Overlapping ranges (§6)

  /// Probe: src=A, dst=A+4K, len=8K with only A populated moves the page twice.
  @Test func anOverlappingForwardMoveMovesAPageTwice() throws {
    let (world, pid) = try Scenario.fresh.world { w, p in w.mapAnon(p, page: 0, count: 4) }
    world.write(pid, arena(0))
    let pfn = world.pte(pid, arena(0)).pfn
    let uffd = try world.userfaultfd(pid, flags: 0)
    _ = try world.uffdioAPI(pid, uffd, api: 0xAA, features: [])
    _ = try world.uffdioRegister(pid, uffd, start: arena(0), length: pages(4), mode: .missing)
    let before = world.cost
    expectMoved(world.uffdioMove(pid, uffd, dst: arena(1), src: arena(0), length: pages(2), mode: []), 8192)
    #expect(world.pte(pid, arena(0)).isNone && world.pte(pid, arena(1)).isNone)
    #expect(world.pte(pid, arena(2)) == .page(pfn, writable: true, dirty: true))
    #expect(world.folio(pfn).index == world.vmaAt(pid, arena(2))!.linearPageIndex(arena(2)))
    #expect(world.cost.since(before).tlbFlushRanges == 1 && world.cost.since(before).ptesChanged == 4)
  }

  /// Probe: dst < src shifts the pages down like memmove.
  @Test func anOverlappingBackwardMoveShiftsLikeMemmove() throws {
    let (world, pid) = try Scenario.fresh.world { w, p in w.mapAnon(p, page: 0, count: 4) }
    world.write(pid, arena(1), pages: 2)
    let (a, b) = (world.pte(pid, arena(1)).pfn, world.pte(pid, arena(2)).pfn)
    let uffd = try world.userfaultfd(pid, flags: 0)
    _ = try world.uffdioAPI(pid, uffd, api: 0xAA, features: [])
    _ = try world.uffdioRegister(pid, uffd, start: arena(0), length: pages(4), mode: .missing)
    expectMoved(world.uffdioMove(pid, uffd, dst: arena(0), src: arena(1), length: pages(2), mode: []), 8192)
    #expect(world.pte(pid, arena(0)).pfn == a && world.pte(pid, arena(1)).pfn == b && world.pte(pid, arena(2)).isNone)
  }

  /// Probe: dst == src: populated → EEXIST, hole → ENOENT, hole with ALLOW → success.
  @Test func dstEqualToSrc() throws {
    let (world, pid) = try Scenario.fresh.world { w, p in w.mapAnon(p, page: 0, count: 4) }
    world.write(pid, arena(0))
    let uffd = try world.userfaultfd(pid, flags: 0)
    _ = try world.uffdioAPI(pid, uffd, api: 0xAA, features: [])
    _ = try world.uffdioRegister(pid, uffd, start: arena(0), length: pages(4), mode: .missing)
    expectFailed(world.uffdioMove(pid, uffd, dst: arena(0), src: arena(0), length: pages(1), mode: []), .EEXIST)
    expectFailed(world.uffdioMove(pid, uffd, dst: arena(1), src: arena(1), length: pages(1), mode: []), .ENOENT)
    expectMoved(world.uffdioMove(pid, uffd, dst: arena(1), src: arena(1), length: pages(1), mode: .allowSrcHoles), 4096)
  }

  // MARK: Exclusivity, fork and madvise (§7)

  /// Probe: pages written before the fork are EBUSY while the child lives, and still
  /// EBUSY after it exited (mapcount 1, PageAnonExclusive not restored); pages written
  /// after the fork (or COW-reused by a write) move.
  @Test(arguments: Scenario.allCases)
  func pagesWrittenBeforeAForkAreBusyUntilTheParentWritesThem(_ scenario: Scenario) throws {
    let s = try setUp(scenario) { w, p in w.write(p, arena(0), pages: 2) }
    s.world.read(s.pid, s.src)
    let r = s.move(pages: 1)
    if scenario == .fresh {
      expectMoved(r, pages(1))
      return
    }
    expectFailed(r, .EBUSY)
    let pfn = s.world.pte(s.pid, s.src).pfn
    let sharing = try #require(r.error?.sharing)
    #expect(sharing.pfn == pfn && sharing.sinceForkChild == PID(2))
    #expect(sharing.mappedBy == (scenario == .afterFork ? [s.pid, PID(2)] : [s.pid]))
    if scenario == .afterChildExit {
      #expect(s.world.folio(pfn).mapcount == 1 && r.error!.reason.contains("only pid 1 maps it"))
    }
    s.world.write(s.pid, s.src + pages(1))
    let reused = s.world.pte(s.pid, s.src + pages(1)).pfn
    expectMoved(s.move(dst: s.dst + pages(1), src: s.src + pages(1), pages: 1), pages(1))
    #expect(s.world.pte(s.pid, s.dst + pages(1)).pfn == reused)
  }

  /// Probe: after the child exited, a parent write reuses the page in place (same PFN),
  /// which makes it movable.
  @Test func afterTheChildExitsAParentWriteReusesThePageAndMakesItMovable() throws {
    let s = try setUp(.afterChildExit) { w, p in w.write(p, arena(0)) }
    let pfn = s.world.pte(s.pid, s.src).pfn
    expectFailed(s.move(pages: 1), .EBUSY)
    s.world.write(s.pid, s.src)
    #expect(s.world.pte(s.pid, s.src).pfn == pfn)
    expectMoved(s.move(pages: 1), pages(1))
    #expect(s.world.pte(s.pid, s.dst).pfn == pfn)
  }

  /// Probe: MADV_DONTFORK or MADV_WIPEONFORK on src before the fork keeps the parent's
  /// pages exclusive: movable while the child lives.
  @Test(arguments: [Advice.DONTFORK, .WIPEONFORK])
  func dontforkOrWipeonforkBeforeTheForkKeepsPagesMovable(_ advice: Advice) throws {
    let s = try setUp(.afterFork) { w, p in
      w.write(p, arena(0), pages: 4)
      _ = try? w.madvise(p, addr: arena(0), length: pages(4), advice: advice)
    }
    expectMoved(s.move(), pages(4))
  }

  @Test func aPinnedPageIsBusyAndThePinnedSecondOfTwoStopsAt4096() throws {
    let s = try setUp()
    s.world.write(s.pid, s.src, pages: 1)
    try s.world.pin(s.pid, addr: s.src + pages(1), length: pages(1))
    expectPartial(s.move(pages: 2), 4096, stoppedBy: .EBUSY)
    let r = s.move(dst: s.dst + pages(1), src: s.src + pages(1), pages: 1)
    expectFailed(r, .EBUSY)
    #expect(r.error!.reason.contains("DMA-pinned"))
  }

  @Test func aSharedSecondPageStopsAt4096() throws {
    let s = try setUp(.afterFork) { w, p in w.write(p, arena(1)) }
    s.world.write(s.pid, s.src)
    expectPartial(s.move(pages: 2), 4096, stoppedBy: .EBUSY)
  }

  /// Probe: MADV_FREE keeps the page mapped and exclusive: it moves with its lazy-free
  /// state.
  @Test func aLazyFreePageMovesWithItsState() throws {
    let s = try setUp()
    s.world.write(s.pid, s.src)
    try s.world.madvise(s.pid, addr: s.src, length: pages(1), advice: .FREE)
    let lazy = s.world.folioAt(s.pid, s.src).flags.contains(.lazyfree)
    expectMoved(s.move(pages: 1), pages(1))
    #expect(s.world.folioAt(s.pid, s.dst).flags.contains(.lazyfree) == lazy)
  }

  // MARK: Argument checks (A, B): the field stays untouched

  @Test func unknownProcessFdOrUninitialisedFdLeaveTheFieldUntouched() throws {
    let s = try setUp()
    expectUntouched(s.world.uffdioMove(PID(9), s.uffd, dst: s.dst, src: s.src, length: pages(1), mode: []), .ESRCH)
    let raw = try s.world.userfaultfd(s.pid, flags: 0)
    expectUntouched(s.world.uffdioMove(s.pid, raw, dst: s.dst, src: s.src, length: pages(1), mode: []), .EINVAL)
    let other = try s.world.fork(s.pid)
    try s.world.closeUffd(other, raw)
    expectUntouched(s.world.uffdioMove(other, raw, dst: s.dst, src: s.src, length: pages(1), mode: []), .EBADF)
  }

  /// Probe p2: a fork child using the parent's fd gets EINVAL (cross-mm), field untouched.
  @Test func aForkChildMovingWithTheParentsFdFailsWithEINVAL() throws {
    let s = try setUp { w, p in w.write(p, arena(0)) }
    let child = try s.world.fork(s.pid)
    let r = s.move(pages: 1, by: child)
    expectUntouched(r, .EINVAL)
    #expect(r.error!.reason.contains("cross-mm"))
  }

  @Test(
    arguments: [
      (arena(32) + 1, arena(0), pages(1), "dst"), (arena(32), arena(0) + 1, pages(1), "src"),
      (arena(32), arena(0), 0, "length"), (arena(32), arena(0), 100, "length"),
      (VirtAddr(taskSize), arena(0), pages(1), "dst"), (arena(32), VirtAddr(taskSize), pages(1), "src"),
      (VirtAddr(taskSize - pageSize), arena(0), pages(2), "dst"),
      (arena(32), arena(0), UInt64.max & ~(pageSize - 1), "dst"),
      (arena(32) + 1, arena(0) + 1, pages(1), "dst"),
    ] as [(VirtAddr, VirtAddr, UInt64, String)])
  func badRangesFailWithEINVALDstFirstAndLeaveTheFieldUntouched(
    _ dst: VirtAddr, _ src: VirtAddr, _ len: UInt64, _ culprit: String
  ) throws {
    let s = try setUp()
    let r = s.world.uffdioMove(s.pid, s.uffd, dst: dst, src: src, length: len, mode: [])
    expectUntouched(r, .EINVAL)
    #expect(r.error!.reason.contains(culprit))
  }

  @Test func anUnknownModeBitFailsWithEINVALAfterTheRangeChecks() throws {
    let s = try setUp()
    expectUntouched(s.move(mode: UffdioMoveMode(rawValue: 4)), .EINVAL)
    let r = s.move(dst: s.dst + 1, mode: UffdioMoveMode(rawValue: 4))
    #expect(r.error!.reason.contains("dst"))
  }

  // MARK: VMA stage (C): the field holds −errno

  /// Probe: dst below mmap_min_addr reaches the VMA lookup on the oracle kernel
  /// (ENOENT, not EINVAL); dst and src lookups both precede every VMA check.
  @Test func missingVMAsFailWithENOENT() throws {
    let s = try setUp()
    expectFailed(s.move(dst: VirtAddr(0), pages: 1), .ENOENT)
    expectFailed(s.move(src: VirtAddr(0x1000), pages: 1), .ENOENT)
    expectFailed(s.move(dst: arena(100), pages: 1), .ENOENT)
    expectFailed(s.move(src: arena(100), pages: 1), .ENOENT)
    expectFailed(s.move(dst: s.src, src: arena(100), pages: 1), .ENOENT)
  }

  @Test func sharedVMAsAndRangesPastTheVMAEndFailWithEINVAL() throws {
    let s = try setUp()
    s.world.mapAnon(s.pid, page: 4, count: 4)
    s.world.mapAnon(s.pid, page: 64, count: 4, shared: true)
    #expect(s.world.layout(s.pid).first == "0-8:rw-p:ac")
    try s.world.setFlags(s.pid, page: 4, count: 4, insert: .dontcopy)
    expectFailed(s.move(src: arena(64), pages: 1), .EINVAL)
    expectFailed(s.move(src: arena(2), pages: 4), .EINVAL)
    expectFailed(s.move(dst: arena(64), pages: 1), .EINVAL)
    expectFailed(s.move(dst: arena(34), pages: 4), .EINVAL)
  }

  /// Probe: mprotect(PROT_READ) of src only → EINVAL; both read-only → EINVAL (src not
  /// writable); back to read-write → movable.
  @Test func protectionMismatchesFailWithEINVALAndRestoringThemMakesPagesMovable() throws {
    let s = try setUp()
    s.world.write(s.pid, s.src)
    try s.world.mprotect(s.pid, addr: s.src, length: pages(4), prot: .read)
    var r = s.move(pages: 1)
    expectFailed(r, .EINVAL)
    #expect(r.error!.reason.contains("differ"))
    try s.world.mprotect(s.pid, addr: s.dst, length: pages(4), prot: .read)
    r = s.move(pages: 1)
    expectFailed(r, .EINVAL)
    #expect(r.error!.reason.contains("not writable"))
    try s.world.mprotect(s.pid, addr: s.src, length: pages(4), prot: .readWrite)
    try s.world.mprotect(s.pid, addr: s.dst, length: pages(4), prot: .readWrite)
    expectMoved(s.move(pages: 1), pages(1))
  }

  @Test(arguments: [VMFlags.locked, .pfnmap, .io, .mixedmap, .hugetlb])
  func lockedMismatchesAndSpecialVMAsFailWithEINVAL(_ flag: VMFlags) throws {
    let s = try setUp()
    s.world.write(s.pid, s.src)
    try s.world.setFlags(s.pid, page: 0, count: 4, insert: flag)
    expectFailed(s.move(pages: 1), .EINVAL)
    if flag == .locked {
      try s.world.setFlags(s.pid, page: 32, count: 4, insert: .locked)
      expectMoved(s.move(pages: 1), pages(1))
    }
  }

  /// dst must be registered with this uffd (any mode); src need not be registered.
  @Test func dstMustBeRegisteredWithThisUffdInAnyMode() throws {
    let s = try setUp()
    s.world.write(s.pid, s.src, pages: 2)
    let other = s.world.makeUffd(s.pid)
    try s.world.uffdioUnregister(s.pid, s.uffd, start: s.dst, length: pages(4))
    var r = s.move(pages: 1)
    expectFailed(r, .EINVAL)
    #expect(r.error!.reason.contains("not registered"))
    _ = try s.world.uffdioRegister(s.pid, other, start: s.dst, length: pages(4), mode: .missing)
    r = s.move(pages: 1)
    expectFailed(r, .EINVAL)
    #expect(r.error!.reason.contains("registered with \(other)"))
    try s.world.uffdioUnregister(s.pid, other, start: s.dst, length: pages(4))
    _ = try s.world.uffdioRegister(s.pid, s.uffd, start: s.dst, length: pages(4), mode: .wp)
    _ = try s.world.uffdioRegister(s.pid, s.uffd, start: s.src, length: pages(4), mode: .missing)
    expectMoved(s.move(pages: 2), pages(2))
  }

  /// A moved-out src registered MISSING raises a userfault on the next access.
  @Test func aRegisteredSrcUserfaultsAfterTheMove() throws {
    let s = try setUp()
    s.world.write(s.pid, s.src)
    _ = try s.world.uffdioRegister(s.pid, s.uffd, start: s.src, length: pages(4), mode: .missing)
    expectMoved(s.move(pages: 1), pages(1))
    #expect(s.world.touch(s.pid, addr: s.src, write: false, fill: nil) == .userfault(s.uffd, s.src))
  }

  // MARK: Cost: TLB flush batching (6.18)

  @Test func consecutivePagesShareOneTLBFlushUnlessAHoleZeroPagePMDOrAnonVMABreaksTheBatch() throws {
    let s = try setUp(pages: 8)
    s.world.write(s.pid, s.src, pages: 3)
    s.world.read(s.pid, s.src + pages(3))
    s.world.write(s.pid, s.src + pages(5), pages: 3)
    var before = s.world.cost
    expectMoved(s.move(mode: .allowSrcHoles), pages(8))
    #expect(s.world.cost.since(before).tlbFlushRanges == 3)

    s.world.mapAnon(s.pid, page: 510, count: 4)
    s.world.write(s.pid, arena(510), pages: 4)
    s.world.mapAnon(s.pid, page: 1024, count: 4)
    _ = try s.world.uffdioRegister(s.pid, s.uffd, start: arena(1024), length: pages(4), mode: .missing)
    before = s.world.cost
    expectMoved(s.move(dst: arena(1024), src: arena(510), pages: 4), pages(4))
    #expect(s.world.cost.since(before).tlbFlushRanges == 2)

    s.world.mapAnon(s.pid, page: 600, count: 4)
    s.world.write(s.pid, arena(600), pages: 4)
    s.world.mapAnon(s.pid, page: 1534, count: 4)
    _ = try s.world.uffdioRegister(s.pid, s.uffd, start: arena(1534), length: pages(4), mode: .missing)
    before = s.world.cost
    expectMoved(s.move(dst: arena(1534), src: arena(600), pages: 4), pages(4))
    #expect(s.world.cost.since(before).tlbFlushRanges == 2)

    s.world.write(s.pid, arena(600), pages: 3)
    let foreign = s.world.newAnonVMA()
    s.world.withFolio(s.world.pte(s.pid, arena(601)).pfn) { $0.anonVMA = foreign }
    s.world.mapAnon(s.pid, page: 2000, count: 4)
    _ = try s.world.uffdioRegister(s.pid, s.uffd, start: arena(2000), length: pages(4), mode: .missing)
    before = s.world.cost
    expectMoved(s.move(dst: arena(2000), src: arena(600), pages: 3), pages(3))
    #expect(s.world.cost.since(before).tlbFlushRanges == 3)
  }
}
