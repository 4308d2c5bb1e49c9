// Observing never changes the live kernel's state (design.md, "Observations"): reading
// a page's state, frame, mapcount and contents must not change what the next fault or
// madvise does. Before contents were read inside the worker, a pread of /proc/PID/mem
// (GUP with FOLL_TOUCH) activated the folio and left a reference in a per-CPU LRU batch:
// the parent's write after fork + child exit then copied instead of reusing, and
// MADV_PAGEOUT kept a lazy-free page instead of discarding it. Needs root (frames).
import CMopsLinux
import Glibc
import MopsABI
import MopsBackend
import Testing

@testable import LinuxBackend

private let page = pageSize
private let rw = Prot.readWrite
private let anon: MapFlags = [.private, .anonymous]

/// Runs `body` with the calling thread pinned to the highest CPU it may use, away from
/// the workers (pinned to the lowest): a per-CPU LRU batch reference left by an
/// observation on the controller's CPU is what the worker's own lru_add_drain() cannot
/// drain, so this is where a side effect would show most.
private func awayFromTheWorkers<T>(_ body: () throws -> T) rethrows -> T {
  var saved = [UInt8](repeating: 0, count: 128)
  guard mops_get_affinity(&saved, saved.count) == 0 else { return try body() }
  let cpus = (0..<saved.count * 8).filter { saved[$0 / 8] & (1 << ($0 % 8)) != 0 }
  guard cpus.count > 1, let last = cpus.last, mops_pin_to_cpu(Int32(last)) == 0 else { return try body() }
  defer { _ = mops_set_affinity(saved, saved.count) }
  return try body()
}

@Suite(.serialized) struct ObservationHasNoSideEffects {
  /// A backend with a `pages`-page private anonymous mapping in the initial process.
  private func start(pages: UInt64 = 1) throws -> (LinuxBackend, PID, VirtAddr) {
    let b = try LinuxBackend()
    let p = b.initialProcess
    let r = try b.perform(.mmap(addr: VirtAddr(0), length: pages * page, prot: rw, flags: anon), in: p)
    return (b, p, VirtAddr(try #require(r.value)))
  }

  private func observe(_ b: LinuxBackend, _ p: PID, _ a: VirtAddr, times: Int) throws {
    try awayFromTheWorkers {
      for _ in 0..<times {
        let info = try #require(try b.pages(of: p, at: a, count: 1).first)
        #expect(info.state == .present && info.contents != nil)
      }
    }
  }

  @Test(arguments: [0, 1, 2, 3, 4, 8])
  func observingAfterForkAndChildExitKeepsReuse(times: Int) throws {
    let (b, p, a) = try start()
    defer { b.shutdown() }
    _ = try b.perform(.touch(addr: a, write: true, fill: 0x41), in: p)
    let child = PID(Int32(try #require(try b.perform(.fork, in: p).value)))
    #expect(try b.perform(.exit, in: child).result == .ok)
    try observe(b, p, a, times: times)
    let before = try b.pages(of: p, at: a, count: 1)[0]
    #expect(before.mapcount == 1 && before.anonExclusive == false)
    #expect(try b.perform(.touch(addr: a, write: true, fill: 0x42), in: p).result == .ok)
    let after = try b.pages(of: p, at: a, count: 1)[0]
    // wp_can_reuse_anon_folio(): refcount 1, so the page is reused in place.
    #expect(after.pfn == before.pfn, "observed \(times) times: the write fault copied the page")
    #expect(after.anonExclusive == true && after.contents == PageContents(fill: 0x42))
  }

  @Test(arguments: [0, 2, 3, 8])
  func observingAfterTheChildWroteFirstKeepsReuse(times: Int) throws {
    let (b, p, a) = try start()
    defer { b.shutdown() }
    _ = try b.perform(.touch(addr: a, write: true, fill: 0x41), in: p)
    let original = try b.pages(of: p, at: a, count: 1)[0].pfn
    let child = PID(Int32(try #require(try b.perform(.fork, in: p).value)))
    _ = try b.perform(.touch(addr: a, write: true, fill: 0x43), in: child)
    try observe(b, p, a, times: times)
    try observe(b, child, a, times: times)
    #expect(try b.perform(.touch(addr: a, write: true, fill: 0x50), in: p).result == .ok)
    let after = try b.pages(of: p, at: a, count: 1)[0]
    #expect(after.pfn == original, "observed \(times) times: the write fault copied the page")
    #expect(try b.pages(of: child, at: a, count: 1)[0].contents == PageContents(fill: 0x43))
  }

  @Test(arguments: [0, 2, 3, 8])
  func observingALazyFreePageLetsPageoutDiscardIt(times: Int) throws {
    let (b, p, a) = try start()
    defer { b.shutdown() }
    _ = try b.perform(.touch(addr: a, write: true, fill: 0x41), in: p)
    #expect(try b.perform(.madvise(addr: a, length: page, advice: .FREE), in: p).result == .ok)
    try observe(b, p, a, times: times)
    #expect(try b.perform(.madvise(addr: a, length: page, advice: .PAGEOUT), in: p).result == .ok)
    #expect(try b.pages(of: p, at: a, count: 1)[0].state == .none, "observed \(times) times: the page was kept")
  }

  @Test func contentsOfAVMAWithoutReadPermissionAreNotObserved() throws {
    let (b, p, a) = try start(pages: 2)
    defer { b.shutdown() }
    _ = try b.perform(.touch(addr: a, write: true, fill: 0x41), in: p)
    _ = try b.perform(.touch(addr: a + page, write: true, fill: 0x42), in: p)
    for prot in [Prot(), .write] {
      #expect(try b.perform(.mprotect(addr: a, length: page, prot: prot), in: p).result == .ok)
      let pages = try b.pages(of: p, at: a, count: 2)
      // Still present with its frame, mapcount and flags; only the contents are unknown.
      #expect(pages[0].state == .present && pages[0].pfn != nil && pages[0].mapcount == 1)
      #expect(pages[0].contents == nil)
      #expect(pages[1].contents == PageContents(fill: 0x42))
    }
    #expect(try b.perform(.mprotect(addr: a, length: page, prot: .read), in: p).result == .ok)
    #expect(try b.pages(of: p, at: a, count: 1)[0].contents == PageContents(fill: 0x41))
  }

  @Test func contentsOfManyPagesSpanSeveralWorkerMessages() throws {
    let n: UInt64 = 40
    let (b, p, a) = try start(pages: n)
    defer { b.shutdown() }
    var expected: [PageContents?] = []
    for i in 0..<n {
      let addr = a + i * page
      switch i % 5 {
      case 0:  // a page of distinct bytes: a full page on the wire
        let bytes = (0..<Int(page)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(i)) }
        _ = try b.perform(.writeBytes(addr: addr, bytes: bytes), in: p)
        expected.append(PageContents(page: bytes))
      case 1:  // never touched
        expected.append(nil)
      case 2:  // the zero page
        _ = try b.perform(.touch(addr: addr, write: false, fill: nil), in: p)
        expected.append(.zero)
      case 3:  // one byte differs
        _ = try b.perform(.touch(addr: addr, write: true, fill: UInt8(i)), in: p)
        _ = try b.perform(.writeBytes(addr: addr + 7, bytes: [0xee]), in: p)
        expected.append(PageContents(fill: UInt8(i), bytes: [7: 0xee]))
      default:  // written with zeros: present, not the zero page
        _ = try b.perform(.touch(addr: addr, write: true, fill: 0), in: p)
        expected.append(.zero)
      }
    }
    let pages = try b.pages(of: p, at: a, count: Int(n))
    for (i, info) in pages.enumerated() {
      #expect(info.contents == expected[i], "page \(i)")
      #expect(info.state == (i % 5 == 1 ? .none : i % 5 == 2 ? .zeroPage : .present), "page \(i)")
    }
    // Observing faulted nothing in.
    #expect(try b.processInfo(p).rssPages == Int(n / 5 * 3))
    #expect(try b.pages(of: p, at: a + page, count: 1)[0].state == .none)
  }
}
