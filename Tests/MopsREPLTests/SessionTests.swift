import Foundation
import MopsFixtures
import MopsSyntax
import SimBackend
import Testing

@testable import MopsREPL

/// A session on a fresh sim backend whose output is collected.
final class TestSession {
  let session: Session
  var out = ""
  private var line = 1

  init() {
    let box = OutputBox()
    session = Session(backend: SimBackend(), path: "<repl>", useColor: false) { box.text += $0 + "\n" }
    self.box = box
  }
  private let box: OutputBox

  /// Submits each input (which must be complete); returns the last outcome.
  @discardableResult
  func submit(_ inputs: String...) -> Session.Outcome {
    var last = Session.Outcome.accepted(warnings: "")
    for input in inputs {
      last = session.submit(input + "\n", firstLine: line)
      line += input.split(separator: "\n").count
    }
    out = box.text
    return last
  }

  /// Runs the saved script as `mops run` would.
  func runSaved() -> ScriptResult {
    ScriptRun.run(SourceFile(path: "saved.mops", text: session.savedScript), backend: .sim)
  }
}

final class OutputBox {
  var text = ""
}

@Test func undoReturnsToTheStateBeforeTheLastInput() throws {
  let t = TestSession()
  t.submit("r = mmap 2 pages", "touch r[0] write 'A'", "x = mmap 1 page")
  #expect(try t.session.undo().get() == "x = mmap 1 page")
  #expect(t.submit("print size x") == .rejected(
    """
    <repl>:4:12: error: `x` is not bound; did you mean `r`?; bind it first, e.g. `x = mmap 1 page` [E0201]
     4 | print size x
       |            ^

    """))
  #expect(try t.session.undo().get() == "touch r[0] write 'A'")
  t.submit("print present r[0], vmas")
  #expect(t.out.hasSuffix("false 1\n"))
  #expect(try t.session.undo().get() == "print present r[0], vmas")
  #expect(try t.session.undo().get() == "r = mmap 2 pages")
  #expect(throws: SessionError("nothing to undo")) { try t.session.undo().get() }
}

@Test func undoRestoresNamesFramesAndProcesses() {
  let t = TestSession()
  t.submit("r = mmap 1 page", "touch r[0] write 'A'", "print frame r[0]", "child = fork")
  t.submit("on child { touch r[0] write 'B' }", "print frame r[0] in child")
  _ = t.session.undo()
  _ = t.session.undo()
  #expect(t.session.prompt == "mops[main]> ")
  _ = t.session.undo()
  #expect(t.session.prompt == "mops> ")
  t.submit("print frame r[0]")
  #expect(t.out.hasSuffix("frame #1 (pfn 0x10000)\nframe #2 (pfn 0x10001)\nframe #1 (pfn 0x10000)\n"))
}

@Test func savedSessionRunsAndPasses() {
  let t = TestSession()
  t.submit("src = mmap 4 pages", "touch src[0...3] write 'A'", "child = fork")
  t.submit("on child {\n  touch src[1] write 'B'\n}")
  #expect(t.submit("assert mapcount src[0] == 3") != .accepted(warnings: ""))
  t.submit("show pages src")
  let result = t.runSaved()
  #expect(result.status == .passed, Comment(rawValue: result.message + t.session.savedScript))
  #expect(!t.session.savedScript.contains("mapcount src[0] == 3"))
}

@Test func aNameBoundAgainIsSavedUnderAFreshName() {
  let t = TestSession()
  t.submit("r = mmap 1 page", "touch r[0] write 'A'", "r = mmap 2 pages", "touch r[1] write 'B'")
  t.submit("assert contents r[1] == 'B'", "for i in 0...1 { touch r[i] }", "for i in 0...1 { touch r[i] }")
  let saved = t.session.savedScript
  #expect(saved.contains("r_2 = mmap 2 pages\ntouch r_2[1] write 'B'\nassert contents r_2[1] == 'B'\n"))
  #expect(saved.contains("touch r[0] write 'A'\n"))
  #expect(saved.contains("for i in 0...1 { touch r_2[i] }\nfor i in 0...1 { touch r_2[i] }\n"))
  #expect(saved.contains("# The session bound some names more than once; later bindings are saved as `r` as `r_2`."))
  let result = t.runSaved()
  #expect(result.status == .passed, Comment(rawValue: result.message + saved))
}

@Test func loadRunsAFileIntoTheSession() throws {
  let path = NSTemporaryDirectory() + "mops-load-\(getpid()).mops"
  try "r = mmap 3 pages\ntouch r write 'Z'\n".write(toFile: path, atomically: true, encoding: .utf8)
  defer { try? FileManager.default.removeItem(atPath: path) }
  let t = TestSession()
  let data = try #require(FileManager.default.contents(atPath: path))
  #expect(t.session.load(SourceFile(path: path, bytes: Array(data))) == .accepted(warnings: ""))
  t.submit("print contents r[2]")
  #expect(t.out.hasSuffix("'Z'\n"))
  #expect(t.runSaved().status == .passed)
}
