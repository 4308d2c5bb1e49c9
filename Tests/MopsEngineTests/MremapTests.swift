import MopsABI
import Testing

@testable import MopsEngine

/// A world and pid with the operations mremap tests use, addressed in arena pages.
struct RemapBench {
  let world: World
  let pid: PID

  init(_ world: World = World(checksInvariants: true), _ pid: PID? = nil) {
    self.world = world
    self.pid = pid ?? world.initialPID
  }

  var mm: MM { world.mmOf(pid) }
  func page(_ n: UInt64) -> VirtAddr { World.page(n) }
  var layout: [String] { world.layout(pid) }

  func map(
    _ first: UInt64, _ count: UInt64, _ prot: Prot = .readWrite,
    _ flags: MapFlags = .fixedPrivateAnon
  )
    throws
  {
    _ = try world.mmap(pid, addr: page(first), length: pages(count), prot: prot, flags: flags)
  }

  func mapShared(_ first: UInt64, _ count: UInt64) throws {
    try map(first, count, .readWrite, [.shared, .anonymous, .fixed])
  }

  /// mremap of arena pages; `to` is the new address in arena pages.
  @discardableResult
  func remap(
    _ from: UInt64, _ oldPages: UInt64, _ newPages: UInt64, _ flags: MremapFlags = [],
    to: UInt64? = nil
  )
    throws -> VirtAddr
  {
    try world.mremap(
      pid, oldAddr: page(from), oldLength: pages(oldPages), newLength: pages(newPages),
      flags: flags,
      newAddr: to.map(page) ?? VirtAddr(0))
  }

  @discardableResult
  func remap(
    _ addr: VirtAddr, _ oldLength: UInt64, _ newLength: UInt64, _ flags: MremapFlags,
    _ newAddr: VirtAddr
  )
    throws -> VirtAddr
  {
    try world.mremap(
      pid, oldAddr: addr, oldLength: oldLength, newLength: newLength, flags: flags, newAddr: newAddr
    )
  }

  /// Write-faults page `n` with `fill`, expecting success; returns the page's frame.
  @discardableResult
  func write(_ n: UInt64, _ fill: UInt8 = 0x41, sourceLocation: SourceLocation = #_sourceLocation)
    -> PFN
  {
    #expect(
      world.touch(pid, addr: page(n), write: true, fill: fill) == .ok,
      sourceLocation: sourceLocation)
    return mm.pageTable[page(n)].pfn
  }

  func pte(_ n: UInt64) -> PTE { mm.pageTable[page(n)] }
  func vma(_ n: UInt64) -> VMA? { mm.vmas.vma(containing: page(n)) }
  func byte(_ n: UInt64) -> UInt8 { world.readBytes(pid, addr: page(n), count: 1).bytes.first ?? 0 }
}

/// mremap: every row of spec vma-mmap-mremap §7.1, §7.3, §7.5, the paths of §7.4,
/// the thresholds of §8, mremap after fork (§9) and its cost (§10).
@Suite struct MremapTests {
  let b = RemapBench()
  var world: World { b.world }
  var pid: PID { b.pid }
  func page(_ n: UInt64) -> VirtAddr { World.page(n) }

  // MARK: §7.1 checks before the lookup, in order

  @Test func unknownPidFailsWithESRCH() {
    expectFailure(.ESRCH) {
      _ = try world.mremap(
        PID(5), oldAddr: page(0), oldLength: 1, newLength: 1, flags: [], newAddr: VirtAddr(0))
    }
  }

  @Test func unknownFlagFailsWithEINVALBeforeAnythingElse() {
    expectFailure(.EINVAL) { try b.remap(page(0) + 1, 0, 0, MremapFlags(rawValue: 8), VirtAddr(0)) }
  }

  @Test func unalignedOldAddressFailsWithEINVAL() {
    expectFailure(.EINVAL) { try b.remap(page(0) + 1, pages(1), 0, [], VirtAddr(0)) }
  }

  @Test func newLengthRoundingToZeroFailsWithEINVAL() throws {
    try b.map(0, 1)
    expectFailure(.EINVAL) { try b.remap(page(0), pages(1), 0, [], VirtAddr(0)) }
    expectFailure(.EINVAL) {
      try b.remap(page(0), pages(1), UInt64.max - 100, [.maymove], VirtAddr(0))
    }
  }

  @Test func newLengthBeyondTaskSizeFailsWithEINVAL() throws {
    try b.map(0, 1)
    expectFailure(.EINVAL) {
      try b.remap(page(0), pages(1), taskSize + pageSize, [.maymove], VirtAddr(0))
    }
  }

  @Test func newAddressIsIgnoredWithoutFixedOrDontunmap() throws {
    try b.map(0, 2)
    let r = try b.remap(page(0), pages(2), pages(1), [.maymove], VirtAddr(UInt64.max - 5))
    #expect(r == page(0))
    #expect(b.layout == ["0-1:rw-p:ac"])
  }

  @Test func newRangeBeyondTaskSizeFailsWithEINVAL() {
    expectFailure(.EINVAL) {
      try b.remap(page(0), pages(1), pages(2), [.maymove, .fixed], VirtAddr(taskSize - pageSize))
    }
    expectFailure(.EINVAL) {
      try b.remap(page(0), pages(1), pages(1), [.maymove, .dontunmap], VirtAddr(taskSize))
    }
  }

  @Test func unalignedNewAddressFailsWithEINVAL() {
    expectFailure(.EINVAL) {
      try b.remap(page(0), pages(1), pages(1), [.maymove, .fixed], page(9) + 1)
    }
  }

  @Test func fixedOrDontunmapWithoutMaymoveFailsWithEINVALEvenUnmapped() {
    for size: UInt64 in [1, 2, 4] {
      expectFailure(.EINVAL) { try b.remap(0, 2, size, [.fixed], to: 10) }
      expectFailure(.EINVAL) { try b.remap(0, 2, size, [.dontunmap], to: 10) }
    }
  }

  @Test func dontunmapResizeFailsWithEINVAL() throws {
    try b.map(0, 2)
    expectFailure(.EINVAL) { try b.remap(0, 2, 1, [.maymove, .dontunmap], to: 10) }
    expectFailure(.EINVAL) { try b.remap(0, 2, 3, [.maymove, .dontunmap], to: 10) }
    expectFailure(.EINVAL) { try b.remap(0, 2, 3, [.maymove, .dontunmap, .fixed], to: 10) }
  }

  @Test func overlappingRangesFailWithEINVALNotEFAULT() {
    expectFailure(.EINVAL) { try b.remap(0, 4, 4, [.maymove, .fixed], to: 2) }
    expectFailure(.EINVAL) { try b.remap(4, 4, 8, [.maymove, .fixed], to: 0) }
  }

  @Test func fixedOrDontunmapNearTheMapCountLimitFailsWithENOMEM() throws {
    try b.map(0, 1)
    try b.map(2, 1)
    world.maxMapCount = 7
    expectFailure(.ENOMEM) { try b.remap(0, 1, 1, [.maymove, .fixed], to: 10) }
    expectFailure(.ENOMEM) { try b.remap(0, 1, 1, [.maymove, .dontunmap], to: 10) }
    world.maxMapCount = 8
    try b.remap(0, 1, 1, [.maymove, .fixed], to: 10)
    #expect(b.layout == ["2-3:rw-p:ac", "10-11:rw-p:ac"])
  }

  // MARK: §7.2/§7.3 lookup and check_prep_vma

  @Test func noVMAAtOldAddressFailsWithEFAULT() throws {
    try b.map(2, 2)
    expectFailure(.EFAULT) { try b.remap(0, 1, 1, []) }
    expectFailure(.EFAULT) { try b.remap(0, 1, 2, [.maymove]) }
    expectFailure(.EFAULT) { try b.remap(1, 1, 1, [.maymove, .dontunmap], to: 20) }
    expectFailure(.EFAULT) { try b.remap(5, 1, 2, [.maymove, .fixed], to: 20) }
  }

  @Test func sameSizeWithoutFixedIsANoOpHoweverFarOldLengthReaches() throws {
    try b.map(0, 2)
    let pfn = b.write(0)
    #expect(try b.remap(0, 50, 50, []) == page(0))
    #expect(try b.remap(1, 50, 50, [.maymove]) == page(1))
    #expect(b.layout == ["0-2:rw-p:ac"] && b.pte(0).pfn == pfn)
  }

  @Test func oldLengthZeroOnAPrivateMappingFailsWithEINVAL() throws {
    try b.map(0, 2)
    expectFailure(.EINVAL) { try b.remap(0, 0, 1, [.maymove]) }
    expectFailure(.EINVAL) { try b.remap(0, 0, 1, [.maymove, .fixed], to: 10) }
  }

  @Test func dontunmapOnADontexpandVMAFailsWithEINVALAndGrowingItWithEFAULT() throws {
    world.insertVMA(
      b.mm,
      VMA(
        vmStart: page(0), vmEnd: page(2),
        vmFlags: [.read, .write, .mayRead, .mayWrite, .dontexpand],
        vmPgoff: 1))
    expectFailure(.EINVAL) { try b.remap(0, 2, 2, [.maymove, .dontunmap], to: 10) }
    expectFailure(.EFAULT) { try b.remap(0, 2, 3, [.maymove]) }
    try b.remap(0, 2, 1, [])
    #expect(b.layout == ["0-1:rw-p"])
  }

  @Test func growingOrMovingPastTheVMAEndFailsWithEFAULT() throws {
    try b.map(0, 2)
    try b.map(2, 2, .read)
    expectFailure(.EFAULT) { try b.remap(0, 3, 4, [.maymove]) }
    expectFailure(.EFAULT) { try b.remap(0, 3, 4, [.maymove, .fixed], to: 10) }
    expectFailure(.EFAULT) { try b.remap(0, 3, 3, [.maymove, .dontunmap], to: 10) }
    #expect(b.layout == ["0-2:rw-p:ac", "2-4:r--p"])
  }

  @Test func pgoffOverflowWhenGrowingFailsWithEINVAL() {
    world.insertVMA(
      b.mm,
      VMA(
        vmStart: page(0), vmEnd: page(2), vmFlags: [.read, .mayRead, .mayWrite],
        vmPgoff: UInt64.max - 2))
    expectFailure(.EINVAL) { try b.remap(0, 2, 4, [.maymove]) }
  }

  // MARK: §7.4 A: no FIXED, no DONTUNMAP

  @Test(arguments: Scenario.allCases)
  func shrinkUnmapsTheTailAndTheHeadKeepsItsFrames(_ scenario: Scenario) throws {
    let (w, pid) = try scenario.world { w, pid in
      let b = RemapBench(w, pid)
      try b.map(0, 4)
      for n: UInt64 in 0..<4 { b.write(n) }
    }
    let b = RemapBench(w, pid)
    let head = b.pte(0).pfn
    let tail = b.pte(3).pfn
    let r = try b.remap(0, 4, 2, [])
    #expect(r == page(0))
    #expect(b.layout == ["0-2:rw-p:ac"])
    #expect(b.pte(0).pfn == head && b.pte(3) == .none)
    #expect(w.folio(tail).isInUse == (scenario == .afterFork))
  }

  @Test func shrinkIgnoresVMABoundariesAndHoles() throws {
    try b.map(0, 2)
    try b.map(2, 2, .read)
    try b.map(5, 2)
    try b.remap(1, 8, 1, [])
    #expect(b.layout == ["0-2:rw-p:ac"])
  }

  @Test func shrinkingAnInteriorTailAtTheLimitFailsButTrimmingIsAllowed() throws {
    try b.map(0, 6)
    world.maxMapCount = 1
    expectFailure(.ENOMEM) { try b.remap(0, 4, 2, []) }
    try b.remap(2, 4, 2, [])
    #expect(b.layout == ["0-4:rw-p:ac"])
  }

  @Test func shrinkWhoseTailReachesBeyondTaskSizeFailsWithEINVAL() throws {
    try b.map(0, 2)
    expectFailure(.EINVAL) { try b.remap(page(0), taskSize, pageSize, [], VirtAddr(0)) }
    #expect(b.layout == ["0-2:rw-p:ac"])
  }

  @Test(arguments: Scenario.allCases)
  func growInPlaceExtendsTheVMAFromASuffix(_ scenario: Scenario) throws {
    let (w, pid) = try scenario.world { w, pid in
      let b = RemapBench(w, pid)
      try b.map(0, 4)
      b.write(0)
    }
    let b = RemapBench(w, pid)
    let pfn = b.pte(0).pfn
    let before = w.cost
    let r = try b.remap(2, 2, 5, [])
    #expect(r == page(2))
    #expect(b.layout == ["0-7:rw-p:ac"])
    #expect(b.pte(0).pfn == pfn && b.pte(5) == .none)
    let d = w.cost.since(before)
    #expect(d.vmasAllocated == 0 && d.vmaMerges == 1 && d.ptesChanged == 0)
  }

  @Test func growInPlaceAbsorbsACompatibleNextVMA() throws {
    try b.map(0, 4)
    try b.map(6, 2)
    #expect(b.layout == ["0-4:rw-p:ac", "6-8:rw-p:ac"])
    try b.remap(0, 4, 6, [])
    #expect(b.layout == ["0-8:rw-p:ac"])
  }

  @Test func growBlockedByAReservationFailsWithENOMEMWithoutMaymove() throws {
    try b.map(0, 2)
    try b.map(3, 1, .none)
    expectFailure(.ENOMEM) { try b.remap(0, 2, 4, []) }
    expectFailure(.ENOMEM) { try b.remap(0, 1, 2, []) }
    #expect(b.layout == ["0-2:rw-p:ac", "3-4:---p"])
  }

  @Test(arguments: Scenario.allCases)
  func growWithMaymoveMovesTopDownKeepingThePages(_ scenario: Scenario) throws {
    let (w, pid) = try scenario.world { w, pid in
      let b = RemapBench(w, pid)
      try b.map(0, 2)
      try b.map(2, 1, .none)
      b.write(0, 0x11)
      b.write(1, 0x22)
    }
    let b = RemapBench(w, pid)
    let p0 = b.pte(0)
    let f0 = w.folio(p0.pfn)
    let r = try b.remap(0, 2, 3, [.maymove])
    #expect(r == Arena.end - pages(3))
    #expect(
      b.layout == [
        "2-3:---p",
        "\((r - Arena.start) / pageSize)-\((Arena.end - Arena.start) / pageSize):rw-p:ac",
      ])
    #expect(b.mm.pageTable[r] == p0)
    let moved = w.folio(p0.pfn)
    #expect(
      moved.mapcount == f0.mapcount && moved.isAnonExclusive == f0.isAnonExclusive
        && moved.index == f0.index)
    #expect(b.mm.pageTable[r + pages(2)] == .none)
    #expect(w.readBytes(pid, addr: r + pages(1), count: 1).bytes == [0x22])
  }

  @Test func growMoveOfATwoMiBMultipleIsTHPAligned() throws {
    try b.map(0, 1)
    try b.map(1, 1, .none)
    try b.map(Arena.end.vpn - Arena.start.vpn - 3, 3, .none)
    let r = try b.remap(page(0), pageSize, pmdSize, [.maymove], VirtAddr(0))
    #expect(r == Arena.end - 2 * pmdSize)
  }

  // MARK: §7.4 B: FIXED or DONTUNMAP

  @Test func fixedUnmapsWhateverIsAtTheTargetFirst() throws {
    try b.map(0, 2)
    b.write(0, 0x31)
    try b.map(10, 4, .read)
    let r = try b.remap(0, 2, 2, [.maymove, .fixed], to: 11)
    #expect(r == page(11))
    #expect(b.layout == ["10-11:r--p", "11-13:rw-p:ac", "13-14:r--p"])
    #expect(b.byte(11) == 0x31)
  }

  @Test func fixedShrinkMoveTrimsTheFollowingVMAAndMovesTheHead() throws {
    try b.map(0, 2)
    try b.map(2, 2, .read)
    b.write(0, 7)
    let r = try b.remap(0, 4, 1, [.maymove, .fixed], to: 10)
    #expect(r == page(10))
    #expect(b.layout == ["10-11:rw-p:ac"])
    #expect(b.byte(10) == 7)
  }

  @Test func fixedGrowMoveLeavesAnEmptyTail() throws {
    try b.map(0, 2)
    b.write(1, 9)
    try b.remap(0, 2, 5, [.maymove, .fixed], to: 10)
    #expect(b.layout == ["10-15:rw-p:ac"])
    #expect(b.byte(11) == 9 && b.pte(14) == .none)
  }

  @Test func dontunmapUsesAFreeHintElseTopDown() throws {
    try b.map(0, 2)
    try b.map(20, 1, .read)
    #expect(try b.remap(0, 2, 2, [.maymove, .dontunmap], to: 10) == page(10))
    #expect(try b.remap(0, 2, 2, [.maymove, .dontunmap], to: 19) == Arena.end - pages(2))
  }

  @Test(arguments: Scenario.allCases)
  func dontunmapLeavesTheSourceEmptyAccountedAndUnfaulted(_ scenario: Scenario) throws {
    let (w, pid) = try scenario.world { w, pid in
      let b = RemapBench(w, pid)
      try b.map(0, 2)
      b.write(0, 0x5A)
    }
    let b = RemapBench(w, pid)
    let pfn = b.pte(0).pfn
    let r = try b.remap(0, 2, 2, [.maymove, .dontunmap, .fixed], to: 10)
    #expect(r == page(10))
    #expect(b.layout == ["0-2:rw-p:ac", "10-12:rw-p:ac"])
    #expect(b.vma(0)!.anonVMA == .none)
    #expect(b.pte(0) == .none && b.pte(10).pfn == pfn)
    #expect(b.byte(0) == 0 && b.byte(10) == 0x5A)
  }

  @Test func partialDontunmapKeepsTheSourceWholeAndFaulted() throws {
    try b.map(0, 4)
    b.write(1)
    let anon = b.vma(0)!.anonVMA
    try b.remap(1, 1, 1, [.maymove, .dontunmap], to: 10)
    #expect(b.layout == ["0-4:rw-p:ac", "10-11:rw-p:ac"])
    #expect(b.vma(0)!.anonVMA == anon && b.vma(10)!.anonVMA == anon)
  }

  @Test func dontunmapOfSharedAnonKeepsTheDataVisibleAtTheSource() throws {
    try b.mapShared(0, 2)
    b.write(0, 0x66)
    try b.remap(0, 2, 2, [.maymove, .dontunmap], to: 10)
    #expect(b.pte(0) == .none)
    #expect(b.byte(0) == 0x66 && b.byte(10) == 0x66)
    #expect(b.vma(0)!.shmem == b.vma(10)!.shmem)
  }

  // MARK: Pure moves (6.17+ multi-VMA)

  @Test func pureMoveSpansVMAsAndKeepsGapsAndTheTargetInsideGaps() throws {
    try b.map(0, 2)
    try b.map(3, 2, .read)
    try b.map(22, 1, .read, [.shared, .anonymous, .fixed])
    b.write(0, 1)
    let r = try b.remap(0, 5, 5, [.maymove, .fixed], to: 20)
    #expect(r == page(20))
    #expect(b.layout == ["20-22:rw-p:ac", "22-23:r--s", "23-25:r--p"])
    #expect(b.byte(20) == 1)
  }

  @Test func pureMoveWithATrailingGapMovesWhatIsMapped() throws {
    try b.map(0, 2)
    try b.remap(0, 6, 6, [.maymove, .fixed], to: 10)
    #expect(b.layout == ["10-12:rw-p:ac"])
  }

  @Test func pureMoveStartingInAHoleFailsWithEFAULT() throws {
    try b.map(1, 2)
    expectFailure(.EFAULT) { try b.remap(0, 3, 3, [.maymove, .fixed], to: 10) }
    expectFailure(.EFAULT) { try b.remap(5, 3, 3, [.maymove, .fixed], to: 10) }
    #expect(b.layout == ["1-3:rw-p:ac"])
  }

  @Test func pureMoveOfSharedAnonVMAsTogetherIsAllowed() throws {
    try b.mapShared(0, 2)
    try b.mapShared(2, 2)
    try b.remap(0, 4, 4, [.maymove, .fixed], to: 100)
    #expect(b.layout == ["100-102:rw-s", "102-104:rw-s"])
  }

  @Test func pureMoveWithDontunmapKeepsEverySource() throws {
    try b.map(0, 2)
    try b.map(3, 2, .read)
    try b.remap(0, 5, 5, [.maymove, .fixed, .dontunmap], to: 100)
    #expect(b.layout == ["0-2:rw-p:ac", "3-5:r--p", "100-102:rw-p:ac", "103-105:r--p"])
  }

  @Test func uffdRegisteredVMAMovesOnlyAloneAndLosesItsRegistration() throws {
    try b.map(0, 2)
    try b.map(2, 2, .read)
    let ctx = world.makeUffd(pid)
    try world.registerMissing(pid, ctx, page: 0, count: 2)
    expectFailure(.EFAULT) { try b.remap(0, 4, 4, [.maymove, .fixed], to: 10) }
    #expect(b.layout == ["0-2:rw-p:ac", "2-4:r--p"])
    try b.map(20, 1)
    try world.registerMissing(pid, ctx, page: 20, count: 1)
    expectFailure(.EFAULT) { try b.remap(2, 19, 19, [.maymove, .fixed], to: 40) }
    #expect(b.layout == ["0-2:rw-p:ac", "20-21:rw-p:ac", "40-42:r--p"])
    try b.remap(0, 2, 2, [.maymove, .fixed], to: 10)
    #expect(b.vma(10)!.uffd == nil && b.vma(10)!.vmFlags.isDisjoint(with: .uffdAll))
  }

  @Test func movedRegisteredVMAMergingWithARegisteredNeighbourClearsBoth() throws {
    try b.map(0, 4)
    try b.map(20, 2)
    let ctx = world.makeUffd(pid)
    try world.registerMissing(pid, ctx, page: 0, count: 2)
    try world.registerMissing(pid, ctx, page: 20, count: 2)
    try b.remap(0, 2, 2, [.maymove, .fixed], to: 18)
    #expect(b.layout == ["2-4:rw-p:ac", "18-22:rw-p:ac"])
    #expect(b.vma(20)!.uffd == nil && b.vma(20)!.vmFlags.isDisjoint(with: .uffdAll))
  }

  @Test func remapEventFeatureIsNotModelled() throws {
    try b.map(0, 2)
    let ctx = world.makeUffd(pid, features: .eventRemap)
    try world.registerMissing(pid, ctx, page: 0, count: 2)
    expectNotModelled { try b.remap(0, 2, 2, [.maymove, .fixed], to: 10) }
    #expect(b.layout == ["0-2:rw-p:ac"])
  }

  // MARK: §7.4 C: the move itself

  @Test(arguments: Scenario.allCases)
  func moveKeepsFrameMapcountExclusivityAndIndex(_ scenario: Scenario) throws {
    let (w, pid) = try scenario.world { w, pid in
      let b = RemapBench(w, pid)
      try b.map(0, 3)
      b.write(0, 0xA1)
      b.write(1, 0xA2)
      #expect(w.touch(pid, addr: b.page(2), write: false, fill: nil) == .ok)
    }
    let b = RemapBench(w, pid)
    let old = (0..<3).map { b.pte($0) }
    let folios = old.filter(\.isPage).map { w.folio($0.pfn) }
    let pgoff = b.vma(0)!.vmPgoff
    try b.remap(0, 3, 3, [.maymove, .fixed], to: 10)
    #expect((10..<13).map { b.pte($0) } == old)
    #expect(old.filter(\.isPage).map { w.folio($0.pfn).mapcount } == folios.map(\.mapcount))
    #expect(
      old.filter(\.isPage).map { w.folio($0.pfn).isAnonExclusive } == folios.map(\.isAnonExclusive))
    #expect(old.filter(\.isPage).map { w.folio($0.pfn).index } == folios.map(\.index))
    #expect(b.vma(10)!.vmPgoff == pgoff)
    #expect(b.layout == ["10-13:rw-p:ac"])
  }

  @Test func unfaultedVMAGetsTheTargetPgoffAndMergesLikeAFreshMapping() throws {
    try b.map(0, 2)
    try b.map(10, 2)
    try b.map(14, 2)
    try b.remap(0, 2, 2, [.maymove, .fixed], to: 12)
    #expect(b.layout == ["10-16:rw-p:ac"])
    #expect(b.vma(12)!.vmPgoff == page(10).vpn)
  }

  @Test func faultedVMAKeepsItsPgoffAndDoesNotMergeWithFreshNeighbours() throws {
    try b.map(0, 2)
    b.write(0)
    try b.map(10, 2)
    try b.remap(0, 2, 2, [.maymove, .fixed], to: 12)
    #expect(b.layout == ["10-12:rw-p:ac", "12-14:rw-p:ac"])
    #expect(b.vma(12)!.vmPgoff == page(0).vpn)
  }

  @Test func faultedPieceMovedBackRemerges() throws {
    try b.map(0, 4)
    b.write(0)
    try b.remap(1, 1, 1, [.maymove, .fixed], to: 10)
    #expect(b.layout == ["0-1:rw-p:ac", "2-4:rw-p:ac", "10-11:rw-p:ac"])
    try b.remap(10, 1, 1, [.maymove, .fixed], to: 1)
    #expect(b.layout == ["0-4:rw-p:ac"])
  }

  @Test func unfaultedPieceNextToAFaultedVMAAdoptsItsAnonVMA() throws {
    try b.map(0, 2)
    b.write(0)
    try b.map(10, 2)
    let anon = b.vma(0)!.anonVMA
    try b.remap(10, 2, 2, [.maymove, .fixed], to: 2)
    #expect(b.layout == ["0-4:rw-p:ac"])
    #expect(b.vma(3)!.anonVMA == anon)
  }

  @Test func unfaultedTailShiftedNextToItsOwnVMAMergesThenSplits() throws {
    try b.map(0, 4)
    world.readZeroPage(pid, page(3))
    try b.remap(2, 2, 2, [.maymove, .fixed], to: 4)
    #expect(b.layout == ["0-2:rw-p:ac", "4-6:rw-p:ac"])
    #expect(b.pte(5) == .zeroPage && b.vma(4)!.vmPgoff == page(4).vpn)
  }

  @Test func moveIntoTheSameVMARejoinsItWhenUnfaultedAndSplitsItWhenFaulted() throws {
    try b.map(0, 10)
    world.readZeroPage(pid, page(1))
    try b.remap(0, 2, 2, [.maymove, .fixed], to: 5)
    #expect(b.layout == ["2-10:rw-p:ac"])
    #expect(b.pte(6) == .zeroPage && b.vma(2)!.vmPgoff == page(2).vpn)
    try b.map(20, 10)
    b.write(20)
    try b.remap(20, 2, 2, [.maymove, .fixed], to: 25)
    #expect(b.layout == ["2-10:rw-p:ac", "22-25:rw-p:ac", "25-27:rw-p:ac", "27-30:rw-p:ac"])
  }

  @Test func forkChildPieceMovedBackDoesNotMergeWithAnUnfaultedNeighbour() throws {
    for inChild in [false, true] {
      let w = World(checksInvariants: true)
      let parent = w.initialPID
      let pb = RemapBench(w, parent)
      try pb.map(0, 2)
      pb.write(0)
      let child = try w.fork(parent)
      let b = RemapBench(w, inChild ? child : parent)
      try b.remap(0, 2, 2, [.maymove, .fixed], to: 10)
      try b.map(2, 2)
      #expect(b.vma(2)!.anonVMA == .none)
      try b.remap(10, 2, 2, [.maymove, .fixed], to: 0)
      if inChild {
        #expect(b.layout == ["0-2:rw-p:ac", "2-4:rw-p:ac"])
      } else {
        #expect(b.layout == ["0-4:rw-p:ac"])
      }
    }
  }

  @Test func moveAtTheMaymoveThresholdFailsWithENOMEM() throws {
    try b.map(0, 2)
    try b.map(2, 1, .none)
    world.maxMapCount = 5
    expectFailure(.ENOMEM) { try b.remap(0, 2, 3, [.maymove]) }
    #expect(b.layout == ["0-2:rw-p:ac", "2-3:---p"])
    world.maxMapCount = 6
    try b.remap(0, 2, 3, [.maymove])
  }

  @Test func growInPlaceNeedsNoRoomAtTheLimit() throws {
    try b.map(0, 2)
    world.maxMapCount = 1
    try b.remap(0, 2, 4, [])
    #expect(b.layout == ["0-4:rw-p:ac"])
  }

  // MARK: Shared anonymous mappings

  @Test func oldLengthZeroDuplicatesASharedMappingWithMaymove() throws {
    try b.mapShared(0, 2)
    b.write(0, 0x78)
    expectFailure(.ENOMEM) { try b.remap(0, 0, 2, []) }
    let r = try b.remap(0, 0, 3, [.maymove, .fixed], to: 10)
    #expect(r == page(10))
    #expect(b.layout == ["0-2:rw-s", "10-13:rw-s"])
    #expect(b.vma(10)!.shmem == b.vma(0)!.shmem && b.vma(10)!.vmPgoff == 0)
    #expect(b.byte(10) == 0x78 && b.byte(0) == 0x78)
    try b.remap(1, 0, 1, [.maymove, .fixed], to: 13)
    #expect(b.vma(13)!.vmPgoff == 1)
    #expect(world.shmemObjects[b.vma(0)!.shmem!]!.vmaRefs == 3)
  }

  @Test func sharedGrowthBeyondTheObjectRaisesSIGBUSAndShrinkDoesNotTruncate() throws {
    try b.mapShared(0, 2)
    b.write(1, 0x44)
    let id = b.vma(0)!.shmem!
    try b.remap(0, 2, 4, [])
    #expect(b.layout == ["0-4:rw-s"])
    #expect(world.shmemObjects[id]!.sizeInPages == 2)
    #expect(world.touch(pid, addr: page(3), write: true, fill: 1) == .signal(.busAdrErr(page(3))))
    try b.remap(0, 4, 1, [])
    try b.remap(0, 1, 2, [])
    #expect(b.byte(1) == 0x44)
  }

  // MARK: §9 after fork

  @Test func moveAfterForkKeepsTheSharedPageAndCOWHappensAtTheNewAddress() throws {
    let pb = RemapBench()
    try pb.map(0, 1)
    let pfn = pb.write(0, 0x10)
    let child = try pb.world.fork(pb.pid)
    for mover in [pb.pid, child] {
      let w = pb.world.snapshot()
      let b = RemapBench(w, mover)
      let other = RemapBench(w, mover == pb.pid ? child : pb.pid)
      try b.remap(0, 1, 1, [.maymove, .fixed], to: 10)
      #expect(b.pte(10).pfn == pfn && other.pte(0).pfn == pfn)
      #expect(w.folio(pfn).mapcount == 2 && !w.folio(pfn).isAnonExclusive)
      #expect(!b.pte(10).isWritable)
      b.write(10, 0x20)
      #expect(b.pte(10).pfn != pfn && other.pte(0).pfn == pfn)
      #expect(other.byte(0) == 0x10 && b.byte(10) == 0x20)
      #expect(w.folio(pfn).mapcount == 1)
    }
  }

  @Test func childVMAMovedStaysAForkChild() throws {
    let pb = RemapBench()
    try pb.map(0, 2)
    pb.write(0)
    let child = try pb.world.fork(pb.pid)
    let b = RemapBench(pb.world, child)
    try b.remap(0, 2, 2, [.maymove, .fixed], to: 10)
    #expect(b.vma(10)!.isForkChild)
  }

  // MARK: Page tables (probed through UFFDIO_MOVE's ENOENT/EEXIST on 6.18.44)

  /// Arena page `n` of 2 MiB region `r` (512 pages each).
  func at(_ r: UInt64, _ n: UInt64 = 0) -> UInt64 { r * 512 + n }

  @Test func alignedWholePMDMoveTakesTheTableAway() throws {
    try b.map(at(1), 512)
    for n: UInt64 in 0..<512 { b.write(at(1, n)) }
    try b.remap(at(1), 512, 512, [.maymove, .fixed, .dontunmap], to: at(5))
    #expect(!b.mm.pageTable.hasTable(page(at(1))))
    #expect(b.mm.pageTable.hasTable(page(at(5))) && b.pte(at(5, 511)).isPage)
    #expect(b.layout == ["512-1024:rw-p:ac", "2560-3072:rw-p:ac"])
  }

  @Test func partialPMDMoveLeavesAnEmptyTableBehind() throws {
    try b.map(at(1, 4), 2)
    b.write(at(1, 4))
    try b.remap(at(1, 4), 2, 2, [.maymove, .fixed, .dontunmap], to: at(5, 4))
    #expect(b.mm.pageTable.hasTable(page(at(1, 4))) && b.pte(at(1, 4)) == .none)
    #expect(b.pte(at(5, 4)).isPage)
  }

  @Test func uffdRegisteredVMAMovesPTEByPTEKeepingTheSourceTable() throws {
    try b.map(at(1), 512)
    for n: UInt64 in 0..<512 { b.write(at(1, n)) }
    try world.registerMissing(pid, world.makeUffd(pid), page: at(1), count: 512)
    try b.remap(at(1), 512, 512, [.maymove, .fixed, .dontunmap], to: at(5))
    #expect(b.mm.pageTable.hasTable(page(at(1))) && b.pte(at(1)) == .none)
    #expect(b.pte(at(5, 100)).isPage)
  }

  @Test func emptySourceTableGetsATableAtTheTargetUntouchedOneDoesNot() throws {
    try b.map(at(1, 8), 2)
    b.write(at(1, 8))
    try world.madvise(pid, addr: page(at(1, 8)), length: pages(2), advice: .DONTNEED)
    #expect(b.mm.pageTable.hasTable(page(at(1, 8))))
    try b.remap(at(1, 8), 2, 2, [.maymove, .fixed], to: at(5, 8))
    #expect(b.mm.pageTable.hasTable(page(at(5, 8))))
    #expect(!b.mm.pageTable.hasTable(page(at(1, 8))))
    try b.map(at(7, 8), 2)
    try b.remap(at(7, 8), 2, 2, [.maymove, .fixed], to: at(9, 8))
    #expect(!b.mm.pageTable.hasTable(page(at(9, 8))))
  }

  @Test func moveReachingTheNextPMDIsRealignedAndMovesTheFirstTableWhole() throws {
    try b.map(at(1, 16), 512)
    for n: UInt64 in 16..<528 { b.write(at(1, n)) }
    try b.remap(at(1, 16), 512, 512, [.maymove, .fixed, .dontunmap], to: at(5, 16))
    #expect(!b.mm.pageTable.hasTable(page(at(1, 16))))
    #expect(b.mm.pageTable.hasTable(page(at(2, 15))) && b.pte(at(2, 15)) == .none)
    #expect(b.pte(at(5, 16)).isPage && b.pte(at(6, 15)).isPage)
  }

  // MARK: §10 cost

  @Test func onePageMoveSplittingSourceAndTargetCostsTwoVMAAllocations() throws {
    try b.map(0, 3)
    for n: UInt64 in 0..<3 { b.write(n) }
    try b.map(10, 3, .read)
    let before = world.cost
    try b.remap(1, 1, 1, [.maymove, .fixed], to: 11)
    let d = world.cost.since(before)
    #expect(
      b.layout == ["0-1:rw-p:ac", "2-3:rw-p:ac", "10-11:r--p", "11-12:rw-p:ac", "12-13:r--p"])
    #expect(d.vmaSplits == 4 && d.vmasAllocated == 5 && d.vmasFreed == 2)
    #expect(d.ptesChanged == 2 && d.tlbFlushRanges == 1)
    #expect(world.mmOf(pid).mapCount == 5)
  }

  @Test func onePageMoveIntoACompatibleNeighbourAllocatesNothingAtTheTarget() throws {
    try b.map(0, 4)
    b.write(0)
    try b.remap(3, 1, 1, [.maymove, .fixed], to: 13)
    let before = world.cost
    try b.remap(2, 1, 1, [.maymove, .fixed], to: 12)
    let d = world.cost.since(before)
    #expect(b.layout == ["0-2:rw-p:ac", "12-14:rw-p:ac"])
    #expect(d.vmaMerges == 1 && d.vmasAllocated == 1 && d.vmaSplits == 1 && d.vmasFreed == 1)
  }

  @Test func pagesMovedOneByOneToTheSameOffsetsEndAsOneVMAInAnyOrder() throws {
    try b.map(0, 64)
    for n: UInt64 in 0..<64 { b.write(n, UInt8(n)) }
    var order = Array(UInt64(0)..<64)
    var g = UInt64(0x9E37_79B9_7F4A_7C15)
    for i in stride(from: 63, to: 0, by: -1) {
      g = g &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      order.swapAt(i, Int(g >> 33) % (i + 1))
    }
    for n in order { try b.remap(n, 1, 1, [.maymove, .fixed], to: 100 + n) }
    #expect(b.layout == ["100-164:rw-p:ac"])
    #expect((0..<64).allSatisfy { b.byte(100 + $0) == UInt8($0) })
  }

  @Test func pagesMovedToReversedOffsetsLeaveOneVMAPerPage() throws {
    try b.map(0, 64)
    for n: UInt64 in 0..<64 { b.write(n) }
    for n: UInt64 in 0..<64 { try b.remap(n, 1, 1, [.maymove, .fixed], to: 163 - n) }
    #expect(b.mm.mapCount == 64)
  }
}
