// The engine workloads: the same work as Live, on the model.
import MopsABI
import MopsEngine

struct BenchFailure: Error, CustomStringConvertible {
  var description: String
}

enum Sim {
  static let anon: MapFlags = [.private, .anonymous, .fixedNoreplace]

  static func world() -> (World, PID) {
    let w = World(checksInvariants: false)
    return (w, w.initialPID)
  }

  static func map(_ w: World, _ pid: PID, _ addr: VirtAddr, pages n: Int) throws -> VirtAddr {
    try w.mmap(pid, addr: addr, length: UInt64(n) * pageSize, prot: .readWrite, flags: anon)
  }

  static func touch(_ w: World, _ pid: PID, _ base: VirtAddr, pages n: Int) throws {
    for i in 0..<n {
      let outcome = w.touch(pid, addr: base + UInt64(i) * pageSize, write: true, fill: 0x41)
      guard case .ok = outcome else { throw BenchFailure(description: "touch: \(outcome)") }
    }
  }

  /// Seconds for `n` write faults, and host bytes per resident simulated page.
  static func writeFaults(_ n: Int) throws -> (seconds: Double, bytesPerPage: Double) {
    let (w, pid) = world()
    let base = try map(w, pid, Arena.start, pages: n)
    let before = residentBytes()
    let t = try timed { try touch(w, pid, base, pages: n) }
    let bytes = Double(residentBytes() - before) / Double(n)
    withExtendedLifetime(w) {}
    return (t, bytes)
  }

  /// Seconds for one fork of a process with `n` touched pages: touched in address
  /// order, or in the scattered order of ``scatteredPage(_:of:)``, so that no page
  /// table maps consecutive frames.
  static func fork(pages n: Int, scattered: Bool = false) throws -> Double {
    let (w, pid) = world()
    let base = try map(w, pid, Arena.start, pages: n)
    if scattered {
      for i in 0..<n {
        let outcome = w.touch(pid, addr: base + UInt64(scatteredPage(i, of: n)) * pageSize, write: true, fill: 0x41)
        guard case .ok = outcome else { throw BenchFailure(description: "touch: \(outcome)") }
      }
    } else {
      try touch(w, pid, base, pages: n)
    }
    return try timed { _ = try w.fork(pid) }
  }

  static func uffdMoves(_ n: Int) throws -> Double {
    let (w, pid) = world()
    let src = try map(w, pid, Arena.start, pages: n)
    let dst = try map(w, pid, Arena.start + UInt64(n) * pageSize + pmdSize, pages: n)
    try touch(w, pid, src, pages: n)
    let u = try w.userfaultfd(pid, flags: 0)
    _ = try w.uffdioAPI(pid, u, api: 0xAA, features: [])
    _ = try w.uffdioRegister(pid, u, start: dst, length: UInt64(n) * pageSize, mode: .missing)
    return try timed {
      for i in 0..<n {
        let off = UInt64(i) * pageSize
        let r = w.uffdioMove(pid, u, dst: dst + off, src: src + off, length: pageSize, mode: [])
        if let e = r.error { throw BenchFailure(description: "UFFDIO_MOVE: \(e)") }
      }
    }
  }

  static func mremapMoves(_ n: Int) throws -> Double {
    let (w, pid) = world()
    let src = try map(w, pid, Arena.start, pages: n)
    let dst = try map(w, pid, Arena.start + UInt64(n) * pageSize + pmdSize, pages: n)
    try touch(w, pid, src, pages: n)
    return try timed {
      for i in 0..<n {
        let off = UInt64(i) * pageSize
        _ = try w.mremap(
          pid, oldAddr: src + off, oldLength: pageSize, newLength: pageSize, flags: [.maymove, .fixed],
          newAddr: dst + off)
      }
    }
  }

  static func splits(vmas: Int) throws -> Double {
    let (w, pid) = world()
    let base = try map(w, pid, Arena.start, pages: vmas)
    let t = try timed {
      var i = 1
      while i < vmas {
        try w.mprotect(pid, addr: base + UInt64(i) * pageSize, length: pageSize, prot: .read)
        i += 2
      }
    }
    let count = try w.processInfo(pid).vmaCount
    guard count == vmas else { throw BenchFailure(description: "expected \(vmas) VMAs, have \(count)") }
    return t
  }
}
