import MopsABI
import Testing

@testable import MopsEngine

/// pin()/unpin() (Ops/pin.swift): long-term write pins as io_uring fixed buffers take
/// them. Cases marked "observed" were probed with IORING_REGISTER_BUFFERS.
@Suite struct PinTests {
  func pin(_ world: World, _ pid: PID, page first: UInt64, count: UInt64) throws(KernelError) {
    try world.pin(pid, addr: arena(first), length: pages(count))
  }

  /// Observed (with probe 31): pinning faults fresh pages in for write; a fork then
  /// gives the child private copies and leaves the parent's pages alone.
  @Test func pinFaultsInForWriteAndForkCopiesThePinnedPages() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 3)
    try pin(world, pid, page: 0, count: 2)
    #expect(world.processes[pid]!.hasPinned)
    for p: UInt64 in 0..<2 {
      let f = world.folioAt(pid, arena(p))
      #expect(f.pins == 1 && f.isAnonExclusive && world.pte(pid, arena(p)).isWritable)
    }
    #expect(world.pte(pid, arena(2)).isNone)
    let pinned = world.pte(pid, arena(0)).pfn
    let child = try world.fork(pid)
    #expect(world.pte(child, arena(0)).pfn != pinned && world.folioAt(child, arena(0)).isAnonExclusive)
    #expect(world.pte(pid, arena(0)) == .page(pinned, writable: true, dirty: true))
    #expect(world.processes[pid]!.pinnedBuffers == [PinnedBuffer(addr: arena(0), length: pages(2), pfns: [pinned, world.pte(pid, arena(1)).pfn])])
  }

  /// Observed: pinning a page shared with a fork child unshares it by a write fault;
  /// the child keeps the original.
  @Test func pinUnsharesACOWSharedPage() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 2)
    world.write(pid, arena(0), pages: 2, 0x12)
    let original = world.pte(pid, arena(0)).pfn
    let child = try world.fork(pid)
    try pin(world, pid, page: 0, count: 1)
    let now = world.pte(pid, arena(0))
    #expect(now.pfn != original && now.isWritable && world.folio(now.pfn).pins == 1)
    #expect(world.pte(child, arena(0)).pfn == original && world.folio(original).mapcount == 1)
    #expect(world.pte(pid, arena(1)).pfn == world.pte(child, arena(1)).pfn)
    #expect(world.readBytes(pid, addr: arena(0), count: 1).bytes == [0x12])
  }

  /// Observed: a zero page is replaced by a fresh page; shmem and ranges across VMAs
  /// pin fine.
  @Test func pinReplacesZeroPagesAndWorksOnSharedMemoryAndAcrossVMAs() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 1)
    world.read(pid, arena(0))
    try pin(world, pid, page: 0, count: 1)
    #expect(world.pte(pid, arena(0)).isPage && world.folioAt(pid, arena(0)).pins == 1)
    world.mapAnon(pid, page: 2, count: 2, shared: true)
    try pin(world, pid, page: 2, count: 2)
    #expect(world.folioAt(pid, arena(3)).pins == 1 && world.folioAt(pid, arena(3)).flags.contains(.shmem))
    world.mapAnon(pid, page: 5, count: 1)
    world.mapAnon(pid, page: 6, count: 1, prot: [.read, .write, .exec])
    try pin(world, pid, page: 5, count: 2)
    #expect(world.folioAt(pid, arena(6)).pins == 1)
  }

  /// Observed: an unaligned buffer pins every page it touches.
  @Test func unalignedBufferPinsTheCoveringPages() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 3)
    try world.pin(pid, addr: arena(0) + 4000, length: 200)
    #expect(world.folioAt(pid, arena(0)).pins == 1 && world.folioAt(pid, arena(1)).pins == 1)
    #expect(world.pte(pid, arena(2)).isNone)
  }

  /// Observed: a hole makes the whole registration fail with EFAULT; pages faulted
  /// before it stay, unpinned.
  @Test func holeFailsWithEFAULTAndDropsThePinsTaken() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 1)
    world.mapAnon(pid, page: 2, count: 1)
    expectErrno(.EFAULT) { () throws(KernelError) in try pin(world, pid, page: 0, count: 3) }
    #expect(world.pte(pid, arena(0)).isPage && world.folioAt(pid, arena(0)).pins == 0)
    #expect(world.pte(pid, arena(2)).isNone && world.processes[pid]!.pinnedBuffers.isEmpty)
    #expect(world.processes[pid]!.hasPinned)
  }

  /// Observed: read-only, unmapped, empty, NULL and oversized buffers fail.
  @Test func argumentAndVMAErrors() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 2, prot: .read)
    expectErrno(.EFAULT) { () throws(KernelError) in try pin(world, pid, page: 0, count: 2) }
    #expect(world.pte(pid, arena(0)).isNone)
    expectErrno(.EFAULT) { () throws(KernelError) in try pin(world, pid, page: 100, count: 1) }
    expectErrno(.EFAULT) { () throws(KernelError) in try world.pin(pid, addr: arena(0), length: 0) }
    expectErrno(.EFAULT) { () throws(KernelError) in try world.pin(pid, addr: VirtAddr(0), length: 4096) }
    expectErrno(.EFAULT) { () throws(KernelError) in try world.pin(pid, addr: arena(0), length: (1 << 30) + 1) }
    expectErrno(.EOVERFLOW) { () throws(KernelError) in
      try world.pin(pid, addr: VirtAddr(UInt64.max - 4096), length: 8192)
    }
    expectErrno(.EFAULT) { () throws(KernelError) in
      try world.pin(pid, addr: VirtAddr(taskSize - 4096), length: 8192)
    }
    try world.pin(pid, addr: VirtAddr(0), length: 0)
    #expect(world.processes[pid]!.pinnedBuffers.isEmpty)
    expectErrno(.ESRCH) { () throws(KernelError) in try world.pin(PID(5), addr: arena(0), length: 1) }
    expectErrno(.EFAULT) { () throws(KernelError) in
      world.mapAnon(pid, page: 10, count: 1, shared: true, objectPages: 0)
      try pin(world, pid, page: 10, count: 1)
    }
  }

  /// Observed: a pinned lazy-free page survives PAGEOUT; once unpinned it is
  /// discarded.
  @Test func pinnedLazyFreePageIsKeptUntilUnpinned() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 1)
    world.write(pid, arena(0))
    try pin(world, pid, page: 0, count: 1)
    try world.madvise(pid, addr: arena(0), length: pages(1), advice: .FREE)
    try world.madvise(pid, addr: arena(0), length: pages(1), advice: .PAGEOUT)
    #expect(world.pte(pid, arena(0)).isPage)
    try world.unpin(pid, addr: arena(0), length: pages(1))
    try world.madvise(pid, addr: arena(0), length: pages(1), advice: .PAGEOUT)
    #expect(world.pte(pid, arena(0)).isNone)
  }

  /// Observed: pages the fast path pins (present, writable) keep a clean folio; pages
  /// behind a fault go through FOLL_TOUCH, which dirties the folio of a clean PTE.
  @Test func onlyTheSlowPathDirtiesCleanPages() throws {
    for firstPresent in [true, false] {
      let world = World(checksInvariants: true)
      let pid = world.initialPID
      world.mapAnon(pid, page: 0, count: 2)
      if firstPresent { world.write(pid, arena(0)) }
      world.write(pid, arena(1))
      try world.madvise(pid, addr: arena(0), length: pages(2), advice: .FREE)
      try pin(world, pid, page: 0, count: 2)
      try world.unpin(pid, addr: arena(0), length: pages(2))
      try world.madvise(pid, addr: arena(0), length: pages(2), advice: .PAGEOUT)
      #expect(world.pte(pid, arena(1)).isNone == firstPresent)
    }
  }

  @Test func unpinFreesAPageNoLongerMappedAndUnknownBuffersAreEINVAL() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 1)
    try pin(world, pid, page: 0, count: 1)
    let pfn = world.pte(pid, arena(0)).pfn
    try world.madvise(pid, addr: arena(0), length: pages(1), advice: .DONTNEED)
    #expect(world.folio(pfn).isInUse && world.folio(pfn).mapcount == 0)
    expectErrno(.EINVAL) { () throws(KernelError) in try world.unpin(pid, addr: arena(0), length: 1) }
    let before = world.cost
    try world.unpin(pid, addr: arena(0), length: pages(1))
    #expect(!world.folio(pfn).isInUse && world.cost.since(before).pagesFreed == 1)
    expectErrno(.EINVAL) { () throws(KernelError) in try world.unpin(pid, addr: arena(0), length: pages(1)) }
  }

  @Test func aPinnedPageIsReusedByWritesAndReleasedAtExit() throws {
    let world = World(checksInvariants: true)
    let child = try world.fork(world.initialPID)
    world.mapAnon(child, page: 0, count: 1)
    try pin(world, child, page: 0, count: 1)
    try pin(world, child, page: 0, count: 1)
    let pfn = world.pte(child, arena(0)).pfn
    #expect(world.folio(pfn).pins == 2)
    world.write(child, arena(0), 9)
    #expect(world.pte(child, arena(0)).pfn == pfn)
    try world.exit(child)
    #expect(!world.folio(pfn).isInUse)
  }

  @Test func pinOfAMissingRegisteredRangeIsRefusedOrEFAULT() throws {
    for features in [UffdFeatures(), .sigbus] {
      let world = World(checksInvariants: true)
      let pid = world.initialPID
      world.mapAnon(pid, page: 0, count: 2)
      world.write(pid, arena(0))
      let uffd = world.makeUffd(pid, features: features)
      try world.registerMissing(pid, uffd, page: 0, count: 2)
      do {
        try pin(world, pid, page: 0, count: 2)
        Issue.record("pin succeeded")
      } catch {
        #expect(features.isEmpty ? error.isNotModelled : error.errno == .EFAULT, "\(error)")
      }
      #expect(world.folioAt(pid, arena(0)).pins == 0 && world.pte(pid, arena(1)).isNone)
    }
  }
}
