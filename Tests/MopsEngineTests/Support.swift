import MopsABI
import Testing

@testable import MopsEngine

/// The three address spaces every operation is tested on: a fresh process, a parent
/// right after fork (its pages shared with a live child), and a parent after its child
/// exited (mapcounts back to 1, anon-exclusivity not restored).
enum Scenario: String, CaseIterable, CustomTestStringConvertible {
  case fresh, afterFork, afterChildExit

  var testDescription: String { rawValue }

  /// A world whose pid 1 has, under `afterFork`/`afterChildExit`, forked once. Pages
  /// written by `prepare` before the fork are shared with the child (or were).
  func world(_ prepare: (World, PID) throws -> Void = { _, _ in }) throws -> (World, PID) {
    let world = World(checksInvariants: true)
    let pid = world.initialPID
    try prepare(world, pid)
    switch self {
    case .fresh: break
    case .afterFork: _ = try world.fork(pid)
    case .afterChildExit:
      let child = try world.fork(pid)
      try world.exit(child)
    }
    return (world, pid)
  }
}

/// `n` pages in bytes.
func pages(_ n: UInt64) -> UInt64 { n * pageSize }

/// Expects `body` to throw a KernelError with `errno`.
func expectErrno(
  _ errno: Errno, sourceLocation: SourceLocation = #_sourceLocation,
  _ body: () throws(KernelError) -> Void
) {
  do {
    try body()
    Issue.record("expected \(errno.name), got success", sourceLocation: sourceLocation)
  } catch {
    #expect(error.errno == errno, "\(error)", sourceLocation: sourceLocation)
  }
}
