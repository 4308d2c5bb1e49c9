// The same work as the sim workloads, done by this process on the live kernel, so
// both sides are measured in one run on one machine.
import CMopsLinux
import Glibc
import MopsABI

enum Live {
  static let page = Int(pageSize)

  /// Maps `pages` private anonymous read-write pages at `addr` (MAP_FIXED_NOREPLACE).
  static func map(_ addr: VirtAddr, pages: Int, prot: Int32 = PROT_READ | PROT_WRITE) -> UnsafeMutableRawPointer? {
    let p = mmap(
      UnsafeMutableRawPointer(bitPattern: UInt(addr.rawValue)), pages * page, prot,
      MAP_PRIVATE | MAP_ANONYMOUS | 0x100000, -1, 0)
    return p == MAP_FAILED ? nil : p
  }

  static func touch(_ p: UnsafeMutableRawPointer, pages: Int) {
    for i in 0..<pages { p.storeBytes(of: 0x41, toByteOffset: i * page, as: UInt8.self) }
  }

  /// Pins this process to CPU 0 so COW reuse does not depend on per-CPU LRU batches.
  static func pinToCPU0() {
    _ = mops_pin_to_cpu(0)
  }

  static func writeFaults(_ n: Int) -> Double? {
    guard let p = map(Arena.start, pages: n) else { return nil }
    defer { munmap(p, n * page) }
    return timed { touch(p, pages: n) }
  }

  static func fork(pages n: Int, scattered: Bool = false) -> Double? {
    guard let p = map(Arena.start, pages: n) else { return nil }
    defer { munmap(p, n * page) }
    if scattered {
      for i in 0..<n { p.storeBytes(of: 0x41, toByteOffset: scatteredPage(i, of: n) * page, as: UInt8.self) }
    } else {
      touch(p, pages: n)
    }
    var child: pid_t = 0
    let t = timed { child = Glibc.fork() }
    if child == 0 { _exit(0) }
    var status: Int32 = 0
    waitpid(child, &status, 0)
    return child > 0 ? t : nil
  }

  static func uffdMoves(_ n: Int) -> Double? {
    let srcAddr = Arena.start
    let dstAddr = Arena.start + UInt64(n * page) + pmdSize
    guard let src = map(srcAddr, pages: n), let dst = map(dstAddr, pages: n) else { return nil }
    defer {
      munmap(src, n * page)
      munmap(dst, n * page)
    }
    touch(src, pages: n)
    let fd = mops_userfaultfd(0)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var features: UInt64 = 0
    var ioctls: UInt64 = 0
    guard mops_uffdio_api(fd, 0xAA, &features, &ioctls) == 0,
      mops_uffdio_register(fd, dstAddr.rawValue, UInt64(n * page), 1, &ioctls) == 0
    else { return nil }
    var moved: Int64 = 0
    var failed = false
    let t = timed {
      for i in 0..<n {
        let off = UInt64(i * page)
        if mops_uffdio_move(fd, dstAddr.rawValue + off, srcAddr.rawValue + off, pageSize, 0, &moved) != 0 {
          failed = true
        }
      }
    }
    return failed ? nil : t
  }

  static func mremapMoves(_ n: Int) -> Double? {
    let srcAddr = Arena.start
    let dstAddr = Arena.start + UInt64(n * page) + pmdSize
    guard let src = map(srcAddr, pages: n), let dst = map(dstAddr, pages: n) else { return nil }
    defer {
      munmap(src, n * page)
      munmap(dst, n * page)
    }
    touch(src, pages: n)
    var failed = false
    let t = timed {
      for i in 0..<n {
        let off = UInt64(i * page)
        let r = mops_mremap(srcAddr.rawValue + off, pageSize, pageSize, 3, dstAddr.rawValue + off)
        if r < 0 { failed = true }
      }
    }
    return failed ? nil : t
  }

  /// Splits one mapping into `vmas` VMAs by making every other page read-only.
  static func splits(vmas: Int) -> Double? {
    guard let p = map(Arena.start, pages: vmas) else { return nil }
    defer { munmap(p, vmas * page) }
    var failed = false
    let t = timed {
      var i = 1
      while i < vmas {
        if mprotect(p + i * page, page, PROT_READ) != 0 { failed = true }
        i += 2
      }
    }
    return failed ? nil : t
  }

  /// VMAs this process already has (maps lines), which count against max_map_count.
  static func mapCount() -> Int {
    guard let f = fopen("/proc/self/maps", "r") else { return 0 }
    defer { fclose(f) }
    var lines = 0
    while true {
      let c = getc(f)
      if c == EOF { break }
      if c == 10 { lines += 1 }
    }
    return lines
  }
}
