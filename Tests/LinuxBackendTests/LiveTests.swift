// End-to-end tests on the running kernel. They need /dev/userfaultfd and root (frames);
// CI and the development machine have both.
import CMopsLinux
import Glibc
import MopsABI
import MopsBackend
import Testing

@testable import LinuxBackend

private let page = pageSize
private let rw = Prot.readWrite
private let anon: MapFlags = [.private, .anonymous]

/// A backend, the initial process and a 4-page private anonymous mapping in it.
private struct Fixture {
  let b: LinuxBackend
  let p: PID
  let a: VirtAddr

  init(pages: UInt64 = 4, flags: MapFlags = anon) throws {
    b = try LinuxBackend()
    p = b.initialProcess
    let r = try b.perform(.mmap(addr: VirtAddr(0), length: pages * page, prot: rw, flags: flags), in: p)
    a = VirtAddr(try #require(r.value))
  }

  func run(_ op: Operation, in pid: PID? = nil) throws -> OpOutcome { try b.perform(op, in: pid ?? p) }
  func info(_ i: UInt64, in pid: PID? = nil) throws -> PageInfo {
    try b.pages(of: pid ?? p, at: a + i * page, count: 1)[0]
  }
  func write(_ i: UInt64, _ fill: UInt8, in pid: PID? = nil) throws -> OpOutcome {
    try run(.touch(addr: a + i * page, write: true, fill: fill), in: pid)
  }
}

private func alive(_ pid: PID) -> Bool { kill(pid.rawValue, 0) == 0 || errno != ESRCH }

@Suite(.serialized) struct LiveKernel {
  @Test func unhintedMmapLandsAtTheTopOfTheArena() throws {
    let f = try Fixture()
    defer { f.b.shutdown() }
    #expect(f.a == Arena.end - 4 * page)
    let vmas = try f.b.vmas(of: f.p)
    #expect(vmas.count == 1)
    #expect(vmas[0].start == f.a && vmas[0].end == Arena.end)
    #expect(vmas[0].flags.isSuperset(of: [.read, .write, .mayRead, .mayWrite, .account]))
    #expect(vmas[0].mapsPgoff == 0 && vmas[0].shmemInode == nil)
    let huge = try f.run(.mmap(addr: VirtAddr(0), length: pmdSize, prot: rw, flags: anon))
    #expect(huge.value == (f.a.rawValue - pmdSize) & ~(pmdSize - 1))
  }

  @Test func writtenPageIsPresentExclusiveAndAnonExclusive() throws {
    let f = try Fixture()
    defer { f.b.shutdown() }
    #expect(try f.write(0, 0x41).result == .ok)
    #expect(try f.run(.writeBytes(addr: f.a + 100, bytes: Array("hello".utf8))).result == .ok)
    let p0 = try f.info(0)
    #expect(p0.state == .present)
    #expect(p0.pfn != nil && p0.mapcount == 1 && p0.exclusive == true && p0.anonExclusive == true)
    #expect(p0.shared == false)
    #expect(p0.contents == PageContents(fill: 0x41, bytes: [100: 0x68, 101: 0x65, 102: 0x6c, 103: 0x6c, 104: 0x6f]))
    #expect(try f.info(1).state == .none)
    let read = try f.run(.readBytes(addr: f.a + 98, count: 8))
    #expect(read.result == .ok && read.bytes == [0x41, 0x41] + Array("hello".utf8) + [0x41])
    let info = try f.b.processInfo(f.p)
    #expect(info.rssPages == 1 && info.anonPages == 1 && info.shmemPages == 0 && info.vmaCount == 1)
  }

  @Test func largeWritesAndReadsAreSplitIntoMessagesTransparently() throws {
    let f = try Fixture(pages: 32)
    defer { f.b.shutdown() }
    let bytes = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
    #expect(try f.run(.writeBytes(addr: f.a + 3, bytes: bytes)).result == .ok)
    let back = try f.run(.readBytes(addr: f.a + 3, count: bytes.count))
    #expect(back.result == .ok && back.bytes == bytes)
    #expect(try f.b.processInfo(f.p).rssPages == 25)
  }

  @Test func readOfAnEmptyPageMapsTheZeroPage() throws {
    let f = try Fixture()
    defer { f.b.shutdown() }
    #expect(try f.run(.touch(addr: f.a + page, write: false, fill: nil)).result == .ok)
    let z = try f.info(1)
    #expect(z.state == .zeroPage && z.mapcount == 0 && z.exclusive == false && z.anonExclusive == nil)
    #expect(z.contents == .zero)
    #expect(try f.b.processInfo(f.p).rssPages == 0)
    // A write without a fill byte is a write fault that keeps the contents.
    #expect(try f.run(.touch(addr: f.a + page, write: true, fill: nil)).result == .ok)
    let w = try f.info(1)
    #expect(w.state == .present && w.anonExclusive == true && w.contents == .zero)
  }

  @Test func forkSharesThePageAndClearsAnonExclusive() throws {
    let f = try Fixture()
    defer { f.b.shutdown() }
    _ = try f.write(0, 0x41)
    let before = try f.info(0)
    let forked = try f.run(.fork)
    let child = PID(Int32(try #require(forked.value)))
    #expect(f.b.processes == [f.p, child])
    #expect(f.b.parent(of: child) == f.p)
    let parentView = try f.info(0)
    let childView = try f.info(0, in: child)
    #expect(parentView.pfn == before.pfn && childView.pfn == before.pfn)
    #expect(parentView.mapcount == 2 && parentView.exclusive == false && parentView.anonExclusive == false)
    #expect(childView.contents == PageContents(fill: 0x41))
    // The child's write copies; the parent's page is mapped once again but stays !PAE.
    _ = try f.write(0, 0x42, in: child)
    let copied = try f.info(0, in: child)
    #expect(copied.pfn != before.pfn && copied.anonExclusive == true && copied.contents == PageContents(fill: 0x42))
    let parentAfter = try f.info(0)
    #expect(parentAfter.mapcount == 1 && parentAfter.exclusive == true && parentAfter.anonExclusive == false)
  }

  @Test func faultsAreReportedAsSignals() throws {
    let f = try Fixture()
    defer { f.b.shutdown() }
    let hole = f.a - 16 * page
    #expect(try f.run(.touch(addr: hole + 8, write: false, fill: nil)).result == .signal(.mapErr(hole + 8)))
    #expect(try f.run(.mprotect(addr: f.a, length: page, prot: .read)).result == .ok)
    #expect(try f.run(.touch(addr: f.a + 3, write: true, fill: 1)).result == .signal(.accErr(f.a + 3)))
    // A write crossing into a hole stores the bytes before it.
    #expect(try f.run(.munmap(addr: f.a + 3 * page, length: page)).result == .ok)
    let w = try f.run(.writeBytes(addr: f.a + 3 * page - 2, bytes: [1, 2, 3, 4]))
    #expect(w.result == .signal(.mapErr(f.a + 3 * page)))
    let r = try f.run(.readBytes(addr: f.a + 3 * page - 2, count: 4))
    #expect(r.bytes == [1, 2] && r.result == .signal(.mapErr(f.a + 3 * page)))
    #expect(try f.run(.munmap(addr: f.a, length: 4 * page)).result == .ok)
    #expect(try f.run(.munmap(addr: f.a + 1, length: page)).errno == .EINVAL)
  }

  @Test func missingUserfaultIsReportedWithoutBlocking() throws {
    let f = try Fixture()
    defer { f.b.shutdown() }
    let uffd = try f.run(.userfaultfd(flags: 0))
    let h = UffdHandle(rawValue: Int32(try #require(uffd.value)))
    let api = try f.run(.uffdioAPI(uffd: h, api: 0xAA, features: []))
    #expect(UffdFeatures(rawValue: try #require(api.value)).contains(.move))
    let reg = try f.run(.uffdioRegister(uffd: h, start: f.a, length: 4 * page, mode: .missing))
    #expect(try #require(reg.value) & (1 << 5) != 0)
    #expect(try f.b.vmas(of: f.p)[0].flags.contains(.uffdMissing))
    let clock = ContinuousClock()
    let t0 = clock.now
    #expect(try f.run(.touch(addr: f.a + 5, write: false, fill: nil)).result == .userfault(f.a + 5))
    #expect(clock.now - t0 < .milliseconds(500))
    #expect(try f.info(0).state == .none)
    // Resolve page 0 with the zero page; a write spanning pages 0 and 1 then stops at 1.
    let zp = try f.run(.uffdioZeropage(uffd: h, dst: f.a, length: page, mode: []))
    #expect(zp.result == .ok && zp.field == Int64(page))
    #expect(try f.b.processInfo(f.p).rssPages == 0)
    let w = try f.run(.writeBytes(addr: f.a + page - 2, bytes: [7, 8, 9]))
    #expect(try f.b.processInfo(f.p).rssPages == 1)
    #expect(w.result == .userfault(f.a + page))
    #expect(try f.run(.readBytes(addr: f.a + page - 2, count: 2)).bytes == [7, 8])
    // MADV_POPULATE_READ would wait inside the kernel at the same page: refused, as the
    // model refuses it, before anything changes.
    #expect(try refused(f.run(.madvise(addr: f.a, length: 4 * page, advice: .POPULATE_READ))))
    #expect(try f.info(2).state == .none)
    // A field the kernel did not write comes back nil.
    let bad = try f.run(.uffdioMove(uffd: h, dst: f.a + 1, src: f.a, length: page, mode: []))
    #expect(bad.errno == .EINVAL && bad.field == nil)
  }

  @Test func copyFromAMissingSourceStopsAtTheUserfault() throws {
    let f = try Fixture(pages: 8)
    defer { f.b.shutdown() }
    let src = f.a
    let dst = f.a + 4 * page
    let h = UffdHandle(rawValue: Int32(try #require(try f.run(.userfaultfd(flags: 0)).value)))
    _ = try f.run(.uffdioAPI(uffd: h, api: 0xAA, features: []))
    _ = try f.run(.uffdioRegister(uffd: h, start: f.a, length: 8 * page, mode: .missing))
    // Nothing before the blocking source page: the kernel's checks run, then it would
    // wait inside the ioctl, which is refused as the model refuses it.
    #expect(try refused(f.run(.uffdioCopy(uffd: h, dst: dst, src: src, length: page, mode: []))))
    #expect(try f.run(.uffdioCopy(uffd: h, dst: dst + 1, src: src, length: page, mode: [])).errno == .EINVAL)
    #expect(try f.run(.uffdioCopy(uffd: h, dst: Arena.start, src: src, length: page, mode: [])).errno == .ENOENT)
    #expect(try f.info(4).state == .none)
    // Source page 0 resolved: a 2-page copy would copy it, then wait on source page 1
    // inside the ioctl; refused before anything is copied.
    #expect(try refused(f.run(.uffdioCopy(uffd: h, dst: src, src: dst + page, length: page, mode: []))))
    _ = try f.run(.uffdioZeropage(uffd: h, dst: dst + 3 * page, length: page, mode: []))
    let zero = try f.run(.uffdioCopy(uffd: h, dst: src, src: dst + 3 * page, length: page, mode: []))
    #expect(zero.result == .ok && zero.field == Int64(page))
    _ = try f.run(.writeBytes(addr: src + 9, bytes: [0x5a]))
    #expect(try refused(f.run(.uffdioCopy(uffd: h, dst: dst, src: src, length: 2 * page, mode: []))))
    #expect(try f.info(4).state == .none)
    #expect(try f.info(5).state == .none)
  }

  @Test func blockedAccessTheBackendCannotForeseeIsCaughtByTheWatchdog() throws {
    let f = try Fixture()
    defer { f.b.shutdown() }
    // A SIGBUS uffd in the process hides which uffd owns a VMA: the access is made.
    let sigbus = UffdHandle(rawValue: Int32(try #require(try f.run(.userfaultfd(flags: 0)).value)))
    let plain = UffdHandle(rawValue: Int32(try #require(try f.run(.userfaultfd(flags: 0)).value)))
    #expect(try f.run(.uffdioAPI(uffd: sigbus, api: 0xAA, features: .sigbus)).result == .ok)
    #expect(try f.run(.uffdioAPI(uffd: plain, api: 0xAA, features: [])).result == .ok)
    _ = try f.run(.uffdioRegister(uffd: sigbus, start: f.a, length: page, mode: .missing))
    _ = try f.run(.uffdioRegister(uffd: plain, start: f.a + page, length: page, mode: .missing))
    #expect(try f.run(.touch(addr: f.a, write: false, fill: nil)).result == .signal(.busAdrErr(f.a)))
    #expect(try f.run(.touch(addr: f.a + page, write: false, fill: nil)).result == .userfault(f.a + page))
    // The worker is still serving.
    #expect(try f.run(.touch(addr: f.a + 2 * page, write: true, fill: 3)).result == .ok)
  }

  @Test func uffdioMoveMovesTheSameFrame() throws {
    let f = try Fixture(pages: 8)
    defer { f.b.shutdown() }
    let src = f.a
    let dst = f.a + 4 * page
    _ = try f.write(0, 0x53)
    let frame = try f.info(0).pfn
    let h = UffdHandle(rawValue: Int32(try #require(try f.run(.userfaultfd(flags: 0)).value)))
    _ = try f.run(.uffdioAPI(uffd: h, api: 0xAA, features: []))
    _ = try f.run(.uffdioRegister(uffd: h, start: dst, length: 4 * page, mode: .missing))
    let moved = try f.run(.uffdioMove(uffd: h, dst: dst, src: src, length: page, mode: []))
    #expect(moved.result == .ok && moved.field == Int64(page))
    let d = try f.info(4)
    #expect(d.pfn == frame && d.mapcount == 1 && d.anonExclusive == true && d.contents == PageContents(fill: 0x53))
    #expect(try f.info(0).state == .none)
    let hole = try f.run(.uffdioMove(uffd: h, dst: dst + page, src: src + page, length: page, mode: []))
    #expect(hole.errno == .ENOENT && hole.field == -Int64(Errno.ENOENT.rawValue))
  }

  @Test func uffdioMoveOfAPageSharedWithAForkChildIsEBUSY() throws {
    let f = try Fixture(pages: 8)
    defer { f.b.shutdown() }
    _ = try f.write(0, 0x53)
    let h = UffdHandle(rawValue: Int32(try #require(try f.run(.userfaultfd(flags: 0)).value)))
    _ = try f.run(.uffdioAPI(uffd: h, api: 0xAA, features: []))
    _ = try f.run(.uffdioRegister(uffd: h, start: f.a + 4 * page, length: 4 * page, mode: .missing))
    let child = PID(Int32(try #require(try f.run(.fork).value)))
    let busy = try f.run(.uffdioMove(uffd: h, dst: f.a + 4 * page, src: f.a, length: page, mode: []))
    #expect(busy.errno == .EBUSY && busy.field == -Int64(Errno.EBUSY.rawValue))
    // Still EBUSY after the child exited: the parent's page is not anon-exclusive.
    #expect(try f.run(.exit, in: child).result == .ok)
    #expect(!alive(child))
    #expect(try f.run(.uffdioMove(uffd: h, dst: f.a + 4 * page, src: f.a, length: page, mode: [])).errno == .EBUSY)
  }

  @Test func pinnedPageIsCopiedForTheForkChildAndCannotMove() throws {
    let f = try Fixture(pages: 8)
    defer { f.b.shutdown() }
    _ = try f.write(0, 0x50)
    let pin = try f.run(.pin(addr: f.a, length: page))
    try #require(pin.result == .ok, "pin: \(pin)")
    let frame = try f.info(0).pfn
    let child = PID(Int32(try #require(try f.run(.fork).value)))
    let mine = try f.info(0)
    let theirs = try f.info(0, in: child)
    #expect(mine.pfn == frame && mine.mapcount == 1 && mine.anonExclusive == true)
    #expect(theirs.pfn != frame && theirs.mapcount == 1 && theirs.contents == PageContents(fill: 0x50))
    let h = UffdHandle(rawValue: Int32(try #require(try f.run(.userfaultfd(flags: 0)).value)))
    _ = try f.run(.uffdioAPI(uffd: h, api: 0xAA, features: []))
    _ = try f.run(.uffdioRegister(uffd: h, start: f.a + 4 * page, length: 4 * page, mode: .missing))
    #expect(try f.run(.uffdioMove(uffd: h, dst: f.a + 4 * page, src: f.a, length: page, mode: [])).errno == .EBUSY)
    #expect(try f.run(.unpin(addr: f.a, length: page)).result == .ok)
    #expect(try f.run(.unpin(addr: f.a, length: page)).errno == .EINVAL)
    #expect(try f.run(.uffdioMove(uffd: h, dst: f.a + 4 * page, src: f.a, length: page, mode: [])).result == .ok)
  }

  @Test func growingMremapMovesToThePlacedAddressKeepingTheFrame() throws {
    let b = try LinuxBackend()
    defer { b.shutdown() }
    let p = b.initialProcess
    let top = Arena.end
    func map(_ pages: UInt64) throws -> OpOutcome {
      try b.perform(.mmap(addr: VirtAddr(0), length: pages * page, prot: rw, flags: anon), in: p)
    }
    // A read-only page at the top blocks in-place growth of the mapping below it.
    _ = try b.perform(.mmap(addr: VirtAddr(0), length: page, prot: .read, flags: anon), in: p)
    let m = VirtAddr(try #require(try map(4).value))
    #expect(m == top - 5 * page)
    _ = try b.perform(.touch(addr: m, write: true, fill: 0x4d), in: p)
    let frame = try b.pages(of: p, at: m, count: 1)[0].pfn
    let noMove = try b.perform(.mremap(oldAddr: m, oldLength: 4 * page, newLength: 5 * page, flags: [], newAddr: VirtAddr(0)), in: p)
    #expect(noMove.errno == .ENOMEM)
    let moved = try b.perform(.mremap(oldAddr: m, oldLength: 4 * page, newLength: 5 * page, flags: .maymove, newAddr: VirtAddr(0)), in: p)
    let n = top - 10 * page
    #expect(moved.result == .ok && moved.value == n.rawValue)
    let after = try b.pages(of: p, at: n, count: 1)[0]
    #expect(after.pfn == frame && after.contents == PageContents(fill: 0x4d))
    #expect(try b.pages(of: p, at: m, count: 1)[0].state == .none)
    // The old range is free now: the next growth happens in place.
    let inPlace = try b.perform(.mremap(oldAddr: n, oldLength: 5 * page, newLength: 6 * page, flags: .maymove, newAddr: VirtAddr(0)), in: p)
    #expect(inPlace.result == .ok && inPlace.value == n.rawValue)
    let vmas = try b.vmas(of: p)
    #expect(vmas.map(\.start) == [n, top - page] && vmas[0].end == n + 6 * page)
    // A 2 MiB-multiple move of a private VMA is 2 MiB aligned.
    let big = try b.perform(.mremap(oldAddr: n, oldLength: 6 * page, newLength: pmdSize, flags: .maymove, newAddr: VirtAddr(0)), in: p)
    let bigAddr = try #require(big.value)
    #expect(big.result == .ok && bigAddr % pmdSize == 0 && bigAddr + pmdSize <= n.rawValue)
    #expect(try b.pages(of: p, at: VirtAddr(bigAddr), count: 1)[0].pfn == frame)
  }

  @Test func sharedAnonymousPagesShowTheShmemInode() throws {
    let f = try Fixture(flags: [.shared, .anonymous])
    defer { f.b.shutdown() }
    _ = try f.write(0, 0x21)
    let v = try f.b.vmas(of: f.p)[0]
    #expect(v.isShared && v.shmemInode != nil && v.mapsLine.contains("/dev/zero (deleted)"))
    let p0 = try f.info(0)
    #expect(p0.state == .present && p0.shared && p0.anonExclusive == nil && p0.contents == PageContents(fill: 0x21))
    let info = try f.b.processInfo(f.p)
    #expect(info.rssPages == 1 && info.shmemPages == 1 && info.anonPages == 0)
  }

  @Test func withoutFramesTheZeroPageIsStillRecognised() throws {
    let b = try LinuxBackend(frames: false)
    defer { b.shutdown() }
    #expect(!b.capabilities.frames && b.capabilities.unavailableReason != nil)
    let a = VirtAddr(try #require(try b.perform(.mmap(addr: VirtAddr(0), length: 2 * page, prot: rw, flags: anon), in: b.initialProcess).value))
    _ = try b.perform(.touch(addr: a, write: false, fill: nil), in: b.initialProcess)
    _ = try b.perform(.touch(addr: a + page, write: true, fill: 9), in: b.initialProcess)
    let pages = try b.pages(of: b.initialProcess, at: a, count: 2)
    #expect(pages[0].state == .zeroPage && pages[0].pfn == nil && pages[0].mapcount == nil)
    #expect(pages[1].state == .present && pages[1].exclusive == true && pages[1].anonExclusive == nil)
    #expect(pages[1].contents == PageContents(fill: 9))
  }

  @Test func addressesOutsideTheArenaAreRefusedBeforeAnySyscall() throws {
    let b = try LinuxBackend()
    defer { b.shutdown() }
    let p = b.initialProcess
    #expect(throws: BackendError.self) { try b.perform(.munmap(addr: VirtAddr(0x1000), length: page), in: p) }
    #expect(throws: BackendError.self) { try b.perform(.touch(addr: VirtAddr(0x40_0000), write: true, fill: 1), in: p) }
    #expect(throws: BackendError.self) {
      try b.perform(.mmap(addr: Arena.end - page, length: 2 * page, prot: rw, flags: [.private, .anonymous, .fixed]), in: p)
    }
    #expect(throws: BackendError.self) { try b.pages(of: p, at: VirtAddr(0x1000), count: 1) }
    // remap_anon_pages has no kernel implementation.
    let rap = try b.perform(.remapAnonPages(dst: Arena.start, src: Arena.start, length: page, flags: []), in: p)
    guard case .notModelled = rap.result else {
      Issue.record("remap_anon_pages was not refused: \(rap)")
      return
    }
  }

  @Test func noWorkerOutlivesShutdown() throws {
    let b = try LinuxBackend()
    let p = b.initialProcess
    let c1 = PID(Int32(try #require(try b.perform(.fork, in: p).value)))
    let c2 = PID(Int32(try #require(try b.perform(.fork, in: c1).value)))
    #expect(b.processes == [p, c1, c2] && b.parent(of: c2) == c1)
    #expect([p, c1, c2].allSatisfy(alive))
    b.shutdown()
    b.shutdown()
    #expect(b.processes.isEmpty)
    #expect(![p, c1, c2].contains(where: alive))
  }

  @Test func roundTripLatency() throws {
    let f = try Fixture(pages: 1)
    defer { f.b.shutdown() }
    _ = try f.write(0, 1)
    let n = 10_000
    let clock = ContinuousClock()
    let t = try clock.measure {
      for _ in 0..<n { _ = try f.run(.touch(addr: f.a, write: true, fill: nil)) }
    }
    let ns = Double(t.components.seconds) * 1e9 + Double(t.components.attoseconds) / 1e9
    print("linux backend: \(n) touches, \(Int(ns / Double(n))) ns per round trip")
    #expect(ns / Double(n) < 1_000_000)
  }
}

/// Whether the backend refused an operation as not modelled (one that would wait in a
/// userfault inside the kernel).
func refused(_ o: OpOutcome) -> Bool {
  if case .notModelled = o.result { return true }
  return false
}
