/// A small, fast, seedable generator (SplitMix64), so a campaign is repeatable.
public struct SplitMix64: RandomNumberGenerator, Sendable {
  var state: UInt64
  public init(seed: UInt64) { state = seed }
  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

/// Writes random valid `.mops` scripts over every operation: fork trees, DONTFORK and
/// WIPEONFORK, mremap moves and resizes, userfaultfd registrations, moves with and
/// without holes, COPY and ZEROPAGE, DONTNEED and FREE, mprotect, touches and byte
/// writes, pins.
///
/// Scripts are text, so a disagreement can be written out as a fixture. Every name is
/// bound before it is used; statements may still fail (that is the point: both
/// backends must fail the same way). Sizes stay small (at most 64 pages a region) so
/// no region can hold a 2 MiB-aligned huge page range, and MADV_HUGEPAGE is never
/// generated: THP is not modelled.
public struct ScriptGenerator {
  var rng: SplitMix64
  var regions: [(name: String, pages: Int)] = []
  var children: [String] = []
  var exited: Set<String> = []
  var uffds: [String] = []
  var counter = 0

  public init(seed: UInt64) { rng = SplitMix64(seed: seed) }

  /// A script of `count` statements (blocks count as one).
  public mutating func script(statements count: Int) -> [String] {
    regions = []
    children = []
    exited = []
    uffds = []
    var lines: [String] = []
    lines.append(mmap())
    lines.append(mmap())
    while lines.count < count { lines.append(statement()) }
    return lines
  }

  mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &rng) }
  mutating func chance(_ percent: Int) -> Bool { int(0...99) < percent }
  mutating func pick<T>(_ xs: [T]) -> T { xs[int(0...(xs.count - 1))] }

  mutating func fresh(_ prefix: String) -> String {
    counter += 1
    return "\(prefix)\(counter)"
  }

  mutating func mmap() -> String {
    let name = fresh("r")
    let pages = pick([1, 2, 3, 4, 8, 16, 64])
    regions.append((name, pages))
    var s = "\(name) = mmap \(pages) page\(pages == 1 ? "" : "s")"
    if chance(10) { s += " shared" }
    if chance(10) { s += " prot READ" } else if chance(5) { s += " prot NONE" }
    if regions.count > 1 && chance(15) {
      let other = pick(regions.dropLast().map { $0 })
      s += " at \(other.name)[\(int(0...(other.pages - 1)))] fixed"
    }
    return s
  }

  /// `r[i...j]` or `r[i]` or `r` inside the region's original size.
  mutating func range(_ r: (name: String, pages: Int)) -> String {
    switch int(0...2) {
    case 0: return r.name
    case 1: return "\(r.name)[\(int(0...(r.pages - 1)))]"
    default:
      let i = int(0...(r.pages - 1))
      let j = int(i...(r.pages - 1))
      return "\(r.name)[\(i)...\(j)]"
    }
  }

  mutating func page(_ r: (name: String, pages: Int)) -> String { "\(r.name)[\(int(0...(r.pages - 1)))]" }

  mutating func live() -> [String] { children.filter { !exited.contains($0) } }

  mutating func statement() -> String {
    let r = pick(regions)
    switch int(0...99) {
    case 0..<6: return regions.count < 8 ? mmap() : "touch \(range(r)) read"
    case 6..<24:
      let c = pick(Array("ABCDEFGH"))
      return chance(75) ? "touch \(range(r)) write '\(c)'" : "touch \(range(r)) read"
    case 24..<27: return "write \(page(r)) + \(int(0...4095)) '\(pick(Array("xyz")))'"
    case 27..<31: return "munmap \(range(r))"
    case 31..<37: return "mprotect \(range(r)) \(pick(["READ", "READ|WRITE", "NONE", "READ|WRITE"]))"
    case 37..<50:
      let advice = pick([
        "DONTFORK", "DOFORK", "WIPEONFORK", "KEEPONFORK", "DONTNEED", "FREE", "POPULATE_READ",
        "POPULATE_WRITE", "NORMAL", "RANDOM", "SEQUENTIAL", "DONTDUMP", "DODUMP", "COLD", "WILLNEED",
        "NOHUGEPAGE", "PAGEOUT", "MERGEABLE",
      ])
      return "madvise \(range(r)) \(advice)"
    case 50..<56:
      if chance(50) { return "mremap \(r.name) to \(pick([1, 2, 4, 8, 16, 32])) pages\(chance(70) ? " maymove" : "")" }
      let other = pick(regions)
      let extra = chance(20) ? " dontunmap" : ""
      return "mremap \(range(r)) at \(page(other)) maymove fixed\(extra)"
    case 56..<62:
      guard live().count < 3 else { return "on \(pick(live())) touch \(range(r)) write 'K'" }
      let name = fresh("c")
      children.append(name)
      return "\(name) = fork"
    case 62..<72:
      guard let c = live().first.map({ _ in pick(live()) }) else { return "touch \(range(r)) write 'M'" }
      let inner = pick([
        "touch \(range(r)) write 'Q'", "touch \(range(r)) read", "munmap \(range(r))",
        "madvise \(range(r)) DONTNEED", "mprotect \(range(r)) READ",
      ])
      return "on \(c) { \(inner) }"
    case 72..<75:
      guard let c = live().first.map({ _ in pick(live()) }) else { return "touch \(range(r)) read" }
      exited.insert(c)
      return "exit \(c)"
    case 75..<79:
      guard uffds.count < 2 else { return "register \(pick(uffds)) \(range(r)) missing" }
      let u = fresh("u")
      uffds.append(u)
      return "\(u) = userfaultfd\n api \(u)"
    case 79..<83:
      guard let u = uffds.first.map({ _ in pick(uffds) }) else { return "touch \(range(r)) write 'R'" }
      return chance(80) ? "register \(u) \(range(r)) missing" : "unregister \(u) \(range(r))"
    case 83..<92:
      guard let u = uffds.first.map({ _ in pick(uffds) }) else { return "touch \(range(r)) write 'S'" }
      let src = pick(regions)
      let holes = chance(30) ? " allow_src_holes" : ""
      return "remap \(range(r)) <- \(page(src))\(holes) via \(u)".replacingMode()
    case 92..<95:
      guard let u = uffds.first.map({ _ in pick(uffds) }) else { return "touch \(range(r)) read" }
      return chance(50) ? "copy \(page(r)) <- \(page(pick(regions))) via \(u)" : "zeropage \(page(r)) via \(u)"
    case 95..<97:
      return chance(60) ? "pin \(page(r))" : "unpin \(page(r))"
    default:
      return "madvise \(range(r)) \(pick(["DONTFORK", "WIPEONFORK"]))"
    }
  }
}

extension String {
  /// Moves a trailing mode word after `via NAME`, where the grammar wants it.
  fileprivate func replacingMode() -> String {
    guard let r = range(of: " allow_src_holes via ") else { return self }
    let after = self[r.upperBound...]
    return self[..<r.lowerBound] + " via " + after + " allow_src_holes"
  }
}
