import MopsABI
import Synchronization

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
  /// The raw value of ``shmem``, 0 for none (object ids start at 1).
  var shmemID: UInt32 = 0
  /// The raw value of ``uffd``, 0 for none (context ids start at 1).
  var uffdID: UInt32 = 0
  /// The value of ``anonVMAChainLength``, held in a full 32-bit word: that makes the
  /// struct exactly 48 bytes, so a copy is three 16-byte moves. At 45 bytes the last
  /// bytes were copied with two overlapping moves, and reading a VMA right after
  /// writing it that way stalls store forwarding.
  var chainLength: UInt32 = 0

  /// Links in `anon_vma_chain`: 1 for a VMA that was never part of a fork child,
  /// 2 or more in a fork child (0 while `anonVMA` is `.none`).
  public var anonVMAChainLength: UInt8 {
    get { UInt8(truncatingIfNeeded: chainLength) }
    set { chainLength = UInt32(newValue) }
  }

  /// The shmem object behind a shared anonymous VMA.
  ///
  /// Kept as a plain id with 0 for none, as is ``uffd``: two optional ids would add a
  /// tag byte each and make the struct 53 bytes long (stride 56) with fields at odd
  /// offsets; without them it fits in 48 bytes, and VMAs are copied on every lookup.
  public var shmem: ShmemObject.ID? {
    get { shmemID == 0 ? nil : ShmemObject.ID(rawValue: shmemID) }
    set { shmemID = newValue?.rawValue ?? 0 }
  }
  /// `vm_userfaultfd_ctx`: the userfaultfd this VMA is registered with.
  public var uffd: UserfaultfdCtx.ID? {
    get { uffdID == 0 ? nil : UserfaultfdCtx.ID(rawValue: uffdID) }
    set { uffdID = newValue?.rawValue ?? 0 }
  }

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
/// over the chunks' last ends, then within one chunk. Each chunk also caches its
/// largest inner gap, so the top-down search skips whole chunks (the maple tree's gap
/// tracking).
///
/// The chunk list and every chunk's VMAs live in one ``Storage`` object that copies of
/// the tree share until one of them changes (copy-on-write: one uniqueness check per
/// change, a deep copy only when the storage is shared, as after `World.snapshot()`).
/// A chunk's VMAs sit in a buffer allocated once at full capacity, so a change moves
/// plain memory and never goes through an array's bookkeeping.
public struct VMATree: Sendable, Sequence {
  var storage: Storage
  static let chunkCapacity = 128
  /// ``Chunk/gap`` of a chunk that changed since its largest gap was last computed.
  static let unknownGap = UInt64.max

  public init() { storage = Storage(chunkRoom: 4) }

  /// A position in the tree.
  public struct Index: Hashable, Sendable {
    var chunk: Int
    var slot: Int
  }

  /// One chunk's VMAs and what the tree caches about them.
  struct Chunk {
    /// Room for `chunkCapacity` VMAs, of which the first `count` are initialized.
    var slots: UnsafeMutablePointer<VMA>
    /// How many VMAs the chunk holds (at least one).
    var count: Int
    /// The `vmEnd` of its last VMA.
    var end: VirtAddr
    /// The largest gap between two consecutive VMAs inside it, or ``unknownGap``.
    var gap: UInt64

    /// The first slot whose VMA ends above `addr`, or `count`.
    @inline(__always)
    func slot(above addr: VirtAddr) -> Int {
      var lo = 0
      var hi = count
      while lo < hi {
        let mid = (lo &+ hi) >> 1
        if slots[mid].vmEnd > addr { hi = mid } else { lo = mid &+ 1 }
      }
      return lo
    }

    /// The largest gap between two consecutive VMAs, computed.
    func largestGap() -> UInt64 {
      var gap: UInt64 = 0
      var k = 1
      while k < count {
        gap = Swift.max(gap, slots[k].vmStart - slots[k &- 1].vmEnd)
        k &+= 1
      }
      return gap
    }
  }

  /// The chunks of a tree and its VMA count, shared by copies of the tree until one
  /// of them changes.
  final class Storage: @unchecked Sendable {
    /// The chunks in address order: `chunkCount` of `chunkRoom` entries initialized.
    var chunks: UnsafeMutablePointer<Chunk>
    var chunkCount = 0
    var chunkRoom: Int
    /// VMAs in all chunks.
    var count = 0
    /// Where the last three insertions, splits or in-place changes left a VMA, most
    /// recent first: ``VMATree/index(above:)`` tries them first, as the next
    /// operation often lands there (the rest of a VMA being cut up page by page; a
    /// move going back and forth between its source, its target and the VMA it
    /// merges into). Only hints, checked before use. Each is a position packed into
    /// one word (``pack(_:)``), so keeping them up to date takes single compares.
    var finger: UInt64 = 0
    var finger2: UInt64 = 0
    var finger3: UInt64 = 0

    init(chunkRoom: Int) {
      self.chunkRoom = chunkRoom
      chunks = .allocate(capacity: chunkRoom)
    }

    deinit {
      for c in 0..<chunkCount {
        chunks[c].slots.deinitialize(count: chunks[c].count)
        VMAChunkCache.release(chunks[c].slots)
      }
      chunks.deinitialize(count: chunkCount)
      chunks.deallocate()
    }

    /// A deep copy: the same chunks, in buffers of its own.
    func copy() -> Storage {
      let copy = Storage(chunkRoom: Swift.max(chunkRoom, 4))
      for c in 0..<chunkCount {
        var chunk = chunks[c]
        let slots = VMAChunkCache.allocate()
        slots.initialize(from: chunk.slots, count: chunk.count)
        chunk.slots = slots
        (copy.chunks + c).initialize(to: chunk)
      }
      copy.chunkCount = chunkCount
      copy.count = count
      copy.finger = finger
      copy.finger2 = finger2
      copy.finger3 = finger3
      return copy
    }

    /// A position as one word: the chunk in the high half, the slot in the low half.
    @inline(__always)
    static func pack(_ i: Index) -> UInt64 {
      UInt64(truncatingIfNeeded: i.chunk) << 32 | UInt64(truncatingIfNeeded: i.slot) & 0xffff_ffff
    }

    @inline(__always)
    static func unpack(_ f: UInt64) -> Index {
      Index(chunk: Int(truncatingIfNeeded: f >> 32), slot: Int(truncatingIfNeeded: f & 0xffff_ffff))
    }

    /// Makes `i` the most recent finger.
    @inline(__always)
    func setFinger(_ i: Index) {
      let f = Storage.pack(i)
      guard f != finger else { return }
      if f != finger2 { finger3 = finger2 }
      finger2 = finger
      finger = f
    }

    /// The position `f` (a finger) if it is ``VMATree/index(above:)`` of `addr`: the
    /// first VMA ending above `addr`.
    @inline(__always)
    func holds(_ f: UInt64, _ addr: VirtAddr) -> Index? {
      let i = Storage.unpack(f)
      return holds(i, addr) ? i : nil
    }

    /// Whether `i` is ``VMATree/index(above:)`` of `addr`.
    @inline(__always)
    func holds(_ i: Index, _ addr: VirtAddr) -> Bool {
      guard i.chunk < chunkCount else { return false }
      let chunk = chunks[i.chunk]
      guard i.slot < chunk.count, addr < chunk.slots[i.slot].vmEnd else { return false }
      if i.slot > 0 { return chunk.slots[i.slot &- 1].vmEnd <= addr }
      return i.chunk == 0 || chunks[i.chunk &- 1].end <= addr
    }

    /// The chunk holding the first VMA whose end is above `addr`, or `chunkCount`.
    @inline(__always)
    func chunkIndex(above addr: VirtAddr) -> Int {
      var lo = 0
      var hi = chunkCount
      while lo < hi {
        let mid = (lo &+ hi) >> 1
        if chunks[mid].end > addr { hi = mid } else { lo = mid &+ 1 }
      }
      return lo
    }

    /// Opens a chunk at position `c` holding just `vma`.
    func insertChunk(at c: Int, with vma: VMA) {
      let slots = VMAChunkCache.allocate()
      slots.initialize(to: vma)
      insertChunk(Chunk(slots: slots, count: 1, end: vma.vmEnd, gap: VMATree.unknownGap), at: c)
    }

    /// Puts `chunk` at position `c` of the chunk list, growing the list when full.
    func insertChunk(_ chunk: Chunk, at c: Int) {
      if chunkCount == chunkRoom {
        chunkRoom *= 2
        let grown = UnsafeMutablePointer<Chunk>.allocate(capacity: chunkRoom)
        grown.moveInitialize(from: chunks, count: chunkCount)
        chunks.deallocate()
        chunks = grown
      }
      let tail = chunkCount &- c
      if tail > 0 { (chunks + c + 1).moveInitialize(from: chunks + c, count: tail) }
      (chunks + c).initialize(to: chunk)
      chunkCount &+= 1
    }

    /// Frees the (empty) chunk at position `c` and closes its place in the list.
    func removeChunk(at c: Int) {
      VMAChunkCache.release(chunks[c].slots)
      let tail = chunkCount &- c &- 1
      (chunks + c).deinitialize(count: 1)
      if tail > 0 { (chunks + c).moveInitialize(from: chunks + c + 1, count: tail) }
      chunkCount &-= 1
    }

    /// Inserts `vma` at position `i` of its chunk (the caller keeps the tree sorted
    /// and counts it), splitting the chunk in two halves when it is full. Returns
    /// where `vma` ended up.
    func insert(_ vma: VMA, at i: Index) -> Index {
      var c = i.chunk
      var slot = i.slot
      if chunks[c].count == VMATree.chunkCapacity {
        if slot == VMATree.chunkCapacity {
          // At its end (mappings placed in address order, a VMA cut up from its
          // start): the VMA starts the next chunk, leaving this one full. (The caller
          // may have just shortened the last VMA here, the lower half of a split.)
          chunks[c].end = chunks[c].slots[slot &- 1].vmEnd
          insertChunk(at: c &+ 1, with: vma)
          let at = Index(chunk: c &+ 1, slot: 0)
          setFinger(at)
          return at
        }
        // Elsewhere: the upper half moves to a new chunk.
        let half = VMATree.chunkCapacity / 2
        let slots = VMAChunkCache.allocate()
        slots.moveInitialize(from: chunks[c].slots + half, count: VMATree.chunkCapacity &- half)
        let upper = Chunk(
          slots: slots, count: VMATree.chunkCapacity &- half, end: chunks[c].end,
          gap: VMATree.unknownGap)
        chunks[c].count = half
        chunks[c].end = chunks[c].slots[half &- 1].vmEnd
        chunks[c].gap = VMATree.unknownGap
        insertChunk(upper, at: c &+ 1)
        if slot > half {
          c &+= 1
          slot &-= half
        }
      }
      let chunk = chunks + c
      let at = chunk.pointee.slots + slot
      let tail = chunk.pointee.count &- slot
      if tail > 0 {
        (at + 1).moveInitialize(from: at, count: tail)
      } else {
        chunk.pointee.end = vma.vmEnd
      }
      at.initialize(to: vma)
      chunk.pointee.count &+= 1
      chunk.pointee.gap = VMATree.unknownGap
      let position = Index(chunk: c, slot: slot)
      setFinger(position)
      return position
    }

    /// Inserts `middle`, then `upper`, after the VMA at `i`: a three-way split whose
    /// chunk has no room for both, so either insertion may split a chunk. Returns the
    /// position of `middle`.
    @inline(never)
    func insert(_ middle: VMA, _ upper: VMA, after i: Index) -> Index {
      let at = insert(middle, at: Index(chunk: i.chunk, slot: i.slot &+ 1))
      // Inserting the upper piece may split the chunk and move the middle one, which
      // stays right before it.
      let u = insert(upper, at: Index(chunk: at.chunk, slot: at.slot &+ 1))
      if u.slot > 0 { return Index(chunk: u.chunk, slot: u.slot &- 1) }
      return Index(chunk: u.chunk &- 1, slot: chunks[u.chunk &- 1].count &- 1)
    }
  }

  /// Makes the storage this tree's own before a change: copies it if another tree
  /// shares it.
  @inline(__always)
  mutating func makeUnique() {
    if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
  }

  public var count: Int { storage.count }

  /// `find_vma`: the position of the first VMA with `vmEnd > addr`, if any. The check
  /// of the most recent finger is inlined into the caller; the search is not.
  @inline(__always)
  public func index(above addr: VirtAddr) -> Index? {
    let s = storage
    if let i = s.holds(s.finger, addr) { return i }
    return search(above: addr)
  }

  /// ``index(above:)`` past its first finger.
  @inline(never)
  func search(above addr: VirtAddr) -> Index? {
    let s = storage
    // A tree of one chunk is searched at once: a binary search of one chunk costs
    // about what checking the other two fingers does.
    if s.chunkCount == 1 {
      let slot = s.chunks[0].slot(above: addr)
      return slot < s.chunks[0].count ? Index(chunk: 0, slot: slot) : nil
    }
    if let i = s.holds(s.finger2, addr) { return i }
    if let i = s.holds(s.finger3, addr) { return i }
    let c = s.chunkIndex(above: addr)
    if c == s.chunkCount { return nil }
    return Index(chunk: c, slot: s.chunks[c].slot(above: addr))
  }

  /// `find_vma`: the first VMA ending above `addr` (it may start above `addr` too).
  public func findVMA(_ addr: VirtAddr) -> VMA? {
    guard let i = index(above: addr) else { return nil }
    return self[i]
  }

  /// `vma_lookup`: the VMA containing `addr`.
  public func vma(containing addr: VirtAddr) -> VMA? {
    guard let vma = findVMA(addr), vma.vmStart <= addr else { return nil }
    return vma
  }

  public subscript(i: Index) -> VMA {
    get {
      precondition(i.chunk < storage.chunkCount && i.slot < storage.chunks[i.chunk].count)
      return storage.chunks[i.chunk].slots[i.slot]
    }
    _modify {
      makeUnique()
      let s = storage
      precondition(i.chunk < s.chunkCount && i.slot < s.chunks[i.chunk].count)
      let chunk = s.chunks + i.chunk
      chunk.pointee.gap = VMATree.unknownGap
      s.setFinger(i)
      defer { chunk.pointee.end = chunk.pointee.slots[chunk.pointee.count &- 1].vmEnd }
      yield &chunk.pointee.slots[i.slot]
    }
  }

  /// The position after `i`, or `nil` at the end.
  public func index(after i: Index) -> Index? {
    if i.slot &+ 1 < storage.chunks[i.chunk].count { return Index(chunk: i.chunk, slot: i.slot &+ 1) }
    if i.chunk &+ 1 < storage.chunkCount { return Index(chunk: i.chunk &+ 1, slot: 0) }
    return nil
  }

  /// The position before `i`, or `nil` at the start.
  public func index(before i: Index) -> Index? {
    if i.slot > 0 { return Index(chunk: i.chunk, slot: i.slot &- 1) }
    if i.chunk > 0 {
      return Index(chunk: i.chunk &- 1, slot: storage.chunks[i.chunk &- 1].count &- 1)
    }
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

  public var first: VMA? { storage.chunkCount == 0 ? nil : storage.chunks[0].slots[0] }
  public var last: VMA? { lastIndex.map { self[$0] } }
  /// The position of the last VMA, `nil` when the tree is empty.
  public var lastIndex: Index? {
    let c = storage.chunkCount &- 1
    return c < 0 ? nil : Index(chunk: c, slot: storage.chunks[c].count &- 1)
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
    makeUnique()
    let s = storage
    s.count &+= 1
    guard s.chunkCount > 0 else {
      s.insertChunk(at: 0, with: vma)
      return
    }
    var c = s.chunkIndex(above: vma.vmStart)
    if c == s.chunkCount { c &-= 1 }
    _ = s.insert(vma, at: Index(chunk: c, slot: s.chunks[c].slot(above: vma.vmStart)))
  }

  /// Inserts `vma` directly after position `i` (it must start at or above the end of
  /// the VMA there and end at or below the start of the next one) and returns its
  /// position: a VMA placed next to a neighbour already found goes in without a search.
  @discardableResult
  public mutating func insert(_ vma: VMA, after i: Index) -> Index {
    makeUnique()
    let s = storage
    precondition(i.chunk < s.chunkCount && i.slot < s.chunks[i.chunk].count)
    s.count &+= 1
    return s.insert(vma, at: Index(chunk: i.chunk, slot: i.slot &+ 1))
  }

  /// Cuts the VMA at position `i` in two at `addr`, strictly inside it: the lower half
  /// keeps its place and ends at `addr`, the upper half (same attributes, pgoff carried)
  /// is inserted after it. Returns the position of the upper half.
  @discardableResult
  mutating func split(_ i: Index, at addr: VirtAddr) -> Index {
    makeUnique()
    let s = storage
    precondition(i.chunk < s.chunkCount && i.slot < s.chunks[i.chunk].count)
    let lower = s.chunks[i.chunk].slots + i.slot
    var upper = lower.pointee
    upper.vmPgoff = upper.linearPageIndex(addr)
    upper.vmStart = addr
    lower.pointee.vmEnd = addr
    s.count &+= 1
    return s.insert(upper, at: Index(chunk: i.chunk, slot: i.slot &+ 1))
  }

  /// Cuts the VMA at position `i` in three at `start` and `end`, both strictly inside
  /// it, and puts `middle` (which covers `[start, end)`) in the middle: the two cuts of
  /// ``split(_:at:)`` with the middle piece replaced, in one pass. Returns the position
  /// of `middle`.
  ///
  ///     before   |---------------- vma -----------------|
  ///     after    |-- vma --|----- middle -----|-- vma --|
  ///                      start               end
  @discardableResult @inline(__always)
  mutating func split(_ i: Index, at start: VirtAddr, _ end: VirtAddr, middle: VMA) -> Index {
    makeUnique()
    let s = storage
    let c = i.chunk
    precondition(c < s.chunkCount && i.slot < s.chunks[c].count)
    let chunk = s.chunks + c
    let lower = chunk.pointee.slots + i.slot
    var upper = lower.pointee
    upper.vmPgoff = upper.linearPageIndex(end)
    upper.vmStart = end
    lower.pointee.vmEnd = start
    s.count &+= 2
    if chunk.pointee.count &+ 2 <= VMATree.chunkCapacity {
      // Room for both new pieces: one slide of the VMAs above. The chunk's end stays:
      // the upper piece ends where the VMA did.
      let tail = chunk.pointee.count &- 1 &- i.slot
      if tail > 0 { (lower + 3).moveInitialize(from: lower + 1, count: tail) }
      (lower + 1).initialize(fieldsOf: middle)
      (lower + 2).initialize(fieldsOf: upper)
      chunk.pointee.count &+= 2
      chunk.pointee.gap = VMATree.unknownGap
      s.setFinger(Index(chunk: c, slot: i.slot &+ 2))
      return Index(chunk: c, slot: i.slot &+ 1)
    }
    return s.insert(middle, upper, after: i)
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
    makeUnique()
    let s = storage
    precondition(i.chunk < s.chunkCount && i.slot < s.chunks[i.chunk].count)
    s.count &-= 1
    let chunk = s.chunks + i.chunk
    let at = chunk.pointee.slots + i.slot
    let vma = at.move()
    let tail = chunk.pointee.count &- 1 &- i.slot
    if tail > 0 { at.moveInitialize(from: at + 1, count: tail) }
    chunk.pointee.count &-= 1
    chunk.pointee.gap = VMATree.unknownGap
    if chunk.pointee.count == 0 {
      s.removeChunk(at: i.chunk)
    } else if tail == 0 {
      chunk.pointee.end = chunk.pointee.slots[chunk.pointee.count &- 1].vmEnd
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
    makeUnique()
    let s = storage
    var top = high
    var c = s.chunkCount &- 1
    scan: while c >= 0 {
      let chunk = s.chunks + c
      let slots = chunk.pointee.slots
      let n = chunk.pointee.count
      let first = slots[0]
      let last = slots[n &- 1]
      if first.vmStart >= top {
        c -= 1
        continue
      }
      if last.vmEnd <= low { break }
      if first.vmStart >= low && last.vmEnd <= top {
        if top - last.vmEnd >= size { return top }
        if chunk.pointee.gap == VMATree.unknownGap { chunk.pointee.gap = chunk.pointee.largestGap() }
        if chunk.pointee.gap >= size {
          for k in stride(from: n - 1, to: 0, by: -1)
          where slots[k].vmStart - slots[k - 1].vmEnd >= size {
            return slots[k].vmStart
          }
        }
        top = first.vmStart
      } else {
        for k in stride(from: n - 1, through: 0, by: -1) where slots[k].vmStart < top {
          let vma = slots[k]
          if vma.vmEnd <= low { break scan }
          if top > vma.vmEnd && top - vma.vmEnd >= size { return top }
          top = Swift.min(top, vma.vmStart)
        }
      }
      c -= 1
    }
    return top > low && top - low >= size ? top : nil
  }

  /// Every chunk holds between one and `chunkCapacity` VMAs, which add up to `count`;
  /// every cached chunk end is the end of the chunk's last VMA, and every cached chunk
  /// gap is either unknown or equal to the chunk's real largest inner gap (checked by
  /// `checkInvariants`).
  var chunkCachesAreConsistent: Bool {
    let s = storage
    var total = 0
    for c in 0..<s.chunkCount {
      let chunk = s.chunks[c]
      guard chunk.count >= 1, chunk.count <= VMATree.chunkCapacity,
        chunk.slots[chunk.count - 1].vmEnd == chunk.end
      else { return false }
      if chunk.gap != VMATree.unknownGap && chunk.gap != chunk.largestGap() { return false }
      total += chunk.count
    }
    return total == s.count
  }

  public func makeIterator() -> Iterator { Iterator(storage: storage) }

  /// The VMAs in address order.
  public struct Iterator: IteratorProtocol {
    let storage: Storage
    var chunk = 0
    var slot = 0

    init(storage: Storage) { self.storage = storage }

    public mutating func next() -> VMA? {
      guard chunk < storage.chunkCount else { return nil }
      let c = storage.chunks[chunk]
      let vma = c.slots[slot]
      slot &+= 1
      if slot == c.count {
        chunk &+= 1
        slot = 0
      }
      return vma
    }
  }

  public var underestimatedCount: Int { storage.count }
}

extension UnsafeMutablePointer<VMA> {
  /// Initializes the VMA here from `vma` one field at a time. A VMA just assembled on
  /// the stack field by field and then copied whole with 16-byte moves makes each move
  /// wait for the narrower stores it spans (they cannot be forwarded to it);
  /// field-sized copies can be.
  @inline(__always)
  func initialize(fieldsOf vma: VMA) {
    let raw = UnsafeMutableRawPointer(self)
    func store<T>(_ value: T, _ field: KeyPath<VMA, T>) {
      raw.storeBytes(of: value, toByteOffset: MemoryLayout<VMA>.offset(of: field)!, as: T.self)
    }
    store(vma.vmStart, \.vmStart)
    store(vma.vmEnd, \.vmEnd)
    store(vma.vmFlags, \.vmFlags)
    store(vma.vmPgoff, \.vmPgoff)
    store(vma.anonVMA, \.anonVMA)
    store(vma.shmemID, \.shmemID)
    store(vma.uffdID, \.uffdID)
    store(vma.chainLength, \.chainLength)
  }
}

/// Chunk buffers of dropped VMA trees, kept for the next chunk any tree opens, as the
/// kernel keeps freed VMAs in its `vm_area_struct` slab cache: a tree built after
/// another went away (every script, fixture, fork child and REPL undo step builds
/// one) reuses memory the host has already paged in instead of faulting in fresh
/// pages. Up to ``limit`` buffers (6 MiB) are kept; beyond that they go back to malloc.
enum VMAChunkCache {
  static let limit = 1024
  /// The buffers' addresses.
  private static let buffers = Mutex<[UInt]>([])

  /// How many buffers are kept now.
  static var count: Int { buffers.withLock { $0.count } }

  /// A buffer with room for `chunkCapacity` VMAs, none initialized.
  static func allocate() -> UnsafeMutablePointer<VMA> {
    if let address = buffers.withLock({ $0.popLast() }), let slots = UnsafeMutablePointer<VMA>(bitPattern: address) {
      return slots
    }
    return .allocate(capacity: VMATree.chunkCapacity)
  }

  /// Takes back a buffer from ``allocate()`` whose VMAs are deinitialized.
  static func release(_ slots: UnsafeMutablePointer<VMA>) {
    let kept = buffers.withLock { list in
      guard list.count < limit else { return false }
      list.append(UInt(bitPattern: slots))
      return true
    }
    if !kept { slots.deallocate() }
  }
}
