import MopsABI
import Testing

@testable import MopsEngine

/// munmap: every errno row of spec vma-mmap-mremap §3 and its effects.
@Suite struct MunmapTests: FirstProcessSuite {
  let world = World(checksInvariants: true)

  func unmap(_ addr: VirtAddr, _ length: UInt64) throws {
    try world.munmap(pid, addr: addr, length: length)
  }

  @Test func unknownPidFailsWithESRCH() {
    expectFailure(.ESRCH) { try world.munmap(PID(7), addr: page(0), length: pages(1)) }
  }

  @Test func unalignedStartFailsWithEINVAL() throws {
    try map(0, 2)
    expectFailure(.EINVAL) { try unmap(page(0) + 1, pages(1)) }
    expectFailure(.EINVAL) { try unmap(page(0) + 1, 0) }
    #expect(mm.mapCount == 1)
  }

  @Test func rangeBeyondTaskSizeFailsWithEINVAL() {
    expectFailure(.EINVAL) { try unmap(VirtAddr(taskSize + pageSize), pages(1)) }
    expectFailure(.EINVAL) { try unmap(page(0), taskSize) }
    expectFailure(.EINVAL) { try unmap(page(0), UInt64.max) }
  }

  @Test func zeroLengthFailsWithEINVAL() {
    expectFailure(.EINVAL) { try unmap(page(0), 0) }
  }

  @Test func interiorRangeAtTheLimitFailsWithENOMEMAndChangesNothing() throws {
    try map(0, 6)
    let pfn = world.writePage(pid, page(3))
    world.maxMapCount = 1
    expectFailure(.ENOMEM) { try unmap(page(2), pages(2)) }
    #expect(world.layout(pid) == ["0-6:rw-p:ac"])
    #expect(mm.pageTable[page(3)].pfn == pfn)
  }

  @Test func trimmingAHeadOrTailIsAllowedAtTheLimit() throws {
    try map(0, 6)
    world.maxMapCount = 1
    try unmap(page(4), pages(2))
    try unmap(page(0), pages(1))
    #expect(world.layout(pid) == ["1-4:rw-p:ac"])
  }

  @Test func unmappingNothingSucceedsAndChangesNothing() throws {
    try map(0, 2)
    try unmap(page(10), pages(5))
    #expect(world.layout(pid) == ["0-2:rw-p:ac"])
  }

  @Test func lengthIsRoundedUpToWholePages() throws {
    try map(0, 3)
    try unmap(page(1), 1)
    #expect(world.layout(pid) == ["0-1:rw-p:ac", "2-3:rw-p:ac"])
  }

  @Test func rangeMaySpanVMAsAndHoles() throws {
    try map(0, 3)
    try map(4, 2, .read)
    try map(8, 4)
    try unmap(page(1), pages(9))
    #expect(world.layout(pid) == ["0-1:rw-p:ac", "10-12:rw-p:ac"])
  }

  @Test func pagesAreFreedAndSurvivorsKeepTheirFrames() throws {
    try map(0, 4)
    let keep = world.writePage(pid, page(0))
    world.writePage(pid, page(1))
    let keep3 = world.writePage(pid, page(3))
    let before = world.cost
    try unmap(page(1), pages(2))
    #expect(mm.pageTable[page(0)].pfn == keep && mm.pageTable[page(3)].pfn == keep3)
    #expect(mm.pageTable[page(1)] == .none)
    #expect(world.mmOf(pid).vmas.vma(containing: page(3))!.vmPgoff == page(3).vpn)
    let d = world.cost.since(before)
    #expect(d.pagesFreed == 1 && d.ptesChanged == 1 && d.tlbFlushRanges == 1)
    #expect(d.vmaSplits == 2 && d.vmasFreed == 1)
  }

  @Test func zeroPagePTEsAreClearedWithoutFreeingAnything() throws {
    try map(0, 2, .read)
    world.readZeroPage(pid, page(0))
    let before = world.cost
    try unmap(page(0), pages(2))
    #expect(mm.pageTable.used == 0 && world.cost.since(before).pagesFreed == 0)
  }

  @Test func sharedObjectOutlivesPartialUnmapsAndDiesWithTheLast() throws {
    try map(0, 4, .readWrite, [.shared, .anonymous, .fixed])
    let id = mm.vmas.first!.shmem!
    let pfn = world.touchShared(pid, page(0))
    world.touchShared(pid, page(3))
    try unmap(page(0), pages(1))
    #expect(world.shmemObjects[id]!.pages[0] == pfn)
    #expect(world.folio(pfn).isInUse)
    try unmap(page(1), pages(3))
    #expect(world.shmemObjects[id] == nil)
    #expect(!world.folio(pfn).isInUse)
  }
}

/// munmap on the three scenarios: a page is freed only with its last mapping.
@Suite struct MunmapScenarioTests {
  @Test(arguments: Scenario.allCases)
  func unmappedPagesAreFreedOnlyWhenNoOtherProcessMapsThem(_ scenario: Scenario) throws {
    let (world, pid) = try scenario.world { w, pid in
      let b = RemapBench(w, pid)
      try b.map(0, 4)
      for n: UInt64 in 0..<4 { b.write(n) }
    }
    let b = RemapBench(world, pid)
    let frames = (0..<4).map { b.pte($0).pfn }
    try world.munmap(pid, addr: b.page(1), length: pages(2))
    #expect(b.layout == ["0-1:rw-p:ac", "3-4:rw-p:ac"])
    #expect(b.pte(0).pfn == frames[0] && b.pte(3).pfn == frames[3])
    #expect(world.folio(frames[1]).isInUse == (scenario == .afterFork))
    if scenario == .afterFork {
      #expect(world.folio(frames[1]).mapcount == 1)
    }
  }
}
