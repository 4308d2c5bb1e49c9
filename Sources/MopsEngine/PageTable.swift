import MopsABI

/// One process's page table: PTEs by virtual page, grouped into 512-entry tables the
/// way the last level of the x86-64 page table is (one table covers one 2 MiB PMD).
///
/// Tables are value types with copy-on-write storage, so snapshotting a world (the
/// REPL's undo) shares them until one side writes.
///
/// As in the kernel, a table is allocated by the first entry installed in its 2 MiB range
/// (or by ``allocateTable(_:)``, `pte_alloc`) and stays allocated when its entries are
/// zapped; only `free_pgtables` at munmap releases it (``World/freePageTables(_:_:_:)``).
/// Whether a table exists is observable: UFFDIO_MOVE reports ENOENT for a src range
/// without one before it looks at the dst PTE.
public struct PageTable: Sendable {
  /// Entries per last-level table.
  public static let ptesPerTable: UInt64 = 512

  public struct Table: Sendable {
    public var entries: [PTE] = Array(repeating: .none, count: Int(PageTable.ptesPerTable))
    /// Entries that are not `pte_none`.
    public var used: Int = 0
  }

  /// Tables by `vpn / 512` (the PMD index); a table may be empty.
  public var tables: [UInt64: Table] = [:]
  /// Non-none entries in the whole table.
  public private(set) var used: Int = 0

  public init() {}

  /// The PTE for `addr`'s page.

  public subscript(addr: VirtAddr) -> PTE {
    let vpn = addr.vpn
    guard let t = tables[vpn >> 9] else { return .none }
    return t.entries[Int(vpn & 511)]
  }

  /// Installs `pte` at `addr` and returns what was there.
  @discardableResult
  public mutating func set(_ addr: VirtAddr, _ pte: PTE) -> PTE {
    let vpn = addr.vpn
    let key = vpn >> 9
    let slot = Int(vpn & 511)
    if pte.isNone {
      guard tables[key] != nil else { return .none }
      var old = PTE.none
      modifyTable(key) { t in
        old = t.entries[slot]
        if !old.isNone {
          t.entries[slot] = .none
          t.used -= 1
        }
      }
      if !old.isNone { used -= 1 }
      return old
    }
    var old = PTE.none
    modifyTable(key) { t in
      old = t.entries[slot]
      t.entries[slot] = pte
      if old.isNone { t.used += 1 }
    }
    if old.isNone { used += 1 }
    return old
  }

  /// Installs a whole last-level table at `key`, where there is none yet (fork's bulk
  /// copy: the two page tables share the entries' storage until one side writes).
  mutating func installTable(_ key: UInt64, _ table: Table) {
    precondition(tables[key] == nil, "installTable over an existing table \(key)")
    tables[key] = table
    used += table.used
  }

  /// Whether a table covers `addr` (`!pmd_none` for its PMD entry), even an empty one.
  public func hasTable(_ addr: VirtAddr) -> Bool { tables[addr.vpn >> 9] != nil }

  /// `pte_alloc`: makes sure a (possibly empty) table covers `addr`.
  public mutating func allocateTable(_ addr: VirtAddr) {
    let key = addr.vpn >> 9
    if tables[key] == nil { tables[key] = Table() }
  }

  /// `move_normal_pmd`: the table with PMD index `from` (with its entries) becomes the
  /// table of `to`, which has none.
  mutating func moveTable(from: UInt64, to: UInt64) {
    precondition(tables[to] == nil, "moveTable onto an existing table \(to)")
    tables[to] = tables.removeValue(forKey: from)
  }

  /// `free_pte_range`: releases the empty table with PMD index `key`.
  mutating func freeTable(key: UInt64) {
    guard let t = tables[key], t.used == 0 else { return }
    tables[key] = nil
  }

  mutating func modifyTable(_ key: UInt64, _ body: (inout Table) -> Void) {
    body(&tables[key, default: Table()])
  }

  /// Calls `body` with the address and PTE of every non-none entry in `[start, end)`,
  /// in address order. `body` must not modify the table.
  public func forEachPresent(in start: VirtAddr, _ end: VirtAddr, _ body: (VirtAddr, PTE) -> Void) {
    guard start < end, used > 0 else { return }
    let firstKey = start.vpn >> 9
    let lastKey = (end.vpn &- 1) >> 9
    func visit(_ key: UInt64) {
      guard let t = tables[key] else { return }
      let base = key << 9
      let lo = max(start.vpn, base) - base
      let hi = min(end.vpn, base + 512) - base
      for slot in Int(lo)..<Int(hi) {
        let pte = t.entries[slot]
        if !pte.isNone { body(VirtAddr((base + UInt64(slot)) << pageShift), pte) }
      }
    }
    if lastKey &- firstKey < UInt64(tables.count) {
      var key = firstKey
      while true {
        visit(key)
        if key == lastKey { break }
        key &+= 1
      }
    } else {
      for key in tables.keys.filter({ $0 >= firstKey && $0 <= lastKey }).sorted() { visit(key) }
    }
  }

  /// The addresses and PTEs of every non-none entry in `[start, end)`, in order.
  public func present(in start: VirtAddr, _ end: VirtAddr) -> [(VirtAddr, PTE)] {
    var result: [(VirtAddr, PTE)] = []
    forEachPresent(in: start, end) { result.append(($0, $1)) }
    return result
  }
}
