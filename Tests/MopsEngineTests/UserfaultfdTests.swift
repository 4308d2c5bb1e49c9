import MopsABI
import Testing

@testable import MopsEngine

/// userfaultfd(2), UFFDIO_API, UFFDIO_REGISTER, UFFDIO_UNREGISTER and close
/// (Ops/userfaultfd.swift): spec uffd-move §2.1–§2.3 and the live-kernel probes noted
/// on each test.
@Suite struct UserfaultfdTests {
  /// A world whose pid 1 maps `count` private anon pages at arena page 0 and holds an
  /// initialised uffd.
  func setUp(count: UInt64 = 8) throws -> (World, PID, UserfaultfdCtx.ID) {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: count)
    let uffd = try world.userfaultfd(pid, flags: 0)
    _ = try world.uffdioAPI(pid, uffd, api: 0xAA, features: [])
    return (world, pid, uffd)
  }

  // MARK: userfaultfd(2)

  @Test(arguments: [
    Int32(0), UserfaultfdCtx.O_CLOEXEC, UserfaultfdCtx.O_NONBLOCK, UserfaultfdCtx.UFFD_USER_MODE_ONLY,
    UserfaultfdCtx.O_CLOEXEC | UserfaultfdCtx.O_NONBLOCK | UserfaultfdCtx.UFFD_USER_MODE_ONLY,
  ])
  func creationAcceptsCloexecNonblockAndUserModeOnly(_ flags: Int32) throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    let uffd = try world.userfaultfd(pid, flags: flags)
    let ctx = try #require(world.uffds[uffd])
    #expect(ctx.mm == pid && ctx.flags == flags && ctx.holders == [pid] && !ctx.initialized)
    #expect(world.processes[pid]!.uffds == [uffd])
  }

  @Test(arguments: [Int32(8), 2, 0o100, -1])
  func creationWithAnUnknownFlagFailsWithEINVAL(_ flags: Int32) {
    let world = World(checksInvariants: true)
    expectFailure(.EINVAL) { _ = try world.userfaultfd(world.initialPID, flags: flags) }
    #expect(world.uffds.isEmpty)
  }

  @Test func creationByAnUnknownProcessFailsWithESRCH() {
    let world = World(checksInvariants: true)
    expectFailure(.ESRCH) { _ = try world.userfaultfd(PID(42), flags: 0) }
  }

  // MARK: UFFDIO_API

  @Test func apiReturnsEverySupportedFeatureWhateverWasAsked() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    let uffd = try world.userfaultfd(pid, flags: 0)
    let features = try world.uffdioAPI(pid, uffd, api: 0xAA, features: [])
    #expect(features.rawValue == 0x1ffff && features.contains(.move))
    #expect(world.uffds[uffd]!.initialized && world.uffds[uffd]!.features == [])
  }

  /// Probe p1: an fd that has not done UFFDIO_API refuses REGISTER and UNREGISTER with
  /// EINVAL (the range ioctls are checked in their own suites).
  @Test func registerAndUnregisterBeforeAPIFailWithEINVAL() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 2)
    world.write(pid, arena(0))
    let uffd = try world.userfaultfd(pid, flags: 0)
    expectFailure(.EINVAL) {
      _ = try world.uffdioRegister(pid, uffd, start: arena(0), length: pages(1), mode: .missing)
    }
    expectFailure(.EINVAL) { try world.uffdioUnregister(pid, uffd, start: arena(0), length: pages(1)) }
  }

  @Test func apiChecksVersionThenFeaturesThenSecondCall() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    let uffd = try world.userfaultfd(pid, flags: 0)
    expectFailure(.EINVAL) { _ = try world.uffdioAPI(pid, uffd, api: 0xAB, features: []) }
    expectFailure(.EINVAL) { _ = try world.uffdioAPI(pid, uffd, api: 0xAA, features: UffdFeatures(rawValue: 1 << 20)) }
    #expect(!world.uffds[uffd]!.initialized)
    _ = try world.uffdioAPI(pid, uffd, api: 0xAA, features: .move)
    expectFailure(.EINVAL) { _ = try world.uffdioAPI(pid, uffd, api: 0xAA, features: []) }
    #expect(world.uffds[uffd]!.features == .move)
  }

  @Test(arguments: [UffdFeatures.eventFork, .eventRemap, .eventRemove, .eventUnmap])
  func nonCooperativeEventsAreRefusedAsNotModelledAfterTheKernelsChecks(_ event: UffdFeatures) throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    let uffd = try world.userfaultfd(pid, flags: 0)
    expectFailure(.EINVAL) { _ = try world.uffdioAPI(pid, uffd, api: 0, features: event) }
    expectNotModelled { _ = try world.uffdioAPI(pid, uffd, api: 0xAA, features: event) }
    #expect(!world.uffds[uffd]!.initialized)
    _ = try world.uffdioAPI(pid, uffd, api: 0xAA, features: [])
    expectFailure(.EINVAL) { _ = try world.uffdioAPI(pid, uffd, api: 0xAA, features: event) }
  }

  @Test func wpAsyncAlsoEnablesWPUnpopulated() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    let uffd = try world.userfaultfd(pid, flags: 0)
    _ = try world.uffdioAPI(pid, uffd, api: 0xAA, features: .wpAsync)
    #expect(world.uffds[uffd]!.features == [.wpAsync, .wpUnpopulated])
  }

  @Test func ioctlsOnAnFdTheProcessDoesNotHoldFailWithEBADF() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 1)
    let other = try world.fork(pid)
    let uffd = try world.userfaultfd(pid, flags: 0)
    expectFailure(.EBADF) { _ = try world.uffdioAPI(other, uffd, api: 0xAA, features: []) }
    _ = try world.uffdioAPI(pid, uffd, api: 0xAA, features: [])
    expectFailure(.EBADF) {
      _ = try world.uffdioRegister(other, uffd, start: arena(0), length: pages(1), mode: .missing)
    }
    expectFailure(.EBADF) { try world.uffdioUnregister(other, uffd, start: arena(0), length: pages(1)) }
    expectFailure(.EBADF) { try world.closeUffd(other, uffd) }
    expectFailure(.EBADF) { _ = try world.uffdioAPI(pid, UserfaultfdCtx.ID(rawValue: 99), api: 0xAA, features: []) }
  }

  // MARK: UFFDIO_REGISTER

  /// Probe p1: registering the middle page splits 1 → 3, the piece shows `um` in smaps
  /// between `me` and `ac` (bit order), and the returned ioctls are 0x13c.
  @Test(arguments: Scenario.allCases)
  func registeringPartOfAVMASplitsItAndReturnsTheRangeIoctls(_ scenario: Scenario) throws {
    let (world, pid) = try scenario.world { w, p in
      w.mapAnon(p, page: 0, count: 8)
      w.write(p, arena(0), pages: 8)
    }
    let uffd = try world.userfaultfd(pid, flags: 0)
    _ = try world.uffdioAPI(pid, uffd, api: 0xAA, features: [])
    let before = world.cost
    let ioctls = try world.uffdioRegister(pid, uffd, start: arena(1), length: pages(1), mode: .missing)
    #expect(ioctls == 0x13c)
    #expect(world.layout(pid) == ["0-1:rw-p:ac", "1-2:rw-p:ac", "2-8:rw-p:ac"])
    let vma = try #require(world.vmaAt(pid, arena(1)))
    #expect(vma.uffd == uffd && vma.vmFlags.smapsText == "rd wr mr mw me um ac")
    #expect(world.vmaAt(pid, arena(0))!.uffd == nil && world.vmaAt(pid, arena(2))!.uffd == nil)
    #expect(world.cost.since(before).vmaSplits == 2)
    #expect(world.pte(pid, arena(1)).isPage)
  }

  @Test func registeringWPReplacesMissingAndAddsWriteprotectToTheIoctls() throws {
    let (world, pid, uffd) = try setUp()
    _ = try world.uffdioRegister(pid, uffd, start: arena(1), length: pages(1), mode: .missing)
    #expect(try world.uffdioRegister(pid, uffd, start: arena(1), length: pages(1), mode: .wp) == 0x17c)
    #expect(world.vmaAt(pid, arena(1))!.vmFlags.smapsText == "rd wr mr mw me uw ac")
    #expect(try world.uffdioRegister(pid, uffd, start: arena(1), length: pages(1), mode: [.missing, .wp]) == 0x17c)
    #expect(world.vmaAt(pid, arena(1))!.vmFlags.smapsText == "rd wr mr mw me um uw ac")
  }

  /// Probe p1: a VMA already registered in a superset of the mode is left alone.
  @Test func registeringASubsetOfTheCurrentModeChangesNothing() throws {
    let (world, pid, uffd) = try setUp()
    _ = try world.uffdioRegister(pid, uffd, start: arena(1), length: pages(1), mode: [.missing, .wp])
    let before = world.cost
    #expect(try world.uffdioRegister(pid, uffd, start: arena(0), length: pages(3), mode: .missing) == 0x13c)
    #expect(world.vmaAt(pid, arena(1))!.vmFlags.isSuperset(of: [.uffdMissing, .uffdWP]))
    #expect(world.layout(pid) == ["0-1:rw-p:ac", "1-2:rw-p:ac", "2-3:rw-p:ac", "3-8:rw-p:ac"])
    #expect(world.cost.since(before).vmaSplits == 1)
  }

  @Test func registeringAgainWithTheSameModeIsANoOp() throws {
    let (world, pid, uffd) = try setUp()
    _ = try world.uffdioRegister(pid, uffd, start: arena(2), length: pages(2), mode: .missing)
    let before = world.cost
    #expect(try world.uffdioRegister(pid, uffd, start: arena(2), length: pages(2), mode: .missing) == 0x13c)
    #expect(world.cost.since(before) == CostCounters())
    #expect(world.processes[pid]!.mapCount == 3)
  }

  @Test(arguments: [UInt64(0), 8, 9, 16])
  func registeringWithNoOrUnknownModeBitsFailsWithEINVAL(_ mode: UInt64) throws {
    let (world, pid, uffd) = try setUp()
    expectFailure(.EINVAL) {
      _ = try world.uffdioRegister(pid, uffd, start: arena(0), length: pages(1), mode: UffdRegisterMode(rawValue: mode))
    }
    #expect(world.processes[pid]!.mapCount == 1)
  }

  @Test func minorOnPrivateAnonymousMemoryFailsWithEINVAL() throws {
    let (world, pid, uffd) = try setUp()
    expectFailure(.EINVAL) { _ = try world.uffdioRegister(pid, uffd, start: arena(0), length: pages(1), mode: .minor) }
    expectFailure(.EINVAL) {
      _ = try world.uffdioRegister(pid, uffd, start: arena(0), length: pages(1), mode: [.missing, .minor])
    }
    #expect(world.vmaAt(pid, arena(0))!.uffd == nil)
  }

  /// Probe p3: shmem takes MINOR (ioctls 0x1bc) and all three modes (0x1fc); smaps
  /// shows `um uw ui` in bit order, before `sl`.
  @Test func shmemRegistersMinorAndEveryMode() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 4, shared: true)
    let uffd = world.makeUffd(pid)
    #expect(try world.uffdioRegister(pid, uffd, start: arena(0), length: pages(1), mode: .minor) == 0x1bc)
    #expect(
      try world.uffdioRegister(pid, uffd, start: arena(1), length: pages(1), mode: [.missing, .wp, .minor]) == 0x1fc)
    var flags = world.vmaAt(pid, arena(1))!.vmFlags
    flags.insert(.sealed)
    #expect(flags.smapsText == "rd wr sh mr mw me ms um uw ui sl")
  }

  @Test(
    arguments: [
      (VirtAddr(Arena.start.rawValue + 1), pages(1)), (Arena.start, 0), (Arena.start, 100), (Arena.start, pages(1) + 1),
      (VirtAddr(taskSize), pages(1)), (Arena.start, taskSize), (VirtAddr(taskSize - pageSize), pages(2)),
      (Arena.start, UInt64.max & ~(pageSize - 1)),
    ] as [(VirtAddr, UInt64)])
  func registeringABadRangeFailsWithEINVAL(_ start: VirtAddr, _ length: UInt64) throws {
    let (world, pid, uffd) = try setUp()
    expectFailure(.EINVAL) { _ = try world.uffdioRegister(pid, uffd, start: start, length: length, mode: .missing) }
    expectFailure(.EINVAL) { try world.uffdioUnregister(pid, uffd, start: start, length: length) }
  }

  /// Probe p1: address 0 and a range with no VMA at all are EINVAL (the oracle kernel has
  /// no mmap_min_addr check left, but there is no VMA there).
  @Test func registeringARangeWithoutAnyVMAFailsWithEINVAL() throws {
    let (world, pid, uffd) = try setUp()
    expectFailure(.EINVAL) {
      _ = try world.uffdioRegister(pid, uffd, start: VirtAddr(0), length: pages(1), mode: .missing)
    }
    expectFailure(.EINVAL) {
      _ = try world.uffdioRegister(pid, uffd, start: arena(64), length: pages(1), mode: .missing)
    }
    expectFailure(.EINVAL) { try world.uffdioUnregister(pid, uffd, start: arena(64), length: pages(1)) }
  }

  /// Probe p1: only the VMAs present get registered; the holes stay holes.
  @Test func registeringAcrossHolesRegistersEveryVMAInTheRange() throws {
    let (world, pid, uffd) = try setUp()
    world.mapAnon(pid, page: 32, count: 2)
    _ = try world.uffdioRegister(pid, uffd, start: arena(4), length: pages(30), mode: .missing)
    #expect(world.layout(pid) == ["0-4:rw-p:ac", "4-8:rw-p:ac", "32-34:rw-p:ac"])
    #expect(world.vmaAt(pid, arena(4))!.uffd == uffd && world.vmaAt(pid, arena(32))!.uffd == uffd)
    #expect(world.vmaAt(pid, arena(0))!.uffd == nil)
  }

  /// Probe p1: another uffd owning any VMA of the range is EBUSY and nothing changes.
  @Test func registeringOverAnotherUffdsRangeFailsWithEBUSY() throws {
    let (world, pid, uffd) = try setUp()
    let other = world.makeUffd(pid)
    _ = try world.uffdioRegister(pid, other, start: arena(2), length: pages(1), mode: .missing)
    expectFailure(.EBUSY) { _ = try world.uffdioRegister(pid, uffd, start: arena(0), length: pages(4), mode: .missing) }
    #expect(world.layout(pid).count == 3 && world.vmaAt(pid, arena(0))!.uffd == nil)
    #expect(world.vmaAt(pid, arena(2))!.uffd == other)
  }

  @Test func registeringAVMAWithoutMayWriteFailsWithEPERM() throws {
    let (world, pid, uffd) = try setUp()
    try world.setFlags(pid, page: 4, count: 4, remove: .mayWrite)
    expectFailure(.EPERM) { _ = try world.uffdioRegister(pid, uffd, start: arena(0), length: pages(8), mode: .missing) }
    #expect(world.vmaAt(pid, arena(0))!.uffd == nil)
  }

  /// Probe p3: a MAP_DROPPABLE VMA cannot userfault: EINVAL for register and unregister.
  @Test func droppableVMAsFailWithEINVAL() throws {
    let (world, pid, uffd) = try setUp()
    try world.setFlags(pid, page: 0, count: 8, insert: [.droppable, .wipeonfork, .dontdump])
    expectFailure(.EINVAL) {
      _ = try world.uffdioRegister(pid, uffd, start: arena(0), length: pages(1), mode: .missing)
    }
    expectFailure(.EINVAL) { try world.uffdioUnregister(pid, uffd, start: arena(0), length: pages(1)) }
  }

  /// Probe p3: PROT_NONE and read-only private VMAs keep VM_MAYWRITE and register.
  @Test(arguments: [Prot.none, .read])
  func registeringAnInaccessibleOrReadOnlyVMASucceeds(_ prot: Prot) throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 2, prot: prot)
    let uffd = world.makeUffd(pid)
    #expect(try world.uffdioRegister(pid, uffd, start: arena(0), length: pages(1), mode: .wp) == 0x17c)
    #expect(world.vmaAt(pid, arena(0))!.vmFlags.contains(.uffdWP))
  }

  @Test func registeringFailsWithENOMEMWhenASplitHitsTheMapCountLimitKeepingEarlierVMAs() throws {
    let (world, pid, uffd) = try setUp()
    world.mapAnon(pid, page: 9, count: 4)
    world.maxMapCount = 2
    expectFailure(.ENOMEM) {
      _ = try world.uffdioRegister(pid, uffd, start: arena(0), length: pages(11), mode: .missing)
    }
    #expect(world.vmaAt(pid, arena(0))!.uffd == uffd)
    #expect(world.vmaAt(pid, arena(9))!.uffd == nil && world.processes[pid]!.mapCount == 2)
  }

  /// Probe p2: a fork child holding the parent's fd registers in the parent's mm (the
  /// fd's), not its own; once the parent has exited the ioctl fails ENOMEM.
  @Test func aForkChildRegistersInTheMMOfTheFd() throws {
    let (world, pid, uffd) = try setUp()
    let child = try world.fork(pid)
    #expect(try world.uffdioRegister(child, uffd, start: arena(2), length: pages(1), mode: .missing) == 0x13c)
    #expect(world.vmaAt(pid, arena(2))!.uffd == uffd)
    #expect(world.vmaAt(child, arena(2))!.uffd == nil && world.processes[child]!.mapCount == 1)
    try world.uffdioUnregister(child, uffd, start: arena(2), length: pages(1))
    #expect(world.processes[pid]!.mapCount == 1)
    try world.exit(pid)
    expectFailure(.ENOMEM) {
      _ = try world.uffdioRegister(child, uffd, start: arena(2), length: pages(1), mode: .missing)
    }
    expectFailure(.ENOMEM) { try world.uffdioUnregister(child, uffd, start: arena(2), length: pages(1)) }
  }

  /// Probe p2: fork does not carry the registration into the child, and the child's
  /// copies of the split pieces are not merged.
  @Test func forkChildGetsUnregisteredUnmergedCopies() throws {
    let (world, pid, uffd) = try setUp()
    _ = try world.uffdioRegister(pid, uffd, start: arena(4), length: pages(1), mode: .missing)
    let child = try world.fork(pid)
    #expect(world.layout(child) == ["0-4:rw-p:ac", "4-5:rw-p:ac", "5-8:rw-p:ac"])
    #expect(world.processes[child]!.vmas.allSatisfy { $0.uffd == nil && $0.vmFlags.isDisjoint(with: .uffdAll) })
    #expect(world.uffds[uffd]!.holders == [pid, child])
  }

  // MARK: UFFDIO_UNREGISTER

  @Test(arguments: Scenario.allCases)
  func unregisteringClearsTheRegistrationAndMergesBack(_ scenario: Scenario) throws {
    let (world, pid) = try scenario.world { w, p in
      w.mapAnon(p, page: 0, count: 8)
      w.write(p, arena(0), pages: 8)
    }
    let uffd = try world.userfaultfd(pid, flags: 0)
    _ = try world.uffdioAPI(pid, uffd, api: 0xAA, features: [])
    _ = try world.uffdioRegister(pid, uffd, start: arena(2), length: pages(3), mode: [.missing, .wp])
    try world.uffdioUnregister(pid, uffd, start: arena(3), length: pages(1))
    #expect(world.layout(pid).count == 5)
    try world.uffdioUnregister(pid, uffd, start: arena(0), length: pages(8))
    #expect(world.layout(pid) == ["0-8:rw-p:ac"])
    #expect(world.vmaAt(pid, arena(0))!.uffd == nil && world.vmaAt(pid, arena(0))!.vmFlags.isDisjoint(with: .uffdAll))
  }

  @Test func unregisteringAnUnregisteredRangeSucceedsAndChangesNothing() throws {
    let (world, pid, uffd) = try setUp()
    let before = world.cost
    try world.uffdioUnregister(pid, uffd, start: arena(1), length: pages(2))
    #expect(world.cost.since(before) == CostCounters() && world.processes[pid]!.mapCount == 1)
  }

  /// Probe p3: a VMA of the range registered with another uffd makes the whole call
  /// EINVAL before anything changes.
  @Test func unregisteringAnotherUffdsRangeFailsWithEINVAL() throws {
    let (world, pid, uffd) = try setUp()
    let other = world.makeUffd(pid)
    _ = try world.uffdioRegister(pid, uffd, start: arena(2), length: pages(2), mode: .missing)
    _ = try world.uffdioRegister(pid, other, start: arena(5), length: pages(1), mode: .missing)
    expectFailure(.EINVAL) { try world.uffdioUnregister(pid, uffd, start: arena(0), length: pages(8)) }
    #expect(world.vmaAt(pid, arena(2))!.uffd == uffd && world.vmaAt(pid, arena(5))!.uffd == other)
    try world.uffdioUnregister(pid, uffd, start: arena(0), length: pages(5))
    #expect(world.layout(pid) == ["0-5:rw-p:ac", "5-6:rw-p:ac", "6-8:rw-p:ac"])
  }

  // MARK: close

  /// Probe p1: closing the last fd unregisters everything and the pieces merge back.
  @Test func closingTheLastHolderUnregistersAndMerges() throws {
    let (world, pid, uffd) = try setUp()
    world.mapAnon(pid, page: 32, count: 2)
    _ = try world.uffdioRegister(pid, uffd, start: arena(1), length: pages(1), mode: .missing)
    _ = try world.uffdioRegister(pid, uffd, start: arena(4), length: pages(30), mode: .missing)
    try world.closeUffd(pid, uffd)
    #expect(world.layout(pid) == ["0-8:rw-p:ac", "32-34:rw-p:ac"])
    #expect(world.uffds[uffd] == nil && world.processes[pid]!.uffds.isEmpty)
    expectFailure(.EBADF) { try world.closeUffd(pid, uffd) }
  }

  @Test func closingWhileAForkChildHoldsTheFdKeepsTheRegistration() throws {
    let (world, pid, uffd) = try setUp()
    _ = try world.uffdioRegister(pid, uffd, start: arena(1), length: pages(1), mode: .missing)
    let child = try world.fork(pid)
    try world.closeUffd(pid, uffd)
    #expect(world.vmaAt(pid, arena(1))!.uffd == uffd && world.uffds[uffd]!.holders == [child])
    expectFailure(.EBADF) { _ = try world.uffdioRegister(pid, uffd, start: arena(1), length: pages(1), mode: .missing) }
    try world.closeUffd(child, uffd)
    #expect(world.vmaAt(pid, arena(1))!.uffd == nil && world.processes[pid]!.mapCount == 1)
  }
}
