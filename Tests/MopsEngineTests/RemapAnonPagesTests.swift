import MopsABI
import Testing

@testable import MopsEngine

/// The 2014 remap_anon_pages() dialect (Ops/remap_anon_pages.swift): spec uffd-move §9,
/// compared with UFFDIO_MOVE on the same scenarios.
@Suite struct RemapAnonPagesTests {
  /// src = arena pages 0..<4, dst = arena pages 32..<36, both private anon rw, no uffd.
  func setUp(_ scenario: Scenario = .fresh, before: (World, PID) -> Void = { _, _ in }) throws -> (World, PID) {
    try scenario.world { w, p in
      w.mapAnon(p, page: 0, count: 4)
      w.mapAnon(p, page: 32, count: 4)
      before(w, p)
    }
  }

  func remap(
    _ w: World, _ pid: PID, dst: UInt64 = 32, src: UInt64 = 0, pages n: UInt64 = 1, flags: RemapAnonPagesFlags = []
  ) -> RemapAnonPagesResult {
    w.remapAnonPages(pid, dst: arena(dst), src: arena(src), length: pages(n), flags: flags)
  }

  func expectFailed(_ r: RemapAnonPagesResult, _ errno: Errno, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(
      r.value == -Int64(errno.rawValue) && r.errno == errno && r.bytes == 0 && r.error?.errno == errno, "\(r)",
      sourceLocation: sourceLocation)
  }

  func expectMoved(_ r: RemapAnonPagesResult, _ bytes: UInt64, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(
      r.value == Int64(bytes) && r.errno == nil && r.bytes == bytes && r.error == nil, "\(r)",
      sourceLocation: sourceLocation)
  }

  // MARK: The difference that motivated PageAnonExclusive

  /// After the fork child exited the parent's page has mapcount 1 but is not
  /// PageAnonExclusive: UFFDIO_MOVE says EBUSY, remap_anon_pages moves it. While the
  /// child lives both refuse.
  @Test(arguments: Scenario.allCases)
  func theTwoDialectsDisagreeOnlyAfterTheChildExited(_ scenario: Scenario) throws {
    let (w, pid) = try setUp(scenario) { w, p in w.write(p, arena(0), pages: 2, 0x5a) }
    let uffd = try w.userfaultfd(pid, flags: 0)
    _ = try w.uffdioAPI(pid, uffd, api: 0xAA, features: [])
    _ = try w.uffdioRegister(pid, uffd, start: arena(32), length: pages(4), mode: .missing)
    let pfn = w.pte(pid, arena(1)).pfn
    let move = w.uffdioMove(pid, uffd, dst: arena(32), src: arena(0), length: pages(1), mode: [])
    let rap = remap(w, pid, dst: 33, src: 1)
    switch scenario {
    case .fresh:
      #expect(move.succeeded)
      expectMoved(rap, pages(1))
    case .afterFork:
      #expect(move.errno == .EBUSY)
      expectFailed(rap, .EBUSY)
      #expect(rap.error!.reason.contains("mapcount") && rap.error!.sharing?.mappedBy == [pid, PID(2)])
    case .afterChildExit:
      #expect(move.errno == .EBUSY && !w.folioAt(pid, arena(0)).isAnonExclusive)
      expectMoved(rap, pages(1))
      #expect(w.pte(pid, arena(33)) == .page(pfn, writable: true, dirty: true))
      #expect(w.folio(pfn).isAnonExclusive && w.folio(pfn).mapcount == 1)
      #expect(w.readBytes(pid, addr: arena(33), count: 1).bytes == [0x5a])
    }
  }

  @Test func aMovedPageKeepsItsFrameAndGetsTheDstRmap() throws {
    let (w, pid) = try setUp()
    w.write(pid, arena(0), pages: 2)
    try w.madvise(pid, addr: arena(0), length: pages(1), advice: .FREE)
    let pfns = [w.pte(pid, arena(0)).pfn, w.pte(pid, arena(1)).pfn]
    let layout = w.layout(pid)
    let before = w.cost
    expectMoved(remap(w, pid, pages: 2), pages(2))
    let vma = w.vmaAt(pid, arena(32))!
    for i in 0..<2 {
      #expect(w.pte(pid, arena(32 + UInt64(i))) == .page(pfns[i], writable: true, dirty: true))
      #expect(w.pte(pid, arena(UInt64(i))).isNone)
      #expect(
        w.folio(pfns[i]).anonVMA == vma.anonVMA && w.folio(pfns[i]).index == vma.linearPageIndex(arena(32 + UInt64(i))))
    }
    #expect(w.layout(pid) == layout)
    let d = w.cost.since(before)
    #expect(d.tlbFlushRanges == 2 && d.ptesChanged == 4)
  }

  /// No "src must be writable": two read-only VMAs remap, the dst PTE stays read-only.
  @Test func readOnlyVMAsRemapIntoAReadOnlyPTE() throws {
    let (w, pid) = try setUp()
    w.write(pid, arena(0))
    let pfn = w.pte(pid, arena(0)).pfn
    try w.mprotect(pid, addr: arena(0), length: pages(4), prot: .read)
    expectFailed(remap(w, pid), .EINVAL)
    try w.mprotect(pid, addr: arena(32), length: pages(4), prot: .read)
    expectMoved(remap(w, pid), pages(1))
    #expect(w.pte(pid, arena(32)) == .page(pfn, writable: false, dirty: true))
  }

  /// The zero page has no struct page for vm_normal_page(): EBUSY (MOVE moves it).
  @Test func theZeroPageIsBusy() throws {
    let (w, pid) = try setUp()
    w.read(pid, arena(0))
    let r = remap(w, pid)
    expectFailed(r, .EBUSY)
    #expect(r.error!.reason.contains("zero page"))
  }

  /// Pins were not detected in 2014: a pinned page moves.
  @Test func aPinnedPageMoves() throws {
    let (w, pid) = try setUp()
    try w.pin(pid, addr: arena(0), length: pages(1))
    let pfn = w.pte(pid, arena(0)).pfn
    expectMoved(remap(w, pid), pages(1))
    #expect(w.pte(pid, arena(32)).pfn == pfn && w.folio(pfn).pins == 1)
  }

  /// No registration, special-VMA or anon-VMA-identity checks; no uffd needed at all.
  @Test func noRegistrationOrSpecialVMAChecks() throws {
    let (w, pid) = try setUp()
    w.write(pid, arena(0))
    try w.setFlags(pid, page: 0, count: 4, insert: .io)
    expectMoved(remap(w, pid), pages(1))
    #expect(w.vmaAt(pid, arena(32))!.anonVMA != .none)
  }

  // MARK: Checks in order

  @Test func anUnknownProcessIsESRCH() {
    let w = World(checksInvariants: true)
    expectFailed(w.remapAnonPages(PID(7), dst: arena(0), src: arena(1), length: pages(1), flags: []), .ESRCH)
  }

  @Test(
    arguments: [
      (arena(32), arena(0) + 1, pages(1), UInt64(0), "src"), (arena(32) + 1, arena(0) + 1, pages(1), 0, "src"),
      (arena(32) + 1, arena(0), pages(1), 0, "dst"), (arena(32), arena(0), 100, 0, "len"),
      (arena(32) + 1, arena(0), 100, 2, "dst"), (arena(32), arena(0), pages(1), 2, "flags"),
      (arena(32), arena(0), 0, 0, "src range"),
      (arena(32), VirtAddr(UInt64.max & ~(pageSize - 1)), pages(1), 0, "src range"),
      (VirtAddr(UInt64.max & ~(pageSize - 1)), arena(0), pages(1), 0, "dst range"),
    ] as [(VirtAddr, VirtAddr, UInt64, UInt64, String)])
  func argumentChecksAreEINVALInTheRFCsOrder(
    _ dst: VirtAddr, _ src: VirtAddr, _ len: UInt64, _ flags: UInt64, _ culprit: String
  ) throws {
    let (w, pid) = try setUp()
    let r = w.remapAnonPages(pid, dst: dst, src: src, length: len, flags: RemapAnonPagesFlags(rawValue: flags))
    expectFailed(r, .EINVAL)
    #expect(r.error!.reason.contains(culprit), "\(r)")
  }

  /// A missing VMA is EINVAL (MOVE: ENOENT); src is looked up before dst; each range
  /// must lie in one non-shared VMA.
  @Test func vmaChecksAreEINVALSrcBeforeDst() throws {
    let (w, pid) = try setUp()
    w.mapAnon(pid, page: 64, count: 2, shared: true)
    for (dst, src, n, culprit) in [
      (UInt64(100), UInt64(200), UInt64(1), "src"), (100, 0, 1, "dst"), (32, 64, 1, "src"),
      (64, 0, 1, "dst"), (32, 2, 4, "src"), (34, 0, 4, "dst"),
    ] {
      let r = remap(w, pid, dst: dst, src: src, pages: n)
      expectFailed(r, .EINVAL)
      #expect(r.error!.reason.contains(culprit), "\(r)")
    }
    #expect(w.vmaAt(pid, arena(32))!.anonVMA == .none)
  }

  @Test func protectionAndMlockMustMatch() throws {
    let (w, pid) = try setUp()
    w.write(pid, arena(0))
    try w.mprotect(pid, addr: arena(32), length: pages(4), prot: [.read, .write, .exec])
    expectFailed(remap(w, pid), .EINVAL)
    try w.mprotect(pid, addr: arena(32), length: pages(4), prot: .readWrite)
    try w.setFlags(pid, page: 32, count: 4, insert: .locked)
    expectFailed(remap(w, pid), .EINVAL)
  }

  // MARK: The page walk

  @Test func eexistAndENOENTAndHolesFollowTheRFC() throws {
    let (w, pid) = try setUp()
    w.write(pid, arena(0), pages: 3)
    try w.madvise(pid, addr: arena(1), length: pages(1), advice: .DONTNEED)
    w.processes[pid]!.pageTable.set(arena(34), .zeroPage)
    var r = remap(w, pid, pages: 3)
    #expect(r.value == 4096 && r.error?.errno == .ENOENT)
    r = remap(w, pid, dst: 33, src: 1, pages: 3, flags: .allowSrcHoles)
    #expect(r.value == 4096 && r.error?.errno == .EEXIST)
    expectFailed(remap(w, pid, dst: 34, src: 3), .EEXIST)
    expectMoved(remap(w, pid, dst: 35, src: 3, flags: .allowSrcHoles), pages(1))
    #expect(w.pte(pid, arena(35)).isNone)
    expectFailed(remap(w, pid, dst: 35, src: 3), .ENOENT)
  }

  /// As for MOVE, a src range without any page table is ENOENT before the dst check.
  @Test func aSrcWithoutAPageTableIsENOENTBeforeTheDstCheck() throws {
    let (w, pid) = try setUp()
    w.mapAnon(pid, page: 2048, count: 2)
    w.write(pid, arena(32))
    w.mapAnon(pid, page: 2100, count: 2)
    expectFailed(w.remapAnonPages(pid, dst: arena(32), src: arena(2048), length: pages(1), flags: []), .ENOENT)
    expectFailed(
      w.remapAnonPages(pid, dst: arena(32), src: arena(2048), length: pages(1), flags: .allowSrcHoles), .EEXIST)
    expectMoved(
      w.remapAnonPages(pid, dst: arena(2100), src: arena(2049), length: pages(1), flags: .allowSrcHoles), pages(1))
  }
}
