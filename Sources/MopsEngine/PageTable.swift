import MopsABI

/// One process's page table: PTEs by virtual page, grouped into 512-entry tables the
/// way the last level of the x86-64 page table is (one table covers one 2 MiB PMD).
///
/// Tables are value types with copy-on-write storage, so snapshotting a world (the
/// REPL's undo) shares them until one side writes.
///
/// As in the kernel, a table is allocated by the first entry installed in its 2 MiB range
/// (or by ``allocateTable(_:)``, `pte_alloc`) and stays allocated when its entries are
/// zapped; only `free_pgtables` at munmap releases it (``World/freePageTables(_:_:_:next:)``).
/// Whether a table exists is observable: UFFDIO_MOVE reports ENOENT for a src range
/// without one before it looks at the dst PTE.
///
/// The tables are found by PMD index (`vpn / 512`) in an open-addressing hash map
/// (linear probing, multiplicative hash, at most half full), and the bucket of the
/// last table a write went to is remembered: a run of faults or moves through one
/// 2 MiB range finds its table without probing.
public struct PageTable: Sendable {
  /// Entries per last-level table.
  public static let ptesPerTable: UInt64 = 512

  public struct Table: Sendable {
    /// The entries as stored. Read them through ``subscript(_:)`` or ``entries``, which
    /// apply ``writeProtected``; the write bits stored here may be stale.
    private(set) var stored: [PTE] = Array(repeating: .none, count: Int(PageTable.ptesPerTable))
    /// Entries that are not `pte_none`.
    public internal(set) var used: Int = 0
    /// Entries `[0, runLength)` map consecutive frames with the same bits: entry `i`
    /// is stored as `runBase + i << pfnShift`. Kept by every store, so fork can share
    /// the pages of a table filled by a run of faults without reading its entries.
    /// `.max` (no run) is a value no entry can hold: bits 3 to 7 of a PTE are never set.
    private(set) var runBase: UInt64 = .max
    private(set) var runLength: Int32 = 0
    /// Every entry reads write-protected, whatever its stored write bit says: fork's
    /// `pte_wrprotect` of a whole table, applied to the entries only when one of them
    /// next becomes writable.
    private(set) var writeProtected = false

    /// An allocated table with every entry none.
    public init() {}

    /// The placeholder in an empty bucket: no entries, no storage.
    fileprivate init(placeholder: Void) { stored = [] }

    /// ANDed into a stored entry to read it: clears the write bit while
    /// ``writeProtected``.
    @inline(__always)
    var readMask: UInt64 { ~(writeProtected ? PTE.writeBit : 0) }

    /// The entry in `slot`.
    @inline(__always)
    public subscript(slot: Int) -> PTE { PTE(raw: stored[slot].raw & readMask) }

    /// The stored entry the run has in `slot`.
    @inline(__always)
    private func runEntry(_ slot: Int) -> UInt64 { runBase &+ UInt64(truncatingIfNeeded: slot) << PTE.pfnShift }

    /// The 512 entries in slot order.
    public var entries: [PTE] { writeProtected ? stored.map { $0.withWritable(false) } : stored }

    /// Stores `pte` in `slot`, keeping `used` and the run right, and returns the entry
    /// it replaces.
    @inline(__always)
    @discardableResult
    mutating func store(_ slot: Int, _ pte: PTE) -> PTE {
      let old = self[slot]
      if old.isNone {
        if !pte.isNone { insertEntry(slot, pte) }
      } else if pte.isNone {
        removeEntry(slot)
      } else {
        replaceEntry(slot, pte)
      }
      return old
    }

    /// ``store(_:_:)`` of a non-none entry over another.
    @inline(__always)
    mutating func replaceEntry(_ slot: Int, _ pte: PTE) {
      if writeProtected && pte.isWritable { applyWriteProtect() }
      stored[slot] = pte
      // The entry stays in the run only if it is the run's entry there; a slot-0
      // entry that is not starts a new run.
      let s = Int32(truncatingIfNeeded: slot)
      if s < runLength && pte.raw != runEntry(slot) {
        runLength = s
      }
      if s == 0 && runLength == 0 && pte.isPage {
        runBase = pte.raw
        runLength = 1
      }
    }

    /// ``store(_:_:)`` of `.none` over an entry known not to be none.
    @inline(__always)
    mutating func removeEntry(_ slot: Int) {
      stored[slot] = .none
      used &-= 1
      let s = Int32(truncatingIfNeeded: slot)
      if s < runLength { runLength = s }
    }

    /// ``store(_:_:)`` of a non-none entry over one known to be none.
    @inline(__always)
    mutating func insertEntry(_ slot: Int, _ pte: PTE) {
      if writeProtected && pte.isWritable { applyWriteProtect() }
      stored[slot] = pte
      used &+= 1
      // A none entry lies outside the run, so only the run's next slot (or a new run
      // at slot 0) can take it.
      let s = Int32(truncatingIfNeeded: slot)
      if s == runLength && pte.raw == runEntry(slot) {
        runLength &+= 1
      } else if s == 0 && pte.isPage {
        runBase = pte.raw
        runLength = 1
      }
    }

    /// Clears the write bit of every stored entry and drops ``writeProtected``.
    @inline(never)
    mutating func applyWriteProtect() {
      stored.withUnsafeMutableBufferPointer { e in
        for i in e.indices { e[i].raw &= ~PTE.writeBit }
      }
      runBase &= ~PTE.writeBit
      writeProtected = false
    }

    /// The frame of entry 0 and the number of frames, when every non-none entry
    /// belongs to the run: the table maps `count` consecutive frames from slot 0 and
    /// nothing else.
    var consecutiveFrames: (first: PFN, count: Int)? {
      guard runLength > 0, used == Int(runLength) else { return nil }
      return (PTE(raw: runBase).pfn, Int(runLength))
    }

    /// Whether the run's entries are writable (before ``writeProtected``).
    var runIsWritable: Bool { runBase & PTE.writeBit != 0 && !writeProtected }

    /// Write-protects every entry at once (fork, for a table it shares whole).
    mutating func writeProtectAll() { writeProtected = true }

    /// Calls `body` with the entries in place, applying ``writeProtected`` first, and
    /// then finds the run again. `body` must keep `used` right.
    mutating func withEntries<R>(_ body: (UnsafeMutableBufferPointer<PTE>) -> R) -> R {
      if writeProtected { applyWriteProtect() }
      let result = stored.withUnsafeMutableBufferPointer { body($0) }
      findRun()
      return result
    }

    /// Recomputes the run from the entries.
    private mutating func findRun() {
      runLength = 0
      runBase = .max
      guard let first = stored.first, first.isPage else { return }
      runBase = first.raw
      var n = 1
      while n < stored.count && stored[n].raw == runEntry(n) { n += 1 }
      runLength = Int32(n)
    }

    /// Whether the run describes the entries (the invariant checker's test).
    var runIsConsistent: Bool {
      guard runLength > 0 else { return true }
      guard PTE(raw: runBase).isPage, Int(runLength) <= stored.count else { return false }
      return (0..<Int(runLength)).allSatisfy { stored[$0].raw == runEntry($0) }
    }
  }

  /// One slot of the hash map: a PMD index and its table, or `Bucket.emptyKey`.
  struct Bucket: Sendable {
    /// No PMD index is this large (a vpn has at most 52 bits).
    static let emptyKey = UInt64.max
    static let empty = Bucket(key: emptyKey, table: Table(placeholder: ()))
    var key: UInt64
    var table: Table
  }

  /// The hash map: a power-of-two number of buckets (none before the first table).
  var buckets: [Bucket] = []
  /// Allocated tables.
  var tableCount = 0
  /// The PMD index and bucket of the table the last write used (`emptyKey`: none).
  var lastKey = Bucket.emptyKey
  var lastBucket = 0
  /// Non-none entries in the whole table.
  public private(set) var used: Int = 0

  public init() {}

  // MARK: The hash map

  /// The home bucket of PMD index `key` (Fibonacci hashing).
  @inline(__always)
  private func home(_ key: UInt64, _ mask: Int) -> Int {
    Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask
  }

  /// The bucket holding the table with PMD index `key`, if there is one.
  @inline(__always)
  func bucket(of key: UInt64) -> Int? {
    if key == lastKey { return lastBucket }
    if buckets.isEmpty { return nil }
    let mask = buckets.count &- 1
    var i = home(key, mask)
    while true {
      let k = buckets[i].key
      if k == key { return i }
      if k == Bucket.emptyKey { return nil }
      i = (i &+ 1) & mask
    }
  }

  /// The bucket of the table with PMD index `key`, allocating an empty table there if
  /// there is none; remembered as the last table used.
  @inline(__always)
  private mutating func bucketAllocating(_ key: UInt64) -> Int {
    if key == lastKey { return lastBucket }
    let b = bucket(of: key) ?? insert(key, Table())
    lastKey = key
    lastBucket = b
    return b
  }

  /// Adds `table` at PMD index `key`, which has none, and returns its bucket.
  private mutating func insert(_ key: UInt64, _ table: Table) -> Int {
    if (tableCount &+ 1) &* 2 > buckets.count { grow() }
    let mask = buckets.count &- 1
    var i = home(key, mask)
    while buckets[i].key != Bucket.emptyKey { i = (i &+ 1) & mask }
    buckets[i] = Bucket(key: key, table: table)
    tableCount += 1
    return i
  }

  /// Doubles the buckets and rehashes every table.
  private mutating func grow() {
    let old = buckets
    buckets = Array(repeating: .empty, count: Swift.max(8, old.count * 2))
    lastKey = Bucket.emptyKey
    let mask = buckets.count &- 1
    for b in old where b.key != Bucket.emptyKey {
      var i = home(b.key, mask)
      while buckets[i].key != Bucket.emptyKey { i = (i &+ 1) & mask }
      buckets[i] = b
    }
  }

  /// Removes the table in bucket `i` and returns it (backward-shift deletion: the
  /// tables probed past `i` move up, so no tombstones are left).
  private mutating func remove(bucket i: Int) -> Table {
    let removed = buckets[i].table
    let mask = buckets.count &- 1
    var hole = i
    var j = i
    while true {
      j = (j &+ 1) & mask
      let k = buckets[j].key
      if k == Bucket.emptyKey { break }
      let h = home(k, mask)
      // The entry at j may fill the hole unless its home lies cyclically in (hole, j].
      let stays = hole <= j ? (h > hole && h <= j) : (h > hole || h <= j)
      if !stays {
        buckets[hole] = buckets[j]
        hole = j
      }
    }
    buckets[hole] = .empty
    tableCount -= 1
    lastKey = Bucket.emptyKey
    return removed
  }

  // MARK: Entries

  /// The PTE for `addr`'s page.
  public subscript(addr: VirtAddr) -> PTE {
    let vpn = addr.vpn
    guard let b = bucket(of: vpn >> 9) else { return .none }
    return buckets[b].table[Int(vpn & 511)]
  }

  /// Installs `pte` at `addr` and returns what was there.
  @discardableResult
  public mutating func set(_ addr: VirtAddr, _ pte: PTE) -> PTE {
    let vpn = addr.vpn
    let key = vpn >> 9
    let slot = Int(vpn & 511)
    let b: Int
    if pte.isNone {
      guard let found = bucket(of: key), !buckets[found].table[slot].isNone else { return .none }
      b = found
    } else {
      b = bucketAllocating(key)
    }
    // One uniqueness check for the buckets and one for the table's entries.
    let old = buckets.withUnsafeMutableBufferPointer { tables in tables[b].table.store(slot, pte) }
    if old.isNone != pte.isNone { used += pte.isNone ? -1 : 1 }
    return old
  }

  /// Clears every non-none entry in `[start, end)` in address order, calling `body`
  /// with its address and the entry it held right after clearing it. Tables stay
  /// allocated. Returns how many entries were cleared. `body` must not touch this page
  /// table.
  @discardableResult
  mutating func clear(in start: VirtAddr, _ end: VirtAddr, _ body: (VirtAddr, PTE) -> Void) -> Int {
    guard start < end, used > 0 else { return 0 }
    let first = start.vpn >> 9
    let last = (end.vpn &- 1) >> 9
    var cleared = 0
    func clearTable(_ key: UInt64, _ pageTable: inout PageTable) {
      guard let b = pageTable.bucket(of: key), pageTable.buckets[b].table.used > 0 else { return }
      let base = key << 9
      let lo = Int(max(start.vpn, base) - base)
      let hi = Int(min(end.vpn, base + 512) - base)
      for slot in lo..<hi {
        let pte = pageTable.buckets[b].table[slot]
        if pte.isNone { continue }
        pageTable.buckets[b].table.removeEntry(slot)
        pageTable.used -= 1
        cleared += 1
        body(VirtAddr((base + UInt64(slot)) << pageShift), pte)
      }
    }
    if last &- first < UInt64(tableCount) {
      var key = first
      while true {
        clearTable(key, &self)
        if key == last { break }
        key &+= 1
      }
    } else {
      var keys: [UInt64] = []
      forEachTable(from: first, through: last) { key, _ in keys.append(key) }
      for key in keys { clearTable(key, &self) }
    }
    return cleared
  }

  // MARK: Tables

  /// Installs a whole last-level table at `key`, where there is none yet (fork's bulk
  /// copy: the two page tables share the entries' storage until one side writes).
  mutating func installTable(_ key: UInt64, _ table: Table) {
    precondition(bucket(of: key) == nil, "installTable over an existing table \(key)")
    _ = insert(key, table)
    used += table.used
  }

  /// Whether a table covers `addr` (`!pmd_none` for its PMD entry), even an empty one.
  public func hasTable(_ addr: VirtAddr) -> Bool { bucket(of: addr.vpn >> 9) != nil }

  /// Whether a table has PMD index `key`.
  func hasTable(key: UInt64) -> Bool { bucket(of: key) != nil }

  /// `pte_alloc`: makes sure a (possibly empty) table covers `addr`.
  public mutating func allocateTable(_ addr: VirtAddr) {
    _ = bucketAllocating(addr.vpn >> 9)
  }

  /// The PTE at `addr`, or `nil` when no table covers it (`pmd_none`): one lookup.
  public func entryIfTable(_ addr: VirtAddr) -> PTE? {
    let vpn = addr.vpn
    guard let b = bucket(of: vpn >> 9) else { return nil }
    return buckets[b].table[Int(vpn & 511)]
  }

  /// `pte_alloc` followed by a read of the PTE at `addr`: one lookup.
  public mutating func allocateTableAndRead(_ addr: VirtAddr) -> PTE {
    let vpn = addr.vpn
    return buckets[bucketAllocating(vpn >> 9)].table[Int(vpn & 511)]
  }

  /// Clears the (non-none) entry at `src` and installs `pte` at `dst`, whose entry is
  /// none and whose table exists: UFFDIO_MOVE's PTE transfer.
  mutating func movePTE(from src: VirtAddr, to dst: VirtAddr, _ pte: PTE) {
    let db = bucketAllocating(dst.vpn >> 9)
    let sb = bucket(of: src.vpn >> 9)!
    let (ss, ds) = (Int(src.vpn & 511), Int(dst.vpn & 511))
    buckets.withUnsafeMutableBufferPointer { tables in
      tables[sb].table.removeEntry(ss)
      tables[db].table.insertEntry(ds, pte)
    }
  }

  /// `move_normal_pmd`: the table with PMD index `from` (with its entries) becomes the
  /// table of `to`, which has none.
  mutating func moveTable(from: UInt64, to: UInt64) {
    precondition(bucket(of: to) == nil, "moveTable onto an existing table \(to)")
    guard let b = bucket(of: from) else { return }
    let table = remove(bucket: b)
    _ = insert(to, table)
  }

  /// `free_pte_range`: releases the empty table with PMD index `key`.
  mutating func freeTable(key: UInt64) {
    guard let b = bucket(of: key), buckets[b].table.used == 0 else { return }
    _ = remove(bucket: b)
  }

  /// Applies `body` to the table with PMD index `key`, allocating an empty one first if
  /// there is none, and returns its result. `body` must keep the table's `used` count
  /// right and must not change how many entries are non-none (the page table's own
  /// count is not updated).
  mutating func modifyTable<R>(_ key: UInt64, _ body: (inout Table) -> R) -> R {
    body(&buckets[bucketAllocating(key)].table)
  }

  /// Calls `body` with the PMD index and bucket of every allocated table in
  /// `[first, last]`, in ascending order: probing each index of a short range, else
  /// sorting the keys of the tables that fall inside it.
  func forEachTable(from first: UInt64, through last: UInt64, _ body: (UInt64, Int) -> Void) {
    if last &- first < UInt64(tableCount) {
      var key = first
      while true {
        if let b = bucket(of: key) { body(key, b) }
        if key == last { break }
        key &+= 1
      }
      return
    }
    for key in buckets.lazy.map(\.key).filter({ $0 != Bucket.emptyKey && $0 >= first && $0 <= last }).sorted() {
      body(key, bucket(of: key)!)
    }
  }

  /// The allocated tables by PMD index, in ascending order.
  public var tables: Tables { Tables(pageTable: self) }

  /// A read-only view of the allocated tables: `count`, lookup by PMD index, and
  /// iteration as `(key, table)` pairs in ascending PMD index (address) order.
  public struct Tables: Sequence {
    let pageTable: PageTable

    public var count: Int { pageTable.tableCount }

    public subscript(key: UInt64) -> Table? {
      pageTable.bucket(of: key).map { pageTable.buckets[$0].table }
    }

    /// The PMD indices, ascending.
    public var keys: [UInt64] {
      pageTable.buckets.lazy.map(\.key).filter { $0 != Bucket.emptyKey }.sorted()
    }

    /// The tables in ascending PMD index order.
    public var values: [Table] { map(\.table) }

    public func makeIterator() -> IndexingIterator<[(key: UInt64, table: Table)]> {
      pageTable.buckets.filter { $0.key != Bucket.emptyKey }.sorted { $0.key < $1.key }
        .map { (key: $0.key, table: $0.table) }.makeIterator()
    }
  }

  // MARK: Walks

  /// Calls `body` with the address and PTE of every non-none entry in `[start, end)`,
  /// in address order. `body` must not modify the table.
  public func forEachPresent(in start: VirtAddr, _ end: VirtAddr, _ body: (VirtAddr, PTE) -> Void) {
    guard start < end, used > 0 else { return }
    forEachTable(from: start.vpn >> 9, through: (end.vpn &- 1) >> 9) { key, b in
      guard buckets[b].table.used > 0 else { return }
      let base = key << 9
      let lo = max(start.vpn, base) - base
      let hi = min(end.vpn, base + 512) - base
      let table = buckets[b].table
      let mask = table.readMask
      table.stored.withUnsafeBufferPointer { entries in
        for slot in Int(lo)..<Int(hi) {
          let pte = PTE(raw: entries[slot].raw & mask)
          if !pte.isNone { body(VirtAddr((base + UInt64(slot)) << pageShift), pte) }
        }
      }
    }
  }

  /// The addresses and PTEs of every non-none entry in `[start, end)`, in order.
  public func present(in start: VirtAddr, _ end: VirtAddr) -> [(VirtAddr, PTE)] {
    var result: [(VirtAddr, PTE)] = []
    forEachPresent(in: start, end) { result.append(($0, $1)) }
    return result
  }
}
