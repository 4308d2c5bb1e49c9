import MopsABI
import Testing

@testable import MopsEngine

/// The engine's own containers against plain reference models: the VMA tree (chunks,
/// cached chunk ends and gaps, the finger, splits across chunk boundaries) and the page
/// table's hash map of tables (growth, removal with backward shift, table moves).
@Suite struct StructureTests {
  /// A small deterministic generator (SplitMix64), so failures replay.
  struct Generator {
    var state: UInt64
    mutating func next(_ bound: UInt64) -> UInt64 {
      state &+= 0x9E37_79B9_7F4A_7C15
      var z = state
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return (z ^ (z >> 31)) % bound
    }
  }

  static let rw: VMFlags = [.read, .write, .mayRead, .mayWrite]

  func page(_ n: UInt64) -> VirtAddr { Arena.start + pages(n) }

  /// What `index(above:)` must answer, by a linear scan.
  func expectedIndex(_ vmas: [VMA], above addr: VirtAddr) -> Int? {
    vmas.firstIndex { $0.vmEnd > addr }
  }

  func checkTree(_ tree: VMATree, _ reference: [VMA]) {
    #expect(tree.count == reference.count)
    #expect(tree.chunkCachesAreConsistent)
    #expect(tree.map(\.vmStart) == reference.map(\.vmStart))
    #expect(tree.map(\.vmEnd) == reference.map(\.vmEnd))
    #expect(tree.map(\.vmPgoff) == reference.map(\.vmPgoff))
  }

  @Test func splitsAcrossManyChunksMatchAFlatList() {
    var tree = VMATree()
    let whole = VMA(vmStart: page(0), vmEnd: page(4096), vmFlags: Self.rw, vmPgoff: 77)
    tree.insert(whole)
    var reference = [whole]
    var rng = Generator(state: 1)
    for round in 0..<1500 {
      let at = page(1 + rng.next(4094))
      guard let i = tree.index(above: at), tree[i].vmStart < at else { continue }
      let r = reference.firstIndex { $0.vmStart < at && at < $0.vmEnd }!
      var upper = reference[r]
      upper.vmPgoff = upper.linearPageIndex(at)
      upper.vmStart = at
      reference[r].vmEnd = at
      reference.insert(upper, at: r + 1)
      if round % 2 == 0 {
        tree.split(i, at: at)
      } else {
        // The three-way cut: the upper piece is cut again where it has room.
        let end = at + pageSize
        guard end < upper.vmEnd else {
          tree.split(i, at: at)
          continue
        }
        var middle = upper
        middle.vmEnd = end
        middle.vmFlags = [.read, .mayRead]
        var rest = upper
        rest.vmPgoff = upper.linearPageIndex(end)
        rest.vmStart = end
        reference[r + 1] = middle
        reference.insert(rest, at: r + 2)
        let m = tree.split(i, at: at, end, middle: middle)
        #expect(tree[m].vmStart == at && tree[m].vmEnd == end && tree[m].vmFlags == middle.vmFlags)
      }
    }
    #expect(reference.count > 4 * VMATree.chunkCapacity)
    checkTree(tree, reference)
    for n in stride(from: UInt64(0), through: 4100, by: 7) {
      let addr = page(n) + 5
      let got = tree.index(above: addr).map { tree[$0].vmStart }
      let want = expectedIndex(reference, above: addr).map { reference[$0].vmStart }
      #expect(got == want, "index(above: page \(n))")
    }
  }

  @Test func insertAfterAPositionAndRemovalKeepTheCaches() {
    var tree = VMATree()
    var reference: [VMA] = []
    for n in stride(from: UInt64(0), to: 2000, by: 4) {
      let vma = VMA(vmStart: page(n), vmEnd: page(n + 2), vmFlags: Self.rw, vmPgoff: n)
      if let last = tree.lastIndex {
        tree.insert(vma, after: last)
      } else {
        tree.insert(vma)
      }
      reference.append(vma)
    }
    // A VMA in each gap, placed after its left neighbour's position.
    for n in stride(from: UInt64(0), to: 2000, by: 8) {
      let left = tree.index(above: page(n))!
      let vma = VMA(vmStart: page(n + 2), vmEnd: page(n + 3), vmFlags: Self.rw, vmPgoff: 9)
      let at = tree.insert(vma, after: left)
      #expect(tree[at].vmStart == vma.vmStart)
      reference.insert(vma, at: reference.firstIndex { $0.vmStart > vma.vmStart }!)
    }
    checkTree(tree, reference)
    var rng = Generator(state: 7)
    while reference.count > 10 {
      let victim = reference.remove(at: Int(rng.next(UInt64(reference.count))))
      #expect(tree.remove(startingAt: victim.vmStart)?.vmEnd == victim.vmEnd)
    }
    checkTree(tree, reference)
  }

  /// A mapping cut up page by page from its start, as mprotect of every other page
  /// does: the VMA being cut is always the last one, and each time its chunk is full
  /// the cut pieces start a new chunk. The lower piece left behind must end its chunk.
  @Test func cuttingTheLastVMAOfFullChunksKeepsTheChunkEnds() {
    var tree = VMATree()
    let pages: UInt64 = 6 * UInt64(VMATree.chunkCapacity)
    // Two VMAs to start with, so a chunk fills up with the VMA being cut last in it.
    tree.insert(VMA(vmStart: page(0), vmEnd: page(1), vmFlags: [.read, .mayRead], vmPgoff: 0))
    tree.insert(VMA(vmStart: page(1), vmEnd: page(pages), vmFlags: Self.rw, vmPgoff: 1))
    var reference = Array(tree)
    var n: UInt64 = 2
    while n + 1 < pages {
      let i = tree.index(above: page(n))!
      var middle = tree[i]
      middle.vmStart = page(n)
      middle.vmEnd = page(n + 1)
      middle.vmPgoff = n
      middle.vmFlags = [.read, .mayRead]
      var upper = tree[i]
      upper.vmStart = page(n + 1)
      upper.vmPgoff = n + 1
      if n % 4 == 2 {
        tree.split(i, at: page(n), page(n + 1), middle: middle)
      } else {
        let cut = tree.split(i, at: page(n))
        tree.split(cut, at: page(n + 1))
        tree[tree.index(above: page(n))!] = middle
      }
      reference[reference.count - 1].vmEnd = page(n)
      reference.append(middle)
      reference.append(upper)
      #expect(tree.chunkCachesAreConsistent, "after the cut at page \(n)")
      n += 2
    }
    checkTree(tree, reference)
    for k in stride(from: UInt64(0), to: pages, by: 3) {
      let got = tree.index(above: page(k)).map { tree[$0].vmStart }
      let want = expectedIndex(reference, above: page(k)).map { reference[$0].vmStart }
      #expect(got == want, "index(above: page \(k))")
    }
  }

  /// Copies of a tree are independent values: changing one leaves the other as it was.
  @Test func copiesOfATreeAreIndependent() {
    var tree = VMATree()
    for n in stride(from: UInt64(0), to: 1200, by: 3) {
      tree.insert(VMA(vmStart: page(n), vmEnd: page(n + 2), vmFlags: Self.rw, vmPgoff: n))
    }
    let before = Array(tree)
    var copy = tree
    copy.split(copy.index(above: page(0))!, at: page(1))
    copy.remove(startingAt: page(300))
    copy[copy.index(above: page(600))!].vmFlags = [.read, .mayRead]
    copy.insert(VMA(vmStart: page(1200), vmEnd: page(1201), vmFlags: Self.rw, vmPgoff: 0))
    #expect(tree.map(\.vmStart) == before.map(\.vmStart))
    #expect(tree.map(\.vmEnd) == before.map(\.vmEnd))
    #expect(tree.map(\.vmFlags) == before.map(\.vmFlags))
    #expect(tree.count == before.count && copy.count == before.count + 1)
    #expect(tree.chunkCachesAreConsistent && copy.chunkCachesAreConsistent)
    var third = copy
    _ = third.highestGapTop(fitting: pageSize, low: page(0), high: page(2000))
    third.remove(startingAt: page(3))
    #expect(copy.count == before.count + 1 && third.count == before.count)
  }

  /// A VMA keeps its shmem object and userfaultfd context through the plain ids it
  /// stores them as, and stays 48 bytes long.
  @Test func vmaIdsRoundTrip() {
    var vma = VMA(vmStart: page(0), vmEnd: page(1), vmFlags: Self.rw, vmPgoff: 0)
    #expect(vma.shmem == nil && vma.uffd == nil && vma.isAnonymous)
    vma.shmem = ShmemObject.ID(rawValue: 7)
    vma.uffd = UserfaultfdCtx.ID(rawValue: 3)
    #expect(vma.shmem == ShmemObject.ID(rawValue: 7) && vma.uffd == UserfaultfdCtx.ID(rawValue: 3))
    #expect(!vma.isAnonymous)
    vma.uffd = nil
    #expect(vma.uffd == nil && vma.shmem == ShmemObject.ID(rawValue: 7))
    vma.anonVMAChainLength = 3
    #expect(vma.anonVMAChainLength == 3 && vma.isForkChild)
    #expect(MemoryLayout<VMA>.size == 48 && MemoryLayout<VMA>.stride == 48)
  }

  @Test func pageTableMapMatchesADictionary() {
    var table = PageTable()
    var reference: [VirtAddr: PTE] = [:]
    var tables: Set<UInt64> = []
    var entriesPerTable: [UInt64: Int] = [:]
    var rng = Generator(state: 3)
    for step in 0..<20_000 {
      // Addresses spread over many PMDs, some of them far apart.
      let pmd = rng.next(300) * (step % 3 == 0 ? 1_000 : 1)
      let addr = VirtAddr((pmd * 512 + rng.next(512)) << pageShift)
      switch rng.next(10) {
      case 0..<6:
        let pte = PTE.page(PFN(0x10000 + rng.next(1000)), writable: true, dirty: false)
        #expect(table.set(addr, pte) == reference[addr] ?? .none)
        if reference[addr] == nil { entriesPerTable[addr.vpn >> 9, default: 0] += 1 }
        reference[addr] = pte
        tables.insert(addr.vpn >> 9)
      case 6..<8:
        #expect(table.set(addr, .none) == reference[addr] ?? .none)
        if reference[addr] != nil { entriesPerTable[addr.vpn >> 9, default: 0] -= 1 }
        reference[addr] = nil
      case 8:
        // Free an emptied table, as free_pgtables would.
        let key = addr.vpn >> 9
        table.freeTable(key: key)
        if entriesPerTable[key, default: 0] == 0 { tables.remove(key) }
      default:
        #expect(table[addr] == reference[addr] ?? .none)
        #expect(table.hasTable(addr) == tables.contains(addr.vpn >> 9))
      }
    }
    #expect(table.used == reference.count)
    #expect(table.tables.count == tables.count)
    #expect(table.tables.keys == tables.sorted())
    for (addr, pte) in reference { #expect(table[addr] == pte) }
    let present = table.present(in: VirtAddr(0), VirtAddr(UInt64(301_000 * 512) << pageShift))
    #expect(present.map(\.0) == reference.keys.sorted())
  }

  @Test func movedTablesKeepTheirEntries() {
    var table = PageTable()
    for key in UInt64(0)..<64 {
      table.set(VirtAddr((key * 512 + key) << pageShift), .zeroPage)
    }
    for key in UInt64(0)..<64 where key % 2 == 0 {
      table.moveTable(from: key, to: 1_000 + key)
    }
    for key in UInt64(0)..<64 {
      let moved = key % 2 == 0
      let addr = VirtAddr(((moved ? 1_000 + key : key) * 512 + key) << pageShift)
      #expect(table[addr] == .zeroPage)
      #expect(table.hasTable(key: key) == !moved)
    }
    #expect(table.used == 64 && table.tables.count == 64)
  }

  /// The run of consecutive frames a table records, and its whole-table write
  /// protection, against the entries.
  @Test func tablesTrackTheirRunOfConsecutiveFrames() {
    var table = PageTable.Table()
    func page(_ n: UInt64, writable: Bool = true) -> PTE { .page(PFN(0x10000 + n), writable: writable, dirty: true) }
    for n in 0..<512 { table.store(n, page(UInt64(n))) }
    #expect(table.consecutiveFrames?.first == PFN(0x10000) && table.consecutiveFrames?.count == 512)
    #expect(table.runIsWritable && table.runIsConsistent)

    table.writeProtectAll()
    #expect((0..<512).allSatisfy { !table[$0].isWritable && table[$0].pfn == PFN(0x10000 + UInt64($0)) })
    #expect(!table.runIsWritable && table.consecutiveFrames?.count == 512)
    table.store(3, page(3, writable: false))  // a read-only store keeps the rest protected,
    #expect(!table[4].isWritable && table.runIsConsistent)  // and ends the run (stored bits differ)
    #expect(table.consecutiveFrames == nil)
    table.store(7, page(7))  // a writable one applies the protection to the entries first
    #expect(table[7].isWritable && !table[6].isWritable && !table[8].isWritable)
    #expect(table.consecutiveFrames == nil && table.runIsConsistent)

    var fresh = PageTable.Table()
    for n in [0, 1, 2, 4] { fresh.store(n, page(UInt64(n))) }  // a gap ends the run
    #expect(fresh.consecutiveFrames == nil && fresh.runIsConsistent)
    fresh.store(3, page(3))
    #expect(fresh.consecutiveFrames == nil && fresh.runIsConsistent)  // only extends at its end
    fresh.store(4, .none)
    fresh.store(2, .zeroPage)
    #expect(fresh.runIsConsistent && fresh.consecutiveFrames == nil)
    fresh.store(2, .none)
    fresh.store(3, .none)
    #expect(fresh.consecutiveFrames?.count == 2)  // entries 0 and 1 remain, and nothing else
  }

  /// The flag unions written as numbers are the unions they name.
  @Test func flagUnionsWrittenAsNumbersAreTheirUnions() {
    #expect(VMFlags.special == [.io, .dontexpand, .pfnmap, .mixedmap])
    #expect(VMFlags.uffdAll == [.uffdMissing, .uffdWP, .uffdMinor])
    #expect(VMFlags.access == [.read, .write, .exec])
    #expect(Prot.none == [] && Prot.readWrite == [.read, .write])
    #expect(MremapFlags.all == [.maymove, .fixed, .dontunmap])
    #expect(UffdFeatures.events == [.eventFork, .eventRemap, .eventRemove, .eventUnmap])
  }

  /// A dropped tree's chunk buffers are kept for the next trees, up to the cache's
  /// limit, and the trees built from them hold their own VMAs.
  @Test func droppedTreesLeaveTheirChunksForTheNextOnes() {
    func tree(_ n: Int) -> VMATree {
      var t = VMATree()
      for k in 0..<n {
        t.insert(VMA(vmStart: Arena.start + pages(UInt64(2 * k)), vmEnd: Arena.start + pages(UInt64(2 * k + 1)), vmFlags: [.read], vmPgoff: 0))
      }
      return t
    }
    do {
      let big = tree(VMATree.chunkCapacity * (VMAChunkCache.limit + 8))
      #expect(big.count == VMATree.chunkCapacity * (VMAChunkCache.limit + 8))
    }
    #expect(VMAChunkCache.count <= VMAChunkCache.limit)
    let a = tree(1000)
    let b = tree(1000)
    #expect(a.count == 1000 && b.count == 1000)
    #expect(zip(a, b).allSatisfy { $0.vmStart == $1.vmStart } && Array(a).count == 1000)
  }
}
