import MopsABI
import Testing

@testable import MopsEngine

/// The VMA primitives of Ops/vma.swift (split, vma_modify, new-range merge, the munmap
/// core and placement), exercised on VMAs built directly.
@Suite struct VMATests {
  let world = World(checksInvariants: true)
  var mm: MM { world.processes[world.initialPID]! }

  static let rw: VMFlags = [.read, .write, .mayRead, .mayWrite, .mayExec, .account]

  /// Page `n` of the arena.
  func at(_ n: UInt64) -> VirtAddr { Arena.start + pages(n) }

  /// A private anonymous VMA over pages `[first, first + count)` as mmap creates it
  /// (pgoff = address >> 12, unfaulted).
  func anon(_ first: UInt64, _ count: UInt64, flags: VMFlags = rw) -> VMA {
    VMA(vmStart: at(first), vmEnd: at(first + count), vmFlags: flags, vmPgoff: at(first).vpn)
  }

  /// `vma` with an anon_vma: `chain` 1 for a faulted VMA, 2 for a fork child's.
  func faulted(_ vma: VMA, _ anonVMA: AnonVMA.ID, chain: UInt8 = 1) -> VMA {
    var v = vma
    v.anonVMA = anonVMA
    v.anonVMAChainLength = chain
    return v
  }

  var layout: [String] {
    mm.vmas.map {
      "\(($0.vmStart - Arena.start) / pageSize)-\(($0.vmEnd - Arena.start) / pageSize)"
    }
  }

  func vma(at page: UInt64) -> VMA? { mm.vmas.vma(containing: at(page)) }

  func check() throws { try world.checkInvariants() }

  // MARK: New-range merges (insertVMA)

  @Test func adjacentIdenticalRangeExtendsPrev() throws {
    world.insertVMA(mm, anon(0, 4))
    let before = world.cost
    let merged = world.insertVMA(mm, anon(4, 2))
    #expect(layout == ["0-6"])
    #expect(merged.vmStart == at(0) && merged.vmEnd == at(6) && merged.vmPgoff == at(0).vpn)
    let d = world.cost.since(before)
    #expect(d.vmaMerges == 1 && d.vmasAllocated == 0 && d.vmasFreed == 0)
    try check()
  }

  @Test func rangeBelowNextExtendsItDownwards() throws {
    world.insertVMA(mm, anon(4, 2))
    let merged = world.insertVMA(mm, anon(0, 4))
    #expect(layout == ["0-6"])
    #expect(merged.vmPgoff == at(0).vpn)
  }

  @Test func rangeFillingAGapJoinsBothNeighbours() throws {
    world.insertVMA(mm, anon(0, 2))
    world.insertVMA(mm, anon(4, 2))
    let before = world.cost
    world.insertVMA(mm, anon(2, 2))
    #expect(layout == ["0-6"])
    let d = world.cost.since(before)
    #expect(d.vmaMerges == 1 && d.vmasFreed == 1 && d.vmasAllocated == 0)
    try check()
  }

  @Test func invisibleFlagDifferencePreventsMerge() throws {
    world.insertVMA(mm, anon(0, 2))
    var ro = Self.rw
    ro.remove(.account)
    world.insertVMA(mm, anon(2, 2, flags: ro))
    #expect(layout == ["0-2", "2-4"])
    world.insertVMA(mm, anon(4, 2, flags: Self.rw.union(.dontcopy)))
    #expect(layout == ["0-2", "2-4", "4-6"])
  }

  @Test func softDirtyIsIgnoredByTheFlagComparison() {
    world.insertVMA(mm, anon(0, 2))
    world.insertVMA(mm, anon(2, 2, flags: Self.rw.union(.softdirty)))
    #expect(layout == ["0-4"])
  }

  @Test func specialVMAsNeverMerge() {
    world.insertVMA(mm, anon(0, 2, flags: Self.rw.union(.dontexpand)))
    world.insertVMA(mm, anon(2, 2, flags: Self.rw.union(.dontexpand)))
    #expect(layout == ["0-2", "2-4"])
  }

  @Test func discontiguousPgoffPreventsMerge() {
    world.insertVMA(mm, anon(0, 2))
    var moved = anon(2, 2)
    moved.vmPgoff = 12345
    world.insertVMA(mm, moved)
    #expect(layout == ["0-2", "2-4"])
  }

  @Test func differentUffdContextsDoNotMerge() {
    var a = anon(0, 2)
    a.uffd = UserfaultfdCtx.ID(rawValue: 1)
    world.insertVMA(mm, a)
    world.insertVMA(mm, anon(2, 2))
    #expect(layout == ["0-2", "2-4"])
    var b = anon(4, 2)
    b.uffd = UserfaultfdCtx.ID(rawValue: 1)
    world.insertVMA(mm, b)
    var c = anon(6, 2)
    c.uffd = UserfaultfdCtx.ID(rawValue: 1)
    world.insertVMA(mm, c)
    #expect(layout == ["0-2", "2-4", "4-8"])
  }

  @Test func shmemPiecesMergeOnlyWithinOneObjectAndContiguousOffsets() throws {
    let id1 = ShmemObject.ID(rawValue: 901)
    let id2 = ShmemObject.ID(rawValue: 902)
    world.shmemObjects[id1] = ShmemObject(sizeInPages: 8, inode: 1)
    world.shmemObjects[id2] = ShmemObject(sizeInPages: 8, inode: 2)
    let shared: VMFlags = [.read, .write, .shared, .mayRead, .mayWrite, .mayExec, .mayShare]
    func piece(_ first: UInt64, _ count: UInt64, _ id: ShmemObject.ID, pgoff: UInt64) -> VMA {
      var v = VMA(vmStart: at(first), vmEnd: at(first + count), vmFlags: shared, vmPgoff: pgoff)
      v.shmem = id
      return v
    }
    world.insertVMA(mm, piece(0, 2, id1, pgoff: 0))
    world.insertVMA(mm, piece(2, 2, id2, pgoff: 2))
    #expect(layout == ["0-2", "2-4"])
    world.insertVMA(mm, piece(4, 2, id2, pgoff: 5))
    #expect(layout == ["0-2", "2-4", "4-6"])
    world.insertVMA(mm, piece(6, 2, id2, pgoff: 7))
    #expect(layout == ["0-2", "2-4", "4-8"])
    #expect(world.shmemObjects[id2]!.vmaRefs == 2)
    #expect(world.shmemObjects[id1]!.vmaRefs == 1)
    try check()
  }

  // MARK: anon_vma rule (6.16+, fork-child refusal)

  @Test func freshRangeJoinsFaultedNeighbour() {
    let av = world.newAnonVMA()
    world.insertVMA(mm, faulted(anon(0, 2), av))
    let merged = world.insertVMA(mm, anon(2, 2))
    #expect(layout == ["0-4"])
    #expect(merged.anonVMA == av && merged.anonVMAChainLength == 1)
  }

  @Test func freshRangeDoesNotJoinForkChildNeighbour() {
    let av = world.newAnonVMA()
    world.insertVMA(mm, faulted(anon(0, 2), av, chain: 2))
    world.insertVMA(mm, anon(2, 2))
    world.insertVMA(mm, faulted(anon(6, 2), av, chain: 2))
    world.insertVMA(mm, anon(4, 2))
    #expect(layout == ["0-2", "2-6", "6-8"])
  }

  @Test func differentAnonVMAsNeverMergeAndSameOnesDo() {
    let a = world.newAnonVMA()
    let b = world.newAnonVMA()
    world.insertVMA(mm, faulted(anon(0, 2), a))
    world.insertVMA(mm, faulted(anon(2, 2), b))
    #expect(layout == ["0-2", "2-4"])
    world.insertVMA(mm, faulted(anon(4, 2), b))
    #expect(layout == ["0-2", "2-6"])
  }

  @Test func copiedFaultedRangeGivesItsAnonVMAToAnUnfaultedNeighbour() {
    let av = world.newAnonVMA()
    world.insertVMA(mm, anon(0, 2))
    let merged = world.insertVMA(mm, faulted(anon(2, 2), av))
    #expect(layout == ["0-4"])
    #expect(merged.anonVMA == av && merged.anonVMAChainLength == 1)
  }

  @Test func copyOfAForkChildVMARefusesAnUnfaultedNeighbour() {
    let av = world.newAnonVMA()
    let source = faulted(anon(20, 2), av, chain: 2)
    world.insertVMA(mm, anon(0, 2))
    var copy = source
    copy.vmStart = at(2)
    copy.vmEnd = at(4)
    copy.vmPgoff = at(2).vpn
    world.insertVMA(mm, copy, copiedFrom: source)
    #expect(layout == ["0-2", "2-4"])
  }

  @Test func forkChildGrowingInPlaceStillAbsorbsAnUnfaultedNext() {
    let av = world.newAnonVMA()
    let grown = world.insertVMA(mm, faulted(anon(0, 2), av, chain: 2))
    world.insertVMA(mm, anon(3, 2))
    var growth = grown
    growth.vmStart = at(2)
    growth.vmEnd = at(3)
    growth.vmPgoff = at(2).vpn
    let merged = world.insertVMA(mm, growth)
    #expect(layout == ["0-5"])
    #expect(merged.anonVMA == av && merged.anonVMAChainLength == 2)
  }

  @Test func copyOfAForkChildVMAStillJoinsPiecesOfItsOwnAnonVMA() {
    let av = world.newAnonVMA()
    world.insertVMA(mm, faulted(anon(0, 2), av, chain: 2))
    world.insertVMA(mm, faulted(anon(2, 2), av, chain: 2))
    #expect(layout == ["0-4"])
  }

  @Test func threeWayMergeNeedsPrevAndNextCompatibleWithEachOther() {
    let a = world.newAnonVMA()
    let b = world.newAnonVMA()
    world.insertVMA(mm, faulted(anon(0, 2), a))
    world.insertVMA(mm, faulted(anon(4, 2), b))
    let merged = world.insertVMA(mm, anon(2, 2))
    #expect(layout == ["0-4", "4-6"])
    #expect(merged.anonVMA == a)
  }

  @Test func threeWayMergeWithOneFaultedSideTakesItsAnonVMA() throws {
    let b = world.newAnonVMA()
    world.insertVMA(mm, anon(0, 2))
    world.insertVMA(mm, faulted(anon(4, 2), b))
    let merged = world.insertVMA(mm, anon(2, 2))
    #expect(layout == ["0-6"])
    #expect(merged.anonVMA == b && merged.anonVMAChainLength == 1)
    try check()
  }

  // MARK: Split

  @Test func splitCarriesPgoffAndSharesAnonVMA() throws {
    let av = world.newAnonVMA()
    world.insertVMA(mm, faulted(anon(0, 8), av))
    let before = world.cost
    try world.splitVMA(mm, at: at(3))
    #expect(layout == ["0-3", "3-8"])
    let lower = vma(at: 0)!
    let upper = vma(at: 3)!
    #expect(lower.vmPgoff == at(0).vpn && upper.vmPgoff == at(3).vpn)
    #expect(lower.anonVMA == av && upper.anonVMA == av)
    #expect(lower.anonVMAChainLength == 1 && upper.anonVMAChainLength == 1)
    #expect(lower.vmFlags == upper.vmFlags)
    let d = world.cost.since(before)
    #expect(d.vmaSplits == 1 && d.vmasAllocated == 1)
    try check()
  }

  @Test func splitOfAMovedVMACarriesItsOwnPgoff() throws {
    var moved = anon(10, 4)
    moved.vmPgoff = 7
    world.insertVMA(mm, moved)
    try world.splitVMA(mm, at: at(12))
    #expect(vma(at: 12)!.vmPgoff == 9)
    #expect(vma(at: 10)!.vmPgoff == 7)
  }

  @Test func splitOfSharedAnonTakesAShmemReference() throws {
    let id = ShmemObject.ID(rawValue: 77)
    world.shmemObjects[id] = ShmemObject(sizeInPages: 4, inode: 9)
    var v = VMA(
      vmStart: at(0), vmEnd: at(4),
      vmFlags: [.read, .write, .shared, .mayShare, .mayRead, .mayWrite],
      vmPgoff: 0)
    v.shmem = id
    world.insertVMA(mm, v)
    #expect(world.shmemObjects[id]!.vmaRefs == 1)
    try world.splitVMA(mm, at: at(1))
    #expect(world.shmemObjects[id]!.vmaRefs == 2)
    #expect(vma(at: 1)!.vmPgoff == 1)
    try check()
  }

  @Test func splitAtABoundaryOrInAHoleDoesNothing() throws {
    world.insertVMA(mm, anon(0, 4))
    try world.splitVMA(mm, at: at(0))
    try world.splitVMA(mm, at: at(4))
    try world.splitVMA(mm, at: at(9))
    #expect(layout == ["0-4"])
    #expect(world.cost.vmaSplits == 0)
  }

  @Test func splitAtMaxMapCountFailsWithENOMEM() throws {
    world.maxMapCount = 1
    world.insertVMA(mm, anon(0, 4))
    expectErrno(.ENOMEM) { () throws(KernelError) in try world.splitVMA(mm, at: at(2)) }
    #expect(layout == ["0-4"])
    try world.splitVMA(mm, at: at(2), checkMapCount: false)
    #expect(layout == ["0-2", "2-4"])
  }

  // MARK: vma_modify

  static func setDontcopy(_ vma: inout VMA) { vma.vmFlags.insert(.dontcopy) }
  static func clearDontcopy(_ vma: inout VMA) { vma.vmFlags.remove(.dontcopy) }

  @Test func modifyingTheMiddleSplitsIntoThreeAndUndoingRemerges() throws {
    world.insertVMA(mm, anon(0, 6))
    let before = world.cost
    let middle = try world.vmaModify(mm, at(2), at(4), Self.setDontcopy)
    #expect(layout == ["0-2", "2-4", "4-6"])
    #expect(middle.vmFlags.contains(.dontcopy) && middle.vmPgoff == at(2).vpn)
    #expect(!vma(at: 0)!.vmFlags.contains(.dontcopy) && !vma(at: 4)!.vmFlags.contains(.dontcopy))
    var d = world.cost.since(before)
    #expect(d.vmaSplits == 2 && d.vmasAllocated == 2 && d.vmaMerges == 0)
    let back = world.cost
    let merged = try world.vmaModify(mm, at(2), at(4), Self.clearDontcopy)
    #expect(layout == ["0-6"])
    #expect(merged.vmStart == at(0) && merged.vmEnd == at(6) && merged.vmPgoff == at(0).vpn)
    d = world.cost.since(back)
    #expect(d.vmaMerges == 1 && d.vmasFreed == 2 && d.vmaSplits == 0)
    try check()
  }

  @Test func modifyingWithNoChangeDoesNothing() throws {
    world.insertVMA(mm, anon(0, 6))
    try world.vmaModify(mm, at(2), at(4)) { $0.vmFlags.insert(.read) }
    #expect(layout == ["0-6"])
    #expect(world.cost.vmaSplits == 0)
  }

  @Test func modifyingAHeadMergesIntoACompatiblePrevWithoutSplitting() throws {
    world.insertVMA(mm, anon(0, 2, flags: Self.rw.union(.dontcopy)))
    world.insertVMA(mm, anon(2, 4))
    let before = world.cost
    let merged = try world.vmaModify(mm, at(2), at(3), Self.setDontcopy)
    #expect(layout == ["0-3", "3-6"])
    #expect(merged.vmEnd == at(3))
    #expect(vma(at: 3)!.vmPgoff == at(3).vpn)
    let d = world.cost.since(before)
    #expect(d.vmaSplits == 0 && d.vmasAllocated == 0 && d.vmaMerges == 1)
    try check()
  }

  @Test func modifyingATailMergesIntoACompatibleNext() throws {
    world.insertVMA(mm, anon(0, 4))
    world.insertVMA(mm, anon(4, 2, flags: Self.rw.union(.dontcopy)))
    let merged = try world.vmaModify(mm, at(3), at(4), Self.setDontcopy)
    #expect(layout == ["0-3", "3-6"])
    #expect(merged.vmStart == at(3) && merged.vmPgoff == at(3).vpn)
  }

  @Test func unfaultedPieceMergingIntoFaultedPrevKeepsPrevsAnonVMA() throws {
    let av = world.newAnonVMA()
    world.insertVMA(mm, faulted(anon(0, 2, flags: Self.rw.union(.dontcopy)), av))
    world.insertVMA(mm, anon(2, 2))
    let merged = try world.vmaModify(mm, at(2), at(4), Self.setDontcopy)
    #expect(layout == ["0-4"])
    #expect(merged.anonVMA == av)
  }

  @Test func faultedPieceGivesItsAnonVMAToAnUnfaultedPrev() throws {
    let av = world.newAnonVMA()
    world.insertVMA(mm, anon(0, 2, flags: Self.rw.union(.dontcopy)))
    world.insertVMA(mm, faulted(anon(2, 2), av))
    let merged = try world.vmaModify(mm, at(2), at(4), Self.setDontcopy)
    #expect(layout == ["0-4"])
    #expect(merged.anonVMA == av && merged.anonVMAChainLength == 1)
  }

  @Test func forkChildNeverMergesFaultedWithUnfaulted() throws {
    let av = world.newAnonVMA()
    world.insertVMA(mm, anon(0, 2, flags: Self.rw.union(.dontcopy)))
    world.insertVMA(mm, faulted(anon(2, 2), av, chain: 2))
    try world.vmaModify(mm, at(2), at(4), Self.setDontcopy)
    #expect(layout == ["0-2", "2-4"])
    world.insertVMA(mm, faulted(anon(4, 2, flags: Self.rw.union(.dontcopy)), av, chain: 2))
    world.insertVMA(mm, anon(6, 2))
    try world.vmaModify(mm, at(6), at(8), Self.setDontcopy)
    #expect(layout == ["0-2", "2-6", "6-8"])
  }

  @Test func wholeVMAChangeMergesBothSidesOnlyIfTheyAgreeWithEachOther() throws {
    let a = world.newAnonVMA()
    let b = world.newAnonVMA()
    let dc = Self.rw.union(.dontcopy)
    world.insertVMA(mm, faulted(anon(0, 2, flags: dc), a))
    world.insertVMA(mm, anon(2, 2))
    world.insertVMA(mm, faulted(anon(4, 2, flags: dc), b))
    let merged = try world.vmaModify(mm, at(2), at(4), Self.setDontcopy)
    #expect(layout == ["0-4", "4-6"])
    #expect(merged.anonVMA == a)
    try check()
  }

  @Test func secondSplitFailureKeepsTheFirstSplitAndOldFlags() throws {
    world.insertVMA(mm, anon(0, 6))
    world.maxMapCount = 2
    expectErrno(.ENOMEM) { () throws(KernelError) in
      try world.vmaModify(mm, at(2), at(4), Self.setDontcopy)
    }
    #expect(layout == ["0-2", "2-6"])
    #expect(mm.vmas.allSatisfy { !$0.vmFlags.contains(.dontcopy) })
  }

  @Test func firstSplitFailureChangesNothing() throws {
    world.insertVMA(mm, anon(0, 6))
    world.maxMapCount = 1
    expectErrno(.ENOMEM) { () throws(KernelError) in
      try world.vmaModify(mm, at(2), at(4), Self.setDontcopy)
    }
    #expect(layout == ["0-6"])
  }

  @Test func modifyingTheUffdContextSplitsAndMerges() throws {
    world.insertVMA(mm, anon(0, 6))
    let ctx = UserfaultfdCtx.ID(rawValue: 3)
    let registered = try world.vmaModify(mm, at(2), at(4)) {
      $0.uffd = ctx
      $0.vmFlags.insert(.uffdMissing)
    }
    #expect(registered.uffd == ctx)
    #expect(layout == ["0-2", "2-4", "4-6"])
    try world.vmaModify(mm, at(2), at(4)) {
      $0.uffd = nil
      $0.vmFlags.remove(.uffdMissing)
    }
    #expect(layout == ["0-6"])
  }

  // MARK: unmapRange

  /// Maps a fresh exclusive page at page `n` of the arena (as a write fault would).
  func populate(_ n: UInt64) -> PFN {
    let pfn = world.allocFolio()
    world.withFolio(pfn) {
      $0.mapcount = 1
      $0.flags.insert(.anonExclusive)
    }
    mm.pageTable.set(at(n), .page(pfn, writable: true, dirty: true))
    return pfn
  }

  @Test func unmappingAnInteriorRangeSplitsAndFreesItsPages() throws {
    let av = world.newAnonVMA()
    world.insertVMA(mm, faulted(anon(0, 6), av))
    let kept = populate(0)
    _ = populate(3)
    let before = world.cost
    try world.unmapRange(mm, at(2), at(4))
    #expect(layout == ["0-2", "4-6"])
    #expect(vma(at: 4)!.vmPgoff == at(4).vpn)
    #expect(mm.pageTable[at(3)] == .none)
    #expect(mm.pageTable[at(0)].pfn == kept)
    let d = world.cost.since(before)
    #expect(d.vmaSplits == 2 && d.vmasFreed == 1 && d.pagesFreed == 1 && d.tlbFlushRanges == 1)
    try check()
  }

  @Test func unmappingAcrossVMAsAndHolesRemovesEverythingInRange() throws {
    world.insertVMA(mm, anon(0, 4))
    world.insertVMA(mm, anon(6, 2, flags: Self.rw.union(.dontcopy)))
    world.insertVMA(mm, anon(10, 4))
    try world.unmapRange(mm, at(2), at(12))
    #expect(layout == ["0-2", "12-14"])
    try check()
  }

  @Test func unmappingNothingSucceeds() throws {
    world.insertVMA(mm, anon(0, 4))
    try world.unmapRange(mm, at(8), at(12))
    #expect(layout == ["0-4"])
  }

  @Test func interiorUnmapAtTheLimitFailsWithoutChange() throws {
    world.insertVMA(mm, anon(0, 6))
    world.maxMapCount = 1
    expectErrno(.ENOMEM) { () throws(KernelError) in try world.unmapRange(mm, at(2), at(4)) }
    #expect(layout == ["0-6"])
    try world.unmapRange(mm, at(4), at(6))
    try world.unmapRange(mm, at(0), at(1))
    #expect(layout == ["1-4"])
  }

  @Test func unmappingSharedAnonDropsItsReferenceAndFreesTheObjectLast() throws {
    let id = ShmemObject.ID(rawValue: 5)
    world.shmemObjects[id] = ShmemObject(sizeInPages: 4, inode: 3)
    var v = VMA(
      vmStart: at(0), vmEnd: at(4),
      vmFlags: [.read, .write, .shared, .mayShare, .mayRead, .mayWrite],
      vmPgoff: 0)
    v.shmem = id
    world.insertVMA(mm, v)
    try world.unmapRange(mm, at(1), at(2))
    #expect(world.shmemObjects[id]!.vmaRefs == 2)
    try world.unmapRange(mm, at(0), at(4))
    #expect(world.shmemObjects[id] == nil)
    try check()
  }

  // MARK: unmappedArea

  @Test func emptyArenaPlacesAtTheTop() {
    #expect(world.unmappedArea(mm, length: pages(4)) == Arena.end - pages(4))
  }

  @Test func successivePlacementsStackDownward() {
    let a = world.unmappedArea(mm, length: pages(4))!
    world.insertVMA(mm, VMA(vmStart: a, vmEnd: a + pages(4), vmFlags: Self.rw, vmPgoff: a.vpn))
    let b = world.unmappedArea(mm, length: pages(2))!
    #expect(b == a - pages(2))
  }

  @Test func freedGapIsReusedFromItsTopAndTooBigRequestsGoBelow() {
    world.insertVMA(
      mm,
      VMA(vmStart: Arena.end - pages(10), vmEnd: Arena.end - pages(8), vmFlags: Self.rw, vmPgoff: 1)
    )
    world.insertVMA(
      mm, VMA(vmStart: Arena.end - pages(4), vmEnd: Arena.end, vmFlags: Self.rw, vmPgoff: 99))
    #expect(world.unmappedArea(mm, length: pages(3)) == Arena.end - pages(7))
    #expect(world.unmappedArea(mm, length: pages(4)) == Arena.end - pages(8))
    #expect(world.unmappedArea(mm, length: pages(5)) == Arena.end - pages(15))
  }

  @Test func twoMiBMultiplesAreTHPAligned() {
    world.insertVMA(
      mm, VMA(vmStart: Arena.end - pages(3), vmEnd: Arena.end, vmFlags: Self.rw, vmPgoff: 1))
    let a = world.unmappedArea(mm, length: pmdSize)!
    #expect(a.rawValue % pmdSize == 0)
    #expect(a == Arena.end - 2 * pmdSize)
    let odd = world.unmappedArea(mm, length: pmdSize + pageSize)!
    #expect(odd == Arena.end - pages(3) - pmdSize - pageSize)
    #expect(
      world.unmappedArea(mm, length: pmdSize, alignForTHP: false) == Arena.end - pages(3) - pmdSize)
  }

  @Test func mappingsOutsideTheArenaAreIgnoredAndAFullArenaFails() {
    world.insertVMA(
      mm, VMA(vmStart: Arena.end, vmEnd: Arena.end + pages(4), vmFlags: Self.rw, vmPgoff: 1))
    #expect(world.unmappedArea(mm, length: pages(1)) == Arena.end - pages(1))
    world.insertVMA(mm, VMA(vmStart: Arena.start, vmEnd: Arena.end, vmFlags: [.read], vmPgoff: 5))
    #expect(world.unmappedArea(mm, length: pages(1)) == nil)
    #expect(world.unmappedArea(mm, length: Arena.end - Arena.start + pageSize) == nil)
  }

  /// The chunked gap search agrees with a plain walk over every VMA, across chunk
  /// boundaries, with VMAs straddling the window, after removals and in-place changes.
  @Test func gapSearchMatchesABruteForceWalk() {
    var rng = SystemRandomNumberGenerator()
    var tree = VMATree()
    var cursor = Arena.start - pages(40)
    for _ in 0..<900 {
      cursor += pages(UInt64.random(in: 0...6, using: &rng))
      let len = pages(UInt64.random(in: 1...3, using: &rng))
      tree.insert(VMA(vmStart: cursor, vmEnd: cursor + len, vmFlags: [.read], vmPgoff: 0))
      cursor += len
    }
    for _ in 0..<100 {
      let victim = tree.vmas(intersecting: Arena.start, Arena.end).randomElement(using: &rng)!
      tree.remove(startingAt: victim.vmStart)
    }
    let shrink = tree.vmas(intersecting: Arena.start, Arena.end)[10]
    tree.update(startingAt: shrink.vmStart) { $0.vmEnd = $0.vmStart + pageSize }
    func bruteForce(_ size: UInt64, _ low: VirtAddr, _ high: VirtAddr) -> VirtAddr? {
      var top = high
      for vma in tree.reversed() where vma.vmStart < top {
        if vma.vmEnd <= low { break }
        if top > vma.vmEnd && top - vma.vmEnd >= size { return top }
        top = min(top, vma.vmStart)
      }
      return top > low && top - low >= size ? top : nil
    }
    let high = cursor - pages(30)
    for size in (1...40).map({ pages($0) }) {
      #expect(
        tree.highestGapTop(fitting: size, low: Arena.start, high: high)
          == bruteForce(size, Arena.start, high))
      #expect(
        tree.highestGapTop(fitting: size, low: Arena.start + pages(500), high: cursor)
          == bruteForce(size, Arena.start + pages(500), cursor))
    }
  }
}
