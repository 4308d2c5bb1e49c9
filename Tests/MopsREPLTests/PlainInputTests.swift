import Foundation
import MopsFixtures
import MopsSyntax
import Testing

@testable import MopsREPL

/// The same text through the plain reader and through `mops run`'s path must print
/// the same and end with the same status.
func expectSameAsRun(_ script: String, status: Int32, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
  let run = try runLoop(ScriptedReader(lines: script.split(separator: "\n", omittingEmptySubsequences: false).map(String.init), interactive: false))
  var printed = ""
  let result = ScriptRun.run(SourceFile(path: "script.mops", text: script), backend: .sim) { printed += $0 + "\n" }
  #expect(run.out == printed, sourceLocation: sourceLocation)
  #expect(run.err == result.message.replacingOccurrences(of: "script.mops:", with: "<stdin>:"), sourceLocation: sourceLocation)
  #expect(run.status == status && result.exitCode == status, sourceLocation: sourceLocation)
}

@Test func plainInputPrintsWhatRunPrints() throws {
  try expectSameAsRun(
    """
    r = mmap 4 pages
    touch r[0...1] write 'A'
    child = fork
    on child {
      touch r[0] write 'B'
    }
    show pages r
    print mapcount r[1], contents r[0] in child
    show tree
    """, status: 0)
}

@Test func plainInputStopsAtTheFirstFailureWithStatusOne() throws {
  try expectSameAsRun(
    """
    r = mmap 1 page
    print 1
    assert present r[0]
    print 2
    """, status: 1)
}

@Test func plainInputStopsAtAScriptErrorWithStatus65() throws {
  let run = try runLoop(ScriptedReader(lines: ["print 1", "touch nothing", "print 2"], interactive: false))
  #expect(run.status == 65)
  #expect(run.out == "1\n")
  #expect(run.err.hasPrefix("<stdin>:2:7: error: `nothing` is not bound"))
}

@Test func plainInputEndingInsideABlockReportsTheUnclosedBlock() throws {
  let run = try runLoop(ScriptedReader(lines: ["on main {", "print 1"], interactive: false))
  #expect(run.status == 65)
  #expect(run.err.contains("error: unexpected end of input"))
}
