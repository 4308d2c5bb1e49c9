import MopsABI
import Testing

@testable import MopsEngine

/// mmap of anonymous memory: every errno row of spec vma-mmap-mremap §2.1 in order,
/// placement (§2.2), flags and merging at creation (§2.3).
@Suite struct MmapTests {
  let world = World(checksInvariants: true)
  var pid: PID { world.initialPID }
  var mm: MM { world.mmOf(pid) }
  func page(_ n: UInt64) -> VirtAddr { World.page(n) }

  @discardableResult
  func map(
    _ addr: VirtAddr = VirtAddr(0), _ length: UInt64, _ prot: Prot = .readWrite,
    _ flags: MapFlags = .privateAnon
  ) throws -> VirtAddr {
    try world.mmap(pid, addr: addr, length: length, prot: prot, flags: flags)
  }

  // MARK: Errors in check order

  @Test func unknownPidFailsWithESRCH() {
    expectFailure(.ESRCH) {
      _ = try world.mmap(
        PID(99), addr: VirtAddr(0), length: pages(1), prot: .read, flags: .privateAnon)
    }
  }

  @Test func missingMapAnonymousFailsWithEBADFBeforeTheLengthCheck() {
    expectFailure(.EBADF) { try map(VirtAddr(0), 0, .read, [.private]) }
  }

  @Test func hugetlbIsRefusedAsNotModelled() {
    expectNotModelled { try map(VirtAddr(0), 0, .read, [.private, .anonymous, .hugetlb]) }
  }

  @Test func zeroLengthFailsWithEINVAL() {
    expectFailure(.EINVAL) { try map(VirtAddr(0), 0) }
    expectFailure(.EINVAL) { try map(VirtAddr(0), 0, .read, [.sharedValidate, .anonymous]) }
  }

  @Test func lengthWrappingWhenRoundedFailsWithENOMEMBeforeTheTypeCheck() {
    expectFailure(.ENOMEM) { try map(VirtAddr(0), UInt64.max) }
    expectFailure(.ENOMEM) {
      try map(VirtAddr(0), UInt64.max - 100, .read, [.sharedValidate, .anonymous])
    }
  }

  @Test func mapCountAboveTheLimitFailsWithENOMEMEvenForAMergingMapping() throws {
    try map(page(0), pages(1), .read, .fixedPrivateAnon)
    try map(page(2), pages(1), .readWrite, .fixedPrivateAnon)
    world.maxMapCount = 2
    try map(page(4), pages(1), .read, .fixedPrivateAnon)
    #expect(mm.mapCount == 3)
    expectFailure(.ENOMEM) { try map(page(1), pages(1), .read, .fixedPrivateAnon) }
    #expect(world.layout(pid) == ["0-1:r--p", "2-3:rw-p:ac", "4-5:r--p"])
  }

  @Test func lengthBeyondTaskSizeFailsWithENOMEM() {
    expectFailure(.ENOMEM) { try map(VirtAddr(0), taskSize + pageSize) }
    expectFailure(.ENOMEM) { try map(page(0), taskSize + pageSize, .read, .fixedPrivateAnon) }
  }

  @Test func map32BitPlacementIsNotModelledButIgnoredWithMapFixed() throws {
    expectNotModelled {
      try map(VirtAddr(0), pages(1), .read, [.private, .anonymous, World.map32Bit])
    }
    let a = try map(page(3), pages(1), .read, [.private, .anonymous, .fixed, World.map32Bit])
    #expect(a == page(3))
  }

  @Test func fullArenaFailsWithENOMEM() throws {
    try map(Arena.start, Arena.end - Arena.start, .none, .fixedPrivateAnon)
    expectFailure(.ENOMEM) { try map(VirtAddr(0), pages(1)) }
  }

  @Test func fixedRangeBeyondTaskSizeFailsWithENOMEMBeforeAlignment() {
    expectFailure(.ENOMEM) {
      try map(VirtAddr(taskSize - pageSize), pages(2), .read, .fixedPrivateAnon)
    }
    expectFailure(.ENOMEM) {
      try map(VirtAddr(taskSize - pageSize + 1), pages(2), .read, .fixedPrivateAnon)
    }
  }

  @Test func fixedUnalignedAddressFailsWithEINVAL() {
    expectFailure(.EINVAL) { try map(page(1) + 5, pages(1), .read, .fixedPrivateAnon) }
    expectFailure(.EINVAL) { try map(page(1) + 5, pages(1), .read, .noreplacePrivateAnon) }
  }

  @Test func noreplaceOverAnyVMAFailsWithEEXISTBeforeTheTypeCheck() throws {
    try map(page(4), pages(2), .none, .fixedPrivateAnon)
    expectFailure(.EEXIST) { try map(page(5), pages(4), .read, .noreplacePrivateAnon) }
    expectFailure(.EEXIST) { try map(page(0), pages(5), .read, .noreplacePrivateAnon) }
    expectFailure(.EEXIST) {
      try map(page(5), pages(1), .read, [.sharedValidate, .anonymous, .fixedNoreplace])
    }
    let a = try map(page(6), pages(1), .read, .noreplacePrivateAnon)
    #expect(a == page(6))
  }

  @Test func invalidMappingTypesFailWithEINVAL() {
    for type: UInt32 in [0x0, 0x3, 0x4, 0x5, 0xf] {
      expectFailure(.EINVAL) {
        try map(VirtAddr(0), pages(1), .read, MapFlags(rawValue: type | 0x20))
      }
    }
    #expect(mm.mapCount == 0)
  }

  @Test func growsdownWithSharedFailsWithEINVALAndIsOtherwiseNotModelled() {
    expectFailure(.EINVAL) {
      try map(VirtAddr(0), pages(1), .read, [.shared, .anonymous, .growsdown])
    }
    expectNotModelled { try map(VirtAddr(0), pages(1), .read, [.private, .anonymous, .growsdown]) }
  }

  @Test func droppableChecksItsFlagsThenIsNotModelled() {
    expectFailure(.EINVAL) {
      try map(VirtAddr(0), pages(1), .read, [.droppable, .anonymous, .locked])
    }
    expectFailure(.EINVAL) {
      try map(VirtAddr(0), pages(1), .read, [.droppable, .anonymous, .growsdown])
    }
    expectNotModelled { try map(VirtAddr(0), pages(1), .read, [.droppable, .anonymous]) }
  }

  @Test func lockedAndPopulateAreNotModelledButPopulateWithNonblockIsAPlainMapping() throws {
    expectNotModelled { try map(VirtAddr(0), pages(1), .read, [.private, .anonymous, .locked]) }
    expectNotModelled { try map(VirtAddr(0), pages(1), .read, [.private, .anonymous, .populate]) }
    #expect(mm.mapCount == 0)
    try map(VirtAddr(0), pages(1), .read, [.private, .anonymous, .populate, .nonblock])
    #expect(mm.mapCount == 1)
    #expect(mm.pageTable.used == 0)
  }

  @Test func fixedOverTheInteriorOfAVMAAtTheLimitFailsWithENOMEMAndChangesNothing() throws {
    try map(page(0), pages(6), .readWrite, .fixedPrivateAnon)
    let pfn = world.writePage(pid, page(2))
    world.maxMapCount = 1
    expectFailure(.ENOMEM) { try map(page(2), pages(1), .read, .fixedPrivateAnon) }
    #expect(world.layout(pid) == ["0-6:rw-p:ac"])
    #expect(mm.pageTable[page(2)].pfn == pfn)
  }

  // MARK: Flags and the new VMA

  @Test func privateWritableMappingIsAccountedWithPgoffOfItsAddress() throws {
    let a = try map(VirtAddr(0), pages(4))
    #expect(a == Arena.end - pages(4))
    let vma = mm.vmas.vma(containing: a)!
    #expect(vma.vmFlags == [.read, .write, .mayRead, .mayWrite, .mayExec, .account])
    #expect(vma.vmFlags.smapsText == "rd wr mr mw me ac")
    #expect(vma.vmPgoff == a.vpn && vma.anonVMA == .none && vma.shmem == nil)
    #expect(mm.pageTable.used == 0)
  }

  @Test func readOnlyNoneAndNoreserveMappingsAreNotAccounted() throws {
    let ro = try map(page(0), pages(1), .read, .fixedPrivateAnon)
    let none = try map(page(2), pages(1), .none, .fixedPrivateAnon)
    let nr = try map(page(4), pages(1), .readWrite, [.private, .anonymous, .fixed, .noreserve])
    #expect(mm.vmas.vma(containing: ro)!.vmFlags.smapsText == "rd mr mw me")
    #expect(mm.vmas.vma(containing: none)!.vmFlags.smapsText == "mr mw me")
    #expect(mm.vmas.vma(containing: nr)!.vmFlags.smapsText == "rd wr mr mw me nr")
  }

  @Test func sharedAnonymousMappingGetsItsOwnShmemObject() throws {
    let a = try map(
      VirtAddr(0), pages(3), [.read, .write, .exec], [.shared, .anonymous, .noreserve])
    let vma = mm.vmas.vma(containing: a)!
    #expect(vma.vmFlags.smapsText == "rd wr ex sh mr mw me ms nr")
    #expect(vma.vmPgoff == 0)
    let obj = world.shmemObjects[vma.shmem!]!
    #expect(obj.sizeInPages == 3 && obj.vmaRefs == 1)
    let b = try map(
      a + pages(3), pages(2), [.read, .write, .exec], [.shared, .anonymous, .noreserve, .fixed])
    let other = mm.vmas.vma(containing: b)!
    #expect(other.shmem != vma.shmem && mm.mapCount == 2)
    #expect(world.shmemObjects[other.shmem!]!.inode != obj.inode)
  }

  @Test func stackSyncAndUnknownBitsMapAsTheKernelDoes() throws {
    let s = try map(page(0), pages(1), .readWrite, [.private, .anonymous, .fixed, .stack])
    #expect(mm.vmas.vma(containing: s)!.vmFlags.smapsText == "rd wr mr mw me ac nh")
    let y = try map(page(2), pages(1), .readWrite, [.private, .anonymous, .fixed, .sync])
    #expect(mm.vmas.vma(containing: y)!.vmFlags.smapsText == "rd wr mr mw me ac sf")
    let u = try map(
      page(4), pages(1), Prot(rawValue: Prot.readWrite.rawValue | 0x8 | 0x10),
      MapFlags(rawValue: MapFlags.fixedPrivateAnon.rawValue | 0x80_0000))
    #expect(mm.vmas.vma(containing: u)!.vmFlags.smapsText == "rd wr mr mw me ac")
  }

  // MARK: Placement

  @Test func successiveMappingsStackDownwardAndMerge() throws {
    let a = try map(VirtAddr(0), pages(2))
    let b = try map(VirtAddr(0), pages(3))
    #expect(b == a - pages(3))
    #expect(mm.mapCount == 1)
    let c = try map(VirtAddr(0), pages(1), .read)
    #expect(c == b - pages(1) && mm.mapCount == 2)
  }

  @Test func freedRangeIsReusedFromItsTop() throws {
    let a = try map(VirtAddr(0), pages(8), .read)
    try map(VirtAddr(0), pages(8), .readWrite)
    try world.munmap(pid, addr: a + pages(2), length: pages(4))
    let b = try map(VirtAddr(0), pages(3), .readWrite)
    #expect(b == a + pages(3))
  }

  @Test func hintIsUsedOnlyIfTheWholeRangeIsFree() throws {
    let h = try map(page(100), pages(2))
    #expect(h == page(100))
    let partly = try map(page(99), pages(4))
    #expect(partly == Arena.end - pages(4))
    let unaligned = try map(page(50) + 123, pages(1))
    #expect(unaligned == page(50))
  }

  @Test func hintBelowMmapMinAddrIsRaisedAndATinyHintIsNoHint() throws {
    let low = try map(VirtAddr(0x1000), pages(1))
    #expect(low == VirtAddr(mmapMinAddr))
    let tiny = try map(VirtAddr(5), pmdSize)
    #expect(tiny.rawValue % pmdSize == 0)
  }

  @Test func hintOutsideTheArenaIsUsedAsTheKernelWould() throws {
    let a = try map(VirtAddr(0x7000_0000_0000), pages(1))
    #expect(a == VirtAddr(0x7000_0000_0000))
  }

  @Test func twoMiBPrivateMappingsAreAlignedOthersAreNot() throws {
    try map(Arena.end - pages(3), pages(3), .none, .fixedPrivateAnon)
    let p = try map(VirtAddr(0), pmdSize)
    #expect(p == Arena.end - 2 * pmdSize)
    try world.munmap(pid, addr: p, length: pmdSize)
    let s = try map(VirtAddr(0), pmdSize, .readWrite, .sharedAnon)
    #expect(s == Arena.end - pages(3) - pmdSize)
    try world.munmap(pid, addr: s, length: pmdSize)
    let hinted = try map(Arena.end - pages(1), pmdSize)
    #expect(hinted == Arena.end - pages(3) - pmdSize)
    try world.munmap(pid, addr: hinted, length: pmdSize)
    let odd = try map(VirtAddr(0), pmdSize + pageSize)
    #expect(odd == Arena.end - pages(3) - pmdSize - pageSize)
  }

  // MARK: MAP_FIXED replacement and merging at creation

  @Test func fixedReplacesAtomicallyFreeingOldPagesAndRemerging() throws {
    try map(page(0), pages(6), .readWrite, .fixedPrivateAnon)
    let kept = world.writePage(pid, page(1))
    world.writePage(pid, page(3))
    let before = world.cost
    try map(page(2), pages(2), .readWrite, .fixedPrivateAnon)
    #expect(world.layout(pid) == ["0-6:rw-p:ac"])
    #expect(mm.pageTable[page(3)] == .none)
    #expect(mm.pageTable[page(1)].pfn == kept)
    let d = world.cost.since(before)
    #expect(d.vmaSplits == 2 && d.vmaMerges == 1 && d.vmasFreed == 2 && d.pagesFreed == 1)
  }

  @Test func fixedWithOtherFlagsSplitsItsNeighbours() throws {
    try map(page(0), pages(6), .readWrite, .fixedPrivateAnon)
    try map(page(2), pages(2), .read, .fixedPrivateAnon)
    #expect(world.layout(pid) == ["0-2:rw-p:ac", "2-4:r--p", "4-6:rw-p:ac"])
  }

  @Test func fixedOverSharedAnonDropsTheObject() throws {
    let s = try map(page(0), pages(2), .readWrite, [.shared, .anonymous, .fixed])
    let id = mm.vmas.vma(containing: s)!.shmem!
    world.touchShared(pid, s)
    try map(page(0), pages(2), .readWrite, .fixedPrivateAnon)
    #expect(world.shmemObjects[id] == nil)
    #expect(world.layout(pid) == ["0-2:rw-p:ac"])
  }

  @Test func newRangeJoinsAFaultedNeighbourButNotAMovedOne() throws {
    try map(page(0), pages(2), .readWrite, .fixedPrivateAnon)
    world.writePage(pid, page(0))
    try map(page(2), pages(2), .readWrite, .fixedPrivateAnon)
    #expect(world.layout(pid) == ["0-4:rw-p:ac"])
    var moved = VMA(
      vmStart: page(10), vmEnd: page(12), vmFlags: mm.vmas.first!.vmFlags, vmPgoff: page(40).vpn)
    moved.anonVMA = mm.vmas.first!.anonVMA
    moved.anonVMAChainLength = 1
    world.insertVMA(mm, moved)
    try map(page(12), pages(2), .readWrite, .fixedPrivateAnon)
    #expect(world.layout(pid) == ["0-4:rw-p:ac", "10-12:rw-p:ac", "12-14:rw-p:ac"])
  }

  @Test func creationCostsOneAllocationOrOneMerge() throws {
    var before = world.cost
    try map(page(0), pages(2), .readWrite, .fixedPrivateAnon)
    #expect(world.cost.since(before).vmasAllocated == 1)
    before = world.cost
    try map(page(2), pages(2), .readWrite, .fixedPrivateAnon)
    let d = world.cost.since(before)
    #expect(d.vmasAllocated == 0 && d.vmaMerges == 1)
  }
}

/// mmap on the three scenarios and in a fork child (spec §6.4).
@Suite struct MmapScenarioTests {
  @Test(arguments: Scenario.allCases)
  func fixedReplacementDropsOnlyThisProcessesMappings(_ scenario: Scenario) throws {
    let (world, pid) = try scenario.world { w, pid in
      let b = RemapBench(w, pid)
      try b.map(0, 3)
      for n: UInt64 in 0..<3 { b.write(n, 0x70) }
    }
    let b = RemapBench(world, pid)
    let old = b.pte(1).pfn
    try b.map(1, 1)
    #expect(b.layout == ["0-3:rw-p:ac"])
    #expect(b.pte(1) == .none && b.byte(1) == 0)
    #expect(world.folio(old).isInUse == (scenario == .afterFork))
  }

  @Test(arguments: Scenario.allCases)
  func newRangeNextToAFaultedVMAMergesInTheParent(_ scenario: Scenario) throws {
    let (world, pid) = try scenario.world { w, pid in
      let b = RemapBench(w, pid)
      try b.map(0, 2)
      b.write(0)
    }
    let b = RemapBench(world, pid)
    try b.map(2, 2)
    #expect(b.layout == ["0-4:rw-p:ac"])
  }

  @Test func newRangeNextToAFaultedVMADoesNotMergeInAForkChild() throws {
    let parent = RemapBench()
    try parent.map(0, 2)
    parent.write(0)
    try parent.map(10, 2)
    let child = RemapBench(parent.world, try parent.world.fork(parent.pid))
    try child.map(2, 2)
    #expect(child.layout == ["0-2:rw-p:ac", "2-4:rw-p:ac", "10-12:rw-p:ac"])
    try child.map(12, 2)
    #expect(child.layout == ["0-2:rw-p:ac", "2-4:rw-p:ac", "10-14:rw-p:ac"])
  }
}
