// mremap calls that may move without MREMAP_FIXED: the live backend must give the
// kernel's own answers (spec vma-mmap-mremap.md §7-§8) while never letting the kernel
// place a mapping outside the arena.
import CMopsLinux
import Glibc
import MopsABI
import MopsBackend
import Testing

@testable import LinuxBackend

private let page = pageSize
private let rw = Prot.readWrite
private let anon: MapFlags = [.private, .anonymous]
private let fixed: MapFlags = [.private, .anonymous, .fixedNoreplace]
private let moveDontunmap: MremapFlags = [.maymove, .dontunmap]

@Suite(.serialized) struct LiveMremap {
  private func mremap(
    _ b: LinuxBackend, _ old: VirtAddr, _ oldLen: UInt64, _ newLen: UInt64, _ flags: MremapFlags, _ new: UInt64 = 0
  ) throws -> OpOutcome {
    try b.perform(.mremap(oldAddr: old, oldLength: oldLen, newLength: newLen, flags: flags, newAddr: VirtAddr(new)), in: b.initialProcess)
  }

  @Test func dontunmapWithoutFixedKeepsTheSingleVMARule() throws {
    let b = try LinuxBackend()
    defer { b.shutdown() }
    let p = b.initialProcess
    let a = Arena.start
    _ = try b.perform(.mmap(addr: a, length: 2 * page, prot: rw, flags: fixed), in: p)
    _ = try b.perform(.mmap(addr: a + 2 * page, length: 2 * page, prot: .read, flags: fixed), in: p)
    _ = try b.perform(.touch(addr: a, write: true, fill: 0x61), in: p)
    // Spanning two VMAs: EFAULT (with FIXED added it would be a pure move and succeed).
    #expect(try mremap(b, a, 4 * page, 4 * page, moveDontunmap, a.rawValue + 16 * page).errno == .EFAULT)
    #expect(try b.vmas(of: p).count == 2)
    // The hint's own checks come first: overlapping the source, unaligned.
    #expect(try mremap(b, a, 2 * page, 2 * page, moveDontunmap, a.rawValue + page).errno == .EINVAL)
    #expect(try mremap(b, a, 2 * page, 2 * page, moveDontunmap, a.rawValue + 16 * page + 1).errno == .EINVAL)
    #expect(try mremap(b, a, 2 * page, 3 * page, moveDontunmap, a.rawValue + 16 * page).errno == .EINVAL)
    #expect(try mremap(b, a + 64 * page, 2 * page, 2 * page, moveDontunmap, a.rawValue + 16 * page).errno == .EFAULT)
    // A free hint is used exactly; an occupied one gives the arena's top-down placement.
    let frame = try b.pages(of: p, at: a, count: 1)[0].pfn
    let hinted = try mremap(b, a, page, page, moveDontunmap, a.rawValue + 16 * page)
    #expect(hinted.result == .ok && hinted.value == a.rawValue + 16 * page)
    #expect(try b.pages(of: p, at: a + 16 * page, count: 1)[0].pfn == frame)
    #expect(try b.pages(of: p, at: a, count: 1)[0].state == .none)
    let occupied = try mremap(b, a + 16 * page, page, page, moveDontunmap, a.rawValue + 2 * page)
    #expect(occupied.result == .ok && occupied.value == Arena.end.rawValue - page)
    #expect(try b.pages(of: p, at: Arena.end - page, count: 1)[0].pfn == frame)
    // Nothing ever lands outside the arena.
    let maps = try #require(ProcFS.readFile("/proc/\(p.rawValue)/maps"))
    let inArena = ProcFS.parseSmaps(maps).map(\.info.start)
    // (DONTUNMAP does not split the source VMA.)
    #expect(inArena == [a, a + 2 * page, a + 16 * page, Arena.end - page])
  }

  /// spec §8: MREMAP_FIXED and DONTUNMAP refuse at map_count >= max - 5, the kernel's own
  /// MAYMOVE move only at map_count >= max - 3. Fills the worker with ~65500 VMAs, which
  /// takes about two minutes in a debug build: runs only with MOPS_SLOW_TESTS set.
  @Test(.enabled(if: getenv("MOPS_SLOW_TESTS") != nil, "set MOPS_SLOW_TESTS=1 to fill a worker up to vm.max_map_count"))
  func maymoveNearMaxMapCountIsRefusedRatherThanAnsweredWrongly() throws {
    let b = try LinuxBackend()
    defer { b.shutdown() }
    let p = b.initialProcess
    let a = Arena.start
    _ = try b.perform(.mmap(addr: a, length: 2 * page, prot: rw, flags: fixed), in: p)
    _ = try b.perform(.mmap(addr: a + 2 * page, length: page, prot: .read, flags: fixed), in: p)
    _ = try b.perform(.touch(addr: a, write: true, fill: 0x61), in: p)
    let limit = try #require(ProcFS.readFile("/proc/sys/vm/max_map_count").flatMap {
      Int(String(decoding: $0, as: UTF8.self).filter(\.isNumber))
    })
    func count() throws -> Int {
      let maps = try #require(ProcFS.readFile("/proc/\(p.rawValue)/maps"))
      return maps.split(separator: 0x0a).count - (String(decoding: maps, as: UTF8.self).contains("[vsyscall]") ? 1 : 0)
    }
    var next = a + 0x1000_0000
    var filler = 0
    func fill(upTo target: Int) throws {
      for _ in 0..<(target - (try count())) {
        let prot: Prot = filler & 1 == 0 ? .read : []
        _ = try b.perform(.mmap(addr: next, length: page, prot: prot, flags: fixed), in: p)
        next = next + 2 * page
        filler += 1
      }
      #expect(try count() == target)
    }
    try fill(upTo: limit - 5)
    #expect(try mremap(b, a, 2 * page, 2 * page, moveDontunmap, a.rawValue + 64 * page).errno == .ENOMEM)
    let grow = try mremap(b, a, 2 * page, 4 * page, .maymove)
    guard case .notModelled = grow.result else {
      Issue.record("at max_map_count - 5 the kernel moves; the backend answered \(grow)")
      return
    }
    #expect(try b.vmas(of: p).first?.end == a + 2 * page)
    try fill(upTo: limit - 3)
    #expect(try mremap(b, a, 2 * page, 4 * page, .maymove).errno == .ENOMEM)
  }
}
