import MopsABI
import Testing

@testable import MopsEngine

/// mprotect: every errno row of spec vma-mmap-mremap §4 in order, the walk over holes,
/// VM_ACCOUNT rules, split/merge, and what happens to the PTEs (spec fork-cow-madvise
/// §3.4).
@Suite struct MprotectTests: FirstProcessSuite {
  let world = World(checksInvariants: true)

  func protect(_ first: UInt64, _ count: UInt64, _ prot: Prot) throws {
    try world.mprotect(pid, addr: page(first), length: pages(count), prot: prot)
  }

  // MARK: Errors in check order

  @Test func unknownPidFailsWithESRCH() {
    expectFailure(.ESRCH) { try world.mprotect(PID(3), addr: page(0), length: 1, prot: .read) }
  }

  @Test func growsDownAndUpTogetherFailWithEINVALBeforeAlignment() {
    expectFailure(.EINVAL) {
      try world.mprotect(pid, addr: page(0) + 1, length: 0, prot: [.read, .growsdown, .growsup])
    }
  }

  @Test func unalignedStartFailsWithEINVALEvenForZeroLength() {
    expectFailure(.EINVAL) { try world.mprotect(pid, addr: page(0) + 8, length: 0, prot: .read) }
  }

  @Test func zeroLengthSucceedsWithoutLookingAtTheRange() throws {
    try world.mprotect(pid, addr: page(0), length: 0, prot: Prot(rawValue: 0x40))
  }

  @Test func overflowingEndFailsWithENOMEMBeforeTheProtCheck() {
    expectFailure(.ENOMEM) {
      try world.mprotect(
        pid, addr: VirtAddr(UInt64.max - pageSize + 1), length: pageSize, prot: Prot(rawValue: 0x40)
      )
    }
    expectFailure(.ENOMEM) {
      try world.mprotect(pid, addr: page(0), length: UInt64.max, prot: .read)
    }
  }

  @Test func unknownProtBitsFailWithEINVALButSemIsAccepted() throws {
    try map(0, 1)
    expectFailure(.EINVAL) { try protect(0, 1, Prot(rawValue: 0x10)) }
    expectFailure(.EINVAL) { try protect(9, 1, Prot(rawValue: 0x10)) }
    try protect(0, 1, [.read, .sem])
    #expect(world.layout(pid) == ["0-1:r--p"])
  }

  @Test func unmappedStartFailsWithENOMEM() throws {
    expectFailure(.ENOMEM) { try protect(0, 1, .read) }
    try map(2, 2)
    expectFailure(.ENOMEM) { try protect(1, 2, .read) }
    expectFailure(.ENOMEM) { try protect(4, 2, .read) }
    #expect(world.layout(pid) == ["2-4:rw-p:ac"])
  }

  @Test func growsFlagsFailWithEINVALOnOrdinaryVMAs() throws {
    try map(2, 2)
    expectFailure(.EINVAL) { try protect(3, 1, [.read, .growsdown]) }
    expectFailure(.EINVAL) { try protect(2, 1, [.read, .growsup]) }
    expectFailure(.ENOMEM) { try protect(0, 1, [.read, .growsdown]) }
    #expect(world.layout(pid) == ["2-4:rw-p:ac"])
  }

  @Test func holeStopsTheWalkWithENOMEMKeepingEarlierChanges() throws {
    try map(10, 4)
    try map(15, 2)
    expectFailure(.ENOMEM) { try protect(11, 6, .read) }
    #expect(world.layout(pid) == ["10-11:rw-p:ac", "11-14:r--p", "15-17:rw-p:ac"])
  }

  @Test func trailingHoleFailsWithENOMEMAfterChangingTheMappedPart() throws {
    try map(0, 2)
    expectFailure(.ENOMEM) { try protect(0, 4, .read) }
    #expect(world.layout(pid) == ["0-2:r--p"])
  }

  @Test func protectionBeyondVMMayFailsWithEACCESKeepingEarlierChanges() throws {
    try map(0, 2)
    world.insertVMA(
      mm, VMA(vmStart: page(2), vmEnd: page(4), vmFlags: [.read, .mayRead], vmPgoff: 123))
    expectFailure(.EACCES) { try protect(0, 4, [.read, .exec]) }
    #expect(world.layout(pid) == ["0-2:r-xp", "2-4:r--p"])
    try protect(2, 2, .read)
    expectFailure(.EACCES) { try protect(2, 1, .readWrite) }
    #expect(world.layout(pid) == ["0-2:r-xp", "2-4:r--p"])
  }

  @Test func secondSplitFailureAtTheLimitKeepsTheFirstSplitAndTheOldProtection() throws {
    try map(0, 6)
    world.maxMapCount = 2
    expectFailure(.ENOMEM) { try protect(2, 2, .read) }
    #expect(world.layout(pid) == ["0-2:rw-p:ac", "2-6:rw-p:ac"])
  }

  // MARK: Split, merge and VM_ACCOUNT

  @Test func middlePageSplitsIntoThreeAndRestoringRemerges() throws {
    try map(0, 6)
    try protect(2, 1, .read)
    #expect(world.layout(pid) == ["0-2:rw-p:ac", "2-3:r--p", "3-6:rw-p:ac"])
    try protect(2, 1, .readWrite)
    #expect(world.layout(pid) == ["0-6:rw-p:ac"])
  }

  @Test func faultedRegionRemergesToo() throws {
    try map(0, 6)
    world.writePage(pid, page(0))
    try protect(2, 1, .read)
    #expect(world.layout(pid) == ["0-2:rw-p:ac", "2-3:r--p:ac", "3-6:rw-p:ac"])
    try protect(2, 1, .readWrite)
    #expect(world.layout(pid) == ["0-6:rw-p:ac"])
  }

  @Test func faultedReadOnlyKeepsAccountAndDoesNotMergeWithAReadOnlyMapping() throws {
    try map(0, 2)
    world.writePage(pid, page(0))
    try protect(0, 2, .read)
    try map(2, 2, .read)
    #expect(world.layout(pid) == ["0-2:r--p:ac", "2-4:r--p"])
  }

  @Test func unfaultedReadOnlyDropsAccountAndMergesWithAReadOnlyMapping() throws {
    try map(0, 2)
    try protect(0, 2, .read)
    try map(2, 2, .read)
    #expect(world.layout(pid) == ["0-4:r--p"])
  }

  @Test func becomingWritableChargesUnlessNoreserveOrShared() throws {
    try map(0, 2, .read)
    try protect(0, 2, .readWrite)
    try map(4, 2, .read, [.private, .anonymous, .fixed, .noreserve])
    try protect(4, 2, .readWrite)
    try map(8, 2, .read, [.shared, .anonymous, .fixed])
    try protect(8, 2, .readWrite)
    #expect(world.layout(pid) == ["0-2:rw-p:ac", "4-6:rw-p:nr", "8-10:rw-s"])
  }

  @Test func sameProtectionIsANoOp() throws {
    try map(0, 6)
    let before = world.cost
    try protect(2, 2, .readWrite)
    #expect(world.layout(pid) == ["0-6:rw-p:ac"])
    #expect(world.cost.since(before) == CostCounters())
  }

  // MARK: PTEs

  @Test func readOnlyWriteProtectsPresentPTEs() throws {
    try map(0, 3)
    let pfn = world.writePage(pid, page(1))
    world.readZeroPage(pid, page(2))
    let before = world.cost
    try protect(0, 3, .read)
    #expect(mm.pageTable[page(1)] == .page(pfn, writable: false, dirty: true))
    #expect(mm.pageTable[page(2)] == .zeroPage)
    let d = world.cost.since(before)
    #expect(d.ptesChanged == 1 && d.tlbFlushRanges == 1)
  }

  @Test func writableAgainOnlyForAnonExclusivePagesNeverTheZeroPage() throws {
    try map(0, 3)
    let exclusive = world.writePage(pid, page(0))
    let shared = world.writePage(pid, page(1))
    world.readZeroPage(pid, page(2))
    try protect(0, 3, .read)
    _ = world.withFolio(shared) { $0.flags.remove(.anonExclusive) }
    try protect(0, 3, .readWrite)
    #expect(mm.pageTable[page(0)] == .page(exclusive, writable: true, dirty: true))
    #expect(mm.pageTable[page(1)] == .page(shared, writable: false, dirty: true))
    #expect(mm.pageTable[page(2)] == .zeroPage)
  }

  @Test func sharedMappingPTEsBecomeWritableAgain() throws {
    try map(0, 2, .readWrite, [.shared, .anonymous, .fixed])
    let pfn = world.touchShared(pid, page(0))
    try protect(0, 2, .read)
    #expect(!mm.pageTable[page(0)].isWritable)
    try protect(0, 2, .readWrite)
    #expect(mm.pageTable[page(0)] == .page(pfn, writable: true, dirty: true))
  }

  @Test func addingExecKeepsWritableExclusivePTEs() throws {
    try map(0, 1)
    let pfn = world.writePage(pid, page(0))
    let before = world.cost
    try protect(0, 1, [.read, .write, .exec])
    #expect(mm.pageTable[page(0)] == .page(pfn, writable: true, dirty: true))
    #expect(world.cost.since(before).ptesChanged == 0)
  }
}

/// mprotect on the three scenarios: what a write upgrade does depends on PAE, which
/// fork clears for good (spec fork-cow-madvise §3.4).
@Suite struct MprotectScenarioTests {
  @Test(arguments: Scenario.allCases)
  func readOnlyThenWritableUpgradesOnlyNeverSharedPages(_ scenario: Scenario) throws {
    let (world, pid) = try scenario.world { w, pid in
      let b = RemapBench(w, pid)
      try b.map(0, 2)
      b.write(0, 0x61)
    }
    let b = RemapBench(world, pid)
    let pfn = b.pte(0).pfn
    try world.mprotect(pid, addr: b.page(0), length: pages(2), prot: .read)
    #expect(b.pte(0) == .page(pfn, writable: false, dirty: true))
    try world.mprotect(pid, addr: b.page(0), length: pages(2), prot: .readWrite)
    #expect(b.layout == ["0-2:rw-p:ac"])
    #expect(b.pte(0).isWritable == (scenario == .fresh))
    let faults = world.cost.faults
    b.write(0, 0x62)
    #expect(world.cost.faults - faults == (scenario == .fresh ? 0 : 1))
    #expect(b.pte(0).pfn == pfn || scenario == .afterFork)
  }

  @Test func forkChildPiecesOfOneVMAStillSplitAndRemerge() throws {
    let parent = RemapBench()
    try parent.map(0, 4)
    parent.write(0)
    let child = RemapBench(parent.world, try parent.world.fork(parent.pid))
    try parent.world.mprotect(child.pid, addr: child.page(1), length: pages(1), prot: .read)
    #expect(child.layout == ["0-1:rw-p:ac", "1-2:r--p:ac", "2-4:rw-p:ac"])
    try parent.world.mprotect(child.pid, addr: child.page(1), length: pages(1), prot: .readWrite)
    #expect(child.layout == ["0-4:rw-p:ac"])
  }
}
