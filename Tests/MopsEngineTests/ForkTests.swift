import MopsABI
import Testing

@testable import MopsEngine

/// fork() (Ops/fork.swift): spec fork-cow-madvise §3.
@Suite struct ForkTests {
  /// Probe 04: same PFN on both sides, mapcount 2, not exclusive, both PTEs
  /// write-protected, dirty kept.
  @Test(arguments: Scenario.allCases)
  func forkSharesWrittenPagesReadOnlyAndClearsExclusivity(_ scenario: Scenario) throws {
    let (world, pid) = try scenario.world { w, p in
      w.mapAnon(p, page: 0, count: 4)
      w.write(p, arena(0), pages: 2)
    }
    let pfn = world.pte(pid, arena(0)).pfn
    let mapcount = world.folio(pfn).mapcount
    let before = world.cost
    let child = try world.fork(pid)
    for addr in [arena(0), arena(1)] {
      let (p, c) = (world.pte(pid, addr), world.pte(child, addr))
      #expect(p.pfn == c.pfn && !p.isWritable && !c.isWritable && p.isDirty && c.isDirty)
      #expect(!world.folio(p.pfn).isAnonExclusive)
    }
    #expect(world.folio(pfn).mapcount == mapcount + 1)
    #expect(world.pte(child, arena(2)).isNone)
    let d = world.cost.since(before)
    #expect(d.pagesAllocated == 0 && d.faults == 0 && d.vmasAllocated == 1)
    let event = world.event(world.sharedSince(pfn))!
    #expect(event.kind == .fork && event.pid == pid && event.otherPID == child)
    #expect(world.processes[child]!.parent == pid)
    #expect(world.readBytes(child, addr: arena(1), count: 1).bytes == [0x41])
  }

  @Test func childVMAHasANewAnonVMAChainedToTheParents() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 1)
    world.write(pid, arena(0))
    let child = try world.fork(pid)
    let grandchild = try world.fork(child)
    let (p, c, g) = (world.vmaAt(pid, arena(0))!, world.vmaAt(child, arena(0))!, world.vmaAt(grandchild, arena(0))!)
    #expect(p.anonVMAChainLength == 1 && c.anonVMAChainLength == 2 && g.anonVMAChainLength == 3)
    #expect(c.anonVMA != p.anonVMA && world.anonVMAs[Int(c.anonVMA.rawValue)].parent == p.anonVMA)
    #expect(world.anonVMAs[Int(g.anonVMA.rawValue)].parent == c.anonVMA)
    #expect(c.vmStart == p.vmStart && c.vmEnd == p.vmEnd && c.vmPgoff == p.vmPgoff && c.vmFlags == p.vmFlags)
  }

  /// Probe 12: a VMA that only took read faults has no anon_vma, so its zero-page
  /// PTEs are not copied; once the VMA has an anon_vma they are.
  @Test func zeroPagePTEsAreCopiedOnlyFromVMAsWithAnAnonVMA() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 2)
    world.read(pid, arena(0))
    let first = try world.fork(pid)
    #expect(world.pte(first, arena(0)).isNone && world.vmaAt(first, arena(0))!.anonVMA == .none)
    world.write(pid, arena(1))
    let second = try world.fork(pid)
    #expect(world.pte(second, arena(0)) == .zeroPage && world.pte(second, arena(1)).isPage)
  }

  /// Probe 10 (DONTFORK): the VMA is absent in the child.
  @Test func dontcopyVMAIsAbsentInTheChild() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 3)
    world.write(pid, arena(0), pages: 3)
    try world.setFlags(pid, page: 1, count: 1, insert: .dontcopy)
    let child = try world.fork(pid)
    #expect(world.processes[child]!.mapCount == 2)
    #expect(world.touch(child, addr: arena(1), write: false, fill: nil) == .signal(.mapErr(arena(1))))
    #expect(world.folioAt(pid, arena(1)).isAnonExclusive && world.pte(pid, arena(1)).isWritable)
    #expect(world.folioAt(pid, arena(0)).mapcount == 2)
  }

  /// Probe 38: DONTFORK is checked first and beats WIPEONFORK.
  @Test func dontforkBeatsWipeonfork() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 1)
    try world.setFlags(pid, page: 0, count: 1, insert: [.dontcopy, .wipeonfork])
    let child = try world.fork(pid)
    #expect(world.processes[child]!.mapCount == 0)
  }

  /// Probe 15: the child's VMA keeps `wf` but has no anon_vma and no PTEs; a
  /// grandchild is wiped again; the parent's pages stay exclusive and writable.
  @Test func wipeonforkChildStartsEmptyAndTheFlagIsInherited() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 2)
    world.write(pid, arena(0), pages: 2, 0x61)
    try world.setFlags(pid, page: 0, count: 2, insert: .wipeonfork)
    let child = try world.fork(pid)
    let vma = world.vmaAt(child, arena(0))!
    #expect(vma.vmFlags.contains(.wipeonfork) && vma.anonVMA == .none && vma.anonVMAChainLength == 0)
    #expect(world.processes[child]!.pageTable.used == 0)
    #expect(world.readBytes(child, addr: arena(0), count: 1).bytes == [0])
    world.write(child, arena(1), 0x62)
    let grandchild = try world.fork(child)
    #expect(world.processes[grandchild]!.pageTable.used == 0)
    let before = world.cost
    world.write(pid, arena(0), 0x63)
    #expect(world.cost.since(before).faults == 0)
    #expect(world.folioAt(pid, arena(1)).isAnonExclusive && world.folioAt(pid, arena(1)).mapcount == 1)
  }

  @Test func lockedFlagsAreClearedInTheChild() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 1)
    try world.setFlags(pid, page: 0, count: 1, insert: [.locked, .lockonfault, .dontdump])
    let child = try world.fork(pid)
    let flags = world.vmaAt(child, arena(0))!.vmFlags
    #expect(flags.isDisjoint(with: [.locked, .lockonfault]) && flags.contains(.dontdump))
  }

  /// Probe 31: with MMF_HAS_PINNED, a pinned anon-exclusive page is copied for the
  /// child at once; its unpinned neighbour is shared as usual.
  @Test func pinnedExclusivePageIsCopiedForTheChildAtFork() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 2)
    world.write(pid, arena(0), pages: 2, 0x70)
    let pinned = world.pte(pid, arena(0)).pfn
    world.withFolio(pinned) { $0.pins = 1 }
    world.processes[pid]!.hasPinned = true
    let before = world.cost
    let child = try world.fork(pid)
    let copy = world.pte(child, arena(0))
    #expect(copy.pfn != pinned && copy.isWritable && copy.isDirty)
    let f = world.folio(copy.pfn)
    #expect(f.isAnonExclusive && f.mapcount == 1 && f.index == arena(0).vpn)
    #expect(f.anonVMA == world.vmaAt(child, arena(0))!.anonVMA)
    #expect(world.contents(copy.pfn) == PageContents(fill: 0x70))
    #expect(world.pte(pid, arena(0)) == .page(pinned, writable: true, dirty: true))
    #expect(world.folio(pinned).isAnonExclusive && world.folio(pinned).mapcount == 1)
    #expect(world.pte(pid, arena(1)).pfn == world.pte(child, arena(1)).pfn)
    #expect(world.cost.since(before).pagesCopied == 1)
    #expect(!world.processes[child]!.hasPinned)
    let b2 = world.cost
    world.write(pid, arena(0), 1)
    #expect(world.cost.since(b2).faults == 0)
  }

  @Test func pinnedPageIsSharedWithoutMMFHasPinnedOrOnceNotExclusive() throws {
    for hasPinned in [false, true] {
      let world = World(checksInvariants: true)
      let pid = world.initialPID
      world.mapAnon(pid, page: 0, count: 1)
      world.write(pid, arena(0))
      let pfn = world.pte(pid, arena(0)).pfn
      world.withFolio(pfn) { $0.pins = 1 }
      world.processes[pid]!.hasPinned = hasPinned
      if hasPinned {
        world.withFolio(pfn) { _ = $0.flags.remove(.anonExclusive) }
        world.processes[pid]!.pageTable.set(arena(0), world.pte(pid, arena(0)).withWritable(false))
      }
      let child = try world.fork(pid)
      #expect(world.pte(child, arena(0)).pfn == pfn && world.folio(pfn).mapcount == 2)
    }
  }

  /// Shared anonymous VMAs have no anon_vma: the child's PTEs are empty and it
  /// refaults the same pages from the object.
  @Test func sharedAnonymousVMAIsNotPageTableCopied() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 2, shared: true)
    world.write(pid, arena(0), 0x55)
    let id = world.vmaAt(pid, arena(0))!.shmem!
    let child = try world.fork(pid)
    #expect(world.pte(child, arena(0)).isNone)
    #expect(world.shmemObjects[id]!.vmaRefs == 2)
    world.read(child, arena(0))
    #expect(world.pte(child, arena(0)).pfn == world.pte(pid, arena(0)).pfn)
    #expect(world.folioAt(pid, arena(0)).mapcount == 2)
    #expect(world.readBytes(child, addr: arena(0), count: 1).bytes == [0x55])
  }

  @Test func childLosesUffdRegistrationsButInheritsTheFds() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 3)
    let uffd = world.makeUffd(pid)
    try world.registerMissing(pid, uffd, page: 1, count: 1)
    let child = try world.fork(pid)
    let vma = world.vmaAt(child, arena(1))!
    #expect(vma.uffd == nil && vma.vmFlags.isDisjoint(with: .uffdAll))
    #expect(world.processes[child]!.uffds == [uffd] && world.uffds[uffd]!.holders == [pid, child])
    #expect(world.uffds[uffd]!.mm == pid)
    #expect(world.processes[child]!.mapCount == 3, "the pieces keep their bounds")
    #expect(world.touch(child, addr: arena(1), write: false, fill: nil) == .ok)
  }

  /// Several VMAs share one page table; only the copied ones' entries reach the child.
  @Test func partialTablesCopyOnlyTheEntriesOfCopiedVMAs() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 500, count: 30)
    world.write(pid, arena(500), pages: 30)
    try world.setFlags(pid, page: 505, count: 3, insert: .dontcopy)
    try world.setFlags(pid, page: 520, count: 2, insert: .wipeonfork)
    let child = try world.fork(pid)
    let present = (500..<530).filter { !world.pte(child, arena($0)).isNone }
    #expect(present == Array(500..<505) + Array(508..<520) + Array(522..<530))
    #expect(world.processes[child]!.pageTable.used == 25)
  }

  /// copy_pte_range() allocates the child's table wherever the parent has one in a
  /// copied VMA, even an empty one (emptied by MADV_DONTNEED).
  @Test func childGetsATableWhereTheParentHasOneEvenEmpty() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 4)
    world.mapAnon(pid, page: 1024, count: 512)
    world.write(pid, arena(0))
    world.write(pid, arena(1024))
    try world.madvise(pid, addr: arena(0), length: pages(4), advice: .DONTNEED)
    try world.madvise(pid, addr: arena(1024), length: pages(512), advice: .DONTNEED)
    let child = try world.fork(pid)
    let pt = world.processes[child]!.pageTable
    #expect(pt.hasTable(arena(0)) && pt.hasTable(arena(1024)) && pt.used == 0)
  }

  @Test func sparseHugeVMAForksQuickly() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 1 << 28)
    world.write(pid, arena(12345))
    world.write(pid, arena(1 << 27))
    let child = try world.fork(pid)
    #expect(world.processes[child]!.pageTable.used == 2)
  }

  /// A whole table of consecutive frames (left by a run of faults) is shared in one
  /// step; the result must be the one the entry-by-entry copy gives a table whose
  /// frames are not consecutive: the same PTE bits, counts, flags and cost, before and
  /// after writes on either side, a second fork and the child's exit.
  @Test func wholeTablesOfConsecutiveFramesForkLikeAnyOther() throws {
    func scenario(ascending: Bool) throws -> (World, PID, [String]) {
      let world = World(checksInvariants: true)
      let pid = world.initialPID
      world.mapAnon(pid, page: 1024, count: 1024)
      for n in ascending ? Array(1024..<2048) : (1024..<2048).reversed() { world.write(pid, arena(UInt64(n))) }
      let runs = world.processes[pid]!.pageTable.tables.values.filter { $0.consecutiveFrames != nil }.count
      #expect(runs == (ascending ? 2 : 0))
      var log: [String] = []
      func snapshot(_ label: String) {
        var lines: [String] = [label, "\(world.cost)"]
        for (p, mm) in world.processes.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
          for n in 1024..<2048 {
            let pte = mm.pageTable[arena(UInt64(n))]
            guard pte.isPage else {
              lines.append("\(p) \(n) \(pte)")
              continue
            }
            let f = world.folio(pte.pfn)
            lines.append(
              "\(p) \(n) w=\(pte.isWritable) d=\(pte.isDirty) mc=\(f.mapcount) ae=\(f.isAnonExclusive) since=\(world.sharedSince(pte.pfn).rawValue)")
          }
        }
        log.append(lines.joined(separator: "\n"))
      }
      let child = try world.fork(pid)
      snapshot("fork")
      world.write(pid, arena(1029), 0x42)
      world.write(child, arena(1700), 0x43)
      snapshot("writes")
      let grandchild = try world.fork(child)
      snapshot("second fork")
      try world.exit(child)
      world.write(pid, arena(1030), 0x44)
      world.write(grandchild, arena(2047), 0x45)
      snapshot("exit and writes")
      try world.exit(grandchild)
      snapshot("second exit")
      return (world, pid, log)
    }
    let (_, _, fast) = try scenario(ascending: true)
    let (_, _, slow) = try scenario(ascending: false)
    #expect(fast.count == slow.count)
    for (a, b) in zip(fast, slow) { #expect(a == b) }
  }

  @Test func forkOfAnUnknownProcessIsESRCH() {
    let world = World(checksInvariants: true)
    expectErrno(.ESRCH) { () throws(KernelError) in _ = try world.fork(PID(42)) }
  }
}
