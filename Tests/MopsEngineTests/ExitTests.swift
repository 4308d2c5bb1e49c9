import MopsABI
import Testing

@testable import MopsEngine

/// exit() (Ops/exit.swift) and the userfaultfd release it may trigger.
@Suite struct ExitTests {
  @Test func exitFreesExclusivePagesAndRemovesTheProcess() throws {
    let world = World(checksInvariants: true)
    let child = try world.fork(world.initialPID)
    world.mapAnon(child, page: 0, count: 3)
    world.write(child, arena(0), pages: 2)
    world.read(child, arena(2))
    let before = world.cost
    try world.exit(child)
    let d = world.cost.since(before)
    #expect(d.pagesFreed == 2 && d.vmasFreed == 1 && d.ptesChanged == 3)
    #expect(world.processes[child] == nil)
    expectErrno(.ESRCH) { () throws(KernelError) in try world.exit(child) }
    #expect(world.touch(child, addr: arena(0), write: false, fill: nil) == .noSuchProcess(child))
  }

  /// Probes 08, 09, 11: a sharer's exit brings mapcount back down but never restores
  /// PageAnonExclusive, and the survivor's PTE stays read-only.
  @Test func exitOfASharerNeverRestoresExclusivity() throws {
    let (world, pid) = try Scenario.afterChildExit.world { w, p in
      w.mapAnon(p, page: 0, count: 1)
      w.write(p, arena(0))
    }
    let pte = world.pte(pid, arena(0))
    #expect(world.folio(pte.pfn).mapcount == 1 && !world.folio(pte.pfn).isAnonExclusive && !pte.isWritable)
  }

  @Test func exitDropsShmemReferencesAndTheLastOneFreesTheObject() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 2, shared: true)
    world.write(pid, arena(0), pages: 2)
    let id = world.vmaAt(pid, arena(0))!.shmem!
    let child = try world.fork(pid)
    world.read(child, arena(0))
    try world.exit(pid)
    #expect(world.shmemObjects[id]!.vmaRefs == 1 && world.shmemObjects[id]!.pages.count == 2)
    #expect(world.readBytes(child, addr: arena(1), count: 1).bytes == [0x41])
    let before = world.cost
    try world.exit(child)
    #expect(world.shmemObjects[id] == nil && world.cost.since(before).pagesFreed == 2)
    #expect(world.folios.allSatisfy { !$0.isInUse })
  }

  @Test func exitOfTheLastHolderReleasesTheUffdAndItsVMAsMergeBack() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 3)
    let uffd = world.makeUffd(pid)
    try world.registerMissing(pid, uffd, page: 1, count: 1)
    #expect(world.processes[pid]!.mapCount == 3)
    let child = try world.fork(pid)
    world.closeUffdFile(world.processes[pid]!, uffd)
    #expect(world.uffds[uffd] != nil && world.processes[pid]!.mapCount == 3)
    try world.exit(child)
    #expect(world.uffds[uffd] == nil)
    let mm = world.processes[pid]!
    #expect(mm.mapCount == 1 && mm.vmas.first!.uffd == nil && mm.vmas.first!.vmFlags.isDisjoint(with: .uffdAll))
  }

  @Test func exitWhileAnotherProcessHoldsTheUffdKeepsIt() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 1)
    let uffd = world.makeUffd(pid)
    try world.registerMissing(pid, uffd, page: 0, count: 1)
    let child = try world.fork(pid)
    try world.exit(child)
    #expect(world.uffds[uffd]!.holders == [pid])
    #expect(world.vmaAt(pid, arena(0))!.uffd == uffd)
    try world.exit(pid)
    #expect(world.uffds.isEmpty)
  }

  /// The context's own mm is torn down first (exit_mm before exit_files), so a
  /// context held only by a child whose creator exited is released without an mm.
  @Test func uffdOfAnExitedMMIsReleasedByItsLastHolder() throws {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    world.mapAnon(pid, page: 0, count: 1)
    let uffd = world.makeUffd(pid)
    try world.registerMissing(pid, uffd, page: 0, count: 1)
    let child = try world.fork(pid)
    try world.exit(pid)
    #expect(world.uffds[uffd]!.holders == [child])
    try world.exit(child)
    #expect(world.uffds.isEmpty && world.processes.isEmpty)
  }
}
