import MopsABI
import Testing

@testable import MopsEngine

/// UFFDIO_COPY and UFFDIO_ZEROPAGE (Ops/uffd_copy.swift): spec uffd-move §2.4 and §8.
/// Cases marked "probe" were run on the 6.18.44 oracle kernel (p4, p5, p7).
@Suite struct UffdCopyTests {
  /// src = arena pages 0..<8 (private anon rw), dst = arena pages 32..<40 registered
  /// MISSING with an initialised uffd.
  struct Setup {
    let world: World
    let pid: PID
    let uffd: UserfaultfdCtx.ID
    var src: VirtAddr { arena(0) }
    var dst: VirtAddr { arena(32) }

    func copy(
      dst: VirtAddr? = nil, src: VirtAddr? = nil, length: UInt64 = pages(1), mode: UffdioCopyMode = [],
      by caller: PID? = nil
    ) -> UffdioResult {
      world.uffdioCopy(caller ?? pid, uffd, dst: dst ?? self.dst, src: src ?? self.src, length: length, mode: mode)
    }

    func zeropage(dst: VirtAddr? = nil, length: UInt64 = pages(1), mode: UffdioCopyMode = [], by caller: PID? = nil)
      -> UffdioResult
    {
      world.uffdioZeropage(caller ?? pid, uffd, dst: dst ?? self.dst, length: length, mode: mode)
    }
  }

  func setUp(
    _ scenario: Scenario = .fresh, flags: Int32 = 0, features: UffdFeatures = [],
    before: (World, PID) -> Void = { _, _ in }
  ) throws -> Setup {
    let (world, pid) = try scenario.world { w, p in
      w.mapAnon(p, page: 0, count: 8)
      w.mapAnon(p, page: 32, count: 8)
      before(w, p)
    }
    let uffd = try world.userfaultfd(pid, flags: flags)
    _ = try world.uffdioAPI(pid, uffd, api: 0xAA, features: features)
    _ = try world.uffdioRegister(pid, uffd, start: arena(32), length: pages(8), mode: .missing)
    return Setup(world: world, pid: pid, uffd: uffd)
  }

  func expectDone(_ r: UffdioResult, _ bytes: UInt64, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(
      r.errno == nil && r.field == Int64(bytes) && r.bytes == bytes && r.error == nil, "\(r)",
      sourceLocation: sourceLocation)
  }

  func expectFailed(_ r: UffdioResult, _ errno: Errno, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(
      r.errno == errno && r.field == -Int64(errno.rawValue) && r.bytes == 0, "\(r)", sourceLocation: sourceLocation)
  }

  func expectUntouched(_ r: UffdioResult, _ errno: Errno, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(
      r.errno == errno && r.field == nil && r.bytes == 0 && r.error?.errno == errno, "\(r)",
      sourceLocation: sourceLocation)
  }

  // MARK: UFFDIO_COPY: what it does

  /// Probe p4: a new page (new PFN, PageAnonExclusive, mapcount 1) holding a copy; src
  /// keeps its page, shared or not.
  @Test(arguments: Scenario.allCases)
  func copyInstallsANewExclusivePageAndLeavesSrcAlone(_ scenario: Scenario) throws {
    let s = try setUp(scenario) { w, p in
      w.write(p, arena(0), pages: 1, 0x53)
      _ = w.writeBytes(p, addr: arena(0) + 9, [7])
    }
    let srcPTE = s.world.pte(s.pid, s.src)
    let before = s.world.cost
    expectDone(s.copy(), pages(1))
    let pte = s.world.pte(s.pid, s.dst)
    #expect(pte.isPage && pte.pfn != srcPTE.pfn && pte.isWritable && pte.isDirty)
    let f = s.world.folio(pte.pfn)
    let vma = s.world.vmaAt(s.pid, s.dst)!
    #expect(f.mapcount == 1 && f.isAnonExclusive && f.anonVMA == vma.anonVMA && f.index == vma.linearPageIndex(s.dst))
    #expect(s.world.event(f.origin)?.kind == .uffdCopy)
    #expect(s.world.contents(pte.pfn) == s.world.contents(srcPTE.pfn))
    #expect(s.world.pte(s.pid, s.src) == srcPTE)
    let d = s.world.cost.since(before)
    #expect(d.pagesAllocated == 1 && d.pagesCopied == 1 && d.ptesChanged == 1 && d.faults == 0 && d.tlbFlushRanges == 0)
  }

  /// Probe p4: src need not be aligned; the page's worth of bytes spans two src pages.
  @Test func anUnalignedSrcCopiesAcrossTwoPages() throws {
    let s = try setUp()
    s.world.write(s.pid, s.src, pages: 1, 0x53)
    _ = s.world.writeBytes(s.pid, addr: s.src + pageSize + 5, [0x78])
    s.world.write(s.pid, s.src + pages(2), pages: 1, 0x54)
    expectDone(s.copy(src: s.src + pageSize - 1), pages(1))
    #expect(s.world.readBytes(s.pid, addr: s.dst, count: 8).bytes == [0x53, 0, 0, 0, 0, 0, 0x78, 0])
    #expect(s.world.readBytes(s.pid, addr: s.dst + pageSize - 1, count: 1).bytes == [0])
  }

  /// Probe p4: a src hole reads as zeroes and faults the zero page in at src.
  @Test func aSrcHoleIsReadAsZeroesAndFaultsTheZeroPageIn() throws {
    let s = try setUp()
    let faults = s.world.cost.faults
    expectDone(s.copy(src: s.src + pages(4)), pages(1))
    #expect(s.world.pte(s.pid, s.src + pages(4)) == .zeroPage && s.world.cost.faults == faults + 1)
    #expect(s.world.contents(s.world.pte(s.pid, s.dst).pfn).isZero)
  }

  /// Probe p5: a read-only registered VMA gets a read-only PTE.
  @Test func aReadOnlyDstGetsAReadOnlyPTE() throws {
    let s = try setUp()
    s.world.mapAnon(s.pid, page: 64, count: 2, prot: .read)
    _ = try s.world.uffdioRegister(s.pid, s.uffd, start: arena(64), length: pages(2), mode: .missing)
    s.world.write(s.pid, s.src)
    expectDone(s.copy(dst: arena(64)), pages(1))
    let pte = s.world.pte(s.pid, arena(64))
    #expect(pte.isPage && !pte.isWritable && s.world.folio(pte.pfn).isAnonExclusive)
  }

  /// Probe p5: COPY and ZEROPAGE only need dst registered with some uffd, not this one.
  @Test func dstRegisteredWithAnotherUffdIsFilled() throws {
    let s = try setUp()
    let other = s.world.makeUffd(s.pid)
    s.world.mapAnon(s.pid, page: 64, count: 2)
    _ = try s.world.uffdioRegister(s.pid, other, start: arena(64), length: pages(2), mode: .missing)
    expectDone(s.copy(dst: arena(64)), pages(1))
    expectDone(s.zeropage(dst: arena(65)), pages(1))
  }

  @Test func aPopulatedDstIsEEXISTAndStopsAPartialCopyWithEAGAIN() throws {
    let s = try setUp()
    s.world.write(s.pid, s.src, pages: 3)
    expectDone(s.copy(dst: s.dst + pages(1)), pages(1))
    expectFailed(s.copy(dst: s.dst + pages(1)), .EEXIST)
    let r = s.copy(length: pages(3))
    #expect(r.errno == .EAGAIN && r.field == 4096 && r.bytes == 4096 && r.error?.errno == .EEXIST)
    #expect(s.world.pte(s.pid, s.dst + pages(2)).isNone)
  }

  /// Probe p7: the src is read before the dst PTE is checked: an unreadable src wins
  /// over a populated dst, and a src hole is faulted in even though the copy then fails.
  @Test func theSrcReadHappensBeforeTheDstCheck() throws {
    let s = try setUp()
    s.world.mapAnon(s.pid, page: 16, count: 2, prot: .none)
    s.world.processes[s.pid]!.pageTable.set(s.dst, .zeroPage)
    expectFailed(s.copy(src: arena(16)), .EFAULT)
    expectFailed(s.copy(src: s.src + pages(3)), .EEXIST)
    #expect(s.world.pte(s.pid, s.src + pages(3)) == .zeroPage)
  }

  /// Probe p4/p7: an inaccessible, unmapped or half-unmapped src is EFAULT; address 0
  /// passes the range check on the oracle kernel and faults.
  @Test func anUnreadableSrcIsEFAULT() throws {
    let s = try setUp()
    s.world.mapAnon(s.pid, page: 16, count: 2, prot: .none)
    expectFailed(s.copy(src: arena(16)), .EFAULT)
    expectFailed(s.copy(src: arena(20)), .EFAULT)
    expectFailed(s.copy(src: VirtAddr(0)), .EFAULT)
    s.world.write(s.pid, s.src + pages(7))
    expectFailed(s.copy(src: s.src + pages(7) + 2048), .EFAULT)
    expectDone(s.copy(src: s.src + pages(6) + 2048), pages(1))
    #expect(s.world.pte(s.pid, s.src + pages(6)) == .zeroPage)
  }

  /// Probe p4: a src hole registered MISSING blocks the caller (not modelled) unless the
  /// context is UFFD_USER_MODE_ONLY or asked for SIGBUS, which make it EFAULT.
  @Test(
    arguments: [
      (Int32(0), UffdFeatures()), (UserfaultfdCtx.UFFD_USER_MODE_ONLY, UffdFeatures()), (0, UffdFeatures.sigbus),
    ] as [(Int32, UffdFeatures)])
  func aSrcHoleInARegisteredRangeBlocksOrFails(_ flags: Int32, _ features: UffdFeatures) throws {
    let s = try setUp(flags: flags, features: features)
    let r = s.copy(src: s.dst + pages(7))
    if flags == 0 && features.isEmpty {
      #expect(r.errno == .ENOSYS && r.field == nil && r.error?.isNotModelled == true, "\(r)")
    } else {
      expectFailed(r, .EFAULT)
    }
    #expect(s.world.pte(s.pid, s.dst).isNone)
  }

  /// Probe p2: a fork child holding the parent's fd copies its own memory into the
  /// parent's registered range; after the parent exited the call fails ESRCH untouched.
  @Test func aForkChildCopiesItsOwnMemoryIntoTheParent() throws {
    let s = try setUp()
    let child = try s.world.fork(s.pid)
    s.world.write(child, arena(1), pages: 1, 0x43)
    expectDone(s.copy(src: arena(1), by: child), pages(1))
    #expect(s.world.readBytes(s.pid, addr: s.dst, count: 1).bytes == [0x43])
    #expect(s.world.pte(child, s.dst).isNone && s.world.pte(s.pid, arena(1)).isNone)
    expectDone(s.zeropage(dst: s.dst + pages(1), by: child), pages(1))
    #expect(s.world.pte(s.pid, s.dst + pages(1)) == .zeroPage)
    try s.world.exit(s.pid)
    expectUntouched(s.copy(dst: s.dst + pages(2), src: arena(1), by: child), .ESRCH)
    expectUntouched(s.zeropage(dst: s.dst + pages(2), by: child), .ESRCH)
  }

  // MARK: UFFDIO_COPY: argument checks

  @Test func unknownProcessFdOrUninitialisedFdLeaveTheFieldUntouched() throws {
    let s = try setUp()
    expectUntouched(s.copy(by: PID(9)), .ESRCH)
    let raw = try s.world.userfaultfd(s.pid, flags: 0)
    expectUntouched(s.world.uffdioCopy(s.pid, raw, dst: s.dst, src: s.src, length: pages(1), mode: []), .EINVAL)
    expectUntouched(s.world.uffdioZeropage(s.pid, raw, dst: s.dst, length: pages(1), mode: []), .EINVAL)
    let child = try s.world.fork(s.pid)
    try s.world.closeUffd(child, s.uffd)
    expectUntouched(s.copy(by: child), .EBADF)
    expectUntouched(s.zeropage(by: child), .EBADF)
  }

  /// Probe p4: src range first (alignment not required), then dst, then mode.
  @Test(
    arguments: [
      (arena(32), arena(0), 100, "length"), (arena(32), arena(0), 0, "length"),
      (arena(32), VirtAddr(taskSize), pages(1), "src"), (arena(32), VirtAddr(taskSize - 1), pages(1), "src"),
      (arena(32) + 1, arena(0), pages(1), "dst"), (VirtAddr(taskSize), arena(0), pages(1), "dst"),
      (arena(32) + 1, VirtAddr(taskSize), pages(1), "src"),
    ] as [(VirtAddr, VirtAddr, UInt64, String)])
  func badRangesFailWithEINVALSrcFirstAndLeaveTheFieldUntouched(
    _ dst: VirtAddr, _ src: VirtAddr, _ len: UInt64, _ culprit: String
  ) throws {
    let s = try setUp()
    let r = s.copy(dst: dst, src: src, length: len)
    expectUntouched(r, .EINVAL)
    #expect(r.error!.reason.contains(culprit), "\(r)")
  }

  @Test func anUnknownModeBitIsEINVALUntouchedButWPOnANonWPRangeWritesTheField() throws {
    let s = try setUp()
    s.world.write(s.pid, s.src)
    expectUntouched(s.copy(mode: UffdioCopyMode(rawValue: 4)), .EINVAL)
    expectFailed(s.copy(mode: .wp), .EINVAL)
    _ = try s.world.uffdioRegister(s.pid, s.uffd, start: s.dst, length: pages(8), mode: [.missing, .wp])
    let r = s.copy(mode: .wp)
    #expect(r.errno == .ENOSYS && r.error?.isNotModelled == true && s.world.pte(s.pid, s.dst).isNone, "\(r)")
  }

  /// Probe p4: dst unmapped, unregistered, or running past its VMA: ENOENT (MOVE says
  /// EINVAL for the last two).
  @Test func dstOutsideOneRegisteredVMAIsENOENT() throws {
    let s = try setUp()
    s.world.write(s.pid, s.src)
    expectFailed(s.copy(dst: VirtAddr(0)), .ENOENT)
    expectFailed(s.copy(dst: arena(100)), .ENOENT)
    expectFailed(s.copy(dst: s.src + pages(4)), .ENOENT)
    expectFailed(s.copy(dst: s.dst + pages(7), length: pages(2)), .ENOENT)
    expectFailed(s.zeropage(dst: s.src + pages(4)), .ENOENT)
    expectFailed(s.zeropage(dst: s.dst + pages(7), length: pages(2)), .ENOENT)
    #expect(s.world.vmaAt(s.pid, s.src + pages(4))!.anonVMA != .none)
  }

  // MARK: UFFDIO_ZEROPAGE

  /// Probe p4: the shared zero page, no allocation; populated dst is EEXIST.
  @Test(arguments: Scenario.allCases)
  func zeropageInstallsTheZeroPage(_ scenario: Scenario) throws {
    let s = try setUp(scenario)
    let before = s.world.cost
    expectDone(s.zeropage(length: pages(2), mode: .dontwake), pages(2))
    #expect(s.world.pte(s.pid, s.dst) == .zeroPage && s.world.pte(s.pid, s.dst + pages(1)) == .zeroPage)
    #expect(s.world.cost.since(before).pagesAllocated == 0)
    expectFailed(s.zeropage(), .EEXIST)
    let r = s.zeropage(dst: s.dst + pages(1), length: pages(2))
    #expect(r.errno == .EEXIST && r.field == -17)
    #expect(s.world.touch(s.pid, addr: s.dst, write: true, fill: 1) == .ok && s.world.pte(s.pid, s.dst).isPage)
  }

  @Test func zeropageChecksRangeThenMode() throws {
    let s = try setUp()
    var r = s.zeropage(dst: s.dst + 1, mode: .wp)
    expectUntouched(r, .EINVAL)
    #expect(r.error!.reason.contains("dst"))
    r = s.zeropage(mode: .wp)
    expectUntouched(r, .EINVAL)
    #expect(r.error!.reason.contains("mode"))
    expectUntouched(s.zeropage(length: 0), .EINVAL)
  }

  // MARK: Shared anonymous (shmem) dst

  /// Probe p5: in shmem the page goes into the object's page cache (not anonymous, not
  /// exclusive); ZEROPAGE allocates a zeroed page; a page already in the cache (another
  /// mapping faulted it) is EEXIST.
  @Test func shmemDstFillsThePageCache() throws {
    let s = try setUp()
    s.world.mapAnon(s.pid, page: 64, count: 4, shared: true)
    _ = try s.world.uffdioRegister(s.pid, s.uffd, start: arena(64), length: pages(4), mode: .missing)
    s.world.write(s.pid, s.src, pages: 1, 0x61)
    expectDone(s.zeropage(dst: arena(64)), pages(1))
    expectDone(s.copy(dst: arena(65)), pages(1))
    let vma = s.world.vmaAt(s.pid, arena(64))!
    for (i, page) in [arena(64), arena(65)].enumerated() {
      let pte = s.world.pte(s.pid, page)
      let f = s.world.folio(pte.pfn)
      #expect(pte.isPage && pte.isWritable && f.flags.contains(.shmem) && !f.isAnonExclusive && f.mapcount == 1)
      #expect(s.world.shmemObjects[vma.shmem!]!.pages[UInt64(i)] == pte.pfn)
    }
    #expect(s.world.readBytes(s.pid, addr: arena(65), count: 1).bytes == [0x61])
    let child = try s.world.fork(s.pid)
    s.world.write(child, arena(66))
    expectFailed(s.copy(dst: arena(66)), .EEXIST)
    expectFailed(s.zeropage(dst: arena(66)), .EEXIST)
    #expect(s.world.pte(s.pid, arena(66)).isNone)
  }

  /// Past the end of the shmem object (a mapping grown by mremap) the fill is EFAULT.
  @Test func shmemDstPastTheObjectsEndIsEFAULT() throws {
    let s = try setUp()
    s.world.mapAnon(s.pid, page: 64, count: 4, shared: true, objectPages: 2)
    _ = try s.world.uffdioRegister(s.pid, s.uffd, start: arena(64), length: pages(4), mode: .missing)
    s.world.write(s.pid, s.src)
    expectFailed(s.copy(dst: arena(66)), .EFAULT)
    expectFailed(s.zeropage(dst: arena(67)), .EFAULT)
    let r = s.zeropage(dst: arena(65), length: pages(2))
    #expect(r.errno == .EAGAIN && r.field == 4096 && r.error?.errno == .EFAULT)
  }
}
