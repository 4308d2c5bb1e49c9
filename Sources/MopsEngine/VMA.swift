import MopsABI

/// A virtual memory area, `struct vm_area_struct` as the anonymous-memory code sees it.
public struct VMA: Sendable, CustomStringConvertible {
  /// First byte (page aligned).
  public var vmStart: VirtAddr
  /// One past the last byte (page aligned).
  public var vmEnd: VirtAddr
  /// All flags, including the ones maps does not show (VM_ACCOUNT, VM_DONTCOPY, …).
  public var vmFlags: VMFlags
  /// `vm_pgoff`: for private anon `vmStart >> PAGE_SHIFT` at mmap time, then carried
  /// through splits and moves; for shared anon the page offset into the shmem object.
  public var vmPgoff: UInt64
  /// `vma->anon_vma`; `.none` for a VMA that never needed one ("unfaulted").
  public var anonVMA: AnonVMA.ID = .none
  /// Links in `anon_vma_chain`: 1 for a VMA that was never part of a fork child,
  /// 2 or more in a fork child (0 while `anonVMA` is `.none`).
  public var anonVMAChainLength: UInt8 = 0
  /// The shmem object behind a shared anonymous VMA.
  public var shmem: ShmemObject.ID?
  /// `vm_userfaultfd_ctx`: the userfaultfd this VMA is registered with.
  public var uffd: UserfaultfdCtx.ID?

  public init(vmStart: VirtAddr, vmEnd: VirtAddr, vmFlags: VMFlags, vmPgoff: UInt64) {
    self.vmStart = vmStart
    self.vmEnd = vmEnd
    self.vmFlags = vmFlags
    self.vmPgoff = vmPgoff
  }

  public var pageCount: UInt64 { (vmEnd - vmStart) >> pageShift }
  public func contains(_ addr: VirtAddr) -> Bool { addr >= vmStart && addr < vmEnd }
  /// `vma_is_anonymous`: no file behind it (private anon; shared anon has a shmem file).
  public var isAnonymous: Bool { shmem == nil }
  /// Whether this VMA belongs to a fork child (`anon_vma_chain` longer than one link).
  public var isForkChild: Bool { anonVMAChainLength > 1 }
  /// `linear_page_index`: the pgoff of the page at `addr`.
  public func linearPageIndex(_ addr: VirtAddr) -> UInt64 {
    vmPgoff &+ ((addr - vmStart) >> pageShift)
  }

  public var description: String {
    "vma[\(vmStart)-\(vmEnd) \(vmFlags.prot.rwx)\(vmFlags.contains(.shared) ? "s" : "p") pgoff=0x\(String(vmPgoff, radix: 16)) \(vmFlags.smapsText) \(anonVMA == .none ? "unfaulted" : "\(anonVMA)/\(anonVMAChainLength)")\(uffd.map { " uffd#\($0.rawValue)" } ?? "")]"
  }
}

/// The ordered set of an mm's VMAs (the kernel's maple tree): sorted, non-overlapping,
/// with logarithmic lookup and cheap insertion at any position.
///
/// Stored as a list of sorted chunks of at most `chunkCapacity` VMAs: binary search
/// over the chunks' last ends (kept in one flat array), then within one chunk. Each
/// chunk also caches its largest inner gap, so the top-down search skips whole chunks
/// (the maple tree's gap tracking).
public struct VMATree: Sendable, Sequence {
  var chunks: [[VMA]] = []
  /// Per chunk: the `vmEnd` of its last VMA.
  var chunkEnds: [VirtAddr] = []
  /// Per chunk: the largest gap between two consecutive VMAs inside it, or `nil`
  /// when the chunk changed since it was last computed.
  var chunkGaps: [UInt64?] = []
  public private(set) var count: Int = 0
  static let chunkCapacity = 128
  /// Where the last three insertions, splits or in-place changes left a VMA, most
  /// recent first: ``index(above:)`` tries them first, as the next operation often
  /// lands there (the rest of a VMA being cut up page by page; a move going back and
  /// forth between its source, its target and the VMA it merges into). Only hints,
  /// checked before use.
  var finger = Index(chunk: 0, slot: 0)
  var finger2 = Index(chunk: 0, slot: 0)
  var finger3 = Index(chunk: 0, slot: 0)

  @inline(__always)
  mutating func setFinger(_ i: Index) {
    guard i != finger else { return }
    if i != finger2 { finger3 = finger2 }
    finger2 = finger
    finger = i
  }

  /// Whether `i` is ``index(above:)`` of `addr`: the first VMA ending above `addr`.
  @inline(__always)
  func holds(_ i: Index, _ addr: VirtAddr) -> Bool {
    guard i.chunk < chunks.count else { return false }
    return chunks[i.chunk].withUnsafeBufferPointer { chunk in
      guard i.slot < chunk.count, addr < chunk[i.slot].vmEnd else { return false }
      if i.slot > 0 { return chunk[i.slot &- 1].vmEnd <= addr }
      return i.chunk == 0 || chunkEnds[i.chunk &- 1] <= addr
    }
  }

  public init() {}

  /// A position in the tree.
  public struct Index: Hashable, Sendable {
    var chunk: Int
    var slot: Int
  }

  /// The chunk holding the first VMA whose end is above `addr`, or `chunks.count`.
  func chunkIndex(above addr: VirtAddr) -> Int {
    chunkEnds.withUnsafeBufferPointer { ends in
      var lo = 0
      var hi = ends.count
      while lo < hi {
        let mid = (lo &+ hi) >> 1
        if ends[mid] > addr { hi = mid } else { lo = mid &+ 1 }
      }
      return lo
    }
  }

  /// `find_vma`: the position of the first VMA with `vmEnd > addr`, if any.
  public func index(above addr: VirtAddr) -> Index? {
    if holds(finger, addr) { return finger }
    if holds(finger2, addr) { return finger2 }
    if holds(finger3, addr) { return finger3 }
    let c = chunkIndex(above: addr)
    if c == chunkEnds.count { return nil }
    let slot = chunks[c].withUnsafeBufferPointer { chunk in
      var lo = 0
      var hi = chunk.count
      while lo < hi {
        let mid = (lo &+ hi) >> 1
        if chunk[mid].vmEnd > addr { hi = mid } else { lo = mid &+ 1 }
      }
      return lo
    }
    return Index(chunk: c, slot: slot)
  }

  /// `find_vma`: the first VMA ending above `addr` (it may start above `addr` too).
  public func findVMA(_ addr: VirtAddr) -> VMA? {
    guard let i = index(above: addr) else { return nil }
    return chunks[i.chunk][i.slot]
  }

  /// `vma_lookup`: the VMA containing `addr`.
  public func vma(containing addr: VirtAddr) -> VMA? {
    guard let vma = findVMA(addr), vma.vmStart <= addr else { return nil }
    return vma
  }

  public subscript(i: Index) -> VMA {
    get { chunks[i.chunk][i.slot] }
    _modify {
      chunkGaps[i.chunk] = nil
      setFinger(i)
      defer { chunkEnds[i.chunk] = chunks[i.chunk][chunks[i.chunk].count &- 1].vmEnd }
      yield &chunks[i.chunk][i.slot]
    }
  }

  /// The position after `i`, or `nil` at the end.
  public func index(after i: Index) -> Index? {
    if i.slot + 1 < chunks[i.chunk].count { return Index(chunk: i.chunk, slot: i.slot + 1) }
    if i.chunk + 1 < chunks.count { return Index(chunk: i.chunk + 1, slot: 0) }
    return nil
  }

  /// The position before `i`, or `nil` at the start.
  public func index(before i: Index) -> Index? {
    if i.slot > 0 { return Index(chunk: i.chunk, slot: i.slot - 1) }
    if i.chunk > 0 { return Index(chunk: i.chunk - 1, slot: chunks[i.chunk - 1].count - 1) }
    return nil
  }

  /// The VMA directly before the one starting at `addr` (or before `addr`), if any:
  /// `vma_prev`.
  public func vma(before addr: VirtAddr) -> VMA? {
    if let i = index(above: addr) {
      return index(before: i).map { self[$0] }
    }
    return last
  }

  /// The first VMA starting at or above `addr`: `vma_next` of a VMA ending at `addr`.
  public func vma(startingAtOrAbove addr: VirtAddr) -> VMA? {
    guard let i = index(above: addr) else { return nil }
    let v = self[i]
    if v.vmStart >= addr { return v }
    return index(after: i).map { self[$0] }
  }

  public var first: VMA? { chunks.first?.first }
  public var last: VMA? { chunks.last?.last }
  /// The position of the last VMA, `nil` when the tree is empty.
  public var lastIndex: Index? {
    chunks.isEmpty ? nil : Index(chunk: chunks.count - 1, slot: chunks[chunks.count - 1].count - 1)
  }

  /// Every VMA intersecting `[start, end)`, in address order.
  public func vmas(intersecting start: VirtAddr, _ end: VirtAddr) -> [VMA] {
    var result: [VMA] = []
    var i = index(above: start)
    while let idx = i {
      let v = self[idx]
      if v.vmStart >= end { break }
      result.append(v)
      i = index(after: idx)
    }
    return result
  }

  /// Inserts `vma`, which must not overlap any VMA in the tree.
  public mutating func insert(_ vma: VMA) {
    count += 1
    guard !chunks.isEmpty else {
      chunks = [VMATree.newChunk(with: vma)]
      chunkEnds = [vma.vmEnd]
      chunkGaps = [nil]
      return
    }
    var c = chunkIndex(above: vma.vmStart)
    if c == chunks.count { c -= 1 }
    let slot = chunks[c].withUnsafeBufferPointer { chunk in
      var lo = 0
      var hi = chunk.count
      while lo < hi {
        let mid = (lo &+ hi) >> 1
        if chunk[mid].vmEnd > vma.vmStart { hi = mid } else { lo = mid &+ 1 }
      }
      return lo
    }
    _ = insert(vma, at: Index(chunk: c, slot: slot))
  }

  /// Inserts `vma` directly after position `i` (it must start at or above the end of
  /// the VMA there and end at or below the start of the next one) and returns its
  /// position: a VMA placed next to a neighbour already found goes in without a search.
  @discardableResult
  public mutating func insert(_ vma: VMA, after i: Index) -> Index {
    count += 1
    return insert(vma, at: Index(chunk: i.chunk, slot: i.slot &+ 1))
  }

  /// Cuts the VMA at position `i` in two at `addr`, strictly inside it: the lower half
  /// keeps its place and ends at `addr`, the upper half (same attributes, pgoff carried)
  /// is inserted after it. Returns the position of the upper half.
  @discardableResult
  mutating func split(_ i: Index, at addr: VirtAddr) -> Index {
    var upper = chunks[i.chunk][i.slot]
    upper.vmPgoff = upper.linearPageIndex(addr)
    upper.vmStart = addr
    chunks[i.chunk][i.slot].vmEnd = addr
    count += 1
    return insert(upper, at: Index(chunk: i.chunk, slot: i.slot &+ 1))
  }

  /// Cuts the VMA at position `i` in three at `start` and `end`, both strictly inside
  /// it, and puts `middle` (which covers `[start, end)`) in the middle: the two cuts of
  /// ``split(_:at:)`` with the middle piece replaced, in one pass. Returns the position
  /// of `middle`.
  ///
  ///     before   |---------------- vma -----------------|
  ///     after    |-- vma --|----- middle -----|-- vma --|
  ///                      start               end
  @discardableResult
  mutating func split(_ i: Index, at start: VirtAddr, _ end: VirtAddr, middle: VMA) -> Index {
    let c = i.chunk
    var upper = chunks[c][i.slot]
    upper.vmPgoff = upper.linearPageIndex(end)
    upper.vmStart = end
    count += 2
    if chunks[c].count &+ 2 <= VMATree.chunkCapacity {
      // Room for both new pieces: one append-and-slide.
      let slot = i.slot &+ 1
      chunks.withUnsafeMutableBufferPointer { chunks in
        chunks[c].append(middle)
        chunks[c].append(upper)
        chunks[c].withUnsafeMutableBufferPointer { slots in
          let lower = slots.baseAddress! + i.slot
          let tail = slots.count &- 2 &- slot
          if tail > 0 { (lower + 3).update(from: lower + 1, count: tail) }
          lower.pointee.vmEnd = start
          (lower + 1).pointee = middle
          (lower + 2).pointee = upper
        }
      }
      chunkGaps[c] = nil
      chunkEnds[c] = chunks[c][chunks[c].count &- 1].vmEnd
      setFinger(Index(chunk: c, slot: slot &+ 1))
      return Index(chunk: c, slot: slot)
    }
    chunks[c][i.slot].vmEnd = start
    let at = insert(middle, at: Index(chunk: c, slot: i.slot &+ 1))
    // Inserting the upper piece may split the chunk and move the middle one. (Two
    // statements: `index(before: insert(…))` would copy the tree before inserting.)
    let upperIndex = insert(upper, at: Index(chunk: at.chunk, slot: at.slot &+ 1))
    return index(before: upperIndex)!
  }

  /// Inserts `vma` at position `i` of its chunk (the caller keeps the tree sorted and
  /// counts it), splitting the chunk in two halves when it overflows. Returns where
  /// `vma` ended up.
  private mutating func insert(_ vma: VMA, at i: Index) -> Index {
    var c = i.chunk
    var slot = i.slot
    if chunks[c].count == VMATree.chunkCapacity {
      // A full chunk makes room first, so no chunk's storage ever grows or moves.
      if slot == VMATree.chunkCapacity {
        // At its end (mappings placed in address order, a VMA cut up from its start):
        // the VMA starts the next chunk, leaving this one full. (The caller may have
        // just shortened the last VMA here, the lower half of a split.)
        chunkEnds[c] = chunks[c][VMATree.chunkCapacity - 1].vmEnd
        chunks.insert(VMATree.newChunk(with: vma), at: c + 1)
        chunkEnds.insert(vma.vmEnd, at: c + 1)
        chunkGaps.insert(nil, at: c + 1)
        setFinger(Index(chunk: c + 1, slot: 0))
        return finger
      }
      // Elsewhere: the upper half moves to a new chunk.
      let half = VMATree.chunkCapacity / 2
      var upper = VMATree.newChunk()
      upper.append(contentsOf: chunks[c][half...])
      chunks[c].removeSubrange(half...)
      chunks.insert(upper, at: c + 1)
      chunkEnds.insert(upper[upper.count - 1].vmEnd, at: c + 1)
      chunkGaps.insert(nil, at: c + 1)
      chunkEnds[c] = chunks[c][half - 1].vmEnd
      if slot > half {
        c += 1
        slot -= half
      }
    }
    // Array.insert(_:at:) goes through the generic replaceSubrange; a VMA is plain
    // data, so append and slide the tail up one slot instead.
    chunks.withUnsafeMutableBufferPointer { chunks in
      chunks[c].append(vma)
      let tail = chunks[c].count &- 1 &- slot
      if tail > 0 {
        chunks[c].withUnsafeMutableBufferPointer { slots in
          let at = slots.baseAddress! + slot
          (at + 1).update(from: at, count: tail)
          at.pointee = vma
        }
      }
    }
    chunkGaps[c] = nil
    chunkEnds[c] = chunks[c][chunks[c].count - 1].vmEnd
    setFinger(Index(chunk: c, slot: slot))
    return finger
  }

  /// An empty chunk with room for `chunkCapacity` VMAs, allocated once.
  private static func newChunk() -> [VMA] {
    var chunk: [VMA] = []
    chunk.reserveCapacity(chunkCapacity)
    return chunk
  }

  /// A chunk holding just `vma`.
  private static func newChunk(with vma: VMA) -> [VMA] {
    var chunk = newChunk()
    chunk.append(vma)
    return chunk
  }

  /// Removes and returns the VMA starting exactly at `start`, if there is one.
  @discardableResult
  public mutating func remove(startingAt start: VirtAddr) -> VMA? {
    guard let i = index(above: start), self[i].vmStart == start else { return nil }
    return remove(at: i)
  }

  /// Removes and returns the VMA at `i`.
  @discardableResult
  public mutating func remove(at i: Index) -> VMA {
    count -= 1
    let vma = chunks[i.chunk].remove(at: i.slot)
    chunkGaps[i.chunk] = nil
    if chunks[i.chunk].isEmpty {
      chunks.remove(at: i.chunk)
      chunkEnds.remove(at: i.chunk)
      chunkGaps.remove(at: i.chunk)
    } else {
      chunkEnds[i.chunk] = chunks[i.chunk][chunks[i.chunk].count - 1].vmEnd
    }
    return vma
  }

  /// Applies `body` to the VMA starting exactly at `start`. The change must keep the
  /// tree sorted and non-overlapping.
  public mutating func update(startingAt start: VirtAddr, _ body: (inout VMA) -> Void) {
    guard let i = index(above: start), self[i].vmStart == start else {
      preconditionFailure("no VMA starts at \(start)")
    }
    body(&self[i])
  }

  /// The upper end of the highest free gap of at least `size` bytes inside
  /// `[low, high)` (`vm_unmapped_area` top-down): gaps between VMAs, above the
  /// highest and below the lowest one, clipped to the window.
  public mutating func highestGapTop(fitting size: UInt64, low: VirtAddr, high: VirtAddr)
    -> VirtAddr?
  {
    var top = high
    var c = chunks.count - 1
    scan: while c >= 0 {
      let first = chunks[c][0]
      let last = chunks[c][chunks[c].count - 1]
      if first.vmStart >= top {
        c -= 1
        continue
      }
      if last.vmEnd <= low { break }
      if first.vmStart >= low && last.vmEnd <= top {
        if top - last.vmEnd >= size { return top }
        if innerGap(c) >= size {
          for k in stride(from: chunks[c].count - 1, to: 0, by: -1)
          where chunks[c][k].vmStart - chunks[c][k - 1].vmEnd >= size {
            return chunks[c][k].vmStart
          }
        }
        top = first.vmStart
      } else {
        for vma in chunks[c].reversed() where vma.vmStart < top {
          if vma.vmEnd <= low { break scan }
          if top > vma.vmEnd && top - vma.vmEnd >= size { return top }
          top = Swift.min(top, vma.vmStart)
        }
      }
      c -= 1
    }
    return top > low && top - low >= size ? top : nil
  }

  /// Every cached chunk gap is either unknown or equal to the chunk's real largest
  /// inner gap, and every cached chunk end is the end of the chunk's last VMA, with one
  /// entry per chunk and no empty chunk (checked by `checkInvariants`).
  var chunkCachesAreConsistent: Bool {
    guard chunkGaps.count == chunks.count, chunkEnds.count == chunks.count else { return false }
    for (c, chunk) in chunks.enumerated() where chunk.last?.vmEnd != chunkEnds[c] { return false }
    for (c, cached) in chunkGaps.enumerated() {
      guard let cached else { continue }
      var gap: UInt64 = 0
      for k in chunks[c].indices.dropFirst() {
        gap = Swift.max(gap, chunks[c][k].vmStart - chunks[c][k - 1].vmEnd)
      }
      if gap != cached { return false }
    }
    return true
  }

  /// The cached largest gap inside chunk `c`, computed if stale.
  private mutating func innerGap(_ c: Int) -> UInt64 {
    if let gap = chunkGaps[c] { return gap }
    var gap: UInt64 = 0
    let chunk = chunks[c]
    for k in chunk.indices.dropFirst() {
      gap = Swift.max(gap, chunk[k].vmStart - chunk[k - 1].vmEnd)
    }
    chunkGaps[c] = gap
    return gap
  }

  public func makeIterator() -> FlattenSequence<[[VMA]]>.Iterator {
    chunks.joined().makeIterator()
  }
}
